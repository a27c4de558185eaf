#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): the VFIO container: SET_IOMMU, CHECK_EXTENSION, MAP_DMA, UNMAP_DMA beside IOAS ioctls.
Usage: aimed.py.
"""
from aimed import io, run, steps, u
M=0x7f0000000000; B=0x1000000; PG=0x1000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         {"op":"mmap","pid":1,"args":{"va":u(M),"length":u(0x40000),"kind":"private_anon","prot":3}},
         io('IOMMU_IOAS_ALLOC',flags=0)]
    if r.random()<0.9: evs.append(io('IOMMU_VFIO_IOAS',ioas_id=1,op=1,__reserved=0))
    for k in steps(r, 8, 30):
        c=r.random()
        s=B+r.randint(0,31)*PG; l=r.choice([1,1,2,3,4,8,16])*PG
        if c<0.08: evs.append(io('VFIO_SET_IOMMU',arg=u(r.choice([1,3,1,8,0]))))
        elif c<0.12: evs.append(io('VFIO_CHECK_EXTENSION',arg=u(r.choice([1,3,2,5,8]))))
        elif c<0.40: evs.append(io('VFIO_IOMMU_MAP_DMA',argsz=32,flags=r.choice([3,3,1,2,0]),vaddr=u(M+r.randint(0,40)*PG),iova=u(s),size=u(l)))
        elif c<0.62:
            f=r.choice([0,0,0,2])
            if f: evs.append(io('VFIO_IOMMU_UNMAP_DMA',argsz=24,flags=f,iova=u(0),size=u(0)))
            else: evs.append(io('VFIO_IOMMU_UNMAP_DMA',argsz=24,flags=0,iova=u(s),size=u(r.choice([l,0,0x800]))))
        elif c<0.68: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}))
        elif c<0.74: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(s),length=u(l)))
        elif c<0.80: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=7,user_va=u(M+r.randint(0,40)*PG),length=u(l),iova=u(s),__reserved=0))
        elif c<0.86: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=r.choice([4,5,7,8]),check_map={"iova":u(s),"length":u(PG),"uptr":u(M+r.randint(0,40)*PG)}))
        elif c<0.90: evs.append(io('IOMMU_DESTROY',id=r.randint(2,9)))
        elif c<0.95: evs.append(io('IOMMU_VFIO_IOAS',ioas_id=r.choice([1,2]),op=r.choice([0,1,2]),__reserved=0))
        else: evs.append(io('IOMMU_IOAS_ALLOC',flags=0))
    return evs

run('v', trace)
