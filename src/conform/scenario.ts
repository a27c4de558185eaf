/**
 * Runner for `iommufd-scenario/1` files (../shared/conformance/README.md):
 * turns each step into an event (resolving $variables as the run goes),
 * applies it, and compares the model's answer with the expectation.
 */
import { readFileSync } from 'node:fs';
import type { Event, Fields, Result, Value } from '../events/event.js';
import { apply } from '../engine/apply.js';
import { emptyWorld, type KernelVersion, type World } from '../model/state.js';
import { fieldOf, type FieldLayout, type StructLayout } from '../uapi/layout.js';
import { structLayout } from '../uapi/versions.js';
import { ioctlOps } from '../model/main.js';
import { IOCTLS, isIoctlName } from '../uapi/ioctls.js';
import { canonicalErrno } from '../uapi/errno.js';
import { readUser } from '../model/mm.js';

export interface Failure {
  name: string;
  step: number;
  op: string;
  expected: unknown;
  actual: unknown;
  reason?: string;
}

export interface ScenarioResult {
  name: string;
  kernel: KernelVersion;
  passed: boolean;
  steps: number;
  failure?: Failure;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Step {
  op: string;
  /** The fd an ioctl goes to when it is not the scenario's iommufd (a VFIO device fd: "$dev_fd"). */
  fd?: Json;
  args: { [k: string]: Json } | null;
  expect?: { errno?: number | string; ret?: number; out?: { [k: string]: Json }; checks?: { [k: string]: Json }[] };
  expect_by_version?: { [v: string]: Step['expect'] };
}
interface Scenario {
  format: string;
  name: string;
  source: string;
  env: { memlock_limit_pages: number | null };
  steps: Step[];
}

const FAKE_PTR = 0x10000n;
const PID = 1;

class Bindings {
  vars = new Map<string, bigint>();
  /** Reads user memory of the scenario's process (for same_as_memory). */
  memory: (va: bigint, length: number) => Uint8Array | undefined = () => undefined;
  resolve(v: Json): bigint {
    if (typeof v === 'number') return BigInt(v);
    if (typeof v !== 'string') throw new Error(`expected a number, got ${JSON.stringify(v)}`);
    const m = /^\$([A-Za-z0-9_]+)(?:([+-])(0x[0-9a-fA-F]+|\d+))?$/.exec(v);
    if (m) {
      const base = this.vars.get(m[1]!);
      if (base === undefined) throw new Error(`unbound variable $${m[1]}`);
      if (!m[2]) return base;
      const k = BigInt(m[3]!);
      return m[2] === '+' ? base + k : base - k;
    }
    if (!/^-?(0[xX][0-9a-fA-F]+|\d+)$/.test(v) || v.length > 40) throw new Error(`expected a number or a $variable, got ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`);
    return BigInt(v);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Struct fields from JSON by layout: u64 fields become bigint, the rest number. */
function convertFields(fields: readonly FieldLayout[], args: { [k: string]: Json }, b: Bindings, ev: Event, out: Fields): void {
  for (const [k, v] of Object.entries(args)) {
    if (k === '_tail_hex') continue;
    const f = fields.find((x) => x.name === k) ?? fields.find((x) => x.name === '')?.fields?.find((x) => x.name === k);
    if (f && (f.type === 'struct' || f.type === 'union') && f.fields && v && typeof v === 'object' && !Array.isArray(v)) {
      const inner: Fields = {};
      convertFields(f.fields, v as { [k: string]: Json }, b, ev, inner);
      out[k] = inner;
    } else if (v !== null && typeof v === 'object') {
      // Inline pointer data.
      const ptr = convertPointer(k, v, b);
      out[k] = ptr.ptr;
      ev.bufs = { ...(ev.bufs ?? {}), [k]: ptr.bytes };
    } else if (v === null) {
      out[k] = 0n;
    } else if (f && f.count && f.type === 'u8') {
      out[k] = new Uint8Array(f.count);
    } else {
      const n = b.resolve(v);
      out[k] = f && (f.type === 'u64' || f.type === 'ptr' || f.type === 's64') ? n : Number(n);
    }
  }
}

function convertPointer(field: string, v: Json, b: Bindings): { ptr: bigint; bytes: Uint8Array } {
  if (Array.isArray(v)) {
    // An array of structs laid out with their natural stride.
    if (field === 'allowed_iovas') {
      const bytes = new Uint8Array(v.length * 16);
      const dv = new DataView(bytes.buffer);
      v.forEach((r, i) => {
        const o = r as { start: Json; last: Json };
        dv.setBigUint64(i * 16, b.resolve(o.start), true);
        dv.setBigUint64(i * 16 + 8, b.resolve(o.last), true);
      });
      return { ptr: FAKE_PTR, bytes };
    }
    const parts = v.map((e) => structBytes(e as { [k: string]: Json }, b));
    const len = parts.reduce((s, p) => s + p.length, 0);
    const bytes = new Uint8Array(len);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    return { ptr: FAKE_PTR, bytes };
  }
  const o = v as { [k: string]: Json };
  if (typeof o['hex'] === 'string') return { ptr: FAKE_PTR, bytes: fromHex(o['hex']) };
  if (typeof o['nbits'] === 'number') return { ptr: FAKE_PTR, bytes: new Uint8Array(Math.ceil(o['nbits'] / 8)) };
  if (typeof o['len'] === 'number') return { ptr: FAKE_PTR, bytes: new Uint8Array(o['len'] * (field === 'allowed_iovas' ? 16 : 1)) };
  return { ptr: FAKE_PTR, bytes: structBytes(o, b) };
}

/** A driver struct given as JSON: u32 fields in declaration order ({iotlb}, {flags, iotlb_id}, {flags, vdev_id, cache_id}). */
function structBytes(o: { [k: string]: Json }, b: Bindings): Uint8Array {
  const vals = Object.values(o);
  const bytes = new Uint8Array(vals.length * 4);
  const dv = new DataView(bytes.buffer);
  vals.forEach((x, i) => dv.setUint32(i * 4, Number(b.resolve(x)) >>> 0, true));
  return bytes;
}

/**
 * Environment ops of ours (README "Describing a device in a trace"): the
 * hardware events pass their JSON through (`$variables` resolved, 64-bit
 * strings as bigint), open_device / open_group open a VFIO cdev / legacy
 * group file and bind `out.fd`.
 */
const HW_OPS = new Set(['iommu_add', 'device_add', 'device_remove', 'set_module_param']);

function hwValue(v: Json, b: Bindings): Value {
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'string') return /^(\$|0x[0-9a-f]+$|\d+$)/i.test(v) ? b.resolve(v) : v;
  if (Array.isArray(v)) return v.map((x) => hwValue(x, b));
  const o: Fields = {};
  for (const [k, x] of Object.entries(v)) o[k] = hwValue(x, b);
  return o;
}

const ENV_OPS = new Set(['mmap', 'munmap', 'memset', 'fill_memory', 'write_memory', 'read_memory', 'memfd_create', 'ftruncate', 'close_fd', 'close_iommufd', 'open_iommufd', 'read_fault_fd', 'write_fault_fd', 'drop_capability']);

interface Run {
  b: Bindings;
  fd: number;
  kernel: KernelVersion;
}

function toEvent(step: Step, run: Run): Event {
  const b = run.b;
  const a = step.args ?? {};
  const ev: Event = { op: step.op, pid: PID, args: {} };
  if (HW_OPS.has(step.op)) {
    ev.args = hwValue(a, b) as Fields;
    return ev;
  }
  if (step.op === 'open_device') return { op: 'open', pid: PID, args: { path: `/dev/vfio/devices/${String(a['cdev'])}` } };
  if (step.op === 'open_group') return { op: 'open', pid: PID, args: { path: `/dev/vfio/${String(b.resolve(a['group']!))}` } };
  if (ENV_OPS.has(step.op)) {
    const args: Fields = {};
    for (const [k, v] of Object.entries(a)) {
      if (k === 'kind' || k === 'name' || k === 'cap') args[k] = v as string;
      else if (k === 'pattern') args[k] = { seed: Number((v as { seed: number }).seed) };
      else if (k === 'data') args[k] = fromHex((v as { hex: string }).hex);
      else if (k === 'responses') {
        const rs = v as { cookie: Json; code: Json }[];
        const bytes = new Uint8Array(rs.length * 8);
        const dv = new DataView(bytes.buffer);
        rs.forEach((r, i) => {
          dv.setUint32(i * 8, Number(b.resolve(r.cookie)), true);
          dv.setUint32(i * 8 + 4, Number(b.resolve(r.code)), true);
        });
        ev.bufs = { data: bytes };
      } else if (k === 'fd' || k === 'count' || k === 'byte' || k === 'flags') args[k] = Number(b.resolve(v));
      else args[k] = b.resolve(v);
    }
    if (step.op === 'open_iommufd') return { op: 'open', pid: PID, args: { path: '/dev/iommu' } };
    if (step.op === 'close_iommufd') return { op: 'close', pid: PID, args: { fd: run.fd } };
    if (step.op === 'close_fd') return { op: 'close', pid: PID, args };
    ev.args = args;
    return ev;
  }
  ev.fd = step.fd === undefined ? run.fd : Number(b.resolve(step.fd));
  if (step.args === null) {
    ev.args = null;
    return ev;
  }
  if (step.op === 'RAW_IOCTL') {
    const payload: Fields = {};
    const l = structLayout(String(a['struct']), run.kernel);
    convertFields(l.fields, (a['payload'] as { [k: string]: Json }) ?? {}, b, ev, payload);
    ev.args = { request: Number(b.resolve(a['request'] as Json)), payload };
    return ev;
  }
  if (step.op.startsWith('VFIO_')) return vfioEvent(step.op, a, run, ev);
  const l = layoutFor(step.op, run.kernel);
  if (!l) {
    // Ops without an iommufd struct.
    const args: Fields = {};
    for (const [k, v] of Object.entries(a)) if (typeof v === 'number' || typeof v === 'string') args[k] = b.resolve(v);
    ev.args = args;
    return ev;
  }
  const fields: Fields = {};
  convertFields(l.fields, a, b, ev, fields);
  ev.args = fields;
  if (typeof a['size'] === 'number') ev.size = a['size'];
  if (typeof a['_tail_hex'] === 'string') ev.tail = fromHex(a['_tail_hex']);
  return ev;
}

/**
 * A VFIO container ioctl (src/model/vfio_compat.ts describes the event):
 * integer ioctls carry `arg`; struct ioctls their VFIO struct's fields by
 * the VFIO layout, `argsz` included; GET_INFO's `caps` ({"hex"}: bytes
 * 24..argsz before the call) becomes `bufs.caps`.
 */
function vfioEvent(op: string, a: { [k: string]: Json }, run: Run, ev: Event): Event {
  const def = isIoctlName(op) ? IOCTLS[op] : undefined;
  const args: Fields = {};
  if (!def?.struct) {
    for (const [k, v] of Object.entries(a)) if (typeof v === 'number' || typeof v === 'string') args[k] = run.b.resolve(v);
    ev.args = args;
    return ev;
  }
  const { caps, ...fields } = a;
  convertFields(structLayout(def.struct, run.kernel).fields, fields, run.b, ev, args);
  if (caps && typeof caps === 'object' && !Array.isArray(caps) && typeof caps['hex'] === 'string') ev.bufs = { ...(ev.bufs ?? {}), caps: fromHex(caps['hex']) };
  ev.args = args;
  return ev;
}

function layoutFor(op: string, kernel: KernelVersion): StructLayout | undefined {
  if (op.startsWith('IOMMU_TEST_OP_')) return structLayout('iommu_test_cmd', kernel);
  const o = ioctlOps[op];
  if (!o) return undefined;
  try {
    return structLayout(o.struct, kernel);
  } catch {
    return structLayout(o.struct, '6.14');
  }
}

function errnoEq(expected: number | string | undefined, actual: number | string): boolean {
  const e = expected === undefined ? 0 : expected;
  if (e === 0 || actual === 0) return e === actual;
  return canonicalErrno(String(e)) === canonicalErrno(String(actual));
}

/** Compare one expected `out` value with what the model produced; binds unbound variables. */
function matchValue(exp: Json, act: Value | undefined, b: Bindings, path: string): string | undefined {
  if (typeof exp === 'string' && exp.startsWith('$') && !/[+-]/.test(exp.slice(1))) {
    const name = exp.slice(1);
    const actual = typeof act === 'bigint' ? act : typeof act === 'number' ? BigInt(act) : undefined;
    if (actual === undefined) return `${path}: no value to bind $${name}`;
    const bound = b.vars.get(name);
    if (bound === undefined) b.vars.set(name, actual);
    else if (bound !== actual) return `${path}: expected $${name}=${fmt(bound)}, got ${fmt(actual)}`;
    return undefined;
  }
  if (typeof exp === 'number' || typeof exp === 'string') {
    const want = b.resolve(exp);
    const got = typeof act === 'bigint' ? act : typeof act === 'number' ? BigInt(act) : undefined;
    return got === want ? undefined : `${path}: expected ${fmt(want)}, got ${got === undefined ? 'nothing' : fmt(got)}`;
  }
  if (exp && typeof exp === 'object' && !Array.isArray(exp)) {
    const o = exp as { [k: string]: Json };
    if (o['same_as_memory']) {
      const m = o['same_as_memory'] as { va: Json; length: number };
      const mem = b.memory(b.resolve(m.va), m.length);
      const got = act instanceof Uint8Array ? act : undefined;
      return mem && got && hex(mem) === hex(got) ? undefined : `${path}: output differs from memory at ${JSON.stringify(m.va)}`;
    }
    if (typeof o['hex'] === 'string') {
      const got = act instanceof Uint8Array ? hex(act) : undefined;
      return got === o['hex'] ? undefined : `${path}: expected bytes ${o['hex']}, got ${got ?? 'nothing'}`;
    }
    if (o['zero'] === true && typeof o['nbits'] === 'number') {
      const got = act instanceof Uint8Array ? act : undefined;
      return got && got.every((x) => x === 0) ? undefined : `${path}: expected an all-zero bitmap, got ${got ? hex(got) : 'nothing'}`;
    }
    const actObj = (act && typeof act === 'object' ? act : {}) as Fields;
    for (const [k, v] of Object.entries(o)) {
      const e = matchValue(v, actObj[k], b, `${path}.${k}`);
      if (e) return e;
    }
    return undefined;
  }
  return undefined;
}

const fmt = (v: bigint): string => (v > 0xffffn ? `0x${v.toString(16)}` : v.toString());

function checkStep(step: Step, exp: NonNullable<Step['expect']>, res: Result, run: Run, w: World, ev: Event): string | undefined {
  if (res.unmodelled) return `not modelled: ${res.unmodelled}`;
  if (!errnoEq(exp.errno, res.errno)) return `errno: expected ${exp.errno ?? 0}, got ${res.errno}`;
  if (exp.ret !== undefined && exp.ret !== (res.ret ?? 0)) return `ret: expected ${exp.ret}, got ${res.ret ?? 0}`;
  for (const [k, v] of Object.entries(exp.out ?? {})) {
    let act: Value | undefined = res.out?.[k];
    if (step.op === 'read_fault_fd' && k === 'bytes') act = res.ret ?? 0;
    else if (step.op === 'write_fault_fd' && k === 'bytes') act = res.ret ?? 0;
    else if (step.op === 'read_fault_fd' && k === 'faults') {
      const e = matchFaults(v as Json[], res.bufs?.['data'], run.b);
      if (e) return e;
      continue;
    } else if (step.op === 'read_memory' && k === 'data') act = res.bufs?.['data'];
    else if (k === 'allowed_iovas') {
      const e = matchRanges(v as Json[], res.bufs?.['allowed_iovas'], run.b);
      if (e) return e;
      continue;
    } else if (v && typeof v === 'object' && !Array.isArray(v) && (v as { same_as_memory?: Json }).same_as_memory) {
      const m = (v as { same_as_memory: { va: Json; length: number } }).same_as_memory;
      const mem = readUser(w.procs.get(PID)!.mm, w.mem, run.b.resolve(m.va), m.length);
      const got = res.bufs?.[k] ?? (res.bufs?.['uptr'] as Uint8Array | undefined);
      if (!mem || !got || hex(mem) !== hex(got)) return `${k}: output differs from memory`;
      continue;
    } else if (act === undefined && res.bufs?.[k] !== undefined) act = res.bufs[k] ?? undefined;
    else if (act && typeof act === 'object' && !(act instanceof Uint8Array)) {
      // Test ops: pointer outputs inside the union member (access_rw.uptr).
      const inner = v as { [kk: string]: Json };
      for (const kk of Object.keys(inner)) if ((act as Fields)[kk] === undefined && res.bufs?.[kk]) act = { ...(act as Fields), [kk]: res.bufs[kk]! };
    } else if (act === undefined && v && typeof v === 'object') {
      const inner = v as { [kk: string]: Json };
      const merged: Fields = {};
      for (const kk of Object.keys(inner)) if (res.bufs?.[kk]) merged[kk] = res.bufs[kk]!;
      act = merged;
    }
    const e = matchValue(v, act, run.b, k);
    if (e) return e;
  }
  for (const c of exp.checks ?? []) {
    const v = run.b.resolve(c['value']!);
    const bad = (cond: boolean, what: string) => (cond ? undefined : `check ${what} failed for ${fmt(v)}`);
    const r =
      c['multiple_of'] !== undefined ? bad(v % run.b.resolve(c['multiple_of']) === 0n, 'multiple_of') :
      c['ge'] !== undefined ? bad(v >= run.b.resolve(c['ge']), 'ge') :
      c['gt'] !== undefined ? bad(v > run.b.resolve(c['gt']), 'gt') :
      c['le'] !== undefined ? bad(v <= run.b.resolve(c['le']), 'le') :
      c['lt'] !== undefined ? bad(v < run.b.resolve(c['lt']), 'lt') :
      c['not_in_open_interval'] !== undefined ? bad(!(v > run.b.resolve((c['not_in_open_interval'] as Json[])[0]!) && v < run.b.resolve((c['not_in_open_interval'] as Json[])[1]!)), 'not_in_open_interval') :
      undefined;
    if (r) return r;
  }
  void ev;
  return undefined;
}

function matchRanges(exp: Json[], got: Uint8Array | null | undefined, b: Bindings): string | undefined {
  const n = got ? got.length / 16 : 0;
  if (n !== exp.length) return `allowed_iovas: expected ${exp.length} entries, got ${n}`;
  if (!got || n === 0) return undefined;
  const dv = new DataView(got!.buffer, got!.byteOffset, got!.byteLength);
  for (let i = 0; i < n; i++) {
    const e = exp[i] as { start: Json; last: Json };
    const s = dv.getBigUint64(i * 16, true);
    const l = dv.getBigUint64(i * 16 + 8, true);
    if (s !== b.resolve(e.start) || l !== b.resolve(e.last)) return `allowed_iovas[${i}]: expected ${JSON.stringify(e)}, got {${fmt(s)}, ${fmt(l)}}`;
  }
  return undefined;
}

function matchFaults(exp: Json[], got: Uint8Array | null | undefined, b: Bindings): string | undefined {
  const n = got ? got.length / 40 : 0;
  if (n !== exp.length) return `faults: expected ${exp.length}, got ${n}`;
  if (!got || n === 0) return undefined;
  const dv = new DataView(got!.buffer, got!.byteOffset, got!.byteLength);
  const names: [string, number, 4 | 8][] = [['flags', 0, 4], ['dev_id', 4, 4], ['pasid', 8, 4], ['grpid', 12, 4], ['perm', 16, 4], ['addr', 24, 8], ['length', 32, 4], ['cookie', 36, 4]];
  for (let i = 0; i < n; i++) {
    const rec: Fields = {};
    for (const [k, off, sz] of names) rec[k] = sz === 8 ? dv.getBigUint64(i * 40 + off, true) : dv.getUint32(i * 40 + off, true);
    const e = matchValue(exp[i]!, rec, b, `faults[${i}]`);
    if (e) return e;
  }
  return undefined;
}

export function scenarioKernel(source: string): KernelVersion {
  return /Linux 6\.14/.test(source) ? '6.14' : '6.12';
}

export function runScenario(s: Scenario, kernel?: KernelVersion): ScenarioResult {
  const k = kernel ?? scenarioKernel(s.source);
  const native = scenarioKernel(s.source);
  let w = emptyWorld({ kernel: k });
  const run: Run = { b: new Bindings(), fd: -1, kernel: k };
  const fail = (i: number, step: Step, expected: unknown, actual: unknown, reason: string): ScenarioResult => ({
    name: s.name,
    kernel: k,
    passed: false,
    steps: s.steps.length,
    failure: { name: s.name, step: i, op: step.op, expected, actual, reason },
  });
  if (s.env.memlock_limit_pages !== null) ({ state: w } = apply(w, { op: 'set_rlimit_memlock', pid: PID, args: { pages: BigInt(s.env.memlock_limit_pages) } }));
  // Implicit step 0: the fixture's open("/dev/iommu").
  const opened = apply(w, { op: 'open', pid: PID, args: { path: '/dev/iommu' } });
  w = opened.state;
  run.fd = opened.result.ret!;
  // `$iommufd`: the scenario's iommufd fd, for VFIO_DEVICE_BIND_IOMMUFD.
  run.b.vars.set('iommufd', BigInt(run.fd));
  for (let i = 0; i < s.steps.length; i++) {
    const step = s.steps[i]!;
    let ev: Event;
    try {
      ev = toEvent(step, run);
    } catch (e) {
      return fail(i, step, step.expect, null, `cannot build event: ${(e as Error).message}`);
    }
    const r = apply(w, ev);
    w = r.state;
    if (step.op === 'open_iommufd' && !r.result.errno) {
      run.fd = r.result.ret!;
      run.b.vars.set('iommufd', BigInt(run.fd));
    }
    if ((step.op === 'memfd_create' || step.op === 'open_device' || step.op === 'open_group') && !r.result.errno) r.result.out = { fd: r.result.ret! };
    let exp = step.expect ?? { errno: 0 };
    if (k !== native && step.expect_by_version?.[k]) exp = step.expect_by_version[k]!;
    const cur = w;
    run.b.memory = (va, length) => readUser(cur.procs.get(PID)!.mm, cur.mem, va, length);
    const why = checkStep(step, exp, r.result, run, w, ev);
    if (why) return fail(i, step, exp, printable(r.result), why);
  }
  return { name: s.name, kernel: k, passed: true, steps: s.steps.length };
}

function printable(r: Result): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? hex(v) : v)));
}

export function loadScenario(path: string): Scenario {
  let s: unknown;
  try {
    s = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if (e instanceof SyntaxError || e instanceof RangeError) throw new Error(`${path}: not JSON (${e.message})`);
    throw e;
  }
  const why = scenarioShape(s);
  if (why) throw new Error(`${path}: ${why}`);
  return s as Scenario;
}

const isObject = (v: unknown): v is { [k: string]: unknown } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a parsed file's shape (the README's), before any step runs; undefined when nothing. */
function scenarioShape(s: unknown): string | undefined {
  if (!isObject(s)) return 'not an iommufd-scenario/1 file (not a JSON object)';
  if (s['format'] !== 'iommufd-scenario/1') return `not an iommufd-scenario/1 file (format ${JSON.stringify(s['format'])?.slice(0, 60)})`;
  for (const k of ['name', 'source']) if (typeof s[k] !== 'string') return `'${k}' must be a string`;
  const env = s['env'];
  if (!isObject(env)) return "'env' must be an object";
  const m = env['memlock_limit_pages'];
  if (m !== null && !(Number.isSafeInteger(m) && (m as number) >= 0)) return "'env.memlock_limit_pages' must be null or a number of pages";
  const steps = s['steps'];
  if (!Array.isArray(steps)) return "'steps' must be an array";
  for (let i = 0; i < steps.length; i++) {
    const st: unknown = steps[i];
    if (!isObject(st)) return `step ${i}: not an object`;
    if (typeof st['op'] !== 'string') return `step ${i}: 'op' must be a string`;
    if (st['args'] !== undefined && st['args'] !== null && !isObject(st['args'])) return `step ${i} (${st['op']}): 'args' must be an object or null`;
    if (st['expect'] !== undefined && !isObject(st['expect'])) return `step ${i} (${st['op']}): 'expect' must be an object`;
    const byVersion = st['expect_by_version'];
    if (byVersion !== undefined && (!isObject(byVersion) || !Object.values(byVersion).every(isObject)))
      return `step ${i} (${st['op']}): 'expect_by_version' must map kernel versions to expectations (objects)`;
  }
  return undefined;
}

export { fieldOf };
