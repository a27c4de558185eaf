/**
 * copy_to_user keeps what it wrote before a fault. IOMMU_TEST_OP_ACCESS_RW
 * in its owner's process writes through the owner's VA with copy_to_user (the
 * fast path of iopt_pages_rw_access), and a read copies out to the caller's
 * buffer the same way: a copy that runs into a page it cannot write (past a
 * memfd's end, past a mapping, read-only) fails with EFAULT after writing the
 * pages before it. Oracle fuzz seed 46 found the first (a memfd read showed
 * the bytes; the model had written none). Every answer below is what Linux
 * 6.12.117 gave to the same calls (34 answers over the two sequences, the
 * memory read back included).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { runChecked } from './checked_run.js';

const VA = 0x7f0000000000n; // the memfd's mapping, IOVA 0x1000000 onwards
const VB = 0x7f0000800000n; // the caller's 4-page buffer
const fd0 = (op: string, args: Fields, bufs?: Event['bufs']): Event => ({ op, pid: 1, fd: 0, args, ...(bufs ? { bufs } : {}) });
const env = (op: string, args: Fields): Event => ({ op, pid: 1, args });
const pat = (n: number, s: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + s) & 0xff);
const rw = (iova: bigint, length: bigint, flags: number, uptr: bigint, data?: Uint8Array) => fd0('IOMMU_TEST_OP_ACCESS_RW', { id: 2, access_rw: { iova, length, uptr, flags } }, data ? { uptr: data } : undefined);
/** pread(2) of the memfd from byte 1 (the fault-fd read event on a memfd). */
const pread = (): Event => env('read_fault_fd', { fd: 1, count: 0x3fff, pos: 1 });

const SETUP: Event[] = [
  env('open', { path: '/dev/iommu' }), // fd 0
  env('memfd_create', { name: 'm' }), // fd 1
  env('mmap', { va: VA, length: 0x400000n, kind: 'memfd', prot: 3, fd: 1, offset: 0n }),
  env('mmap', { va: VB, length: 0x4000n, kind: 'anon', prot: 3 }),
  fd0('IOMMU_IOAS_ALLOC', { flags: 0 }), // 1
  fd0('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }), // access fd 2
  fd0('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x4000n, iova: 0x1000000n }),
  env('ftruncate', { fd: 1, length: 0x1000n }), // one page in the file
];

const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('copy_to_user stops at the page it cannot write, keeping the pages before (Linux 6.12.117 answers)', () => {
  it('ACCESS_RW writes through the owner VA: up to the memfd end, then EFAULT', () => {
    const p1 = pat(0x1800, 1);
    const p2 = pat(0x1000, 2);
    const p3 = pat(0x3000, 3);
    const { results } = runChecked([
      ...SETUP,
      rw(0x1000000n, 0x1800n, 1, VB, p1), // page 0 in the file, page 1 past its end
      pread(),
      rw(0x1000800n, 0x1000n, 1, VB, p2), // from the middle of page 0
      pread(),
      env('ftruncate', { fd: 1, length: 0x2800n }),
      rw(0x1000000n, 0x3000n, 1, VB, p3), // page 2 is in the file now (its first half)
      pread(),
      rw(0x1003000n, 0x1000n, 1, VB, pat(0x1000, 4)), // page 3 only: nothing written
      pread(),
    ]);
    const r = results.slice(SETUP.length);
    expect(r.map((x) => x.errno)).toEqual(['EFAULT', 0, 'EFAULT', 0, 0, 0, 0, 'EFAULT', 0]);
    expect(r[1]!.bufs!['data']).toEqual(p1.slice(1, 0x1000));
    expect(r[3]!.bufs!['data']).toEqual(cat(p1.slice(1, 0x800), p2.slice(0, 0x800)));
    expect(r[6]!.bufs!['data']).toEqual(p3.slice(1, 0x2800));
    expect(r[8]!.bufs!['data']).toEqual(p3.slice(1, 0x2800));
  });

  it("an ACCESS_RW read copies out to the caller's buffer up to its end, or to a read-only page, then EFAULT", () => {
    const p9 = pat(0x4000, 9);
    const { results } = runChecked([
      ...SETUP,
      env('ftruncate', { fd: 1, length: 0x4000n }),
      { op: 'write_memory', pid: 1, args: { va: VA, data: p9 } },
      rw(0x1000000n, 0x1800n, 0, VB + 0x3800n), // the buffer's last 0x800 bytes, then past it
      env('read_memory', { va: VB + 0x3000n, length: 0x1000n }),
      rw(0x1000000n, 0x1000n, 0, VB + 0x4000n), // wholly past it: nothing
      env('read_memory', { va: VB + 0x3000n, length: 0x1000n }),
      env('mprotect', { va: VB + 0x1000n, length: 0x1000n, prot: 1 }),
      rw(0x1000000n, 0x2000n, 0, VB + 0x800n), // 0x800 bytes, then a read-only page
      env('read_memory', { va: VB, length: 0x2000n }),
    ]);
    const r = results.slice(SETUP.length);
    expect(r.map((x) => x.errno)).toEqual([0, 0, 'EFAULT', 0, 'EFAULT', 0, 0, 'EFAULT', 0]);
    const zeros = (n: number) => new Uint8Array(n);
    expect(r[3]!.bufs!['data']).toEqual(cat(zeros(0x800), p9.slice(0, 0x800)));
    expect(r[5]!.bufs!['data']).toEqual(cat(zeros(0x800), p9.slice(0, 0x800)));
    expect(r[8]!.bufs!['data']).toEqual(cat(zeros(0x800), p9.slice(0, 0x800), zeros(0x1000)));
  });
});
