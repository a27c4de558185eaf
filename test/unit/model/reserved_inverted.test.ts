/**
 * IOMMU_TEST_OP_ADD_RESERVED of length 0. The 6.12.117 stable tree refuses
 * it (EINVAL; the oracle answers so). 6.14 has no length check and reserves
 * [start, start - 1]: the interval tree treats that node, and the query made
 * before inserting it, with its usual test node.start <= last && node.last >=
 * start, so the query finds an area running from start - 1 on to start
 * (EADDRINUSE), and the node later refuses anything across that point and
 * splits the allowed ranges there. Found by the 6.14 fuzzer (areas-in-bounds:
 * the model had inserted the node over such an area).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Result } from '../../../src/events/event.js';
import type { KernelVersion } from '../../../src/model/state.js';
import { runChecked } from './checked_run.js';

const VA = 0x7f0000000000n;

const run = (kernel: KernelVersion, events: Event[]) => runChecked(events, kernel).results;

const setup: Event[] = [
  { op: 'open', args: { path: '/dev/iommu' } },
  { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
  { op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon' } },
];
const map = (iova: bigint, length: bigint, flags = 7): Event => ({ op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags, ioas_id: 1, __reserved: 0, user_va: VA, length, iova } });
const reserve = (start: bigint): Event => ({ op: 'IOMMU_TEST_OP_ADD_RESERVED', fd: 0, args: { id: 1, add_reserved: { start, length: 0n } } });
const ranges: Event = { op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: { ioas_id: 1, num_iovas: 4, allowed_iovas: VA + 0x100000n }, bufs: { allowed_iovas: new Uint8Array(64) } };

/** The [start, last] pairs IOVA_RANGES wrote. */
function pairs(r: Result): bigint[][] {
  const b = r.bufs!['allowed_iovas']!;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = Number(r.out!['num_iovas']);
  return Array.from({ length: n }, (_, i) => [v.getBigUint64(16 * i, true), v.getBigUint64(16 * i + 8, true)]);
}

describe('ADD_RESERVED of length 0', () => {
  it('6.12.117: EINVAL', () => {
    expect(run('6.12', [...setup, reserve(0x5000n)]).at(-1)!.errno).toBe('EINVAL');
  });

  it('6.14: EADDRINUSE only where an area runs across start - 1 | start', () => {
    const r = run('6.14', [...setup, map(0x1000000n, 0x2000n), reserve(0x1001000n), reserve(0x1000000n), reserve(0x1002000n)]);
    expect(r.slice(-3).map((x) => x.errno)).toEqual(['EADDRINUSE', 0, 0]);
  });

  it('6.14: the node splits the allowed ranges at start and refuses a mapping across it', () => {
    const r = run('6.14', [...setup, reserve(0x5000n), ranges, map(0x4000n, 0x2000n), map(0x5000n, 0x1000n)]);
    expect(pairs(r[4]!)).toEqual([
      [0n, 0x4fffn],
      [0x5000n, 0xffffffffffffffffn],
    ]);
    expect(r.slice(-2).map((x) => x.errno)).toEqual(['EINVAL', 0]);
  });
});
