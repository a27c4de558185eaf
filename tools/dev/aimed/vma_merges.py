#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): which VMAs merge (after #92).
Adjacent mappings of anonymous memory and of a file, faulted or not (anon_vmas), their flags
changed and changed back by mprotect and by the advices that set VMA flags (HUGEPAGE /
NOHUGEPAGE, DONTFORK / DOFORK, WIPEONFORK / KEEPONFORK, DONTDUMP / DODUMP, RANDOM / SEQUENTIAL /
NORMAL), mlock, munmap holes, mremap growth and moves, fork and the child's own changes; probed by
mremap of ranges that span them (EFAULT unless one VMA) moved away and back.
Usage: aimed.py.
"""
from aimed import away_and_back, ev, run, steps, u, vma_step
M = 0x7f0000000000; N = 0x7f0010000000; PG = 0x1000
ADV = ['HUGEPAGE', 'NOHUGEPAGE', 'DONTFORK', 'DOFORK', 'WIPEONFORK', 'KEEPONFORK', 'DONTDUMP', 'DODUMP', 'RANDOM', 'SEQUENTIAL', 'NORMAL']

def trace(r):
    mine = f'/tmp/aimed-{r.getrandbits(48):012x}'
    evs = [ev('open', path=mine, flags=0o302), ev('ftruncate', fd=0, length=u(0x20000))]
    # three to five adjacent mappings of 4 pages each: anonymous, or the file at running offsets
    off = 0
    n = r.randint(3, 5)
    for k in range(n):
        if r.random() < 0.7: evs.append(ev('mmap', va=u(M + k * 4 * PG), length=u(4 * PG), kind='private_anon', prot=3))
        else: evs.append(ev('mmap', va=u(M + k * 4 * PG), length=u(4 * PG), kind='file_private', prot=3, fd=0, offset=u(r.choice([k * 4 * PG, k * 4 * PG, 0]))))
    end = M + n * 4 * PG
    pids = [1]; alive = {1: True}
    for _ in steps(r, 8, 24):
        c, pid, va, ln = vma_step(r, pids, alive, n)
        if c < 0.15: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.30: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(ln), prot=r.choice([1, 3, 3, 7, 5])))
        elif c < 0.45: evs.append(ev('madvise', pid=pid, va=u(va), length=u(ln), advice=r.choice(ADV)))
        elif c < 0.50: evs.append(ev('mlock', pid=pid, va=u(va), length=u(ln), flags=0))
        elif c < 0.53: evs.append(ev('munlock', pid=pid, va=u(M), length=u(n * 4 * PG)))
        elif c < 0.56: evs.append(ev('munmap', pid=pid, va=u(va), length=u(PG)))
        elif c < 0.60: evs.append(ev('mmap', pid=pid, va=u(va), length=u(PG), kind='private_anon', prot=3))
        elif c < 0.64: evs.append(ev('mremap', pid=pid, va=u(M + (n * 4 - 2) * PG), old_length=u(2 * PG), new_length=u(r.choice([4, 6]) * PG), flags=0))
        elif c < 0.68 and len(pids) == 1: evs.append(ev('fork', child=2)); pids.append(2); alive[2] = True
        elif c < 0.70 and alive.get(2): evs.append(ev('exit', pid=2)); alive[2] = False
        else:
            # a probe: a span moved away and back (EFAULT unless it is one VMA; moved, it stays one)
            a = M + r.randint(0, n * 4 - 2) * PG
            span = r.choice([2, 3, 4, 6, 8]) * PG
            evs += away_and_back(pid, a, span, N)
    return evs

run('g', trace)
