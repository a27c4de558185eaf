#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): a regular file made empty by
O_TRUNC (/tmp/data), its size set by ftruncate, written and read through write(2)/read(2) at
offsets (the write_fault_fd / read_fault_fd events on its fd), mapped shared and privately, with
stores, reads, pins, check ops, DONTNEED and fork.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
V=0x7f0000000000; P=0x7f0001000000; B=0x1000000; PG=0x1000; L=0x8000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}}, io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}),
         ev('open',path='/tmp/data',flags=578), ev('ftruncate',fd=1,length=u(r.choice([L,0x2800,0])))]
    pids=[1]; forked=False; iova=B
    for k in steps(r, 8, 24):
        c=r.random(); pid=r.choice(pids); va=r.choice([V,P])+r.randint(0,7)*PG+r.choice([0,0,0x800])
        if c<0.10: evs.append(ev('mmap',va=u(V),length=u(L),kind='file_shared',prot=r.choice([3,3,1]),fd=1,offset=u(0)))
        elif c<0.18: evs.append(ev('mmap',va=u(P),length=u(L),kind='file_private',prot=r.choice([3,1]),fd=1,offset=u(r.choice([0,PG]))))
        elif c<0.30:
            d=bytes(r.randint(0,255) for _ in range(r.choice([8,16,0x100])))
            evs.append(ev('write_fault_fd',pid=pid,fd=1,data={"$hex":d.hex()},pos=u(r.choice([0,0x10,PG-8,0x2ff8,L]))))
        elif c<0.40: evs.append(ev('read_fault_fd',pid=pid,fd=1,count=r.choice([8,0x10,0x100]),pos=u(r.choice([0,0x10,PG-8,0x2ff8,L]))))
        elif c<0.48: evs.append(ev('ftruncate',fd=1,length=u(r.choice([0,0x1800,L,0x2800]))))
        elif c<0.58: evs.append(ev('memset',pid=pid,va=u(va),length=u(8),byte=r.randint(1,255)))
        elif c<0.68: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.76: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(va & ~0xfff),length=u(r.choice([1,2])*PG),iova=u(iova),__reserved=0)); iova+=0x100000
        elif c<0.79: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.84: evs.append(ev('madvise',pid=pid,va=u(r.choice([V,P])),length=u(r.choice([PG,L])),advice='DONTNEED'))
        elif c<0.87 and not forked: forked=True; pids.append(2); evs.append(ev('fork',child=2))
        elif c<0.95: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=4,check_map={"iova":u(B+r.randint(0,max(0,(iova-B)//0x100000-1))*0x100000),"length":u(PG),"uptr":u(va & ~0xfff)}))
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(va & ~0xfff),"refs":r.choice([0,1,2])}))
    return evs

run('q', trace)
