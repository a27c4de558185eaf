#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): devices and domains: mock devices
attached to two IOASes, HWPT_ALLOC of paging domains, MOCK_DOMAIN_REPLACE among them, DESTROY of
domains, devices and IOASes in use, maps before and after attaches, reserved ranges, IOVA ranges.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; B=0x1000000; PG=0x1000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         ev('mmap',va=u(M),length=u(0x40000),kind='private_anon',prot=3),
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_IOAS_ALLOC',flags=0)]
    for k in steps(r, 10, 30):
        c=r.random(); ioas=r.choice([1,2])
        if c<0.12: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN',id=ioas,mock_domain={}))
        elif c<0.16: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS',id=ioas,mock_domain_flags={"dev_flags":r.choice([0,1,2,3])}))
        elif c<0.26: evs.append(io('IOMMU_HWPT_ALLOC',flags=r.choice([0,0,1,2]),dev_id=r.randint(3,12),pt_id=r.choice([1,2]),__reserved=0,data_type=0,data_len=0,data_uptr=u(0),fault_id=0))
        elif c<0.38: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE',id=r.randint(3,12),mock_domain_replace={"pt_id":r.randint(1,14)}))
        elif c<0.46: evs.append(io('IOMMU_DESTROY',id=r.randint(1,14)))
        elif c<0.62: evs.append(io('IOMMU_IOAS_MAP',ioas_id=ioas,flags=r.choice([7,5,3]),user_va=u(M+r.randint(0,30)*PG),length=u(r.choice([1,2,4,8])*PG),iova=u(r.choice([B+r.randint(0,30)*PG,0])),__reserved=0))
        elif c<0.70: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=ioas,iova=u(r.choice([0,B+r.randint(0,30)*PG])),length=u(r.choice([(1<<64)-1,PG,4*PG]))))
        elif c<0.76: evs.append(io('IOMMU_TEST_OP_ADD_RESERVED',id=ioas,add_reserved={"start":u(B+r.randint(0,30)*PG),"length":u(r.choice([1,4])*PG)}))
        elif c<0.80: evs.append(io('IOMMU_IOAS_IOVA_RANGES',ioas_id=ioas,num_iovas=r.choice([0,1,8]),allowed_iovas=u(0x7f0000030000)) | {"bufs":{"allowed_iovas":{"$hex":"00"*128}}})
        elif c<0.88: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=r.randint(3,14),check_map={"iova":u(B+r.randint(0,30)*PG),"length":u(PG),"uptr":u(M+r.randint(0,30)*PG)}))
        elif c<0.93: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(M+r.randint(0,30)*PG),"refs":r.choice([0,1,2])}))
        else: evs.append(io('IOMMU_GET_HW_INFO',flags=0,dev_id=r.randint(3,12),data_len=r.choice([0,8,16]),data_uptr=u(0x7f0000038000)) | {"bufs":{"data_uptr":{"$hex":"00"*16}}})
    return evs

run('o', trace)
