#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): a hugetlbfs memfd's shared and private mappings beside its page cache.
Usage: aimed.py.
"""
from aimed import ev, run, steps, u
V=0x7f0000000000; P=0x7f0001000000; Q=0x7f0002000000; HP=0x200000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},{"op":"IOMMU_IOAS_ALLOC","pid":1,"fd":0,"args":{"flags":0}},
         {"op":"IOMMU_TEST_OP_MOCK_DOMAIN","pid":1,"fd":0,"args":{"id":1,"mock_domain":{}}},
         ev('memfd_create',name='h',flags=4), ev('ftruncate',fd=1,length=u(HP))]
    pids=[1]; forked=False; iova=0x1000000
    bases={'S':V,'P':P,'Q':Q}
    for k in steps(r, 6, 18):
        c=r.random()
        pid=r.choice(pids)
        va=r.choice(list(bases.values()))+r.choice([0,0x1000,0x3000,0x100000])
        if c<0.12: evs.append(ev('mmap',va=u(V),length=u(HP),kind='memfd',prot=3,fd=1,offset=u(0)))
        elif c<0.24: evs.append(ev('mmap',va=u(r.choice([P,Q])),length=u(HP),kind='file_private',prot=r.choice([3,3,1]),fd=1,offset=u(0),**({'flags':0x8000} if r.random()<0.15 else {})))
        elif c<0.40: evs.append(ev('memset',pid=pid,va=u(va),length=u(8),byte=r.randint(1,255)))
        elif c<0.58: evs.append(ev('read_memory',pid=pid,va=u(va),length=u(8)))
        elif c<0.63: evs.append(ev('fallocate',fd=1,mode=r.choice([0,0,3,1]),offset=u(0),length=u(HP)))
        elif c<0.67: evs.append(ev('ftruncate',fd=1,length=u(r.choice([0,HP]))))
        elif c<0.74: evs.append(ev('madvise',pid=pid,va=u(r.choice([V,P,Q])),length=u(HP),advice='DONTNEED'))
        elif c<0.78 and not forked:
            forked=True; pids.append(2); evs.append(ev('fork',child=2))
        elif c<0.88:
            evs.append({"op":"IOMMU_IOAS_MAP","pid":1,"fd":0,"args":{"ioas_id":1,"flags":r.choice([7,5]),"user_va":u(va),"length":u(0x1000),"iova":u(iova),"__reserved":0}}); iova+=0x100000
        elif c<0.95:
            evs.append({"op":"IOMMU_TEST_OP_MD_CHECK_MAP","pid":1,"fd":0,"args":{"id":4,"check_map":{"iova":u(r.choice(range(0x1000000,max(iova,0x1100000),0x100000))),"length":u(0x1000),"uptr":u(va)}}})
        else:
            evs.append({"op":"IOMMU_TEST_OP_MD_CHECK_REFS","pid":1,"fd":0,"args":{"id":0,"check_refs":{"length":u(0x1000),"uptr":u(va),"refs":r.choice([0,1])}}})
    return evs

run('r', trace)
