/**
 * Untrusted input: every failure must be a TraceFormatError naming where
 * (byte offset / line, record), never another exception, a hang, or a
 * polluted prototype.
 */
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { decodeTrace, encodeTrace, openTrace, readTraceSync, TraceFormatError, type ReadOptions } from '../../../src/trace/index.js';
import { buildIort, ev, fixCrcs, payloadRanges, protoKeys, rawPackr, SEED, tmp } from './helpers.js';
import { envelopeProblem } from '../../../src/trace/validate.js';

const t = tmp();
afterAll(() => t.done());

let protoBefore: string[];
beforeAll(() => {
  protoBefore = protoKeys();
});
afterEach(() => {
  expect(protoKeys()).toEqual(protoBefore);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).x).toBeUndefined();
});

/** Runs f, which must throw a TraceFormatError; returns it. */
function fails(f: () => unknown): TraceFormatError {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TraceFormatError)) throw new Error(`expected a TraceFormatError, got ${String(e)}\n${(e as Error).stack}`);
    return e;
  }
  throw new Error('expected a TraceFormatError, nothing was thrown');
}

async function failsAsync(f: () => Promise<unknown>): Promise<TraceFormatError> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof TraceFormatError)) throw new Error(`expected a TraceFormatError, got ${String(e)}\n${(e as Error).stack}`);
    return e;
  }
  throw new Error('expected a TraceFormatError, nothing was thrown');
}

/** Decoding either succeeds or throws a TraceFormatError. */
function decodesOrFails(b: Uint8Array, opts?: ReadOptions): void {
  try {
    decodeTrace(b, opts);
  } catch (e) {
    if (!(e instanceof TraceFormatError)) throw new Error(`expected a TraceFormatError, got ${String(e)}\n${(e as Error).stack}`);
  }
}

async function readAll(path: string, opts?: ReadOptions): Promise<Event[]> {
  const r = await openTrace(path, opts);
  const out: Event[] = [];
  try {
    for await (const e of r.events()) out.push(e);
  } finally {
    await r.close();
  }
  return out;
}

const WHERE_BIN = /byte offset \d+, (record \d+|header): /;
const WHERE_JSONL = /line \d+, (record \d+|header): /;

// --- raw msgpack crafting -------------------------------------------------
function str(s: string): number[] {
  const b = [...Buffer.from(s)];
  return b.length < 32 ? [0xa0 | b.length, ...b] : [0xd9, b.length, ...b];
}
/** Record definition with a one-byte id; its values must follow. */
function def(id: number, keys: string[]): number[] {
  return [0xd4, 0x72, id, 0x90 | keys.length, ...keys.flatMap(str)];
}
/** Event `{op: 'x', args: {v: <raw>}}`. */
function evWith(raw: number[]): number[] {
  return [...def(0x40, ['op', 'args']), ...str('x'), ...def(0x7f, ['v']), ...raw];
}
/** Event `{op: 'x', args: null}`. */
const EV_NULL = [...def(0x40, ['op', 'args']), ...str('x'), 0xc0];
function block(...events: number[][]): { payload: Uint8Array; count: number } {
  return { payload: Uint8Array.from([0x90 | events.length, ...events.flat()]), count: events.length };
}
function packed(v: unknown): { payload: Uint8Array; count: number } {
  return { payload: Uint8Array.from(rawPackr.pack([v])), count: 1 };
}
const HEADER_LINE = '{"format":"iorewind-trace","version":1,"event_schema":1,"kernel":"6.12","meta":{}}\n';
function jsonl(...lines: string[]): Uint8Array {
  return Buffer.from(HEADER_LINE + lines.map((l) => l + '\n').join(''));
}

// --------------------------------------------------------------------------

describe('truncation', () => {
  const tiny: Event[] = [{ op: 'a', args: null }, { op: 'b', pid: 2, args: { x: 1n } }, { op: 'c', args: {}, tail: Uint8Array.of(1), rec: { errno: 0 } }];
  const small = encodeTrace({ kernel: '6.12' }, tiny, { blockEvents: 2 });
  const smallJ = encodeTrace({ kernel: '6.12' }, tiny, { format: 'jsonl' });

  it('binary: cut at every byte offset is reported, at or before the cut', () => {
    expect(decodeTrace(small).events).toHaveLength(3);
    for (let k = 0; k < small.length; k++) {
      const e = fails(() => decodeTrace(small.subarray(0, k)));
      if (k > 0) expect(e.message).toMatch(WHERE_BIN);
      expect(e.offset ?? 0).toBeLessThanOrEqual(k);
    }
  });

  it('binary: a cut exactly between blocks is still detected (no end frame)', () => {
    const secondBlockEnd = payloadRanges(small)[1]![1];
    const e = fails(() => decodeTrace(small.subarray(0, secondBlockEnd)));
    expect(e.message).toMatch(/no end frame/);
    expect(e.record).toBe(3);
  });

  it('binary: the streaming reader reports every cut too (after yielding the complete blocks)', async () => {
    const p = t.path('cut.iort');
    for (let k = 0; k < small.length; k++) {
      writeFileSync(p, small.subarray(0, k));
      const e = await failsAsync(() => readAll(p));
      expect(e.message.startsWith(p + ': ')).toBe(true);
    }
  });

  it('jsonl: a cut anywhere but a line break is reported; at a line break the prefix decodes', async () => {
    const p = t.path('cut.iort.jsonl');
    const full = decodeTrace(smallJ).events;
    for (let k = 0; k < smallJ.length; k++) {
      const cut = smallJ.subarray(0, k);
      writeFileSync(p, cut);
      if (k > 0 && cut[k - 1] === 0x0a) {
        const n = cut.filter((c) => c === 0x0a).length - 1;
        expect(decodeTrace(cut).events).toStrictEqual(full.slice(0, n));
        expect(await readAll(p)).toStrictEqual(full.slice(0, n));
      } else {
        const e = fails(() => decodeTrace(cut, { format: 'jsonl' }));
        if (k > 0) expect(e.message).toMatch(WHERE_JSONL);
        await failsAsync(() => readAll(p));
      }
    }
  });
});

describe('corruption', () => {
  const b = encodeTrace({ kernel: '6.14', meta: { k: 1n } }, [ev(0), ev(1), ev(2), ev(3), ev(4)], { blockEvents: 3 });

  it('binary: any single flipped byte is caught (checksums, tags, lengths, versions)', () => {
    for (let i = 0; i < b.length; i++) {
      for (const m of [0x01, 0x80, 0xff]) {
        const c = Uint8Array.from(b);
        c[i] = (c[i] as number) ^ m;
        fails(() => decodeTrace(c, { format: 'iort' }));
      }
    }
  });

  it('binary: flipped bytes with valid checksums (a forger) never escape as anything but TraceFormatError', () => {
    for (let i = 0; i < b.length; i++) {
      for (const m of [0x01, 0xff]) {
        const c = Uint8Array.from(b);
        c[i] = (c[i] as number) ^ m;
        decodesOrFails(fixCrcs(c), { format: 'iort' });
      }
    }
  });

  it('binary: random mutations with valid checksums (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(b.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (muts) => {
        const c = Uint8Array.from(b);
        for (const [i, v] of muts) c[i] = v;
        decodesOrFails(fixCrcs(c), { format: 'iort' });
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('jsonl: random mutations never escape as anything but TraceFormatError', () => {
    const j = encodeTrace({ kernel: '6.14' }, [ev(0), ev(1), ev(2), ev(3), ev(4)], { format: 'jsonl' });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(j.length - 1), fc.constantFrom(...Buffer.from('{}[]":,$0x_ \n\\u'))), { minLength: 1, maxLength: 6 }), (muts) => {
        const c = Uint8Array.from(j);
        for (const [i, v] of muts) c[i] = v;
        decodesOrFails(c, { format: 'jsonl' });
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('binary: trailing bytes after the end frame, wrong end count, frame/array count mismatch', () => {
    expect(fails(() => decodeTrace(Buffer.concat([b, Buffer.from([0])]))).message).toMatch(/after the end frame/);
    const good = block(EV_NULL);
    expect(decodeTrace(buildIort({ blocks: [good] })).events).toEqual([{ op: 'x', args: null }]);
    expect(fails(() => decodeTrace(buildIort({ blocks: [good], end: 2 }))).message).toMatch(/end frame says 2 events, 1 were read/);
    expect(fails(() => decodeTrace(buildIort({ blocks: [{ payload: good.payload, count: 2 }] }))).message).toMatch(/holds 1 events but its frame says 2/);
    expect(fails(() => decodeTrace(buildIort({ blocks: [{ payload: Uint8Array.of(0x90), count: 0 }] }))).message).toMatch(/0 events/);
    const twoValues = { payload: Uint8Array.from([...good.payload, 0xc0]), count: 1 };
    expect(fails(() => decodeTrace(buildIort({ blocks: [twoValues] }))).message).toMatch(/unexpected bytes after the last event/);
  });
});

describe('magic, versions, header', () => {
  it('wrong magic / not a trace', () => {
    for (const bad of [Buffer.from('hello world\n'), Buffer.from([0x89, 0x50, 0x4e, 0x47]), new Uint8Array(0)]) {
      const e = fails(() => decodeTrace(bad));
      expect(e.message).toMatch(/not an iorewind|empty/);
    }
    const e = fails(() => decodeTrace(Buffer.from('hello'), { format: 'iort' }));
    expect(e.message).toMatch(/bad magic/);
    const p = t.path('not-a-trace.iort');
    writeFileSync(p, 'garbage\n');
    expect(fails(() => readTraceSync(p)).message).toMatch(/bad magic/);
  });

  it('unknown format version and flags', () => {
    expect(fails(() => decodeTrace(buildIort({ version: 2, blocks: [] }))).message).toMatch(/unsupported trace format version 2/);
    expect(fails(() => decodeTrace(buildIort({ flags: 1, blocks: [] }))).message).toMatch(/unsupported flags/);
    const h = (over: Record<string, unknown>): Uint8Array => buildIort({ header: { format: 'iorewind-trace', version: 1, event_schema: 1, kernel: '6.12', meta: {}, ...over }, blocks: [] });
    expect(fails(() => decodeTrace(h({ version: 2 }))).message).toMatch(/unsupported trace format version 2/);
    expect(fails(() => decodeTrace(h({ format: 'other' }))).message).toMatch(/header.format/);
    expect(fails(() => decodeTrace(h({ kernel: '5.10' }))).message).toMatch(/header.kernel/);
    expect(fails(() => decodeTrace(h({ meta: [] }))).message).toMatch(/header.meta/);
    expect(fails(() => decodeTrace(h({ extra: 1 }))).message).toMatch(/unknown header field "extra"/);
    expect(fails(() => decodeTrace(h({ event_schema: 0 }))).message).toMatch(/event_schema/);
    const e = fails(() => decodeTrace(h({ event_schema: 2 })));
    expect(e.message).toMatch(/^byte offset 20, header: unsupported event_schema 2/);
    const jh = (over: string): Uint8Array => Buffer.from(over + '\n');
    expect(fails(() => decodeTrace(jh('{"format":"iorewind-trace","version":3,"event_schema":1,"kernel":"6.12","meta":{}}'))).message).toMatch(/^line 1, header: unsupported trace format version 3/);
    expect(fails(() => decodeTrace(jh('{"op":"x","args":null}'))).message).toMatch(/unknown header field "op"/);
    expect(fails(() => decodeTrace(jh('{"format":'))).message).toMatch(/invalid JSON/);
  });

  it('the upcaster hook lifts records of another event_schema', () => {
    const up = (v: number, r: unknown): unknown => ({ ...(r as object), src: `from ${v}` });
    const bin = buildIort({ header: { format: 'iorewind-trace', version: 1, event_schema: 2, kernel: '6.12', meta: {} }, blocks: [block(EV_NULL)] });
    expect(decodeTrace(bin, { upcast: up }).events).toEqual([{ op: 'x', args: null, src: 'from 2' }]);
    const j = Buffer.from('{"format":"iorewind-trace","version":1,"event_schema":2,"kernel":"6.12","meta":{}}\n{"op":"x","args":null}\n');
    expect(fails(() => decodeTrace(j)).message).toMatch(/unsupported event_schema 2/);
    expect(decodeTrace(j, { upcast: up }).events).toEqual([{ op: 'x', args: null, src: 'from 2' }]);
    const e = fails(() =>
      decodeTrace(j, {
        upcast: () => {
          throw new Error('nope');
        },
      }),
    );
    expect(e.message).toBe('line 2, record 0: upcast from event_schema 2 failed: nope');
    const e2 = fails(() => decodeTrace(bin, { upcast: () => ({ op: 7 }) }));
    expect(e2.message).toMatch(/record 0: event.op must be/);
  });
});

describe('absurd lengths are refused before allocating', () => {
  it('binary frame and preamble lengths', () => {
    const b = buildIort({ blocks: [block(EV_NULL)] });
    const dv = (x: Uint8Array): DataView => new DataView(x.buffer, x.byteOffset, x.byteLength);
    let c = Uint8Array.from(b);
    dv(c).setUint32(12, 0xffffffff, true);
    expect(fails(() => decodeTrace(c)).message).toMatch(/header record of 4294967295 bytes exceeds the limit/);
    const frame = payloadRanges(b)[0]![0] - 16;
    c = Uint8Array.from(b);
    dv(c).setUint32(frame + 4, 0xffffffff, true);
    expect(fails(() => decodeTrace(c)).message).toMatch(/block of 4294967295 bytes exceeds the limit/);
    c = Uint8Array.from(b);
    dv(c).setUint32(frame + 8, 0xffffffff, true);
    expect(fails(() => decodeTrace(c)).message).toMatch(/block of 4294967295 events exceeds the limit/);
    c = Uint8Array.from(b);
    dv(c).setUint32(frame + 4, 1 << 20, true); // plausible length, file too short
    expect(fails(() => decodeTrace(c)).message).toMatch(/truncated/);
  });

  it('binary msgpack lengths inside a (checksum-valid) block', () => {
    const cases: [number[], RegExp][] = [
      [[0xc6, 0xff, 0xff, 0xff, 0xf0], /byte buffer of 4294967280 bytes exceeds the limit/],
      [[0xc5, 0x10, 0x00], /runs past the end/],
      [[0xdb, 0xff, 0xff, 0xff, 0xf0], /string of 4294967280 bytes exceeds the limit/],
      [[0xdd, 0xff, 0xff, 0xff, 0xf0], /array of 4294967280 elements exceeds the limit/],
      [[0xdc, 0xff, 0xff], /runs past the end/],
      [[0xd4, 0x72, 0x41, 0xdd, 0xff, 0xff, 0xff, 0xff], /object with 4294967295 keys exceeds the limit/],
      [[0xd4, 0x72, 0x41, 0xdc, 0x00, 0xff], /runs past the end/],
    ];
    for (const [raw, re] of cases) {
      const e = fails(() => decodeTrace(buildIort({ blocks: [block(evWith(raw))] })));
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(WHERE_BIN);
      expect(e.record).toBe(0);
    }
  });

  it('limits are enforced in both formats', () => {
    const cases: [Partial<import('../../../src/trace/limits.js').TraceLimits>, Event][] = [
      [{ maxBufferBytes: 8 }, { op: 'x', args: { b: new Uint8Array(9) } }],
      [{ maxStringBytes: 16 }, { op: 'x', args: { s: 'é'.repeat(9) } }],
      [{ maxKeys: 6 }, { op: 'x', args: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 } }],
      [{ maxArrayLength: 3 }, { op: 'x', args: { a: [1, 2, 3, 4] } }],
      [{ maxDepth: 3 }, { op: 'x', args: { a: { b: { c: 1 } } } }],
      [{ maxEventBytes: 100 }, { op: 'x', args: { s: 'y'.repeat(120) } }],
    ];
    for (const [limits, e] of cases) {
      for (const format of ['iort', 'jsonl'] as const) {
        const bytes = encodeTrace({ kernel: '6.12' }, [ev(1), e], { format });
        expect(decodeTrace(bytes).events).toHaveLength(2);
        const err = fails(() => decodeTrace(bytes, { limits }));
        expect(err.message).toMatch(format === 'iort' ? /byte offset \d+, record 1: .*(limit|deeper)/ : /line 3, record 1: .*(limit|deeper|longer)/);
        expect(() => encodeTrace({ kernel: '6.12' }, [e], { format, limits })).toThrow(TraceFormatError);
      }
    }
  });

  it('jsonl: an over-long line is refused while streaming', async () => {
    const p = t.path('long.iort.jsonl');
    writeFileSync(p, HEADER_LINE + `{"op":"x","args":{"s":"${'a'.repeat(3 << 20)}"}}\n`);
    const e = await failsAsync(() => readAll(p, { limits: { maxEventBytes: 1 << 20 } }));
    expect(e.message).toMatch(/line 2, record 0: line longer than 1048576 bytes/);
    writeFileSync(p, HEADER_LINE + `{"op":"x","args":{"s":"${'a'.repeat(3 << 20)}"`); // and no newline at all
    expect((await failsAsync(() => readAll(p, { limits: { maxEventBytes: 1 << 20 } }))).message).toMatch(/line longer/);
  });
});

describe('__proto__, constructor, prototype', () => {
  const evil = ['__proto__', 'constructor', 'prototype'];

  it('binary: forbidden record keys anywhere are rejected', () => {
    for (const k of evil) {
      for (const payload of [
        block(evWith([...def(0x41, [k]), ...def(0x42, ['polluted']), 0x01])), // args: { [k]: { polluted: 1 } }
        block([...def(0x40, ['op', 'args', k]), ...str('x'), 0xc0, 0x01]), // top level
        block(evWith([0x91, ...def(0x41, ['a', k]), 0x01, 0x02])), // inside an array
      ]) {
        const e = fails(() => decodeTrace(buildIort({ blocks: [payload] })));
        expect(e.message).toMatch(new RegExp(`forbidden key "${k}"`));
        expect(e.message).toMatch(WHERE_BIN);
      }
    }
    // what msgpackr itself would encode from a JSON-parsed object
    const e = fails(() => decodeTrace(buildIort({ blocks: [packed(JSON.parse('{"op":"x","args":{"__proto__":{"polluted":1}}}'))] })));
    expect(e.message).toMatch(/forbidden key "__proto__"/);
    // in the header
    expect(fails(() => decodeTrace(buildIort({ header: JSON.parse('{"format":"iorewind-trace","version":1,"event_schema":1,"kernel":"6.12","meta":{"__proto__":{"polluted":1}}}'), blocks: [] }))).message).toMatch(
      /header: forbidden key "__proto__"/,
    );
    // msgpack maps (which msgpackr would decode with its own key handling) are not allowed at all
    expect(fails(() => decodeTrace(buildIort({ blocks: [block(evWith([0x81, ...str('__proto__'), 0x81, ...str('polluted'), 0x01]))] }))).message).toMatch(/maps are not allowed/);
    // an overlong UTF-8 spelling of "_" is not valid UTF-8
    const overlong = [0xd4, 0x72, 0x41, 0x91, 0xaa, 0xc1, 0x9f, ...Buffer.from('_proto__'), 0x01];
    expect(fails(() => decodeTrace(buildIort({ blocks: [block(evWith(overlong))] }))).message).toMatch(/not valid UTF-8/);
  });

  it('jsonl: forbidden keys anywhere are rejected', () => {
    for (const k of evil) {
      for (const line of [
        `{"op":"x","args":{"${k}":{"polluted":1}}}`,
        `{"${k}":{"polluted":1},"op":"x","args":null}`,
        `{"op":"x","args":{"a":[{"${k}":{"polluted":1}}]}}`,
        `{"op":"x","args":null,"rec":{"errno":0,"out":{"${k}":1}}}`,
      ]) {
        const e = fails(() => decodeTrace(jsonl(line)));
        expect(e.message).toBe(`line 2, record 0: forbidden key "${k}"`);
      }
    }
    const h = '{"format":"iorewind-trace","version":1,"event_schema":1,"kernel":"6.12","meta":{"__proto__":{"polluted":1}}}\n';
    expect(fails(() => decodeTrace(Buffer.from(h))).message).toBe('line 1, header: forbidden key "__proto__"');
  });
});

describe('values outside the trace domain', () => {
  it('binary: extensions, maps, float32, negative int64, non-finite, dangling record ids, bad keys', () => {
    const cases: [number[], RegExp][] = [
      [[0xd6, 0xff, 0, 0, 0, 0], /token 0xd6/], // timestamp -> Date
      [[0xd4, 0x00, 0x00], /extension type 0/], // undefined
      [[0xc7, 0x09, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 1], /token 0xc7/], // bigint extension
      [[0xd4, 0x73, 0x90], /extension type 115/], // Set
      [[0xd5, 0x72, 0x40, 0x00], /token 0xd5/], // two-byte record definition
      [[0x80], /maps are not allowed/],
      [[0xca, 0x3f, 0x80, 0, 0], /token 0xca/],
      [[0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], /negative 64-bit/],
      [[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], /non-finite/],
      [[0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0], /non-finite/],
      [[0xcb, 0x43, 0xf0, 0, 0, 0, 0, 0, 0], /not exactly representable/], // 2^64 as a double
      [[0x45], /undefined record id 0x45/],
      [[0xd4, 0x72, 0x41, 0x91, 0x01, 0x01], /record key must be a string/],
      [[0xd4, 0x72, 0x41, 0x92, 0xa1, 0x61, 0xa1, 0x61, 0x01, 0x02], /duplicate key "a"/],
      [[0xd4, 0x72, 0x41, 0x91, 0xa2, 0x24, 0x78, 0x01], /reserved key "\$x"/],
      [[0xd4, 0x72, 0x00, 0x90], /record id 0x0 out of range/],
      [[0xa2, 0xc3, 0x28], /not valid UTF-8/],
      [[0xc1], /token 0xc1/],
    ];
    for (const [raw, re] of cases) {
      const e = fails(() => decodeTrace(buildIort({ blocks: [block(evWith(raw))] })));
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(WHERE_BIN);
      expect(e.record).toBe(0);
    }
  });

  it('jsonl: tags, numbers, strings', () => {
    const cases: [string, RegExp][] = [
      ['{"$u64":5}', /\$u64/],
      ['{"$u64":"0x"}', /\$u64/],
      ['{"$u64":"12"}', /\$u64/],
      ['{"$u64":"0x1ffffffffffffffff"}', /\$u64/],
      ['{"$u64":"-0x1"}', /\$u64/],
      ['{"$hex":"abc"}', /\$hex/],
      ['{"$hex":"zz"}', /non-hex/],
      ['{"$hex":5}', /\$hex/],
      ['{"$foo":1}', /reserved key "\$foo"/],
      ['{"$u64":"0x1","x":1}', /reserved key "\$u64"/],
      ['1e400', /non-finite/],
      ['9007199254740993', /not exactly representable/],
      ['"\\ud800"', /lone surrogate/],
    ];
    for (const [v, re] of cases) {
      const e = fails(() => decodeTrace(jsonl(`{"op":"x","args":{"v":${v}}}`)));
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(/^line 2, record 0: /);
    }
    expect(fails(() => decodeTrace(Buffer.concat([jsonl(), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])]))).message).toMatch(/not valid UTF-8/);
    expect(fails(() => decodeTrace(jsonl('{"op":"x","args":null}', '', '{"op":"y","args":null}'))).message).toMatch(/line 3, record 1: empty line/);
  });

  it('deep nesting is refused without blowing the stack', () => {
    const depth = 200_000;
    const raw = new Array<number>(depth).fill(0x91);
    raw.push(0xc0);
    const e = fails(() => decodeTrace(buildIort({ blocks: [block(evWith(raw))] })));
    expect(e.message).toMatch(/nesting deeper than 32/);
    const j = fails(() => decodeTrace(jsonl(`{"op":"x","args":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`)));
    expect(j.message).toMatch(/line 2, record 0: (nesting deeper than 32|invalid JSON)/);
  });

  it('a storm of record definitions is capped per block', () => {
    const one = [...def(0x41, ['a']), 0x01, 0x41, 0x01, 0x41, 0x01, 0x41, 0x01];
    const args = [...def(0x43, ['l']), 0xdc, 0x10, 0x00]; // { l: array of 4096 }
    for (let i = 0; i < 1024; i++) args.push(...one.slice(0, 8)); // def + value
    for (let i = 1024; i < 4096; i++) args.push(0x41, 0x01);
    const e = fails(() => decodeTrace(buildIort({ blocks: [block(evWith(args))] })));
    expect(e.message).toMatch(/more than 1024 record definitions/);
    expect(decodeTrace(buildIort({ blocks: [block(evWith(args))] }), { limits: { maxRecordDefs: 2000, maxArrayLength: 5000 } }).events).toHaveLength(1);
  });
});

describe('event envelope', () => {
  const bad: [unknown, RegExp][] = [
    [{ args: null }, /event.op is missing/],
    [{ op: 5, args: null }, /event.op must be a non-empty string/],
    [{ op: '', args: null }, /event.op must be a non-empty string/],
    [{ op: 'x' }, /event.args is missing/],
    [{ op: 'x', args: [1] }, /event.args must be an object or null/],
    [{ op: 'x', args: 1 }, /event.args must be an object or null/],
    [{ op: 'x', args: null, pid: -1 }, /event.pid must be a non-negative safe integer/],
    [{ op: 'x', args: null, pid: 1.5 }, /event.pid/],
    [{ op: 'x', args: null, fd: '3' }, /event.fd/],
    [{ op: 'x', args: null, size: true }, /event.size/],
    [{ op: 'x', args: null, tail: 'ab' }, /event.tail must be bytes/],
    [{ op: 'x', args: null, bufs: { a: 1 } }, /event.bufs.a must be bytes or null/],
    [{ op: 'x', args: null, bufs: [] }, /event.bufs must be an object/],
    [{ op: 'x', args: null, rec: {} }, /event.rec.errno is missing/],
    [{ op: 'x', args: null, rec: { errno: 1 } }, /event.rec.errno must be 0 or an errno name/],
    [{ op: 'x', args: null, rec: { errno: 0, ret: -1 } }, /event.rec.ret/],
    [{ op: 'x', args: null, rec: { errno: 0, out: null } }, /event.rec.out must be an object/],
    [{ op: 'x', args: null, rec: { errno: 0, extra: 1 } }, /unknown event.rec field "extra"/],
    [{ op: 'x', args: null, src: 5 }, /event.src must be a string/],
    [{ op: 'x', args: null, foo: 1 }, /unknown event field "foo"/],
    [5, /event must be an object/],
    [[], /event must be an object/],
    [null, /event must be an object/],
  ];

  it('binary', () => {
    for (const [v, re] of bad) {
      const e = fails(() => decodeTrace(buildIort({ blocks: [block(EV_NULL), packed(v)] })));
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(/^byte offset \d+, record 1: /);
    }
  });

  it('jsonl', () => {
    for (const [v, re] of bad) {
      const e = fails(() => decodeTrace(jsonl('{"op":"x","args":null}', JSON.stringify(v))));
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(/^line 3, record 1: /);
    }
  });

  it('per-op field contents are not judged', () => {
    const odd: Event = { op: 'IOMMU_IOAS_MAP', args: { flags: 'not a number', iova: [1, 2], whatever: { x: null } } };
    for (const format of ['iort', 'jsonl'] as const) expect(decodeTrace(encodeTrace({ kernel: '6.12' }, [odd], { format })).events).toStrictEqual([odd]);
  });

  it('binary: the envelope check on raw tokens agrees with envelopeProblem (and survives odd encodings)', () => {
    const scalar = fc.oneof(
      fc.constantFrom<unknown>(0, 1, 63, 64, 255, 65536, 2 ** 32, 2 ** 40, -1, -200, 0.5, '', 'x', 'ENOENT', null, true, 0n, 5n, 2n ** 64n - 1n),
      fc.uint8Array({ maxLength: 3 }),
    );
    const obj = (keys: string[], v: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> => fc.dictionary(fc.constantFrom(...keys), v, { maxKeys: 4, noNullPrototype: true });
    const bufs = obj(['a', 'b'], fc.oneof(scalar, fc.constant(new Uint8Array(2))));
    const rec = obj(['errno', 'ret', 'out', 'bufs', 'zz'], fc.oneof(scalar, bufs, fc.constant([])));
    const field = fc.oneof(scalar, bufs, rec, fc.constant([1]), fc.constant({}));
    const envelope = obj(['op', 'pid', 'fd', 'args', 'size', 'tail', 'bufs', 'rec', 'src', 'foo'], field);
    fc.assert(
      fc.property(envelope, (e) => {
        const expectOk = envelopeProblem(e) === null;
        let ok = true;
        try {
          decodeTrace(buildIort({ blocks: [packed(e)] }));
        } catch (err) {
          if (!(err instanceof TraceFormatError)) throw err;
          ok = false;
        }
        expect(ok).toBe(expectOk);
      }),
      { seed: SEED, numRuns: 1000 },
    );
    // hand-made encodings msgpackr would not choose
    const withPid = (raw: number[]): Uint8Array => buildIort({ blocks: [block([...def(0x40, ['op', 'args', 'pid']), ...str('x'), 0xc0, ...raw])] });
    expect(decodeTrace(withPid([0xd0, 0x05])).events[0]?.pid).toBe(5); // int8
    expect(decodeTrace(withPid([0xcb, 0x42, 0x70, 0, 0, 0, 0, 0, 0])).events[0]?.pid).toBe(2 ** 40); // float64
    expect(fails(() => decodeTrace(withPid([0xd0, 0xff]))).message).toMatch(/event.pid/);
    expect(fails(() => decodeTrace(withPid([0xcf, 0, 0, 0, 0, 0, 0, 0, 5]))).message).toMatch(/event.pid/); // a u64 is a bigint
    expect(fails(() => decodeTrace(withPid([0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]))).message).toMatch(/event.pid/); // 1.5
    const op8 = buildIort({ blocks: [block([...def(0x40, ['op', 'args']), 0xd9, 0x01, 0x79, 0xc0])] });
    expect(decodeTrace(op8).events).toEqual([{ op: 'y', args: null }]);
    const op0 = buildIort({ blocks: [block([...def(0x40, ['op', 'args']), 0xd9, 0x00, 0xc0])] });
    expect(fails(() => decodeTrace(op0)).message).toMatch(/event.op must be a non-empty string/);
  });
});
