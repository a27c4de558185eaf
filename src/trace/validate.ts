/**
 * Event checks shared by both formats.
 *
 * Decoding: the format decoders already restrict every value to the Value
 * domain (bigint u64, finite number, string, boolean, null, Uint8Array,
 * arrays, plain objects; no forbidden or `$` keys; within the limits), so
 * `envelopeProblem` only checks the envelope: which top-level fields exist and
 * their types. Per-op field contents are deliberately not validated: the
 * model answers malformed arguments with errnos.
 *
 * Encoding: `prepareEvent` checks a caller's event deeply (the encoders would
 * otherwise silently turn a Date, Set or Map into something else) and drops
 * properties whose value is `undefined`, as JSON does.
 */
import type { Event, Value } from '../events/event.js';
import type { TraceLimits } from './limits.js';

export const EVENT_FIELDS: ReadonlySet<string> = new Set(['op', 'pid', 'fd', 'args', 'size', 'tail', 'bufs', 'rec', 'src']);
const REC_FIELDS: ReadonlySet<string> = new Set(['errno', 'ret', 'out', 'bufs']);
/** Keys that must never become object properties. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** False for strings with lone surrogates (they cannot be written as UTF-8). */
export function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** A problem with a key, or null. `$`-prefixed keys are reserved for the JSONL value tags. */
export function keyProblem(k: string): string | null {
  if (FORBIDDEN_KEYS.has(k)) return `forbidden key ${JSON.stringify(k)}`;
  if (k.charCodeAt(0) === 0x24) return `reserved key ${JSON.stringify(k)} ($-prefixed keys are not allowed)`;
  return null;
}

/** A problem with a number value, or null: numbers must be finite, and integers must be safe (u64 values are bigints). */
export function numberProblem(n: number): string | null {
  if (!Number.isFinite(n)) return `non-finite number ${n}`;
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return `integer ${n} is not exactly representable (u64 values must be bigint)`;
  return null;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function buffersProblem(v: unknown, what: string): string | null {
  if (!isObj(v)) return `${what} must be an object`;
  for (const k of Object.keys(v)) {
    const b = v[k];
    if (b !== null && !(b instanceof Uint8Array)) return `${what}.${k} must be bytes or null`;
  }
  return null;
}

/** Checks the event envelope of a decoded record; returns the problem or null. */
export function envelopeProblem(ev: unknown): string | null {
  if (!isObj(ev)) return 'event must be an object';
  // Fast path, no allocation: check the known fields, then that nothing else is there.
  let known = 2;
  const op = ev.op;
  if (typeof op !== 'string' || op.length === 0) return Object.hasOwn(ev, 'op') ? 'event.op must be a non-empty string' : 'event.op is missing';
  const args = ev.args;
  if (args === undefined) return 'event.args is missing';
  if (args !== null && !isObj(args)) return 'event.args must be an object or null';
  let v = ev.pid;
  if (v !== undefined) {
    if (!isCount(v)) return 'event.pid must be a non-negative safe integer';
    known++;
  }
  v = ev.fd;
  if (v !== undefined) {
    if (!isCount(v)) return 'event.fd must be a non-negative safe integer';
    known++;
  }
  v = ev.size;
  if (v !== undefined) {
    if (!isCount(v)) return 'event.size must be a non-negative safe integer';
    known++;
  }
  v = ev.tail;
  if (v !== undefined) {
    if (!(v instanceof Uint8Array)) return 'event.tail must be bytes';
    known++;
  }
  v = ev.bufs;
  if (v !== undefined) {
    const p = buffersProblem(v, 'event.bufs');
    if (p) return p;
    known++;
  }
  v = ev.rec;
  if (v !== undefined) {
    const p = recordedProblem(v);
    if (p) return p;
    known++;
  }
  v = ev.src;
  if (v !== undefined) {
    if (typeof v !== 'string') return 'event.src must be a string';
    known++;
  }
  let n = 0;
  for (const k in ev) n++;
  if (n !== known) {
    for (const k of Object.keys(ev)) if (!EVENT_FIELDS.has(k)) return `unknown event field ${JSON.stringify(k)}`;
    return 'event has inherited fields';
  }
  return null;
}

function recordedProblem(v: unknown): string | null {
  if (!isObj(v)) return 'event.rec must be an object';
  let known = 1;
  const errno = v.errno;
  if (errno === undefined) return 'event.rec.errno is missing';
  if (errno !== 0 && (typeof errno !== 'string' || errno.length === 0)) return 'event.rec.errno must be 0 or an errno name';
  let x = v.ret;
  if (x !== undefined) {
    if (!isCount(x)) return 'event.rec.ret must be a non-negative safe integer';
    known++;
  }
  x = v.out;
  if (x !== undefined) {
    if (!isObj(x)) return 'event.rec.out must be an object';
    known++;
  }
  x = v.bufs;
  if (x !== undefined) {
    const p = buffersProblem(x, 'event.rec.bufs');
    if (p) return p;
    known++;
  }
  let n = 0;
  for (const k in v) n++;
  if (n !== known) {
    for (const k of Object.keys(v)) if (!REC_FIELDS.has(k)) return `unknown event.rec field ${JSON.stringify(k)}`;
    return 'event.rec has inherited fields';
  }
  return null;
}

/** Thrown by prepareEvent; the writers wrap it into a TraceFormatError naming the record. */
export class EncodeProblem extends Error {
  /** Path of the offending value, innermost last (`args`, `iova`). */
  readonly path: string[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
  /** `event.args.iova: <problem>`. */
  describe(): string {
    if (this.path.length === 0) return this.problem;
    let p = 'event';
    for (let i = this.path.length - 1; i >= 0; i--) p += this.path[i];
    return `${p}: ${this.problem}`;
  }
}

export interface Prepared {
  ev: Event;
  /** Rough encoded size, for block sizing. */
  approxBytes: number;
}

/**
 * Deeply checks an event a caller wants to write; returns it (or a copy
 * without `undefined`-valued properties) and a rough size.
 */
export function prepareEvent(ev: unknown, limits: TraceLimits): Prepared {
  const st: PrepState = { bytes: 0, limits };
  const out = prepValue(ev, 0, st) as unknown as Event;
  const p = envelopeProblem(out);
  if (p) throw new EncodeProblem(p);
  return { ev: out, approxBytes: st.bytes };
}

interface PrepState {
  bytes: number;
  limits: TraceLimits;
}

function fastKeyProblem(k: string): string | null {
  const c = k.charCodeAt(0);
  return c === 0x24 || ((c === 0x5f || c === 0x63 || c === 0x70) && FORBIDDEN_KEYS.has(k)) ? keyProblem(k) : null;
}

function prepValue(v: unknown, depth: number, st: PrepState): Value {
  switch (typeof v) {
    case 'number': {
      if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) throw new EncodeProblem(numberProblem(v) as string);
      st.bytes += 5;
      return v;
    }
    case 'bigint':
      if (v < 0n || v > U64_MAX) throw new EncodeProblem(`bigint ${v} is outside the u64 range`);
      st.bytes += 9;
      return v;
    case 'string': {
      const max = st.limits.maxStringBytes;
      if (v.length * 3 > max && (v.length > max || Buffer.byteLength(v) > max)) throw new EncodeProblem(`string longer than ${max} bytes`);
      if (!wellFormed(v)) throw new EncodeProblem('string has a lone surrogate (not representable in UTF-8)');
      st.bytes += v.length + 2;
      return v;
    }
    case 'boolean':
      st.bytes += 1;
      return v;
    case 'object':
      break;
    default:
      throw new EncodeProblem(`${typeof v} is not a trace value`);
  }
  if (v === null) {
    st.bytes += 1;
    return null;
  }
  if (v instanceof Uint8Array) {
    if (v.length > st.limits.maxBufferBytes) throw new EncodeProblem(`buffer of ${v.length} bytes exceeds the limit of ${st.limits.maxBufferBytes}`);
    st.bytes += v.length + 5;
    return v;
  }
  if (depth + 1 > st.limits.maxDepth) throw new EncodeProblem(`nested deeper than ${st.limits.maxDepth}`);
  if (Array.isArray(v)) return prepArray(v, depth, st);
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null)
    throw new EncodeProblem(`${(v as object).constructor?.name ?? 'exotic'} object is not a trace value (plain objects only)`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length > st.limits.maxKeys) throw new EncodeProblem(`more than ${st.limits.maxKeys} keys`);
  let out: Record<string, Value> | null = null;
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const k = keys[i] as string;
      const kp = fastKeyProblem(k);
      if (kp) throw new EncodeProblem(kp);
      if (!wellFormed(k)) throw new EncodeProblem('key has a lone surrogate (not representable in UTF-8)');
      const x = o[k];
      if (x === undefined) {
        if (out === null) out = copyPrefix(o, keys, i);
        continue;
      }
      const y = prepValue(x, depth + 1, st);
      if (y !== x && out === null) out = copyPrefix(o, keys, i);
      if (out !== null) out[k] = y;
      st.bytes += k.length + 1;
    }
  } catch (e) {
    if (e instanceof EncodeProblem && i < keys.length) e.path.push(/^[A-Za-z_][A-Za-z0-9_]*$/.test(keys[i] as string) ? `.${keys[i]}` : `[${JSON.stringify(keys[i])}]`);
    throw e;
  }
  if (proto === null && out === null) out = copyPrefix(o, keys, keys.length);
  return out ?? (o as Record<string, Value>);
}

function prepArray(v: unknown[], depth: number, st: PrepState): Value[] {
  if (v.length > st.limits.maxArrayLength) throw new EncodeProblem(`array longer than ${st.limits.maxArrayLength}`);
  let out: Value[] | null = null;
  let i = 0;
  try {
    for (; i < v.length; i++) {
      const x: unknown = v[i];
      if (x === undefined) throw new EncodeProblem('undefined is not a trace value');
      const y = prepValue(x, depth + 1, st);
      if (y !== x && out === null) out = v.slice(0, i) as Value[];
      if (out !== null) out.push(y);
    }
  } catch (e) {
    if (e instanceof EncodeProblem) e.path.push(`[${i}]`);
    throw e;
  }
  st.bytes += 3;
  return out ?? (v as Value[]);
}

function copyPrefix(o: Record<string, unknown>, keys: string[], n: number): Record<string, Value> {
  const c: Record<string, Value> = {};
  for (let j = 0; j < n; j++) {
    const k = keys[j] as string;
    if (o[k] !== undefined) c[k] = o[k] as Value;
  }
  return c;
}
