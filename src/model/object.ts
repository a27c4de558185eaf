/**
 * The object table of one iommufd context (main.c: _iommufd_object_alloc,
 * iommufd_get_object, iommufd_object_remove) and the transaction every
 * reducer works in.
 *
 * The kernel allocates an ID, does everything that can fail, then publishes
 * (iommufd_object_finalize) or aborts. The model gets the same effect for
 * free: a handler works on a Tx whose fields it replaces freely; on failure
 * the dispatcher simply drops the Tx and returns the untouched World. IDs come
 * from the kernel's xarray rule: lowest free ID >= 1 (XA_FLAGS_ALLOC1), so IDs
 * of destroyed objects are reused and a failed ioctl never consumes one.
 */
import type { Ctx, Obj, ObjType, Pages, Proc, World } from './state.js';

export const ID_MAX = 0x7fffffff; // xa_limit_31b

/** Object of a given type, narrowed. */
export type ObjOf<T extends ObjType> = Extract<Obj, { type: T }>;

export class Tx {
  /** Set by handlers whose failure keeps partial effects (kernel-semantics §3.7). */
  keepOnError = false;

  constructor(
    public w: World,
    public ctx: Ctx,
    public readonly pid: number,
  ) {}

  get kernel() {
    return this.w.kernel;
  }

  get proc(): Proc {
    return this.w.procs.get(this.pid)!;
  }

  /** The World with this transaction's context written back. */
  commit(): World {
    const w = this.w;
    return w.ctxs.get(this.ctx.id) === this.ctx ? w : { ...w, ctxs: w.ctxs.set(this.ctx.id, this.ctx) };
  }

  /** iommufd_get_object(id, type): ENOENT (undefined) when absent or of another type. */
  get<T extends ObjType>(id: number, type: T): ObjOf<T> | undefined {
    const o = this.ctx.objs.get(id);
    return o && o.type === type ? (o as ObjOf<T>) : undefined;
  }

  any(id: number): Obj | undefined {
    return this.ctx.objs.get(id);
  }

  put(o: Obj): void {
    this.ctx = { ...this.ctx, objs: this.ctx.objs.set(o.id, o) };
  }

  /** Allocate the lowest free ID and store the object built for it. */
  alloc<O extends Obj>(make: (id: number) => O): O | undefined {
    const id = this.ctx.objs.lowestFreeKey(1);
    if (id > ID_MAX) return undefined;
    const o = make(id);
    this.put(o);
    return o;
  }

  remove(id: number): void {
    const objs = this.ctx.objs.delete(id);
    this.ctx = { ...this.ctx, objs, vfioIoas: this.ctx.vfioIoas === id ? 0 : this.ctx.vfioIoas };
  }

  /** users += delta on an existing object. */
  users(id: number, delta: number): void {
    const o = this.ctx.objs.get(id);
    if (!o) throw new Error(`model bug: users() on missing object ${id}`);
    this.put({ ...o, users: o.users + delta });
  }

  pages(id: number): Pages {
    const p = this.ctx.pages.get(id);
    if (!p) throw new Error(`model bug: missing pages object ${id}`);
    return p;
  }

  putPages(p: Pages): void {
    this.ctx = { ...this.ctx, pages: this.ctx.pages.set(p.id, p) };
  }

  dropPages(id: number): void {
    this.ctx = { ...this.ctx, pages: this.ctx.pages.delete(id) };
  }

  newPagesId(): number {
    const id = this.ctx.nextPages;
    this.ctx = { ...this.ctx, nextPages: id + 1 };
    return id;
  }

  setWorld(w: World): void {
    this.w = w;
  }
}
