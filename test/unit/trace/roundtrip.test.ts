import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import {
  decodeTrace,
  detectFormat,
  detectTraceFile,
  encodeTrace,
  formatFromPath,
  makeHeader,
  openTrace,
  openTraceWriter,
  readTrace,
  readTraceFile,
  readTraceSync,
  TraceFormatError,
  writeTrace,
  type TraceFormat,
} from '../../../src/trace/index.js';
import { arbEvent, arbValue, diff, ev, SEED, tmp } from './helpers.js';

const FORMATS: TraceFormat[] = ['iort', 'jsonl'];
const t = tmp();
afterAll(() => t.done());

describe('round trips (in memory)', () => {
  for (const format of FORMATS) {
    it(`${format}: arbitrary events round-trip exactly`, () => {
      fc.assert(
        fc.property(fc.array(arbEvent, { maxLength: 12 }), fc.dictionary(fc.string({ maxLength: 5 }).filter((k) => !k.startsWith('$') && !['__proto__', 'constructor', 'prototype'].includes(k)), arbValue, { maxKeys: 3, noNullPrototype: true }), (events, meta) => {
          const header = makeHeader('6.14', meta);
          const bytes = encodeTrace(header, events, { format, blockEvents: 5 });
          const d = decodeTrace(bytes);
          expect(d.format).toBe(format);
          expect(diff(d.header, header)).toBe(null);
          expect(diff(d.events, events)).toBe(null);
        }),
        { seed: SEED, numRuns: 100 },
      );
    });

    it(`${format}: u64 edges stay bigint, numbers stay number, bytes stay Uint8Array`, () => {
      const u64s = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];
      const events: Event[] = [
        { op: 'x', args: { u64s, nums: [0, 1, 2 ** 53 - 1, -(2 ** 53 - 1), 0.5, -1, 2 ** 32, 1e-300, -1.5e-7] } },
        { op: 'y', args: null, tail: new Uint8Array(0), bufs: { a: new Uint8Array(0), b: null, big: new Uint8Array(300_000).map((_, i) => i * 7) } },
        { op: 'z', args: { nested: { a: [{ b: { c: [[1n, new Uint8Array([1])]] } }] } }, rec: { errno: 'EINVAL', ret: 3, out: { x: 0n }, bufs: { q: null } } },
      ];
      const d = decodeTrace(encodeTrace(makeHeader('6.12'), events, { format })).events;
      expect(diff(d, events)).toBe(null);
      const args0 = d[0]?.args as { u64s: unknown[]; nums: unknown[] };
      for (const v of args0.u64s) expect(typeof v).toBe('bigint');
      for (const v of args0.nums) expect(typeof v).toBe('number');
      const bufs = d[1]?.bufs as Record<string, Uint8Array>;
      expect(Object.getPrototypeOf(bufs.big)).toBe(Uint8Array.prototype);
      expect(Object.getPrototypeOf(d[1]?.tail)).toBe(Uint8Array.prototype);
    });

    it(`${format}: an empty trace`, () => {
      const d = decodeTrace(encodeTrace({ kernel: '6.12' }, [], { format }));
      expect(d.events).toEqual([]);
      expect(d.header.kernel).toBe('6.12');
    });
  }

  it('writer drops undefined-valued properties (as JSON does) and accepts null-prototype objects and Buffers', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.a = 1n;
    const e = { op: 'x', pid: undefined, args: { a: undefined, b: 2, o }, tail: Buffer.from([1, 2]) } as unknown as Event;
    for (const format of FORMATS) {
      const d = decodeTrace(encodeTrace({ kernel: '6.12' }, [e], { format })).events;
      expect(d).toStrictEqual([{ op: 'x', args: { b: 2, o: { a: 1n } }, tail: new Uint8Array([1, 2]) }]);
    }
    expect(e.args).toHaveProperty('a'); // the caller's object is not modified
  });

  it('a block with many more object shapes than record ids (ids are recycled)', () => {
    const events: Event[] = Array.from({ length: 700 }, (_, i) => ({ op: `op${i % 7}`, args: { [`f${i}`]: i, nested: { [`g${i % 150}`]: BigInt(i) } } }));
    for (const format of ['iort', 'jsonl'] as const) {
      const d = decodeTrace(encodeTrace({ kernel: '6.12' }, events, { format, blockEvents: 1000 }));
      expect(diff(d.events, events)).toBe(null);
    }
  });

  it('binary output is deterministic and the twin converts back byte-identically', () => {
    const events = Array.from({ length: 5000 }, (_, i) => ev(i));
    const a = encodeTrace({ kernel: '6.12' }, events);
    const j = encodeTrace({ kernel: '6.12' }, decodeTrace(a).events, { format: 'jsonl' });
    const b = encodeTrace({ kernel: '6.12' }, decodeTrace(j).events);
    expect(Buffer.compare(a, b)).toBe(0);
  });
});

describe('format detection', () => {
  it('by magic and by extension', () => {
    expect(detectFormat(encodeTrace({ kernel: '6.12' }, []))).toBe('iort');
    expect(detectFormat(encodeTrace({ kernel: '6.12' }, [], { format: 'jsonl' }))).toBe('jsonl');
    expect(detectFormat(new Uint8Array([1, 2, 3]))).toBe(null);
    expect(formatFromPath('a/b.iort')).toBe('iort');
    expect(formatFromPath('a/b.iort.jsonl')).toBe('jsonl');
    expect(formatFromPath('a/b.JSONL')).toBe('jsonl');
    expect(formatFromPath('a/b.txt')).toBe(null);
  });

  it('content wins over the extension', async () => {
    const p = t.path('actually-jsonl.iort');
    writeFileSync(p, encodeTrace({ kernel: '6.12' }, [ev(1)], { format: 'jsonl' }));
    expect(await detectTraceFile(p)).toBe('jsonl');
    expect(readTraceSync(p).events).toStrictEqual([ev(1)]);
  });
});

describe('files and streaming', () => {
  const N = 2500;
  const events = Array.from({ length: N }, (_, i) => ev(i));

  for (const format of FORMATS) {
    const name = format === 'iort' ? 'multi.iort' : 'multi.iort.jsonl';

    it(`${format}: writeTrace + streaming read of a multi-block file`, async () => {
      const p = t.path(name);
      expect(await writeTrace(p, makeHeader('6.14', { who: 'test' }), events, { blockEvents: 100 })).toBe(N);
      const r = await openTrace(p);
      expect(r.format).toBe(format);
      expect(r.header.meta).toEqual({ who: 'test' });
      const got: Event[] = [];
      for await (const e of r.events()) got.push(e);
      expect(diff(got, events)).toBe(null);
      if (format === 'iort') {
        let blocks = 0;
        for await (const b of r.batches()) {
          blocks++;
          expect(b.length).toBe(100);
        }
        expect(blocks).toBe(N / 100);
      }
      // from / limit, across block boundaries
      const part: Event[] = [];
      for await (const e of r.events({ from: 1234, limit: 321 })) part.push(e);
      expect(part).toStrictEqual(events.slice(1234, 1234 + 321));
      const tail: Event[] = [];
      for await (const e of r.events({ from: N - 3, limit: 100 })) tail.push(e);
      expect(tail).toStrictEqual(events.slice(N - 3));
      const none: Event[] = [];
      for await (const e of r.events({ from: N + 5 })) none.push(e);
      expect(none).toEqual([]);
      await r.close();
      // the sync convenience and the async generator agree
      expect(diff(readTraceFile(p).events, events)).toBe(null);
      const viaGen: Event[] = [];
      for await (const e of readTrace(p, { from: 10, limit: 5 })) viaGen.push(e);
      expect(viaGen).toStrictEqual(events.slice(10, 15));
    });

    it(`${format}: async iterable input, writer API and early break`, async () => {
      const p = t.path('w-' + name);
      async function* gen(): AsyncGenerator<Event> {
        for (let i = 0; i < 50; i++) yield ev(i);
      }
      await writeTrace(p, { kernel: '6.12' }, gen(), { format });
      const w = openTraceWriter(t.path('w2-' + name), { kernel: '6.12' }, { format });
      for (let i = 0; i < 50; i++) w.write(ev(i));
      await w.close();
      expect(readFileSync(p)).toEqual(readFileSync(t.path('w2-' + name)));
      for await (const e of readTrace(p)) {
        expect(e).toStrictEqual(ev(0));
        break; // closes the file
      }
    });
  }

  it('readers hold no file handle between iterations', async () => {
    if (!existsSync('/proc/self/fd')) return;
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const p = t.path('fds.iort');
    await writeTrace(p, { kernel: '6.12' }, events.slice(0, 300), { blockEvents: 50 });
    const before = fds();
    const r = await openTrace(p); // never closed
    for await (const e of r.events({ limit: 120 })) void e;
    for await (const e of r.events()) {
      void e;
      break;
    }
    let n = 0;
    for await (const b of r.batches()) n += b.length;
    expect(n).toBe(300);
    expect(fds()).toBe(before);
    const it2 = r.events();
    await it2.next(); // mid-iteration
    expect(fds()).toBe(before + 1);
    await r.close();
    expect(fds()).toBe(before);
    await expect(async () => {
      for await (const e of r.events()) void e;
    }).rejects.toThrow(/closed/);
  });

  it('jsonl: lines longer than the read chunk are reassembled', async () => {
    const big: Event[] = [ev(0), { op: 'big', args: { data: new Uint8Array(900_000).fill(0xab) } }, ev(1), { op: 'big2', args: { s: 'é'.repeat(400_000) } }, ev(2)];
    const p = t.path('big.iort.jsonl');
    await writeTrace(p, { kernel: '6.12' }, big);
    const got: Event[] = [];
    for await (const e of readTrace(p)) got.push(e);
    expect(diff(got, big)).toBe(null);
  });

  it('a stream target with backpressure', async () => {
    const s = new PassThrough({ highWaterMark: 1024 });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const n = await writeTrace(s, { kernel: '6.12' }, events.slice(0, 600), { blockEvents: 64 });
    expect(n).toBe(600);
    expect(decodeTrace(Buffer.concat(chunks)).events).toStrictEqual(events.slice(0, 600));
  });

  it('a writer refuses bad events without breaking the trace', async () => {
    const p = t.path('refuse.iort');
    const w = openTraceWriter(p, { kernel: '6.12' });
    w.write(ev(0));
    const bad: unknown[] = [
      { op: 'x', args: { d: new Date() } },
      { op: 'x', args: { m: new Map() } },
      { op: 'x', args: { s: new Set([1]) } },
      { op: 'x', args: { n: NaN } },
      { op: 'x', args: { n: 2 ** 60 } },
      { op: 'x', args: { b: -1n } },
      { op: 'x', args: { b: 2n ** 64n } },
      { op: 'x', args: { a: [1, undefined] } },
      { op: 'x', args: { f: () => 1 } },
      { op: 'x', args: { u: new Uint16Array(2) } },
      { op: 'x', args: JSON.parse('{"__proto__": 1}') },
      { op: 'x', args: { constructor: 1 } },
      { op: 'x', args: { $u64: '0x1' } },
      { op: 'x', args: { s: 'a\ud800' } },
      { op: '', args: null },
      { op: 'x' },
      { op: 'x', args: null, pid: -1 },
      { op: 'x', args: null, extra: 1 },
      { op: 'x', args: null, rec: { errno: 1 } },
      { op: 'x', args: { deep: JSON.parse('['.repeat(40) + ']'.repeat(40)) } },
    ];
    for (const b of bad) {
      expect(() => w.write(b as Event)).toThrow(TraceFormatError);
      try {
        w.write(b as Event);
      } catch (e) {
        expect((e as Error).message).toMatch(/^record 1: cannot write event: /);
      }
    }
    w.write(ev(1));
    await w.close();
    expect(readTraceSync(p).events).toStrictEqual([ev(0), ev(1)]);
  });
});
