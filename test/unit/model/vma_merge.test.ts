/**
 * VMA merging of private anonymous memory (src/model/vma_merge.ts), seen
 * where iommufd users meet it: whether mremap may cross two mappings, and
 * whether a huge page (or the huge zero page) may span them. Until
 * 2026-11-27 the model kept every mmap a VMA of its own and answered an
 * mremap across two as not modelled. Every answer below is what Linux
 * 6.12.117 gave to the same calls, each trace run there whole (fifty-one
 * traces, 655 answers, all agreeing with the model).
 *
 * (Not here: a store before MADV_HUGEPAGE, then a check of the 2 MiB. The
 * kernel's khugepaged may collapse such a range into a huge page in the
 * background, at a time the trace does not show; the oracle answered one
 * such trace both ways.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { kernelTraceSuite, runChecked } from './checked_run.js';

const M = 0x100000n;
const X = 0x7f0008000000n;
const Y = 0x7f000a000000n;
const Z = 0x7f000e000000n;
const env = (op: string, args: Fields, pid = 1): Event => ({ op, pid, args });
const io = (op: string, args: Fields, pid = 1): Event => ({ op, pid, fd: 0, args });
const wr = (va: bigint) => env('write_memory', { va, data: Uint8Array.from({ length: 16 }, (_, i) => (i * 7 + 3) & 0xff) });
const madv = (va: bigint, length: bigint, advice: string) => env('madvise', { va, length, advice });
const refs = (uptr: bigint, n: number) => io('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length: 0x1000n, uptr, refs: n } });
const mm = (va: bigint, length: bigint, prot = 3, pid = 1) => env('mmap', { va, length, kind: 'private_anon', prot }, pid);
const prot = (va: bigint, length: bigint, p: number) => env('mprotect', { va, length, prot: p });
/** A move of 1 MiB from `va` across the boundary at the MiB after it: EFAULT unless one VMA. */
const across = (va: bigint, pid = 1) => env('mremap', { va, old_length: M, new_length: M, flags: 3, new_va: Z }, pid);

const setup: Event[] = [
  env('open', { path: '/dev/iommu' }),
  env('mmap', { va: 0x7f0000400000n, length: 16n * M, kind: 'private_anon', prot: 3 }),
  env('mmap', { va: 0x7f0002000000n, length: M, kind: 'private_anon', prot: 3 }),
  io('IOMMU_IOAS_ALLOC', { flags: 0 }),
  io('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', { id: 1, mock_domain_flags: { dev_flags: 2 } }),
  io('IOMMU_HWPT_ALLOC', { flags: 2, dev_id: 3, pt_id: 1, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0, __reserved2: 0 }),
  io('IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: 5, __reserved: 0 }),
];

/** The errnos that are not 0, by index after the setup (and any answer the model marks as not modelled). */
function failures(events: Event[]): Record<number, string> {
  const out: Record<number, string> = {};
  runChecked([...setup, ...events]).results.slice(setup.length).forEach((r, i) => {
    if (r.errno || r.unmodelled) out[i] = r.unmodelled ? `not modelled: ${r.unmodelled}` : String(r.errno);
  });
  return out;
}

describe('a new mapping merges with its neighbours (Linux 6.12.117 answers)', () => {
  it.each<[string, Event[], Record<number, string>]>([
    ['after a touched one (it has an anon_vma of its own)', [mm(Y, M), wr(Y), mm(Y + M, M), across(Y + 0x80000n)], {}],
    ['before a touched one', [mm(Y + M, M), wr(Y + M), mm(Y, M), across(Y + 0x80000n)], {}],
    ['between two touched ones (two anon_vmas): with the one before only', [mm(Y, M), wr(Y), mm(Y + 2n * M, M), wr(Y + 2n * M), mm(Y + M, M), env('mremap', { va: Y + 0x80000n, old_length: 2n * M, new_length: 2n * M, flags: 3, new_va: Z })], { 5: 'EFAULT' }],
    ['not with another protection', [mm(Y, M, 1), mm(Y + M, M), across(Y + 0x80000n)], { 2: 'EFAULT' }],
    ['not with other advice flags', [mm(Y, M), madv(Y, M, 'HUGEPAGE'), mm(Y + M, M), across(Y + 0x80000n)], { 3: 'EFAULT' }],
    ['after one moved before it was touched (its page offset follows it)', [mm(Y, M), env('mremap', { va: Y, old_length: M, new_length: M, flags: 3, new_va: X }), mm(X + M, M), across(X + 0x80000n)], {}],
    ["not after a forked child's touched one (its anon_vma chain holds its parent's)", [mm(Y, M), wr(Y), env('fork', { child: 2 }), mm(Y + M, M, 3, 2), across(Y + 0x80000n, 2)], { 4: 'EFAULT' }],
    ['untouched, advised: the huge zero page across both', [mm(Y, M), mm(Y + M, M), madv(Y, 2n * M, 'HUGEPAGE'), refs(Y + M + 0x1000n, 2)], {}],
    ['not advised: 4 KiB pages', [mm(Y, M), wr(Y), mm(Y + M, M), refs(Y + M + 0x1000n, 2)], { 3: 'EIO' }],
    ['advised, a store: a huge page across both', [mm(X, M), mm(X + M, M), madv(X, 2n * M, 'HUGEPAGE'), wr(X + 0x1000n), refs(X + 0x1000n, 2), refs(X + M + 0x1000n, 2)], {}],
  ])('%s', (_name, events, want) => {
    expect(failures(events)).toEqual(want);
  });
});

describe('merging with fork, moves, growth and mappings over a part (Linux 6.12.117 answers)', () => {
  const wrIn = (va: bigint, pid: number) => env('write_memory', { va, data: new Uint8Array([1, 2, 3]) }, pid);
  it.each<[string, Event[], Record<number, string>]>([
    ["a child's new mapping after one it inherited untouched (no anon_vma: nothing to chain)", [mm(Y, M), env('fork', { child: 2 }), mm(Y + M, M, 3, 2), across(Y + 0x80000n, 2)], {}],
    ["the parent's after fork (its chain is still its own)", [mm(Y, M), wr(Y), env('fork', { child: 2 }), mm(Y + M, M), across(Y + 0x80000n)], {}],
    ['merged, split across the boundary by mprotect, rejoined', [mm(Y, M), mm(Y + M, M), wr(Y), wr(Y + M), prot(Y + 0x80000n, M, 1), prot(Y + 0x80000n, M, 3), across(Y + 0x40000n)], {}],
    ['a mapping over the middle of a touched one merges with what is left before it', [mm(Y, 2n * M), wr(Y), wr(Y + M + 0x80000n), mm(Y + 0x80000n, M), across(Y + 0x40000n)], {}],
    ['over the middle of an untouched one; a move leaves a hole', [mm(Y, 2n * M), mm(Y + 0x80000n, M), across(Y + 0x40000n), mm(X, M), env('mremap', { va: Y + M, old_length: 0x80000n, new_length: 0x80000n, flags: 3, new_va: Z })], { 4: 'EFAULT' }],
    ['a touched one moved keeps its page offset: nothing after it merges', [mm(Y, M), wr(Y), env('mremap', { va: Y, old_length: M, new_length: M, flags: 3, new_va: X }), mm(X + M, M), across(X + 0x80000n)], { 4: 'EFAULT' }],
    ['merged, grown in place, then another after it', [mm(Y, M), mm(Y + M, M), env('mremap', { va: Y, old_length: 2n * M, new_length: 3n * M, flags: 0 }), mm(Y + 3n * M, M), across(Y + 0x280000n)], {}],
    ['both DONTFORK', [mm(Y, M), madv(Y, M, 'DONTFORK'), mm(Y + M, M), madv(Y + M, M, 'DONTFORK'), env('fork', { child: 2 }), across(Y + 0x80000n)], {}],
    ['after fork and the child gone', [mm(Y, M), wr(Y), env('fork', { child: 2 }), env('exit', {}, 2), mm(Y + M, M), across(Y + 0x80000n)], {}],
    // a whole VMA moved with DONTUNMAP: the one it leaves has no anon_vma, and its address as page offset (move_vma)
    ['after a touched VMA moved whole with DONTUNMAP', [mm(X, M), wr(X), env('mremap', { va: X, old_length: M, new_length: M, flags: 7, new_va: Y }), mm(X + M, M), across(X + 0x80000n)], {}],
    ['the same, touched again', [mm(X, M), wr(X), env('mremap', { va: X, old_length: M, new_length: M, flags: 7, new_va: Y }), wr(X), mm(X + M, M), across(X + 0x80000n)], {}],
    ['before one', [mm(X + M, M), wr(X + M), env('mremap', { va: X + M, old_length: M, new_length: M, flags: 7, new_va: Y }), mm(X, M), across(X + 0x80000n)], {}],
    ['part of a VMA moved with DONTUNMAP: the rest keeps its anon_vma', [mm(X, 2n * M), wr(X), env('mremap', { va: X, old_length: M, new_length: M, flags: 7, new_va: Y }), mm(X + 2n * M, M), across(X + M + 0x80000n)], {}],
    [
      'a touched VMA moved (its page offset kept), then moved whole with DONTUNMAP (reset to its address)',
      [mm(Y, M), wr(Y), env('mremap', { va: Y, old_length: M, new_length: M, flags: 3, new_va: X }), env('mremap', { va: X, old_length: M, new_length: M, flags: 7, new_va: 0x7f0004000000n }), mm(X + M, M), across(X + 0x80000n)],
      {},
    ],
    ['the same without the DONTUNMAP move', [mm(Y, M), wr(Y), env('mremap', { va: Y, old_length: M, new_length: M, flags: 3, new_va: X }), mm(X + M, M), across(X + 0x80000n)], { 4: 'EFAULT' }],
    ["in a child: a new mapping after its own new one", [mm(Y, M), wr(Y), env('fork', { child: 2 }), wrIn(Y, 2), mm(Y + M, M, 3, 2), wrIn(Y + M, 2), mm(Y + 2n * M, M, 3, 2), across(Y + M + 0x80000n, 2)], {}],
  ])('%s', (_name, events, want) => {
    expect(failures(events)).toEqual(want);
  });
});

describe('an mprotect or madvise that makes neighbours alike merges them (Linux 6.12.117 answers)', () => {
  it.each<[string, Event[], Record<number, string>]>([
    ['made writable like the one before', [mm(Y, M), mm(Y + M, M, 1), prot(Y + M, M, 3), across(Y + 0x80000n)], {}],
    ['made writable after the one before was touched', [mm(Y, M), wr(Y), mm(Y + M, M, 1), prot(Y + M, M, 3), across(Y + 0x80000n)], {}],
    ['then touched', [mm(Y, M), mm(Y + M, M, 1), prot(Y + M, M, 3), wr(Y + M), across(Y + 0x80000n)], {}],
    // mprotect_fixup drops VM_ACCOUNT when untouched anonymous memory is made unwritable
    ['the writable one made read-only, untouched: it loses VM_ACCOUNT and merges', [mm(Y, M), mm(Y + M, M, 1), prot(Y + M, M, 1), prot(Y, M, 1), across(Y + 0x80000n)], {}],
    ['the same after a store that missed', [mm(Y, M, 1), wr(Y + M + 0x1000n), mm(Y + M, M), prot(Y + M, M, 1), across(Y + 0x80000n)], { 1: 'EFAULT' }],
    ['both advised', [mm(Y, M), madv(Y, M, 'HUGEPAGE'), mm(Y + M, M), madv(Y + M, M, 'HUGEPAGE'), across(Y + 0x80000n)], {}],
    ['both touched, the second read-only until then', [mm(Y, M), wr(Y), mm(Y + M, M, 1), wr(Y + M), prot(Y + M, M, 3), wr(Y + M + 0x1000n), across(Y + 0x80000n)], { 3: 'EFAULT' }],
    [
      'both touched (two anon_vmas), advised alike',
      [mm(Y, M), wr(Y), mm(Y + M, M), madv(Y + M, M, 'HUGEPAGE'), wr(Y + M), madv(Y + M, M, 'NOHUGEPAGE'), madv(Y + M, M, 'HUGEPAGE'), prot(Y, M, 3), madv(Y, M, 'HUGEPAGE'), across(Y + 0x80000n)],
      {},
    ],
    ['one mapping split by mprotect and made whole again', [mm(Y, 2n * M), wr(Y), wr(Y + M), prot(Y + M, M, 1), prot(Y + M, M, 3), across(Y + 0x80000n)], {}],
    ['merged, its second MiB moved away, the hole mapped again', [mm(Y, M), mm(Y + M, M), env('mremap', { va: Y + M, old_length: M, new_length: M, flags: 3, new_va: X }), mm(Y + M, M), across(Y + 0x80000n)], {}],
  ])('%s', (_name, events, want) => {
    expect(failures(events)).toEqual(want);
  });

  it.each<[string, Event[], Record<number, string>]>([
    ['an mprotect stopped by a hole (ENOMEM) keeps the merges it made before', [mm(Y, M, 1), mm(Y + M, M), prot(Y, 3n * M, 3), across(Y + 0x80000n)], { 2: 'ENOMEM' }],
    ['a madvise stopped by a hole the same', [mm(Y, M), madv(Y, M, 'HUGEPAGE'), mm(Y + M, M), madv(Y + M, 2n * M, 'HUGEPAGE'), across(Y + 0x80000n)], { 3: 'ENOMEM' }],
    ['the middle one made alike: all three merge', [mm(Y, M), mm(Y + M, M, 1), mm(Y + 2n * M, M), prot(Y + M, M, 3), env('mremap', { va: Y + 0x80000n, old_length: 2n * M, new_length: 2n * M, flags: 3, new_va: Z })], {}],
    [
      'the same between two touched ones (two anon_vmas): with the one before only',
      [mm(Y, M), wr(Y), mm(Y + M, M, 1), mm(Y + 2n * M, M), wr(Y + 2n * M), prot(Y + M, M, 3), env('mremap', { va: Y + 0x80000n, old_length: 2n * M, new_length: 2n * M, flags: 3, new_va: Z }), across(Y + 0x80000n)],
      { 6: 'EFAULT' },
    ],
    ['a store into the read-only one fails and touches nothing', [mm(Y, M), mm(Y + M, M, 1), wr(Y + M), prot(Y + M, M, 3), across(Y + 0x80000n)], { 2: 'EFAULT' }],
    ['VM_ACCOUNT dropped (untouched, made read-only) and gained back', [mm(Y, M), prot(Y, M, 1), prot(Y, M, 3), mm(Y + M, M), across(Y + 0x80000n)], {}],
    ['VM_ACCOUNT gained by mprotect', [mm(Y, M, 1), prot(Y, M, 3), mm(Y + M, M), across(Y + 0x80000n)], {}],
    ['POPULATE_READ of unadvised memory maps 4 KiB zero pages: no anon_vma, VM_ACCOUNT dropped', [mm(Y, M), madv(Y, M, 'POPULATE_READ'), mm(Y + M, M), prot(Y, 2n * M, 1), across(Y + 0x80000n)], {}],
    ['POPULATE_WRITE gives it an anon_vma: VM_ACCOUNT kept, no merge', [mm(Y, M), madv(Y, M, 'POPULATE_WRITE'), prot(Y, M, 1), mm(Y + M, M, 1), across(Y + 0x80000n)], { 4: 'EFAULT' }],
  ])('%s', (_name, events, want) => {
    expect(failures(events)).toEqual(want);
  });

  it('three mmaps merged into one VMA, advised: huge pages across them, then DONTNEED, COLD, fork, growth', () => {
    const events = [
      mm(Y, M),
      mm(Y + M, M),
      mm(Y + 2n * M, 2n * M),
      madv(Y, 4n * M, 'HUGEPAGE'),
      wr(Y + 0x1000n),
      wr(Y + 3n * M),
      madv(Y + 0x80000n, 0x1000n, 'DONTNEED'),
      madv(Y + 2n * M, 2n * M, 'COLD'),
      env('fork', { child: 2 }),
      wr(Y + 2n * M + 0x5000n),
      env('mremap', { va: Y, old_length: 4n * M, new_length: 6n * M, flags: 0 }),
      wr(Y + 5n * M),
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: Y, length: 6n * M, iova: 0x1000000n }),
      refs(Y + 0x1000n, 2),
      refs(Y + M + 0x1000n, 2),
      refs(Y + 2n * M + 0x5000n, 1),
      refs(Y + 5n * M, 2),
    ];
    expect(failures(events)).toEqual({ 13: 'EIO', 14: 'EIO' });
  });

  it.each<[string, Event[], Record<number, string>]>([
    // (the model keeps such a VMA as pieces of one object; the huge-page rules must take them for one)
    ['an undone mprotect leaves one VMA: a store gets a huge page across the pieces', [mm(Y, 2n * M), madv(Y, 2n * M, 'HUGEPAGE'), prot(Y + M, 0x10000n, 1), prot(Y + M, 0x10000n, 3), wr(Y + 0x20000n), refs(Y + 0x20000n, 2), refs(Y + M + 0x8000n, 2)], {}],
    ['and a read the huge zero page', [mm(Y, 2n * M), madv(Y, 2n * M, 'HUGEPAGE'), prot(Y + M, 0x10000n, 1), prot(Y + M, 0x10000n, 3), refs(Y + M + 0x8000n, 2), refs(Y + 0x1000n, 2)], {}],
  ])('%s', (_name, events, want) => {
    expect(failures(events)).toEqual(want);
  });

  it('a DONTNEED in a mapping that an undone mprotect left in pieces: the pieces are one VMA, and a store gets a huge page across them', () => {
    const events = [
      mm(Y, 2n * M),
      madv(Y, 2n * M, 'HUGEPAGE'),
      prot(Y + M, 0x10000n, 1),
      prot(Y + M, 0x10000n, 3),
      madv(Y + 0x10000n, 0x1000n, 'DONTNEED'),
      wr(Y + 0x20000n),
      refs(Y + 0x20000n, 2),
      refs(Y + M + 0x8000n, 2),
      refs(Y + 0x10000n, 2),
    ];
    expect(failures(events)).toEqual({});
  });

  it('a DONTUNMAP move of a range across two merged mmaps (pieces whose offsets do not line up): new pages in each, one VMA still', () => {
    const events = [
      mm(Y, M),
      mm(Y + M, M),
      madv(Y, 2n * M, 'HUGEPAGE'),
      wr(Y + 0x1000n),
      env('mremap', { va: Y + 0x80000n, old_length: M, new_length: M, flags: 7, new_va: 0x7f0004000000n }),
      refs(Y + 0x1000n, 2),
      refs(Y + 0x90000n, 2),
      wr(Y + 0x90000n),
      refs(Y + 0x90000n, 2),
      refs(0x7f0004001000n, 2),
      env('mremap', { va: Y + 0x40000n, old_length: M, new_length: M, flags: 3, new_va: Z }),
    ];
    expect(failures(events)).toEqual({ 6: 'EIO', 8: 'EIO' });
  });

  it('a DONTUNMAP move next to the VMA it left does not merge with it (copy_vma keeps the two apart)', () => {
    const events = [
      mm(X, 3n * M),
      madv(X, 3n * M, 'HUGEPAGE'),
      madv(X + 0x210000n, 0x1000n, 'DONTNEED'),
      env('mremap', { va: X + 2n * M, old_length: M, new_length: M, flags: 7, new_va: X + 3n * M }),
      wr(X + 2n * M + 0x1000n), // two VMAs over [X + 2 MiB, X + 4 MiB): 4 KiB pages
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: X + 2n * M + 0x1000n, length: 0x1000n, iova: 0x1f00000n }),
      refs(X + 2n * M + 0x1000n, 2),
      refs(X + 3n * M + 0x1000n, 2),
      env('mremap', { va: X + 0x280000n, old_length: M, new_length: M, flags: 3, new_va: 0x7f000c000000n }),
    ];
    expect(failures(events)).toEqual({ 6: 'EIO', 7: 'EIO', 8: 'EFAULT' });
  });
});

/**
 * A maps snapshot over memory the process already has gives it the
 * snapshot's protection as an mprotect would (the oracle's executor makes
 * that mprotect): VM_ACCOUNT as mprotect_fixup sets and clears it, and the
 * VMAs that changed merge with neighbours that now agree. Found by oracle
 * fuzz seed 117 (test/oracle/regressions): the model had overwritten the
 * protection alone, and kept three VMAs where the kernel merged them. Each
 * trace ran whole on Linux 6.12.117; three diverged from the model before.
 */
kernelTraceSuite('a maps snapshot re-protects as mprotect (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'maps_reprotect'), 4, 1);

/**
 * The order of merges (oracle seeds 205 and 208, docs/oracle.md #76, #77):
 * mprotect over several VMAs merges each changed one with what lies before
 * it when the walk reaches it, and is_mergeable_anon_vma is not symmetric (a
 * VMA with an anon_vma does not merge into a neighbour without one, one
 * without merges into one with); and a page moved out of a VMA a DONTNEED
 * tagged as one is a VMA of its own, which merges by page offset where it
 * lands. A new mapping that merges with a VMA the model tags (made of
 * pieces) is one VMA with the untagged one before it too, when it continues
 * that one (#101: eq_neighbour_*, random_long_f1210_1281 and the like).
 * And mprotect faults a locked VMA it makes writable before the walk
 * reaches the next VMA, whose merge then meets the anon_vma that fault took
 * (#104: mprotect_fault_order, random_long_g1405_0852). Each trace's answers
 * are Linux 6.12.117's.
 */
kernelTraceSuite('the order of VMA merges (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'merge_order'), 16, 6);

// A VMA's first anonymous fault takes a neighbour's anon_vma where the two are anon_vma_compatible
// (adjacent, the same file, the same flags but for read, write and exec, page offsets in line) and
// the neighbour's chain is its own: the next one's first, else the previous one's
// (find_mergeable_anon_vma). So two VMAs that differ only in protection share one, and merge when
// an mprotect makes them alike (oracle fuzz seed 248: a maps snapshot's re-protection merged them,
// and an mremap across them succeeded where the model said EFAULT). Five hand-written traces, all
// Linux 6.12.117's answers; the model before this diverged on three:
//  - ar_exec: a middle VMA with PROT_EXEC faulted, then the one after it, which takes its anon_vma;
//    made alike, those two merge (the first, without one, does not: #76);
//  - ar_next_first: faulted first, last, middle: the middle takes the last one's, not the first's;
//  - ar_prev: the second takes the first one's when nothing follows;
//  - ar_flag_differs: VM_DONTCOPY (MADV_DONTFORK) is not an access bit: two anon_vmas, no merge
//    after MADV_DOFORK;
//  - ar_pgoff: a page moved next to it with an anon_vma of its own keeps it.
// And fork (#92, session 30): anon_vma_fork gives each of the child's VMAs an anon_vma of its own, so
// three the parent split (sharing one) stay three in the child when made alike, and merge in the
// parent (forked_split_vmas; random_pieces_z921_2572 from aimed sequences; both diverged before).
// And a fault merges nothing (#93): a VMA whose first fault takes its neighbour's anon_vma, alike in
// all else now, stays a VMA of its own until a change to it merges them (fault_takes_neighbour_anon;
// random_merges_g931_0990 from aimed sequences over VMA merges; both diverged before). That fix's first
// version met mprotect's order: a locked read-only VMA made writable is faulted in (taking its next
// neighbour's anon_vma) before the walk reaches that neighbour, which then merges into it
// (mprotect_populate_then_merge; random_merges_g953_0416). And a new anon_vma is new (#102): a private
// file mapping's VMA that let go of its anon_vma (a locked one's range split off by a DONTUNMAP move)
// and gets one again, its neighbour's flags too different to share, has one of its own, so the two
// do not merge when made alike; the model had named anon_vmas by object and address, and the file's
// object at the same address named the neighbour's (anon_vma_anew_*; random_long_k12* from aimed
// sequences over VMA flag changes). And WIPEONFORK (#103): the child's copy of such a VMA has new
// pages and no anon_vma, one VMA however many pieces the model keeps of it, and apart from a
// neighbour the parent told apart by its anon_vma alone (wipe_pieces_one_vma, wipe_two_vmas,
// random_wipe_*).
kernelTraceSuite("anon_vmas reused from a neighbour, and fork's (Linux 6.12.117 answers)", join(import.meta.dirname, 'traces', 'anon_reuse'), 21, 4);
