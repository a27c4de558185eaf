#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): 1 MiB IOPTEs: a HUGE_IOVA mock
device's domain (and a dirty-tracking one) over hugetlb memory, the IOAS's HUGE_PAGES option turned
off and on around maps at aligned and unaligned IOVAs and user addresses, unmaps of pieces,
TEST_OP_DIRTY and GET_DIRTY_BITMAP over 1 MiB IOPTEs, MD_CHECK_MAP, a second plain domain.
Usage: aimed.py.
"""
from aimed import io, run, steps, u
M = 0x7f0000000000; B = 0x1000000; MB = 0x100000

def trace(r):
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           {"op": "mmap", "pid": 1, "args": {"va": u(0x10000), "length": u(0x10000), "kind": "private_anon", "prot": 3}},
           {"op": "mmap", "pid": 1, "args": {"va": u(M), "length": u(4 * MB), "kind": "anon_hugetlb", "prot": 3}},
           io('IOMMU_IOAS_ALLOC', flags=0)]                                                        # 1
    if r.random() < 0.3: evs.append(io('IOMMU_OPTION', option_id=1, op=0, __reserved=0, object_id=1, val64=u(0)))
    evs += [io('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', id=1, mock_domain_flags={"dev_flags": r.choice([2, 2, 2, 0])}),  # stdev 2 idev 3 hwpt 4
            io('IOMMU_HWPT_ALLOC', flags=2, dev_id=3, pt_id=1, __reserved=0, data_type=0, data_len=0, data_uptr=u(0), fault_id=0)]  # 5
    if r.random() < 0.7: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=2, mock_domain_replace={"pt_id": 5}))
    if r.random() < 0.6: evs.append(io('IOMMU_HWPT_SET_DIRTY_TRACKING', flags=1, hwpt_id=5, __reserved=0))
    for k in steps(r, 8, 26):
        c = r.random()
        iova = B + r.randint(0, 5) * MB + r.choice([0, 0, 0, 0x1000, 0x800 * r.randint(0, 511)])
        ln = r.choice([MB, 2 * MB, MB + 0x1000, 0x1000, 0x3000, 3 * MB])
        if c < 0.22:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 7, 5]), user_va=u(M + r.choice([0, 0, MB, 2 * MB, 0x1000, 0x3000])),
                          length=u(r.choice([MB, 2 * MB, MB + 0x1000, 0x1000, 3 * MB])), iova=u(B + r.randint(0, 5) * MB + r.choice([0, 0, 0, 0x1000])), __reserved=0))
        elif c < 0.32: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(r.choice([0, iova & ~0xfff])), length=u(r.choice([(1 << 64) - 1, ln]))))
        elif c < 0.40: evs.append(io('IOMMU_OPTION', option_id=1, op=r.choice([0, 0, 1]), __reserved=0, object_id=r.choice([1, 1, 1, 4]), val64=u(r.choice([0, 1, 1, 2]))))
        elif c < 0.46: evs.append(io('IOMMU_HWPT_SET_DIRTY_TRACKING', flags=r.choice([1, 1, 0]), hwpt_id=5, __reserved=0))
        elif c < 0.60:
            ps = r.choice([0x800, 0x1000, 0x1000])
            nbytes = (ln // ps + 7) // 8
            e = io('IOMMU_TEST_OP_DIRTY', id=5, dirty={"flags": 0, "iova": u(iova), "length": u(ln), "page_size": u(ps), "uptr": u(0x10000)})
            e["bufs"] = {"uptr": {"$hex": bytes(r.choice([0, 0xff, r.randint(0, 255)]) for _ in range(max(nbytes, 1))).hex()}}
            evs.append(e)
        elif c < 0.78:
            ps = r.choice([0x1000, 0x1000, 0x800, MB, 0x2000])
            nbytes = ((ln // ps + 63) // 64) * 8
            e = io('IOMMU_HWPT_GET_DIRTY_BITMAP', hwpt_id=5, flags=r.choice([0, 0, 1]), __reserved=0, iova=u(iova), length=u(ln), page_size=u(ps), data=u(0x18000))
            e["bufs"] = {"data": {"$hex": "00" * max(nbytes, 8)}}
            evs.append(e)
        elif c < 0.90:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=r.choice([5, 4, 2]), check_map={"iova": u(iova & ~0xfff), "length": u(r.choice([0x1000, MB])), "uptr": u(M + r.choice([0, MB, 0x1000]))}))
        elif c < 0.95: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=2, mock_domain_replace={"pt_id": r.choice([5, 4, 1])}))
        else: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}))
    return evs

run('h', trace)
