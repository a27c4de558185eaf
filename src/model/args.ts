/**
 * Reading decoded struct fields and pointer buffers inside reducers.
 * Missing fields read as zero, as copy_struct_from_user zero-fills them.
 */
import type { Event, Fields, Value } from '../events/event.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** A u64 member: a value outside [0, 2^64) (an untrusted trace can name one) is cut to 64 bits, -1 to 2^64 - 1, as a C struct would hold it. */
export function u64(a: Fields, k: string): bigint {
  const v = a[k];
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? v : BigInt.asUintN(64, v);
  if (typeof v === 'number') return v >= 0 && Number.isSafeInteger(v) ? BigInt(v) : Number.isFinite(v) ? BigInt.asUintN(64, BigInt(Math.trunc(v))) : 0n;
  return 0n;
}

/** A u32 member: a wider value (an untrusted trace can name one) is cut to its low 32 bits, as a C struct would hold it. */
export function u32(a: Fields, k: string): number {
  const v = a[k];
  if (typeof v === 'number') return v >>> 0;
  if (typeof v === 'bigint') return Number(v & 0xffffffffn);
  return 0;
}

export function sub(a: Fields, k: string): Fields {
  const v = a[k] as Value;
  return v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as Fields) : {};
}

/**
 * The memory at a struct pointer field: its bytes, or undefined when the
 * kernel's copy_from_user/copy_to_user would fault (NULL pointer, or
 * recorded as unreadable).
 */
export function userBuf(ev: Event, a: Fields, field: string): Uint8Array | undefined {
  const b = ev.bufs?.[field];
  if (b === null) return undefined;
  if (u64(a, field) === 0n) return undefined;
  return b ?? new Uint8Array(0);
}

/** Whether a pointer can be written (copy_to_user succeeds). */
export function userPtrOk(ev: Event, a: Fields, field: string): boolean {
  return u64(a, field) !== 0n && ev.bufs?.[field] !== null;
}

export const le = {
  u32(b: Uint8Array, off: number): number {
    return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
  },
  u64(b: Uint8Array, off: number): bigint {
    return BigInt(le.u32(b, off)) | (BigInt(le.u32(b, off + 4)) << 32n);
  },
  putU32(b: Uint8Array, off: number, v: number): void {
    b[off] = v & 0xff;
    b[off + 1] = (v >>> 8) & 0xff;
    b[off + 2] = (v >>> 16) & 0xff;
    b[off + 3] = (v >>> 24) & 0xff;
  },
  putU64(b: Uint8Array, off: number, v: bigint): void {
    le.putU32(b, off, Number(v & 0xffffffffn));
    le.putU32(b, off + 4, Number((v >> 32n) & 0xffffffffn));
  },
};
