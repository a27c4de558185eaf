/**
 * Destroyed IDs are unreachable: every ID stored anywhere in the state names
 * a live object of the right type (kernel-semantics §2.2, §2.6).
 */
import type { Ctx, Obj, ObjType, World } from '../model/state.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { objsOf } from './util.js';

export const NO_DANGLING_IDS = 'no-dangling-ids';

type Ref = [field: string, id: number, types: readonly ObjType[]];
const HWPT: readonly ObjType[] = ['hwpt_paging', 'hwpt_nested'];

/** Object IDs an object names (0 = none is skipped). */
export function refsOf(o: Obj): Ref[] {
  const r: Ref[] = [];
  const ref = (field: string, id: number, types: readonly ObjType[]) => {
    if (id) r.push([field, id, types]);
  };
  switch (o.type) {
    case 'ioas':
      for (const h of o.iopt.domains) ref('iopt.domains', h, ['hwpt_paging']);
      for (const h of o.hwpts) ref('hwpts', h, ['hwpt_paging']);
      for (const a of o.iopt.accesses) ref('iopt.accesses', a, ['access']);
      break;
    case 'hwpt_paging':
      ref('ioas', o.ioas, ['ioas']);
      ref('fault', o.fault, ['fault']);
      break;
    case 'hwpt_nested':
      ref('parent', o.parent, ['hwpt_paging']);
      ref('viommu', o.viommu, ['viommu']);
      ref('fault', o.fault, ['fault']);
      break;
    case 'device':
      ref('hwpt', o.hwpt, HWPT);
      ref('stdev', o.stdev, ['selftest']);
      break;
    case 'access':
      ref('ioas', o.ioas, ['ioas']);
      break;
    case 'fault':
      for (const g of o.queue) (ref('queue.dev', g.dev, ['device']), ref('queue.hwpt', g.hwpt, HWPT));
      o.awaiting.each((_c, g) => {
        ref('awaiting.dev', g.dev, ['device']);
        ref('awaiting.hwpt', g.hwpt, HWPT);
      });
      break;
    case 'viommu':
      ref('hwpt', o.hwpt, ['hwpt_paging']);
      o.vdevs.each((_v, id) => {
        ref('vdevs', id, ['vdevice']);
      });
      break;
    case 'vdevice':
      ref('viommu', o.viommu, ['viommu']);
      ref('dev', o.dev, ['device']);
      break;
    case 'selftest':
      ref('idev', o.idev, ['device']);
      break;
  }
  return r;
}

function checkObj(w: World, ctxId: number, ctx: Ctx, o: Obj, out: Violation[]): void {
  for (const [field, id, types] of refsOf(o)) {
    const t = ctx.objs.get(id);
    if (!t || !types.includes(t.type))
      out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `${o.type} ${o.id}.${field} names ${id}, which is ${t ? `a ${t.type}` : 'not a live object'} (expected ${types.join(' or ')})` });
  }
  // Pages objects named by areas and access pins, and the files of fault and access objects.
  if (o.type === 'ioas')
    o.iopt.areas.each((s, _l, a) => {
      if (!ctx.pages.get(a.pages)) out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `IOAS ${o.id}: area at 0x${s.toString(16)} names pages ${a.pages}, which does not exist` });
    });
  if (o.type === 'access') {
    o.items.each((item, it) => {
      for (const p of it.pieces) if (!ctx.pages.get(p.pages)) out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `access ${o.id} item ${item} pins pages ${p.pages}, which does not exist` });
    });
    // Selftest accesses have their own fd; VFIO emulated-device accesses (file 0) are held by the device's binding.
    if (o.file) {
      const f = w.files.get(o.file);
      if (!f || f.kind !== 'access' || f.obj !== o.id || f.ctx !== ctxId) out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `access ${o.id} names file ${o.file}, which is not its open access file` });
    }
  }
  if (o.type === 'device' && o.pdev) {
    const b = w.hw?.devs.get(o.pdev)?.bound;
    if (!b || b.ctx !== ctxId || b.obj !== o.id) out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `device ${o.id} stands for physical device ${o.pdev}, which is not bound to it` });
  }
  if (o.type === 'fault' && o.fdOpen) {
    const f = w.files.get(o.file);
    if (!f || f.kind !== 'fault' || f.obj !== o.id || f.ctx !== ctxId) out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `fault ${o.id} has an open fd but names file ${o.file}, which is not its fault file` });
  }
}

function checkCtx(w: World, ctxId: number, ctx: Ctx, out: Violation[]): void {
  for (const [, o] of objsOf(ctx)) checkObj(w, ctxId, ctx, o, out);
  checkCtxRecord(w, ctxId, ctx, out);
}

function checkCtxRecord(w: World, ctxId: number, ctx: Ctx, out: Violation[]): void {
  const f = w.files.get(ctx.file);
  if (!f || f.kind !== 'iommufd' || f.ctx !== ctxId) out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, message: `context ${ctxId} names file ${ctx.file}, which is not its /dev/iommu file` });
  if (ctx.vfioIoas && ctx.objs.get(ctx.vfioIoas)?.type !== 'ioas') out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: ctx.vfioIoas, message: `context ${ctxId}: the VFIO compat IOAS ${ctx.vfioIoas} is not a live IOAS` });
}

function checkFile(w: World, id: number, out: Violation[]): void {
  const f = w.files.get(id);
  if (!f) return;
  if (f.kind === 'iommufd' || f.kind === 'fault' || f.kind === 'access') {
    const ctx = f.ctx === undefined ? undefined : w.ctxs.get(f.ctx);
    if (!ctx) return void out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `${f.kind} file ${id} names context ${f.ctx}, which is gone` });
    if (f.kind !== 'iommufd') {
      const o = f.obj === undefined ? undefined : ctx.objs.get(f.obj);
      if (!o || o.type !== f.kind) out.push({ invariant: NO_DANGLING_IDS, ctx: f.ctx, obj: id, message: `${f.kind} file ${id} names object ${f.obj}, which is ${o ? `a ${o.type}` : 'gone'}` });
    }
  }
  if (f.mobj !== undefined && !w.mem.mobjs.get(f.mobj)) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `file ${id} names memory object ${f.mobj}, which does not exist` });
  if (f.kind === 'vfio' && !w.hw?.devs.get(f.dev ?? -1)) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `VFIO file ${id} names device ${f.dev}, which is gone` });
  if (f.kind === 'vfio_group' && !w.hw?.groups.get(f.group ?? -1)) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `VFIO group file ${id} names group ${f.group}, which is gone` });
}

/** A bound physical device names a live context, object and VFIO file of its own; its group exists. */
function checkBindings(w: World, out: Violation[]): void {
  w.hw?.devs.each((id, p) => {
    if (!w.hw.groups.get(p.group)) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `device ${id} (${p.cdev}) is in group ${p.group}, which does not exist` });
    const b = p.bound;
    if (!b) return;
    const o = w.ctxs.get(b.ctx)?.objs.get(b.obj);
    const want = p.kind === 'physical' ? 'device' : 'access';
    if (o?.type !== want) out.push({ invariant: NO_DANGLING_IDS, ctx: b.ctx, obj: b.obj, message: `device ${id} (${p.cdev}) is bound to ${want} ${b.obj} of context ${b.ctx}, which is ${o ? `a ${o.type}` : 'gone'}` });
    const f = w.files.get(b.file);
    if (f?.kind !== 'vfio' || f.dev !== id) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `device ${id} (${p.cdev}) is bound through file ${b.file}, which is not its open VFIO file` });
  });
}

function checkProcFds(w: World, pid: number, out: Violation[]): void {
  const p = w.procs.get(pid);
  p?.fds.each((fd, id) => {
    if (!w.files.get(id)) out.push({ invariant: NO_DANGLING_IDS, obj: pid, message: `pid ${pid} fd ${fd} names file ${id}, which is closed` });
  });
}

export const noDanglingIds: Invariant = {
  name: NO_DANGLING_IDS,
  kind: 'state',
  summary: 'destroyed IDs are unreachable: every stored ID names a live object of the right type',
  doc:
    'Every object ID kept in the state (HWPT -> IOAS / parent / fault / vIOMMU, device -> HWPT / stdev, IOAS -> ' +
    'domains / HWPT list / accesses, fault groups -> device and HWPT, vIOMMU -> vDEVICEs, vDEVICE -> vIOMMU / ' +
    'device, stdev -> device, the compat IOAS), every pages object named by an area or access pin, and every file ' +
    'named by an fd, a context, a fault or an access object is live and of the right type (kernel-semantics §2.2: ' +
    'IDs are reused, so a stale one would silently name a new object; §2.6 destroy cascades). Incremental: the ' +
    'references of changed objects are checked; when a step removes objects (or reuses their IDs for another ' +
    'type), the whole table of that context is rescanned for references to them.',
  checkState(w) {
    const out: Violation[] = [];
    w.ctxs.each((ctxId, ctx) => checkCtx(w, ctxId, ctx, out));
    w.files.each((id) => checkFile(w, id, out));
    w.procs.each((pid) => checkProcFds(w, pid, out));
    checkBindings(w, out);
    return out;
  },
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    if (d.unchanged) return out;
    for (const [ctxId, [, ctx]] of d.ctxs) {
      if (!ctx) continue;
      if (d.removedIds(ctxId).size) {
        checkCtx(d.next, ctxId, ctx, out);
        d.next.files.each((id, f) => {
          if (f.ctx === ctxId && !d.files.has(id)) checkFile(d.next, id, out);
        });
        continue;
      }
      for (const [, [, a]] of d.objs(ctxId)) if (a) checkObj(d.next, ctxId, ctx, a, out);
      checkCtxRecord(d.next, ctxId, ctx, out);
    }
    let ctxGone = false;
    for (const [b, a] of d.ctxs.values()) if (b && !a) ctxGone = true;
    const files = d.prev.files !== d.next.files ? d.files : undefined;
    if (ctxGone) d.next.files.each((id) => checkFile(d.next, id, out));
    else if (files) for (const [id, [, a]] of files) if (a) checkFile(d.next, id, out);
    if (files) for (const [id, [b, a]] of files)
      if (b && !a) {
        // A closed file: no fd may still name it (checked through the changed processes below, and here for the rest).
        d.next.procs.each((pid, p) => {
          if (!d.procs.has(pid)) p.fds.each((fd, fid) => {
            if (fid === id) out.push({ invariant: NO_DANGLING_IDS, obj: pid, message: `pid ${pid} fd ${fd} names file ${id}, which was closed by ${d.event.op}` });
          });
        });
      }
    if (d.prev.procs !== d.next.procs) for (const [pid, [, a]] of d.procs) if (a) checkProcFds(d.next, pid, out);
    if (d.next.hw?.devs.size) {
      let touched = d.prev.hw !== d.next.hw || !!files?.size || ctxGone;
      for (const c of d.ctxs.keys()) if (!touched && d.removedIds(c).size) touched = true;
      if (touched) checkBindings(d.next, out);
    }
    return out;
  },
};
