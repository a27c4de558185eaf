#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): three huge pages side by side in
private memory advised HUGEPAGE, and everything done across their boundaries (after #90, a run of
copied pages merged across two of them): stores, reads, pins and check ops on the pages either side
of a boundary, MADV_COLD / PAGEOUT / DONTNEED / POPULATE_READ / POPULATE_WRITE over ranges that
cross one, mprotect and munmap of pieces there, mremap of a piece away and back, forks (a child and
a grandchild) and exits between them.
Usage: aimed.py.
"""
from aimed import away_and_back, ev, io, run, steps, u
M = 0x7f0000000000; N = 0x7f0010000000; B = 0x1000000; HP = 0x200000; PG = 0x1000

def trace(r):
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           ev('mmap', va=u(M), length=u(3 * HP), kind='private_anon', prot=3),
           io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('madvise', va=u(M), length=u(3 * HP), advice='HUGEPAGE')]
    for _ in steps(r, 1, 4): evs.append(ev('memset', va=u(M + r.choice([0, HP, 2 * HP]) + r.choice([0, 0x7000])), length=u(8), byte=r.randint(1, 255)))
    pids = [1]; alive = {1: True}; iova = B
    # a point near a boundary: the last pages of one huge page, or the first of the next
    def near(): return M + r.choice([HP, 2 * HP, HP, 2 * HP, 0]) + r.choice([-2 * PG, -PG, 0, PG, 0x7000]) if True else 0
    for _ in steps(r, 8, 26):
        c = r.random(); pid = r.choice(pids)
        if not alive[pid]: pid = 1
        va = max(M, near())
        if c < 0.14: evs.append(ev('memset', pid=pid, va=u(va), length=u(r.choice([8, PG, 2 * PG])), byte=r.randint(1, 255)))
        elif c < 0.22: evs.append(ev('read_memory', pid=pid, va=u(va), length=u(8)))
        elif c < 0.32:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 5]), user_va=u(va), length=u(r.choice([PG, 2 * PG, 4 * PG])), iova=u(iova), __reserved=0)); iova += HP
        elif c < 0.36: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
        elif c < 0.50: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": r.choice([0, 1, 2])}))
        elif c < 0.66:
            start = max(M, near() - r.choice([0, PG, 0x100000]))
            evs.append(ev('madvise', pid=pid, va=u(start), length=u(r.choice([2 * PG, 0x100000, HP, 0x101000])),
                          advice=r.choice(['COLD', 'PAGEOUT', 'DONTNEED', 'POPULATE_READ', 'POPULATE_WRITE', 'COLD', 'PAGEOUT'])))
        elif c < 0.70: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(r.choice([PG, 2 * PG])), prot=r.choice([1, 3])))
        elif c < 0.73: evs.append(ev('munmap', pid=pid, va=u(va), length=u(PG)))
        elif c < 0.76:
            old = max(M, near())
            evs += away_and_back(pid, old, 2 * PG, N)
        elif c < 0.82 and len(pids) < 3:
            child = len(pids) + 1; evs.append(ev('fork', pid=pids[-1] if alive[pids[-1]] else 1, child=child)); pids.append(child); alive[child] = True
        elif c < 0.85 and len(pids) > 1:
            p = r.choice(pids[1:])
            if alive[p]: evs.append(ev('exit', pid=p)); alive[p] = False
        else:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(B + r.randint(0, max(0, (iova - B) // HP - 1)) * HP), "length": u(PG), "uptr": u(va)}))
    return evs

run('b', trace)
