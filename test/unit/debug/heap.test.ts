/**
 * The index's reading of memory (src/debug/heap.ts): `live` collects first,
 * so garbage that `used` still counts is gone from it, also without
 * `node --expose-gc` (vitest's workers run without it).
 */
import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { defaultBudgetMb, v8Heap } from '../../../src/debug/heap.js';

describe('v8Heap', () => {
  it('live collects: an array buffer dropped is counted by used until then, not by live', () => {
    let buf: ArrayBuffer | null = new ArrayBuffer(96 << 20);
    new Uint8Array(buf).fill(1);
    buf = null;
    const used = v8Heap.used();
    const live = v8Heap.live();
    expect(used - live).toBeGreaterThan(64 << 20);
    // and nothing was dropped that is still held
    const held = new Uint8Array(32 << 20).fill(2);
    expect(v8Heap.live()).toBeGreaterThan(live + (24 << 20));
    expect(held[0]).toBe(2);
  });

  it('the default budget is half of the heap limit, at most 2 GiB', () => {
    const limit = getHeapStatistics().heap_size_limit / 1048576;
    expect(defaultBudgetMb()).toBe(Math.min(2048, Math.floor(limit / 2)));
    expect(defaultBudgetMb()).toBeGreaterThan(0);
  });
});
