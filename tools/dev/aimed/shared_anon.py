#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): shared anonymous memory
(MAP_SHARED | MAP_ANONYMOUS, a shmem object) across fork: stores and reads from both processes,
pins, DONTNEED, REMOVE (a hole), mremap moving and growing it, munmap of pieces, check ops.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; N=0x7f0010000000; B=0x1000000; PG=0x1000; L=0x10000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(L),kind='anon',prot=3),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={})]
    pids=[1]; forked=False; alive={1:True}; iova=B
    for k in steps(r, 8, 24):
        c=r.random(); pid=r.choice(pids)
        if not alive.get(pid): pid=1
        va=r.choice([M,M,N])+r.randint(0,15)*PG
        if c<0.18: evs.append(ev('memset',pid=pid,va=u(va),length=u(r.choice([8,PG])),byte=r.randint(1,255)))
        elif c<0.32: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.44: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(va),length=u(r.choice([1,2,4])*PG),iova=u(iova),__reserved=0)); iova+=0x100000
        elif c<0.48: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.54 and not forked: forked=True; pids.append(2); alive[2]=True; evs.append(ev('fork',child=2))
        elif c<0.62: evs.append(ev('madvise',pid=pid,va=u(M+r.randint(0,8)*PG),length=u(r.choice([1,2,4])*PG),advice=r.choice(['DONTNEED','REMOVE','DONTNEED'])))
        elif c<0.68:
            f=r.choice([3,0,7])
            a=dict(va=u(M+r.randint(0,8)*PG),old_length=u(r.choice([1,4,8])*PG),new_length=u(r.choice([1,4,8,16])*PG),flags=f)
            if f: a['new_va']=u(N+r.randint(0,8)*PG)
            evs.append(ev('mremap',pid=pid,**a))
        elif c<0.72: evs.append(ev('munmap',pid=pid,va=u(va),length=u(PG)))
        elif c<0.75 and alive.get(2): evs.append(ev('exit',pid=2)); alive[2]=False
        elif c<0.88: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=4,check_map={"iova":u(B+r.randint(0,max(0,(iova-B)//0x100000-1))*0x100000),"length":u(PG),"uptr":u(va)}))
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(va),"refs":r.choice([0,1,2])}))
    return evs

run('z', trace)
