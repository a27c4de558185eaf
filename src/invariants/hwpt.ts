/**
 * Paging HWPTs and their IOAS: every paging domain maps exactly its IOAS
 * (kernel-semantics §2.6, §3.10, §5.3, §6.2).
 */
import type { Ctx, HwptPagingObj, IoasObj } from '../model/state.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { areasOf, hex, mergedOf, mergeRanges, objsOf, U64_MAX } from './util.js';

export const HWPT_MAPS_IOAS = 'hwpt-maps-ioas';

const sameIds = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const sorted = (l: readonly number[]): number[] => (l.length > 1 ? [...l].sort((a, b) => a - b) : (l as number[]));
type R = { start: bigint; last: bigint };
const sameRanges = (a: readonly R[], b: readonly R[]): boolean => a.length === b.length && a.every((x, i) => x.start === b[i]!.start && x.last === b[i]!.last);
const fmt = (l: readonly R[]): string => l.map((r) => `[${hex(r.start)}, ${hex(r.last)}]`).join(' ');

/** One IOAS: its domain list, HWPT list and the paging HWPTs that name it agree. */
function checkIoasLists(ctxId: number, ctx: Ctx, ioas: IoasObj, out: Violation[]): void {
  const on: number[] = [];
  ctx.objs.each((id, o) => {
    if (o.type === 'hwpt_paging' && o.ioas === ioas.id) on.push(id);
  });
  const doms = sorted(ioas.iopt.domains);
  const hw = sorted(ioas.hwpts);
  const s = (l: number[]) => `[${l.join(', ')}]`;
  const where = { invariant: HWPT_MAPS_IOAS, ctx: ctxId, obj: ioas.id };
  if (!sameIds(doms, on)) out.push({ ...where, message: `IOAS ${ioas.id}: domains ${s(doms)} but the paging HWPTs on it are ${s(on)}` });
  if (!sameIds(hw, on)) out.push({ ...where, message: `IOAS ${ioas.id}: HWPT list ${s(hw)} but the paging HWPTs on it are ${s(on)}` });
}

/** Merged mapping records by (persistent) record. */
const mappedLists = new WeakMap<object, R[]>();

/** Merged reserved ranges of one owner, per (never modified) reserved list. */
const ownedLists = new WeakMap<object, Map<string, R[]>>();
function ownedRanges(reserved: IoasObj['iopt']['reserved'], owner: string): R[] {
  let byOwner = ownedLists.get(reserved);
  if (!byOwner) ownedLists.set(reserved, (byOwner = new Map()));
  let m = byOwner.get(owner);
  if (!m) byOwner.set(owner, (m = mergeRanges(reserved.filter((r) => r.owner === owner))));
  return m;
}

/** One paging HWPT maps exactly its IOAS: aperture reserved, areas inside it, huge domains track every area. */
function checkHwpt(ctxId: number, ctx: Ctx, h: HwptPagingObj, out: Violation[], areasOnly = false): void {
  const where = { invariant: HWPT_MAPS_IOAS, ctx: ctxId, obj: h.id };
  const ioas = ctx.objs.get(h.ioas);
  if (ioas?.type !== 'ioas') return; // reported by no-dangling-ids
  const d = h.domain;
  if (!areasOnly) checkAperture(ctxId, ctx, h, ioas, out);
  // Domains that keep their own mapping record (1 MiB-capable mock domains) map exactly the areas.
  const mapped = (d as { mapped?: { each(fn: (s: bigint, l: bigint) => void): void } }).mapped;
  if (d.huge && mapped) {
    let got = mappedLists.get(mapped);
    if (!got) {
      const m: R[] = [];
      mapped.each((s, l) => {
        m.push({ start: s, last: l });
      });
      mappedLists.set(mapped, (got = mergeRanges(m)));
    }
    const exp = mergedOf(areasOf(ioas));
    if (!sameRanges(got, exp)) out.push({ ...where, message: `HWPT ${h.id}: maps ${fmt(got) || 'nothing'} but IOAS ${h.ioas} has ${fmt(exp) || 'no areas'}` });
  }
}

/** The aperture is reserved (areas-in-bounds then keeps areas inside it), and an automatic HWPT has a device. */
function checkAperture(ctxId: number, ctx: Ctx, h: HwptPagingObj, ioas: IoasObj, out: Violation[]): void {
  const where = { invariant: HWPT_MAPS_IOAS, ctx: ctxId, obj: h.id };
  const d = h.domain;
  const merged = ownedRanges(ioas.iopt.reserved, `hwpt:${h.id}`);
  // The reservation is the complement of the aperture: [0, start - 1] and [last + 1, U64_MAX], those that exist.
  const lo = d.apertureStart !== 0n;
  const hi = d.apertureLast !== U64_MAX;
  const n = (lo ? 1 : 0) + (hi ? 1 : 0);
  let ok = merged.length === n;
  if (ok && lo) ok = merged[0]!.start === 0n && merged[0]!.last === d.apertureStart - 1n;
  if (ok && hi) ok = merged[n - 1]!.start === d.apertureLast + 1n && merged[n - 1]!.last === U64_MAX;
  if (!ok) {
    const want: R[] = [];
    if (lo) want.push({ start: 0n, last: d.apertureStart - 1n });
    if (hi) want.push({ start: d.apertureLast + 1n, last: U64_MAX });
    out.push({ ...where, message: `HWPT ${h.id}: reserved ranges ${fmt(merged) || 'none'} on IOAS ${h.ioas}, but its aperture excludes ${fmt(want) || 'nothing'}` });
  }
  let outside: R | undefined;
  const areas = areasOf(ioas);
  for (const x of areas)
    if (x.start < d.apertureStart || x.last > d.apertureLast) {
      outside = { start: x.start, last: x.last };
      break;
    }
  if (outside) out.push({ ...where, message: `HWPT ${h.id}: area [${hex(outside.start)}, ${hex(outside.last)}] of IOAS ${h.ioas} is outside the aperture [${hex(d.apertureStart)}, ${hex(d.apertureLast)}]` });
  if (h.auto) {
    let attached = false;
    ctx.objs.each((_id, o) => {
      if (o.type === 'device' && o.hwpt === h.id) attached = true;
      return !attached;
    });
    if (!attached) out.push({ ...where, message: `automatic HWPT ${h.id} has no attached device (it must be destroyed with its last device)` });
    if (h.nestParent) out.push({ ...where, message: `automatic HWPT ${h.id} is a nesting parent` });
  }
}

function checkCtx(ctxId: number, ctx: Ctx, out: Violation[]): void {
  for (const [, o] of objsOf(ctx)) {
    if (o.type === 'ioas') checkIoasLists(ctxId, ctx, o, out);
    if (o.type === 'hwpt_paging') checkHwpt(ctxId, ctx, o, out);
  }
}

export const hwptMapsIoas: Invariant = {
  name: HWPT_MAPS_IOAS,
  kind: 'state',
  summary: 'every paging HWPT (automatic ones included) is a domain of exactly its IOAS and maps exactly its areas',
  doc:
    "An IOAS's domain list and HWPT list are exactly the paging HWPTs that name it (kernel-semantics §6.2, §5.3); " +
    "each one reserves the complement of its aperture on the IOAS and nothing else (§3.10), every area of the IOAS " +
    'lies inside the aperture, and a domain that records its own mappings (mock 1 MiB-capable domains) maps exactly ' +
    'the union of the areas. A kernel-managed (automatic) HWPT exists exactly while at least one device is attached ' +
    'to it (§2.6) and is never a nesting parent. (Pins of those areas are checked by pinned-accounting.) ' +
    'Incremental: HWPTs that changed, HWPTs of IOASes that changed, HWPTs devices left or joined, and the IOAS of a ' +
    'removed HWPT.',
  checkState(w) {
    const out: Violation[] = [];
    w.ctxs.each((ctxId, ctx) => checkCtx(ctxId, ctx, out));
    return out;
  },
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    if (d.unchanged) return out;
    for (const [ctxId, [, ctx]] of d.ctxs) {
      if (!ctx) continue;
      const hwpts = new Set<number>();
      const ioases = new Set<number>();
      // HWPTs of IOASes where only the areas changed: only the mapping record needs a look (the aperture
      // reservation is unchanged and areas-in-bounds keeps the areas out of reserved ranges).
      const areasOnly = new Set<number>();
      for (const [id, [b, a]] of d.objs(ctxId)) {
        if (b?.type === 'ioas' && a?.type === 'ioas' && b.hwpts === a.hwpts && b.iopt.domains === a.iopt.domains && b.iopt.reserved === a.iopt.reserved) {
          for (const h of a.iopt.domains) areasOnly.add(h);
          continue;
        }
        for (const o of [b, a]) {
          if (o?.type === 'hwpt_paging') (hwpts.add(id), ioases.add(o.ioas));
          if (o?.type === 'device' && o.hwpt) hwpts.add(o.hwpt);
          if (o?.type === 'ioas') {
            ioases.add(id);
            for (const h of o.iopt.domains) hwpts.add(h);
            for (const h of o.hwpts) hwpts.add(h);
          }
        }
      }
      for (const id of ioases) {
        const o = ctx.objs.get(id);
        if (o?.type === 'ioas') checkIoasLists(ctxId, ctx, o, out);
      }
      for (const id of hwpts) {
        const o = ctx.objs.get(id);
        if (o?.type === 'hwpt_paging') checkHwpt(ctxId, ctx, o, out);
      }
      for (const id of areasOnly) {
        const o = ctx.objs.get(id);
        if (o?.type === 'hwpt_paging' && !hwpts.has(id)) checkHwpt(ctxId, ctx, o, out, true);
      }
    }
    return out;
  },
};
