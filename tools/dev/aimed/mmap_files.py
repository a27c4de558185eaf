#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 30): mmap(2) of every kind of
descriptor the model has (a regular file opened read-write, read-only, write-only, with access
mode 3, O_APPEND; O_TMPFILE files on tmpfs and hugetlbfs; a memfd and a hugetlbfs memfd; a
directory; the iommufd; an O_PATH descriptor) shared and private, with every protection, the
modelled flags (MAP_POPULATE, MAP_LOCKED, MAP_NORESERVE, MAP_HUGETLB), offsets and lengths in and
past the file (no write-only mappings: reads through them are a known gap, README), then mprotect, stores, reads, ftruncate, pins and check ops.
Usage: aimed.py.
"""
from aimed import ev, io, run, steps, u
V = 0x7f0000000000; PG = 0x1000; HP = 0x200000
O_CREAT = 0o100; O_EXCL = 0o200; O_TRUNC = 0o1000; O_APPEND = 0o2000; O_DIRECTORY = 0o200000
O_PATH = 0o10000000; O_TMPFILE = 0o20000000 | O_DIRECTORY

def trace(r):
    mine = f'/tmp/aimed-{r.getrandbits(48):012x}'
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}}, io('IOMMU_IOAS_ALLOC', flags=0),   # fd 0
           io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={}),
           ev('open', path=mine, flags=2 | O_CREAT | O_EXCL), ev('ftruncate', fd=1, length=u(r.choice([0x4000, 0x2800, 0])))]  # fd 1
    # fd 2..: one more descriptor of a drawn kind, sized when it is a file
    k = r.choice(['ro', 'wo', 'm3', 'app', 'tmp', 'tmphuge', 'memfd', 'hugememfd', 'dir', 'path', 'iommufd'])
    if k == 'ro': evs.append(ev('open', path=mine, flags=0))
    elif k == 'wo': evs.append(ev('open', path=mine, flags=1))
    elif k == 'm3': evs.append(ev('open', path=mine, flags=3))
    elif k == 'app': evs.append(ev('open', path=mine, flags=2 | O_APPEND))
    elif k == 'tmp': evs += [ev('open', path='/tmp', flags=O_TMPFILE | 2), ev('ftruncate', fd=2, length=u(0x4000))]
    elif k == 'tmphuge': evs += [ev('open', path='/dev/hugepages', flags=O_TMPFILE | 2), ev('ftruncate', fd=2, length=u(HP))]
    elif k == 'memfd': evs += [ev('memfd_create', name='m', flags=0), ev('ftruncate', fd=2, length=u(0x4000))]
    elif k == 'hugememfd': evs += [ev('memfd_create', name='h', flags=4), ev('ftruncate', fd=2, length=u(HP))]
    elif k == 'dir': evs.append(ev('open', path='/tmp', flags=0))
    elif k == 'path': evs.append(ev('open', path=mine, flags=O_PATH))
    else: evs.append(ev('open', path='/dev/iommu', flags=2))
    if r.random() < 0.6: evs.append(ev('mmap', va=u(V), length=u(0x4000), kind='file_shared', prot=3, fd=1, offset=u(0)))
    iova = 0x1000000
    for _ in steps(r, 8, 24):
        c = r.random(); va = V + r.choice([0, PG, 3 * PG, HP])
        if c < 0.30:
            fl = 0
            for bit, p in ((0x8000, 0.15), (0x2000, 0.08), (0x4000, 0.1), (0x40000, 0.06)):
                if r.random() < p: fl |= bit
            e = ev('mmap', va=u(V), length=u(r.choice([0x4000, 0x2000, HP, 0x1000])), kind=r.choice(['file_shared', 'file_private', 'memfd']),
                   prot=r.choice([3, 3, 1, 1, 0, 5, 7]), fd=r.choice([1, 2, 2, 2]), offset=u(r.choice([0, 0, PG, 0x3000, HP, 0x800])))
            if fl: e["args"]["flags"] = fl
            evs.append(e)
        elif c < 0.40: evs.append(ev('mprotect', va=u(V), length=u(r.choice([PG, 0x4000, HP])), prot=r.choice([1, 3, 0, 7])))
        elif c < 0.52: evs.append(ev('memset', va=u(va), length=u(8), byte=r.randint(1, 255)))
        elif c < 0.64: evs.append(ev('read_memory', va=u(va), length=u(8)))
        elif c < 0.70: evs.append(ev('ftruncate', fd=r.choice([1, 2]), length=u(r.choice([0, 0x1800, 0x4000, HP]))))
        elif c < 0.74: evs.append(ev('write_fault_fd', fd=r.choice([1, 2]), data={"$hex": "5a5a5a5a"}, pos=u(r.choice([0, 0x10]))))
        elif c < 0.84:
            evs.append(io('IOMMU_IOAS_MAP', ioas_id=1, flags=r.choice([7, 5]), user_va=u(va), length=u(PG), iova=u(iova), __reserved=0)); iova += 0x100000
        elif c < 0.88: evs.append(io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
        elif c < 0.94: evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": r.choice([0, 1])}))
        else: evs.append(ev('munmap', va=u(V), length=u(HP)))
    return evs

run('m', trace)
