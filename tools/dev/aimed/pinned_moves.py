#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): user memory that IOAS areas pin,
moved, grown, shrunk, unmapped and remapped under them (mremap FIXED, DONTUNMAP, in place;
munmap; mmap over), with stores, reads, check ops and IOAS_COPY of the pinned areas.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M=0x7f0000000000; N=0x7f0010000000; B=0x1000000; PG=0x1000

def trace(r):
    kind=r.choice(['private_anon','private_anon','memfd'])
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}}]
    if kind=='memfd':
        evs+= [ev('memfd_create',name='m',flags=0), ev('ftruncate',fd=1,length=u(0x20000)), ev('mmap',va=u(M),length=u(0x20000),kind='memfd',prot=3,fd=1,offset=u(0))]
    else:
        evs.append(ev('mmap',va=u(M),length=u(0x20000),kind='private_anon',prot=3))
    evs+=[io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_IOAS_ALLOC',flags=0)]
    if r.random()<0.7: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN',id=1,mock_domain={}))
    for k in steps(r, 8, 24):
        c=r.random(); va=M+r.randint(0,31)*PG; nva=N+r.randint(0,15)*PG
        if c<0.22: evs.append(io('IOMMU_IOAS_MAP',ioas_id=1,flags=r.choice([7,5]),user_va=u(M+r.randint(0,24)*PG),length=u(r.choice([1,2,4,8])*PG),iova=u(B+r.randint(0,24)*PG),__reserved=0))
        elif c<0.30: evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=1,iova=u(0),length=u((1<<64)-1)))
        elif c<0.38: evs.append(io('IOMMU_IOAS_COPY',dst_ioas_id=2,src_ioas_id=1,flags=r.choice([7,5]),length=u(r.choice([1,2,4])*PG),dst_iova=u(B+r.randint(0,24)*PG),src_iova=u(B+r.randint(0,24)*PG),size=40))
        elif c<0.50:
            f=r.choice([3,7,0,1])
            a=dict(va=u(M+r.randint(0,16)*PG),old_length=u(r.choice([1,2,4,8])*PG),new_length=u(r.choice([1,2,4,8])*PG),flags=f if f!=1 else 0)
            if f in (3,7): a['new_va']=u(nva)
            evs.append(ev('mremap',**a))
        elif c<0.56: evs.append(ev('munmap',va=u(va),length=u(r.choice([1,2,4])*PG)))
        elif c<0.60: evs.append(ev('mmap',va=u(M+r.randint(0,16)*PG),length=u(r.choice([1,4])*PG),kind='private_anon',prot=3))
        elif c<0.70: evs.append(ev('memset',va=u(r.choice([va,nva])),length=u(8),byte=r.randint(1,255)))
        elif c<0.78: evs.append(ev('read_memory',va=u(r.choice([va,nva])),length=u(8)))
        elif c<0.90: evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=r.choice([5,5,4]),check_map={"iova":u(B+r.randint(0,24)*PG),"length":u(PG),"uptr":u(r.choice([va,nva]))}))
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS',id=0,check_refs={"length":u(PG),"uptr":u(r.choice([va,nva])),"refs":r.choice([0,1,2])}))
    return evs

run('p', trace)
