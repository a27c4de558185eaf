#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): the flag and mode arguments of the
memory system calls, known and unknown bits alike, over anonymous, shared, hugetlb and file memory:
mremap flags, mlock / mlock2 flags, mlockall flags, mprotect's PROT_GROWSDOWN / GROWSUP / SEM and
unknown bits, madvise advice numbers (known, unknown, the 6.14-only guard advices), fallocate modes
on a memfd, a hugetlbfs memfd and a tmpfs file, with stores, reads and pins between them.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
A = 0x7f0000000000; S = 0x7f0001000000; H = 0x7f0002000000; F = 0x7f0003000000; N = 0x7f0010000000
PG = 0x1000; HP = 0x200000

def trace(r):
    mine = f'/tmp/aimed-{r.getrandbits(48):012x}'
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}}, io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('memfd_create', name='m', flags=0), ev('ftruncate', fd=1, length=u(0x10000)),            # fd 1
           ev('memfd_create', name='h', flags=4), ev('ftruncate', fd=2, length=u(HP)),                 # fd 2
           ev('open', path=mine, flags=0o302), ev('ftruncate', fd=3, length=u(0x10000)),              # fd 3
           ev('mmap', va=u(A), length=u(0x10000), kind='private_anon', prot=3),
           ev('mmap', va=u(S), length=u(0x10000), kind='memfd', prot=3, fd=1, offset=u(0)),
           ev('mmap', va=u(H), length=u(HP), kind='memfd', prot=3, fd=2, offset=u(0)),
           ev('mmap', va=u(F), length=u(0x10000), kind=r.choice(['file_shared', 'file_private']), prot=3, fd=3, offset=u(0))]
    iova = 0x1000000
    for _ in steps(r, 10, 28):
        c = r.random(); base = r.choice([A, S, H, F]); va = base + r.choice([0, PG, 3 * PG])
        ln = r.choice([PG, 0x4000, 0x10000]) if base != H else r.choice([HP, PG])
        if c < 0.12:
            f = r.choice([0, 1, 3, 5, 7, 2, 4, 6, 8, 0x10, 1 | 8])
            a = dict(va=u(base), old_length=u(ln), new_length=u(r.choice([ln, ln * 2, PG])), flags=f)
            if f & 2: a['new_va'] = u(N + r.choice([0, PG]))
            evs.append(ev('mremap', **a))
        elif c < 0.22: evs.append(ev('mlock', va=u(va), length=u(ln), flags=r.choice([0, 0, 1, 2, 3, 0x80000000])))
        elif c < 0.28: evs.append(ev('mlockall', flags=r.choice([2, 4, 6, 0, 8, 2 | 8])))   # (no MCL_CURRENT: it would lock the executor's own memory)
        elif c < 0.32: evs.append(ev('munlockall'))
        elif c < 0.36: evs.append(ev('munlock', va=u(base), length=u(ln)))
        elif c < 0.48:
            p = r.choice([0, 1, 3, 3, 5, 7]) | r.choice([0, 0, 0x8, 0x01000000, 0x02000000, 0x10, 0x80])
            evs.append(ev('mprotect', va=u(va), length=u(ln), prot=p))
        elif c < 0.62:
            # (WILLNEED of anonymous memory hangs on CONFIG_SWAP, which a trace does not say: not drawn there)
            adv = r.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 99, 102, 103])
            evs.append(ev('madvise', va=u(va), length=u(ln), advice=4 if adv == 3 and base == A else adv))
        elif c < 0.72:
            # (a regular file's modes past allocation and holes hang on its filesystem: the memfds get them)
            fd = r.choice([1, 2, 3])
            modes = [0, 1, 3, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 3 | 0x10, 0x10 | 1, 0x20 | 1] if fd != 3 else [0, 1, 3, 2]
            evs.append(ev('fallocate', fd=fd, mode=r.choice(modes), offset=u(r.choice([0, PG, HP])), length=u(HP if fd == 2 else r.choice([PG, 0x4000]))))
        elif c < 0.80: evs.append(ev('memset', va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.86: evs.append(ev('read_memory', va=u(va), length=u(8)))
        elif c < 0.94:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 5]), user_va=u(va), length=u(PG), iova=u(iova), __reserved=0)); iova += 0x100000
        else: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": r.choice([0, 1])}))
    return evs

run('y', trace)
