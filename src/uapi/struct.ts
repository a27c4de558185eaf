/**
 * Struct bytes <-> field values, driven by the generated layouts.
 *
 * Value representation (the event conventions of src/events/event.ts):
 * - `u64`, `s64` and pointer members are `bigint`; all narrower integers are
 *   `number` (signed types decode signed, e.g. `__s32 fd`);
 * - arrays of `__u8` are `Uint8Array`, other arrays are arrays of their
 *   element value (`__aligned_le64 ste[2]` -> `bigint[]`);
 * - nested structs/unions are nested objects named after the member; the
 *   members of an *anonymous* struct/union sit in the enclosing object, as C
 *   names them (for `struct iommu_test_cmd` every union member decodes; see
 *   test_cmd.ts to pick the one an op uses);
 * - a flexible array member (`x[]`) takes the whole elements present in the
 *   bytes past the fixed part.
 * Bytes are little-endian (x86-64).
 */
import type { Fields, Value } from '../events/event.js';
import type { FieldLayout, ScalarType, StructLayout } from './layout.js';

const WIDTH: { readonly [T in ScalarType]: number } = { u8: 1, s8: 1, u16: 2, s16: 2, u32: 4, s32: 4, u64: 8, s64: 8, ptr: 8 };

/**
 * Decodes a struct. Bytes missing past `bytes.length` read as zero, as
 * copy_struct_from_user zero-fills a short user struct; bytes past the
 * struct (and its flexible array) are ignored.
 *
 * @example decodeStruct(STRUCTS.iommu_destroy, hexToBytes('0800000005000000')) // { size: 8, id: 5 }
 */
export function decodeStruct(layout: StructLayout, bytes: Uint8Array): Fields {
  let data = bytes;
  if (bytes.length < layout.size) {
    data = new Uint8Array(layout.size);
    data.set(bytes);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return decodeMembers(layout.fields, data, view, 0);
}

function decodeMembers(fields: readonly FieldLayout[], data: Uint8Array, view: DataView, base: number): Fields {
  const out: Fields = {};
  for (const f of fields) {
    const at = base + f.offset;
    if (f.name === '') Object.assign(out, decodeMembers(f.fields ?? [], data, view, at));
    else out[f.name] = decodeMember(f, data, view, at);
  }
  return out;
}

function decodeMember(f: FieldLayout, data: Uint8Array, view: DataView, at: number): Value {
  if (f.count === undefined) return decodeElement(f, data, view, at);
  const stride = f.stride ?? 0;
  // A flexible array has as many elements as there are whole ones in the bytes.
  const n = f.count === 0 ? (stride > 0 ? Math.max(0, Math.floor((data.length - at) / stride)) : 0) : f.count;
  if (f.type === 'u8') return data.slice(at, at + n);
  const items: Value[] = [];
  for (let i = 0; i < n; i++) items.push(decodeElement(f, data, view, at + i * stride));
  return items;
}

function decodeElement(f: FieldLayout, data: Uint8Array, view: DataView, at: number): Value {
  switch (f.type) {
    case 'u8': return view.getUint8(at);
    case 's8': return view.getInt8(at);
    case 'u16': return view.getUint16(at, true);
    case 's16': return view.getInt16(at, true);
    case 'u32': return view.getUint32(at, true);
    case 's32': return view.getInt32(at, true);
    case 'u64':
    case 'ptr': return view.getBigUint64(at, true);
    case 's64': return view.getBigInt64(at, true);
    case 'struct':
    case 'union': return decodeMembers(f.fields ?? [], data, view, at);
  }
}

/**
 * Encodes a struct. Absent members are zero; `size`, when given, is the
 * length of the result (shorter truncates, longer zero-pads), otherwise
 * sizeof plus any flexible-array elements. Members are written in
 * declaration order, so when several members of one union are given the last
 * one wins where they overlap. The `size`/`argsz` member is not filled in:
 * pass it like any other field.
 *
 * Throws (misuse, not a kernel answer) for an unknown member name, a value of
 * the wrong kind, an integer that fits neither the signed nor the unsigned
 * range of its member, or too many array elements.
 *
 * @example encodeStruct(STRUCTS.iommu_destroy, { size: 8, id: 5 }) // 08000000 05000000
 */
export function encodeStruct(layout: StructLayout, fields: Fields, size?: number): Uint8Array {
  const full = Math.max(layout.size, flexibleEnd(layout.fields, fields, 0));
  const data = new Uint8Array(full);
  encodeMembers(layout.fields, fields, new DataView(data.buffer), 0, layout.name);
  if (size === undefined || size === full) return data;
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`encodeStruct ${layout.name}: bad size ${size}`);
  if (size < full) return data.slice(0, size);
  const padded = new Uint8Array(size);
  padded.set(data);
  return padded;
}

/** Where the flexible-array elements given in `fields` end (0 if none). */
function flexibleEnd(fields: readonly FieldLayout[], values: Fields, base: number): number {
  let end = 0;
  for (const f of fields) {
    if (f.name === '') end = Math.max(end, flexibleEnd(f.fields ?? [], values, base + f.offset));
    const v = values[f.name];
    if (f.count === 0 && (Array.isArray(v) || v instanceof Uint8Array)) {
      end = Math.max(end, base + f.offset + v.length * (f.stride ?? 0));
    }
  }
  return end;
}

function encodeMembers(fields: readonly FieldLayout[], values: Fields, view: DataView, base: number, path: string): void {
  const known = membersOf(fields);
  for (const key of Object.keys(values)) {
    if (!known.has(key)) throw new Error(`encodeStruct: ${path} has no member '${key}'`);
  }
  for (const f of fields) {
    const at = base + f.offset;
    if (f.name === '') {
      // The anonymous aggregate's members come from the same object.
      const own = membersOf(f.fields ?? []);
      const subset = Object.fromEntries(Object.entries(values).filter(([k]) => own.has(k)));
      encodeMembers(f.fields ?? [], subset, view, at, path);
      continue;
    }
    const v = values[f.name];
    if (v !== undefined) encodeMember(f, v, view, at, `${path}.${f.name}`);
  }
}

function encodeMember(f: FieldLayout, v: Value, view: DataView, at: number, path: string): void {
  if (f.count === undefined) return encodeElement(f, v, view, at, path);
  const items: readonly Value[] | Uint8Array | undefined = v instanceof Uint8Array || Array.isArray(v) ? v : undefined;
  if (!items) throw new TypeError(`encodeStruct: ${path} is an array, got ${kindOf(v)}`);
  if (f.count > 0 && items.length > f.count) {
    throw new RangeError(`encodeStruct: ${path} holds ${f.count} elements, got ${items.length}`);
  }
  const stride = f.stride ?? 0;
  for (let i = 0; i < items.length; i++) encodeElement(f, items[i] ?? 0, view, at + i * stride, `${path}[${i}]`);
}

function encodeElement(f: FieldLayout, v: Value, view: DataView, at: number, path: string): void {
  if (f.type === 'struct' || f.type === 'union') {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
      throw new TypeError(`encodeStruct: ${path} is a ${f.type}, got ${kindOf(v)}`);
    }
    return encodeMembers(f.fields ?? [], v, view, at, path);
  }
  const width = WIDTH[f.type];
  const bits = BigInt(width * 8);
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else throw new TypeError(`encodeStruct: ${path} is an integer, got ${kindOf(v)}`);
  // Either reading of the bits is accepted (a u32 of -1, an s32 of 0xffffffff).
  if (n < -(1n << (bits - 1n)) || n >= 1n << bits) {
    throw new RangeError(`encodeStruct: ${path} = ${n} does not fit in ${f.type}`);
  }
  const u = BigInt.asUintN(width * 8, n);
  if (width === 8) view.setBigUint64(at, u, true);
  else if (width === 4) view.setUint32(at, Number(u), true);
  else if (width === 2) view.setUint16(at, Number(u), true);
  else view.setUint8(at, Number(u));
}

/**
 * Why `values` cannot be the members of a struct of layout `fields` (a member
 * it does not have, a value no C member can hold: a string where an integer
 * goes, a fraction, an object where an array goes), or undefined when it can.
 * The model reads such values leniently (an absent integer is 0); a trace that
 * names them was not written for this struct, and is told so. Integers wider
 * than their member are not refused: a struct holds their low bits, as the
 * fuzzer's hostile values mean (fitToMembers).
 */
export function misfit(fields: readonly FieldLayout[], values: Fields, path: string): string | undefined {
  const members = membersOf(fields);
  for (const key in values) {
    const f = members.get(key);
    if (f === undefined) return `${path} has no member '${key}'`;
    const bad = misfitMember(f, values[key]!, `${path}.${key}`);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * `misfit` for one struct, made once and asked for every event of it: the
 * members an event named last time, in order, all integers, are a shape it
 * has checked, and an event of that shape only has its values' types looked at
 * (every ioctl event comes through here; a map lookup per member cost ~3% of
 * the model's time on the VM-style trace).
 */
export class MemberCheck {
  private readonly members: Map<string, FieldLayout>;
  private shape: string[] = [];
  /**
   * `versions`: the struct's members in each kernel that has it (a member
   * any of them has is known: a trace from one kernel replayed under the
   * other names the members of its own kernel's struct).
   */
  constructor(
    versions: readonly (readonly FieldLayout[])[],
    private readonly path: string,
  ) {
    this.members = new Map();
    for (const v of versions) for (const [k, f] of membersOf(v)) if (!this.members.has(k)) this.members.set(k, f);
  }
  misfit(values: Fields): string | undefined {
    const shape = this.shape;
    let i = 0;
    for (const key in values) {
      const v = values[key];
      if (shape[i] !== key || !(typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)))) return this.slow(values);
      i++;
    }
    return i === shape.length ? undefined : this.slow(values);
  }
  private slow(values: Fields): string | undefined {
    const keys: string[] = [];
    let scalar = true;
    for (const key in values) {
      const f = this.members.get(key);
      if (f === undefined) return `${this.path} has no member '${key}'`;
      const v = values[key]!;
      const bad = misfitMember(f, v, `${this.path}.${key}`);
      if (bad) return bad;
      keys.push(key);
      scalar &&= f.count === undefined && typeof v !== 'object';
    }
    if (scalar) this.shape = keys;
    return undefined;
  }
}

const memberMaps = new WeakMap<readonly FieldLayout[], Map<string, FieldLayout>>();
/** The members of an aggregate by name, those of its anonymous members too. */
function membersOf(fields: readonly FieldLayout[]): Map<string, FieldLayout> {
  let m = memberMaps.get(fields);
  if (m === undefined) {
    m = new Map();
    const add = (fs: readonly FieldLayout[]) => {
      for (const f of fs) {
        if (f.name === '') add(f.fields ?? []);
        else if (!m!.has(f.name)) m!.set(f.name, f);
      }
    };
    add(fields);
    memberMaps.set(fields, m);
  }
  return m;
}

function misfitMember(f: FieldLayout, v: Value, path: string): string | undefined {
  return f.count === undefined ? misfitElement(f, v, path) : misfitArray(f, v, path);
}

function misfitArray(f: FieldLayout, v: Value, path: string): string | undefined {
  // (an array member given as one integer: the model reads it as its first element, 0 most often)
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return undefined;
  if (v instanceof Uint8Array) return undefined;
  if (!Array.isArray(v)) return `${path} is an array, got ${kindOf(v)}`;
  if (f.count !== undefined && f.count > 0 && v.length > f.count) return `${path} holds ${f.count} elements, got ${v.length}`;
  for (let i = 0; i < v.length; i++) {
    const bad = misfitElement(f, v[i]!, `${path}[${i}]`);
    if (bad) return bad;
  }
  return undefined;
}

function misfitElement(f: FieldLayout, v: Value, path: string): string | undefined {
  if (f.type === 'struct' || f.type === 'union') {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return `${path} is a ${f.type}, got ${kindOf(v)}`;
    return misfit(f.fields ?? [], v, path);
  }
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return undefined;
  return `${path} is an integer, got ${kindOf(v)}`;
}

function kindOf(v: Value): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return 'Uint8Array';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' && !Number.isSafeInteger(v) ? `non-integer ${v}` : typeof v;
}

/**
 * `a` with every integer cut to the width of its member (the same object
 * when nothing needed cutting): what a C struct holding those values would
 * hold. A trace can name values no struct can (the fuzzer's hostile values,
 * an untrusted file); the oracle sends the cut values to both sides, and
 * the model cuts the caller's own fields before encoding them.
 */
export function fitToMembers(fields: readonly FieldLayout[], a: Fields): Fields {
  let out: Fields | undefined;
  const set = (k: string, v: Value) => {
    out ??= { ...a };
    out[k] = v;
  };
  for (const f of fields) {
    if (f.name === '' && f.fields) {
      const inner = fitToMembers(f.fields, out ?? a);
      if (inner !== (out ?? a)) out = inner;
      continue;
    }
    const v = (out ?? a)[f.name];
    if (v === undefined) continue;
    if ((f.type === 'struct' || f.type === 'union') && f.fields && v && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v)) {
      const inner = fitToMembers(f.fields, v as Fields);
      if (inner !== v) set(f.name, inner);
      continue;
    }
    const bytes = (WIDTH as { readonly [t: string]: number | undefined })[f.type];
    if (!bytes || f.count !== undefined) continue;
    const w = bytes * 8;
    if (typeof v === 'bigint') {
      const signed = f.type.startsWith('s');
      const ok = signed ? v >= -(1n << BigInt(w - 1)) && v < 1n << BigInt(w) : v >= 0n && v < 1n << BigInt(w);
      if (!ok) set(f.name, BigInt.asUintN(w, v));
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        set(f.name, 0);
        continue;
      }
      const b = BigInt(Math.trunc(v));
      // (past 2^53 a number is no exact integer to encode: a 64-bit member takes it as a bigint)
      if (b < -(1n << BigInt(w - 1)) || b >= 1n << BigInt(w) || !Number.isSafeInteger(v)) set(f.name, w === 64 ? BigInt.asUintN(64, b) : Number(BigInt.asUintN(w, b)));
    }
  }
  return out ?? a;
}
