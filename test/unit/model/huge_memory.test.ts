/**
 * Transparent huge pages (src/model/huge_memory.ts), seen the way iommufd
 * sees them: a MOCK_FLAGS_DEVICE_HUGE_IOVA domain maps physically contiguous,
 * aligned memory with 1 MiB IOPTEs, and dirty tracking reports those whole.
 * Until 2026-11-26 the model gave private anonymous memory 4 KiB pages only;
 * the oracle showed a MADV_HUGEPAGE buffer written before IOAS_MAP reported
 * its first 2 MiB dirty whole. Every bitmap below is what Linux 6.12.117
 * (THP in `madvise` mode) answered to the same calls, each trace run there
 * whole (twenty-seven traces, 621 answers, all agreeing with the model).
 *
 * A bitmap is summarised per MiB of IOVA: 'H' every bit set (one 1 MiB
 * IOPTE over the dirty page), '1' some bits (2 KiB IOPTEs), '0' none.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { kernelTraceSuite, runChecked } from './checked_run.js';

const V = 0x7f0000400000n; // private anonymous, 16 MiB, 2 MiB aligned
const B = 0x7f0002000000n; // private anonymous buffers, never advised
const M = 0x100000n;
const H = 0x200000n;
const env = (op: string, args: Fields, pid = 1): Event => ({ op, pid, args });
const io = (op: string, args: Fields, pid = 1, bufs?: Record<string, Uint8Array>): Event => ({ op, pid, fd: 0, args, ...(bufs ? { bufs } : {}) });
const pat = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
const wr = (va: bigint, n = 16, pid = 1) => env('write_memory', { va, data: pat(n) }, pid);
const rd = (va: bigint, pid = 1) => env('read_memory', { va, length: 16n }, pid);
const madv = (va: bigint, length: bigint, advice: string) => env('madvise', { va, length, advice });
const map = (va: bigint, length: bigint, iova: bigint, flags = 7, pid = 1) => io('IOMMU_IOAS_MAP', { flags, ioas_id: 1, __reserved: 0, user_va: va, length, iova }, pid);

/** MADV_HUGEPAGE over `length` at V, then a write into each of the first `units` 2 MiB: that many huge pages. */
const advised = (units: number, length = 16n * M): Event[] => [madv(V, length, 'HUGEPAGE'), ...Array.from({ length: units }, (_, k) => wr(V + BigInt(k) * H))];

const setup: Event[] = [
  env('open', { path: '/dev/iommu' }),
  env('mmap', { va: V, length: 16n * M, kind: 'private_anon', prot: 3 }),
  env('mmap', { va: B, length: M, kind: 'private_anon', prot: 3 }),
  io('IOMMU_IOAS_ALLOC', { flags: 0 }), // 1
  io('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', { id: 1, mock_domain_flags: { dev_flags: 2 } }), // HUGE_IOVA: idev 3
  io('IOMMU_HWPT_ALLOC', { flags: 2, dev_id: 3, pt_id: 1, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0, __reserved2: 0 }), // 5, dirty tracking
  io('IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: 5, __reserved: 0 }),
];

/** One dirty 2 KiB at the start of each MiB of IOVA 0x1000000..+16 MiB, then the bitmap, summarised. */
function dirtyMap(events: Event[], errnos: string[] = [], pid = 1): string {
  const bits = new Uint8Array(1024);
  for (let i = 0; i < 16; i++) bits[i * 64] = 1;
  const all = [
    ...setup,
    ...events,
    io('IOMMU_TEST_OP_DIRTY', { id: 5, dirty: { flags: 0, iova: 0x1000000n, length: 16n * M, page_size: 0x800n, uptr: B } }, pid, { uptr: bits }),
    io('IOMMU_HWPT_GET_DIRTY_BITMAP', { hwpt_id: 5, flags: 0, iova: 0x1000000n, length: 16n * M, page_size: 0x800n, data: B + 0x40000n, __reserved: 0 }, pid),
  ];
  const { results } = runChecked(all);
  expect(results.filter((r) => r.errno !== 0).map((r) => r.errno)).toEqual(errnos);
  const last: Result = results[results.length - 1]!;
  const d = last.bufs!['data']!;
  let s = '';
  for (let m = 0; m < 16; m++) {
    const mib = [...d.subarray(m * 64, m * 64 + 64)];
    s += mib.length && mib.every((x) => x === 0xff) ? 'H' : mib.some((x) => x) ? '1' : '0';
    if (m % 2 === 1 && m < 15) s += ' ';
  }
  return s;
}

describe('transparent huge pages (Linux 6.12.117 answers)', () => {
  it('a write fault in an empty 2 MiB of a MADV_HUGEPAGE mapping gets a huge page; other first touches do not', () => {
    const s = dirtyMap([
      wr(V + 6n * H), // touched before the advice: a page table, 4 KiB pages
      madv(V, 16n * M, 'HUGEPAGE'),
      rd(V), // the huge zero page...
      wr(V + 0x1000n), // ...which a write splits
      rd(V + 4n * H), // the huge zero page, then a writable pin: 4 KiB (unshared)
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n, 5), // a read-only pin of untouched memory: 4 KiB
      map(V + 2n * H, H, 0x1400000n), // a writable pin: a huge page
      map(V + 3n * H, H, 0x1600000n),
      map(V + 4n * H, H, 0x1800000n),
      map(V + 6n * H, H, 0x1a00000n),
    ]);
    expect(s).toBe('11 11 HH HH 11 11 00 00');
  });

  it('MADV_DONTNEED empties a huge page it covers (the next write gets another) and splits one it cuts', () => {
    const s = dirtyMap([
      ...advised(3),
      madv(V, H, 'DONTNEED'),
      wr(V + 0x10000n), // a new huge page
      madv(V + H, 0x1000n, 'DONTNEED'), // split: the page zapped is a new 4 KiB one, the rest stays contiguous
      madv(V + 2n * H + 0x1000n, 0x1000n, 'DONTNEED'),
      madv(V + 2n * H, H, 'DONTNEED'), // the page table stays: 4 KiB from now on
      wr(V + 2n * H),
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n),
      map(V + 2n * H, H, 0x1400000n),
    ]);
    expect(s).toBe('HH 1H 11 00 00 00 00 00');
  });

  it('a VMA boundary inside a huge page splits it; munmap frees a page table only where no VMA is left', () => {
    const s = dirtyMap([
      ...advised(3),
      env('mprotect', { va: V + 0x1000n, length: 0x1000n, prot: 1 }),
      env('mprotect', { va: V + 0x1000n, length: 0x1000n, prot: 3 }),
      madv(V, H, 'DONTNEED'),
      wr(V), // split before: 4 KiB
      env('munmap', { va: V + H, length: H }),
      env('mmap', { va: V + H, length: H, kind: 'private_anon', prot: 3 }),
      madv(V + H, H, 'HUGEPAGE'),
      wr(V + H), // a fresh page table entry: a huge page
      env('munmap', { va: V + 2n * H + 0x1000n, length: 0x1000n }),
      env('mmap', { va: V + 2n * H + 0x1000n, length: 0x1000n, kind: 'private_anon', prot: 3 }),
      madv(V + 2n * H, H, 'DONTNEED'),
      wr(V + 2n * H), // the page table stayed (other VMAs in the 2 MiB): 4 KiB
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n),
      map(V + 2n * H, 0x1000n, 0x1400000n),
      map(V + 2n * H + 0x1000n, 0x1000n, 0x1401000n),
      map(V + 2n * H + 0x2000n, H - 0x2000n, 0x1402000n),
    ]);
    expect(s).toBe('11 HH 11 00 00 00 00 00');
  });

  it("fork: a pinned huge page stays the parent's; an unpinned one is shared, and pins after it copy 4 KiB pages", () => {
    const s = dirtyMap([
      ...advised(2),
      map(V, M, 0x1000000n), // half of the first huge page pinned
      env('fork', { child: 2 }),
      map(V + M, M, 0x1100000n), // the rest of it: contiguous still
      map(V + H, H, 0x1200000n), // shared with the child: copied
      rd(V + H + 0x3000n, 2),
    ]);
    expect(s).toBe('HH 11 00 00 00 00 00 00');
  });

  it('mremap: an aligned move keeps a huge page whole; an unaligned one splits it, its pages contiguous still', () => {
    const s = dirtyMap([
      ...advised(2, 8n * M),
      env('mremap', { va: V, old_length: H, new_length: H, flags: 3, new_va: V + 8n * M }),
      env('mremap', { va: V + H, old_length: H, new_length: H, flags: 3, new_va: V + 12n * M + 0x1000n }),
      madv(V + 8n * M, H, 'DONTNEED'), // empties the moved entry: the next write gets a new huge page
      wr(V + 8n * M),
      map(V + 8n * M, H, 0x1000000n),
      map(V + 12n * M + 0x1000n, H, 0x1200000n),
    ]);
    expect(s).toBe('HH HH 00 00 00 00 00 00');
  });

  it("a read-only pin of a huge page, NOHUGEPAGE, the child's pin of a shared one, a VMA off 2 MiB alignment", () => {
    const s = dirtyMap([
      madv(V, 8n * M, 'HUGEPAGE'),
      wr(V),
      map(V, H, 0x1000000n, 5),
      madv(V + H, H, 'NOHUGEPAGE'),
      wr(V + H),
      map(V + H, H, 0x1200000n),
      wr(V + 2n * H),
      env('fork', { child: 2 }),
      map(V + 2n * H, H, 0x1400000n, 7, 2),
      env('munmap', { va: V + 8n * M, length: 8n * M }),
      env('mmap', { va: V + 8n * M + 0x1000n, length: 4n * M, kind: 'private_anon', prot: 3 }),
      madv(V + 8n * M + 0x1000n, 4n * M, 'HUGEPAGE'),
      wr(V + 8n * M + 0x1000n, 4096 * 3),
      wr(V + 10n * M),
      wr(V + 12n * M),
      map(B + 0x80000n, 0x1000n, 0x1600000n),
      map(V + 8n * M + 0x1000n, 4n * M - 0x1000n, 0x1601000n), // only the whole 2 MiB inside the VMA is huge
    ]);
    expect(s).toBe('HH 11 11 11 HH 00 00 00');
  });

  it('DONTUNMAP moves a huge page whole and empties the old entry; growth in place and munmap of part of one', () => {
    const s = dirtyMap([
      madv(V, 4n * M, 'HUGEPAGE'),
      wr(V),
      env('mremap', { va: V, old_length: H, new_length: H, flags: 7, new_va: V + 16n * M }),
      wr(V + 0x2000n), // the old range is empty again: a new huge page
      env('mremap', { va: V + 16n * M, old_length: H, new_length: 2n * H, flags: 0 }), // grown in place, still advised
      wr(V + 16n * M + H), // a huge page in the growth too
      wr(V + H),
      env('munmap', { va: V + H + M, length: 0x1000n }), // the rest of the huge page stays contiguous
      map(V, H, 0x1000000n),
      map(V + 16n * M, 2n * H, 0x1200000n),
      map(V + H, M, 0x1600000n),
    ]);
    expect(s).toBe('HH HH HH H0 00 00 00 00');
  });

  it('fork, then the child exits: the parent is the only mapper left and takes its huge page back', () => {
    const s = dirtyMap([madv(V, 4n * M, 'HUGEPAGE'), wr(V), env('fork', { child: 2 }), env('exit', {}, 2), map(V, H, 0x1000000n)]);
    expect(s).toBe('HH 00 00 00 00 00 00 00');
  });

  it("fork: a huge page the child still maps part of is copied at the parent's pin; one the child let go of is the parent's again", () => {
    const s = dirtyMap([
      ...advised(5, 12n * M),
      env('fork', { child: 2 }),
      map(V, M, 0x1a00000n, 7, 2), // the child copies half of it: it still maps the other half
      map(V + H, H, 0x1c00000n, 7, 2), // the child copies all of it
      env('munmap', { va: V + 2n * H, length: H }, 2),
      env('mprotect', { va: V + 3n * H, length: 0x1000n, prot: 1 }), // the parent's entry split while shared: its pages copy from now on
      env('madvise', { va: V + 4n * H, length: H, advice: 'DONTNEED' }, 2),
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n),
      map(V + 2n * H, H, 0x1400000n),
      map(V + 3n * H + M, M, 0x1600000n),
      map(V + 3n * H + M, M, 0x1700000n),
      map(V + 4n * H, H, 0x1800000n),
    ]);
    expect(s).toBe('11 HH HH 11 HH 10 00 00');
  });

  it('fork shares a split huge page too: it stays compound, and a write or pin through a 4 KiB entry copies, the child gone or not', () => {
    const refs = (uptr: bigint, pid = 1) => io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr, refs: 1 } }, pid);
    const all = [
      ...advised(4),
      env('munmap', { va: V + 0x28000n, length: 0x10000n }), // unit 0: split, with a hole in it
      env('mprotect', { va: V + H + 0x10000n, length: 0x1000n, prot: 1 }), // unit 1: split by a VMA boundary...
      env('mprotect', { va: V + H + 0x10000n, length: 0x1000n, prot: 3 }), // ...which goes again; the entry stays split
      env('fork', { child: 2 }),
      refs(V + 0x6d000n), // compound, shared: not counted (0)
      refs(V + H + 0x30000n, 2),
      wr(V + H + 0x20000n, 4, 2), // the child copies one page
      refs(V + H + 0x20000n, 2), // a 4 KiB page of its own, not pinned: EIO
      map(V + H, H, 0x1000000n), // the parent's pins copy every page: 4 KiB
      map(V, 0x28000n, 0x1600000n),
      refs(V + H + 0x30000n), // the parent's copy, pinned once
      refs(V + 0x100000n), // untouched, still in the folio: compound
      refs(V + 3n * H + 0x1000n, 2), // unit 3, whole and shared: compound
      env('exit', {}, 2),
      map(V + 2n * H, H, 0x1200000n), // whole, the child gone: taken back whole
      wr(V + 3n * H + 0x5000n, 4),
      map(V + 3n * H, H, 0x1400000n),
      refs(V + 0x100000n),
    ];
    expect(dirtyMap(all, ['EIO'])).toBe('11 HH HH 10 00 00 00 00');
  });

  it("the kernel's own reads of user memory are read faults: ACCESS_RW (and the recorder's read of its buffer), the check ops' lookups", () => {
    const rw = (uptr: bigint, flags: number) => io('IOMMU_TEST_OP_ACCESS_RW', { id: 1, access_rw: { iova: 0x1f00000n, length: 0x100n, uptr, flags } });
    const a = dirtyMap([
      madv(V, 8n * M, 'HUGEPAGE'),
      map(B + 0xc0000n, 0x10000n, 0x1f00000n),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }), // fd 1
      rw(V, 0), // a read out to V: the recorder reads V first (the huge zero page), then copy_to_user splits it
      rw(V + H, 1), // a write from V + H: copy_from_user reads it
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n),
      map(B + 0x80000n, 0x1000n, 0x1400000n),
    ]);
    expect(a).toBe('11 11 10 00 00 00 00 00');
    const c = dirtyMap([
      madv(V, 8n * M, 'HUGEPAGE'),
      map(B + 0xc0000n, 0x1000n, 0x1f00000n),
      io('IOMMU_TEST_OP_MD_CHECK_MAP', { id: 5, check_map: { iova: 0x1f00000n, length: 0x800n, uptr: V } }), // EINVAL, after the lookup
      io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr: V + H, refs: 0 } }),
      wr(V),
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n),
      map(V + 2n * H, H, 0x1400000n),
    ], ['EINVAL']);
    expect(c).toBe('11 11 HH 00 00 00 00 00');
  });

  it("ACCESS_RW's slow path across pages pins them long-term as the area is mapped: a writable area's get a huge page, a read-only one's 4 KiB", () => {
    const rw = (iova: bigint, uptr: bigint) => io('IOMMU_TEST_OP_ACCESS_RW', { id: 1, access_rw: { iova, length: 16n, uptr, flags: 4 } });
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }), // 6: no domain, so nothing is pinned before the accesses
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 6, __reserved: 0, user_va: V, length: H, iova: 0x1000000n }),
      io('IOMMU_IOAS_MAP', { flags: 5, ioas_id: 6, __reserved: 0, user_va: V + H, length: H, iova: 0x1200000n }),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 6, create_access: { flags: 0 } }), // access fd 1
      rw(0x1000ff8n, B), // reads across two pages of unit 0
      rw(0x1200ff8n, B + 0x100n), // and of unit 1
      map(V, H, 0x1000000n, 5), // the huge page the writable pin faulted in, pinned read-only now
      map(V + H, H, 0x1200000n), // 4 KiB: the read-only pin's page table
      map(V + 2n * H, H, 0x1400000n),
    ];
    expect(dirtyMap(all)).toBe('HH 11 HH 00 00 00 00 00');
  });

  it("ACCESS_PAGES's check of its pages against uptr looks each page up with a read fault, which stays whatever the check answers", () => {
    const ap = (iova: bigint, length: bigint, uptr: bigint) => io('IOMMU_TEST_OP_ACCESS_PAGES', { id: 1, access_pages: { flags: 0, iova, length, uptr } });
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }), // access fd 1, pinning pages
      map(V, H, 0x1000000n),
      ap(0x1000000n, 0x2000n, V), // the pinned pages themselves: 0
      ap(0x1000000n, 0x1000n, V + 2n * H), // unit 2, untouched: the lookup maps the huge zero page; another page: EBADE
      ap(0x1001000n, 0x2000n, V + 3n * H - 0x1000n),
      ap(0x1000000n, 0x1000n, V + 16n * M), // nothing there: EFAULT
      map(V + H, H, 0x1200000n),
      map(V + 2n * H, H, 0x1400000n), // the huge zero page split: 4 KiB
    ];
    expect(dirtyMap(all, ['EBADE', 'EBADE', 'EFAULT'])).toBe('HH HH 11 00 00 00 00 00');
  });

  it("ACCESS_RW's slow path pins its page with pin_user_pages_remote, not long-term: a read maps the huge zero page, which DONTNEED empties", () => {
    const s = dirtyMap([
      madv(V, 8n * M, 'HUGEPAGE'),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }), // 6, no domain: the map pins nothing
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 6, __reserved: 0, user_va: V + H, length: H, iova: 0x1000000n }),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 6, create_access: { flags: 0 } }), // fd 1
      io('IOMMU_TEST_OP_ACCESS_RW', { id: 1, access_rw: { iova: 0x1000000n, length: 0x100n, uptr: B + 0x10000n, flags: 4 } }),
      madv(V + H, H, 'DONTNEED'), // the huge zero page's entry is empty again (a page table would stay)
      wr(V + H),
      map(V + H, H, 0x1000000n),
    ]);
    expect(s).toBe('HH 00 00 00 00 00 00 00');
  });

  it('MD_CHECK_REFS counts no references on a compound page: a huge page, whole or split, and the huge zero page', () => {
    const refs = (uptr: bigint, n: number) => io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr, refs: n } });
    const { results } = runChecked([
      ...setup,
      madv(V, 8n * M, 'HUGEPAGE'),
      refs(V + 0x79000n, 1), // the huge zero page
      wr(V + H),
      map(V + H, M, 0x1000000n),
      refs(V + H, 0), // pinned once, but a huge page
      refs(V + H + M, 3),
      env('mprotect', { va: V + H + 0x1000n, length: 0x1000n, prot: 1 }),
      refs(V + H, 0), // split: still a compound page
      wr(V + 2n * H),
      env('fork', { child: 2 }),
      map(V + 2n * H, 0x1000n, 0x1100000n), // copied out of the shared huge page: a 4 KiB page of its own, counted
      refs(V + 2n * H, 1),
      refs(V + 2n * H, 0),
      wr(V + 3n * H + 0x5000n, 16, 2),
      wr(V + 4n * H),
      madv(V + 4n * H, 0x1000n, 'NOHUGEPAGE'),
      wr(V + 5n * H + 0x3000n), // past the advised 8 MiB: 4 KiB pages
      refs(V + 5n * H + 0x3000n, 2),
    ]);
    expect(results.slice(setup.length).map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'EIO', 0, 0, 0, 0, 'EIO']);
  });

  it('MADV_COLD and PAGEOUT split a huge page they cut, unless pinned; the split maps its all-zero pages to the zero page', () => {
    const refs = (uptr: bigint) => io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr, refs: 1 } });
    const all = [
      ...advised(5, 12n * M),
      map(V + 2n * H + 0x10000n, 0x1000n, 0x1f00000n), // a pin: the split fails
      madv(V + 0x8000n, 0x1000n, 'COLD'),
      madv(V + H, H, 'COLD'), // whole: aged only
      madv(V + 2n * H + 0x3000n, 0x1000n, 'PAGEOUT'),
      madv(V + 3n * H, 0x1000n, 'PAGEOUT'),
      io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr: V + 0x20000n, refs: 0 } }), // the zero page now
      refs(V + 0x20000n),
      refs(V + H + 0x20000n), // compound: not counted
      refs(V + 2n * H + 0x20000n),
      refs(V + 3n * H + 0x20000n),
      refs(V + 4n * H + 0x20000n),
      madv(V + 3n * H, H, 'DONTNEED'),
      wr(V + 3n * H), // the split entry is a page table: 4 KiB
      map(V, H, 0x1000000n), // only page 0 was written: the rest comes back as 4 KiB pages
      map(V + H, H, 0x1200000n),
      map(V + 2n * H, H, 0x1400000n),
      map(V + 3n * H, H, 0x1600000n),
      map(V + 4n * H, H, 0x1800000n),
    ];
    const { results } = runChecked([...setup, ...all]);
    expect(results.slice(setup.length).map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'EIO', 0, 0, 'EIO', 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(dirtyMap(all, ['EIO', 'EIO'])).toBe('11 HH HH 11 HH 00 00 00');
  });

  it('a read fault maps the huge zero page over 2 MiB the model keeps as pieces of one kernel VMA (DONTNEED, mremap growth)', () => {
    const W = 0x7f0004000000n;
    const W2 = 0x7f0006000000n;
    const refs = (uptr: bigint) => io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr, refs: 1 } });
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      madv(V + 0x10000n, 0x1000n, 'DONTNEED'), // unit 0, untouched: a piece of its own in the model
      env('read_memory', { va: V + 0x20000n, length: 16n }), // the huge zero page across the pieces
      refs(V + 0x11000n), // compound: not counted (0)
      env('mmap', { va: W, length: 4n * M, kind: 'private_anon', prot: 3 }),
      madv(W, 4n * M, 'HUGEPAGE'),
      env('mremap', { va: W + 0x4f000n, old_length: 0x10000n, new_length: 4n * M, flags: 3, new_va: W2 }),
      refs(W2 + 0x64000n), // in the growth, next to the moved pages: the huge zero page
      env('read_memory', { va: W2 + 0x300000n, length: 16n }),
      env('write_memory', { va: W2 + 0x1000n, data: new Uint8Array([1, 2, 3]) }), // splits it
      madv(V + H + 0x10000n, 0x1000n, 'DONTNEED'),
      madv(V + H, H, 'POPULATE_READ'),
      map(V, H, 0x1000000n), // each huge zero page split by the writable pins: 4 KiB
      map(V + H, H, 0x1200000n),
      map(W2, H, 0x1400000n),
      map(W2 + H, H, 0x1600000n),
    ];
    expect(dirtyMap(all)).toBe('11 11 11 11 00 00 00 00');
  });

  it('never without MADV_HUGEPAGE', () => {
    const s = dirtyMap([wr(V), wr(V + H), map(V, 4n * M, 0x1000000n)]);
    expect(s).toBe('11 11 00 00 00 00 00 00');
  });
});

/**
 * A write fault in 2 MiB that the model keeps as pieces of one kernel VMA
 * (the pages a DONTNEED gave back, the growth of a private mapping) gets a
 * huge page across the pieces' objects, as the kernel's one VMA does (#42,
 * found by oracle seed 80; before, the model gave 4 KiB pages). Thirteen traces,
 * each run whole on Linux 6.12.117: 388 answers, all agreeing.
 */
describe('a huge page across pieces of one kernel VMA (Linux 6.12.117 answers)', () => {
  const W = 0x7f0004000000n;
  const W2 = 0x7f0006000000n;
  const refs = (uptr: bigint, n = 1, pid = 1) => io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr, refs: n } }, pid);
  /** MADV_HUGEPAGE, then in each unit k (2 MiB): a DONTNEED of an untouched page, and a store that gets a huge page across the pieces. */
  const across = (...units: bigint[]): Event[] => [madv(V, 16n * M, 'HUGEPAGE'), ...units.flatMap((k) => [madv(V + k * H + 0x10000n, 0x1000n, 'DONTNEED'), wr(V + k * H)])];
  const failed = (events: Event[]) =>
    runChecked([...setup, ...events])
      .results.slice(setup.length)
      .flatMap((r, i) => (r.errno ? [i] : []));

  it('after a DONTNEED of untouched pages: a writable pin, a store, POPULATE_WRITE; not a read-only pin, and a read maps the zero page first', () => {
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      madv(V + 0x10000n, 0x1000n, 'DONTNEED'), // unit 0: a piece of its own in the model
      map(V + 0x20000n, 0x4000n, 0x1f00000n), // a writable pin in the third piece: a huge page across the three
      refs(V + 0x20000n, 0), refs(V + 0x10000n, 0), refs(V, 0), refs(V + 0x10000n), refs(V + 0x20000n), // compound: any count passes
      madv(V + H + 0x30000n, 0x2000n, 'DONTNEED'), // unit 1
      wr(V + H + 0x30000n), // a store into the DONTNEED piece itself
      refs(V + H, 0), refs(V + H), refs(V + H + 0x31000n, 0),
      madv(V + 2n * H, 0x1000n, 'DONTNEED'), madv(V + 2n * H + 0x1ff000n, 0x1000n, 'DONTNEED'), // unit 2: both ends
      madv(V + 2n * H, H, 'POPULATE_WRITE'),
      refs(V + 2n * H + 0x1ff000n, 0), refs(V + 2n * H + 0x1ff000n),
      madv(V + 3n * H + 0x80000n, 0x1000n, 'DONTNEED'), // unit 3: the huge zero page first, which a store splits
      rd(V + 3n * H), wr(V + 3n * H + 0x80000n),
      refs(V + 3n * H + 0x80000n, 0), refs(V + 3n * H + 0x80000n), // a 4 KiB page, not pinned: EIO
      madv(V + 4n * H + 0x1000n, 0x1000n, 'DONTNEED'), // unit 4: a read-only pin gets 4 KiB pages
      map(V + 4n * H, 0x3000n, 0x1e00000n, 5),
      refs(V + 4n * H + 0x1000n, 0), refs(V + 4n * H + 0x1000n), // pinned once, not compound: the count is 1, EIO for 0
      map(V, H, 0x1000000n), map(V + H, H, 0x1200000n), map(V + 2n * H, H, 0x1400000n), map(V + 3n * H, H, 0x1600000n), map(V + 4n * H, H, 0x1800000n, 5),
    ];
    expect(failed(all)).toEqual([22, 25]);
    expect(dirtyMap(all, ['EIO', 'EIO'])).toBe('HH HH HH 11 11 00 00 00');
  });

  it('what follows: DONTNEED of part of it, COLD over it whole or over one piece, fork, an aligned mremap', () => {
    const all = [
      ...across(0n, 1n, 2n, 3n, 4n),
      madv(V + 0x40000n, 0x1000n, 'DONTNEED'), // part of unit 0's: split, the rest contiguous still
      refs(V, 0), refs(V + 0x10000n, 0), refs(V + 0x40000n, 0), refs(V + 0x40000n), // that page is new: EIO
      madv(V + H, H, 'COLD'), // over all of it: aged only
      madv(V + 2n * H + 0x10000n, 0x1000n, 'COLD'), // over one piece: the folio is split, its zero pages freed
      refs(V + H + 0x10000n, 0), refs(V + 2n * H + 0x30000n, 0), refs(V + 2n * H + 0x30000n), refs(V + 2n * H + 0x10000n), refs(V + 2n * H + 0x10000n, 0),
      env('fork', { child: 2 }),
      wr(V + 3n * H + 0x10000n), // the parent's store in the shared huge page's DONTNEED piece: copied
      refs(V + 3n * H + 0x10000n), refs(V + 3n * H + 0x10000n, 0), refs(V + 3n * H + 0x20000n, 0),
      env('exit', {}, 2),
      env('mremap', { va: V + 4n * H, old_length: H, new_length: H, flags: 3, new_va: W }), // moved whole: stays huge
      refs(W + 0x10000n, 0), refs(W, 0),
      map(V, H, 0x1000000n), map(V + H, H, 0x1200000n), map(V + 2n * H, H, 0x1400000n), map(V + 3n * H, H, 0x1600000n), map(W, H, 0x1800000n),
    ];
    expect(failed(all)).toEqual([15, 20, 21, 25]);
    expect(dirtyMap(all, ['EIO', 'EIO', 'EIO', 'EIO'])).toBe('11 HH 11 11 HH 00 00 00');
  });

  it("mremap growth in place: a huge page across the old pages and the growth, the old object's pages moved away its own still", () => {
    const all = [
      env('mmap', { va: W, length: M, kind: 'private_anon', prot: 3 }),
      madv(W, M, 'HUGEPAGE'),
      env('mremap', { va: W, old_length: M, new_length: 4n * M, flags: 0 }), // 2 MiB across the old and the new
      wr(W + 0x1000n),
      refs(W + 0x1000n, 0), refs(W + M + 0x1000n, 0), refs(W + M + 0x1000n),
      wr(W + H + M), // in the growth only
      refs(W + H + M, 0),
      env('mmap', { va: W2, length: 4n * M, kind: 'private_anon', prot: 3 }),
      madv(W2, 4n * M, 'HUGEPAGE'),
      env('mremap', { va: W2 + M, old_length: M, new_length: M, flags: 3, new_va: W2 + 8n * M }), // W2's second MiB moved away
      env('mremap', { va: W2, old_length: M, new_length: 2n * M, flags: 0 }), // grown back into the hole: new pages
      wr(W2 + 0x1000n), // a huge page; the moved pages (the old object's next offsets) are not its
      refs(W2 + 0x1000n, 0), refs(W2 + M + 0x1000n, 0), refs(W2 + 8n * M + 0x1000n),
      wr(W2 + 8n * M + 0x1000n), refs(W2 + 8n * M + 0x1000n),
      map(W, 2n * H, 0x1000000n), map(W2, H, 0x1400000n), map(W2 + 8n * M, M, 0x1600000n),
    ];
    expect(failed(all)).toEqual([16, 18]);
    expect(dirtyMap(all, ['EIO', 'EIO'])).toBe('HH HH HH 10 00 00 00 00');
  });

  it('pages of the old object pinned where they were moved to stay 4 KiB pages of their own, counted', () => {
    const all = [
      env('mmap', { va: W2, length: 4n * M, kind: 'private_anon', prot: 3 }),
      madv(W2, 4n * M, 'HUGEPAGE'),
      env('mremap', { va: W2 + M, old_length: M, new_length: M, flags: 3, new_va: W2 + 8n * M }), // moved away, untouched
      map(W2 + 8n * M, M, 0x1f00000n, 5), // a read-only pin where they went: 4 KiB pages
      env('mremap', { va: W2, old_length: M, new_length: 2n * M, flags: 0 }), // grown back into the hole
      wr(W2 + 0x1000n), // a huge page across the old pages and the growth
      refs(W2 + 0x1000n), refs(W2 + M + 0x1000n), refs(W2 + 8n * M + 0x1000n), refs(W2 + 8n * M + 0x1000n, 2),
      map(W2, H, 0x1000000n), map(W2 + 8n * M, M, 0x1400000n),
      refs(W2 + 8n * M + 0x1000n, 2), refs(W2 + 8n * M + 0x1000n, 3),
    ];
    expect(failed(all)).toEqual([9, 13]);
    expect(dirtyMap(all, ['EIO', 'EIO'])).toBe('HH 00 00 00 00 00 00 00');
  });

  it('a piece mprotected or advised apart is a VMA of its own: the huge page across is split there, and none comes after', () => {
    const all = [
      ...across(0n, 1n),
      env('mprotect', { va: V + 0x80000n, length: 0x1000n, prot: 1 }), // the kernel splits the VMA, and the huge entry
      env('mprotect', { va: V + 0x80000n, length: 0x1000n, prot: 3 }), // and back: the VMAs merge, the entry stays split
      madv(V + H + 0x80000n, 0x1000n, 'NOHUGEPAGE'), // the same by an advice
      env('fork', { child: 2 }), env('exit', {}, 2),
      wr(V + 0x20000n), wr(V + H + 0x20000n), wr(V + 2n * H), // through 4 KiB entries: copied; unit 2, mapped whole: reused
      map(V + 0x20000n, 0x1000n, 0x1f00000n), map(V + H + 0x20000n, 0x1000n, 0x1f01000n), map(V + 2n * H, 0x1000n, 0x1f02000n),
      refs(V + 0x20000n, 2), refs(V + H + 0x20000n, 2), refs(V + 2n * H, 2), // 4 KiB copies: counted (EIO); the huge page: not
      refs(V + 0x20000n), refs(V + H + 0x20000n),
      madv(V + 3n * H + 0x10000n, 0x1000n, 'DONTNEED'),
      env('mprotect', { va: V + 3n * H + 0x80000n, length: 0x1000n, prot: 1 }), // apart before the fault: 4 KiB pages
      wr(V + 3n * H + 0x100000n),
      map(V + 3n * H + 0x100000n, 0x1000n, 0x1f03000n), refs(V + 3n * H + 0x100000n, 2),
      map(V, H, 0x1000000n), map(V + H, H, 0x1200000n), map(V + 2n * H, H, 0x1400000n), map(V + 3n * H, H, 0x1600000n), // the last over the read-only page: EFAULT
    ];
    expect(failed(all)).toEqual([16, 17, 25, 29]);
    expect(dirtyMap(all, ['EIO', 'EIO', 'EIO', 'EFAULT'])).toBe('11 11 HH 00 00 00 00 00');
  });

  it('mremap: the old range DONTUNMAP leaves stays part of its VMA, with new pages (a plain move leaves a hole); moves, growth and POPULATE', () => {
    const X = 0x7f0008000000n;
    const dontunmap = [
      env('mmap', { va: X, length: 4n * M, kind: 'private_anon', prot: 3 }),
      madv(X, 4n * M, 'HUGEPAGE'),
      env('mremap', { va: X + 0x40000n, old_length: 0x1000n, new_length: 0x1000n, flags: 7, new_va: W }), // DONTUNMAP of one untouched page
      refs(X + 0xc8000n, 2), // a read fault: the huge zero page over [X, X + 2 MiB), one VMA still (seed 84)
      env('mremap', { va: X + H + 0x40000n, old_length: 0x1000n, new_length: 0x1000n, flags: 7, new_va: W + H }),
      wr(X + H + 0x1000n), // a write fault: a huge page across
      map(X + H + 0x1000n, 0x1000n, 0x1f00000n), refs(X + H + 0x1000n, 2), refs(X + H + 0x40000n, 2),
      env('mremap', { va: X + 0x80000n, old_length: M, new_length: M, flags: 7, new_va: W + 2n * H }), // across the old range: one VMA
      map(X + H, H, 0x1000000n),
    ];
    expect(failed(dontunmap)).toEqual([]);
    const adjacent = [
      env('mmap', { va: X, length: 3n * M, kind: 'private_anon', prot: 3 }),
      madv(X, 3n * M, 'HUGEPAGE'),
      madv(X + 0x210000n, 0x1000n, 'DONTNEED'), // pieces, tagged as one VMA
      env('mremap', { va: X + H, old_length: M, new_length: M, flags: 7, new_va: X + 3n * M }), // DONTUNMAP to right after the VMA
      refs(X + H + 0x1000n, 2), // the old range and the moved pages next to it are two VMAs: no huge zero page across
      refs(X + 3n * M + 0x1000n, 2),
      env('mremap', { va: X + M, old_length: H, new_length: H, flags: 7, new_va: X + 6n * M }), // more pieces, right after those
      refs(X + 6n * M + 0x1000n, 2),
    ];
    expect(failed(adjacent)).toEqual([4, 5, 7]);
    const moved = [
      env('mmap', { va: X, length: 4n * M, kind: 'private_anon', prot: 3 }),
      madv(X, 4n * M, 'HUGEPAGE'),
      env('mremap', { va: X + M, old_length: M, new_length: M, flags: 3, new_va: W }), // a plain move of the second MiB: a hole
      wr(X + 0x1000n), // [X, X + 2 MiB) is not all one VMA's: 4 KiB pages
      map(X + 0x1000n, 0x1000n, 0x1f00000n), refs(X + 0x1000n, 2), refs(X + M + 0x1000n, 2), // counted; nothing mapped there
      env('mremap', { va: X + 0x80000n, old_length: M, new_length: M, flags: 3, new_va: W2 }), // across the hole
      map(X, 2n * H, 0x1000000n),
    ];
    expect(failed(moved)).toEqual([5, 6, 7, 8]);
    expect(runChecked([...setup, ...moved]).results.slice(setup.length).slice(5, 9).map((r) => r.errno)).toEqual(['EIO', 'EFAULT', 'EFAULT', 'EFAULT']);
    const moves = [
      ...across(0n, 1n, 2n, 3n),
      env('mremap', { va: V, old_length: H, new_length: H, flags: 3, new_va: W + 0x1000n }), // unaligned: split, contiguous still
      env('mremap', { va: V + H, old_length: H, new_length: H, flags: 7, new_va: W2 }), // DONTUNMAP, aligned: moved whole
      wr(V + H + 0x3000n), // the old range, three pieces with new pages, of one VMA: a huge page
      env('munmap', { va: V + 2n * H + 0x100000n, length: 0x1000n }), // a hole in unit 2's: split, kept
      env('mremap', { va: V + 3n * H, old_length: H, new_length: 2n * H, flags: 0 }), // no room to grow: ENOMEM
      refs(W + 0x1000n, 0), refs(W + 0x11000n, 0), refs(W2 + 0x10000n, 0), refs(V + H + 0x10000n), refs(V + 2n * H + 0x10000n), refs(V + 3n * H + 0x10000n),
      map(W + 0x1000n, H, 0x1000000n), map(W2, H, 0x1200000n), map(V + H, H, 0x1400000n), map(V + 2n * H, M, 0x1600000n), map(V + 3n * H, H, 0x1800000n),
    ];
    expect(failed(moves)).toEqual([13]);
    expect(dirtyMap(moves, ['ENOMEM'])).toBe('HH HH HH H0 00 00 00 00');
    const growth = [
      env('mmap', { va: W, length: 0x10000n, kind: 'private_anon', prot: 3 }),
      madv(W, 0x10000n, 'HUGEPAGE'),
      wr(W), // 4 KiB (the VMA is too small)
      env('mremap', { va: W, old_length: 0x10000n, new_length: 4n * M, flags: 0 }), // the first 2 MiB: a page table already
      madv(W, 4n * M, 'POPULATE_WRITE'), // the second, all growth: a huge page
      env('mmap', { va: W2, length: 0x10000n, kind: 'private_anon', prot: 3 }),
      madv(W2, 0x10000n, 'HUGEPAGE'),
      env('mremap', { va: W2, old_length: 0x10000n, new_length: 4n * M, flags: 0 }), // untouched: a huge page across
      madv(W2, 4n * M, 'POPULATE_WRITE'),
      refs(W + 0x1000n), refs(W + H, 0), refs(W2 + 0x1000n), refs(W2 + 0x20000n),
      env('fork', { child: 2 }),
      map(W2, 4n * M, 0x1000000n, 7, 2), // the child's pins copy out of the shared huge pages
      map(W, 4n * M, 0x1400000n),
      refs(W2 + 0x1000n, 1, 2), refs(W2 + 0x1000n, 0, 2),
    ];
    expect(failed(growth)).toEqual([9, 17]);
    expect(dirtyMap(growth, ['EIO', 'EIO'])).toBe('11 11 11 11 00 00 00 00');
  });

  it('DONTNEED over many pieces at once, across units, in a child; growth twice, moved whole and in part', () => {
    const X = 0x7f0008000000n;
    const many = [
      madv(V, 16n * M, 'HUGEPAGE'),
      madv(V + 0x10000n, 0x1000n, 'DONTNEED'), madv(V + 0x30000n, 0x1000n, 'DONTNEED'), // unit 0: five pieces
      madv(V, H, 'DONTNEED'), // all of them at once: each a new object
      wr(V + 0x20000n), // a huge page across them
      refs(V + 0x20000n, 2), refs(V + 0x30000n, 2),
      madv(V + H - 0x1000n, 0x2000n, 'DONTNEED'), // across units 0 and 1: unit 0's huge page split
      wr(V + H),
      refs(V + H + 0x1000n, 2), refs(V + H - 0x1000n, 2), refs(V + 0x40000n, 2),
      env('fork', { child: 2 }),
      env('madvise', { va: V + H + 0x80000n, length: 0x1000n, advice: 'DONTNEED' }, 2), // the child's
      wr(V + H + 0x80000n, 16, 2), wr(V + H + 0x90000n, 16, 2), wr(V + H + 0x90000n),
      refs(V + H + 0x80000n, 2, 2), refs(V + H + 0x90000n, 2, 2), refs(V + H + 0x90000n, 2),
      madv(V + 4n * H, H, 'DONTNEED'), madv(V + 4n * H + 0x1000n, 0x1000n, 'DONTNEED'),
      madv(V + 4n * H, H, 'POPULATE_READ'), wr(V + 4n * H + 0x5000n), // the huge zero page across, split by the store
      refs(V + 4n * H + 0x5000n, 2), refs(V + 4n * H + 0x6000n, 2),
      map(V, H, 0x1000000n), map(V + H, H, 0x1200000n), map(V + 4n * H, H, 0x1400000n),
    ];
    expect(failed(many)).toEqual([10, 17, 18, 19, 24, 25]);
    expect(dirtyMap(many, ['EIO', 'EIO', 'EIO', 'EIO', 'EIO', 'EIO'])).toBe('11 11 11 00 00 00 00 00');
    const grown = [
      env('mmap', { va: W, length: 0x80000n, kind: 'private_anon', prot: 3 }),
      madv(W, 0x80000n, 'HUGEPAGE'),
      env('mremap', { va: W, old_length: 0x80000n, new_length: 0x100000n, flags: 0 }),
      env('mremap', { va: W, old_length: 0x100000n, new_length: 0x300000n, flags: 0 }), // three pieces, one VMA
      madv(W + 0x180000n, 0x1000n, 'DONTNEED'),
      wr(W + 0x1000n), // a huge page across four pieces, three objects
      refs(W + 0x1000n, 2), refs(W + 0x80000n, 2), refs(W + 0x180000n, 2),
      env('mremap', { va: W, old_length: 0x300000n, new_length: 0x300000n, flags: 3, new_va: X }), // moved whole, aligned
      refs(X + 0x100000n, 2), refs(X + 0x200000n, 2),
      env('mremap', { va: X, old_length: 0x300000n, new_length: 0x400000n, flags: 0 }), // grown again
      wr(X + 0x300000n), refs(X + 0x300000n, 2), refs(X + 0x201000n, 2),
      env('mremap', { va: X + 0x100000n, old_length: 0x200000n, new_length: 0x200000n, flags: 3, new_va: W2 + 0x100000n }), // part, unaligned
      refs(W2 + 0x100000n, 2), refs(X + 0x1000n, 2),
      map(X, M, 0x1000000n), map(W2 + M, 2n * M, 0x1200000n),
    ];
    expect(failed(grown)).toEqual([11, 14, 15]);
    expect(dirtyMap(grown, ['EIO', 'EIO', 'EIO'])).toBe('H0 00 00 00 00 00 00 00');
  });

  it("fork shares it, pinned or not as a whole (a pin in any piece keeps it the parent's); a second fork copies the parent's copied pages", () => {
    const all = [
      ...across(0n, 1n),
      map(V + H + 0x10000n, 0x1000n, 0x1f00000n), // pinned in its DONTNEED piece: fork copies all of it for the child
      env('fork', { child: 2 }),
      refs(V + 0x10000n, 1, 2), refs(V + H + 0x20000n),
      wr(V + 0x10000n, 16, 2), // the child's store in the shared huge page's DONTNEED piece
      wr(V + 0x20000n), // the parent's in another piece
      env('fork', { child: 3 }),
      map(V, H, 0x1000000n, 7, 3), // the grandchild pins unit 0
      map(V + H, H, 0x1200000n, 7, 2), // the child pins unit 1 (its own copies)
      refs(V + H + 0x10000n, 1, 2), refs(V + H + 0x10000n, 2, 2),
      map(V, H, 0x1400000n), // the parent pins unit 0
    ];
    expect(failed(all)).toEqual([15]);
    expect(dirtyMap(all, ['EIO'])).toBe('11 11 11 00 00 00 00 00');
  });
});

/**
 * MADV_POPULATE_READ / _WRITE (madvise.ts populate), as QEMU preallocates
 * guest RAM: faulted in the way a CPU access faults, so a write gets huge
 * pages and a read the huge zero page. Not modelled until 2026-11-26; the
 * four traces are Linux 6.12.117's answers (107, all agreeing).
 */
describe('MADV_POPULATE_READ / _WRITE (Linux 6.12.117 answers)', () => {
  const errnosOf = (events: Event[]) => runChecked([...setup, ...events]).results.slice(setup.length).map((r) => r.errno);
  const unit = (k: number) => map(V + BigInt(k) * H, H, 0x1000000n + BigInt(k) * H);

  it('a write populates huge pages, a read the huge zero page (which a writable pin or a write then splits)', () => {
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      madv(V, 0x1000n, 'POPULATE_WRITE'), // one page asked for, a huge page got
      madv(V + H, H, 'POPULATE_READ'), // the huge zero page, then a writable pin: 4 KiB
      madv(V + 2n * H + 0x1000n, 0x1000n, 'POPULATE_WRITE'),
      madv(V + 3n * H, H, 'POPULATE_READ'),
      madv(V + 3n * H, 0x1000n, 'POPULATE_WRITE'), // splits the huge zero page: 4 KiB
      madv(V + 4n * H + M, H, 'POPULATE_WRITE'), // across two 2 MiB: both huge
      madv(V + 6n * H, 0n, 'POPULATE_WRITE'), // nothing (the pin makes it huge)
      madv(V + 7n * H + 0x10n, 0x1000n, 'POPULATE_WRITE'), // unaligned: EINVAL (a read-only pin then: 4 KiB)
      ...[0, 1, 2, 3, 4, 5, 6].map(unit),
      map(V + 7n * H, H, 0x1e00000n, 5),
    ];
    expect(dirtyMap(all, ['EINVAL'])).toBe('HH 11 HH 11 HH HH HH 11');
  });

  it('stops at a hole (ENOMEM) or a VMA that refuses the access (EINVAL), keeping the pages it faulted in before', () => {
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      madv(V + 14n * M, 4n * M, 'POPULATE_WRITE'), // ENOMEM at V + 16 MiB, after a huge page at 14 MiB
      madv(V + 16n * M, 0x1000n, 'POPULATE_READ'),
      env('mprotect', { va: V + 12n * M, length: H, prot: 1 }),
      madv(V + 12n * M, H, 'POPULATE_WRITE'), // read-only: EINVAL
      madv(V + 11n * M, 2n * M, 'POPULATE_WRITE'), // EINVAL at 12 MiB, after a huge page at 10 MiB
      madv(V + 12n * M, H, 'POPULATE_READ'), // the huge zero page
      env('mprotect', { va: V + 12n * M, length: H, prot: 3 }),
      env('mprotect', { va: V + 8n * M, length: H, prot: 0 }),
      madv(V + 8n * M, 0x1000n, 'POPULATE_READ'), // PROT_NONE: EINVAL
      madv(V + 6n * M, 4n * M, 'POPULATE_READ'), // EINVAL at 8 MiB, after the huge zero page at 6 MiB
      env('mprotect', { va: V + 8n * M, length: H, prot: 3 }),
      ...[0, 1, 2, 3, 4, 5, 6, 7].map(unit),
    ];
    expect(errnosOf(all).slice(0, 12)).toEqual([0, 'ENOMEM', 'ENOMEM', 0, 'EINVAL', 'EINVAL', 0, 0, 0, 'EINVAL', 'EINVAL', 0]);
    expect(dirtyMap(all, ['ENOMEM', 'ENOMEM', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL'])).toBe('HH HH HH 11 HH HH 11 HH');
  });

  it('after fork: a populating write copies out of a huge page the other process maps, and the last mapper takes it back whole', () => {
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      ...[0, 1, 2, 3, 4].map((k) => wr(V + BigInt(k) * H, 4)),
      env('fork', { child: 2 }),
      env('madvise', { va: V, length: 0x1000n, advice: 'POPULATE_WRITE' }, 2), // the child copies one page
      env('madvise', { va: V + H, length: H, advice: 'POPULATE_READ' }, 2), // nothing
      env('madvise', { va: V + 2n * H, length: H, advice: 'POPULATE_WRITE' }, 2), // the child copies every page
      madv(V + 3n * H, H, 'POPULATE_WRITE'), // the parent copies every page of its own
      env('madvise', { va: V + 5n * H, length: H, advice: 'POPULATE_READ' }, 2), // the child's huge zero page
      env('madvise', { va: V + 6n * H, length: H, advice: 'POPULATE_WRITE' }, 2), // the child's own huge page
      ...[0, 1, 2, 3, 4, 5, 6, 7].map(unit),
    ];
    // the parent's pins: a copy where the child still maps the huge page (units 0, 1, 4) or where it
    // copied itself (3); the huge page back whole where the child copied all of it out (2)
    expect(dirtyMap(all)).toBe('11 11 HH 11 11 HH HH HH');
  });

  it('a page past the end of a file is EFAULT (SIGBUS), after the pages before it, of this VMA and of the ones before', () => {
    const W = 0x7f0004000000n;
    const F = 0x7f0006000000n;
    const all = [
      env('mmap', { va: W, length: H, kind: 'private_anon', prot: 3 }),
      madv(W, H, 'HUGEPAGE'),
      env('memfd_create', { name: 'ram' }), // fd 1
      env('ftruncate', { fd: 1, length: 0x1800n }), // two pages, the second in part
      env('mmap', { va: W + H, length: 0x10000n, kind: 'memfd', prot: 3, fd: 1, offset: 0n }),
      madv(W, H + 0x10000n, 'POPULATE_WRITE'), // EFAULT at W + H + 8 KiB; W's huge page stays
      madv(W + H, 0x2000n, 'POPULATE_READ'),
      madv(W + H + 0x1000n, 0x2000n, 'POPULATE_WRITE'),
      madv(W + H + 0x2000n, 0x1000n, 'POPULATE_READ'),
      env('mmap', { va: F, length: 0x4000n, kind: 'file_private', prot: 3, fd: 1, offset: 0n }),
      madv(F, 0x4000n, 'POPULATE_READ'),
      madv(F, 0x2000n, 'POPULATE_WRITE'),
      map(W, H, 0x1000000n),
    ];
    expect(errnosOf(all)).toEqual([0, 0, 0, 0, 0, 'EFAULT', 0, 'EFAULT', 'EFAULT', 0, 'EFAULT', 0, 0]);
    expect(dirtyMap(all, ['EFAULT', 'EFAULT', 'EFAULT', 'EFAULT'])).toBe('HH 00 00 00 00 00 00 00');
  });
});

/**
 * An ioctl that fails after its pins faulted user memory in drops the pins,
 * but the page-table entries (and huge pages, and a private file mapping's
 * unshared copies) those faults made stay, and decide what a later pin
 * there gets (Tx.failed). Until 2026-11-26 the model dropped them with the
 * rest; the traces are Linux 6.12.117's answers (107 compared, all agreeing).
 */
describe('a failed ioctl keeps what its faults filled in (Linux 6.12.117 answers)', () => {
  const errnosOf = (events: Event[]) => runChecked([...setup, ...events]).results.slice(setup.length).map((r) => r.errno);
  const unit = (k: number, flags = 7) => map(V + BigInt(k) * H, H, 0x1000000n + BigInt(k) * H, flags);

  it('IOAS_MAP stopped by a hole (EFAULT): a read-only pin left 4 KiB page tables, a writable one huge pages', () => {
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      env('munmap', { va: V + 2n * H, length: H }),
      env('munmap', { va: V + 5n * H, length: H }),
      map(V, 3n * H, 0x1000000n, 5), // read-only: EFAULT at unit 2, after units 0 and 1
      map(V + 3n * H, 3n * H, 0x1600000n), // writable: EFAULT at unit 5, after units 3 and 4
      env('mmap', { va: V + 2n * H, length: H, kind: 'private_anon', prot: 3 }),
      env('mmap', { va: V + 5n * H, length: H, kind: 'private_anon', prot: 3 }),
      unit(0), // 4 KiB: the failed read-only pin's page table
      unit(1),
      unit(2), // a new mapping, not advised: 4 KiB
      unit(3, 5), // huge: the failed writable pin's huge page, now pinned read-only
      unit(4, 5),
      unit(5),
      unit(6),
      unit(7),
    ];
    expect(dirtyMap(all, ['EFAULT', 'EFAULT'])).toBe('11 11 11 HH HH 11 HH HH');
  });

  it("IOAS_COPY into a domain and VFIO's MAP_DMA, each stopped by a hole (EFAULT), keep their pins' faults", () => {
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }), // 6: no domain, so its maps pin nothing
      io('IOMMU_IOAS_MAP', { flags: 5, ioas_id: 6, __reserved: 0, user_va: V, length: 3n * H, iova: 0x1000000n }),
      env('munmap', { va: V + 2n * H, length: H }),
      // into IOAS 1's domains: read-only pins of units 0 and 1, then the hole
      io('IOMMU_IOAS_COPY', { flags: 5, dst_ioas_id: 1, src_ioas_id: 6, length: 3n * H, dst_iova: 0x3000000n, src_iova: 0x1000000n }),
      io('IOMMU_VFIO_IOAS', { ioas_id: 1, op: 1, __reserved: 0 }),
      io('VFIO_SET_IOMMU', { arg: 3n }), // type1v2: large pages stay allowed
      env('munmap', { va: V + 5n * H, length: H }),
      // writable pins of units 3 and 4, then the hole
      io('VFIO_IOMMU_MAP_DMA', { argsz: 32, flags: 3, vaddr: V + 3n * H, iova: 0x4000000n, size: 3n * H }),
      env('mmap', { va: V + 2n * H, length: H, kind: 'private_anon', prot: 3 }),
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n),
      map(V + 3n * H, H, 0x1400000n, 5),
      map(V + 4n * H, H, 0x1600000n, 5),
      map(V + 6n * H, H, 0x1800000n),
    ];
    expect(dirtyMap(all, ['EFAULT', 'EFAULT'])).toBe('11 11 HH HH HH 00 00 00');
  });

  it("a program's stores stopped by a page they cannot write (EFAULT) keep the bytes before, and their faults", () => {
    const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      env('munmap', { va: V + 2n * H, length: H }),
      env('write_memory', { va: V + 2n * H - 16n, data: bytes(32, 1) }), // 16 bytes in, then the hole
      env('read_memory', { va: V + 2n * H - 16n, length: 16n }),
      env('munmap', { va: V + 5n * H, length: H }),
      env('memset', { va: V + 5n * H - 0x800n, length: 0x1000n, byte: 0x5a }),
      env('read_memory', { va: V + 5n * H - 0x800n, length: 0x800n }),
      env('mprotect', { va: V + 7n * H, length: 0x1000n, prot: 1 }),
      env('fill_memory', { va: V + 7n * H - 0x100n, length: 0x200n, pattern: { seed: 7 } }), // up to the read-only page
      env('read_memory', { va: V + 7n * H - 0x100n, length: 0x100n }),
      env('write_memory', { va: V + 4n * H - 8n, data: bytes(16, 2) }),
      map(V, H, 0x1000000n),
      map(V + H, H, 0x1200000n, 5), // read-only pins of the huge pages the stores before the holes faulted in
      map(V + 3n * H, H, 0x1400000n, 5),
      map(V + 4n * H, H, 0x1600000n, 5),
      map(V + 6n * H, H, 0x1800000n, 5),
    ];
    const results = runChecked([...setup, ...all]).results.slice(setup.length);
    expect(results.map((r) => r.errno).filter((e) => e !== 0)).toEqual(['EFAULT', 'EFAULT', 'EFAULT']);
    expect(results[3]!.bufs?.['data']).toEqual(bytes(16, 1));
    expect(results[6]!.bufs?.['data']).toEqual(new Uint8Array(0x800).fill(0x5a));
    // (the scenario format's mix32 pattern: byte k is the top byte of (seed + k) * 0x9e3779b1 mod 2^32)
    expect(results[9]!.bufs?.['data']).toEqual(Uint8Array.from({ length: 0x100 }, (_, k) => Number((BigInt(Math.imul(7 + k, 0x9e3779b1) >>> 0) >> 24n) & 0xffn)));
    expect(dirtyMap(all, ['EFAULT', 'EFAULT', 'EFAULT'])).toBe('HH HH HH HH HH 00 00 00');
  });

  it('over the rlimit (ENOMEM), a domain attach that cannot pin (EFAULT), a private file mapping unshared before a hole', () => {
    const F = 0x7f0006000000n;
    const P = F + M;
    const bytes = (seed: number) => Uint8Array.from({ length: 16 }, (_, i) => (i * 7 + seed) & 0xff);
    const all = [
      madv(V, 16n * M, 'HUGEPAGE'),
      env('drop_capability', { cap: 'CAP_IPC_LOCK' }),
      env('set_rlimit_memlock', { pages: 256n }),
      unit(0), // ENOMEM after pinning its 512 pages: the huge page stays
      env('set_rlimit_memlock', { pages: null }),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }), // 6
      io('IOMMU_IOAS_MAP', { flags: 5, ioas_id: 6, __reserved: 0, user_va: V + H, length: 2n * H, iova: 0x1000000n }),
      env('munmap', { va: V + 2n * H, length: H }),
      io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 6, mock_domain: {} }), // EFAULT at unit 2, after a read-only pin of unit 1
      env('mmap', { va: V + 2n * H, length: H, kind: 'private_anon', prot: 3 }),
      env('memfd_create', { name: 'ram' }),
      env('ftruncate', { fd: 1, length: 0x4000n }),
      env('mmap', { va: F, length: 0x4000n, kind: 'memfd', prot: 3, fd: 1, offset: 0n }),
      env('mmap', { va: P, length: 0x2000n, kind: 'file_private', prot: 3, fd: 1, offset: 0n }),
      env('write_memory', { va: F, data: bytes(1) }),
      map(P, 0x3000n, 0x3000000n), // EFAULT at P + 8 KiB, after unsharing pages 0 and 1
      env('write_memory', { va: F, data: bytes(2) }),
      env('write_memory', { va: F + 0x1000n, data: bytes(3) }),
      env('read_memory', { va: P, length: 16n }), // 18: the copy the failed pin made
      env('read_memory', { va: P + 0x1000n, length: 16n }),
      unit(0, 5), // huge: the page the failed pin faulted in
      unit(1), // 4 KiB: the failed attach's read-only pin
      ...[2, 3, 4, 5, 6, 7].map((k) => unit(k)),
    ];
    const results = runChecked([...setup, ...all]).results.slice(setup.length);
    expect(results.map((r) => r.errno).filter((e) => e !== 0)).toEqual(['ENOMEM', 'EFAULT', 'EFAULT']);
    expect(results[18]!.bufs?.['data']).toEqual(bytes(1));
    expect(results[19]!.bufs?.['data']).toEqual(new Uint8Array(16));
    expect(dirtyMap(all, ['ENOMEM', 'EFAULT', 'EFAULT'])).toBe('HH 11 11 HH HH HH HH HH');
  });
});

/**
 * A huge page over a piece mremap moved out of an object that has a huge
 * page further on (#52, oracle fuzz seed 120): the moved piece's folio
 * would overlap that one in the object's indices, so the empty piece moves
 * onto an object of its own first (huge_memory.ts ownObject). The pin may be
 * in the growth (hp_moved) or in the moved piece itself (hp_moved_pin_in);
 * a piece that had a page (hp_moved_touched) keeps 4 KiB pages, as in the
 * kernel. Each trace ran whole on Linux 6.12.117; the first two diverged
 * from the model before.
 */
kernelTraceSuite('a huge page over a piece moved out of a huge-paged object (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'huge_moved'), 3, 4);

/**
 * mremap(MAYMOVE | FIXED | DONTUNMAP) of a transparent huge page
 * (huge_memory.ts move; move_page_tables, move_huge_pmd): moved whole
 * between 2 MiB-aligned addresses, the huge entry goes along and the old
 * range's PMD is left empty, so its next fault gets a huge page again
 * (pm_whole); moved to an address 1 MiB off or only in part, the entry is
 * split and the old range keeps its page table, so its next fault gets
 * 4 KiB pages (pm_offset, pm_part). Seen through a HUGE_IOVA mock domain's
 * dirty bits (1 MiB IOPTEs over huge pages). The kernel-checked sequences
 * above move one whole too, but look only at where it went. Each trace ran
 * on Linux 6.12.117 (session 22) and the model gave every answer.
 */
// (and, from session 29, the huge zero page's entry moved whole, and a page table moved whole, which
// leaves MREMAP_DONTUNMAP's old range without one: five of those six diverged before; two are random)
kernelTraceSuite('a huge page moved by mremap, whole or split (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'pmd_move'), 9, 6);
// MADV_PAGEOUT of a huge page it covers whole sends it to reclaim, which, with no swap, splits it
// (COLD only ages it; a pinned one stays whole); MADV_DONTNEED over a huge page across two pieces
// of one kernel VMA empties its entry, so the next write fault gets a huge page again. Eight of
// the ten diverged before session 29 (found by random sequences over private THP memory). Session 30
// (#90): a huge page that MADV_COLD splits, all its pages zero so all of them leave it, must not take
// with it the copied-out pages of the next huge page in the object (a random sequence over huge pages
// fork shared, and a hand-written one: both diverged before). #91: MADV_COLD over all of a huge page
// mapped by 4 KiB entries across the pieces the model keeps of one kernel VMA (two pages moved away
// and back) leaves it whole, as within one piece; over part of it, or across VMAs an mprotect made,
// splits it (a random sequence over huge page boundaries and a hand-written one, both diverging before).
// #95: nor is a huge page with a hole DONTNEED made (the model's piece of new pages there holds none of
// it) in one run of entries: split (cold_splits_past_a_hole; random_pieces_z955_2102). #96: nor one that an
// munmap left in two VMAs, the walk going VMA by VMA (cold_splits_across_vmas; random_pieces_z982_2904).
// Session 32 (#106): a huge page across the model's pieces (a DONTNEED's new pages at its first page)
// whose first page mremap moved away is still one folio: COLD or PAGEOUT of the rest, or COLD of the
// moved page, splits it everywhere, the moved page included, unless a page of it is pinned
// (moved_piece_*, random_locks_t2502x3_0721: five diverged before; moved_page_cold_rest, one object, did not).
// #107: a pinned page a DONTNEED zapped still keeps its huge page from splitting, also where the page's
// object is mapped nowhere any more (the huge page across pieces): cold_pinned_zapped_piece and
// exhaustive_e4l6_0310874668 diverged before; cold_pinned_zapped, pageout_pinned_zapped (one object) and
// cold_pinned_zapped_unpinned did not.
kernelTraceSuite('huge pages paged out, and zapped across pieces (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'thp_reclaim'), 29, 6);
