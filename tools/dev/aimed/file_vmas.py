#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): VMA operations on mappings of a
regular file under /tmp (tmpfs) and of a memfd, shared and private, the file shorter than the
mapping now and then: mremap growing, shrinking and moving them (MAYMOVE, FIXED, DONTUNMAP), every
madvise advice that answers for a file (WILLNEED, DONTNEED, FREE, REMOVE, COLD, PAGEOUT,
POPULATE_READ / WRITE, DONTFORK, WIPEONFORK, HUGEPAGE), mlock and munlock, mprotect, with stores,
reads, pins, check ops, ftruncate and fork.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
V = 0x7f0000000000; N = 0x7f0010000000; PG = 0x1000; L = 0x8000
ADVICE = ['WILLNEED', 'DONTNEED', 'FREE', 'REMOVE', 'COLD', 'PAGEOUT', 'POPULATE_READ', 'POPULATE_WRITE', 'DONTFORK', 'DOFORK',
          'WIPEONFORK', 'KEEPONFORK', 'HUGEPAGE', 'NOHUGEPAGE', 'NORMAL', 'SEQUENTIAL', 'DONTDUMP']

def trace(r):
    mine = f'/tmp/aimed-{r.getrandbits(48):012x}'
    memfd = r.random() < 0.4
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}}, io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('memfd_create', name='m', flags=0) if memfd else ev('open', path=mine, flags=0o302),
           ev('ftruncate', fd=1, length=u(r.choice([L, L, 0x5000, 0x2800])))]
    shared = r.random() < 0.6
    kind = ('memfd' if memfd else 'file_shared') if shared else 'file_private'
    evs.append(ev('mmap', va=u(V), length=u(L), kind=kind, prot=3, fd=1, offset=u(0)))
    pids = [1]; iova = 0x1000000
    for _ in steps(r, 8, 24):
        c = r.random(); pid = r.choice(pids)
        base = r.choice([V, V, N]); va = base + r.randint(0, 7) * PG
        if c < 0.16:
            f = r.choice([0, 1, 3, 3, 7])
            a = dict(va=u(V + r.randint(0, 4) * PG), old_length=u(r.choice([1, 2, 4, 8]) * PG), new_length=u(r.choice([1, 2, 4, 8, 12]) * PG), flags=f)
            if f & 2: a['new_va'] = u(N + r.randint(0, 3) * PG)
            if f == 7: a['new_length'] = a['old_length']
            evs.append(ev('mremap', pid=pid, **a))
        elif c < 0.32:
            evs.append(ev('madvise', pid=pid, va=u(base + r.randint(0, 3) * PG), length=u(r.choice([PG, 0x4000, L])), advice=r.choice(ADVICE)))
        elif c < 0.38: evs.append(ev('mlock', pid=pid, va=u(va), length=u(r.choice([PG, 0x4000])), flags=r.choice([0, 0, 1])))
        elif c < 0.41: evs.append(ev('munlock', pid=pid, va=u(V), length=u(L)))
        elif c < 0.45: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(r.choice([PG, 0x4000])), prot=r.choice([1, 3])))
        elif c < 0.56: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.67: evs.append(ev('read_memory', pid=pid, va=u(va), length=u(8)))
        elif c < 0.72: evs.append(ev('ftruncate', fd=1, length=u(r.choice([0, 0x2800, L, 0xc000]))))
        elif c < 0.82:
            evs.append(io('IOMMU_IOAS_MAP', pid=pid, ioas_id=1, flags=r.choice([7, 5]), user_va=u(va), length=u(PG), iova=u(iova), __reserved=0)); iova += 0x100000
        elif c < 0.85: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
        elif c < 0.88 and len(pids) == 1: pids.append(2); evs.append(ev('fork', child=2))
        elif c < 0.95: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', pid=pid, id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": r.choice([0, 1])}))
        else: evs.append(ev('munmap', pid=pid, va=u(base), length=u(r.choice([PG, L]))))
    return evs

run('v', trace)
