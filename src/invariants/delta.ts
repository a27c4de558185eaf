/**
 * What one step changed, found by reference equality: states are persistent,
 * so an unchanged subtree is the very same object before and after, and a
 * changed entry of a persistent map is found by walking only the tree nodes
 * that differ. Everything is computed lazily and at most once per step, and
 * shared by all invariants.
 *
 * Maps are read duck-typed (`root` B+tree nodes with `keys`/`vals`/`kids`,
 * `cmp`; ds/diff.ts), never with `instanceof`, so states built by a copy of
 * the model (the mutation test loads one) are read the same way.
 */
import type { Event, Result } from '../events/event.js';
import type { Ctx, Obj, OpenFile, Pages, Proc, World } from '../model/state.js';
import type { StepInput } from './types.js';
import { diffPMap } from '../ds/diff.js';
import type { PMap } from '../ds/pmap.js';

/** [before, after]; undefined on the side where the entry does not exist. */
export type Change<V> = readonly [V | undefined, V | undefined];

/** The persistent-map surface this module relies on (PMap). */
export interface MapLike<K, V> {
  readonly root: unknown;
  readonly cmp: (a: K, b: K) => number;
  readonly size: number;
  get(k: K): V | undefined;
  each(fn: (k: K, v: V) => boolean | void): void;
}

const EMPTY = new Map<never, never>();
/** Shared empty set (read only). */
const EMPTY_SET = new Set<never>() as Set<number>;

/**
 * Entries whose value differs (by ===) between two versions of a persistent
 * map, added and removed ones included, in key order. Subtrees shared by the
 * two versions are skipped without being walked (ds/diff.ts, which reads the
 * trees duck-typed too).
 */
export function diffMap<K, V>(a: MapLike<K, V> | undefined, b: MapLike<K, V> | undefined, into?: Map<K, Change<V>>): Map<K, Change<V>> {
  // Nothing changed: a shared empty result (read only), no allocation.
  if (a === b || (a && b && a.root === b.root)) return into ?? (EMPTY as Map<K, Change<V>>);
  const out = into ?? new Map<K, Change<V>>();
  const add = (k: K, x: V | undefined, y: V | undefined) => void out.set(k, [x, y]);
  if (a && b) diffPMap(a as unknown as PMap<K, V>, b as unknown as PMap<K, V>, add);
  else (a ?? b)!.each((k, v) => add(k, a ? v : undefined, a ? undefined : v));
  return out;
}

/** The lazily computed changes of one step. */
export class StepDelta implements StepInput {
  readonly prev: World;
  readonly next: World;
  readonly event: Event;
  readonly result: Result;
  readonly index: number;
  /** Nothing changed at all (the very same World). */
  readonly unchanged: boolean;
  // Every cache is a field from the start (one object shape for every step).
  private _ctxs: Map<number, Change<Ctx>> | undefined = undefined;
  // Per-context caches; most steps touch one context, kept in the first slot without a Map.
  private _objsId = -1;
  private _objs1: Map<number, Change<Obj>> | undefined = undefined;
  private _objs: Map<number, Map<number, Change<Obj>>> | undefined = undefined;
  private _pagesId = -1;
  private _pages1: Map<number, Change<Pages>> | undefined = undefined;
  private _pages: Map<number, Map<number, Change<Pages>>> | undefined = undefined;
  private _procs: Map<number, Change<Proc>> | undefined = undefined;
  private _files: Map<number, Change<OpenFile>> | undefined = undefined;
  private _locked: Map<number, Change<bigint>> | undefined = undefined;
  private _removedId = -1;
  private _removed1: Set<number> | undefined = undefined;
  private _removed: Map<number, Set<number>> | undefined = undefined;

  constructor(s: StepInput);
  constructor(prev: World, next: World, event: Event, result: Result, index: number);
  constructor(s: StepInput | World, next?: World, event?: Event, result?: Result, index?: number) {
    if (next === undefined) {
      const i = s as StepInput;
      this.prev = i.prev;
      this.next = i.next;
      this.event = i.event;
      this.result = i.result;
      this.index = i.index;
    } else {
      this.prev = s as World;
      this.next = next;
      this.event = event!;
      this.result = result!;
      this.index = index!;
    }
    this.unchanged = this.prev === this.next;
  }

  get kernel(): World['kernel'] {
    return this.next.kernel;
  }

  /** Contexts added, removed or changed. */
  get ctxs(): Map<number, Change<Ctx>> {
    if (!this._ctxs) this._ctxs = this.unchanged ? EMPTY : diffMap(this.prev.ctxs, this.next.ctxs);
    return this._ctxs;
  }

  /** Objects of context `id` added, removed or replaced. */
  objs(id: number): Map<number, Change<Obj>> {
    if (id === this._objsId) return this._objs1!;
    let m = this._objs?.get(id);
    if (!m) {
      const c = this.ctxs.get(id);
      m = !c || c[0]?.objs === c[1]?.objs ? EMPTY : diffMap<number, Obj>(c[0]?.objs, c[1]?.objs);
      if (this._objsId < 0) {
        this._objsId = id;
        this._objs1 = m;
      } else (this._objs ??= new Map()).set(id, m);
    }
    return m;
  }

  /** Pages objects of context `id` added, removed or replaced. */
  pages(id: number): Map<number, Change<Pages>> {
    if (id === this._pagesId) return this._pages1!;
    let m = this._pages?.get(id);
    if (!m) {
      const c = this.ctxs.get(id);
      m = !c || c[0]?.pages === c[1]?.pages ? EMPTY : diffMap<number, Pages>(c[0]?.pages, c[1]?.pages);
      if (this._pagesId < 0) {
        this._pagesId = id;
        this._pages1 = m;
      } else (this._pages ??= new Map()).set(id, m);
    }
    return m;
  }

  /** IDs of context `id` whose object is gone or is now of another type. */
  removedIds(id: number): Set<number> {
    if (id === this._removedId) return this._removed1!;
    let s = this._removed?.get(id);
    if (!s) {
      s = EMPTY_SET;
      for (const [oid, [b, a]] of this.objs(id)) if (b && (!a || a.type !== b.type)) (s === EMPTY_SET ? (s = new Set()) : s).add(oid);
      if (this._removedId < 0) {
        this._removedId = id;
        this._removed1 = s;
      } else (this._removed ??= new Map()).set(id, s);
    }
    return s;
  }

  get procs(): Map<number, Change<Proc>> {
    if (!this._procs) this._procs = this.unchanged ? EMPTY : diffMap(this.prev.procs, this.next.procs);
    return this._procs;
  }

  get files(): Map<number, Change<OpenFile>> {
    if (!this._files) this._files = this.unchanged ? EMPTY : diffMap(this.prev.files, this.next.files);
    return this._files;
  }

  get userLockedVm(): Map<number, Change<bigint>> {
    if (!this._locked) this._locked = this.unchanged ? EMPTY : diffMap(this.prev.userLockedVm, this.next.userLockedVm);
    return this._locked;
  }
}

/** All entries of a persistent map, in key order. */
export function entries<K, V>(m: MapLike<K, V> | undefined): [K, V][] {
  const out: [K, V][] = [];
  m?.each((k, v) => {
    out.push([k, v]);
  });
  return out;
}
