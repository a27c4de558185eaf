/**
 * The one msgpackr configuration of the trace format, and the strict profile
 * check that guards it against untrusted input.
 *
 * Encoding: msgpackr with record structures ("records"), no shared
 * structures. A binary block (see binary.ts) is ONE msgpack value: the array
 * of its events. Every object shape is defined inline (`d4 72 <id> [keys]`)
 * the first time it occurs in that block and referenced by a one-byte id
 * (0x40-0x7f) afterwards; at most 64 ids are live and msgpackr recycles them.
 * Structures therefore never outlive a block: every block decodes on its own
 * (so a reader can skip or seek), no state is carried between blocks, and a
 * hostile block cannot define structures for the next one. This gives the
 * speed of `sequential` records (definitions amortised over thousands of
 * events) without a stream-wide structure table.
 *
 * Values: bigint -> int64/uint64 (always 9 bytes, even for 0n), numbers ->
 * fixint/int8..32/uint8..32/float64 (msgpackr never writes a number as a
 * 64-bit integer), so the bigint/number distinction survives natively and no
 * bigint extension is needed. Uint8Array -> bin. Nothing else is produced
 * (the writers check events with prepareEvent first).
 *
 * Decoding: before msgpackr sees a byte, `scanBlock`/`scanValue` walk the
 * bytes without allocating and enforce the *profile*: only the tokens above
 * (no maps, no extensions other than record definitions, no float32, no
 * negative int64), valid UTF-8 strings, record keys that are unique valid
 * strings and not forbidden (`__proto__`, `constructor`, `prototype`, `$...`),
 * references only to ids defined earlier in the same block, a bounded number
 * of record definitions per block, and every limit of TraceLimits (lengths
 * are compared with the bytes that remain before anything is allocated,
 * nesting depth is bounded so nothing recurses deeply). Only a block that
 * passes is handed to msgpackr, whose output is then limited to plain
 * objects, arrays, Uint8Array, bigint, number, string, boolean and null.
 * Errors name the absolute byte offset and the record index.
 */
import { Packr, Unpackr, type Options } from 'msgpackr';
import { TraceFormatError } from './errors.js';
import type { TraceLimits } from './limits.js';
import { keyProblem, numberProblem } from './validate.js';

/** The shared, frozen msgpackr configuration (used for both encoding and decoding). */
export const MSGPACK_OPTIONS: Readonly<Options> = Object.freeze({
  useRecords: true,
  maxSharedStructures: 0,
  maxOwnStructures: 64,
  sequential: false,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  useToJSON: false,
  useFloat32: 0,
  useTimestamp32: false,
  variableMapSize: false,
  mapsAsObjects: false,
  copyBuffers: true,
  int64AsType: 'bigint',
  largeBigIntToFloat: false,
  largeBigIntToString: false,
  useBigIntExtension: false,
  encodeUndefinedAsNil: false,
  mapAsEmptyObject: false,
  setAsEmptyObject: false,
  allowArraysInMapKeys: false,
} satisfies Options);

// msgpackr mutates the options object it is given: hand each instance a copy.
const packr = new Packr({ ...MSGPACK_OPTIONS });
const unpackr = new Unpackr({ ...MSGPACK_OPTIONS });

/**
 * Encodes one value. The result is a view into msgpackr's reusable buffer:
 * valid until the next call, so copy it if it must be kept.
 */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes one value that `scanValue`/`scanBlock` accepted. `bytes` must be exactly that value. */
export function unpackChecked(bytes: Uint8Array, base: number, record: number | 'header'): unknown {
  // msgpackr hands out bins as slices of its source: give it a plain Uint8Array so they are plain Uint8Arrays too.
  const plain = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return unpackr.unpack(plain);
  } catch (e) {
    // Not expected after a successful scan; still never let a raw error escape.
    throw new TraceFormatError(`msgpack decode failed: ${e instanceof Error ? e.message : String(e)}`, { offset: base, record });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface BlockScan {
  /** Byte offset (relative to the block) of each event; `starts[count]` is the end. */
  starts: Uint32Array;
  /** Record definitions in the block. */
  defs: number;
}

const F_OP = 1,
  F_PID = 2,
  F_FD = 3,
  F_SIZE = 4,
  F_ARGS = 5,
  F_TAIL = 6,
  F_BUFS = 7,
  F_REC = 8,
  F_SRC = 9;
const EVENT_CODES: ReadonlyMap<string, number> = new Map([
  ['op', F_OP],
  ['pid', F_PID],
  ['fd', F_FD],
  ['size', F_SIZE],
  ['args', F_ARGS],
  ['tail', F_TAIL],
  ['bufs', F_BUFS],
  ['rec', F_REC],
  ['src', F_SRC],
]);
const R_ERRNO = 1,
  R_RET = 2,
  R_OUT = 3,
  R_BUFS = 4;
const REC_CODES: ReadonlyMap<string, number> = new Map([
  ['errno', R_ERRNO],
  ['ret', R_RET],
  ['out', R_OUT],
  ['bufs', R_BUFS],
]);

/** Field codes of an event record's keys, or the envelope problem (same wording as validate.ts). */
function eventPlan(keys: string[]): Uint8Array | string {
  const codes = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const c = EVENT_CODES.get(keys[i] as string);
    if (c === undefined) return `unknown event field ${JSON.stringify(keys[i])}`;
    codes[i] = c;
  }
  if (!codes.includes(F_OP)) return 'event.op is missing';
  if (!codes.includes(F_ARGS)) return 'event.args is missing';
  return codes;
}

function recPlan(keys: string[]): Uint8Array | string {
  const codes = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const c = REC_CODES.get(keys[i] as string);
    if (c === undefined) return `unknown event.rec field ${JSON.stringify(keys[i])}`;
    codes[i] = c;
  }
  if (!codes.includes(R_ERRNO)) return 'event.rec.errno is missing';
  return codes;
}

/**
 * Allocation-free structural check of msgpack bytes against the trace profile.
 * `base` is the absolute file offset of `buf[0]`, used in error messages.
 */
class Scanner {
  private readonly dv: DataView;
  private readonly end: number;
  pos = 0;
  defs = 0;
  record: number | 'header';
  /** Key count of each live record id (index id & 0x3f), -1 when undefined. */
  private readonly structs = new Int32Array(64).fill(-1);
  /** Keys of each live record id. */
  private readonly keys: string[][] = new Array<string[]>(64);
  /** Field codes (or the problem) of a record id used as an event / as `event.rec`; computed on first such use. */
  private readonly eventPlans: (Uint8Array | string | undefined)[] = new Array<Uint8Array | string | undefined>(64);
  private readonly recPlans: (Uint8Array | string | undefined)[] = new Array<Uint8Array | string | undefined>(64);

  constructor(
    private readonly buf: Uint8Array,
    private readonly limits: TraceLimits,
    private readonly base: number,
    record: number | 'header',
    private readonly maxDefs: number,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.end = buf.length;
    this.record = record;
  }

  fail(reason: string, at: number = this.pos): never {
    throw new TraceFormatError(reason, { offset: this.base + at, record: this.record });
  }

  private truncated(at: number): never {
    this.fail('msgpack value runs past the end of its block', at);
  }

  /** Reads an unsigned length of `size` bytes at pos. */
  private len(size: 1 | 2 | 4): number {
    const at = this.pos - 1;
    if (size > this.end - this.pos) this.truncated(at);
    const n = size === 1 ? (this.buf[this.pos] as number) : size === 2 ? this.dv.getUint16(this.pos) : this.dv.getUint32(this.pos);
    this.pos += size;
    return n;
  }

  private skip(n: number, at: number): void {
    if (n > this.end - this.pos) this.truncated(at);
    this.pos += n;
  }

  private str(n: number, at: number): void {
    if (n > this.limits.maxStringBytes) this.fail(`string of ${n} bytes exceeds the limit of ${this.limits.maxStringBytes}`, at);
    if (n > this.end - this.pos) this.truncated(at);
    const b = this.buf;
    const start = this.pos;
    const e = start + n;
    let i = start;
    while (i < e && (b[i] as number) < 0x80) i++;
    if (i < e) {
      try {
        utf8.decode(b.subarray(start, e));
      } catch {
        this.fail('string is not valid UTF-8', at);
      }
    }
    this.pos = e;
  }

  private container(depth: number, at: number): void {
    if (depth > this.limits.maxDepth) this.fail(`nesting deeper than ${this.limits.maxDepth}`, at);
  }

  private array(n: number, depth: number, at: number): void {
    this.container(depth, at);
    if (n > this.limits.maxArrayLength) this.fail(`array of ${n} elements exceeds the limit of ${this.limits.maxArrayLength}`, at);
    if (n > this.end - this.pos) this.truncated(at);
    for (let i = 0; i < n; i++) this.value(depth + 1);
  }

  /** One value; `depth` is the depth it has if it is a container (an event is depth 1). */
  value(depth: number): void {
    const at = this.pos;
    if (at >= this.end) this.truncated(at);
    const t = this.buf[this.pos++] as number;
    if (t < 0x40 || t >= 0xe0) return; // positive fixint 0..63, negative fixint
    if (t < 0x80) {
      // record reference
      const n = this.structs[t & 0x3f] as number;
      if (n < 0) this.fail(`reference to undefined record id 0x${t.toString(16)}`, at);
      this.container(depth, at);
      for (let i = 0; i < n; i++) this.value(depth + 1);
      return;
    }
    if (t < 0x90) this.fail('msgpack maps are not allowed (objects are records)', at);
    if (t < 0xa0) return this.array(t - 0x90, depth, at);
    if (t < 0xc0) return this.str(t - 0xa0, at);
    switch (t) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        return;
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const n = this.len(t === 0xc4 ? 1 : t === 0xc5 ? 2 : 4);
        if (n > this.limits.maxBufferBytes) this.fail(`byte buffer of ${n} bytes exceeds the limit of ${this.limits.maxBufferBytes}`, at);
        return this.skip(n, at);
      }
      case 0xcb: {
        if (8 > this.end - this.pos) this.truncated(at);
        const p = numberProblem(this.dv.getFloat64(this.pos));
        if (p) this.fail(p, at);
        this.pos += 8;
        return;
      }
      case 0xcc:
      case 0xd0:
        return this.skip(1, at);
      case 0xcd:
      case 0xd1:
        return this.skip(2, at);
      case 0xce:
      case 0xd2:
        return this.skip(4, at);
      case 0xcf:
        return this.skip(8, at);
      case 0xd3:
        if (8 > this.end - this.pos) this.truncated(at);
        if ((this.buf[this.pos] as number) & 0x80) this.fail('negative 64-bit integer (u64 values must be non-negative)', at);
        this.pos += 8;
        return;
      case 0xd4:
        return this.recordDefinition(depth, at);
      case 0xd9:
        return this.str(this.len(1), at);
      case 0xda:
        return this.str(this.len(2), at);
      case 0xdb:
        return this.str(this.len(4), at);
      case 0xdc:
        return this.array(this.len(2), depth, at);
      case 0xdd:
        return this.array(this.len(4), depth, at);
      default:
        this.fail(`msgpack token 0x${t.toString(16)} is not allowed in a trace`, at);
    }
  }

  private recordDefinition(depth: number, at: number): void {
    const id = this.defineRecord(depth, at);
    // the defined record's values follow immediately
    for (let i = 0, n = this.structs[id] as number; i < n; i++) this.value(depth + 1);
  }

  /** Reads a record definition (after its 0xd4 token) up to its values; returns the id slot. */
  private defineRecord(depth: number, at: number): number {
    if (2 > this.end - this.pos) this.truncated(at);
    if (this.buf[this.pos] !== 0x72) this.fail(`msgpack extension type ${this.buf[this.pos]} is not allowed in a trace`, at);
    const id = this.buf[this.pos + 1] as number;
    if (id < 0x40 || id > 0x7f) this.fail(`record id 0x${id.toString(16)} out of range`, at);
    this.pos += 2;
    if (++this.defs > this.maxDefs) this.fail(`more than ${this.maxDefs} record definitions in one block`, at);
    this.container(depth, at);
    // keys: an array of strings
    const kat = this.pos;
    if (kat >= this.end) this.truncated(at);
    const t = this.buf[this.pos++] as number;
    let n: number;
    if (t >= 0x90 && t <= 0x9f) n = t - 0x90;
    else if (t === 0xdc) n = this.len(2);
    else if (t === 0xdd) n = this.len(4);
    else this.fail('record definition keys must be an array', kat);
    if (n > this.limits.maxKeys) this.fail(`object with ${n} keys exceeds the limit of ${this.limits.maxKeys}`, kat);
    if (n > this.end - this.pos) this.truncated(kat);
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const sat = this.pos;
      if (sat >= this.end) this.truncated(sat);
      const s = this.buf[this.pos++] as number;
      let l: number;
      if (s >= 0xa0 && s < 0xc0) l = s - 0xa0;
      else if (s === 0xd9) l = this.len(1);
      else if (s === 0xda) l = this.len(2);
      else if (s === 0xdb) l = this.len(4);
      else this.fail('record key must be a string', sat);
      if (l > this.limits.maxStringBytes) this.fail(`key of ${l} bytes exceeds the limit of ${this.limits.maxStringBytes}`, sat);
      if (l > this.end - this.pos) this.truncated(sat);
      let key: string;
      try {
        key = utf8.decode(this.buf.subarray(this.pos, this.pos + l));
      } catch {
        this.fail('record key is not valid UTF-8', sat);
      }
      const kp = keyProblem(key);
      if (kp) this.fail(kp, sat);
      if (keys.includes(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, sat);
      keys.push(key);
      this.pos += l;
    }
    const slot = id & 0x3f;
    this.structs[slot] = n;
    this.keys[slot] = keys;
    this.eventPlans[slot] = undefined;
    this.recPlans[slot] = undefined;
    return slot;
  }

  // ---- the event envelope, checked on the raw tokens (values are then scanned as usual)

  /**
   * Consumes the head of a record (a reference, or a definition up to its
   * values) and returns its id slot, or -1 (nothing consumed) if the next
   * value is not a record.
   */
  private recordHead(depth: number): number {
    const at = this.pos;
    if (at >= this.end) this.truncated(at);
    const t = this.buf[at] as number;
    if (t >= 0x40 && t < 0x80) {
      const slot = t & 0x3f;
      if ((this.structs[slot] as number) < 0) this.fail(`reference to undefined record id 0x${t.toString(16)}`, at);
      this.container(depth, at);
      this.pos++;
      return slot;
    }
    if (t === 0xd4 && this.buf[at + 1] === 0x72) {
      this.pos++;
      return this.defineRecord(depth, at);
    }
    return -1;
  }

  /** Value of the next number token; null if the next value is not a number; undefined if cut short (value() reports it). */
  private peekNumber(): number | null | undefined {
    const b = this.buf;
    const p = this.pos + 1;
    if (this.pos >= this.end) return undefined;
    const t = b[this.pos] as number;
    if (t < 0x40) return t;
    if (t >= 0xe0) return t - 0x100;
    const avail = this.end - p;
    const dv = this.dv;
    switch (t) {
      case 0xcc:
        return avail >= 1 ? (b[p] as number) : undefined;
      case 0xcd:
        return avail >= 2 ? dv.getUint16(p) : undefined;
      case 0xce:
        return avail >= 4 ? dv.getUint32(p) : undefined;
      case 0xd0:
        return avail >= 1 ? dv.getInt8(p) : undefined;
      case 0xd1:
        return avail >= 2 ? dv.getInt16(p) : undefined;
      case 0xd2:
        return avail >= 4 ? dv.getInt32(p) : undefined;
      case 0xcb:
        return avail >= 8 ? dv.getFloat64(p) : undefined;
    }
    return null;
  }

  private nextIsCount(): boolean {
    const v = this.peekNumber();
    return v === undefined || (v !== null && Number.isSafeInteger(v) && v >= 0);
  }

  /** Byte length of the next string; -1 if the next value is not a string; -2 if cut short (value() reports it). */
  private peekStrLen(): number {
    const b = this.buf;
    const t = b[this.pos] as number;
    if (t >= 0xa0 && t < 0xc0) return t - 0xa0;
    const p = this.pos + 1;
    const avail = this.end - p;
    if (t === 0xd9) return avail >= 1 ? (b[p] as number) : -2;
    if (t === 0xda) return avail >= 2 ? this.dv.getUint16(p) : -2;
    if (t === 0xdb) return avail >= 4 ? this.dv.getUint32(p) : -2;
    return -1;
  }

  private nextIsRecord(): boolean {
    const t = this.buf[this.pos] as number;
    return (t >= 0x40 && t < 0x80) || (t === 0xd4 && this.buf[this.pos + 1] === 0x72);
  }

  /** One event (depth 1): a record whose fields satisfy the envelope rules of validate.ts. */
  event(): void {
    const at = this.pos;
    const slot = this.recordHead(1);
    if (slot < 0) this.fail('event must be an object', at);
    let plan = this.eventPlans[slot];
    if (plan === undefined) plan = this.eventPlans[slot] = eventPlan(this.keys[slot] as string[]);
    if (typeof plan === 'string') this.fail(plan, at);
    for (let i = 0; i < plan.length; i++) {
      if (this.pos >= this.end) this.truncated(this.pos);
      const vat = this.pos;
      switch (plan[i]) {
        case F_OP: {
          const l = this.peekStrLen();
          if (l === -1 || l === 0) this.fail('event.op must be a non-empty string', vat);
          break;
        }
        case F_PID:
          if (!this.nextIsCount()) this.fail('event.pid must be a non-negative safe integer', vat);
          break;
        case F_FD:
          if (!this.nextIsCount()) this.fail('event.fd must be a non-negative safe integer', vat);
          break;
        case F_SIZE:
          if (!this.nextIsCount()) this.fail('event.size must be a non-negative safe integer', vat);
          break;
        case F_ARGS:
          if (this.buf[vat] !== 0xc0 && !this.nextIsRecord()) this.fail('event.args must be an object or null', vat);
          break;
        case F_TAIL: {
          const t = this.buf[vat] as number;
          if (t < 0xc4 || t > 0xc6) this.fail('event.tail must be bytes', vat);
          break;
        }
        case F_BUFS:
          this.buffers(2, 'event.bufs');
          continue;
        case F_REC:
          this.recorded(2);
          continue;
        case F_SRC:
          if (this.peekStrLen() === -1) this.fail('event.src must be a string', vat);
          break;
      }
      this.value(2);
    }
  }

  /** `bufs`: a record of byte buffers or nulls. */
  private buffers(depth: number, what: string): void {
    const at = this.pos;
    const slot = this.recordHead(depth);
    if (slot < 0) this.fail(`${what} must be an object`, at);
    const keys = this.keys[slot] as string[];
    for (let i = 0; i < keys.length; i++) {
      if (this.pos >= this.end) this.truncated(this.pos);
      const t = this.buf[this.pos] as number;
      if (t !== 0xc0 && (t < 0xc4 || t > 0xc6)) this.fail(`${what}.${keys[i]} must be bytes or null`, this.pos);
      this.value(depth + 1);
    }
  }

  /** `event.rec`. */
  private recorded(depth: number): void {
    const at = this.pos;
    const slot = this.recordHead(depth);
    if (slot < 0) this.fail('event.rec must be an object', at);
    let plan = this.recPlans[slot];
    if (plan === undefined) plan = this.recPlans[slot] = recPlan(this.keys[slot] as string[]);
    if (typeof plan === 'string') this.fail(plan, at);
    for (let i = 0; i < plan.length; i++) {
      if (this.pos >= this.end) this.truncated(this.pos);
      const vat = this.pos;
      switch (plan[i]) {
        case R_ERRNO: {
          const v = this.peekNumber();
          const l = v === null ? this.peekStrLen() : -2;
          if (l === -1 || l === 0 || (v !== null && v !== undefined && v !== 0)) this.fail('event.rec.errno must be 0 or an errno name', vat);
          break;
        }
        case R_RET:
          if (!this.nextIsCount()) this.fail('event.rec.ret must be a non-negative safe integer', vat);
          break;
        case R_OUT:
          if (!this.nextIsRecord()) this.fail('event.rec.out must be an object', vat);
          break;
        case R_BUFS:
          this.buffers(depth + 1, 'event.rec.bufs');
          continue;
      }
      this.value(depth + 1);
    }
  }

  done(what: string): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected bytes after the ${what}`);
  }
}

/**
 * Checks a block payload: one msgpack array of exactly `count` events.
 * `firstRecord` is the index of its first event (for error messages).
 */
export function scanBlock(
  buf: Uint8Array,
  count: number,
  limits: TraceLimits,
  base: number,
  firstRecord: number,
  maxDefs: number = limits.maxRecordDefs,
): BlockScan {
  const s: Scanner = new Scanner(buf, limits, base, firstRecord, maxDefs);
  if (buf.length === 0) s.fail('empty block payload', 0);
  const t = buf[0] as number;
  let n: number;
  s.pos = 1;
  if (t >= 0x90 && t <= 0x9f) n = t - 0x90;
  else if (t === 0xdc && buf.length >= 3) {
    n = (buf[1] as number) * 256 + (buf[2] as number);
    s.pos = 3;
  } else if (t === 0xdd && buf.length >= 5) {
    n = new DataView(buf.buffer, buf.byteOffset, 5).getUint32(1);
    s.pos = 5;
  } else s.fail('block payload must be a msgpack array', 0);
  if (n !== count) s.fail(`block payload holds ${n} events but its frame says ${count}`, 0);
  const starts = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) {
    s.record = firstRecord + i;
    const start = s.pos;
    starts[i] = start;
    s.event();
    if (s.pos - start > limits.maxEventBytes) s.fail(`event of ${s.pos - start} bytes exceeds the limit of ${limits.maxEventBytes}`, start);
  }
  starts[count] = s.pos;
  s.record = firstRecord + count - 1;
  s.done('last event of the block');
  return { starts, defs: s.defs };
}

/** Checks bytes holding exactly one msgpack value (the header record). */
export function scanValue(buf: Uint8Array, limits: TraceLimits, base: number, record: number | 'header'): void {
  const s: Scanner = new Scanner(buf, limits, base, record, limits.maxRecordDefs);
  s.value(1);
  s.done('header record');
}
