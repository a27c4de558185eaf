#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): a file on the hugetlbfs mount
(/dev/hugepages, QEMU's -mem-path) opened by path several times over: O_CREAT | O_EXCL first, then
more opens read-write, read-only and O_TRUNC, closes (the file and its page cache outlive its
descriptors), shared and private mappings through either descriptor, stores, reads, fallocate,
ftruncate, pins, check ops, DONTNEED. Each trace names its own file and empties it at its end,
since the file outlives the trace and its huge pages would otherwise hold the boot's pool.
Usage: aimed.py.
"""
from aimed import Fds, ev, io, run, steps, u
V = 0x7f0000000000; P = 0x7f0001000000; HP = 0x200000
O_RDONLY = 0; O_RDWR = 2; O_CREAT = 0o100; O_EXCL = 0o200; O_TRUNC = 0o1000

def trace(r):
    path = f'/dev/hugepages/aimed-{r.getrandbits(48):012x}'
    fds = Fds(0)                   # the trace's fd numbers in use (0: /dev/iommu)
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}}, io('IOMMU_IOAS_ALLOC', flags=0),
           io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('open', path=path, flags=O_RDWR | O_CREAT | O_EXCL)]
    files = [fds.new()]
    if r.random() < 0.8: evs.append(ev('ftruncate', fd=files[0], length=u(r.choice([HP, 2 * HP]))))
    if r.random() < 0.6: evs.append(ev('mmap', va=u(V), length=u(2 * HP), kind='memfd', prot=3, fd=files[0], offset=u(0)))
    if r.random() < 0.5: evs.append(ev('mmap', va=u(P), length=u(2 * HP), kind='file_private', prot=3, fd=files[0], offset=u(0)))
    iova = 0x1000000
    for k in steps(r, 8, 24):
        c = r.random()
        va = r.choice([V, P]) + r.choice([0, 0x1000, HP, HP + 0x3000])
        fd = r.choice(files) if files else 77
        if c < 0.10:
            fl = r.choice([O_RDWR, O_RDWR, O_RDONLY, O_RDWR | O_TRUNC, O_RDWR | O_CREAT | O_EXCL])
            evs.append(ev('open', path=path, flags=fl))
            if fl & O_EXCL == 0: files.append(fds.new())
        elif c < 0.15 and files:
            f = r.choice(files); files.remove(f); fds.free(f); evs.append(ev('close', fd=f))
        elif c < 0.25:
            base = r.choice([V, P])
            evs.append(ev('mmap', va=u(base), length=u(r.choice([HP, 2 * HP])), kind='memfd' if base == V else 'file_private',
                          prot=r.choice([3, 3, 1]), fd=fd, offset=u(r.choice([0, 0, HP]))))
        elif c < 0.37: evs.append(ev('memset', va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.49: evs.append(ev('read_memory', va=u(va), length=u(8)))
        elif c < 0.55: evs.append(ev('fallocate', fd=fd, mode=r.choice([0, 0, 3, 1]), offset=u(r.choice([0, HP])), length=u(HP)))
        elif c < 0.60: evs.append(ev('ftruncate', fd=fd, length=u(r.choice([0, HP, 2 * HP]))))
        elif c < 0.65: evs.append(ev('madvise', va=u(r.choice([V, P])), length=u(HP), advice='DONTNEED'))
        elif c < 0.68: evs.append(ev('munmap', va=u(r.choice([V, P])), length=u(2 * HP)))
        elif c < 0.80:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 5]), user_va=u(va & ~0xfff), length=u(0x1000), iova=u(iova), __reserved=0)); iova += 0x100000
        elif c < 0.84: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
        elif c < 0.93:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(r.choice(range(0x1000000, max(iova, 0x1100000), 0x100000))), "length": u(0x1000), "uptr": u(va & ~0xfff)}))
        else:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(0x1000), "uptr": u(va & ~0xfff), "refs": r.choice([0, 1])}))
    # The file outlives the trace: give its huge pages back (unpinned, unmapped, then truncated).
    evs += [io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)),
            ev('munmap', va=u(V), length=u(2 * HP)), ev('munmap', va=u(P), length=u(2 * HP)),
            ev('open', path=path, flags=O_RDWR | O_TRUNC)]
    return evs

run('p', trace)
