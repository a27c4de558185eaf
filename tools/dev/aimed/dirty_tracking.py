#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): dirty tracking: a tracking domain replaced in and out, tracking on and off, TEST_OP_DIRTY, GET_DIRTY_BITMAP.
Usage: aimed.py.
"""
from aimed import io, run, steps, u
M=0x7f0000000000; B=0x1000000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         {"op":"mmap","pid":1,"args":{"va":u(0x10000),"length":u(0x10000),"kind":"private_anon","prot":3}},
         {"op":"mmap","pid":1,"args":{"va":u(M),"length":u(0x100000),"kind":"private_anon","prot":3}},
         io('IOMMU_IOAS_ALLOC',flags=0),
         io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}),   # stdev 2 idev 3 hwpt 4
         io('IOMMU_HWPT_ALLOC',flags=2,dev_id=3,pt_id=1,__reserved=0,data_type=0,data_len=0,data_uptr=u(0),fault_id=0)]  # 5
    if r.random()<0.85: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE',id=2,mock_domain_replace={"pt_id":5}))
    for k in steps(r, 8, 28):
        c=r.random()
        iova=B+r.randint(0,31)*0x800; ln=r.choice([0x800,0x1000,0x2000,0x4000,0x10000,0x1800])
        if c<0.22: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=7,user_va=u(M+r.randint(0,15)*0x1000),length=u(r.choice([0x1000,0x2000,0x4000,0x10000])),iova=u(B+r.randint(0,15)*0x1000),__reserved=0))
        elif c<0.32: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(B+r.randint(0,15)*0x1000),length=u(r.choice([0x1000,0x2000,0x10000]))))
        elif c<0.42: evs.append(io('IOMMU_HWPT_SET_DIRTY_TRACKING',flags=r.choice([1,1,0,2]),hwpt_id=r.choice([5,5,4]),__reserved=0))
        elif c<0.65:
            ps=r.choice([0x800,0x1000,0x800])
            nbits=(ln+ps-1)//ps; nbytes=(nbits+7)//8
            bm=bytes(r.randint(0,255) for _ in range(max(nbytes,1)))
            e=io('IOMMU_TEST_OP_DIRTY',id=r.choice([5,5,4]),dirty={"flags":0,"iova":u(iova),"length":u(ln),"page_size":u(ps),"uptr":u(0x10000)})
            e["bufs"]={"uptr":{"$hex":bm.hex()}}
            evs.append(e)
        elif c<0.95:
            ps=r.choice([0x800,0x1000,0x2000,0x800,0x400])
            nbits=(ln+ps-1)//ps; nbytes=((nbits+63)//64)*8
            e=io('IOMMU_HWPT_GET_DIRTY_BITMAP',hwpt_id=r.choice([5,5,4]),flags=r.choice([0,0,1]),__reserved=0,iova=u(iova),length=u(ln),page_size=u(ps),data=u(0x18000))
            e["bufs"]={"data":{"$hex":"00"*max(nbytes,8)}}
            evs.append(e)
        else: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE',id=2,mock_domain_replace={"pt_id":r.choice([5,4,1])}))
    return evs

run('d', trace)
