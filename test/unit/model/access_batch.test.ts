/**
 * An access's read or write across pages by the slow path (iopt_pages_rw_slow):
 * the pfn reader fills a batch with every page of the range that no domain or
 * access holds pinned for it (pinning the rest) before it copies any of them,
 * so a page it cannot pin stops the access with nothing of that batch copied.
 * The same-mm path (copy_to_user at the owner's address) keeps what it wrote
 * before the page it could not write. Each trace in traces/access/ was run
 * whole on Linux 6.12.117 through the oracle and saved with its answers.
 *
 *  - ar_batch: writes of 6 KiB from the middle of a memfd's only page into
 *    the page past its end, by the slow path (nothing written) and by the
 *    same-mm path (the first page's part written); a read across the same
 *    pages; a 1 KiB write that crosses into the missing page (nothing). The
 *    model before (seed 170): it copied page by page, so the slow path's
 *    first page was written (2 answers wrong).
 *  - ar_batch_limit: the same with the selftest's TEMP_MEMORY_LIMIT cut to
 *    12, 24 and 36 bytes, a batch of 1, 2 and 3 runs: a page it cannot pin
 *    with no more pages before it than the batch has runs stops the first
 *    batch (EFAULT, nothing written), as the fill that meets it fails before
 *    the batch is taken for full. The model before (seed 177) answered those
 *    as not modelled (4 answers).
 *  - ar_readonly (session 22: no campaign or kernel test had reached the slow
 *    path's failed read-only pin): an access to a read-only mapping of memory
 *    with no domain, so that each read pins on demand: a write EPERM; reads
 *    of a page munmapped since, across into it (both paths), and of a page
 *    made PROT_NONE, alone and across from it into the next page: EFAULT; the
 *    page after the hole, and the PROT_NONE page once readable again, read as
 *    written. The model gave all 21 answers.
 * Past that, whether the pages before fill the batch hangs on how they lie
 * physically (a run is a contiguous stretch), and the model says so.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event } from '../../../src/events/event.js';
import { emptyWorld } from '../../../src/model/state.js';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite("an access's reads and writes across pages (Linux 6.12.117 answers)", join(import.meta.dirname, 'traces', 'access'), 3, 10);

it('a page it cannot pin past the first batch is not modelled; one inside the batch is EFAULT', () => {
  const V = 0x7f0000000000n;
  const env = (op: string, args: Record<string, unknown>): Event => ({ op, pid: 1, args }) as Event;
  const io = (op: string, args: Record<string, unknown>): Event => ({ op, pid: 1, fd: 0, args }) as Event;
  const write = (iova: bigint, length: bigint): Event =>
    ({ op: 'IOMMU_TEST_OP_ACCESS_RW', pid: 1, fd: 0, args: { id: 1, access_rw: { iova, length, uptr: 0x10000n, flags: 5 } }, bufs: { uptr: new Uint8Array(Number(length)).fill(0xa3) } }) as Event;
  let w = emptyWorld({ kernel: '6.12' });
  const run = (ev: Event) => {
    const r = apply(w, ev);
    w = r.state;
    return r.result;
  };
  for (const ev of [
    env('open', { path: '/dev/iommu' }),
    io('IOMMU_IOAS_ALLOC', { flags: 0 }),
    io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }),
    env('memfd_create', { name: 'm', flags: 0 }),
    env('ftruncate', { fd: 2, length: 0x3000n }),
    env('mmap', { va: V, length: 0x10000n, kind: 'memfd', prot: 3, fd: 2, offset: 0n }),
    io('IOMMU_IOAS_MAP', { ioas_id: 1, flags: 7, user_va: V, length: 0x5000n, iova: 0x100000n, __reserved: 0 }),
    io('IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT', { id: 0, memory_limit: { limit: 12 } }),
  ])
    expect(run(ev).errno).toBe(0);
  // pages 1, 2 and 3 (past the memfd's end) with a batch of one run: two pages before the missing one
  const past = run(write(0x101800n, 0x2000n));
  expect(past.unmodelled).toMatch(/after the first batch \(TEMP_MEMORY_LIMIT 12\)/);
  // pages 2 and 3: one page before it
  const inside = run(write(0x102800n, 0x1000n));
  expect(inside.unmodelled).toBeUndefined();
  expect(inside.errno).toBe('EFAULT');
});
