#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 31): the VFIO container's UNMAP_DMA
cutting areas (iopt_cut_iova: with large pages disabled the range is cut at both ends first) under
everything that refuses or changes a cut: accesses that pin and copy through the area, mock
domains attached and detached, the IOAS's HUGE_PAGES option set either way by IOMMU_OPTION and by
VFIO_SET_IOMMU (TYPE1 against TYPE1v2), maps through MAP_DMA and IOAS_MAP, IOAS_COPY of the pieces.
Usage: aimed.py.
"""
from aimed import Fds, io, run, steps, u
M = 0x7f0000000000; BUF = 0x7f0010000000; B = 0x1000000; PG = 0x1000

def trace(r):
    fds = Fds(0)
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           {"op": "mmap", "pid": 1, "args": {"va": u(M), "length": u(0x40000), "kind": "private_anon", "prot": 3}},
           {"op": "mmap", "pid": 1, "args": {"va": u(BUF), "length": u(0x10000), "kind": "private_anon", "prot": 3}},
           io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_VFIO_IOAS', ioas_id=1, op=1, __reserved=0)]
    if r.random() < 0.8: evs.append(io('VFIO_SET_IOMMU', arg=u(r.choice([1, 1, 3]))))
    if r.random() < 0.4: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}))
    accs = []; maps = []
    if r.random() < 0.7:
        accs.append(fds.new()); evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS', id=1, create_access={"flags": r.choice([1, 1, 0])}))
    def acc(): return r.choice(accs) if accs and r.random() < 0.9 else r.randint(1, 4)
    def at():
        if maps and r.random() < 0.8:
            s, l = r.choice(maps)
            return s + r.randint(0, max(0, l // PG - 1)) * PG
        return B + r.randint(0, 31) * PG
    for k in steps(r, 8, 30):
        c = r.random(); l = r.choice([1, 2, 3, 4, 8, 16]) * PG
        if c < 0.20:
            s = B + r.randint(0, 31) * PG; maps.append((s, l))
            if r.random() < 0.7: evs.append(io('VFIO_IOMMU_MAP_DMA', argsz=32, flags=3, vaddr=u(M + r.randint(0, 40) * PG), iova=u(s), size=u(l)))
            else: evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=7, user_va=u(M + r.randint(0, 40) * PG), length=u(l), iova=u(s), __reserved=0))
        elif c < 0.38:
            if r.random() < 0.1: evs.append(io('VFIO_IOMMU_UNMAP_DMA', argsz=24, flags=2, iova=u(0), size=u(0)))
            else: evs.append(io('VFIO_IOMMU_UNMAP_DMA', argsz=24, flags=0, iova=u(at()), size=u(r.choice([PG, 2 * PG, l]))))
        elif c < 0.44:
            accs.append(fds.new()); evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS', id=1, create_access={"flags": r.choice([1, 1, 0])}))
        elif c < 0.54:
            evs.append(io('IOMMU_TEST_OP_ACCESS_PAGES', id=acc(), access_pages={"flags": r.choice([0, 1]), "iova": u(at()),
                          "length": u(r.choice([PG, 2 * PG, 3 * PG])), "uptr": u(r.choice([0, BUF]))}))
        elif c < 0.59:
            evs.append(io('IOMMU_TEST_OP_ACCESS_RW', id=acc(), access_rw={"iova": u(at() + r.choice([0, 0x800, 0xffc])),
                          "length": u(r.choice([8, 0x1000, 0x1800])), "uptr": u(BUF + 0x8000), "flags": r.choice([0, 1, 4, 5])}))
        elif c < 0.64:
            evs.append(io('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', id=acc(), destroy_access_pages={"access_pages_id": r.randint(1, 4)}))
        elif c < 0.68:
            evs.append(io('IOMMU_OPTION', option_id=1, op=r.choice([0, 0, 1]), __reserved=0, object_id=1, val64=u(r.choice([0, 1]))))
        elif c < 0.72:
            evs.append(io('VFIO_SET_IOMMU', arg=u(r.choice([1, 3]))))
        elif c < 0.76:
            evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}))
        elif c < 0.80:
            evs.append(io('IOMMU_DESTROY', id=r.randint(2, 9)))
        elif c < 0.86:
            evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(at()), length=u(r.choice([PG, l]))))
        elif c < 0.90:
            if len([e for e in evs if e['op'] == 'IOMMU_IOAS_ALLOC']) < 2: evs.append(io('IOMMU_IOAS_ALLOC', flags=0))
            evs.append(io('IOMMU_IOAS_COPY', dst_ioas_id=r.choice([2, 2, 1]), src_ioas_id=1, flags=r.choice([7, 5]), length=u(r.choice([PG, 2 * PG, l])),
                          dst_iova=u(B + r.randint(0, 31) * PG), src_iova=u(at()), size=40))
        elif c < 0.95:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=r.choice([4, 5, 7, 8]), check_map={"iova": u(at()), "length": u(PG), "uptr": u(M + r.randint(0, 40) * PG)}))
        else:
            evs.append(io('IOMMU_IOAS_IOVA_RANGES', ioas_id=1, num_iovas=4, allowed_iovas=u(BUF)))
    return evs

run('c', trace)
