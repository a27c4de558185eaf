/**
 * Dirty tracking state (kernel-semantics §7, §12.3).
 */
import type { Ctx, HwptPagingObj } from '../model/state.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { ctxOfEvent, fieldU32, fieldU64, hex, MOCK_IO_PAGE_SIZE, objsOf } from './util.js';

export const DIRTY_IN_TRACKED_MAPPINGS = 'dirty-in-tracked-mappings';

const ENABLE = 1;
const NO_CLEAR = 1;

function checkHwpt(ctxId: number, ctx: Ctx, h: HwptPagingObj, out: Violation[]): void {
  const d = h.domain;
  if (d.dirty.size === 0) return;
  const where = { invariant: DIRTY_IN_TRACKED_MAPPINGS, ctx: ctxId, obj: h.id };
  if (!d.dirtyOps) out.push({ ...where, message: `HWPT ${h.id} has ${d.dirty.size} dirty slot(s) but no dirty-tracking ops` });
  const ioas = ctx.objs.get(h.ioas);
  if (ioas?.type !== 'ioas') return;
  let bad: bigint | undefined;
  d.dirty.each((slot) => {
    if (!ioas.iopt.areas.find(slot * MOCK_IO_PAGE_SIZE)) bad = slot;
    return bad === undefined;
  });
  if (bad !== undefined) out.push({ ...where, message: `HWPT ${h.id}: IOVA ${hex(bad * MOCK_IO_PAGE_SIZE)} is dirty but not mapped by IOAS ${h.ioas}` });
}

/** Per-step rules of SET_DIRTY_TRACKING and GET_DIRTY_BITMAP. */
function checkOps(d: StepDelta, out: Violation[]): void {
  const ev = d.event;
  if (d.result.errno !== 0 || ev.size !== undefined) return;
  if (ev.op !== 'IOMMU_HWPT_SET_DIRTY_TRACKING' && ev.op !== 'IOMMU_HWPT_GET_DIRTY_BITMAP') return;
  const ctxId = ctxOfEvent(d.prev, ev);
  if (ctxId === undefined) return;
  const id = fieldU32(ev.args, 'hwpt_id');
  const before = d.prev.ctxs.get(ctxId)?.objs.get(id);
  const after = d.next.ctxs.get(ctxId)?.objs.get(id);
  if (before?.type !== 'hwpt_paging' || after?.type !== 'hwpt_paging') return;
  const where = { invariant: DIRTY_IN_TRACKED_MAPPINGS, ctx: ctxId, obj: id };
  const flags = fieldU32(ev.args, 'flags');
  if (ev.op === 'IOMMU_HWPT_SET_DIRTY_TRACKING') {
    const on = !!(flags & ENABLE);
    if (after.domain.dirtyEnabled !== on) out.push({ ...where, message: `SET_DIRTY_TRACKING(${on ? 'enable' : 'disable'}) left tracking ${after.domain.dirtyEnabled ? 'on' : 'off'}` });
    if (on && after.domain.dirty.size) out.push({ ...where, message: `SET_DIRTY_TRACKING(enable) kept ${after.domain.dirty.size} dirty slot(s): enabling clears them (§7.1)` });
    if (!on && after.domain.dirty !== before.domain.dirty) out.push({ ...where, message: 'SET_DIRTY_TRACKING(disable) changed the recorded dirty slots (§7.1: they stay)' });
    return;
  }
  if (flags & NO_CLEAR || !before.domain.dirtyEnabled) {
    if (after.domain.dirty !== before.domain.dirty && !after.domain.dirty.equals(before.domain.dirty))
      out.push({ ...where, message: `GET_DIRTY_BITMAP${flags & NO_CLEAR ? ' with NO_CLEAR' : ' with tracking off'} changed the dirty slots` });
    return;
  }
  // The walk covers back-to-back areas from iova; every slot read there is cleared. (Domains holding 1 MiB
  // IOPTEs step 1 MiB at a time from an unaligned start and may skip slots after a huge run: not checked.)
  if (((before.domain as { hugeMapped?: { size: number } }).hugeMapped?.size ?? 0) > 0) return;
  const ioas = d.prev.ctxs.get(ctxId)!.objs.get(before.ioas);
  if (ioas?.type !== 'ioas') return;
  const iova = fieldU64(ev.args, 'iova');
  const last = iova + fieldU64(ev.args, 'length') - 1n;
  let cur = iova;
  ioas.iopt.areas.eachOverlapping(iova, last, (s, l) => {
    if (s > cur) return false;
    cur = (l < last ? l : last) + 1n;
    return cur <= last;
  });
  if (cur === iova) return;
  let left: bigint | undefined;
  after.domain.dirty.each(
    (slot) => {
      const a = slot * MOCK_IO_PAGE_SIZE;
      if (a >= iova && a < cur) left = slot;
      return left === undefined;
    },
    iova / MOCK_IO_PAGE_SIZE,
    (cur - 1n) / MOCK_IO_PAGE_SIZE,
  );
  if (left !== undefined) out.push({ ...where, message: `GET_DIRTY_BITMAP read [${hex(iova)}, ${hex(cur - 1n)}] without NO_CLEAR but IOVA ${hex(left * MOCK_IO_PAGE_SIZE)} is still dirty` });
}

export const dirtyInTrackedMappings: Invariant = {
  name: DIRTY_IN_TRACKED_MAPPINGS,
  kind: 'state',
  summary: 'dirty bits exist only in domains with dirty tracking, only over mapped IOVAs, and reads clear them',
  doc:
    'A dirty IOPTE slot exists only in a domain allocated with DIRTY_TRACKING and only where its IOAS maps an area: ' +
    'unmapping erases the slots with their IOPTEs (kernel-semantics §7, §12.3). Per step: SET_DIRTY_TRACKING(enable) ' +
    'leaves no dirty slot (§7.1), disable keeps them; GET_DIRTY_BITMAP without NO_CLEAR and with tracking on leaves no ' +
    'dirty slot in the back-to-back mapped range it walked, and with NO_CLEAR or tracking off changes nothing (§7.2). ' +
    'Writability is not required: the mock IOMMU_TEST_OP_DIRTY marks any mapped slot, read-only ones included, as ' +
    'the kernel does (§12.3). Incremental: HWPTs that changed and HWPTs of IOASes whose areas changed.',
  checkState(w) {
    const out: Violation[] = [];
    w.ctxs.each((ctxId, ctx) => {
      for (const [, o] of objsOf(ctx)) if (o.type === 'hwpt_paging') checkHwpt(ctxId, ctx, o, out);
    });
    return out;
  },
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    if (d.unchanged) return out;
    for (const [ctxId, [, ctx]] of d.ctxs) {
      if (!ctx) continue;
      const hwpts = new Set<number>();
      for (const [id, [b, a]] of d.objs(ctxId)) {
        if (a?.type === 'hwpt_paging' && (b?.type !== 'hwpt_paging' || b.domain.dirty !== a.domain.dirty)) hwpts.add(id);
        if (a?.type === 'ioas' && (b?.type !== 'ioas' || b.iopt.areas !== a.iopt.areas)) for (const h of a.iopt.domains) hwpts.add(h);
      }
      for (const id of hwpts) {
        const o = ctx.objs.get(id);
        if (o?.type === 'hwpt_paging') checkHwpt(ctxId, ctx, o, out);
      }
    }
    checkOps(d, out);
    return out;
  },
};
