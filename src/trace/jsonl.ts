/**
 * JSONL twin of the binary format (`.iort.jsonl`, `.jsonl`): readable,
 * diffable, and round-trips exactly.
 *
 *   line 1      the header object: {"format":"iorewind-trace","version":1,...}
 *   line 2..    one event object per line; every line ends with "\n".
 *
 * Plain JSON cannot tell a u64 from a number, nor hold bytes, so two values
 * are written as tagged single-key objects:
 *
 *   bigint      {"$u64":"0x1f"}        lowercase hex, no leading zeros ("0x0" for 0n);
 *                                      readers accept 1-16 hex digits of either case
 *   Uint8Array  {"$hex":"00ff10"}      two hex digits per byte ("" when empty)
 *
 * Every other value is plain JSON (numbers must be finite; integer numbers
 * must be safe integers). Any other object with a `$`-prefixed key is
 * rejected, as are keys `__proto__`, `constructor` and `prototype`, lines over
 * the size limits, and invalid UTF-8. Known limits of the twin: JSON.parse
 * keeps the last of duplicate keys, and a file cut exactly at a line break is
 * indistinguishable from a shorter trace (the binary format detects that).
 */
import type { Event, Value } from '../events/event.js';
import { TraceFormatError } from './errors.js';
import { headerProblem, type TraceHeader } from './header.js';
import type { TraceLimits } from './limits.js';
import { checkSchema, type DecodeContext } from './binary.js';
import { EVENT_SCHEMA_VERSION } from '../events/event.js';
import { envelopeProblem, keyProblem, numberProblem, U64_MAX, wellFormed } from './validate.js';

// ---------------------------------------------------------------- encoding

/** JSON text of a checked value (see prepareEvent), with bigint and bytes tagged. */
export function jsonValue(v: Value): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Object.is(v, -0) ? '0' : String(v);
    case 'bigint':
      return `{"$u64":"0x${v.toString(16)}"}`;
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `{"$hex":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"}`;
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + jsonValue(v[i] as Value);
    return s + ']';
  }
  let s = '{';
  let first = true;
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + jsonValue(x);
    first = false;
  }
  return s + '}';
}

export function headerLine(h: TraceHeader): string {
  return jsonValue(h as unknown as Value) + '\n';
}

export function eventLine(ev: Event): string {
  return jsonValue(ev as unknown as Value) + '\n';
}

// ---------------------------------------------------------------- decoding

const HEX_U64 = /^0x[0-9a-fA-F]{1,16}$/;

class Untagger {
  constructor(
    private readonly limits: TraceLimits,
    private readonly line: number,
    private readonly record: number | 'header',
  ) {}

  fail(reason: string): never {
    throw new TraceFormatError(reason, { line: this.line, record: this.record });
  }

  /** Checks a JSON.parse result in place, replacing tagged objects; returns the value to store. */
  value(v: unknown, depth: number): Value {
    switch (typeof v) {
      case 'string': {
        const max = this.limits.maxStringBytes;
        if (v.length > max || (v.length * 3 > max && Buffer.byteLength(v) > max)) this.fail(`string longer than ${max} bytes`);
        if (!wellFormed(v)) this.fail('string has a lone surrogate');
        return v;
      }
      case 'number': {
        const p = numberProblem(v);
        if (p) this.fail(p);
        return v;
      }
      case 'boolean':
        return v;
      case 'object':
        break;
      default:
        this.fail(`unexpected ${typeof v}`);
    }
    if (v === null) return null;
    if (depth > this.limits.maxDepth) this.fail(`nesting deeper than ${this.limits.maxDepth}`);
    if (Array.isArray(v)) {
      if (v.length > this.limits.maxArrayLength) this.fail(`array of ${v.length} elements exceeds the limit of ${this.limits.maxArrayLength}`);
      for (let i = 0; i < v.length; i++) v[i] = this.value(v[i], depth + 1);
      return v as Value[];
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length > this.limits.maxKeys) this.fail(`object with ${keys.length} keys exceeds the limit of ${this.limits.maxKeys}`);
    if (keys.length === 1) {
      const k = keys[0] as string;
      if (k === '$u64') return this.u64(o[k]);
      if (k === '$hex') return this.hex(o[k]);
    }
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const kp = keyProblem(k);
      if (kp) this.fail(kp.startsWith('reserved') ? `${kp}; tagged values are {"$u64":"0x..."} and {"$hex":"..."} alone` : kp);
      if (!wellFormed(k)) this.fail('key has a lone surrogate');
      const x = o[k];
      const y = this.value(x, depth + 1);
      if (y !== x) o[k] = y; // k is checked: not __proto__ or another forbidden key
    }
    return o as { [k: string]: Value };
  }

  private u64(s: unknown): bigint {
    if (typeof s !== 'string' || !HEX_U64.test(s)) this.fail('{"$u64": ...} must hold a string "0x" followed by 1 to 16 hex digits');
    const b = BigInt(s);
    if (b > U64_MAX) this.fail('u64 out of range');
    return b;
  }

  private hex(s: unknown): Uint8Array {
    if (typeof s !== 'string' || s.length % 2 !== 0) this.fail('{"$hex": ...} must hold a string of hex digit pairs');
    const n = s.length / 2;
    if (n > this.limits.maxBufferBytes) this.fail(`byte buffer of ${n} bytes exceeds the limit of ${this.limits.maxBufferBytes}`);
    const out = new Uint8Array(n);
    const written = Buffer.from(out.buffer, 0, n).write(s, 'hex');
    if (written !== n) this.fail('{"$hex": ...} holds a non-hex character');
    return out;
  }
}

function parseJson(text: string, line: number, record: number | 'header'): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TraceFormatError(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`, { line, record });
  }
}

/** Parses line 1. */
export function parseHeaderLine(text: string, ctx: DecodeContext): TraceHeader {
  const where = { line: 1, record: 'header' as const };
  if (text.length === 0) throw new TraceFormatError('empty header line', where);
  if (text.charCodeAt(0) !== 0x7b) throw new TraceFormatError('not an iorewind trace (the first line must be the header object)', where);
  const v = new Untagger(ctx.limits, 1, 'header').value(parseJson(text, 1, 'header'), 1);
  const p = headerProblem(v);
  if (p) throw new TraceFormatError(p, where);
  const h = v as unknown as TraceHeader;
  checkSchema(h, ctx, where);
  return h;
}

/** Parses an event line (`line` 1-based, `record` = line - 2). */
export function parseEventLine(text: string, line: number, record: number, schema: number, ctx: DecodeContext): Event {
  if (text.length === 0) throw new TraceFormatError('empty line', { line, record });
  let ev: unknown = new Untagger(ctx.limits, line, record).value(parseJson(text, line, record), 1);
  if (schema !== EVENT_SCHEMA_VERSION) {
    try {
      ev = ctx.upcast(schema, ev);
    } catch (e) {
      throw new TraceFormatError(`upcast from event_schema ${schema} failed: ${e instanceof Error ? e.message : String(e)}`, { line, record });
    }
  }
  const p = envelopeProblem(ev);
  if (p) throw new TraceFormatError(p, { line, record });
  return ev as Event;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one line's bytes (without the "\n"; a trailing "\r" is dropped). */
export function lineText(b: Uint8Array, line: number, record: number | 'header'): string {
  let e = b.length;
  if (e > 0 && b[e - 1] === 0x0d) e--;
  try {
    return utf8.decode(e === b.length ? b : b.subarray(0, e));
  } catch {
    throw new TraceFormatError('line is not valid UTF-8', { line, record });
  }
}

/**
 * Splits bytes into lines, enforcing the per-line caps before decoding;
 * yields [text, lineNo]. Requires the final "\n".
 */
export function* splitLines(bytes: Uint8Array, limits: TraceLimits): Generator<[string, number]> {
  let start = 0;
  let line = 1;
  const n = bytes.length;
  while (start < n) {
    const cap = line === 1 ? limits.maxHeaderBytes : limits.maxEventBytes;
    const record = line === 1 ? 'header' : line - 2;
    let nl = bytes.indexOf(0x0a, start);
    if (nl === -1) nl = n;
    if (nl - start > cap) throw new TraceFormatError(`line longer than ${cap} bytes`, { line, record });
    if (nl === n) throw new TraceFormatError('truncated file: last line has no line break', { line, record });
    yield [lineText(bytes.subarray(start, nl), line, record), line];
    start = nl + 1;
    line++;
  }
}

/** Decodes a whole JSONL trace held in memory. */
export function decodeJsonl(bytes: Uint8Array, ctx: DecodeContext): { header: TraceHeader; events: Event[] } {
  let header: TraceHeader | null = null;
  const events: Event[] = [];
  for (const [text, line] of splitLines(bytes, ctx.limits)) {
    if (header === null) header = parseHeaderLine(text, ctx);
    else events.push(parseEventLine(text, line, line - 2, header.event_schema, ctx));
  }
  if (header === null) throw new TraceFormatError('empty file (no header line)', { line: 1, record: 'header' });
  return { header, events };
}
