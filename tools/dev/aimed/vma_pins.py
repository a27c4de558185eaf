#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 32): vma_locks.py's adjacent mappings
(a tmpfs file shared and private, a memfd, private anonymous memory) and its VMA changes (mlock,
munlock, mlockall, mprotect, madvise, mremap moves with DONTUNMAP and FIXED, growths, shrinks,
munmap, fork, probes of whether a span is one VMA), with the pins beside them: IOAS_MAP into a
mock domain, an access's ACCESS_PAGES and ACCESS_RW, IOAS_COPY, unmaps, ftruncate of the file and
the memfd under their mappings, and MD_CHECK_MAP / MD_CHECK_REFS of what the pins hold.
Usage: aimed.py.
"""
from aimed import VMA_D as D, VMA_M as M, VMA_N as N, adjacent_mappings, ev, run, steps, u, vma_move, vma_probe, vma_resize
from aimed import io as io0
BUF = 0x10000
B = 0x1000000; PG = 0x1000

def io(name, pid=1, **a):
    """An ioctl on /dev/iommu, which is fd 2 here (adjacent_mappings took 0 and 1)."""
    e = io0(name, pid, **a); e['fd'] = 2; return e

def trace(r):
    evs, n = adjacent_mappings(r, M, ['file_shared', 'file_private', 'memfd', 'private_anon', 'private_anon'],
                               lambda k: [k * 4 * PG, k * 4 * PG, 0])
    # fds: the file 0, the memfd 1, /dev/iommu 2, accesses from 3
    evs += [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
            ev('mmap', va=u(BUF), length=u(0x10000), kind='private_anon', prot=3),
            io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_IOAS_ALLOC', flags=0),          # 1, 2
            io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={})]                     # stdev 3 idev 4 hwpt 5
    if r.random() < 0.6: evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS', id=1, create_access={"flags": r.choice([1, 1, 0])}))
    pids = [1]; alive = {1: True}
    maps = []   # (iova, va, length) of the maps drawn: the pins, copies and checks mostly aim at one
    def mapped():
        """A page of a map drawn before and the user address it was taken from, or a stray pair."""
        if maps and r.random() < 0.8:
            i, v, l = r.choice(maps); k = r.randint(0, l // PG - 1)
            return i + k * PG, v + k * PG, l - k * PG
        return B + r.randint(0, 15) * 0x10000, M + r.randint(0, n * 4 - 1) * PG, PG
    for _ in steps(r, 10, 30):
        c = r.random(); pid = r.choice(pids)
        if not alive[pid]: pid = 1
        va = M + r.randint(0, n * 4 - 1) * PG
        if r.random() < 0.15: va = r.choice([N, N + 4 * PG, D])
        ln = r.choice([PG, 2 * PG, 4 * PG, 6 * PG])
        slot, mva, rest = mapped()
        if c < 0.08: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.12: evs.append(ev('read_memory', pid=pid, va=u(va), length=u(8)))
        elif c < 0.20:
            slot = B + r.randint(0, 15) * 0x10000; maps.append((slot, va, ln))
            evs.append(io('IOMMU_IOAS_MAP', pid=pid, ioas_id=1, flags=r.choice([7, 7, 5]), user_va=u(va), length=u(ln), iova=u(slot), __reserved=0))
        elif c < 0.24:
            i, l = r.choice([(0, (1 << 64) - 1), (slot, rest), (slot, PG), (slot, rest + PG)])
            evs.append(io('IOMMU_IOAS_UNMAP', pid=pid, ioas_id=r.choice([1, 1, 2]), iova=u(i), length=u(l)))
            if i == 0: maps.clear()
        elif c < 0.27:
            evs.append(io('IOMMU_IOAS_COPY', pid=pid, dst_ioas_id=2, src_ioas_id=1, flags=r.choice([7, 5]), length=u(r.choice([rest, PG, ln])),
                          dst_iova=u(B + r.randint(0, 15) * 0x10000), src_iova=u(slot), size=40))
        elif c < 0.31:
            evs.append(io('IOMMU_TEST_OP_ACCESS_PAGES', id=3, access_pages={"flags": r.choice([0, 1]), "iova": u(slot),
                          "length": u(r.choice([PG, min(rest, 2 * PG)])), "uptr": u(r.choice([mva, mva, va, 0]))}))
        elif c < 0.33:
            evs.append(io('IOMMU_TEST_OP_ACCESS_RW', id=3, access_rw={"iova": u(slot + r.choice([0, 0x800])),
                          "length": u(r.choice([8, 0x1000])), "uptr": u(BUF + 0x8000), "flags": r.choice([0, 1, 4, 5])}))
        elif c < 0.35:
            evs.append(io('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', id=3, destroy_access_pages={"access_pages_id": r.randint(1, 4)}))
        elif c < 0.41:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', pid=pid, id=5, check_map={"iova": u(slot), "length": u(r.choice([PG, min(rest, 2 * PG)])), "uptr": u(r.choice([mva, mva, mva, va]))}))
        elif c < 0.46:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', pid=pid, id=0, check_refs={"length": u(PG), "uptr": u(r.choice([mva, va])), "refs": r.choice([0, 1, 2])}))
        elif c < 0.52: evs.append(ev('mlock', pid=pid, va=u(va), length=u(ln), flags=r.choice([0, 0, 1])))
        elif c < 0.55: evs.append(ev('munlock', pid=pid, va=u(va), length=u(ln)))
        elif c < 0.56: evs.append(ev('mlockall', pid=pid, flags=r.choice([2, 6])))
        elif c < 0.57: evs.append(ev('munlockall', pid=pid))
        elif c < 0.61: evs.append(ev('mprotect', pid=pid, va=u(va), length=u(ln), prot=r.choice([1, 3, 3])))
        elif c < 0.66: evs.append(ev('madvise', pid=pid, va=u(va), length=u(ln), advice=r.choice(['DONTFORK', 'DOFORK', 'WIPEONFORK', 'DONTNEED', 'COLD', 'PAGEOUT', 'REMOVE', 'POPULATE_WRITE'])))
        elif c < 0.74: evs.append(vma_move(r, pid, va, ln, n))
        elif c < 0.77: evs.append(vma_resize(r, pid, va, ln))
        elif c < 0.80: evs.append(ev('munmap', pid=pid, va=u(va), length=u(PG)))
        elif c < 0.82: evs.append(ev('ftruncate', pid=pid, fd=r.choice([0, 1]), length=u(r.choice([0x40000, 0x8000, 0x2800, 0x10000]))))
        elif c < 0.85 and len(pids) == 1: evs.append(ev('fork', child=2)); pids.append(2); alive[2] = True
        elif c < 0.86 and alive.get(2): evs.append(ev('exit', pid=2)); alive[2] = False
        else: evs += vma_probe(r, pid, n)
    return evs

run('v', trace)
