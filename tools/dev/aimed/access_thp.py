#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): accesses (the selftest's emulated
devices) over private memory advised HUGEPAGE: ACCESS_PAGES pins and ACCESS_RW copies through
IOVAs, unmaps under them, stores, DONTNEED, fork, check ops.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; B=0x1000000; HP=0x200000; PG=0x1000; BUF=0x7f0010000000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(2*HP),kind='private_anon',prot=3),
         ev('mmap',va=u(BUF),length=u(0x10000),kind='private_anon',prot=3),
         io('IOMMU_IOAS_ALLOC',flags=0)]
    if r.random()<0.8: evs.append(ev('madvise',va=u(M),length=u(2*HP),advice='HUGEPAGE'))
    if r.random()<0.5: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}))
    evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=7,user_va=u(M),length=u(2*HP),iova=u(B),__reserved=0))
    forked=False
    for k in steps(r, 8, 24):
        c=r.random(); off=r.choice([0,0x1000,0x3000,0x1ff000,HP,HP+0x5000]); ln=r.choice([1,2,4])*PG
        if c<0.16: evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS',id=1,create_access={"flags":r.choice([1,1,0])}))
        elif c<0.32: evs.append(io('IOMMU_TEST_OP_ACCESS_PAGES',id=r.randint(1,4),access_pages={"flags":r.choice([0,1]),"iova":u(B+off),"length":u(ln),"uptr":u(r.choice([M+off,M+off,0,BUF]))}))
        elif c<0.48:
            e=io('IOMMU_TEST_OP_ACCESS_RW',id=r.randint(1,4),access_rw={"iova":u(B+off+r.choice([0,0x800,0xff8])),"length":u(r.choice([8,0x10,0x1000,0x1800])),"uptr":u(BUF+0x8000),"flags":r.choice([0,1,4,5])})
            evs.append(e)
        elif c<0.55: evs.append(io('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES',id=r.randint(1,4),destroy_access_pages={"access_pages_id":r.randint(1,4)}))
        elif c<0.63: evs.append(ev('memset',va=u(M+off),length=u(8),byte=r.randint(1,255)))
        elif c<0.70: evs.append(ev('read_memory',va=u(M+off),length=u(8)))
        elif c<0.75: evs.append(ev('madvise',va=u(M+r.choice([0,HP])),length=u(r.choice([PG,HP])),advice=r.choice(['DONTNEED','COLD','PAGEOUT'])))
        elif c<0.80: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(B+r.choice([0,HP])),length=u(r.choice([HP,2*HP]))))
        elif c<0.84: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(M+r.choice([0,HP])),length=u(HP),iova=u(B+r.choice([0,HP])),__reserved=0))
        elif c<0.87 and not forked: forked=True; evs.append(ev('fork',child=2)); evs.append(ev('memset',pid=2,va=u(M+off),length=u(8),byte=0x77))
        elif c<0.93: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(M+off),"refs":r.choice([0,1,2])}))
        else: evs.append(io('IOMMU_DESTROY',id=r.randint(2,7)))
    return evs

run('a', trace)
