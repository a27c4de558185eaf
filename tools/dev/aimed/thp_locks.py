#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 32): huge pages of private memory
advised HUGEPAGE under vma_locks.py's VMA changes: mlock, mlock2(MLOCK_ONFAULT), munlock, mlockall
and munlockall over pieces and whole huge pages (which split VMAs, and so huge page mappings, and
populate), mremap moves with DONTUNMAP and FIXED of aligned and unaligned spans to aligned and
unaligned places, growths in place, WIPEONFORK / DONTFORK and fork, COLD / PAGEOUT / DONTNEED /
POPULATE_*, stores and reads, pins and MD_CHECK_REFS / MD_CHECK_MAP of what they hold, and probes
of whether a span is one VMA.
Usage: aimed.py.
"""
from aimed import away_and_back, ev, io, run, steps, u
M = 0x7f0000000000; N = 0x7f0010000000; D = 0x7f0020000000; B = 0x1000000; HP = 0x200000; PG = 0x1000

def trace(r):
    hps = r.randint(2, 3)
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           ev('mmap', va=u(M), length=u(hps * HP), kind='private_anon', prot=3),
           ev('madvise', va=u(M), length=u(hps * HP), advice='HUGEPAGE'),
           io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={})]  # stdev 2 idev 3 hwpt 4
    for k in range(hps):
        if r.random() < 0.6: evs.append(ev('memset', va=u(M + k * HP + r.randint(0, 511) * PG), length=u(8), byte=r.randint(1, 255)))
    pids = [1]; alive = {1: True}; maps = []; iova = B
    def where():
        base = M if r.random() < 0.8 else r.choice([N, D])
        return base + r.choice([0, PG, HP - PG, HP, HP + PG, 2 * HP - 2 * PG, r.randint(0, hps * 512 - 1) * PG])
    for _ in steps(r, 10, 30):
        c = r.random(); pid = r.choice(pids)
        if not alive[pid]: pid = 1
        va = where(); ln = r.choice([PG, 2 * PG, 16 * PG, HP, HP, HP + PG, 2 * HP])
        if c < 0.10: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.14: evs.append(ev('read_memory', pid=pid, va=u(va), length=u(8)))
        elif c < 0.22: evs.append(ev('mlock', pid=pid, va=u(va), length=u(ln), flags=r.choice([0, 0, 1])))
        elif c < 0.28: evs.append(ev('munlock', pid=pid, va=u(va), length=u(ln)))
        elif c < 0.30: evs.append(ev('mlockall', pid=pid, flags=r.choice([2, 6])))
        elif c < 0.32: evs.append(ev('munlockall', pid=pid))
        elif c < 0.41:
            to = r.choice([N, N + PG, D, D + HP, M + hps * HP])
            evs.append(ev('mremap', pid=pid, va=u(va), old_length=u(ln), new_length=u(ln), flags=r.choice([7, 7, 3]), new_va=u(to)))
        elif c < 0.44:
            evs.append(ev('mremap', pid=pid, va=u(va), old_length=u(ln), new_length=u(r.choice([PG, HP, 2 * HP])), flags=r.choice([0, 1])))
        elif c < 0.52:
            evs.append(ev('madvise', pid=pid, va=u(va), length=u(ln), advice=r.choice(['WIPEONFORK', 'KEEPONFORK', 'DONTFORK', 'DOFORK', 'COLD', 'PAGEOUT', 'DONTNEED', 'POPULATE_READ', 'POPULATE_WRITE', 'NOHUGEPAGE', 'HUGEPAGE'])))
        elif c < 0.55: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(ln), prot=r.choice([1, 3, 3])))
        elif c < 0.58 and len(pids) == 1: evs.append(ev('fork', child=2)); pids.append(2); alive[2] = True
        elif c < 0.60 and alive.get(2): evs.append(ev('exit', pid=2)); alive[2] = False
        elif c < 0.67:
            maps.append((iova, va, min(ln, 2 * PG)))
            evs.append(io('IOMMU_IOAS_MAP', pid=pid, ioas_id=1, flags=r.choice([7, 7, 5]), user_va=u(va), length=u(min(ln, 2 * PG)), iova=u(iova), __reserved=0))
            iova += HP
        elif c < 0.70:
            evs.append(io('IOMMU_IOAS_UNMAP', pid=pid, ioas_id=1, iova=u(0), length=u((1 << 64) - 1))); maps.clear()
        elif c < 0.82:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', pid=pid, id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": r.choice([0, 1, 1, 2])}))
        elif c < 0.88 and maps:
            i, v, _ = r.choice(maps)
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', pid=pid, id=4, check_map={"iova": u(i), "length": u(PG), "uptr": u(r.choice([v, v, va]))}))
        elif c < 0.91: evs.append(ev('munmap', pid=pid, va=u(va), length=u(r.choice([PG, HP]))))
        else:
            evs += away_and_back(pid, r.choice([M, M + HP, M + PG, N, D]), r.choice([2 * PG, HP, HP + PG, 2 * HP]), 0x7f0030000000)
    return evs

run('t', trace)
