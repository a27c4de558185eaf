#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): which VMAs merge, with files
(after #92, #93; vma_merges.py has the anonymous side). Adjacent mappings of a tmpfs file shared and
private at running or broken offsets, of a memfd, and anonymous ones between them; mmap over a
page of them, mprotect and flag advice there and back, stores (anon_vmas of private ones), mremap
growth of the last one and moves of spans away and back (EFAULT unless one VMA), fork and the
child's own changes and exit.
Usage: aimed.py.
"""
from aimed import adjacent_mappings, away_and_back, ev, run, steps, u, vma_step
M = 0x7f0000000000; N = 0x7f0010000000; PG = 0x1000
ADV = ['HUGEPAGE', 'NOHUGEPAGE', 'DONTFORK', 'DOFORK', 'DONTDUMP', 'DODUMP', 'RANDOM', 'NORMAL']

def trace(r):
    evs, n = adjacent_mappings(r, M, ['file_shared', 'file_private', 'memfd', 'private_anon', 'file_shared'],
                               lambda k: [k * 4 * PG, k * 4 * PG, k * 4 * PG, 0, (k + 1) * 4 * PG])
    pids = [1]; alive = {1: True}
    for _ in steps(r, 8, 24):
        c, pid, va, ln = vma_step(r, pids, alive, n, (PG, 2 * PG, 4 * PG))
        if c < 0.14: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.28: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(ln), prot=r.choice([1, 3, 3])))
        elif c < 0.40: evs.append(ev('madvise', pid=pid, va=u(va), length=u(ln), advice=r.choice(ADV)))
        elif c < 0.48:
            kind = r.choice(['file_shared', 'file_private', 'private_anon', 'memfd'])
            a = dict(va=u(va), length=u(PG), kind=kind, prot=3)
            if kind != 'private_anon':
                a['fd'] = 1 if kind == 'memfd' else 0
                a['offset'] = u(va - M + r.choice([0, 0, PG]))
            evs.append(ev('mmap', pid=pid, **a))
        elif c < 0.52: evs.append(ev('munmap', pid=pid, va=u(va), length=u(PG)))
        elif c < 0.57: evs.append(ev('mremap', pid=pid, va=u(M + (n * 4 - 2) * PG), old_length=u(2 * PG), new_length=u(r.choice([4, 6]) * PG), flags=0))
        elif c < 0.61 and len(pids) == 1: evs.append(ev('fork', child=2)); pids.append(2); alive[2] = True
        elif c < 0.63 and alive.get(2): evs.append(ev('exit', pid=2)); alive[2] = False
        else:
            a = M + r.randint(0, n * 4 - 2) * PG
            span = r.choice([2, 3, 4, 6, 8]) * PG
            evs += away_and_back(pid, a, span, N)
    return evs

run('f', trace)
