#!/usr/bin/env python3
"""
Every sequence of a few calls, not a random draw (docs/oracle.md, session 32). Layouts 0-3 (VMAs):
two adjacent mappings of 4 pages (private anonymous memory, a shared tmpfs file, a private one, a
file beside anonymous memory) and 40 calls over them (stores; mlock, MLOCK_ONFAULT, munlock,
mlockall; mprotect read-only and back; DONTNEED, WIPEONFORK, DONTFORK; mremap moves with and without
DONTUNMAP, a move back beside the rest, a growth and a shrink in place; munmap; a mapping over a
page; fork; pins by IOAS_MAP), probed after: whether each of a set of spans is one VMA (a move away
and back), the bytes of every page, MD_CHECK_REFS of the pinned ones. Layouts 4-6 (huge pages): two
huge pages' worth of private anonymous memory advised HUGEPAGE, with no huge page yet, one, or one
across the model's pieces (a DONTNEED before it), and 35 calls (stores, a read, DONTNEED, COLD,
PAGEOUT, POPULATE_*, NO/HUGEPAGE, WIPEONFORK, DONTFORK, mlock, mprotect, mremap of a page, of two,
of the whole huge page to an aligned and an unaligned place, with DONTUNMAP, and back; munmap, fork,
pins, unmap), probed by MD_CHECK_REFS with refs 1 and 0 (a compound page passes both), reads, a
MD_CHECK_MAP and moves away and back. Layouts 7-8 (files): a memfd or a tmpfs file of 4 pages mapped
shared and privately, and 30 calls (stores, ftruncate shorter, into a page and longer, fallocate
PUNCH_HOLE, KEEP_SIZE and allocation past the end, mremap growths past the end and moves, DONTNEED,
REMOVE, POPULATE_WRITE, mprotect, mlock, munmap, fork, pins, unmap), probed by reads across every
page's middle, MD_CHECK_REFS, MD_CHECK_MAP and moves away and back. Layouts 9-10 (iommufd objects):
two IOASes, a mock domain on one, an access (10, under a small memlock limit), and 32 calls (maps
fixed, overlapping, automatic and read-only; unmaps exact, partial and of all; copies; ALLOW_IOVAS;
a reserved range; another domain; HWPT_ALLOC; replace; destroys; access pins, reads and unpins;
HUGE_PAGES off; munmap and stores under the maps), probed by IOVA_RANGES, MD_CHECK_MAP,
MD_CHECK_REFS, a read of the access's buffer, destroys and unmaps of everything. Random walks of
10-600 calls find states a few calls cannot build; these find the corners of the few calls they all
start from, each of them, by construction.
Usage, in an empty directory: python3 exhaustive.py LAYOUT LENGTH [START COUNT]: traces
e{LAYOUT}l{LENGTH}_{i}.iort.jsonl (i zero-padded to six digits or more) for sequence numbers i in
[START, START + COUNT) (default all:
calls ** LENGTH), then `iorewind oracle .`; or python3 exhaustive.py LAYOUT LENGTH --sample SEED COUNT:
COUNT sequence numbers drawn at random (for lengths too many to write them all).
"""
import json, random, sys
from aimed import HEADER, away_and_back, ev, io, u

M = 0x7f0000000000; N = 0x7f0010000000; N2 = 0x7f0020000000; B = 0x1000000; PG = 0x1000; HP = 0x200000

def span(p, n): return dict(va=u(M + p * PG), length=u(n * PG))
def refs(va, n): return io('IOMMU_TEST_OP_MD_CHECK_REFS', id=0, check_refs={"length": u(PG), "uptr": u(va), "refs": n})

class Family:
    """Layouts that share a list of calls (and their setup and probes)."""
    def __init__(self): self.ops = []
    def op(self, name, *evs): self.ops.append((name, list(evs)))

# --- VMAs (layouts 0-3): two adjacent mappings of 4 pages each ---
VMA = Family(); op = VMA.op
VMA_LAYOUTS = [
    [('private_anon', None), ('private_anon', None)],
    [('file_shared', 0), ('file_shared', 4 * PG)],
    [('file_private', 0), ('file_private', 4 * PG)],
    [('file_shared', 0), ('private_anon', None)],
]
for p in (0, 3, 4, 7): op(f'store{p}', ev('memset', va=u(M + p * PG), length=u(8), byte=0x40 + p))
for p, n in ((0, 1), (1, 2), (3, 2), (0, 4), (2, 4), (0, 8)): op(f'mlock{p}+{n}', ev('mlock', flags=0, **span(p, n)))
for p, n in ((1, 2), (0, 8)): op(f'onfault{p}+{n}', ev('mlock', flags=1, **span(p, n)))
for p, n in ((3, 2), (0, 4), (0, 8)): op(f'munlock{p}+{n}', ev('munlock', **span(p, n)))
for p, n in ((1, 2), (3, 2), (0, 8)):
    op(f'ro{p}+{n}', ev('mprotect', prot=1, **span(p, n)))
    op(f'rw{p}+{n}', ev('mprotect', prot=3, **span(p, n)))
for p, n in ((1, 2), (0, 8)): op(f'dontneed{p}+{n}', ev('madvise', advice='DONTNEED', **span(p, n)))
op('wipe3+2', ev('madvise', advice='WIPEONFORK', **span(3, 2)))
op('dontfork0+4', ev('madvise', advice='DONTFORK', **span(0, 4)))
for p, n, f in ((1, 2, 3), (3, 2, 3), (1, 2, 7), (3, 2, 7), (0, 4, 7)):
    op(f'move{p}+{n}/{f}', ev('mremap', va=u(M + p * PG), old_length=u(n * PG), new_length=u(n * PG), flags=f, new_va=u(N)))
op('back', ev('mremap', va=u(N), old_length=u(2 * PG), new_length=u(2 * PG), flags=3, new_va=u(M + 8 * PG)))
op('grow4+4', ev('mremap', va=u(M + 4 * PG), old_length=u(4 * PG), new_length=u(6 * PG), flags=0))
op('shrink', ev('mremap', va=u(M), old_length=u(8 * PG), new_length=u(4 * PG), flags=0))
op('munmap3+2', ev('munmap', **span(3, 2)))
op('over2', ev('mmap', va=u(M + 2 * PG), length=u(PG), kind='private_anon', prot=3))
op('mlockall', ev('mlockall', flags=2))
op('munlockall', ev('munlockall'))
op('fork', None)            # a fork to the next child pid (pids are not reused)
op('pin1+2', io('IOMMU_IOAS_MAP', ioas_id=1, flags=7, user_va=u(M + PG), length=u(2 * PG), iova=u(B), __reserved=0))
op('pinro3+2', io('IOMMU_IOAS_MAP', ioas_id=1, flags=5, user_va=u(M + 3 * PG), length=u(2 * PG), iova=u(B + 0x100000), __reserved=0))

def vma_setup(layout, tag):
    # the file is fd 1
    evs = [ev('open', path=f'/tmp/exh-{tag}', flags=0o302), ev('ftruncate', fd=1, length=u(0x10000))]
    for k, (kind, off) in enumerate(VMA_LAYOUTS[layout]):
        a = dict(va=u(M + 4 * k * PG), length=u(4 * PG), kind=kind, prot=3)
        if off is not None: a['fd'] = 1; a['offset'] = u(off)
        evs.append(ev('mmap', **a))
    return evs

def vma_probes():
    evs = []
    for p, n in ((0, 2), (1, 2), (2, 2), (3, 2), (4, 2), (0, 4), (2, 4), (4, 4), (0, 8)):
        evs += away_and_back(1, M + p * PG, n * PG, 0x7f0030000000)
    for base in (M, N):
        for p in range(9 if base == M else 4): evs.append(ev('read_memory', va=u(base + p * PG), length=u(8)))
    for p in (1, 2, 3, 4): evs.append(refs(M + p * PG, 1))
    return evs

# --- huge pages (layouts 4-6): two of private anonymous memory advised HUGEPAGE, at H0 and H1;
# none yet (4), one at H0 (5), one at H0 across the model's pieces (6: a DONTNEED before it, #106) ---
THP = Family(); op = THP.op
H0 = M; H1 = M + HP
for va in (H0, H0 + 5 * PG, H1): op(f'store{va - M:x}', ev('memset', va=u(va), length=u(8), byte=0x55))
op('readH1', ev('read_memory', va=u(H1), length=u(8)))
for va, ln in ((H0 + PG, PG), (H0, 16 * PG), (H0, HP)): op(f'dontneed{va - M:x}+{ln:x}', ev('madvise', va=u(va), length=u(ln), advice='DONTNEED'))
for va, ln in ((H0 + 5 * PG, PG), (H0, HP), (H0 + PG, HP - PG)): op(f'cold{va - M:x}+{ln:x}', ev('madvise', va=u(va), length=u(ln), advice='COLD'))
for va, ln in ((H0, HP), (H0 + 4 * PG, 2 * PG)): op(f'pageout{va - M:x}+{ln:x}', ev('madvise', va=u(va), length=u(ln), advice='PAGEOUT'))
op('populate_writeH1', ev('madvise', va=u(H1), length=u(HP), advice='POPULATE_WRITE'))
op('populate_readH1', ev('madvise', va=u(H1), length=u(HP), advice='POPULATE_READ'))
op('nohugeH0', ev('madvise', va=u(H0), length=u(HP), advice='NOHUGEPAGE'))
op('hugeH0', ev('madvise', va=u(H0), length=u(HP), advice='HUGEPAGE'))
op('wipeH0', ev('madvise', va=u(H0), length=u(HP), advice='WIPEONFORK'))
op('dontfork4', ev('madvise', va=u(H0 + 4 * PG), length=u(4 * PG), advice='DONTFORK'))
op('mlock2+2', ev('mlock', va=u(H0 + 2 * PG), length=u(2 * PG), flags=0))
op('mlockH0', ev('mlock', va=u(H0), length=u(HP), flags=0))
op('munlockH0', ev('munlock', va=u(H0), length=u(HP)))
op('onfaultH1', ev('mlock', va=u(H1), length=u(HP), flags=1))
op('ro3', ev('mprotect', va=u(H0 + 3 * PG), length=u(PG), prot=1))
op('rw3', ev('mprotect', va=u(H0 + 3 * PG), length=u(PG), prot=3))
op('move0', ev('mremap', va=u(H0), old_length=u(PG), new_length=u(PG), flags=3, new_va=u(N)))
op('move5+2', ev('mremap', va=u(H0 + 5 * PG), old_length=u(2 * PG), new_length=u(2 * PG), flags=3, new_va=u(N)))
op('dontunmap0', ev('mremap', va=u(H0), old_length=u(PG), new_length=u(PG), flags=7, new_va=u(N)))
op('moveH0', ev('mremap', va=u(H0), old_length=u(HP), new_length=u(HP), flags=3, new_va=u(N2)))
op('moveH0off', ev('mremap', va=u(H0), old_length=u(HP), new_length=u(HP), flags=3, new_va=u(N + PG)))
op('back0', ev('mremap', va=u(N), old_length=u(PG), new_length=u(PG), flags=3, new_va=u(H0)))
op('munmap7', ev('munmap', va=u(H0 + 7 * PG), length=u(PG)))
op('fork', None)
op('pin5', io('IOMMU_IOAS_MAP', ioas_id=1, flags=7, user_va=u(H0 + 5 * PG), length=u(PG), iova=u(B), __reserved=0))
op('pinroH1', io('IOMMU_IOAS_MAP', ioas_id=1, flags=5, user_va=u(H1), length=u(PG), iova=u(B + HP), __reserved=0))
op('unmap', io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))

def thp_setup(layout, tag):
    evs = [ev('mmap', va=u(M), length=u(2 * HP), kind='private_anon', prot=3), ev('madvise', va=u(M), length=u(2 * HP), advice='HUGEPAGE')]
    if layout == 6: evs.append(ev('madvise', va=u(H0), length=u(PG), advice='DONTNEED'))
    if layout >= 5: evs.append(ev('memset', va=u(H0 + 2 * PG), length=u(8), byte=0x33))
    return evs

def thp_probes():
    # refs 1 and 0 of a page tell a compound page (both pass), a small one pinned once (1) or not (0)
    evs = []
    for va in (H0, H0 + 5 * PG, H0 + HP - PG, H1, N, N + PG, N2, N2 + 5 * PG):
        evs += [refs(va, 1), refs(va, 0), ev('read_memory', va=u(va), length=u(8))]
    evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(B), "length": u(PG), "uptr": u(H0 + 5 * PG)}))
    for va, ln in ((H0, 2 * PG), (H0 + 4 * PG, 4 * PG), (H0, HP), (H0, 2 * HP)):
        evs += away_and_back(1, va, ln, 0x7f0030000000)
    return evs

# --- files (layouts 7-8): a memfd (7) or a tmpfs file (8) of 4 pages, mapped shared at M (4 pages)
# and privately at F (4 pages) ---
FILES = Family(); op = FILES.op
F = M + 0x100000
for va in (M, M + 2 * PG, F, F + 2 * PG): op(f'store{va - M:x}', ev('memset', va=u(va + 0x800), length=u(8), byte=0x66))
op('readF1', ev('read_memory', va=u(F + PG), length=u(8)))
for ln in (0, 2 * PG + 0x800, 2 * PG, 4 * PG, 8 * PG): op(f'truncate{ln:x}', ev('ftruncate', fd=1, length=u(ln)))
op('punch1', ev('fallocate', fd=1, mode=3, offset=u(PG), length=u(PG)))
op('keep6', ev('fallocate', fd=1, mode=1, offset=u(4 * PG), length=u(2 * PG)))
op('alloc6', ev('fallocate', fd=1, mode=0, offset=u(4 * PG), length=u(2 * PG)))
op('growM', ev('mremap', va=u(M), old_length=u(4 * PG), new_length=u(8 * PG), flags=0))
op('growF', ev('mremap', va=u(F), old_length=u(4 * PG), new_length=u(8 * PG), flags=0))
op('moveM1', ev('mremap', va=u(M + PG), old_length=u(PG), new_length=u(PG), flags=3, new_va=u(N)))
op('dontunmapF1', ev('mremap', va=u(F + PG), old_length=u(PG), new_length=u(PG), flags=7, new_va=u(N2)))
op('dontneedM', ev('madvise', va=u(M), length=u(4 * PG), advice='DONTNEED'))
op('dontneedF', ev('madvise', va=u(F), length=u(4 * PG), advice='DONTNEED'))
op('removeM2', ev('madvise', va=u(M + 2 * PG), length=u(PG), advice='REMOVE'))
op('populateF', ev('madvise', va=u(F), length=u(4 * PG), advice='POPULATE_WRITE'))
op('roF', ev('mprotect', va=u(F), length=u(4 * PG), prot=1))
op('mlockF', ev('mlock', va=u(F), length=u(4 * PG), flags=0))
op('mlockM', ev('mlock', va=u(M), length=u(4 * PG), flags=0))
op('munmapM3', ev('munmap', va=u(M + 3 * PG), length=u(PG)))
op('fork', None)
op('pinM1', io('IOMMU_IOAS_MAP', ioas_id=1, flags=7, user_va=u(M + PG), length=u(2 * PG), iova=u(B), __reserved=0))
op('pinF1', io('IOMMU_IOAS_MAP', ioas_id=1, flags=7, user_va=u(F + PG), length=u(2 * PG), iova=u(B + HP), __reserved=0))
op('pinroF', io('IOMMU_IOAS_MAP', ioas_id=1, flags=5, user_va=u(F), length=u(PG), iova=u(B + 2 * HP), __reserved=0))
op('unmap', io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))

def files_setup(layout, tag):
    # the file is fd 1
    evs = [ev('memfd_create', name='m', flags=0) if layout == 7 else ev('open', path=f'/tmp/exh-{tag}', flags=0o302),
           ev('ftruncate', fd=1, length=u(4 * PG)),
           ev('mmap', va=u(M), length=u(4 * PG), kind='memfd' if layout == 7 else 'file_shared', prot=3, fd=1, offset=u(0)),
           ev('mmap', va=u(F), length=u(4 * PG), kind='file_private', prot=3, fd=1, offset=u(0)),
           ev('memset', va=u(M + PG), length=u(8), byte=0x11)]
    return evs

def files_probes():
    evs = []
    for base, n in ((M, 8), (F, 8), (N, 1), (N2, 1)):
        for p in range(n): evs.append(ev('read_memory', va=u(base + p * PG + 0x7f8), length=u(16)))
    for va in (M + PG, F + PG, F, N, N2):
        evs += [refs(va, 1), refs(va, 0)]
    for iova, va in ((B, M + PG), (B + HP, F + PG), (B + 2 * HP, F)):
        evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(iova), "length": u(PG), "uptr": u(va)}))
    for va, ln in ((M, 2 * PG), (M, 4 * PG), (F, 2 * PG), (F, 4 * PG), (F + 2 * PG, 4 * PG)):
        evs += away_and_back(1, va, ln, 0x7f0030000000)
    return evs

# --- iommufd objects (layouts 9-10): IOAS 1 with its mock domain (stdev 2, idev 3, hwpt 4), IOAS 5,
# 16 pages of memory; 10 starts with an access on IOAS 1 (fd 1) and CAP_IPC_LOCK dropped under a
# limit of 8 pages. Objects made later are 6 on; 9 is whichever is ninth ---
OBJS = Family(); op = OBJS.op
def iomap(ioas, iova, va, n, flags=7): return io('IOMMU_IOAS_MAP', ioas_id=ioas, flags=flags, user_va=u(va), length=u(n * PG), iova=u(iova), __reserved=0)
def allow(ioas, ranges):
    e = io('IOMMU_IOAS_ALLOW_IOVAS', ioas_id=ioas, num_iovas=len(ranges), allowed_iovas=u(0x20000 if ranges else 0))
    if ranges: e["bufs"] = {"allowed_iovas": {"$hex": b''.join(a.to_bytes(8, 'little') + z.to_bytes(8, 'little') for a, z in ranges).hex()}}
    return e
op('map1', iomap(1, B, M, 4))
op('map1over', iomap(1, B + 2 * PG, M + 4 * PG, 4))
op('map1auto', iomap(1, 0, M + 8 * PG, 2, flags=6))
op('map1ro', iomap(1, B + 16 * PG, M, 2, flags=5))
op('map2', iomap(5, B, M + 4 * PG, 4))
op('unmap1exact', io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(B), length=u(4 * PG)))
op('unmap1part', io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(B), length=u(2 * PG)))
op('unmap1all', io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)))
op('unmap2all', io('IOMMU_IOAS_UNMAP', ioas_id=5, iova=u(0), length=u((1 << 64) - 1)))
op('copy12', io('IOMMU_IOAS_COPY', dst_ioas_id=5, src_ioas_id=1, flags=7, length=u(4 * PG), dst_iova=u(B + 32 * PG), src_iova=u(B), size=40))
op('copy12auto', io('IOMMU_IOAS_COPY', dst_ioas_id=5, src_ioas_id=1, flags=6, length=u(2 * PG), dst_iova=u(0), src_iova=u(B), size=40))
op('allow2', allow(5, [(B, B + 16 * PG - 1)]))
op('allow1', allow(1, [(B + 16 * PG, B + 64 * PG - 1)]))
op('allow2none', allow(5, []))
op('reserve1', io('IOMMU_TEST_OP_ADD_RESERVED', id=1, add_reserved={"start": u(B + 8 * PG), "length": u(2 * PG)}))
op('mock2', io('IOMMU_TEST_OP_MOCK_DOMAIN', id=5, mock_domain={}))
op('hwpt1', io('IOMMU_HWPT_ALLOC', flags=0, dev_id=3, pt_id=1, __reserved=0, data_type=0, data_len=0, data_uptr=u(0), fault_id=0))
op('replace2', io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=2, mock_domain_replace={"pt_id": 5}))
op('replace1', io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=2, mock_domain_replace={"pt_id": 1}))
op('replace9', io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=2, mock_domain_replace={"pt_id": 9}))
op('destroyhwpt', io('IOMMU_DESTROY', id=4))
op('destroystdev', io('IOMMU_DESTROY', id=2))
op('destroyioas5', io('IOMMU_DESTROY', id=5))
op('destroy9', io('IOMMU_DESTROY', id=9))
op('access1', io('IOMMU_TEST_OP_CREATE_ACCESS', id=1, create_access={"flags": 1}))
op('pages', io('IOMMU_TEST_OP_ACCESS_PAGES', id=1, access_pages={"flags": 1, "iova": u(B), "length": u(2 * PG), "uptr": u(M)}))
op('rw', io('IOMMU_TEST_OP_ACCESS_RW', id=1, access_rw={"iova": u(B + 0x800), "length": u(0x1000), "uptr": u(M + 15 * PG), "flags": 1}))
op('unpages', io('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', id=1, destroy_access_pages={"access_pages_id": 1}))
op('nohuge1', io('IOMMU_OPTION', option_id=1, op=0, __reserved=0, object_id=1, val64=u(0)))
op('munmapmem', ev('munmap', va=u(M + 2 * PG), length=u(2 * PG)))
op('storemem', ev('memset', va=u(M), length=u(8), byte=0x77))
op('limit', ev('set_rlimit_memlock', pages=u(4)))

def objs_setup(layout, tag):
    evs = [io('IOMMU_IOAS_ALLOC', flags=0), ev('mmap', va=u(M), length=u(16 * PG), kind='private_anon', prot=3),
           ev('memset', va=u(M + PG), length=u(8), byte=0x12)]
    if layout == 10:
        evs += [ev('drop_capability', cap='CAP_IPC_LOCK'), ev('set_rlimit_memlock', pages=u(8)), io('IOMMU_TEST_OP_CREATE_ACCESS', id=1, create_access={"flags": 1})]
    return evs

def objs_probes():
    evs = []
    for ioas in (1, 5):
        e = io('IOMMU_IOAS_IOVA_RANGES', ioas_id=ioas, num_iovas=4, allowed_iovas=u(0x30000))
        evs.append(e)
    for iova, va in ((B, M), (B + 2 * PG, M + 4 * PG), (B + 16 * PG, M)):
        evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', id=4, check_map={"iova": u(iova), "length": u(PG), "uptr": u(va)}))
    for va in (M, M + PG, M + 4 * PG, M + 8 * PG): evs.append(refs(va, 1))
    evs.append(ev('read_memory', va=u(M + 15 * PG), length=u(16)))
    for i in (9, 4, 2, 5, 1): evs.append(io('IOMMU_DESTROY', id=i))
    evs += [io('IOMMU_IOAS_UNMAP', ioas_id=1, iova=u(0), length=u((1 << 64) - 1)), io('IOMMU_IOAS_UNMAP', ioas_id=5, iova=u(0), length=u((1 << 64) - 1))]
    return evs

# layout number -> (family, setup, probes)
LAYOUTS = {k: (VMA, vma_setup, vma_probes) for k in range(4)}
LAYOUTS.update({k: (THP, thp_setup, thp_probes) for k in (4, 5, 6)})
LAYOUTS.update({k: (FILES, files_setup, files_probes) for k in (7, 8)})
LAYOUTS.update({k: (OBJS, objs_setup, objs_probes) for k in (9, 10)})

def trace(layout, seq):
    fam, setup, probes = LAYOUTS[layout]
    # /dev/iommu is fd 0; IOAS 1 and a mock domain on it: stdev 2, idev 3, hwpt 4
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_TEST_OP_MOCK_DOMAIN', id=1, mock_domain={})]
    evs += setup(layout, f'{layout}-{"-".join(map(str, seq))}')
    child = 2
    for i in seq:
        name, body = fam.ops[i]
        if name == 'fork': evs.append(ev('fork', child=child)); child += 1
        else: evs += body
    return evs + probes()

def write(layout, length, i, ops):
    """Sequence number i (its calls the digits of i in base len(ops), first call first)."""
    seq = []; x = i
    for _ in range(length): seq.append(x % len(ops)); x //= len(ops)
    with open(f'e{layout}l{length}_{i:0{max(6, len(str(len(ops) ** length - 1)))}d}.iort.jsonl', 'w') as f:
        f.write(HEADER + '\n')
        for e in trace(layout, seq[::-1]): f.write(json.dumps(e) + '\n')

def main():
    layout = int(sys.argv[1]); length = int(sys.argv[2])
    ops = LAYOUTS[layout][0].ops
    total = len(ops) ** length
    if len(sys.argv) > 3 and sys.argv[3] == '--sample':
        # too many to write them all (four calls and more): COUNT sequence numbers drawn by SEED
        r = random.Random(int(sys.argv[4]))
        for _ in range(int(sys.argv[5])): write(layout, length, r.randrange(total), ops)
        return
    start = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    count = int(sys.argv[4]) if len(sys.argv) > 4 else total - start
    for i in range(start, min(total, start + count)): write(layout, length, i, ops)

if __name__ == '__main__':
    main()
