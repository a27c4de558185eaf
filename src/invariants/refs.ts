/**
 * Reference counts: every object's `users` and every open file's `refs`
 * equal the number of their holders (kernel-semantics §2.3, §1.1).
 */
import type { Obj, OpenFile, World } from '../model/state.js';
import type { Binding } from '../model/hardware.js';
import { diffMap, type StepDelta } from './delta.js';
import { emptyHistory, leakKey, type History, type Invariant, type Violation } from './types.js';
import { objsOf, opOf } from './util.js';

export const REFCOUNTS = 'refcounts';

/**
 * The object IDs `o` holds a counted reference on (with repeats), besides
 * the table's own reference to every object:
 * HWPT_PAGING -> its IOAS and fault; HWPT_NESTED -> its parent (or vIOMMU)
 * and fault; DEVICE -> itself for the binding driver and, while attached,
 * itself again and its HWPT; ACCESS -> itself for the creating driver and
 * its IOAS; FAULT -> itself while its fd is open; vIOMMU -> its HWPT;
 * vDEVICE -> its vIOMMU.
 */
export function holds(o: Obj): number[] {
  switch (o.type) {
    case 'hwpt_paging':
      return o.fault ? [o.ioas, o.fault] : [o.ioas];
    case 'hwpt_nested': {
      const up = o.viommu ? o.viommu : o.parent;
      return o.fault ? [up, o.fault] : [up];
    }
    case 'device':
      return o.hwpt ? [o.id, o.id, o.hwpt] : [o.id];
    case 'access':
      return o.ioas ? [o.id, o.ioas] : [o.id];
    case 'fault':
      return o.fdOpen ? [o.id] : [];
    case 'viommu':
      return [o.hwpt];
    case 'vdevice':
      return [o.viommu];
    default:
      return [];
  }
}

function add(m: Map<number, number>, id: number, w: number): void {
  m.set(id, (m.get(id) ?? 0) + w);
}

/** `add(delta, h, w)` and `touched.add(h)` for every h in holds(o), without the array. */
function addHolds(o: Obj, w: number, delta: Map<number, number>, touched: Set<number>): void {
  const h = (id: number): void => {
    add(delta, id, w);
    touched.add(id);
  };
  switch (o.type) {
    case 'hwpt_paging':
      h(o.ioas);
      if (o.fault) h(o.fault);
      return;
    case 'hwpt_nested':
      h(o.viommu ? o.viommu : o.parent);
      if (o.fault) h(o.fault);
      return;
    case 'device':
      h(o.id);
      if (o.hwpt) (h(o.id), h(o.hwpt));
      return;
    case 'access':
      h(o.id);
      if (o.ioas) h(o.ioas);
      return;
    case 'fault':
      if (o.fdOpen) h(o.id);
      return;
    case 'viommu':
      h(o.hwpt);
      return;
    case 'vdevice':
      h(o.viommu);
      return;
  }
}

/**
 * File references: one per fd in any process, plus one on an iommufd file per
 * fault/access file of its context, plus two per VFIO device file bound into
 * its context (the bind's fget and the DEVICE/ACCESS object's ctx reference),
 * one per device bound through a legacy group (the object's), and one per
 * group set to the context (group->iommufd).
 */
function fileHolders(w: World): Map<number, number> {
  const m = new Map<number, number>();
  w.procs.each((_pid, p) => {
    p.fds.each((_fd, id) => {
      add(m, id, 1);
    });
  });
  w.files.each((_id, f) => {
    if ((f.kind === 'fault' || f.kind === 'access') && f.ctx !== undefined) {
      const ctx = w.ctxs.get(f.ctx);
      if (ctx) add(m, ctx.file, 1);
    }
  });
  w.hw?.devs.each((_id, p) => {
    const ctx = p.bound ? w.ctxs.get(p.bound.ctx) : undefined;
    if (ctx) add(m, ctx.file, bindingRefs(p.bound!));
  });
  w.hw?.groups.each((_id, g) => {
    const ctx = g.iommufd ? w.ctxs.get(g.iommufd) : undefined;
    if (ctx) add(m, ctx.file, 1);
  });
  return m;
}

/** The context references a binding holds: the cdev bind's fget and the object's, or (bound through the group) the object's alone. */
const bindingRefs = (b: Binding): number => (b.file === 0 ? 1 : 2);

/**
 * Hardware reference counts: a physical device's `opens` is the number of
 * its open VFIO files; a group's `cdevOpenCnt` the number of its devices
 * bound through their cdev, `ownerCnt` the number of DEVICE objects of its
 * devices (all in the owning context), `owner` 0 exactly when nothing owns it.
 */
function checkHardware(w: World, out: Violation[], op?: string): void {
  const hw = w.hw;
  if (!hw) return;
  const at = op ? `${op}: ` : '';
  const opens = new Map<number, number>();
  const groupOpens = new Map<number, number>();
  w.files.each((_id, f) => {
    if (f.kind !== 'vfio' || f.dev === undefined) return;
    add(opens, f.dev, 1);
    if (f.viaGroup) add(groupOpens, f.dev, 1);
  });
  const bound = new Map<number, number>();
  hw.devs.each((id, p) => {
    if (p.opens !== (opens.get(id) ?? 0)) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}device ${id} (${p.cdev}): opens ${p.opens} but ${opens.get(id) ?? 0} open VFIO files` });
    const gOpens = groupOpens.get(id) ?? 0;
    if (p.groupOpens !== gOpens) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}device ${id} (${p.cdev}): open_count through the group ${p.groupOpens} but ${gOpens} files from VFIO_GROUP_GET_DEVICE_FD` });
    // bound through the group exactly while a file from it is open
    if ((p.bound?.file === 0) !== gOpens > 0) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}device ${id} (${p.cdev}): ${gOpens} files from the group but ${p.bound ? `bound through file ${p.bound.file}` : 'unbound'}` });
    if (p.bound && p.bound.file !== 0) add(bound, p.group, 1);
  });
  const owners = new Map<number, { n: number; ctxs: Set<number> }>();
  w.ctxs.each((ctxId, ctx) => {
    ctx.objs.each((_id, o) => {
      if (o.type !== 'device' || !o.pdev) return;
      const g = hw.devs.get(o.pdev)?.group ?? o.group;
      const e = owners.get(g) ?? { n: 0, ctxs: new Set<number>() };
      e.n++;
      e.ctxs.add(ctxId);
      owners.set(g, e);
    });
  });
  hw.groups.each((id, g) => {
    if (g.cdevOpenCnt !== (bound.get(id) ?? 0)) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}iommu group ${id}: cdev_device_open_cnt ${g.cdevOpenCnt} but ${bound.get(id) ?? 0} devices bound through their cdev` });
    const o = owners.get(id);
    if (g.ownerCnt !== (o?.n ?? 0)) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}iommu group ${id}: DMA owner count ${g.ownerCnt} but ${o?.n ?? 0} DEVICE objects` });
    else if (o && (o.ctxs.size !== 1 || !o.ctxs.has(g.owner))) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}iommu group ${id}: owned by context ${g.owner} but its DEVICE objects are in ${[...o.ctxs].join(', ')}` });
    else if (!o && g.owner) out.push({ invariant: REFCOUNTS, obj: id, message: `${at}iommu group ${id}: no DEVICE object but owner ${g.owner}` });
  });
}

function ctxFileHolder(w: World, f: OpenFile | undefined): number | undefined {
  if (!f || (f.kind !== 'fault' && f.kind !== 'access') || f.ctx === undefined) return undefined;
  return w.ctxs.get(f.ctx)?.file;
}

export const refcounts: Invariant = {
  name: REFCOUNTS,
  kind: 'state',
  summary: 'every object users count and every file reference count equals the number of its holders',
  doc:
    'users = 1 (the table) + one per holder (kernel-semantics §2.3): IOAS <- each HWPT_PAGING on it and each ACCESS ' +
    'attached; HWPT_PAGING <- each attached device, each HWPT_NESTED built on it, each vIOMMU; HWPT_NESTED <- each ' +
    'attached device; FAULT <- its open fd and each HWPT using it; DEVICE <- the binding driver and being attached; ' +
    'ACCESS <- its creating driver; vIOMMU <- each vDEVICE and each HWPT_NESTED allocated through it; plus the IOAS ' +
    'references leaked by the 6.14 IOMMU_IOAS_MAP_FILE EBADF bug (§2.3), which the checker learns from the events. ' +
    "An open file's refs = the fds naming it in every process, plus one on an iommufd file for each fault or access " +
    'file of its context, plus two per VFIO device file bound into the context (§1.1, §5.1), one per device bound ' +
    'through a legacy group and one per group set to the context (VFIO_GROUP_SET_CONTAINER). Hardware: a device\'s ' +
    'open count is its open VFIO files (its group open count those from VFIO_GROUP_GET_DEVICE_FD, and it is bound ' +
    'through the group exactly while there are some), a group\'s cdev open count its cdev-bound devices, its DMA owner count the ' +
    'DEVICE objects of its devices, all in the owning context (§5.2, §5.7). Incremental: users(X) after - before ' +
    'must equal the change of its holders, summed over the objects that changed in the step; file refs likewise ' +
    'over the changed fds, files and bindings; the hardware counts are recounted when the step touched devices.',
  checkState(w, history: History = emptyHistory()) {
    const out: Violation[] = [];
    w.ctxs.each((ctxId, ctx) => {
      const want = new Map<number, number>();
      const objs = objsOf(ctx);
      for (const [id, o] of objs) {
        add(want, id, 1 + (history.leaks.get(leakKey(ctxId, id)) ?? 0));
        for (const h of holds(o)) add(want, h, 1);
      }
      for (const [id, o] of objs) {
        const n = want.get(id)!;
        if (o.users !== n) out.push({ invariant: REFCOUNTS, ctx: ctxId, obj: id, message: `${o.type} ${id}: users ${o.users} but ${n} holders` });
        want.delete(id);
      }
      for (const [id, n] of want) out.push({ invariant: REFCOUNTS, ctx: ctxId, obj: id, message: `object ${id} is held ${n} time(s) but does not exist` });
    });
    const fh = fileHolders(w);
    w.files.each((id, f) => {
      const n = fh.get(id) ?? 0;
      fh.delete(id);
      if (f.refs !== n) out.push({ invariant: REFCOUNTS, obj: id, message: `file ${id} (${f.kind}): refs ${f.refs} but ${n} holders` });
    });
    for (const [id, n] of fh) out.push({ invariant: REFCOUNTS, obj: id, message: `file ${id} is held ${n} time(s) but is not open` });
    checkHardware(w, out);
    return out;
  },
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    if (d.unchanged) return out;
    for (const [ctxId, [, after]] of d.ctxs) {
      // A released context is gone with everything in it (objects the kernel leaked included, §2.7).
      if (!after) continue;
      const objs = d.objs(ctxId);
      if (!objs.size) continue;
      const delta = new Map<number, number>();
      const touched = new Set<number>();
      for (const [id, [b, a]] of objs) {
        touched.add(id);
        if (b) {
          add(delta, id, -1);
          addHolds(b, -1, delta, touched);
        }
        if (a) {
          add(delta, id, 1);
          addHolds(a, 1, delta, touched);
        }
      }
      const before = d.prev.ctxs.get(ctxId);
      const mapFileLeak = d.kernel === '6.14' && d.result.errno === 'EBADF' && opOf(d.event) === 'IOMMU_IOAS_MAP_FILE';
      for (const id of touched) {
        const ch = objs.get(id);
        const b = ch ? ch[0] : before?.objs.get(id);
        const a = ch ? ch[1] : after?.objs.get(id);
        let leak = 0;
        // 6.14 MAP_FILE with a bad fd: the IOAS lookup's reference is never dropped (§2.3).
        if (mapFileLeak && a?.type === 'ioas' && b?.type === 'ioas') leak = a.users - b.users === 1 ? 1 : 0;
        const have = (a?.users ?? 0) - (b?.users ?? 0);
        const want = (delta.get(id) ?? 0) + leak;
        if (have !== want) {
          const t = (a ?? b)?.type ?? 'object';
          out.push({ invariant: REFCOUNTS, ctx: ctxId, obj: id, message: `${d.event.op}: ${t} ${id} users changed by ${have} (${b?.users ?? 0} -> ${a?.users ?? 0}) but its holders by ${want}` });
        }
      }
    }
    // Files.
    if (d.prev.files !== d.next.files || d.prev.procs !== d.next.procs || d.prev.hw !== d.next.hw) {
      const delta = new Map<number, number>();
      for (const [, [pb, pa]] of d.procs) {
        const fds = diffMap<number, number>(pb?.fds, pa?.fds);
        for (const [, [fb, fa]] of fds) {
          if (fb !== undefined) add(delta, fb, -1);
          if (fa !== undefined) add(delta, fa, 1);
        }
      }
      for (const [, [fb, fa]] of d.files) {
        const hb = ctxFileHolder(d.prev, fb);
        const ha = ctxFileHolder(d.next, fa) ?? (fa ? ctxFileHolder(d.prev, fa) : undefined);
        if (hb !== undefined) add(delta, hb, -1);
        if (ha !== undefined) add(delta, ha, 1);
      }
      if (d.prev.hw !== d.next.hw) {
        for (const [, [pb, pa]] of diffMap(d.prev.hw?.devs, d.next.hw?.devs)) {
          const hb = pb?.bound ? d.prev.ctxs.get(pb.bound.ctx)?.file : undefined;
          const ha = pa?.bound ? (d.next.ctxs.get(pa.bound.ctx) ?? d.prev.ctxs.get(pa.bound.ctx))?.file : undefined;
          if (hb !== undefined) add(delta, hb, -bindingRefs(pb!.bound!));
          if (ha !== undefined) add(delta, ha, bindingRefs(pa!.bound!));
        }
        for (const [, [gb, ga]] of diffMap(d.prev.hw?.groups, d.next.hw?.groups)) {
          const hb = gb?.iommufd ? d.prev.ctxs.get(gb.iommufd)?.file : undefined;
          const ha = ga?.iommufd ? (d.next.ctxs.get(ga.iommufd) ?? d.prev.ctxs.get(ga.iommufd))?.file : undefined;
          if (hb !== undefined) add(delta, hb, -1);
          if (ha !== undefined) add(delta, ha, 1);
        }
      }
      const ids = new Set(delta.keys());
      for (const id of d.files.keys()) ids.add(id);
      for (const id of ids) {
        const ch = d.files.get(id);
        const b = ch ? ch[0] : d.prev.files.get(id);
        const a = ch ? ch[1] : d.next.files.get(id);
        const have = (a?.refs ?? 0) - (b?.refs ?? 0);
        const want = delta.get(id) ?? 0;
        if (have !== want) out.push({ invariant: REFCOUNTS, obj: id, message: `${d.event.op}: file ${id} (${(a ?? b)?.kind ?? '?'}) refs changed by ${have} but its holders by ${want}` });
      }
    }
    if (d.next.hw?.devs.size) {
      let touched = d.prev.hw !== d.next.hw || d.prev.files !== d.next.files;
      if (!touched)
        for (const c of d.ctxs.keys()) {
          for (const [b, a] of d.objs(c).values()) if ((b ?? a)!.type === 'device') touched = true;
          if (touched) break;
        }
      if (touched) checkHardware(d.next, out, d.event.op);
    }
    return out;
  },
};
