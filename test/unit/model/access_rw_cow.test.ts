/**
 * IOMMU_TEST_OP_ACCESS_RW through a private file mapping (access.ts). The
 * slow path pins its one page with pin_user_pages_remote, not long-term: a
 * write breaks copy-on-write (a private copy, then the bytes), a read takes
 * the page as it is, the file's page-cache page, and copies nothing. Until
 * 2026-11-26 the model unshared on the read too, so the mapping stopped
 * seeing the file's later writes; the oracle showed it. Every answer below
 * is what Linux 6.12.117 gave to the same events (20 of 20 agree).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { runChecked } from './checked_run.js';
import { data, env, io, memfdMapped, pat, rd, wr } from './trace_events.js';

const F = 0x7f0006000000n; // a memfd, shared
const P = F + 0x100000n; // the same memfd, private
const B = F + 0x200000n; // the callers' buffers
const rw = (iova: bigint, length: bigint, uptr: bigint, flags: number, bytes?: Uint8Array): Event => ({
  ...io('IOMMU_TEST_OP_ACCESS_RW', { id: 2, access_rw: { iova, length, uptr, flags } } as Fields),
  ...(bytes ? { bufs: { uptr: bytes } } : {}),
});

describe('ACCESS_RW of a private file mapping (Linux 6.12.117 answers)', () => {
  it("the slow path's read takes the file's page, its write a private copy; the fast path's read copies nothing", () => {
    const { results: r } = runChecked([
      env('open', { path: '/dev/iommu' }),
      ...memfdMapped(F, P, 0x4000n),
      env('mmap', { va: B, length: 0x1000n, kind: 'private_anon', prot: 3 }),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }),
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: P, length: 0x4000n, iova: 0x1000000n }),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }), // object 2
      wr(F, pat(16, 1)),
      wr(F + 0x1000n, pat(16, 2)),
      rw(0x1000000n, 16n, B, 4), // 11: read, slow path
      rw(0x1001000n, 8n, B + 0x100n, 5, pat(8, 9)), // write, slow path
      rw(0x1002000n, 16n, B + 0x200n, 0), // 13: read, fast path
      wr(F, pat(16, 3)),
      wr(F + 0x1000n, pat(16, 4)),
      wr(F + 0x2000n, pat(16, 5)),
      rd(P, 16n), // 17
      rd(P + 0x1000n, 16n),
      rd(P + 0x2000n, 16n),
    ]);
    expect(r.every((x) => x.errno === 0)).toBe(true);
    expect(r[11]!.bufs?.['uptr']).toEqual(pat(16, 1));
    expect(r[13]!.bufs?.['uptr']).toEqual(new Uint8Array(16));
    expect(data(r[17]!)).toEqual(pat(16, 3)); // the file's page: its later write shows
    expect(data(r[18]!)).toEqual(new Uint8Array([...pat(8, 9), ...pat(16, 2).subarray(8)])); // the copy the write made
    expect(data(r[19]!)).toEqual(pat(16, 5));
  });
});
