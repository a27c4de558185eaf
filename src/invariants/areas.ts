/**
 * IOVA areas of an IOAS: disjoint, clear of reserved ranges, aligned, and
 * (automatic allocation) inside the allowed ranges.
 */
import type { Area, IoasObj, World } from '../model/state.js';
import { diffIntervals } from '../ds/diff.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { areasOf, ctxOfEvent, fieldU32, fieldU64, hex, mergedOf as mergedList, mergeRanges, objsOf, PAGE_SIZE, U64_MAX } from './util.js';

export const AREAS_DISJOINT = 'areas-disjoint';
export const AREAS_IN_BOUNDS = 'areas-in-bounds';

function checkDisjoint(ctx: number, ioas: IoasObj, out: Violation[]): void {
  let prevLast = -1n;
  for (const { start, last } of areasOf(ioas)) {
    const where = { invariant: AREAS_DISJOINT, ctx, obj: ioas.id };
    if (start > last || start < 0n || last > U64_MAX) out.push({ ...where, message: `IOAS ${ioas.id}: area [${hex(start)}, ${hex(last)}] is not a valid interval` });
    else if (start <= prevLast) out.push({ ...where, message: `IOAS ${ioas.id}: area at ${hex(start)} overlaps the previous area ending at ${hex(prevLast)}` });
    if (last > prevLast) prevLast = last;
  }
}

/**
 * The step's version: only the areas it added or changed, each against the
 * areas it overlaps (an area the step did not touch cannot start to overlap
 * another by itself). Each overlapping pair is reported once.
 */
function checkDisjointChanged(ctx: number, before: IoasObj, ioas: IoasObj, out: Violation[]): void {
  const where = { invariant: AREAS_DISJOINT, ctx, obj: ioas.id };
  const seen = new Set<string>();
  diffIntervals(before.iopt.areas, ioas.iopt.areas, (start, _x, y) => {
    if (!y) return;
    const last = y.last;
    if (start > last || start < 0n || last > U64_MAX) {
      out.push({ ...where, message: `IOAS ${ioas.id}: area [${hex(start)}, ${hex(last)}] is not a valid interval` });
      return;
    }
    ioas.iopt.areas.eachOverlapping(start, last, (s2, l2) => {
      if (s2 === start) return true;
      // as the whole-state walk words it: the later-starting area overlaps the earlier one's end
      const [later, earlierLast] = s2 > start ? [s2, last] : [start, l2];
      const message = `IOAS ${ioas.id}: area at ${hex(later)} overlaps the previous area ending at ${hex(earlierLast)}`;
      if (!seen.has(message)) out.push({ ...where, message });
      seen.add(message);
      return true;
    });
  });
}

/** Merged reserved ranges, computed once per (immutable, shared) reserved list. */
const merged = new WeakMap<object, { start: bigint; last: bigint }[]>();
const NONE: { start: bigint; last: bigint }[] = [];
function mergedOf(reserved: IoasObj['iopt']['reserved']): { start: bigint; last: bigint }[] {
  if (!reserved.length) return NONE;
  let m = merged.get(reserved);
  if (!m) merged.set(reserved, (m = mergeRanges(reserved)));
  return m;
}

/** One area against its IOAS's reserved ranges (merged, ascending) and iova_alignment. */
function checkAreaBounds(ctx: number, ioas: IoasObj, reserved: readonly { start: bigint; last: bigint }[], start: bigint, last: bigint, value: Area, out: Violation[]): void {
  const iopt = ioas.iopt;
  const mask = iopt.iovaAlignment - 1n;
  const res = reserved.find((r) => r.start <= last && start <= r.last);
  if (res) {
    const owners = iopt.reserved.filter((x) => x.start <= last && start <= x.last).map((x) => x.owner);
    out.push({ invariant: AREAS_IN_BOUNDS, ctx, obj: ioas.id, message: `IOAS ${ioas.id}: area [${hex(start)}, ${hex(last)}] intersects reserved [${hex(res.start)}, ${hex(res.last)}] (${owners.join(', ')})` });
  }
  if (mask && (start & mask || (last - start + 1n) & mask || (value.startByte % PAGE_SIZE) & mask))
    out.push({ invariant: AREAS_IN_BOUNDS, ctx, obj: ioas.id, message: `IOAS ${ioas.id}: area [${hex(start)}, ${hex(last)}] (page offset ${hex(value.startByte % PAGE_SIZE)}) is not aligned to iova_alignment ${hex(iopt.iovaAlignment)}` });
}

function checkAlignmentValue(ctx: number, ioas: IoasObj, out: Violation[]): void {
  const a = ioas.iopt.iovaAlignment;
  if (a < 1n || a & (a - 1n)) out.push({ invariant: AREAS_IN_BOUNDS, ctx, obj: ioas.id, message: `IOAS ${ioas.id}: iova_alignment ${hex(a)} is not a power of two` });
}

function checkBounds(ctx: number, ioas: IoasObj, out: Violation[]): void {
  const reserved = mergedOf(ioas.iopt.reserved);
  for (const { start, last, value } of areasOf(ioas)) checkAreaBounds(ctx, ioas, reserved, start, last, value, out);
  checkAlignmentValue(ctx, ioas, out);
}

/** The step's version: with the same reserved ranges and alignment, only the areas it added or changed. */
function checkBoundsChanged(ctx: number, before: IoasObj, ioas: IoasObj, out: Violation[]): void {
  if (before.iopt.reserved !== ioas.iopt.reserved || before.iopt.iovaAlignment !== ioas.iopt.iovaAlignment) return checkBounds(ctx, ioas, out);
  const reserved = mergedOf(ioas.iopt.reserved);
  diffIntervals(before.iopt.areas, ioas.iopt.areas, (start, _x, y) => void (y && checkAreaBounds(ctx, ioas, reserved, start, y.last, y.value, out)));
  checkAlignmentValue(ctx, ioas, out);
}

function forEachIoas(w: World, fn: (ctx: number, ioas: IoasObj) => void): void {
  w.ctxs.each((ctxId, ctx) => {
    for (const [, o] of objsOf(ctx)) if (o.type === 'ioas') fn(ctxId, o);
  });
}

/** IOASes whose io_pagetable changed in this step in a way `changed` cares about: the before version (undefined for a new IOAS) and the after one. */
function changedIoas(d: StepDelta, changed: (b: IoasObj['iopt'], a: IoasObj['iopt']) => boolean, fn: (ctx: number, before: IoasObj | undefined, ioas: IoasObj) => void): void {
  for (const ctxId of d.ctxs.keys())
    for (const [, [b, a]] of d.objs(ctxId))
      if (a?.type === 'ioas' && (b?.type !== 'ioas' || (b.iopt !== a.iopt && changed(b.iopt, a.iopt)))) fn(ctxId, b?.type === 'ioas' ? b : undefined, a);
}

const areasChanged = (b: IoasObj['iopt'], a: IoasObj['iopt']): boolean => b.areas !== a.areas;
const boundsChanged = (b: IoasObj['iopt'], a: IoasObj['iopt']): boolean => b.areas !== a.areas || b.reserved !== a.reserved || b.iovaAlignment !== a.iovaAlignment;

export const areasDisjoint: Invariant = {
  name: AREAS_DISJOINT,
  kind: 'state',
  summary: 'the areas of an IOAS never overlap',
  doc:
    'Every area of an IOAS is a valid inclusive interval and no two areas share an IOVA (kernel-semantics §3.1: ' +
    'the area interval tree holds disjoint ranges; MAP/COPY answer EEXIST instead of overlapping). ' +
    'Incremental: only the areas a step added or changed, each against the areas it overlaps (the two versions of ' +
    'the area tree are walked past their shared subtrees).',
  checkState(w) {
    const out: Violation[] = [];
    forEachIoas(w, (c, i) => checkDisjoint(c, i, out));
    return out;
  },
  checkStep(d) {
    const out: Violation[] = [];
    changedIoas(d, areasChanged, (c, b, i) => (b ? checkDisjointChanged(c, b, i, out) : checkDisjoint(c, i, out)));
    return out;
  },
};

const FIXED_IOVA = 1;

/** Automatic IOVA allocation: the chosen range lies inside the allowed ranges and [PAGE_SIZE, ULONG_MAX - PAGE_SIZE]. */
function checkAllocation(d: StepDelta, out: Violation[]): void {
  const ev = d.event;
  if (d.result.errno !== 0 || ev.size !== undefined) return;
  let ioasField: string;
  let iova: bigint;
  let hint: bigint | undefined;
  if (ev.op === 'IOMMU_IOAS_MAP' || ev.op === 'IOMMU_IOAS_MAP_FILE') {
    ioasField = 'ioas_id';
    iova = fieldU64(d.result.out ?? {}, 'iova');
    hint = ev.op === 'IOMMU_IOAS_MAP' ? fieldU64(ev.args, 'user_va') : fieldU64(ev.args, 'start');
  } else if (ev.op === 'IOMMU_IOAS_COPY') {
    ioasField = 'dst_ioas_id';
    iova = fieldU64(d.result.out ?? {}, 'dst_iova');
  } else return;
  if (fieldU32(ev.args, 'flags') & FIXED_IOVA) return;
  const ctxId = ctxOfEvent(d.prev, ev);
  if (ctxId === undefined) return;
  const ioasId = fieldU32(ev.args, ioasField);
  const before = d.prev.ctxs.get(ctxId)?.objs.get(ioasId);
  if (before?.type !== 'ioas') return;
  const length = fieldU64(ev.args, 'length');
  const last = iova + length - 1n;
  const where = { invariant: AREAS_IN_BOUNDS, ctx: ctxId, obj: ioasId };
  if (iova < PAGE_SIZE || last > U64_MAX - PAGE_SIZE) out.push({ ...where, message: `${ev.op}: automatically allocated [${hex(iova)}, ${hex(last)}] is outside [PAGE_SIZE, ULONG_MAX - PAGE_SIZE]` });
  const allowed = before.iopt.allowed;
  if (allowed.length && !mergedList(allowed).some((r) => r.start <= iova && last <= r.last))
    out.push({ ...where, message: `${ev.op}: automatically allocated [${hex(iova)}, ${hex(last)}] is not inside one allowed range of IOAS ${ioasId}` });
  // c = ALIGN_UP(hole, align) | page_offset (§3.5): the offset's bits are set (align may be below a page).
  const offset = hint === undefined ? 0n : hint % PAGE_SIZE;
  if ((iova & offset) !== offset) out.push({ ...where, message: `${ev.op}: automatically allocated IOVA ${hex(iova)} lacks the in-page offset bits of ${hex(hint!)}` });
}

export const areasInBounds: Invariant = {
  name: AREAS_IN_BOUNDS,
  kind: 'state',
  summary: 'areas avoid reserved ranges, respect iova_alignment, and automatic IOVAs come from the allowed ranges',
  doc:
    'No area intersects a reserved range of its IOAS (domain apertures, device regions, ADD_RESERVED: ' +
    'kernel-semantics §3.10 — reservations fail EADDRINUSE over areas and fixed maps fail EINVAL over reservations); ' +
    'every area start, length and in-page offset is a multiple of iova_alignment (§3.11: raising it is refused ' +
    'while areas do not conform). Per step: an IOVA chosen by automatic allocation (MAP, MAP_FILE, COPY without ' +
    'FIXED_IOVA) lies inside one allowed range when the list is not empty and inside [PAGE_SIZE, ULONG_MAX - PAGE_SIZE], ' +
    'and has the in-page offset bits of the hint address set (§3.5). Fixed IOVAs are not bound by the allowed ranges (§3.3). ' +
    'Incremental: only the areas a step added or changed, unless it changed the reserved ranges or the alignment.',
  checkState(w) {
    const out: Violation[] = [];
    forEachIoas(w, (c, i) => checkBounds(c, i, out));
    return out;
  },
  checkStep(d) {
    const out: Violation[] = [];
    changedIoas(d, boundsChanged, (c, b, i) => (b ? checkBoundsChanged(c, b, i, out) : checkBounds(c, i, out)));
    checkAllocation(d, out);
    return out;
  },
};
