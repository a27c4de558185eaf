/**
 * mremap(2) (src/model/mremap.ts). Until 2026-11-26 a capture's mremap line
 * was an unknown record. Every answer below (the addresses returned and the
 * memory read back included) is what Linux 6.12.117 gave to the same 83
 * calls through the oracle: growing in place and not, shrinking, FIXED and
 * DONTUNMAP moves with a pinned page moving along, old length 0 of a shared
 * mapping, hugetlb limits, a memfd mapping grown past the file's end, shared
 * anonymous memory past its shmem size, and VMAs the kernel merged back.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { kernelTraceSuite, runChecked } from './checked_run.js';
import { data, env, io, mockDomain, pat, rd, wr } from './trace_events.js';

const VA = 0x7f0000000000n; // private anonymous, 4 pages
const VS = 0x7f0000100000n; // shared anonymous, 4 pages
const VM = 0x7f0000200000n; // a memfd, shared, 2 pages (the file 3)
const VH = 0x7f0000400000n; // hugetlb, 4 MiB
const VT = 0x7f0001000000n; // targets
const mr = (va: bigint, old_length: bigint, new_length: bigint, flags: number, new_va?: bigint) =>
  env('mremap', { va, old_length, new_length, flags, ...(new_va !== undefined ? { new_va } : {}) });
const map = (user_va: bigint, length: bigint, iova: bigint) => io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va, length, iova });
const check = (iova: bigint, length: bigint, uptr: bigint) => io('IOMMU_TEST_OP_MD_CHECK_MAP', { id: 4, check_map: { iova, length, uptr } });
const hex = (r: Result) => Buffer.from(data(r) ?? []).toString('hex');

describe('mremap (Linux 6.12.117 answers)', () => {
  it('grows, shrinks and moves mappings; pages, pins and contents go with them', () => {
    const events: Event[] = [
      ...mockDomain(), // fd 0, HWPT 4
      env('mmap', { va: VA, length: 0x4000n, kind: 'private_anon', prot: 3 }),
      env('mmap', { va: VS, length: 0x4000n, kind: 'anon', prot: 3 }),
      wr(VA, pat(0x4000, 1)),
      wr(VS, pat(0x4000, 2)),
      map(VA + 0x1000n, 0x1000n, 0x1000000n), // page 1 pinned
      mr(VA, 0x4000n, 0x4000n, 0), // same size: the address
      mr(VA, 0x4000n, 0x6000n, 0), // grow in place
      rd(VA + 0x4ff8n, 0x10n),
      mr(VA, 0x6000n, 0x3000n, 0), // shrink
      rd(VA + 0x2ff8n, 0x10n), // then EFAULT
      rd(VA + 0x2ff8n, 0x8n),
      mr(VA, 0x3000n, 0x3000n, 3, VT), // FIXED move
      rd(VA, 0x10n), // gone
      rd(VT + 0x1ff8n, 0x10n),
      check(0x1000000n, 0x1000n, VT + 0x1000n), // the pinned page moved with it
      mr(VT, 0x3000n, 0x5000n, 3, VT + 0x100000n), // move and grow
      rd(VT + 0x100000n + 0x4ff8n, 0x10n),
      mr(VT + 0x100000n, 0x5000n, 0x5000n, 7, VT + 0x200000n), // DONTUNMAP
      rd(VT + 0x100000n + 0x1000n, 0x10n), // private: zeros now
      rd(VT + 0x200000n + 0x1000n, 0x10n),
      check(0x1000000n, 0x1000n, VT + 0x200000n + 0x1000n),
      mr(VS, 0x4000n, 0x4000n, 7, VT + 0x300000n), // DONTUNMAP of shared: both see the file
      rd(VS + 0xff8n, 0x10n),
      wr(VT + 0x300000n, pat(8, 3)),
      rd(VS, 0x10n),
      mr(VS, 0x2000n, 0x6000n, 0), // not to the VMA's end, no MAYMOVE: ENOMEM
      mr(VS, 0x4000n, 0x6000n, 0), // grow shared anon in place
      rd(VS + 0x4ff8n, 0x10n), // past the shmem size: EFAULT
      rd(VS + 0x3ff8n, 0x8n),
      mr(VS, 0x1000n, 0x2000n, 0), // not at the VMA end, no MAYMOVE: ENOMEM
      mr(VS, 0x8000n, 0x9000n, 1), // across the VMA end: EFAULT
      mr(VS + 0x800n, 0x1000n, 0x1000n, 0), // unaligned
      mr(VS, 0x1000n, 0n, 0), // new length 0
      mr(VS, 0x1000n, 0x1000n, 2, VT), // FIXED without MAYMOVE
      mr(VS, 0x1000n, 0x2000n, 5, VT), // DONTUNMAP resizing
      mr(VS, 0x1000n, 0x1000n, 8), // unknown flag
      mr(0x7f0000800000n, 0x1000n, 0x1000n, 0), // nothing mapped: EFAULT
      mr(VS, 0x2000n, 0x2000n, 3, VS + 0x1000n), // overlapping: EINVAL
      mr(VS, 0x2000n, 0x2000n, 3, VT + 0x801n), // unaligned target
      mr(VS, 0x2000n, 0x2000n, 3, 0x7ffffffff000n), // past TASK_SIZE
      mr(VS, 0n, 0x2000n, 3, VT + 0x400000n), // old length 0 of shared: a duplicate
      wr(VT + 0x400000n, pat(8, 4)),
      rd(VS, 0x10n),
      mr(VT + 0x100000n, 0n, 0x1000n, 3, VT + 0x500000n), // old length 0 of private: EINVAL
      env('mmap', { va: VH, length: 0x400000n, kind: 'anon_hugetlb', prot: 3 }),
      wr(VH, pat(0x10, 5)),
      mr(VH, 0x400000n, 0x600000n, 0), // hugetlb grows: EINVAL
      mr(VH, 0x200000n, 0x200000n, 7, VT + 0xa00000n), // DONTUNMAP of hugetlb: EINVAL
      mr(VH, 0x400000n, 0x200000n, 0), // shrinks to one huge page
      mr(VH + 0x1000n, 0x1000n, 0x1000n, 0), // off a huge page: EINVAL
      mr(VH, 0x1000n, 0x1000n, 3, VT + 0x600000n), // target off a huge page... lengths round up
      mr(VH, 0x200000n, 0x200000n, 3, VT + 0x800000n), // a huge page moved
      rd(VT + 0x800000n, 0x10n),
      mr(VT + 0x800000n, 0x200000n, 0x200000n, 7, VT + 0xa00000n), // DONTUNMAP of hugetlb: EINVAL
      env('memfd_create', { name: 'ram' }), // fd 1
      env('ftruncate', { fd: 1, length: 0x3000n }),
      env('mmap', { va: VM, length: 0x2000n, kind: 'memfd', prot: 3, fd: 1, offset: 0n }),
      wr(VM, pat(0x2000, 6)),
      mr(VM, 0x2000n, 0x5000n, 0), // grow past the file's end
      rd(VM + 0x2ff8n, 0x8n),
      rd(VM + 0x3000n, 0x8n), // past EOF: EFAULT
      mr(VM, 0x1000n, 0x1000n, 3, VT + 0xc00000n), // move part of a VMA
      rd(VM, 0x8n),
      rd(VM + 0x1000n, 0x8n),
      rd(VT + 0xc00000n, 0x8n),
      mr(VS + 0x1000n, 0x1000n, 0x1000n, 3, VT + 0x100000n), // FIXED onto an existing mapping
      rd(VT + 0x100000n, 0x8n),
      rd(VT + 0x101000n, 0x8n),
      env('mmap', { va: 0x7f0002000000n, length: 0x4000n, kind: 'private_anon', prot: 3 }),
      wr(0x7f0002000000n, pat(0x4000, 7)),
      env('mprotect', { va: 0x7f0002001000n, length: 0x1000n, prot: 1 }),
      env('mprotect', { va: 0x7f0002001000n, length: 0x1000n, prot: 3 }), // merged back into one VMA
      mr(0x7f0002000000n, 0x4000n, 0x8000n, 3, 0x7f0002100000n), // so it moves whole
      rd(0x7f0002101ff8n, 0x10n),
      env('mprotect', { va: 0x7f0002101000n, length: 0x1000n, prot: 1 }), // two VMAs now
      mr(0x7f0002100000n, 0x4000n, 0x4000n, 3, 0x7f0002200000n), // across them: EFAULT
      env('madvise', { va: 0x7f0002102000n, length: 0x2000n, advice: 'DONTFORK' }),
      env('madvise', { va: 0x7f0002102000n, length: 0x2000n, advice: 'DOFORK' }), // merged back
      mr(0x7f0002102000n, 0x6000n, 0x6000n, 3, 0x7f0002300000n),
      rd(0x7f0002301ff8n, 0x10n),
    ];
    const { results: r } = runChecked(events);
    expect(r.map((x) => x.errno)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'EFAULT', 0, 0, 'EFAULT', 0, 0, 0, 'EFAULT', 0, 0, 0, 0, 0, 0, 0, 0, 'ENOMEM', 0, 'EFAULT', 0, 'ENOMEM', 'EFAULT', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EFAULT', 'EINVAL', 'EINVAL', 'EINVAL', 0, 0, 0, 'EINVAL', 0, 0, 'EINVAL', 'EINVAL', 0, 'EINVAL', 0, 'EFAULT', 'EFAULT', 'EFAULT', 0, 0, 0, 0, 0, 0, 'EFAULT', 0, 'EFAULT', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'EFAULT', 0, 0, 0, 0]);
    // where each successful mremap left the mapping
    const at = r.flatMap((x, i) => (events[i]!.op === 'mremap' && x.errno === 0 ? [`${i}:${x.ret!.toString(16)}`] : []));
    expect(at).toEqual(['8:7f0000000000', '9:7f0000000000', '11:7f0000000000', '14:7f0001000000', '18:7f0001100000', '20:7f0001200000', '24:7f0001300000', '29:7f0000100000', '43:7f0001400000', '51:7f0000400000', '53:7f0001600000', '61:7f0000200000', '64:7f0001c00000', '68:7f0001100000', '75:7f0002100000', '81:7f0002300000']);
    expect(hex(r[10]!)).toBe('00000000000000000000000000000000'); // grown in place: zeros
    expect(data(r[16]!)).toEqual(pat(0x4000, 1).slice(0x1ff8, 0x2008)); // moved, contents along
    expect(hex(r[21]!)).toBe('00000000000000000000000000000000'); // DONTUNMAP: the old private range is empty
    expect(data(r[22]!)).toEqual(pat(0x4000, 1).slice(0x1000, 0x1010));
    expect(hex(r[27]!)).toBe('030a11181f262d343a41484f565d646b'); // DONTUNMAP of shared memory: both ranges see it
    expect(hex(r[45]!)).toBe('040b121920272e353a41484f565d646b'); // old length 0: a second mapping of the same memory
    expect(hex(r[62]!)).toBe('0000000000000000');
    expect(data(r[66]!)).toEqual(pat(0x2000, 6).slice(0x1000, 0x1008));
    expect(hex(r[70]!)).toBe('0000000000000000'); // FIXED onto a mapping replaces it
    // an mprotect undone leaves one VMA (the model's two pieces count as one), so it moves whole
    expect(data(r[76]!)).toEqual(pat(0x4000, 7).slice(0x1ff8, 0x2008));
    expect(data(r[82]!)).toEqual(new Uint8Array([...pat(0x4000, 7).slice(0x3ff8, 0x4000), ...new Uint8Array(8)]));
  });

  it('a private mapping grown by mremap has new pages past its old end, and stays one VMA; so does one after DONTNEED', () => {
    const P = 0x7f0000000000n;
    const Q = 0x7f0000100000n;
    const F = 0x7f0000200000n;
    const T = (k: number) => 0x7f0001000000n + BigInt(k) * 0x100000n;
    const events: Event[] = [
      env('mmap', { va: P, length: 0x4000n, kind: 'private_anon', prot: 3 }),
      wr(P, pat(0x4000, 1)),
      mr(P + 0x1000n, 0x1000n, 0x3000n, 3, T(1)), // page 1 moved, grown to 3 pages
      rd(T(1) + 0xff8n, 0x10n), // page 1, then new zeros
      rd(P + 0x2000n, 0x10n), // P's page 2 stays P's
      wr(T(1) + 0x1000n, pat(8, 9)),
      rd(P + 0x2000n, 0x10n),
      mr(T(1), 0x3000n, 0x3000n, 3, T(2)), // one VMA: moves whole
      rd(T(2) + 0xff8n, 0x10n),
      mr(T(2), 0x1000n, 0x5000n, 0), // not to the VMA's end, no MAYMOVE: ENOMEM
      mr(T(2), 0x5000n, 0x5000n, 3, T(3)), // past the VMA: EFAULT
      rd(T(3) + 0x4ff8n, 0x8n), // nothing there
      env('mmap', { va: Q, length: 0x4000n, kind: 'private_anon', prot: 3 }),
      wr(Q, pat(0x4000, 2)),
      env('madvise', { va: Q + 0x1000n, length: 0x1000n, advice: 'DONTNEED' }),
      mr(Q, 0x4000n, 0x4000n, 3, T(4)), // still one VMA
      rd(T(4) + 0xff8n, 0x10n),
      rd(T(4) + 0x1ff8n, 0x10n),
      env('open', { path: '/tmp/data', flags: 0o1102 }), // fd 0
      env('ftruncate', { fd: 0, length: 0x10000n }),
      env('mmap', { va: F, length: 0x4000n, kind: 'file_private', prot: 3, fd: 0, offset: 0n }),
      wr(F + 0x1000n, pat(8, 3)), // a private copy of page 1
      mr(F + 0x1000n, 0x1000n, 0x3000n, 3, T(5)),
      rd(T(5), 0x8n),
      env('write_fault_fd', { fd: 0, pos: 0x2000n }),
      { op: 'write_fault_fd', pid: 1, args: { fd: 0, pos: 0x2000n }, bufs: { data: pat(8, 4) } },
      rd(T(5) + 0x1000n, 0x8n), // the file's page 2
      rd(F + 0x2000n, 0x8n),
      wr(T(5) + 0x1000n, pat(8, 5)), // a copy in the moved mapping only
      rd(F + 0x2000n, 0x8n),
      mr(T(5), 0x3000n, 0x3000n, 3, T(6)),
      rd(T(6) + 0x1000n, 0x8n),
      env('fork', { child: 2 }),
      { op: 'mremap', pid: 2, args: { va: T(6), old_length: 0x3000n, new_length: 0x3000n, flags: 3, new_va: T(7) } },
      { op: 'read_memory', pid: 2, args: { va: T(7) + 0x1000n, length: 0x8n } },
    ];
    const { results: r } = runChecked(events);
    expect(r.map((x) => x.errno)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 'ENOMEM', 'EFAULT', 'EFAULT', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const p1 = pat(0x4000, 1);
    expect(data(r[3]!)).toEqual(new Uint8Array([...p1.slice(0x1ff8, 0x2000), ...new Uint8Array(8)])); // the growth is new zeros, not P's page 2
    expect(data(r[4]!)).toEqual(p1.slice(0x2000, 0x2010));
    expect(data(r[6]!)).toEqual(p1.slice(0x2000, 0x2010)); // a write to the growth is not P's
    expect(data(r[17]!)).toEqual(new Uint8Array([...new Uint8Array(8), ...pat(0x4000, 2).slice(0x2000, 0x2008)]));
    expect(data(r[23]!)).toEqual(pat(8, 3)); // the private copy moved
    expect(data(r[26]!)).toEqual(pat(8, 4)); // the growth shows the file
    expect(data(r[29]!)).toEqual(pat(8, 4)); // a copy made in the moved mapping is not the original's
    expect(data(r[31]!)).toEqual(pat(8, 5));
    expect(data(r[34]!)).toEqual(pat(8, 5)); // the child's own copy, moved again
  });

  it("a move the kernel places itself follows the trace's answer, or is answered not modelled", () => {
    const setup = [env('mmap', { va: VA, length: 0x2000n, kind: 'private_anon', prot: 3 }), env('mmap', { va: VA + 0x2000n, length: 0x1000n, kind: 'anon', prot: 3 }), wr(VA, pat(0x10, 1))];
    const grow = (extra: Fields) => runChecked([...setup, env('mremap', { va: VA, old_length: 0x2000n, new_length: 0x4000n, flags: 1, ...extra }), rd(VT, 0x10n)]).results.slice(3);
    // a capture's mremap carries where the kernel put it
    expect(grow({ placed: VT }).map((x) => [x.errno, x.ret])).toEqual([[0, Number(VT)], [0, undefined]]);
    expect(data(grow({ placed: VT })[1]!)).toEqual(pat(0x10, 1));
    expect(grow({})[0]).toMatchObject({ unmodelled: expect.stringContaining('the kernel chooses') });
    expect(grow({ placed: VT + 0x800n })[0]).toMatchObject({ unmodelled: expect.stringContaining('could have chosen') });
    expect(grow({ placed: VA + 0x1000n })[0]).toMatchObject({ unmodelled: expect.stringContaining('could have chosen') });
  });
});

// A trace run whole on the oracle, as its campaigns run mremap: MAYMOVE alone and DONTUNMAP without
// FIXED, where the kernel chooses the address (its answer, `placed`, tells the model), a pinned
// mapping moved, the old range then unmapped (or, after DONTUNMAP, empty), a growth in place.
kernelTraceSuite('mremap where the kernel chooses (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'mremap'), 1, 10);

// Which VMAs an mremap with DONTUNMAP leaves (#97, #99, #100 in docs/oracle.md). Of a locked shared
// mapping, move_vma splits the old range off and clears its lock flags (vm_flags_clear, which
// merges nothing): a VMA of its own however alike its neighbours now are. A whole VMA moved lets go
// of its anon_vma (unlink_anon_vmas), which makes it alike with a neighbour it could not merge
// with for want of one: still two. And the VMA a move makes right after its own VMA's end takes a
// page offset of its address (copy_vma: unfaulted anonymous memory) and may merge later with the
// old range, whose pages are new: one VMA of pieces of one object at offsets that do not run on.
// An mremap across two VMAs is EFAULT, growth in place of one succeeds, until a change over them
// merges them (mprotect). Of a locked VMA the source copy_vma keeps apart is the old range alone
// (split off first): a page moved to just past the VMA's end merges with the rest (#105).
kernelTraceSuite('mremap DONTUNMAP and the VMAs it leaves (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'dontunmap'), 10, 5);

// A growth merges with the mapping its new end meets, where the two agree (page offsets in line,
// anon_vmas compatible): in place through vma_merge_extend, and a move's through copy_vma, which
// makes the new VMA its new length before merging it (oracle fuzz seed 302: a move that grew into
// the start of a mapping, then an mremap across both, ENOMEM where the model said EFAULT). Six
// hand-written traces, all Linux 6.12.117's answers; the model before this diverged on four:
//  - gm_inplace: two untouched private mappings with a page between them; the first grown into
//    it: one VMA (an mremap across both grows it further in place);
//  - gm_inplace_next_anon: the next one touched (an anon_vma with a singular chain): still merges;
//  - gm_inplace_both_anon: both touched (two anon_vmas): two VMAs (EFAULT across them);
//  - gm_inplace_next_moved: the next one moved there untouched (its page offset is its new
//    address, copy_vma): merges; gm_inplace_next_moved_anon: moved touched (its offset stays the
//    old address): does not;
//  - gm_move_grow: seed 302's move, grown by FIXED into the start of a mapping: one VMA.
// And (#94, session 30) growth in place merges forward only: the VMA before the grown one, with an
// anon_vma where the grown one has none, stays apart (grow_in_place_merges_forward;
// random_merges_g943_0127 from aimed sequences over VMA merges; both diverged before).
kernelTraceSuite('mremap growth merging with what it meets (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'grow_merge'), 8, 3);
