/**
 * Binary trace container (`.iort`). All integers little-endian.
 *
 *   preamble   0  8  magic 89 49 4f 52 54 0d 0a 1a  ("\x89IORT\r\n\x1a")
 *              8  2  format version (1)
 *             10  2  flags (0; anything else is rejected)
 *             12  4  H = header record length
 *             16  4  CRC-32 of the header record
 *             20  H  header record: one msgpack value (see msgpack.ts)
 *   frames     0  4  tag: "EVTB" (event block) or "EVTE" (end)
 *              4  4  L = payload length
 *              8  4  N = events in the block (0 for the end frame)
 *             12  4  CRC-32 of bytes 4..12 of this frame followed by the payload
 *             16  L  payload
 *
 * An event block's payload is one msgpack array of its N events, with its own
 * record structures (msgpack.ts), so blocks decode independently and a reader
 * can skip a block by its length without decoding it. The end frame's payload
 * is the total event count as a u64 and must be the last thing in the file:
 * a file cut anywhere, even between two blocks, is reported as truncated.
 * A reader needs memory for one block (<= maxBlockBytes) at a time.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { EVENT_SCHEMA_VERSION, type Event } from '../events/event.js';
import { TraceFormatError } from './errors.js';
import { headerProblem, TRACE_FORMAT_VERSION, type TraceHeader } from './header.js';
import type { TraceLimits } from './limits.js';
import { packValue, scanBlock, scanValue, unpackChecked } from './msgpack.js';
import { canUpcast, type Upcaster } from './upcast.js';
import { envelopeProblem } from './validate.js';

export const IORT_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x49, 0x4f, 0x52, 0x54, 0x0d, 0x0a, 0x1a);
export const PREAMBLE_BYTES = 20;
export const FRAME_HEADER_BYTES = 16;
const TAG_BLOCK = 0x42545645; // "EVTB" read as u32 LE
const TAG_END = 0x45545645; // "EVTE"
const END_PAYLOAD_BYTES = 8;

/** Default events per block written. */
export const DEFAULT_BLOCK_EVENTS = 4096;
/** A block is also closed once its events' estimated size reaches this. */
export const DEFAULT_BLOCK_TARGET_BYTES = 4 << 20;

const crcTable: Uint32Array | null = typeof zlibCrc32 === 'function' ? null : makeCrcTable();
function makeCrcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
/** CRC-32 (zlib polynomial), continuing from `prev`. */
export function crc32(data: Uint8Array, prev = 0): number {
  if (crcTable === null) return zlibCrc32(data, prev);
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

function frameCrc(frameHeader: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(frameHeader.subarray(4, 12)));
}

// ---------------------------------------------------------------- encoding

/** The preamble and header record. */
export function encodePreamble(header: TraceHeader, limits: TraceLimits): Uint8Array {
  const rec = packValue(header);
  if (rec.length > limits.maxHeaderBytes) throw new TraceFormatError(`header record of ${rec.length} bytes exceeds the limit of ${limits.maxHeaderBytes}`, { record: 'header' });
  scanValue(rec, limits, PREAMBLE_BYTES, 'header');
  const out = new Uint8Array(PREAMBLE_BYTES + rec.length);
  const dv = new DataView(out.buffer);
  out.set(IORT_MAGIC, 0);
  dv.setUint16(8, TRACE_FORMAT_VERSION, true);
  dv.setUint16(10, 0, true);
  dv.setUint32(12, rec.length, true);
  dv.setUint32(16, crc32(rec), true);
  out.set(rec, PREAMBLE_BYTES);
  return out;
}

function frame(tag: number, payload: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, tag, true);
  dv.setUint32(4, payload.length, true);
  dv.setUint32(8, count, true);
  out.set(payload, FRAME_HEADER_BYTES);
  dv.setUint32(12, frameCrc(out, payload), true);
  return out;
}

/**
 * Encodes checked events (see prepareEvent) into one or more block frames:
 * a block is split in halves until each half fits maxBlockBytes and
 * maxRecordDefs. `firstRecord` is only used in error messages.
 */
export function encodeBlocks(events: readonly Event[], firstRecord: number, limits: TraceLimits): Uint8Array[] {
  const out: Uint8Array[] = [];
  const go = (lo: number, hi: number): void => {
    const n = hi - lo;
    const payload = packValue(lo === 0 && hi === events.length ? events : events.slice(lo, hi));
    let ok = payload.length <= limits.maxBlockBytes && n <= limits.maxBlockEvents;
    if (ok) {
      // Self-check: what we write must pass exactly the checks readers apply.
      const { defs } = scanBlock(payload, n, limits, 0, firstRecord + lo, Number.MAX_SAFE_INTEGER);
      ok = defs <= limits.maxRecordDefs;
      if (ok) {
        out.push(frame(TAG_BLOCK, payload, n));
        return;
      }
    }
    if (n === 1)
      throw new TraceFormatError(
        payload.length > limits.maxBlockBytes
          ? `event encodes to ${payload.length} bytes, more than a block may hold (${limits.maxBlockBytes})`
          : `event has more distinct object shapes than a block may define (${limits.maxRecordDefs})`,
        { record: firstRecord + lo },
      );
    const mid = lo + (n >> 1);
    go(lo, mid);
    go(mid, hi);
  };
  if (events.length > 0) go(0, events.length);
  return out;
}

/** The end frame, recording the total event count. */
export function encodeEnd(total: number): Uint8Array {
  const p = new Uint8Array(END_PAYLOAD_BYTES);
  new DataView(p.buffer).setBigUint64(0, BigInt(total), true);
  return frame(TAG_END, p, 0);
}

// ---------------------------------------------------------------- decoding

export interface DecodeContext {
  limits: TraceLimits;
  /** Upcaster to apply when header.event_schema is not the current one. */
  upcast: Upcaster;
  /** Whether a custom upcaster was supplied (then any event_schema >= 1 is accepted). */
  customUpcast: boolean;
}

export interface FrameInfo {
  kind: 'block' | 'end';
  /** Absolute offset of the frame header. */
  offset: number;
  length: number;
  count: number;
  crc: number;
  /** The 16 header bytes (a copy). */
  head: Uint8Array;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

/** Whether `b` starts with (a prefix of) the magic. */
function magicPrefix(b: Uint8Array): boolean {
  for (let i = 0; i < Math.min(b.length, IORT_MAGIC.length); i++) if (b[i] !== IORT_MAGIC[i]) return false;
  return true;
}

/**
 * Checks the fixed 20 preamble bytes (`b` may be shorter when the file is);
 * returns the header record length.
 */
export function parsePreamble(b: Uint8Array, fileSize: number, limits: TraceLimits): number {
  if (!magicPrefix(b)) throw new TraceFormatError('not an iorewind binary trace (bad magic)', { offset: 0, record: 'header' });
  if (b.length < PREAMBLE_BYTES)
    throw new TraceFormatError(`truncated file: preamble needs ${PREAMBLE_BYTES} bytes, file has ${fileSize}`, { offset: b.length, record: 'header' });
  const version = (b[8] as number) | ((b[9] as number) << 8);
  if (version !== TRACE_FORMAT_VERSION)
    throw new TraceFormatError(`unsupported trace format version ${version} (this build reads version ${TRACE_FORMAT_VERSION})`, { offset: 8, record: 'header' });
  const flags = (b[10] as number) | ((b[11] as number) << 8);
  if (flags !== 0) throw new TraceFormatError(`unsupported flags 0x${flags.toString(16)}`, { offset: 10, record: 'header' });
  const h = u32(b, 12);
  if (h === 0) throw new TraceFormatError('empty header record', { offset: 12, record: 'header' });
  if (h > limits.maxHeaderBytes) throw new TraceFormatError(`header record of ${h} bytes exceeds the limit of ${limits.maxHeaderBytes}`, { offset: 12, record: 'header' });
  if (PREAMBLE_BYTES + h > fileSize)
    throw new TraceFormatError(`truncated file: header record needs ${h} bytes, ${fileSize - PREAMBLE_BYTES} present`, { offset: fileSize, record: 'header' });
  return h;
}

/** Decodes and checks the header record (`rec` = the H bytes after the preamble; `pre` = the preamble). */
export function decodeHeader(pre: Uint8Array, rec: Uint8Array, ctx: DecodeContext): TraceHeader {
  if (crc32(rec) !== u32(pre, 16)) throw new TraceFormatError('header record checksum mismatch', { offset: PREAMBLE_BYTES, record: 'header' });
  scanValue(rec, ctx.limits, PREAMBLE_BYTES, 'header');
  const h = unpackChecked(rec, PREAMBLE_BYTES, 'header');
  const p = headerProblem(h);
  if (p) throw new TraceFormatError(p, { offset: PREAMBLE_BYTES, record: 'header' });
  const header = h as TraceHeader;
  checkSchema(header, ctx, { offset: PREAMBLE_BYTES, record: 'header' });
  return header;
}

export function checkSchema(header: TraceHeader, ctx: DecodeContext, where: { offset?: number; line?: number; record: 'header' }): void {
  const v = header.event_schema;
  if (v !== EVENT_SCHEMA_VERSION && !ctx.customUpcast && !canUpcast(v))
    throw new TraceFormatError(`unsupported event_schema ${v} (this build reads up to ${EVENT_SCHEMA_VERSION})`, where);
}

/** Parses a frame header at absolute `offset`; `have` = bytes available there (16 unless the file ends). */
export function parseFrameHeader(b: Uint8Array, offset: number, nextRecord: number, limits: TraceLimits): FrameInfo {
  if (b.length < FRAME_HEADER_BYTES) {
    if (b.length === 0)
      throw new TraceFormatError(`truncated file: no end frame (${nextRecord} events read)`, { offset, record: nextRecord });
    throw new TraceFormatError(`truncated file: frame header needs ${FRAME_HEADER_BYTES} bytes, ${b.length} present`, { offset, record: nextRecord });
  }
  const tag = u32(b, 0);
  const length = u32(b, 4);
  const count = u32(b, 8);
  const crc = u32(b, 12);
  const head = Uint8Array.prototype.slice.call(b, 0, FRAME_HEADER_BYTES);
  const where = { offset, record: nextRecord };
  if (tag === TAG_BLOCK) {
    if (count === 0) throw new TraceFormatError('event block with 0 events', where);
    if (count > limits.maxBlockEvents) throw new TraceFormatError(`block of ${count} events exceeds the limit of ${limits.maxBlockEvents}`, where);
    if (length > limits.maxBlockBytes) throw new TraceFormatError(`block of ${length} bytes exceeds the limit of ${limits.maxBlockBytes}`, where);
    if (length < count + 1) throw new TraceFormatError(`block of ${length} bytes cannot hold ${count} events`, where);
    return { kind: 'block', offset, length, count, crc, head };
  }
  if (tag === TAG_END) {
    if (length !== END_PAYLOAD_BYTES || count !== 0) throw new TraceFormatError('malformed end frame', where);
    return { kind: 'end', offset, length, count, crc, head };
  }
  throw new TraceFormatError(`bad frame tag 0x${tag.toString(16).padStart(8, '0')} (expected an event block or the end frame)`, where);
}

function truncatedPayload(f: FrameInfo, have: number, nextRecord: number): TraceFormatError {
  return new TraceFormatError(`truncated file: frame payload needs ${f.length} bytes, ${have} present`, {
    offset: f.offset + FRAME_HEADER_BYTES + have,
    record: nextRecord,
  });
}

/** Decodes a block payload into checked events; `firstRecord` is the index of its first event. */
export function decodeBlock(f: FrameInfo, payload: Uint8Array, firstRecord: number, schema: number, ctx: DecodeContext): Event[] {
  const base = f.offset + FRAME_HEADER_BYTES;
  if (payload.length < f.length) throw truncatedPayload(f, payload.length, firstRecord);
  if (frameCrc(f.head, payload) !== f.crc) throw new TraceFormatError('block checksum mismatch', { offset: f.offset, record: firstRecord });
  const { starts } = scanBlock(payload, f.count, ctx.limits, base, firstRecord);
  const decoded = unpackChecked(payload, base, firstRecord) as unknown[];
  // The scan has checked the envelope of every event on the raw bytes; only upcast records need a second look.
  if (schema === EVENT_SCHEMA_VERSION) return decoded as Event[];
  for (let i = 0; i < decoded.length; i++) {
    const where = { offset: base + (starts[i] as number), record: firstRecord + i };
    let ev: unknown;
    try {
      ev = ctx.upcast(schema, decoded[i]);
    } catch (e) {
      throw new TraceFormatError(`upcast from event_schema ${schema} failed: ${e instanceof Error ? e.message : String(e)}`, where);
    }
    const p = envelopeProblem(ev);
    if (p) throw new TraceFormatError(p, where);
    decoded[i] = ev;
  }
  return decoded as Event[];
}

/** Checks the end frame's payload against the number of events read. */
export function checkEnd(f: FrameInfo, payload: Uint8Array, total: number): void {
  if (payload.length < f.length) throw truncatedPayload(f, payload.length, total);
  if (frameCrc(f.head, payload) !== f.crc) throw new TraceFormatError('end frame checksum mismatch', { offset: f.offset, record: total });
  const n = new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, true);
  if (n !== BigInt(total)) throw new TraceFormatError(`end frame says ${n} events, ${total} were read`, { offset: f.offset, record: total });
}

/** Decodes a whole binary trace held in memory. */
export function decodeBinary(bytes: Uint8Array, ctx: DecodeContext): { header: TraceHeader; events: Event[] } {
  const size = bytes.length;
  const h = parsePreamble(bytes.subarray(0, PREAMBLE_BYTES), size, ctx.limits);
  const header = decodeHeader(bytes.subarray(0, PREAMBLE_BYTES), bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + h), ctx);
  let off = PREAMBLE_BYTES + h;
  const events: Event[] = [];
  for (;;) {
    const f = parseFrameHeader(bytes.subarray(off, off + FRAME_HEADER_BYTES), off, events.length, ctx.limits);
    const start = off + FRAME_HEADER_BYTES;
    const payload = bytes.subarray(start, start + f.length);
    if (f.kind === 'end') {
      checkEnd(f, payload, events.length);
      off = start + f.length;
      if (off !== size) throw new TraceFormatError(`${size - off} unexpected bytes after the end frame`, { offset: off, record: events.length });
      return { header, events };
    }
    const evs = decodeBlock(f, payload, events.length, header.event_schema, ctx);
    for (let i = 0; i < evs.length; i++) events.push(evs[i] as Event);
    off = start + f.length;
  }
}
