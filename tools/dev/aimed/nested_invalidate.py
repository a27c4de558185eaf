#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): the selftest's nested domains and
their IOTLB: HWPT_ALLOC nested with its IOTLB word, HWPT_INVALIDATE arrays (entry lengths, counts,
flags and IDs right and wrong, short buffers), MD_CHECK_IOTLB, replace and destroy.
Usage: aimed.py.
"""
import struct
from aimed import io, run, steps, u

HWPT_DATA = 0xdead        # IOMMU_HWPT_DATA_SELFTEST
DATA = 0xdeadbeef         # IOMMU_HWPT_INVALIDATE_DATA_SELFTEST

def nested(r, parent=5):
    e = io('IOMMU_HWPT_ALLOC', flags=0, dev_id=r.choice([3, 3, 3, 2]), pt_id=parent, __reserved=0,
           data_type=r.choice([HWPT_DATA] * 8 + [0, DATA]), data_len=r.choice([4, 4, 4, 0, 8, 3]), data_uptr=u(0x10000), fault_id=0)
    e["bufs"] = {"data_uptr": {"$hex": struct.pack('<I', r.choice([0, 1, 0xbeef, 0xffffffff, r.randint(0, 1 << 32)])).hex()[:2 * e["args"]["data_len"]] }}
    if e["args"]["data_len"] == 8: e["bufs"]["data_uptr"] = {"$hex": struct.pack('<II', 7, r.choice([0, 0, 5])).hex()}
    return e

def invalidate(r, ids):
    n = r.choice([0, 1, 1, 2, 3, 5])
    ln = r.choice([8] * 8 + [0, 4, 7, 12, 16])
    ents = b''
    for _ in range(n):
        flags = r.choice([0, 0, 0, 1, 1, 2, 3])
        iid = r.choice([0, 1, 2, 3, 3, 4, 0xffffffff])
        ents += struct.pack('<II', flags, iid)[:ln] + bytes(max(0, ln - 8)) if ln <= 8 else struct.pack('<II', flags, iid) + (bytes(ln - 8) if r.random() < 0.7 else b'\x01' + bytes(ln - 9))
    if n and r.random() < 0.12: ents = ents[:-r.randint(1, min(len(ents), 8))] if ents else ents
    e = io('IOMMU_HWPT_INVALIDATE', size=32, hwpt_id=r.choice(ids), data_uptr=u(0 if r.random() < 0.05 else 0x20000),
           data_type=r.choice([DATA] * 10 + [0, 1]), entry_len=ln, entry_num=n, __reserved=r.choice([0] * 20 + [1]))
    e["bufs"] = {"data_uptr": {"$hex": ents.hex()}}
    return e

def trace(r):
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           {"op": "mmap", "pid": 1, "args": {"va": u(0x10000), "length": u(0x20000), "kind": "private_anon", "prot": 3}},
           io('IOMMU_IOAS_ALLOC', flags=0),                                   # 1
           io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),            # stdev 2, idev 3, hwpt 4
           io('IOMMU_HWPT_ALLOC', flags=1, dev_id=3, pt_id=1, __reserved=0, data_type=0, data_len=0, data_uptr=u(0), fault_id=0)]  # 5
    # two nested domains of known IDs (6, 7), their IOTLB words drawn; later allocations may fail
    for _ in range(2):
        e = nested(r); e["args"].update(dev_id=3, data_type=HWPT_DATA, data_len=4); e["bufs"]["data_uptr"]["$hex"] = e["bufs"]["data_uptr"]["$hex"].ljust(8, '0')
        evs.append(e)
    ids = [6, 6, 6, 7, 7, 5, 4, 1, 8, 99]
    for k in steps(r, 8, 26):
        c = r.random()
        if c < 0.15: evs.append(nested(r, r.choice([5] * 6 + [4, 1, 6])))
        elif c < 0.55: evs.append(invalidate(r, ids))
        elif c < 0.78:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_IOTLB', id=r.choice(ids), check_iotlb={"id": r.choice([0, 1, 2, 3, 4]), "iotlb": r.choice([0, 0, 0xbeef, 1, 0xffffffff])}))
        elif c < 0.88:
            evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=2, mock_domain_replace={"pt_id": r.choice(ids)}))
        elif c < 0.94:
            evs.append(io('IOMMU_DESTROY', id=r.choice(ids)))
        else:
            evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}))
    return evs

run('n', trace)
