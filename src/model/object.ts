/**
 * The object table of one iommufd context (main.c: _iommufd_object_alloc,
 * iommufd_get_object, iommufd_object_remove) and the transaction every
 * reducer works in.
 *
 * The kernel allocates an ID, does everything that can fail, then publishes
 * (iommufd_object_finalize) or aborts. The model gets the same effect for
 * free: a handler works on a Tx whose fields it replaces freely; on failure
 * the dispatcher drops the Tx and returns the untouched World (but for the
 * faults its accesses of user memory took, which the kernel keeps too:
 * `failed`). IDs come
 * from the kernel's xarray rule: lowest free ID >= 1 (XA_FLAGS_ALLOC1), so IDs
 * of destroyed objects are reused and a failed ioctl never consumes one.
 */
import type { PMap } from '../ds/pmap.js';
import { faultIn, type FaultKind } from './huge_memory.js';
import type { Ctx, Obj, ObjType, Pages, Proc, World } from './state.js';

export const ID_MAX = 0x7fffffff; // xa_limit_31b

/** Object of a given type, narrowed. */
export type ObjOf<T extends ObjType> = Extract<Obj, { type: T }>;

/** Slots (two per key) an overlay holds before the Tx writes it through: scans stay short when an op touches many objects. */
const OVERLAY_MAX = 32;

/** Set key `k` in a flat overlay (replacing its slot if present, else appending). */
function overlaySet<V>(d: (number | V)[] | null, k: number, v: V): (number | V)[] {
  if (d === null) return [k, v];
  for (let i = 0; i < d.length; i += 2)
    if (d[i] === k) {
      d[i + 1] = v;
      return d;
    }
  d.push(k, v);
  return d;
}

/** A persistent map with an overlay's writes applied (null = removed). */
function writeThrough<V>(m: PMap<number, V>, d: (number | V | null)[]): PMap<number, V> {
  for (let i = 0; i < d.length; i += 2) {
    const k = d[i] as number;
    const v = d[i + 1] as V | null;
    m = v === null ? m.delete(k) : m.set(k, v);
  }
  return m;
}

/**
 * What transactions wrote, for the debugger's change logs (debug/history.ts):
 * while a recorder is installed, every write of an object or pages object
 * through a Tx appends (ctx id, key) to `objs` / `pages`, and a Tx whose
 * context is replaced wholesale appends its ctx id to `whole`. The lists are
 * a superset of what changed (a failed ioctl's writes are recorded too, as
 * are rewrites with equal values): the index compares before and after for
 * each key. What they must be is complete, which is why the recording sits
 * here, in the only place the objects and pages objects of an existing
 * context are written (a context created or destroyed changes the context
 * table, which the index checks for itself).
 */
export interface TouchRecorder {
  objs: number[];
  pages: number[];
  whole: number[];
}
let touch: TouchRecorder | null = null;
/** Install (or remove, with null) the recorder; returns the previous one. */
export function setTouchRecorder(r: TouchRecorder | null): TouchRecorder | null {
  const prev = touch;
  touch = r;
  return prev;
}

export class Tx {
  /** Set by handlers whose failure keeps partial effects (kernel-semantics §3.7). */
  keepOnError = false;
  /**
   * Set where the work an ioctl asks for is past what the model does in one
   * event (limits.ts), deep inside it (a pin faulting in terabytes): the
   * ioctl is then answered as not modelled (EOPNOTSUPP, as limits.ts
   * overLimit), and its World dropped.
   */
  beyondModel: string | undefined = undefined;
  /**
   * A fill settled a pages object's accounting that 6.14's CHANGE_PROCESS
   * had left behind (pages.ts updatePinned). Should the ioctl then fail,
   * the kernel's unwinding keeps part of that and the model's dropped
   * transaction would not: such a failure is answered as not modelled.
   */
  skewSettled = false;
  /**
   * The faults the kernel's own accesses of user memory took in this
   * transaction (its pins, its copies), in order. An ioctl that fails drops
   * its pins, but the page-table entries those faults filled, and the huge
   * pages they allocated, stay: `failed` replays them on the World before.
   */
  private faults: ((w: World) => World)[] | null = null;

  // The context's large collections are held here and the Ctx object is
  // rebuilt only when asked for (or at commit): a handler touches them many
  // times and should not copy the Ctx record each time. Writes to objects and
  // pages objects go to small overlays first (null = removed) and reach the
  // persistent maps once per key when the Ctx is built: a MAP rewrites its
  // pages object three times and the IOAS twice, and each write-through
  // would copy a B-tree path.
  private base: Ctx;
  private objs: Ctx['objs'];
  private pagesMap: Ctx['pages'];
  // Overlays as flat [key, value, key, value...] arrays: an event touches a
  // handful of keys, and a scan of a few slots is cheaper than a Map.
  private objsDirty: (number | Obj | null)[] | null = null;
  private pagesDirty: (number | Pages | null)[] | null = null;
  private nextPagesId: number;
  private built: Ctx | undefined;

  constructor(
    public w: World,
    ctx: Ctx,
    public readonly pid: number,
  ) {
    this.base = ctx;
    this.objs = ctx.objs;
    this.pagesMap = ctx.pages;
    this.nextPagesId = ctx.nextPages;
    this.built = ctx;
  }

  get kernel() {
    return this.w.kernel;
  }

  get proc(): Proc {
    return this.w.procs.get(this.pid)!;
  }

  private flush(): void {
    if (this.objsDirty !== null) {
      this.objs = writeThrough(this.objs, this.objsDirty);
      this.objsDirty = null;
    }
    if (this.pagesDirty !== null) {
      this.pagesMap = writeThrough(this.pagesMap, this.pagesDirty);
      this.pagesDirty = null;
    }
  }

  /** The context as it stands in this transaction. */
  get ctx(): Ctx {
    if (!this.built) {
      this.flush();
      const b = this.base;
      // Written out rather than spread: every Ctx keeps one shape (monomorphic property access).
      this.built = { id: b.id, file: b.file, objs: this.objs, pages: this.pagesMap, nextPages: this.nextPagesId, accountMode: b.accountMode, vfioIoas: b.vfioIoas };
    }
    return this.built;
  }

  /** Replace the context's small fields (account mode, compat IOAS); `c` is built from `this.ctx`. */
  set ctx(c: Ctx) {
    this.flush();
    if (touch !== null && (c.objs !== this.objs || c.pages !== this.pagesMap)) touch.whole.push(c.id);
    this.base = c;
    this.objs = c.objs;
    this.pagesMap = c.pages;
    this.nextPagesId = c.nextPages;
    this.built = c;
  }

  /**
   * Note a fault already applied to this transaction's World (pages.ts works
   * on its own copy of the memory map), as the function that takes it again.
   */
  noteFault(redo: (w: World) => World): void {
    (this.faults ??= []).push(redo);
  }

  /** A fault in process `pid`'s memory (huge_memory.ts), kept even when the ioctl then fails. */
  fault(pid: number, start: bigint, end: bigint, kind: FaultKind): void {
    const redo = (w: World) => faultIn(w, pid, start, end, kind);
    const w = redo(this.w);
    if (w === this.w) return;
    this.setWorld(w);
    this.noteFault(redo);
  }

  /** Take over the faults of a transaction on another context that this one wrote back (selftest.ts withAccess). */
  adoptFaults(t: Tx): void {
    if (t.faults !== null) (this.faults ??= []).push(...t.faults);
  }

  /** What a failed ioctl leaves of this transaction: `before` with its faults taken again (unless keepOnError, its only effect). */
  failed(before: World): World {
    let w = before;
    if (this.faults !== null) for (const redo of this.faults) w = redo(w);
    return w;
  }

  /** The World with this transaction's context written back. */
  commit(): World {
    const w = this.w;
    const ctx = this.ctx;
    if (w.ctxs.get(ctx.id) === ctx) return w;
    // (field by field, not spread: the MAP/UNMAP hot path; a tainted World, rare, keeps its taint)
    if (w.taint !== undefined) return { ...w, ctxs: w.ctxs.set(ctx.id, ctx) };
    return { kernel: w.kernel, procs: w.procs, files: w.files, nextFile: w.nextFile, ctxs: w.ctxs.set(ctx.id, ctx), nextCtx: w.nextCtx, mem: w.mem, userLockedVm: w.userLockedVm, testMemoryLimit: w.testMemoryLimit, hw: w.hw, journal: w.journal };
  }

  /** iommufd_get_object(id, type): ENOENT (undefined) when absent or of another type. */
  get<T extends ObjType>(id: number, type: T): ObjOf<T> | undefined {
    const o = this.any(id);
    return o && o.type === type ? (o as ObjOf<T>) : undefined;
  }

  any(id: number): Obj | undefined {
    const d = this.objsDirty;
    if (d !== null) for (let i = 0; i < d.length; i += 2) if (d[i] === id) return (d[i + 1] as Obj | null) ?? undefined;
    return this.objs.get(id);
  }

  put(o: Obj): void {
    if (touch !== null) touch.objs.push(this.base.id, o.id);
    this.objsDirty = overlaySet(this.objsDirty, o.id, o);
    if (this.objsDirty.length > OVERLAY_MAX) this.flush();
    this.built = undefined;
  }

  /** Allocate the lowest free ID and store the object built for it. */
  alloc<O extends Obj>(make: (id: number) => O): O | undefined {
    this.flush();
    const id = this.objs.lowestFreeKey(1);
    if (id > ID_MAX) return undefined;
    const o = make(id);
    this.put(o);
    return o;
  }

  remove(id: number): void {
    if (touch !== null) touch.objs.push(this.base.id, id);
    this.objsDirty = overlaySet(this.objsDirty, id, null);
    if (this.objsDirty.length > OVERLAY_MAX) this.flush();
    if (this.base.vfioIoas === id) this.base = { ...this.base, vfioIoas: 0 };
    this.built = undefined;
  }

  /** users += delta on an existing object. */
  users(id: number, delta: number): void {
    const o = this.any(id);
    if (!o) throw new Error(`model bug: users() on missing object ${id}`);
    this.put({ ...o, users: o.users + delta });
  }

  pages(id: number): Pages {
    const p = this.findPages(id);
    if (!p) throw new Error(`model bug: missing pages object ${id}`);
    return p;
  }

  private findPages(id: number): Pages | null | undefined {
    const d = this.pagesDirty;
    if (d !== null) for (let i = 0; i < d.length; i += 2) if (d[i] === id) return d[i + 1] as Pages | null;
    return this.pagesMap.get(id);
  }

  putPages(p: Pages): void {
    if (touch !== null) touch.pages.push(this.base.id, p.id);
    this.pagesDirty = overlaySet(this.pagesDirty, p.id, p);
    if (this.pagesDirty.length > OVERLAY_MAX) this.flush();
    this.built = undefined;
  }

  dropPages(id: number): void {
    if (touch !== null) touch.pages.push(this.base.id, id);
    this.pagesDirty = overlaySet(this.pagesDirty, id, null);
    if (this.pagesDirty.length > OVERLAY_MAX) this.flush();
    this.built = undefined;
  }

  newPagesId(): number {
    const id = this.nextPagesId++;
    this.built = undefined;
    return id;
  }

  setWorld(w: World): void {
    this.w = w;
  }
}
