/**
 * Small helpers shared by the invariants. Constants are the kernel's
 * (kernel-semantics §0, §12.1), written out here rather than imported from
 * the model: the invariants are a specification the model is checked against.
 */
import type { Event } from '../events/event.js';
import type { Area, Ctx, IoasObj, Obj, World } from '../model/state.js';

export const PAGE_SIZE = 4096n;
export const U64_MAX = 0xffffffffffffffffn;
export const MOCK_IO_PAGE_SIZE = 2048n;

export interface AreaEntry {
  start: bigint;
  last: bigint;
  value: Area;
}

/**
 * Area lists by interval map: an area map is persistent and shared by every
 * state that did not change it, so a step's "before" list was usually built
 * as the previous step's "after" list.
 */
const areaLists = new WeakMap<object, readonly AreaEntry[]>();

/** The areas of an IOAS in ascending order (read through `each`, duck-typed; cached, do not modify). */
export function areasOf(ioas: IoasObj): readonly AreaEntry[] {
  const key = ioas.iopt.areas as object;
  let out = areaLists.get(key);
  if (!out) {
    const l: AreaEntry[] = [];
    ioas.iopt.areas.each((start, last, value) => {
      l.push({ start, last, value });
    });
    areaLists.set(key, (out = l));
  }
  return out;
}

/** Page indices [first, last] of its pages object that an area covers (io_pagetable.h iopt_area_index/last_index). */
export function areaIndexRange(start: bigint, last: bigint, a: Area): [number, number] {
  return [Number(a.startByte / PAGE_SIZE), Number((a.startByte + (last - start)) / PAGE_SIZE)];
}

export const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** Objects of a context, in ID order. */
export function objsOf(ctx: Ctx): [number, Obj][] {
  const out: [number, Obj][] = [];
  ctx.objs.each((id, o) => {
    out.push([id, o]);
  });
  return out;
}

/** The iommufd context an ioctl event was made on (through its fd), in state `w`. */
export function ctxOfEvent(w: World, ev: Event): number | undefined {
  if (ev.fd === undefined) return undefined;
  const p = w.procs.get(ev.pid ?? 1);
  const fileId = p?.fds.get(ev.fd);
  const f = fileId === undefined ? undefined : w.files.get(fileId);
  return f?.kind === 'iommufd' ? f.ctx : undefined;
}

/** A u64 / u32 event field as the model reads it (missing = 0). */
export function fieldU64(a: Event['args'], k: string): bigint {
  const v = a?.[k];
  return typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : 0n;
}

export function fieldU32(a: Event['args'], k: string): number {
  const v = a?.[k];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v & 0xffffffffn) : 0;
}

/** A union member of an IOMMU_TEST_CMD event (`{ id, <member>: {...} }`). */
export function member(a: Event['args'], k: string): Event['args'] {
  const v = a?.[k];
  return v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as Event['args']) : {};
}

/** Sorted, merged copy of inclusive ranges (adjacent ones joined). */
export function mergeRanges(rs: readonly { start: bigint; last: bigint }[]): { start: bigint; last: bigint }[] {
  const sorted = [...rs].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top && r.start <= top.last + 1n) {
      if (r.last > top.last) top.last = r.last;
    } else out.push({ start: r.start, last: r.last });
  }
  return out;
}

/**
 * mergeRanges of a list that is never modified (state arrays, cached area lists), computed once per list
 * (read only).
 */
const mergedLists = new WeakMap<object, { start: bigint; last: bigint }[]>();
export function mergedOf(rs: readonly { start: bigint; last: bigint }[]): readonly { start: bigint; last: bigint }[] {
  let m = mergedLists.get(rs);
  if (!m) mergedLists.set(rs, (m = mergeRanges(rs)));
  return m;
}

/** The changed objects of every changed context of a step, as [ctxId, id, before, after]. */
export function* changedObjs(d: import('./delta.js').StepDelta): Generator<[number, number, Obj | undefined, Obj | undefined]> {
  for (const ctxId of d.ctxs.keys()) for (const [id, [b, a]] of d.objs(ctxId)) yield [ctxId, id, b, a];
}

/** RAW_IOCTL request numbers of the ops with partial effects (kernel-semantics §1.2). */
const RAW_NR: Record<number, string> = { 0x86: 'IOMMU_IOAS_UNMAP', 0x8d: 'IOMMU_HWPT_INVALIDATE', 0x8f: 'IOMMU_IOAS_MAP_FILE' };

/** The op an event performs (a RAW_IOCTL of one of the partial-effect ops is named after it). */
export function opOf(ev: Event): string {
  if (ev.op !== 'RAW_IOCTL') return ev.op;
  const req = ev.args?.['request'];
  const nr = Number(typeof req === 'bigint' ? req & 0xffn : typeof req === 'number' ? req & 0xff : 0);
  return RAW_NR[nr] ?? ev.op;
}
