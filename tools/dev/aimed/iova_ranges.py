#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 29): IOVA ranges: IOAS_MAP, UNMAP, COPY, ALLOW_IOVAS, ADD_RESERVED, IOVA_RANGES, accesses.
Usage: aimed.py.
"""
from aimed import io, run, steps, u
M=0x7f0000000000; B=0x1000000; PG=0x1000

def trace(r):
    evs=[{"op":"open","pid":1,"args":{"path":"/dev/iommu"}},
         {"op":"mmap","pid":1,"args":{"va":u(M),"length":u(0x10000),"kind":"private_anon","prot":3}},
         io('IOMMU_IOAS_ALLOC',flags=0), io('IOMMU_IOAS_ALLOC',flags=0)]
    nid=3; devs=[]; accs=[]
    def rng():
        s=B+r.randint(0,15)*PG; l=r.choice([1,1,2,3,4,8])*PG
        if r.random()<0.05: l=r.choice([0,0x800,(1<<64)-1])
        return s,l
    for k in steps(r, 8, 30):
        c=r.random(); ioas=r.choice([1,2,1])
        if c<0.25:
            s,l=rng(); va=M+r.randint(0,12)*PG
            if r.random()<0.2: evs.append(io('IOMMU_IOAS_MAP',ioas_id=ioas,flags=r.choice([3,1,2]),user_va=u(va),length=u(l),iova=u(0),__reserved=0))
            else: evs.append(io('IOMMU_IOAS_MAP',ioas_id=ioas,flags=r.choice([7,5,6]),user_va=u(va),length=u(l),iova=u(s),__reserved=0))
        elif c<0.40:
            s,l=rng()
            if r.random()<0.1: s,l=0,(1<<64)-1
            evs.append(io('IOMMU_IOAS_UNMAP',ioas_id=ioas,iova=u(s),length=u(l)))
        elif c<0.50:
            s,l=rng(); d,_=rng()
            evs.append(io('IOMMU_IOAS_COPY',dst_ioas_id=3-ioas,src_ioas_id=ioas,flags=r.choice([7,5,3]),length=u(l),dst_iova=u(d),src_iova=u(s),size=40))
        elif c<0.55:
            a=[]
            for _ in steps(r, 0, 2):
                s,l=rng(); a.append({"start":u(s),"last":u(min(s+max(l,1)-1,(1<<64)-1))})
            b=b''.join(int(x["start"]["$u64"],16).to_bytes(8,'little')+int(x["last"]["$u64"],16).to_bytes(8,'little') for x in a)
            e=io('IOMMU_IOAS_ALLOW_IOVAS',ioas_id=ioas,num_iovas=len(a),allowed_iovas=u(0x20000 if a else 0))
            if a: e["bufs"]={"allowed_iovas":{"$hex":b.hex()}}
            evs.append(e)
        elif c<0.60:
            s,l=rng(); evs.append(io('IOMMU_TEST_OP_ADD_RESERVED',id=ioas,add_reserved={"start":u(s),"length":u(max(l,PG))}))
        elif c<0.63:
            evs.append(io('IOMMU_IOAS_IOVA_RANGES',ioas_id=ioas,num_iovas=4,allowed_iovas=u(0x10000)))
        elif c<0.72 and len(devs)<3:
            evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN',id=ioas,mock_domain={})); 
        elif c<0.76:
            evs.append(io('IOMMU_DESTROY',id=r.randint(3,12)))
        elif c<0.82:
            evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS',id=ioas,create_access={"flags":r.choice([0,1])}))
        elif c<0.90:
            s,l=rng(); evs.append(io('IOMMU_TEST_OP_ACCESS_PAGES',id=r.randint(3,10),access_pages={"flags":r.choice([0,1]),"iova":u(s),"length":u(l),"uptr":u(0x10000)}))
        elif c<0.95:
            s,l=rng(); evs.append(io('IOMMU_TEST_OP_ACCESS_RW',id=r.randint(3,10),access_rw={"iova":u(s+r.choice([0,0x800])),"length":u(r.choice([8,0x1000,0x1800])),"uptr":u(M+0x8000),"flags":r.choice([0,1,2])}))
        else:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP',id=r.randint(3,8),check_map={"iova":u(B+r.randint(0,15)*PG),"length":u(PG),"uptr":u(M+r.randint(0,12)*PG)}))
    return evs

run('i', trace)
