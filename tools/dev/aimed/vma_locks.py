#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 31): VMAs whose flags change without a
merge, beside those that merge (after #97: DONTUNMAP clears a locked VMA's lock flags and merges
nothing). Adjacent mappings, anonymous and of a tmpfs file and a memfd, shared and private;
mlock, mlock2(MLOCK_ONFAULT), munlock, mlockall(MCL_FUTURE [| MCL_ONFAULT]) and munlockall over
pieces of them; mremap moves with DONTUNMAP and FIXED, growths and shrinks; fork (the child's
VMAs lose their lock flags) and the child's own changes; stores; and moves of spans away and back,
EFAULT unless the span is one VMA.
Usage: aimed.py.
"""
from aimed import VMA_M as M, adjacent_mappings, ev, run, steps, u, vma_move, vma_probe, vma_resize, vma_step
PG = 0x1000

def trace(r):
    evs, n = adjacent_mappings(r, M, ['file_shared', 'file_private', 'memfd', 'private_anon', 'private_anon'],
                               lambda k: [k * 4 * PG, k * 4 * PG, 0])
    pids = [1]; alive = {1: True}
    for _ in steps(r, 8, 24):
        c, pid, va, ln = vma_step(r, pids, alive, n)
        if c < 0.10: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.22: evs.append(ev('mlock', pid=pid, va=u(va), length=u(ln), flags=r.choice([0, 0, 1])))
        elif c < 0.30: evs.append(ev('munlock', pid=pid, va=u(va), length=u(ln)))
        elif c < 0.33: evs.append(ev('mlockall', pid=pid, flags=r.choice([2, 6])))
        elif c < 0.36: evs.append(ev('munlockall', pid=pid))
        elif c < 0.42: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(ln), prot=r.choice([1, 3, 3])))
        elif c < 0.46: evs.append(ev('madvise', pid=pid, va=u(va), length=u(ln), advice=r.choice(['DONTFORK', 'DOFORK', 'WIPEONFORK', 'KEEPONFORK', 'DONTNEED'])))
        elif c < 0.58: evs.append(vma_move(r, pid, va, ln, n))
        elif c < 0.63: evs.append(vma_resize(r, pid, va, ln))
        elif c < 0.66: evs.append(ev('munmap', pid=pid, va=u(va), length=u(PG)))
        elif c < 0.70 and len(pids) == 1: evs.append(ev('fork', child=2)); pids.append(2); alive[2] = True
        elif c < 0.72 and alive.get(2): evs.append(ev('exit', pid=2)); alive[2] = False
        else: evs += vma_probe(r, pid, n)
    return evs

run('k', trace)
