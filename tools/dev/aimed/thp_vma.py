#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): huge pages against VMA changes:
mprotect of pieces and back (splits and merges), HUGEPAGE / NOHUGEPAGE of pieces, read and write
faults, pins, DONTNEED and COLD of pieces, mremap resizing in place, munmap of pieces, one fork.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; B=0x1000000; HP=0x200000; PG=0x1000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(3*HP),kind='private_anon',prot=3),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}),
         ev('madvise',va=u(M),length=u(3*HP),advice='HUGEPAGE')]
    pids=[1]; forked=False; iova=B
    def piece():
        a=r.choice([0,0x1000,0x100000,HP,HP+0x1000,2*HP]); l=r.choice([PG,0x10000,HP,0x100000])
        return M+a, l
    for k in steps(r, 8, 26):
        c=r.random(); pid=r.choice(pids)
        va=M+r.choice([0,0x1000,0x100000,0x1ff000,HP,HP+0x3000,2*HP+0x1000])
        if c<0.14: evs.append(ev('memset',pid=pid,va=u(va),length=u(r.choice([8,PG])),byte=r.randint(1,255)))
        elif c<0.24: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.34:
            evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(va & ~0xfff),length=u(r.choice([PG,2*PG,HP])),iova=u(iova),__reserved=0)); iova+=HP
        elif c<0.37: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.47: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(va & ~0xfff),"refs":r.choice([0,1,2])}))
        elif c<0.57: a,l=piece(); evs.append(ev('mprotect',pid=pid,va=u(a),length=u(l),prot=r.choice([1,3,3])))
        elif c<0.65: a,l=piece(); evs.append(ev('madvise',pid=pid,va=u(a),length=u(l),advice=r.choice(['HUGEPAGE','NOHUGEPAGE','DONTNEED','COLD'])))
        elif c<0.70: evs.append(ev('mremap',pid=pid,va=u(M+r.choice([0,HP,2*HP])),old_length=u(r.choice([HP,0x100000])),new_length=u(r.choice([PG,0x100000,HP])),flags=0))
        elif c<0.74: a,l=piece(); evs.append(ev('munmap',pid=pid,va=u(a),length=u(min(l,0x10000))))
        elif c<0.78 and not forked: forked=True; pids.append(2); evs.append(ev('fork',child=2))
        elif c<0.90: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=4,check_map={"iova":u(B+r.randint(0,max(0,(iova-B)//HP-1))*HP),"length":u(PG),"uptr":u(va & ~0xfff)}))
        else: evs.append(ev('read_memory',pid=1,va=u(M+r.choice([0,HP,2*HP])),length=u(8)))
    return evs

run('v', trace)
