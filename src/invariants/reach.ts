/**
 * Destroyed IDs are unreachable: every ID stored anywhere in the state names
 * a live object of the right type (kernel-semantics §2.2, §2.6).
 */
import type { Ctx, IoasObj, Obj, ObjType, World } from '../model/state.js';
import { diffIntervals } from '../ds/diff.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { areasOf, objsOf } from './util.js';

export const NO_DANGLING_IDS = 'no-dangling-ids';

type Ref = [field: string, id: number, types: readonly ObjType[]];
const HWPT: readonly ObjType[] = ['hwpt_paging', 'hwpt_nested'];
const PAGING: readonly ObjType[] = ['hwpt_paging'];
const ACCESS: readonly ObjType[] = ['access'];
const IOAS: readonly ObjType[] = ['ioas'];
const FAULT: readonly ObjType[] = ['fault'];
const VIOMMU: readonly ObjType[] = ['viommu'];
const SELFTEST: readonly ObjType[] = ['selftest'];
const DEVICE: readonly ObjType[] = ['device'];
const VDEVICE: readonly ObjType[] = ['vdevice'];

/** Calls `visit(c, field, id, types)` for every object ID `o` names (0 = none is skipped); no allocation. */
function eachRef<C>(o: Obj, c: C, visit: (c: C, field: string, id: number, types: readonly ObjType[]) => void): void {
  switch (o.type) {
    case 'ioas':
      for (const h of o.iopt.domains) if (h) visit(c, 'iopt.domains', h, PAGING);
      for (const h of o.hwpts) if (h) visit(c, 'hwpts', h, PAGING);
      for (const a of o.iopt.accesses) if (a) visit(c, 'iopt.accesses', a, ACCESS);
      break;
    case 'hwpt_paging':
      if (o.ioas) visit(c, 'ioas', o.ioas, IOAS);
      if (o.fault) visit(c, 'fault', o.fault, FAULT);
      break;
    case 'hwpt_nested':
      if (o.parent) visit(c, 'parent', o.parent, PAGING);
      if (o.viommu) visit(c, 'viommu', o.viommu, VIOMMU);
      if (o.fault) visit(c, 'fault', o.fault, FAULT);
      break;
    case 'device':
      if (o.hwpt) visit(c, 'hwpt', o.hwpt, HWPT);
      if (o.stdev) visit(c, 'stdev', o.stdev, SELFTEST);
      break;
    case 'access':
      if (o.ioas) visit(c, 'ioas', o.ioas, IOAS);
      break;
    case 'fault':
      for (const g of o.queue) {
        if (g.dev) visit(c, 'queue.dev', g.dev, DEVICE);
        if (g.hwpt) visit(c, 'queue.hwpt', g.hwpt, HWPT);
      }
      if (o.awaiting.size)
        o.awaiting.each((_c, g) => {
          if (g.dev) visit(c, 'awaiting.dev', g.dev, DEVICE);
          if (g.hwpt) visit(c, 'awaiting.hwpt', g.hwpt, HWPT);
        });
      break;
    case 'viommu':
      if (o.hwpt) visit(c, 'hwpt', o.hwpt, PAGING);
      if (o.vdevs.size)
        o.vdevs.each((_v, id) => {
          if (id) visit(c, 'vdevs', id, VDEVICE);
        });
      break;
    case 'vdevice':
      if (o.viommu) visit(c, 'viommu', o.viommu, VIOMMU);
      if (o.dev) visit(c, 'dev', o.dev, DEVICE);
      break;
    case 'selftest':
      if (o.idev) visit(c, 'idev', o.idev, DEVICE);
      break;
  }
}

/** Object IDs an object names (0 = none is skipped). */
export function refsOf(o: Obj): Ref[] {
  const r: Ref[] = [];
  eachRef(o, r, (l, field, id, types) => void l.push([field, id, types]));
  return r;
}

/** What checkRef needs (one scratch record: the checks are not reentrant). */
const scratch: { ctxId: number; ctx: Ctx | null; o: Obj | null; out: Violation[] | null } = { ctxId: 0, ctx: null, o: null, out: null };

function checkRef(c: typeof scratch, field: string, id: number, types: readonly ObjType[]): void {
  const t = c.ctx!.objs.get(id);
  if (!t || !types.includes(t.type)) {
    const o = c.o!;
    c.out!.push({ invariant: NO_DANGLING_IDS, ctx: c.ctxId, obj: o.id, message: `${o.type} ${o.id}.${field} names ${id}, which is ${t ? `a ${t.type}` : 'not a live object'} (expected ${types.join(' or ')})` });
  }
}

/**
 * The references of `o` are live. `before` (step checks): the same object before the step, in a context whose pages
 * table did not change — then the areas' pages objects are only checked when the areas changed.
 */
/**
 * One object's references. With `before` (its previous version) and
 * `gonePages` (pages objects the step removed), an IOAS's areas are looked at
 * incrementally: the areas the step added or changed, and any area naming a
 * removed pages object; without, all of them.
 */
function checkObj(w: World, ctxId: number, ctx: Ctx, o: Obj, out: Violation[], before?: Obj, gonePages?: ReadonlySet<number>): void {
  scratch.ctxId = ctxId;
  scratch.ctx = ctx;
  scratch.o = o;
  scratch.out = out;
  eachRef(o, scratch, checkRef);
  scratch.ctx = scratch.o = null;
  scratch.out = null;
  // Pages objects named by areas and access pins, and the files of fault and access objects.
  if (o.type === 'ioas') {
    const dangling = (s: bigint, pages: number) => void out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: o.id, message: `IOAS ${o.id}: area at 0x${s.toString(16)} names pages ${pages}, which does not exist` });
    if (before?.type === 'ioas' && gonePages) {
      const reported = new Set<bigint>();
      if (before.iopt.areas !== o.iopt.areas)
        diffIntervals(before.iopt.areas, o.iopt.areas, (s, _x, y) => {
          if (y && !ctx.pages.get(y.value.pages)) (dangling(s, y.value.pages), reported.add(s));
        });
      if (gonePages.size) areasNaming(o, gonePages, (s, pages) => void (reported.has(s) || dangling(s, pages)));
    } else for (const { start: s, value: a } of areasOf(o)) if (!ctx.pages.get(a.pages)) dangling(s, a.pages);
  }
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

/** The areas of an IOAS that name one of `pages`. */
function areasNaming(o: IoasObj, pages: ReadonlySet<number>, fn: (start: bigint, pages: number) => void): void {
  o.iopt.areas.each((s, _l, a) => void (pages.has(a.pages) && fn(s, a.pages)));
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
    // (file 0: bound through the legacy group, by whichever of its files from there is open)
    const f = w.files.get(b.file);
    if (b.file !== 0 && (f?.kind !== 'vfio' || f.dev !== id)) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `device ${id} (${p.cdev}) is bound through file ${b.file}, which is not its open VFIO file` });
  });
  w.hw?.groups.each((id, g) => {
    if (g.iommufd && !w.ctxs.get(g.iommufd)) out.push({ invariant: NO_DANGLING_IDS, obj: id, message: `iommu group ${id} is set to context ${g.iommufd}, which is gone` });
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
      // An IOAS's areas need a look where they changed, and wherever they name a pages object the step removed.
      const gone = new Set<number>();
      if (d.prev.ctxs.get(ctxId)?.pages !== ctx.pages) for (const [pid, [b, a]] of d.pages(ctxId)) if (b && !a) gone.add(pid);
      const objs = d.objs(ctxId);
      for (const [, [b, a]] of objs) if (a) checkObj(d.next, ctxId, ctx, a, out, b, gone);
      // IOASes the step did not change may name a removed pages object too (COPY shares them)
      if (gone.size)
        ctx.objs.each((id, o) => {
          if (o.type === 'ioas' && !objs.has(id)) areasNaming(o, gone, (s, pages) => void out.push({ invariant: NO_DANGLING_IDS, ctx: ctxId, obj: id, message: `IOAS ${id}: area at 0x${s.toString(16)} names pages ${pages}, which does not exist` }));
          return true;
        });
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
