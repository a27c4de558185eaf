#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): private THP memory with mremap FIXED / DONTUNMAP, DONTFORK, WIPEONFORK (found #83, #84).
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; N=0x7f0010000000; B=0x1000000; HP=0x200000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(3*HP),kind='private_anon',prot=3),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}),
         ev('madvise',va=u(M),length=u(3*HP),advice='HUGEPAGE')]
    pids=[1]; forked=False; iova=B
    def va_any(): return r.choice([M,M,N])+r.choice([0,0x1000,0x100000,0x1ff000,HP,HP+0x3000,2*HP+0x1000])
    for k in steps(r, 8, 26):
        c=r.random(); pid=r.choice(pids); va=va_any()
        if c<0.17: evs.append(ev('memset',pid=pid,va=u(va),length=u(r.choice([8,0x1000])),byte=r.randint(1,255)))
        elif c<0.27: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.39:
            evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(va & ~0xfff),length=u(r.choice([0x1000,0x2000,HP])),iova=u(iova),__reserved=0)); iova+=HP
        elif c<0.43: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.53: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(0x1000),"uptr":u(va & ~0xfff),"refs":r.choice([0,1,2])}))
        elif c<0.58 and not forked:
            forked=True; pids.append(2); evs.append(ev('fork',child=2))
        elif c<0.66: evs.append(ev('madvise',pid=pid,va=u(r.choice([M,N])+r.choice([0,0x1000,HP])),length=u(r.choice([0x1000,HP,2*HP])),advice=r.choice(['DONTNEED','COLD','PAGEOUT','DONTFORK','DOFORK','WIPEONFORK','NOHUGEPAGE','HUGEPAGE'])))
        elif c<0.76:
            old=M+r.choice([0,HP,0x100000,0x1000]); ol=r.choice([0x1000,HP,0x100000])
            flags=r.choice([3,3,7,0])
            a=dict(va=u(old),old_length=u(ol),new_length=u(r.choice([ol,ol,2*ol,0x1000])),flags=flags)
            if flags & 2: a['new_va']=u(N+r.choice([0,HP,0x1000]))
            evs.append(ev('mremap',pid=pid,**a))
        elif c<0.80: evs.append(ev('mprotect',pid=pid,va=u(r.choice([M,N])+r.choice([0,HP])),length=u(r.choice([0x1000,HP])),prot=r.choice([1,3])))
        elif c<0.83: evs.append(ev('munmap',pid=pid,va=u(r.choice([M,N])+r.choice([0x1000,HP])),length=u(r.choice([0x1000,HP]))))
        elif c<0.93: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=4,check_map={"iova":u(B+r.randint(0,max(0,(iova-B)//HP-1))*HP),"length":u(0x1000),"uptr":u(va & ~0xfff)}))
        else: evs.append(ev('exit',pid=2) if forked and r.random()<0.5 else ev('read_memory',pid=1,va=u(M),length=u(8)))
    return evs

run('u', trace)
