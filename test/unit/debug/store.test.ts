/**
 * The debugger's event store: events come back as they went in, whether it
 * encoded them itself or a worker cut a trace's block bytes into chunks,
 * at every stage (with the worker, back from it, after the end), and across
 * inputs that end in a partial chunk. The worker only exists in the compiled
 * build, so that path is tested through dist/ (`npm test` compiles first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { vmTrace } from '../../../src/bench/vm_trace.js';
import { EventStore as SrcStore } from '../../../src/debug/store.js';
import { ROOT } from './fixtures.js';

type Store = SrcStore;
const dist = <T>(path: string): Promise<T> => import(pathToFileURL(join(ROOT, 'dist/src', path)).href) as Promise<T>;
const { EventStore: DistStore } = await dist<{ EventStore: typeof SrcStore }>('debug/store.js');
const { packValue } = await dist<{ packValue: (v: unknown) => Uint8Array }>('trace/msgpack.js');

const events = [...vmTrace({ events: 3000 })];
// a few events of other shapes: bytes, nulls, a u64 at the top of the range
events.push(
  { op: 'IOMMU_TEST_OP_ACCESS_RW', pid: 1, fd: 0, args: { id: 2, access_rw: { iova: 0xffff_ffff_ffff_f000n, length: 4n, uptr: 0x1000n, flags: 0 } }, bufs: { data: Uint8Array.of(1, 2, 3, 4) } },
  { op: 'IOMMU_DESTROY', pid: 1, fd: 0, args: null },
);

function expectAll(s: Store, evs: readonly Event[]): void {
  expect(s.length).toBe(evs.length);
  let bad = -1;
  for (let i = 0; i < evs.length && bad < 0; i++) if (!isDeepStrictEqual(s.get(i), evs[i])) bad = i;
  expect(bad).toBe(-1);
}

/** `evs` cut into blocks of the given sizes (cycled), each with its msgpack bytes in their own buffer, as the trace reader hands them out. */
function blocks(evs: readonly Event[], sizes: number[]): { events: Event[]; bytes: Uint8Array }[] {
  const out: { events: Event[]; bytes: Uint8Array }[] = [];
  for (let i = 0, k = 0; i < evs.length; k++) {
    const b = evs.slice(i, i + sizes[k % sizes.length]!);
    out.push({ events: b, bytes: Uint8Array.prototype.slice.call(packValue(b)) });
    i += b.length;
  }
  return out;
}

describe('EventStore', () => {
  it('encodes here: events come back, across chunks and inputs that end part-way through one', async () => {
    const s = new SrcStore({ cacheChunks: 2 });
    for (const ev of events.slice(0, 1000)) s.push(ev);
    expectAll(s, events.slice(0, 1000));
    await s.finish(); // 1000 = 3 chunks + a partial one of 232
    for (const ev of events.slice(1000)) s.push(ev);
    await s.finish();
    expectAll(s, events);
    // read backwards and at random too (the cache holds two chunks)
    for (let i = events.length - 1; i >= 0; i -= 97) expect(s.get(i)).toEqual(events[i]);
    expect(() => s.get(events.length)).toThrow(RangeError);
  });

  it('keeps at least one decoded chunk (a ring of them, one a single chunk thrashes through)', () => {
    expect(() => new SrcStore({ cacheChunks: 0 })).toThrow(RangeError);
    expect(() => new SrcStore({ cacheChunks: 1.5 })).toThrow(RangeError);
    const s = new SrcStore({ cacheChunks: 1, worker: false });
    for (const ev of events.slice(0, 1000)) s.push(ev);
    // back and forth across a chunk boundary: every read decodes, every one is right
    for (let k = 0; k < 6; k++) for (const i of [255, 256, 511, 512, 0, 999]) expect(s.get(i)).toEqual(events[i]);
  });

  it('with the worker: the same events at every stage, and the same encoded bytes as encoding here', async () => {
    const s = new DistStore();
    const here = new DistStore({ worker: false });
    const bs = blocks(events, [700, 13, 256, 1024, 1]);
    let n = 0;
    for (const [k, b] of bs.entries()) {
      await s.settle();
      s.pushEncoded(b.events, b.bytes);
      // the first block is encoded here; the others' bytes go to the worker, transferred, not copied
      expect(b.bytes.length === 0).toBe(k > 0);
      n += b.events.length;
      expectAll(s, events.slice(0, n)); // some of them still with the worker
    }
    for (const ev of events) here.push(ev);
    await s.finish();
    await here.finish();
    expectAll(s, events);
    expect(s.encodedBytes).toBe(here.encodedBytes);
    expect(s.encodedBytes).toBeGreaterThan(0);
  });

  it('events pushed one by one before the blocks keep their order', async () => {
    const s = new DistStore();
    for (const ev of events.slice(0, 300)) s.push(ev);
    for (const b of blocks(events.slice(300), [512])) {
      await s.settle();
      s.pushEncoded(b.events, b.bytes);
    }
    expect(() => s.push(events[0]!)).toThrow(/finish/);
    await s.finish();
    expectAll(s, events);
    const here = new DistStore({ worker: false });
    for (const ev of events) here.push(ev);
    await here.finish();
    expect(s.encodedBytes).toBe(here.encodedBytes); // the chunks were cut at the same places
  });

  it('bytes that are a view into a larger buffer are copied, not transferred; no bytes at all are refused', async () => {
    const s = new DistStore();
    const [a, b, c] = blocks(events.slice(0, 30), [10]);
    const big = new Uint8Array(b!.bytes.length + c!.bytes.length);
    big.set(b!.bytes);
    big.set(c!.bytes, b!.bytes.length);
    s.pushEncoded(a!.events, a!.bytes);
    s.pushEncoded(b!.events, big.subarray(0, b!.bytes.length));
    s.pushEncoded(c!.events, big.subarray(b!.bytes.length));
    expect(big.length).toBe(b!.bytes.length + c!.bytes.length); // still ours
    expect(() => s.pushEncoded(events.slice(0, 1), new Uint8Array(0))).toThrow(/no bytes/);
    await s.finish();
    expectAll(s, events.slice(0, 30));
  });

  it('a block whose bytes do not hold its events fails the store with a clear error', async () => {
    const s = new DistStore();
    const [a, b] = blocks(events.slice(0, 20), [10]);
    s.pushEncoded(a!.events, a!.bytes);
    s.pushEncoded(events.slice(10, 21), b!.bytes);
    await expect(s.finish()).rejects.toThrow(/event store worker: a block of 11 events decoded to 10/);
    // the events themselves are still there, and the store takes no more
    expectAll(s, events.slice(0, 21));
    expect(() => s.push(events[0]!)).toThrow(/decoded to 10/);
  });

  it('the debugger index over a trace file gets the blocks’ bytes and gives back every event', async () => {
    const { writeTrace, readTraceSync } = await dist<typeof import('../../../src/trace/index.js')>('trace/index.js');
    const { openSource } = await dist<typeof import('../../../src/engine/source.js')>('engine/source.js');
    const { DebugIndex } = await dist<typeof import('../../../src/debug/history.js')>('debug/history.js');
    const dir = mkdtempSync(join(tmpdir(), 'iorewind-store-'));
    try {
      const f = join(dir, 't.iort');
      await writeTrace(f, { kernel: '6.12' }, events, { blockEvents: 600 });
      const src = await openSource(f);
      const ix = new DebugIndex({ kernel: '6.12' });
      await ix.ingestSource(src);
      const want = readTraceSync(f).events;
      expect(ix.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) if (!isDeepStrictEqual(ix.event(i), want[i])) expect.fail(`event ${i} differs`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
