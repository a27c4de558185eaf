#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): a memfd's shared and private mappings of 4 KiB pages: holes, truncation, REMOVE, COLD, PAGEOUT.
Usage: aimed.py.
"""
from aimed import ev, run, steps, u
V=0x7f0000000000; P=0x7f0001000000; Q=0x7f0002000000; L=0x8000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},{"op":"IOMMU_IOAS_ALLOC","pid":1,"fd":0,"args":{"flags":0}},
         {"op":"IOMMU_TEST_OP_MOCK_DOMAIN","pid":1,"fd":0,"args":{"id":1,"mock_domain":{}}},
         ev('memfd_create',name='m',flags=r.choice([0,0,3])), ev('ftruncate',fd=1,length=u(L))]
    pids=[1]; forked=False; iova=0x1000000
    for k in steps(r, 6, 20):
        c=r.random()
        pid=r.choice(pids)
        va=r.choice([V,P,Q])+r.choice([0,0x1000,0x2000,0x2800,0x2ff8,0x3800,0x7000])
        if c<0.10: evs.append(ev('mmap',va=u(V),length=u(L),kind='memfd',prot=r.choice([3,3,1]),fd=1,offset=u(0)))
        elif c<0.22: evs.append(ev('mmap',va=u(r.choice([P,Q])),length=u(L),kind='file_private',prot=r.choice([3,3,1]),fd=1,offset=u(r.choice([0,0,0x1000])),**({'flags':0x8000} if r.random()<0.15 else {})))
        elif c<0.37: evs.append(ev('memset',pid=pid,va=u(va),length=u(r.choice([8,0x1000,0x1800])),byte=r.randint(1,255)))
        elif c<0.52: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.57: evs.append(ev('fallocate',fd=1,mode=r.choice([0,3,3,1]),offset=u(r.choice([0,0x1000,0x800])),length=u(r.choice([0x1000,0x2000,0x1800]))))
        elif c<0.62: evs.append(ev('ftruncate',fd=1,length=u(r.choice([0,L,0x2800,0x1000]))))
        elif c<0.68: evs.append(ev('madvise',pid=pid,va=u(r.choice([V,P,Q])+r.choice([0,0x1000])),length=u(r.choice([0x1000,0x2000])),advice=r.choice(['DONTNEED','DONTNEED','REMOVE','COLD','PAGEOUT'])))
        elif c<0.71 and not forked:
            forked=True; pids.append(2); evs.append(ev('fork',child=2))
        elif c<0.73: evs.append(ev('munmap',pid=pid,va=u(r.choice([V,P,Q])+0x1000),length=u(0x1000)))
        elif c<0.76: evs.append(ev('mprotect',pid=pid,va=u(r.choice([V,P,Q])),length=u(0x2000),prot=r.choice([1,3,0])))
        elif c<0.86:
            evs.append({"op":"IOMMU_IOAS_MAP","pid":1,"fd":0,"args":{"ioas_id":1,"flags":r.choice([7,5]),"user_va":u(va & ~0xfff),"length":u(r.choice([0x1000,0x2000])),"iova":u(iova),"__reserved":0}}); iova+=0x100000
        elif c<0.93:
            evs.append({"op":"IOMMU_TEST_OP_MD_CHECK_MAP","pid":1,"fd":0,"args":{"id":4,"check_map":{"iova":u(r.choice(range(0x1000000,max(iova,0x1100000),0x100000))),"length":u(0x1000),"uptr":u(va & ~0xfff)}}})
        elif c<0.97:
            evs.append({"op":"IOMMU_TEST_OP_MD_CHECK_REFS","pid":1,"fd":0,"args":{"id":0,"check_refs":{"length":u(0x1000),"uptr":u(va & ~0xfff),"refs":r.choice([0,1,2])}}})
        else:
            evs.append({"op":"IOMMU_IOAS_UNMAP","pid":1,"fd":0,"args":{"ioas_id":1,"iova":u(0),"length":u((1<<64)-1)}})
    return evs

run('s', trace)
