#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): huge pages in one kernel VMA that
the model keeps as several pieces (after #91): pieces made by moving pages away and back with
mremap, by DONTNEED (new pages in a range), by growing a mapping with mremap, and by mprotect
undone; then everything a huge page feels across them: MADV_COLD / PAGEOUT / DONTNEED /
POPULATE_READ / POPULATE_WRITE / HUGEPAGE / NOHUGEPAGE, stores, reads, pins and check ops, fork,
mremap of the whole 2 MiB, munmap of a piece.
Usage: aimed.py.
"""
from aimed import away_and_back, ev, io, run, steps, u
M = 0x7f0000000000; N = 0x7f0010000000; B = 0x1000000; HP = 0x200000; PG = 0x1000

def trace(r):
    grow = r.random() < 0.25
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           ev('mmap', va=u(M), length=u(HP if grow else 2 * HP), kind='private_anon', prot=3),
           io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('madvise', va=u(M), length=u(HP if grow else 2 * HP), advice='HUGEPAGE')]
    if grow: evs.append(ev('mremap', va=u(M), old_length=u(HP), new_length=u(2 * HP), flags=0))
    if r.random() < 0.7: evs.append(ev('memset', va=u(M + r.choice([0, HP])), length=u(8), byte=r.randint(1, 255)))
    # make pieces
    for _ in steps(r, 1, 3):
        c = r.random(); at = M + r.choice([0, HP]) + r.randint(1, 500) * PG
        if c < 0.4:
            evs += away_and_back(1, at, 2 * PG, N)
        elif c < 0.7: evs.append(ev('madvise', va=u(at), length=u(r.choice([PG, 4 * PG])), advice='DONTNEED'))
        else:
            evs.append(ev('mprotect', va=u(at), length=u(PG), prot=1))
            evs.append(ev('mprotect', va=u(at), length=u(PG), prot=3))
    pids = [1]; alive = {1: True}; iova = B
    for _ in steps(r, 8, 22):
        c = r.random(); pid = r.choice(pids)
        if not alive[pid]: pid = 1
        h = M + r.choice([0, HP]); va = h + r.choice([0, PG, 2 * PG, 0x7000, HP - PG])
        if c < 0.14: evs.append(ev('memset', pid=pid, va=u(va), length=u(r.choice([8, PG])), byte=r.randint(1, 255)))
        elif c < 0.20: evs.append(ev('read_memory', pid=pid, va=u(va), length=u(8)))
        elif c < 0.30:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 5]), user_va=u(va), length=u(r.choice([PG, 2 * PG])), iova=u(iova), __reserved=0)); iova += HP
        elif c < 0.34: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
        elif c < 0.48: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": r.choice([0, 1, 2])}))
        elif c < 0.66:
            evs.append(ev('madvise', pid=pid, va=u(h + r.choice([0, 0, PG])), length=u(r.choice([HP, HP, HP // 2, 4 * PG])),
                          advice=r.choice(['COLD', 'PAGEOUT', 'DONTNEED', 'POPULATE_READ', 'POPULATE_WRITE', 'NOHUGEPAGE', 'HUGEPAGE', 'COLD', 'PAGEOUT'])))
        elif c < 0.70 and len(pids) == 1: evs.append(ev('fork', child=2)); pids.append(2); alive[2] = True
        elif c < 0.72 and alive.get(2): evs.append(ev('exit', pid=2)); alive[2] = False
        elif c < 0.76:
            evs += away_and_back(pid, h, HP, N + 0x400000)
        elif c < 0.79: evs.append(ev('munmap', pid=pid, va=u(va), length=u(PG)))
        else:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(B + r.randint(0, max(0, (iova - B) // HP - 1)) * HP), "length": u(PG), "uptr": u(va)}))
    return evs

run('z', trace)
