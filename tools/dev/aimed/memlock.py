#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): pinned-page accounting against
RLIMIT_MEMLOCK: user and MM accounting modes, CAP_IPC_LOCK dropped, small limits, mlock,
mlockall(MCL_FUTURE: MCL_CURRENT counts memory no trace describes), munlock, maps and unmaps of overlapping ranges, accesses, fork and a child's maps.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; B=0x1000000; PG=0x1000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(0x40000),kind='private_anon',prot=3),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={})]
    if r.random()<0.5: evs.append(io('IOMMU_OPTION',option_id=0,op=0,__reserved=0,object_id=0,val64=u(1)))
    if r.random()<0.7: evs.append(ev('drop_capability',cap='CAP_IPC_LOCK'))
    if r.random()<0.8: evs.append(ev('set_rlimit_memlock',pages=u(r.choice([0,4,8,16,32]))))
    pids=[1]; forked=False; alive={1:True}; iova=B
    for k in steps(r, 8, 26):
        c=r.random(); pid=r.choice(pids)
        if not alive.get(pid): pid=1
        va=M+r.randint(0,40)*PG
        if c<0.28:
            evs.append(io('IOMMU_IOAS_MAP',pid=pid,ioas_id=1,flags=r.choice([7,5]),user_va=u(va),length=u(r.choice([1,2,4,8,16])*PG),iova=u(B+r.randint(0,60)*PG),__reserved=0))
        elif c<0.40: evs.append(io('IOMMU_IOAS_UNMAP',pid=pid,ioas_id=1,iova=u(r.choice([0,B+r.randint(0,60)*PG])),length=u(r.choice([(1<<64)-1,4*PG,PG]))))
        elif c<0.50: evs.append(ev('mlock',pid=pid,va=u(va),length=u(r.choice([1,4,16])*PG),flags=r.choice([0,0,1])))
        elif c<0.55: evs.append(ev('munlock',pid=pid,va=u(M),length=u(0x40000)))
        elif c<0.59: evs.append(ev('mlockall',pid=pid,flags=r.choice([2,6])))
        elif c<0.62: evs.append(ev('munlockall',pid=pid))
        elif c<0.66: evs.append(ev('set_rlimit_memlock',pid=pid,pages=u(r.choice([0,4,8,16,64]))))
        elif c<0.70 and not forked: forked=True; pids.append(2); alive[2]=True; evs.append(ev('fork',child=2))
        elif c<0.73 and alive.get(2): evs.append(ev('exit',pid=2)); alive[2]=False
        elif c<0.78: evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS',pid=pid,id=1,create_access={"flags":r.choice([0,1])}))
        elif c<0.88: evs.append(io('IOMMU_TEST_OP_ACCESS_PAGES',pid=pid,id=r.randint(5,9),access_pages={"flags":r.choice([0,1]),"iova":u(B+r.randint(0,60)*PG),"length":u(r.choice([1,2,4])*PG),"uptr":u(0x10000)}))
        elif c<0.92: evs.append(io('IOMMU_DESTROY',pid=pid,id=r.randint(2,10)))
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',pid=pid,id=0,check_refs={"length":u(PG),"uptr":u(va),"refs":r.choice([0,1,2])}))
    return evs

run('l', trace)
