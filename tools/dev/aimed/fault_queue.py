#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): fault queues: page requests on a nested domain with a fault queue, reads and answers of the fault fd.
Usage: aimed.py.
"""
import struct
from aimed import io, run, steps, u

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         {"op":"mmap","pid":1,"args":{"va":u(0x10000),"length":u(0x10000),"kind":"private_anon","prot":3}},
         {"op":"write_memory","pid":1,"args":{"va":u(0x10000),"data":{"$hex":"efbead0b"}}},
         io('IOMMU_IOAS_ALLOC',flags=0),               # 1
         io('IOMMU_FAULT_QUEUE_ALLOC',flags=0),        # 2, fd 1
         io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}),  # stdev 3 idev 4 hwpt 5
         io('IOMMU_HWPT_ALLOC',flags=1,dev_id=4,pt_id=1,__reserved=0,data_type=0,data_len=0,data_uptr=u(0),fault_id=0),  # 6
         io('IOMMU_HWPT_ALLOC',flags=4,dev_id=4,pt_id=6,__reserved=0,data_type=57005,data_len=4,data_uptr=u(0x10000),fault_id=2),  # 7
        ]
    evs[-1]["bufs"]={"data_uptr":{"$hex":"efbead0b"}}
    if r.random()<0.8: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE',id=3,mock_domain_replace={"pt_id":7}))
    for k in steps(r, 6, 24):
        c=r.random()
        if c<0.35: evs.append(io('IOMMU_TEST_OP_TRIGGER_IOPF',id=0,trigger_iopf={"dev_id":r.choice([4,4,4,3,9]),"pasid":r.choice([0,0,1]),"grpid":r.randint(0,3),"perm":r.choice([1,3,2]),"addr":u(0x1000000+r.randint(0,7)*0x1000)}))
        elif c<0.58: evs.append({"op":"read_fault_fd","pid":1,"args":{"fd":1,"count":r.choice([0,16,40,48,80,96,160,200]),"pos":0}})
        elif c<0.80:
            m=r.randint(1,3)
            data=b''.join(struct.pack('<II', r.randint(0,4), r.choice([0,0,1,2,5])) for _ in range(m))
            if r.random()<0.1: data=data[:-3]
            evs.append({"op":"write_fault_fd","pid":1,"args":{"fd":1,"data":{"$hex":data.hex()},"pos":0}})
        elif c<0.85: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE',id=3,mock_domain_replace={"pt_id":r.choice([7,6,1,5])}))
        elif c<0.89: evs.append(io('IOMMU_DESTROY',id=r.choice([7,6,2,3])))
        elif c<0.92: evs.append({"op":"close","pid":1,"args":{"fd":1}})
        elif c<0.96: evs.append(io('IOMMU_HWPT_ALLOC',flags=4,dev_id=4,pt_id=6,__reserved=0,data_type=57005,data_len=4,data_uptr=u(0x10000),fault_id=r.choice([2,8])) | {"bufs":{"data_uptr":{"$hex":"efbead0b"}}})
        else: evs.append(io('IOMMU_FAULT_QUEUE_ALLOC',flags=0))
    return evs

run('f', trace)
