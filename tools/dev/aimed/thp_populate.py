#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): populating private memory advised
HUGEPAGE: MADV_POPULATE_READ / POPULATE_WRITE, mlock and munlock of pieces, mprotect, then stores,
reads, pins, check ops, DONTNEED, COLD and fork.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; B=0x1000000; HP=0x200000; PG=0x1000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(2*HP),kind='private_anon',prot=r.choice([3,3,1])),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}),
         ev('madvise',va=u(M),length=u(2*HP),advice='HUGEPAGE')]
    pids=[1]; forked=False; iova=B
    for k in steps(r, 8, 24):
        c=r.random(); pid=r.choice(pids)
        va=M+r.choice([0,0x1000,0x100000,0x1ff000,HP,HP+0x3000])
        a=M+r.choice([0,0x1000,HP]); l=r.choice([PG,0x10000,HP,2*HP])
        if c<0.16: evs.append(ev('madvise',pid=pid,va=u(a),length=u(l),advice=r.choice(['POPULATE_READ','POPULATE_WRITE'])))
        elif c<0.24: evs.append(ev('mlock',pid=pid,va=u(a),length=u(l),flags=r.choice([0,1])))
        elif c<0.28: evs.append(ev('munlock',pid=pid,va=u(a),length=u(l)))
        elif c<0.33: evs.append(ev('mprotect',pid=pid,va=u(a),length=u(l),prot=r.choice([1,3])))
        elif c<0.45: evs.append(ev('memset',pid=pid,va=u(va),length=u(8),byte=r.randint(1,255)))
        elif c<0.53: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.63: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(va & ~0xfff),length=u(r.choice([PG,HP])),iova=u(iova),__reserved=0)); iova+=HP
        elif c<0.66: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.78: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(va & ~0xfff),"refs":r.choice([0,1,2])}))
        elif c<0.85: evs.append(ev('madvise',pid=pid,va=u(a),length=u(l),advice=r.choice(['DONTNEED','COLD'])))
        elif c<0.88 and not forked: forked=True; pids.append(2); evs.append(ev('fork',child=2))
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=4,check_map={"iova":u(B+r.randint(0,max(0,(iova-B)//HP-1))*HP),"length":u(PG),"uptr":u(va & ~0xfff)}))
    return evs

run('x', trace)
