import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { Event, Value } from '../../../src/events/event.js';
import { crc32, FRAME_HEADER_BYTES, IORT_MAGIC, PREAMBLE_BYTES } from '../../../src/trace/binary.js';
import { MSGPACK_OPTIONS } from '../../../src/trace/msgpack.js';

export const SEED = 20240611;

export function tmp(): { dir: string; path(name: string): string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'iorewind-trace-test-'));
  return { dir, path: (n) => join(dir, n), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const U64_EDGES = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n];
export const arbU64 = fc.oneof(fc.constantFrom(...U64_EDGES), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
export const arbNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, 1, 63, 64, 127, 128, 255, 256, -1, -32, -33, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0) && (!Number.isInteger(n) || Number.isSafeInteger(n))),
);
export const arbBytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 200, maxLength: 1000 }));
export const arbKey = fc
  .string({ unit: fc.constantFrom('a', 'b', 'z', '_', '0', '9', 'é', '€', '😀', ' ', '"', '\\', '\n', '$'), maxLength: 8 })
  .filter((k) => !k.startsWith('$') && k !== '__proto__' && k !== 'constructor' && k !== 'prototype');
export const arbString = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constantFrom('', 'IOMMU_IOAS_MAP', 'ENOENT', '$u64', '{"$hex":"00"}', '__proto__'));

export const arbValue: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    arbU64,
    arbNumber,
    arbString,
    fc.boolean(),
    fc.constant(null),
    arbBytes,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(arbKey, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
})).value;

export const arbFields = fc.dictionary(arbKey, arbValue, { maxKeys: 6, noNullPrototype: true });
const arbBuffers = fc.dictionary(arbKey, fc.option(arbBytes, { nil: null }), { maxKeys: 3, noNullPrototype: true });
const arbCount = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER));

export const arbEvent: fc.Arbitrary<Event> = fc.record(
  {
    op: fc.oneof(fc.constantFrom('IOMMU_IOAS_MAP', 'IOMMU_HWPT_ALLOC', 'mmap', 'fork', 'VFIO_IOMMU_MAP_DMA'), fc.string({ minLength: 1, maxLength: 12 })),
    pid: arbCount,
    fd: arbCount,
    args: fc.option(arbFields, { nil: null }),
    size: arbCount,
    tail: arbBytes,
    bufs: arbBuffers,
    rec: fc.record(
      { errno: fc.oneof(fc.constant(0 as const), fc.constantFrom('EINVAL', 'ENOENT', 'EFAULT')), ret: arbCount, out: arbFields, bufs: arbBuffers },
      { requiredKeys: ['errno'], noNullPrototype: true },
    ),
    src: arbString,
  },
  { requiredKeys: ['op', 'args'], noNullPrototype: true },
) as fc.Arbitrary<Event>;

/** A varied, deterministic event. */
export function ev(i: number): Event {
  const iova = BigInt(i) << 12n;
  switch (i % 5) {
    case 0:
      return { op: 'IOMMU_IOAS_MAP', pid: 1 + (i % 3), fd: 3, args: { flags: 7, ioas_id: 2, user_va: 0x7f00_0000_0000n + iova, length: 0x1000n, iova }, rec: { errno: 0, out: { iova } } };
    case 1:
      return { op: 'IOMMU_IOAS_ALLOC', args: { flags: 0 }, rec: { errno: 0, out: { out_ioas_id: i } } };
    case 2:
      return { op: 'mmap', pid: 2, args: { addr: 0x7f00_0000_0000n + iova, length: 0x20_0000n, prot: 3 }, src: `step ${i}` };
    case 3:
      return { op: 'IOMMU_IOAS_UNMAP', fd: 3, args: { ioas_id: 2, iova, length: 0x1000n }, size: 40, tail: new Uint8Array([i & 0xff, 0]), rec: { errno: 'ENOENT' } };
    default:
      return { op: 'IOMMU_TEST_CMD', args: { op: 2, id: 1, mock_domain: { out_stdev_id: 0, out_hwpt_id: 0, out_idev_id: 0 } }, bufs: { data: new Uint8Array(i % 7), uptr: null } };
  }
}

/** Raw msgpackr packer with the trace configuration (can encode things the writer refuses). */
export const rawPackr = new Packr({ ...MSGPACK_OPTIONS });

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Assembles a binary trace from raw parts, with correct checksums unless told otherwise. */
export function buildIort(opts: {
  header?: unknown;
  headerBytes?: Uint8Array;
  version?: number;
  flags?: number;
  blocks: { payload: Uint8Array; count: number }[];
  end?: number | null;
}): Uint8Array {
  const h = opts.headerBytes ?? rawPackr.pack(opts.header ?? { format: 'iorewind-trace', version: 1, event_schema: 1, kernel: '6.12', meta: {} });
  const parts: number[] = [...IORT_MAGIC, (opts.version ?? 1) & 0xff, (opts.version ?? 1) >> 8, (opts.flags ?? 0) & 0xff, (opts.flags ?? 0) >> 8, ...le32(h.length), ...le32(crc32(h)), ...h];
  let total = 0;
  const frame = (tag: string, payload: Uint8Array, count: number): void => {
    const head = [...Buffer.from(tag, 'latin1'), ...le32(payload.length), ...le32(count)];
    const crc = crc32(payload, crc32(Uint8Array.from(head.slice(4, 12))));
    parts.push(...head, ...le32(crc), ...payload);
  };
  for (const b of opts.blocks) {
    frame('EVTB', b.payload, b.count);
    total += b.count;
  }
  if (opts.end !== null) {
    const p = new Uint8Array(8);
    new DataView(p.buffer).setBigUint64(0, BigInt(opts.end ?? total), true);
    frame('EVTE', p, 0);
  }
  return Uint8Array.from(parts);
}

/** Recomputes every checksum of a (possibly mutated) binary trace, as far as its framing can be followed. */
export function fixCrcs(b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  const dv = new DataView(out.buffer);
  if (out.length < PREAMBLE_BYTES) return out;
  const h = dv.getUint32(12, true);
  if (PREAMBLE_BYTES + h > out.length) return out;
  dv.setUint32(16, crc32(out.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + h)), true);
  let off = PREAMBLE_BYTES + h;
  while (off + FRAME_HEADER_BYTES <= out.length) {
    const len = dv.getUint32(off + 4, true);
    const start = off + FRAME_HEADER_BYTES;
    if (start + len > out.length) break;
    dv.setUint32(off + 12, crc32(out.subarray(start, start + len), crc32(out.subarray(off + 4, off + 12))), true);
    off = start + len;
  }
  return out;
}

/** Offsets of the block payloads of a binary trace. */
export function payloadRanges(b: Uint8Array): [number, number][] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: [number, number][] = [];
  let off = PREAMBLE_BYTES + dv.getUint32(12, true);
  while (off + FRAME_HEADER_BYTES <= b.length) {
    const len = dv.getUint32(off + 4, true);
    out.push([off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len]);
    off += FRAME_HEADER_BYTES + len;
  }
  return out;
}

/** Own enumerable + non-enumerable keys of Object.prototype, to detect pollution. */
export function protoKeys(): string[] {
  return Object.getOwnPropertyNames(Object.prototype).sort();
}

/**
 * Fast exact comparison of decoded data (`got`) with what was written
 * (`want`): same types (bigint vs number, plain Uint8Array, plain objects
 * with Object.prototype), same values. Returns the path of the first
 * difference, or null. (vitest's deep equality is slow on big byte arrays.)
 */
export function diff(got: unknown, want: unknown, path = '$'): string | null {
  if (typeof got !== typeof want) return `${path}: ${typeof got} vs ${typeof want}`;
  if (typeof want !== 'object' || want === null || got === null) return Object.is(got, want) || (got === want && typeof got !== 'number') ? null : `${path}: ${String(got)} vs ${String(want)}`;
  if (want instanceof Uint8Array) {
    if (Object.getPrototypeOf(got) !== Uint8Array.prototype) return `${path}: not a plain Uint8Array`;
    return Buffer.compare(got as Uint8Array, want) === 0 ? null : `${path}: bytes differ`;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return `${path}: array length`;
    for (let i = 0; i < want.length; i++) {
      const d = diff(got[i], want[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (Object.getPrototypeOf(got) !== Object.prototype) return `${path}: not a plain object`;
  const gk = Object.keys(got as object).sort();
  const wk = Object.keys(want).filter((k) => (want as Record<string, unknown>)[k] !== undefined).sort();
  if (gk.join('\0') !== wk.join('\0')) return `${path}: keys ${JSON.stringify(gk)} vs ${JSON.stringify(wk)}`;
  for (const k of wk) {
    const d = diff((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}
