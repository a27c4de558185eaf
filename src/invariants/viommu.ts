/**
 * vIOMMU / vDEVICE (kernel-semantics §10): no vDEVICE outlives its vIOMMU,
 * and a vIOMMU's virt_id table is exactly its vDEVICEs.
 */
import type { Ctx, ViommuObj, VdeviceObj } from '../model/state.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { objsOf } from './util.js';

export const VDEVICE_HAS_VIOMMU = 'vdevice-has-viommu';

function checkVdevice(ctxId: number, ctx: Ctx, v: VdeviceObj, out: Violation[]): void {
  const where = { invariant: VDEVICE_HAS_VIOMMU, ctx: ctxId, obj: v.id };
  const u = ctx.objs.get(v.viommu);
  if (u?.type !== 'viommu') out.push({ ...where, message: `vDEVICE ${v.id} outlives its vIOMMU ${v.viommu}` });
  else if (u.vdevs.get(v.virtId) !== v.id) out.push({ ...where, message: `vDEVICE ${v.id} (virt_id 0x${v.virtId.toString(16)}) is not in the virt_id table of vIOMMU ${v.viommu}` });
  if (v.dev && ctx.objs.get(v.dev)?.type !== 'device') out.push({ ...where, message: `vDEVICE ${v.id} names device ${v.dev}, which was unbound (it must read 0)` });
}

function checkViommu(ctxId: number, ctx: Ctx, u: ViommuObj, out: Violation[]): void {
  const where = { invariant: VDEVICE_HAS_VIOMMU, ctx: ctxId, obj: u.id };
  const h = ctx.objs.get(u.hwpt);
  if (h?.type !== 'hwpt_paging' || !h.nestParent) out.push({ ...where, message: `vIOMMU ${u.id} sits on ${u.hwpt}, which is not a nesting-parent paging HWPT` });
  u.vdevs.each((virt, id) => {
    const v = ctx.objs.get(id);
    if (v?.type !== 'vdevice' || v.viommu !== u.id || v.virtId !== virt) out.push({ ...where, message: `vIOMMU ${u.id}: virt_id 0x${virt.toString(16)} names ${id}, which is not its vDEVICE with that virt_id` });
  });
}

function checkCtx(ctxId: number, ctx: Ctx, out: Violation[]): void {
  for (const [, o] of objsOf(ctx)) {
    if (o.type === 'vdevice') checkVdevice(ctxId, ctx, o, out);
    if (o.type === 'viommu') checkViommu(ctxId, ctx, o, out);
  }
}

export const vdeviceHasViommu: Invariant = {
  name: VDEVICE_HAS_VIOMMU,
  kind: 'state',
  summary: 'no vDEVICE without its vIOMMU; the virt_id table of a vIOMMU is exactly its vDEVICEs',
  doc:
    'Every vDEVICE names a live vIOMMU whose virt_id table maps its virt_id to it; every table entry names such a ' +
    'vDEVICE (virt_ids are unique per vIOMMU); a vIOMMU sits on a nesting-parent paging HWPT; a vDEVICE names a ' +
    'live device or 0 once that device was unbound (kernel-semantics §10, §2.3). Incremental: changed vIOMMUs and ' +
    'vDEVICEs; the whole context when one of them or a device is removed.',
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
      let rescan = false;
      for (const [, [b, a]] of d.objs(ctxId)) {
        if (b && !a && (b.type === 'viommu' || b.type === 'vdevice' || b.type === 'device' || b.type === 'hwpt_paging')) rescan = true;
        if (a?.type === 'vdevice') checkVdevice(ctxId, ctx, a, out);
        if (a?.type === 'viommu') checkViommu(ctxId, ctx, a, out);
      }
      if (rescan) checkCtx(ctxId, ctx, out);
    }
    return out;
  },
};
