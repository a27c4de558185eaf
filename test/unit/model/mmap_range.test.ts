/**
 * mmap(2)'s checks of the address and length, in the kernel's order
 * (ksys_mmap_pgoff's fd lookup, do_mmap, __get_unmapped_area): EBADF for a
 * file mapping's fd first; a length of 0 is EINVAL; a length that wraps or
 * reaches past TASK_SIZE, or an address that does, ENOMEM; then an unaligned
 * address EINVAL (a hugetlb mapping's, off a huge page: before the end's
 * ENOMEM, found 2026-11-27 by a hand-written trace). Until 2026-11-26 the model mapped past TASK_SIZE (seed 68
 * found it) and the oracle's executor answered EINVAL for an unaligned
 * address itself; every answer below is Linux 6.12.117's, two events left out
 * that would have met the executor's own memory.
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { runChecked } from './checked_run.js';

const env = (op: string, args: Fields): Event => ({ op, pid: 1, args });
const anon = (va: bigint, length: bigint) => env('mmap', { va, length, kind: 'private_anon', prot: 3 });
const memfd = (va: bigint, length: bigint, fd: number) => env('mmap', { va, length, kind: 'memfd', prot: 3, fd, offset: 0n });

describe('mmap range checks (Linux 6.12.117 answers)', () => {
  it('EBADF, then EINVAL for no length, ENOMEM past TASK_SIZE, EINVAL unaligned', () => {
    const { results } = runChecked([
      anon(0xffffffffff000000n, 0x400000n), // past TASK_SIZE
      anon(0x7fffffffe000n, 0x1000n), // the last page below TASK_SIZE
      anon(0x7f0000400800n, 0x1000n), // unaligned
      anon(0xffffffffff000800n, 0x1000n), // unaligned and past TASK_SIZE: ENOMEM comes first
      anon(0x7f0000400000n, 0xfffffffffffff001n), // PAGE_ALIGN wraps to 0
      anon(0x7f0000400000n, 0n),
      memfd(0xffffffffff000000n, 0x1000n, 9), // no such fd: EBADF before the range
      env('memfd_create', { name: 'x' }), // fd 0
      memfd(0xffffffffff000000n, 0x1000n, 0),
      memfd(0x7f0000400800n, 0n, 0),
      env('mmap', { va: 0x7f0000400000n, length: 0x1000n, kind: 'anon_hugetlb', prot: 3 }),
    ]);
    expect(results.map((r) => r.errno)).toEqual(['ENOMEM', 0, 'EINVAL', 'ENOMEM', 'ENOMEM', 'EINVAL', 'EBADF', 0, 'ENOMEM', 'EINVAL', 0]);
  });

  it('a hugetlb mapping at an address off a huge page is EINVAL (hugetlbfs placement), before the end past TASK_SIZE', () => {
    const huge = (va: bigint) => env('mmap', { va, length: 0x200000n, kind: 'anon_hugetlb', prot: 3 });
    // (the second a 4 KiB hugetlb mapping, rounded to a huge page; 4 KiB of it is no munmap: the cut at its end;
    // the first three are Linux 6.12.117's answers, the last the code's order in __get_unmapped_area: the
    // oracle's executor does not map there, next to its own stack)
    const { results } = runChecked([huge(0x7f0000401000n), env('mmap', { va: 0x7f0000400000n, length: 0x1000n, kind: 'anon_hugetlb', prot: 3 }), env('munmap', { va: 0x7f0000400000n, length: 0x1000n }), huge(0x7fffffff1000n)]);
    expect(results.map((r) => r.errno)).toEqual(['EINVAL', 0, 'EINVAL', 'EINVAL']);
  });
});
