#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): open(2) over every kind of path the
model knows (the directories every system has, with and without a trailing slash, /dev/iommu, a file
the trace made, that file with a trailing slash) and every flag that decides the answer (each
access mode, 3 included, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_TMPFILE with and
without O_DIRECTORY, O_PATH), then calls on whatever descriptors resulted: read, write, ftruncate,
fallocate, mmap, an iommufd ioctl, close. No path that may not exist is drawn (but for names too
long to): which do is the machine's, not the model's.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
V = 0x7f0000000000
O_CREAT = 0o100; O_EXCL = 0o200; O_TRUNC = 0o1000; O_APPEND = 0o2000; O_DIRECTORY = 0o200000
O_PATH = 0o10000000; O_TMPFILE = 0o20000000

def trace(r):
    mine = f'/tmp/aimed-{r.getrandbits(48):012x}'
    paths = ['/', '/tmp', '/tmp/', '/dev', '/dev/hugepages', '/dev/hugepages/', '/dev/vfio', '/proc', '/sys',
             '/dev/iommu', '/dev/iommu/', mine, mine, mine + '/',
             # other spellings of the same paths
             '//tmp', '/tmp/.', '/dev//iommu', '/./dev/iommu', mine.replace('/tmp/', '/tmp//'), mine.replace('/tmp/', '/tmp/./'), mine + '/.', mine + '/sub', mine + '/./sub',
             # names at and past NAME_MAX (255), a path past PATH_MAX (4096), a NUL inside
             mine.ljust(5 + 255, 'z'), '/tmp/' + 'z' * 256, '/proc/' + 'p' * 256, mine + '/' + 'q' * 256, '/' * 4095 + 'tmp', '/' * 4096 + 'tmp',
             '/dev/iommu\0junk', mine + '\0/sub']
    evs = [ev('open', path=mine, flags=2 | O_CREAT | O_EXCL), ev('ftruncate', fd=0, length=u(0x2000)),
           ev('open', path=mine.ljust(5 + 255, 'z'), flags=2 | O_CREAT | O_EXCL), ev('close', fd=1)]
    for k in steps(r, 10, 30):
        c = r.random(); fd = r.randint(0, 5)
        if c < 0.40:
            fl = r.choice([0, 0, 1, 2, 2, 3])
            for bit, p in ((O_CREAT, 0.2), (O_EXCL, 0.1), (O_TRUNC, 0.12), (O_APPEND, 0.08), (O_DIRECTORY, 0.2), (O_PATH, 0.07)):
                if r.random() < p: fl |= bit
            if r.random() < 0.12: fl |= O_TMPFILE | (O_DIRECTORY if r.random() < 0.8 else 0)
            evs.append(ev('open', path=r.choice(paths), flags=fl))
        elif c < 0.50: evs.append(ev('read_fault_fd', fd=fd, count=r.choice([0, 8, 16]), pos=u(r.choice([0, 0, 8]))))
        elif c < 0.58: evs.append(ev('write_fault_fd', fd=fd, data={"$hex": "41424344"}, pos=u(r.choice([0, 0, 8]))))
        elif c < 0.64: evs.append(ev('ftruncate', fd=fd, length=u(r.choice([0, 0x2000, 0x200000]))))
        elif c < 0.68: evs.append(ev('fallocate', fd=fd, mode=r.choice([0, 3]), offset=u(0), length=u(0x1000)))
        elif c < 0.78:
            evs.append(ev('mmap', va=u(V), length=u(r.choice([0x2000, 0x200000])), kind=r.choice(['file_shared', 'file_private', 'memfd']), prot=r.choice([1, 3]), fd=fd, offset=u(0)))
        elif c < 0.84: evs.append(ev('read_memory', va=u(V), length=u(8)))
        elif c < 0.88: evs.append(ev('memset', va=u(V), length=u(8), byte=5))
        elif c < 0.92: evs.append(io('IOMMU_IOAS_ALLOC', flags=0) | {"fd": fd})
        else: evs.append(ev('close', fd=fd))
    return evs

run('q', trace)
