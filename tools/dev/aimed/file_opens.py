#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): a regular file under /tmp opened by
path many times with every access mode and O_CREAT, O_EXCL, O_TRUNC, O_APPEND; write(2) and read(2)
at the file position and at offsets through each descriptor (shared by a forked child), ftruncate
and fallocate through each, shared and private mappings against the descriptor's mode, stores,
reads, pins (no write-only mappings: reads through them are a known gap, README). Each trace names its own file (the guest's /tmp outlives the trace).
Usage: aimed.py.
"""
from aimed import Fds, ev, io, run, steps, u
V = 0x7f0000000000; P = 0x7f0001000000; PG = 0x1000; L = 0x4000
O_RDONLY = 0; O_WRONLY = 1; O_RDWR = 2; O_CREAT = 0o100; O_EXCL = 0o200; O_TRUNC = 0o1000; O_APPEND = 0o2000

def trace(r):
    path = f'/tmp/aimed-{r.getrandbits(48):012x}'
    fds = Fds(0)
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}}, io('IOMMU_IOAS_ALLOC', flags=0),
           io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('open', path=path, flags=O_RDWR | O_CREAT | O_EXCL | r.choice([0, 0, O_APPEND]))]
    files = [fds.new()]
    if r.random() < 0.7: evs.append(ev('ftruncate', fd=files[0], length=u(L)))
    if r.random() < 0.6: evs.append(ev('mmap', va=u(V), length=u(L), kind='file_shared', prot=3, fd=files[0], offset=u(0)))
    if r.random() < 0.4: evs.append(ev('mmap', va=u(P), length=u(L), kind='file_private', prot=3, fd=files[0], offset=u(0)))
    pids = [1]; iova = 0x1000000
    for k in steps(r, 8, 26):
        c = r.random(); pid = r.choice(pids)
        fd = r.choice(files) if files else 77
        va = r.choice([V, P]) + r.randint(0, 3) * PG + r.choice([0, 0, 0x800])
        if c < 0.14:
            fl = r.choice([O_RDONLY, O_WRONLY, O_RDWR, O_RDWR]) | r.choice([0, 0, O_APPEND, O_TRUNC, O_CREAT, O_CREAT | O_EXCL, O_APPEND | O_TRUNC])
            evs.append(ev('open', path=path, flags=fl))
            if fl & O_EXCL == 0: files.append(fds.new())
        elif c < 0.18 and len(files) > 1:
            f = r.choice(files); files.remove(f); fds.free(f); evs.append(ev('close', fd=f))
        elif c < 0.34:
            d = bytes(r.randint(1, 255) for _ in range(r.choice([1, 8, 16, 0x100])))
            evs.append(ev('write_fault_fd', pid=pid, fd=fd, data={"$hex": d.hex()}, pos=u(r.choice([0, 0, 0, 0x10, PG - 8, 0x2ff8, L]))))
        elif c < 0.46: evs.append(ev('read_fault_fd', pid=pid, fd=fd, count=r.choice([1, 8, 0x10, 0x100]), pos=u(r.choice([0, 0, 0, 0x10, PG - 8, 0x2ff8, L]))))
        elif c < 0.52: evs.append(ev('ftruncate', pid=pid, fd=fd, length=u(r.choice([0, 0x1800, L, 0x2800]))))
        elif c < 0.55: evs.append(ev('fallocate', pid=pid, fd=fd, mode=r.choice([0, 0, 3, 1]), offset=u(r.choice([0, PG])), length=u(r.choice([PG, L]))))
        elif c < 0.63:
            base = r.choice([V, P])
            evs.append(ev('mmap', va=u(base), length=u(L), kind='file_shared' if base == V else 'file_private', prot=r.choice([3, 3, 1]), fd=fd, offset=u(0)))
        elif c < 0.71: evs.append(ev('memset', pid=pid, va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.79: evs.append(ev('read_memory', pid=pid, va=u(va), length=u(8)))
        elif c < 0.86:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 5]), user_va=u(va & ~0xfff), length=u(PG), iova=u(iova), __reserved=0)); iova += 0x100000
        elif c < 0.88: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
        elif c < 0.91 and len(pids) == 1: pids.append(2); evs.append(ev('fork', child=2))
        elif c < 0.95:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(r.choice(range(0x1000000, max(iova, 0x1100000), 0x100000))), "length": u(PG), "uptr": u(va & ~0xfff)}))
        else: evs.append(ev('munmap', va=u(r.choice([V, P])), length=u(L)))
    return evs

run('o', trace)
