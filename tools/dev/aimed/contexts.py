#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): two iommufd contexts side by side
(and a forked child using both): the same object IDs in each, an access or fault fd of one used
through the other, maps, copies, domains and destroys in each, one context closed while the other
and its fds live on, the child's exit.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
M = 0x7f0000000000; B = 0x1000000; PG = 0x1000

def trace(r):
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},          # fd 0
           {"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},          # fd 1
           ev('mmap', va=u(M), length=u(0x40000), kind='private_anon', prot=3),
           io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_IOAS_ALLOC', flags=0) | {"fd": 1}]
    pids = [1]; alive = {1: True}
    for _ in steps(r, 10, 30):
        c = r.random(); pid = r.choice(pids)
        if not alive.get(pid): pid = 1
        ctx = r.choice([0, 0, 1, 2, 3])      # 2, 3: an access or fault fd, when one got that number
        def on(e): e["fd"] = ctx; e["pid"] = pid; return e
        iova = B + r.randint(0, 31) * PG
        if c < 0.18: evs.append(on(io('IOMMU_IOAS_MAP', ioas_id=r.choice([1, 1, 2, 3]), flags=r.choice([7, 5]), user_va=u(M + r.randint(0, 31) * PG), length=u(r.choice([1, 2, 4]) * PG), iova=u(iova), __reserved=0)))
        elif c < 0.26: evs.append(on(io('IOMMU_IOAS_UNMAP', ioas_id=r.choice([1, 2]), iova=u(0), length=u((1 << 64) - 1))))
        elif c < 0.32: evs.append(on(io('IOMMU_IOAS_ALLOC', flags=0)))
        elif c < 0.40: evs.append(on(io('IOMMU_TEST_OP_MOCK_DOMAIN', id=r.choice([1, 1, 2]), mock_domain={})))
        elif c < 0.48: evs.append(on(io('IOMMU_TEST_OP_CREATE_ACCESS', id=r.choice([1, 2]), create_access={"flags": r.choice([0, 1])})))
        elif c < 0.56: evs.append(on(io('IOMMU_TEST_OP_ACCESS_PAGES', id=r.randint(2, 6), access_pages={"flags": r.choice([0, 1]), "iova": u(iova), "length": u(PG), "uptr": u(0x10000)})))
        elif c < 0.60: evs.append(on(io('IOMMU_FAULT_QUEUE_ALLOC', flags=0)))
        elif c < 0.66: evs.append(on(io('IOMMU_IOAS_COPY', dst_ioas_id=r.choice([1, 2, 3]), src_ioas_id=r.choice([1, 2]), flags=r.choice([7, 5]), length=u(PG), dst_iova=u(B + 0x100000 + r.randint(0, 15) * PG), src_iova=u(iova), size=40)))
        elif c < 0.72: evs.append(on(io('IOMMU_DESTROY', id=r.randint(1, 8))))
        elif c < 0.80: evs.append(on(io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(PG), "uptr": u(M + r.randint(0, 31) * PG), "refs": r.choice([0, 1, 2])})))
        elif c < 0.84: evs.append(ev('close', pid=pid, fd=r.randint(0, 4)))
        elif c < 0.87 and len(pids) == 1: pids.append(2); alive[2] = True; evs.append(ev('fork', child=2))
        elif c < 0.89 and alive.get(2): alive[2] = False; evs.append(ev('exit', pid=2))
        elif c < 0.95: evs.append(ev('memset', pid=pid, va=u(M + r.randint(0, 31) * PG), length=u(8), byte=r.randint(1, 255)))
        else: evs.append(on(io('IOMMU_IOAS_IOVA_RANGES', ioas_id=r.choice([1, 2]), num_iovas=0, __reserved=0, out_iova_alignment=u(0), allowed_iovas=u(0))))
    return evs

run('c', trace)
