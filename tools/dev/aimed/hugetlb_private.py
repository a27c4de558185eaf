#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): private MAP_HUGETLB memory: fork, DONTFORK, pins, mprotect, mremap, DONTNEED.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; N=0x7f0010000000; B=0x1000000; HP=0x200000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(HP),kind='private_anon',prot=r.choice([3,3,1]),flags=0x40000),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={})]
    pids=[1]; alive={1:True}; forked=False; iova=B
    for k in steps(r, 6, 20):
        c=r.random(); pid=r.choice(pids)
        if not alive.get(pid): pid=1
        va=M+r.choice([0,0x1000,0x5000,0x1ff000])
        if c<0.20: evs.append(ev('memset',pid=pid,va=u(va),length=u(8),byte=r.randint(1,255)))
        elif c<0.34: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.46:
            evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(va & ~0xfff),length=u(0x1000),iova=u(iova),__reserved=0)); iova+=HP
        elif c<0.50: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.60: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(0x1000),"uptr":u(va),"refs":r.choice([0,1,2])}))
        elif c<0.66 and not forked: forked=True; pids.append(2); alive[2]=True; evs.append(ev('fork',child=2))
        elif c<0.72: evs.append(ev('madvise',pid=pid,va=u(M),length=u(HP),advice=r.choice(['DONTNEED','DONTFORK','DOFORK'])))
        elif c<0.77: evs.append(ev('mprotect',pid=pid,va=u(M),length=u(HP),prot=r.choice([1,3])))
        elif c<0.80: evs.append(ev('mremap',pid=pid,va=u(M),old_length=u(HP),new_length=u(HP),flags=3,new_va=u(N)))
        elif c<0.83 and alive.get(2): evs.append(ev('exit',pid=2)); alive[2]=False
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=4,check_map={"iova":u(B+r.randint(0,max(0,(iova-B)//HP-1))*HP),"length":u(0x1000),"uptr":u(va & ~0xfff)}))
    return evs

run('h', trace)
