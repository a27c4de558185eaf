#!/usr/bin/env python3
"""
Aimed random traces for the oracle (docs/oracle.md, session 31): the other generators' parts
crossed in one trace. Two regions of user memory of kinds drawn apart (private anonymous, advised
HUGEPAGE or not; anonymous hugetlb; shared anonymous; a memfd), two IOASes, a mock domain and a
dirty-tracking domain on the first, the HUGE_PAGES option, accesses that pin and copy, and the
memory calls that move, drop, protect and lock pages under all of it: maps across the regions'
huge-page boundaries, copies between the IOASes, TEST_OP_DIRTY / GET_DIRTY_BITMAP over areas whose
pages fork, mremap and DONTNEED have changed, accounting against a small RLIMIT_MEMLOCK.
Usage: aimed.py.
"""
from aimed import Fds, ev, io, run, steps, u
M = 0x7f0000000000; N = 0x7f0040000000; C = 0x7f0080000000; BUF = 0x10000
B = 0x1000000; PG = 0x1000; HP = 0x200000; L = 2 * HP

def region(r, evs, fds, va):
    kind = r.choice(['private_anon', 'thp', 'anon_hugetlb', 'anon', 'memfd'])
    if kind == 'thp':
        evs += [ev('mmap', va=u(va), length=u(L), kind='private_anon', prot=3),
                ev('madvise', va=u(va), length=u(L), advice='HUGEPAGE')]
    elif kind == 'memfd':
        fd = fds.new()
        evs += [ev('memfd_create', name='m', flags=0), ev('ftruncate', fd=fd, length=u(L)),
                ev('mmap', va=u(va), length=u(L), kind='memfd', prot=3, fd=fd, offset=u(0))]
    else:
        evs.append(ev('mmap', va=u(va), length=u(L), kind=kind, prot=3))
    return kind

def trace(r):
    fds = Fds(0)
    evs = [{"op": "open", "pid": 1, "args": {"path": "/dev/iommu"}},
           ev('mmap', va=u(BUF), length=u(0x20000), kind='private_anon', prot=3)]
    region(r, evs, fds, M); region(r, evs, fds, N)
    evs += [io('IOMMU_IOAS_ALLOC', flags=0), io('IOMMU_IOAS_ALLOC', flags=0)]                # 1, 2
    if r.random() < 0.25: evs.append(io('IOMMU_OPTION', option_id=1, op=0, __reserved=0, object_id=1, val64=u(0)))
    evs += [io('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', id=1, mock_domain_flags={"dev_flags": r.choice([0, 2, 2])}),  # stdev 3 idev 4 hwpt 5
            io('IOMMU_HWPT_ALLOC', flags=2, dev_id=4, pt_id=1, __reserved=0, data_type=0, data_len=0, data_uptr=u(0), fault_id=0)]  # 6
    if r.random() < 0.6: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', id=3, mock_domain_replace={"pt_id": 6}))
    if r.random() < 0.5: evs.append(io('IOMMU_HWPT_SET_DIRTY_TRACKING', flags=1, hwpt_id=6, __reserved=0))
    if r.random() < 0.3: evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN', id=2, mock_domain={}))      # stdev 7 idev 8 hwpt 9
    if r.random() < 0.25:
        evs.append(ev('drop_capability', cap='CAP_IPC_LOCK'))
        evs.append(ev('set_rlimit_memlock', pages=u(r.choice([16, 64, 600, 1100]))))
    pids = [1]; alive = {1: True}; forked = False; accs = []
    def acc(): return r.choice(accs) if accs and r.random() < 0.9 else r.randint(1, 6)
    maps = []   # (ioas, iova, length) of the maps drawn: most IOVAs below are drawn from them
    def at(ioas):
        mine = [m for m in maps if m[0] == ioas]
        if mine and r.random() < 0.75:
            _, i, l = r.choice(mine)
            return i + r.choice([0, 0, PG, l - PG if l > PG else 0])
        return B + r.randint(0, 7) * HP + r.choice([0, 0, PG, HP - PG])
    if r.random() < 0.7:
        accs.append(fds.new()); evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS', id=1, create_access={"flags": r.choice([1, 1, 0])}))
    def va_in(pid):
        base = r.choice([M, N, M, N, C])
        return base + r.choice([0, PG, 5 * PG, HP - PG, HP, HP + 3 * PG, r.randint(0, 511) * PG])
    for k in steps(r, 10, 30):
        c = r.random(); pid = r.choice(pids)
        if not alive[pid]: pid = 1
        ln = r.choice([PG, 2 * PG, 4 * PG, HP, HP + PG, 2 * PG + HP])
        ioas = r.choice([1, 1, 2])
        iova = at(ioas)
        if c < 0.14:
            iova = B + r.randint(0, 7) * HP + r.choice([0, 0, PG, HP - PG]); maps.append((ioas, iova, ln))
            va = r.choice([M, N]) + r.choice([0, PG, HP - PG, HP, r.randint(0, 255) * PG]) if r.random() < 0.85 else va_in(pid)
            evs.append(io('IOMMU_IOAS_MAP', pid=pid, ioas_id=ioas, flags=r.choice([7, 7, 5]), user_va=u(va),
                          length=u(ln), iova=u(iova), __reserved=0))
        elif c < 0.20:
            evs.append(io('IOMMU_IOAS_UNMAP', pid=pid, ioas_id=ioas, iova=u(r.choice([0, iova])), length=u(r.choice([(1 << 64) - 1, ln, HP]))))
        elif c < 0.25:
            evs.append(io('IOMMU_IOAS_COPY', pid=pid, dst_ioas_id=3 - ioas, src_ioas_id=ioas, flags=r.choice([7, 5]), length=u(ln),
                          dst_iova=u(B + r.randint(0, 7) * HP), src_iova=u(iova), size=40))
        elif c < 0.29:
            # (accesses are descriptors of the parent's: made and used by it alone)
            accs.append(fds.new()); evs.append(io('IOMMU_TEST_OP_CREATE_ACCESS', id=ioas, create_access={"flags": r.choice([1, 1, 0])}))
        elif c < 0.34:
            evs.append(io('IOMMU_TEST_OP_ACCESS_PAGES', id=acc(), access_pages={"flags": r.choice([0, 1]), "iova": u(at(1)),
                          "length": u(r.choice([PG, 2 * PG, 4 * PG])), "uptr": u(r.choice([va_in(pid), 0]))}))
        elif c < 0.38:
            evs.append(io('IOMMU_TEST_OP_ACCESS_RW', id=acc(), access_rw={"iova": u(iova + r.choice([0, 0x800, 0xff8])),
                          "length": u(r.choice([8, 0x1000, 0x1800])), "uptr": u(BUF + 0x8000), "flags": r.choice([0, 1, 4, 5])}))
        elif c < 0.40:
            evs.append(io('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', id=acc(), destroy_access_pages={"access_pages_id": r.randint(1, 4)}))
        elif c < 0.47:
            evs.append(ev('memset', pid=pid, va=u(va_in(pid)), length=u(r.choice([8, PG])), byte=r.randint(1, 255)))
        elif c < 0.51:
            evs.append(ev('read_memory', pid=pid, va=u(va_in(pid)), length=u(8)))
        elif c < 0.57:
            evs.append(ev('madvise', pid=pid, va=u(va_in(pid) & ~(HP - 1) if r.random() < 0.3 else va_in(pid)), length=u(r.choice([PG, HP, 4 * PG])),
                          advice=r.choice(['DONTNEED', 'COLD', 'PAGEOUT', 'POPULATE_WRITE', 'HUGEPAGE', 'REMOVE', 'DONTFORK'])))
        elif c < 0.61:
            f = r.choice([3, 3, 7, 0, 1])
            a = dict(va=u(r.choice([M, N]) + r.choice([0, HP, PG * r.randint(0, 511)])), old_length=u(r.choice([PG, 4 * PG, HP])),
                     new_length=u(r.choice([PG, 4 * PG, HP, 2 * HP])), flags=f)
            if f in (3, 7): a['new_va'] = u(C + r.choice([0, HP, PG]))
            evs.append(ev('mremap', pid=pid, **a))
        elif c < 0.63:
            evs.append(ev('munmap', pid=pid, va=u(va_in(pid) & ~(PG - 1)), length=u(r.choice([PG, HP]))))
        elif c < 0.65:
            evs.append(ev('mprotect', pid=pid, va=u(va_in(pid) & ~(PG - 1)), length=u(r.choice([PG, HP])), prot=r.choice([1, 3, 0])))
        elif c < 0.67:
            evs.append(ev('mlock', pid=pid, va=u(va_in(pid) & ~(PG - 1)), length=u(r.choice([PG, HP])), flags=r.choice([0, 1])))
        elif c < 0.69 and not forked:
            forked = True; pids.append(2); alive[2] = True; evs.append(ev('fork', child=2))
        elif c < 0.70 and forked and alive[2]:
            alive[2] = False; evs.append(ev('exit', pid=2))
        elif c < 0.74:
            evs.append(io('IOMMU_HWPT_SET_DIRTY_TRACKING', pid=pid, flags=r.choice([1, 1, 0]), hwpt_id=6, __reserved=0))
        elif c < 0.79:
            ps = r.choice([0x800, 0x1000, 0x1000])
            dl = r.choice([PG, 4 * PG, 0x10000])
            e = io('IOMMU_TEST_OP_DIRTY', pid=pid, id=6, dirty={"flags": 0, "iova": u(at(1)), "length": u(dl), "page_size": u(ps), "uptr": u(BUF)})
            e["bufs"] = {"uptr": {"$hex": bytes(r.choice([0, 0xff, r.randint(0, 255)]) for _ in range(max((dl // ps + 7) // 8, 1))).hex()}}
            evs.append(e)
        elif c < 0.85:
            ps = r.choice([0x1000, 0x1000, 0x800, HP])
            dl = r.choice([4 * PG, 0x10000, HP])
            e = io('IOMMU_HWPT_GET_DIRTY_BITMAP', pid=pid, hwpt_id=6, flags=r.choice([0, 0, 1]), __reserved=0, iova=u(at(1) & ~(PG - 1)),
                   length=u(dl), page_size=u(ps), data=u(BUF + 0x18000 - BUF % 8))
            e["bufs"] = {"data": {"$hex": "00" * max(((dl // ps + 63) // 64) * 8, 8)}}
            evs.append(e)
        elif c < 0.91:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_MAP', pid=pid, id=r.choice([6, 5, 9, 3]), check_map={"iova": u(at(1) & ~(PG - 1)),
                          "length": u(r.choice([PG, 2 * PG])), "uptr": u(va_in(pid) & ~(PG - 1))}))
        elif c < 0.95:
            evs.append(io('IOMMU_TEST_OP_MD_CHECK_REFS', pid=pid, id=0, check_refs={"length": u(PG), "uptr": u(va_in(pid) & ~(PG - 1)), "refs": r.choice([0, 1, 2])}))
        elif c < 0.97:
            evs.append(io('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', pid=pid, id=3, mock_domain_replace={"pt_id": r.choice([6, 5, 1, 2])}))
        else:
            evs.append(io('IOMMU_OPTION', pid=pid, option_id=1, op=0, __reserved=0, object_id=r.choice([1, 2]), val64=u(r.choice([0, 1]))))
    return evs

run('x', trace)
