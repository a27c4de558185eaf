/**
 * PMap<K, V>: persistent (immutable, structurally shared, path-copying)
 * ordered map with a comparator.
 *
 * Shape: a persistent B+tree (deterministic, no randomness). Leaves hold keys
 * and values in parallel arrays; inner nodes hold the EXACT minimum key of
 * each child plus the child pointer; every node knows its subtree size.
 * Exact child minimums make floor/lower/ceil/higher single descents, and the
 * sizes give O(log n) rank queries, so range iteration is driven by ranks
 * (no comparator calls in the iteration loops) and `lowestFreeKey` is a
 * single descent.
 *
 * Rules:
 *  - no mutation of existing versions, ever (nodes are never written after
 *    construction);
 *  - operations that change nothing return the same instance;
 *  - iteration is always in key order;
 *  - values are opaque, compared with `===` only.
 *
 * Number and bigint maps created with `emptyNumber` / `emptyBigint` (or with
 * the exported `compareNumbers` / `compareBigints`) use inlined `<`
 * comparisons instead of calling the comparator.
 */

import { arrConcat, arrInsert, arrMerge2, arrRemove, arrReplace2, arrSet, arrSet2 } from './arr.js';

/** A total order: negative if a < b, 0 if equal, positive if a > b. */
export type Comparator<K> = (a: K, b: K) => number;

/** Callback for the fast `each` loop; return `false` to stop early. */
export type EntryVisitor<K, V> = (key: K, value: V) => boolean | void;

/** Comparator for number keys (NaN not allowed as a key). */
export function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Comparator for bigint keys (no Number conversion). */
export function compareBigints(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Fanout 32. 16 copies fewer slots per update, but its gain on the VM trace
// was inside the measurement noise while the debugger's checkpoints took 7%
// more heap (221 vs 207 MB on the 1M-event bench), so 32 stays.
const LEAF_MAX = 32;
const LEAF_MIN = 8;
const INNER_MAX = 32;
const INNER_MIN = 8;

/** Key kinds: generic comparator, number `<`, bigint `<`. */
const K_CMP = 0;
const K_NUM = 1;
const K_BIG = 2;
type Kind = 0 | 1 | 2;

/**
 * @internal B+tree node. Leaf iff `kids === null`. Never mutated.
 * NOTE: src/ds/diff.ts walks `PMap.root` and these fields (keys, vals,
 * kids) directly to diff versions while skipping shared subtrees; keep the
 * layout stable or update it together.
 */
export class PNode<K, V> {
  constructor(
    /** leaf: keys; inner: exact min key of each child */
    readonly keys: readonly K[],
    /** leaf: values; inner: null */
    readonly vals: readonly V[] | null,
    /** inner: children; leaf: null */
    readonly kids: readonly PNode<K, V>[] | null,
    /** number of entries in the subtree */
    readonly size: number,
  ) {}
}

// ---------------------------------------------------------------------------
// searches. ub = number of keys <= k, lb = number of keys < k.

function ubNum(a: readonly number[], k: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! <= k) lo = m + 1;
    else hi = m;
  }
  return lo;
}
function lbNum(a: readonly number[], k: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < k) lo = m + 1;
    else hi = m;
  }
  return lo;
}
function ubBig(a: readonly bigint[], k: bigint): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! <= k) lo = m + 1;
    else hi = m;
  }
  return lo;
}
function lbBig(a: readonly bigint[], k: bigint): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < k) lo = m + 1;
    else hi = m;
  }
  return lo;
}
function ubCmp<K>(a: readonly K[], k: K, cmp: Comparator<K>): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (cmp(a[m]!, k) <= 0) lo = m + 1;
    else hi = m;
  }
  return lo;
}
function lbCmp<K>(a: readonly K[], k: K, cmp: Comparator<K>): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (cmp(a[m]!, k) < 0) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function ub<K>(kind: Kind, a: readonly K[], k: K, cmp: Comparator<K>): number {
  if (kind === K_NUM) return ubNum(a as unknown as number[], k as unknown as number);
  if (kind === K_BIG) return ubBig(a as unknown as bigint[], k as unknown as bigint);
  return ubCmp(a, k, cmp);
}
function lb<K>(kind: Kind, a: readonly K[], k: K, cmp: Comparator<K>): number {
  if (kind === K_NUM) return lbNum(a as unknown as number[], k as unknown as number);
  if (kind === K_BIG) return lbBig(a as unknown as bigint[], k as unknown as bigint);
  return lbCmp(a, k, cmp);
}

/** Child index to descend into for key k: last child with min <= k, or 0. */
function childFor<K>(kind: Kind, keys: readonly K[], k: K, cmp: Comparator<K>): number {
  const i = ub(kind, keys, k, cmp) - 1;
  return i < 0 ? 0 : i;
}

function mkInner<K, V>(kids: PNode<K, V>[]): PNode<K, V> {
  const keys: K[] = [];
  let size = 0;
  for (let i = 0; i < kids.length; i++) {
    const c = kids[i]!;
    keys.push(c.keys[0]!);
    size += c.size;
  }
  return new PNode<K, V>(keys, null, kids, size);
}

function mkLeaf<K, V>(keys: K[], vals: V[]): PNode<K, V> {
  return new PNode<K, V>(keys, vals, null, keys.length);
}

// ---------------------------------------------------------------------------
// set

/** Module scratch written by the leaf and read by the parent right after the call. */
let splitRight: PNode<any, any> | null = null;
let added = false;

function setNode<K, V>(nd: PNode<K, V>, k: K, v: V, kind: Kind, cmp: Comparator<K>): PNode<K, V> {
  const keys = nd.keys;
  const kids = nd.kids;
  if (kids === null) {
    const vals = nd.vals!;
    const n = keys.length;
    const p = ub(kind, keys, k, cmp);
    if (p > 0 && (kind === K_CMP ? cmp(keys[p - 1]!, k) === 0 : keys[p - 1] === k)) {
      added = false;
      if (vals[p - 1] === v) return nd;
      return new PNode<K, V>(keys, arrSet(vals, p - 1, v), null, n);
    }
    added = true;
    const nKeys = arrInsert(keys, p, k);
    const nVals = arrInsert(vals, p, v);
    if (n < LEAF_MAX) return new PNode<K, V>(nKeys, nVals, null, n + 1);
    const m = (n + 1) >> 1;
    splitRight = mkLeaf(nKeys.slice(m), nVals.slice(m));
    return mkLeaf(nKeys.slice(0, m), nVals.slice(0, m));
  }
  const i = childFor(kind, keys, k, cmp);
  const ok = kids[i]!;
  const nk = setNode(ok, k, v, kind, cmp);
  if (nk === ok) return nd;
  const sr = splitRight as PNode<K, V> | null;
  const size = added ? nd.size + 1 : nd.size;
  if (sr === null) {
    const nKeys = i === 0 && nk.keys[0] !== keys[0] ? arrSet(keys, 0, nk.keys[0]!) : keys;
    return new PNode<K, V>(nKeys, null, arrSet(kids, i, nk), size);
  }
  splitRight = null;
  const n = kids.length;
  const nKeys = arrSet2(keys, i, nk.keys[0]!, sr.keys[0]!);
  const nKids = arrSet2(kids, i, nk, sr);
  if (n < INNER_MAX) return new PNode<K, V>(nKeys, null, nKids, size);
  const m = (n + 1) >> 1;
  splitRight = mkInner(nKids.slice(m));
  return mkInner(nKids.slice(0, m));
}

// ---------------------------------------------------------------------------
// delete

function delNode<K, V>(nd: PNode<K, V>, k: K, kind: Kind, cmp: Comparator<K>): PNode<K, V> {
  const keys = nd.keys;
  const kids = nd.kids;
  if (kids === null) {
    const p = ub(kind, keys, k, cmp) - 1;
    if (p < 0 || (kind === K_CMP ? cmp(keys[p]!, k) !== 0 : keys[p] !== k)) return nd;
    return new PNode<K, V>(arrRemove(keys, p), arrRemove(nd.vals!, p), null, keys.length - 1);
  }
  const i = ub(kind, keys, k, cmp) - 1;
  if (i < 0) return nd;
  const ok = kids[i]!;
  const nk = delNode(ok, k, kind, cmp);
  if (nk === ok) return nd;
  const under = nk.kids === null ? nk.keys.length < LEAF_MIN : nk.kids.length < INNER_MIN;
  if (!under) {
    const nKeys = nk.keys[0] !== keys[i] ? arrSet(keys, i, nk.keys[0]!) : keys;
    return new PNode<K, V>(nKeys, null, arrSet(kids, i, nk), nd.size - 1);
  }
  // underflow: merge with / redistribute from a sibling
  const n = kids.length;
  const li = i + 1 < n ? i : i - 1;
  const a = li === i ? nk : kids[li]!;
  const b = li === i ? kids[i + 1]! : nk;
  let x: PNode<K, V>;
  let y: PNode<K, V> | null = null;
  if (a.kids === null) {
    const ks = arrConcat(a.keys, b.keys);
    const vs = arrConcat(a.vals!, b.vals!);
    if (ks.length <= LEAF_MAX) {
      x = mkLeaf(ks, vs);
    } else {
      const m = ks.length >> 1;
      x = mkLeaf(ks.slice(0, m), vs.slice(0, m));
      y = mkLeaf(ks.slice(m), vs.slice(m));
    }
  } else {
    const cs = arrConcat(a.kids, b.kids!);
    if (cs.length <= INNER_MAX) {
      x = mkInner(cs);
    } else {
      const m = cs.length >> 1;
      x = mkInner(cs.slice(0, m));
      y = mkInner(cs.slice(m));
    }
  }
  if (y === null) {
    return new PNode<K, V>(arrMerge2(keys, li, x.keys[0]!), null, arrMerge2(kids, li, x), nd.size - 1);
  }
  return new PNode<K, V>(arrReplace2(keys, li, x.keys[0]!, y.keys[0]!), null, arrReplace2(kids, li, x, y), nd.size - 1);
}

// ---------------------------------------------------------------------------
// rank-driven traversal

/** Calls fn on entries with rank in [lo, hi) of subtree nd; true if stopped. */
function eachRank<K, V>(nd: PNode<K, V>, lo: number, hi: number, fn: EntryVisitor<K, V>): boolean {
  const kids = nd.kids;
  if (kids === null) {
    const keys = nd.keys;
    const vals = nd.vals!;
    for (let i = lo; i < hi; i++) if (fn(keys[i]!, vals[i]!) === false) return true;
    return false;
  }
  let off = 0;
  for (let i = 0; i < kids.length && off < hi; i++) {
    const c = kids[i]!;
    const end = off + c.size;
    if (end > lo) {
      if (eachRank(c, lo > off ? lo - off : 0, hi < end ? hi - off : c.size, fn)) return true;
    }
    off = end;
  }
  return false;
}

function leftmost<K, V>(nd: PNode<K, V>): PNode<K, V> {
  while (nd.kids !== null) nd = nd.kids[0]!;
  return nd;
}

function rightmost<K, V>(nd: PNode<K, V>): PNode<K, V> {
  while (nd.kids !== null) nd = nd.kids[nd.kids.length - 1]!;
  return nd;
}

/**
 * Ascending (dir > 0) or descending iterator over ranks [r, r + count) or
 * (r - count, r] respectively; explicit stack, O(1) amortized per step.
 */
function* iterRanks<K, V, T>(
  root: PNode<K, V>,
  r: number,
  count: number,
  asc: boolean,
  pick: (k: K, v: V) => T,
): Generator<T, void, undefined> {
  if (count <= 0) return;
  const stackN: PNode<K, V>[] = [];
  const stackI: number[] = [];
  let nd = root;
  while (nd.kids !== null) {
    const kids = nd.kids;
    let i = 0;
    for (;;) {
      const s = kids[i]!.size;
      if (r < s) break;
      r -= s;
      i++;
    }
    stackN.push(nd);
    stackI.push(i);
    nd = kids[i]!;
  }
  let i = r;
  for (;;) {
    const keys = nd.keys;
    const vals = nd.vals!;
    if (asc) {
      for (; i < keys.length; i++) {
        yield pick(keys[i]!, vals[i]!);
        if (--count === 0) return;
      }
    } else {
      for (; i >= 0; i--) {
        yield pick(keys[i]!, vals[i]!);
        if (--count === 0) return;
      }
    }
    // next leaf in the chosen direction
    let up = stackN.length - 1;
    if (asc) {
      while (up >= 0 && stackI[up]! + 1 >= stackN[up]!.kids!.length) up--;
    } else {
      while (up >= 0 && stackI[up]! === 0) up--;
    }
    if (up < 0) return;
    stackN.length = up + 1;
    stackI.length = up + 1;
    const j = asc ? stackI[up]! + 1 : stackI[up]! - 1;
    stackI[up] = j;
    nd = stackN[up]!.kids![j]!;
    while (nd.kids !== null) {
      const c = asc ? 0 : nd.kids.length - 1;
      stackN.push(nd);
      stackI.push(c);
      nd = nd.kids[c]!;
    }
    i = asc ? 0 : nd.keys.length - 1;
  }
}

const pickEntry = <K, V>(k: K, v: V): [K, V] => [k, v];
const pickKey = <K, V>(k: K, _v: V): K => k;
const pickVal = <K, V>(_k: K, v: V): V => v;

// ---------------------------------------------------------------------------
// equality

function flatten<K, V>(nd: PNode<K, V>, ks: K[], vs: V[]): void {
  if (nd.kids === null) {
    for (let i = 0; i < nd.keys.length; i++) {
      ks.push(nd.keys[i]!);
      vs.push(nd.vals![i]!);
    }
    return;
  }
  for (let i = 0; i < nd.kids.length; i++) flatten(nd.kids[i]!, ks, vs);
}

function nodesEqual<K, V>(
  a: PNode<K, V>,
  b: PNode<K, V>,
  keq: (x: K, y: K) => boolean,
  veq: (x: V, y: V) => boolean,
): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  const ak = a.kids;
  const bk = b.kids;
  if (ak !== null && bk !== null && ak.length === bk.length) {
    // same fan-out: compare children pairwise if their sizes line up
    let aligned = true;
    for (let i = 0; i < ak.length; i++) {
      if (ak[i]!.size !== bk[i]!.size) {
        aligned = false;
        break;
      }
    }
    if (aligned) {
      for (let i = 0; i < ak.length; i++) if (!nodesEqual(ak[i]!, bk[i]!, keq, veq)) return false;
      return true;
    }
  }
  const aks: K[] = [];
  const avs: V[] = [];
  const bks: K[] = [];
  const bvs: V[] = [];
  flatten(a, aks, avs);
  flatten(b, bks, bvs);
  for (let i = 0; i < aks.length; i++) {
    if (!keq(aks[i]!, bks[i]!) || !veq(avs[i]!, bvs[i]!)) return false;
  }
  return true;
}

const strictEq = (x: unknown, y: unknown): boolean => x === y;

// ---------------------------------------------------------------------------
// the map

/** Persistent ordered map. */
export class PMap<K, V> {
  /** The key order. */
  readonly cmp: Comparator<K>;
  /** @internal */
  readonly kind: Kind;
  /** @internal */
  readonly root: PNode<K, V> | null;

  private constructor(cmp: Comparator<K>, kind: Kind, root: PNode<K, V> | null) {
    this.cmp = cmp;
    this.kind = kind;
    this.root = root;
  }

  private static readonly EMPTY_NUM = new PMap<number, never>(compareNumbers, K_NUM, null);
  private static readonly EMPTY_BIG = new PMap<bigint, never>(compareBigints, K_BIG, null);

  /** Empty map ordered by `cmp`. */
  static empty<K, V>(cmp: Comparator<K>): PMap<K, V> {
    if ((cmp as unknown) === compareNumbers) return PMap.EMPTY_NUM as unknown as PMap<K, V>;
    if ((cmp as unknown) === compareBigints) return PMap.EMPTY_BIG as unknown as PMap<K, V>;
    return new PMap<K, V>(cmp, K_CMP, null);
  }

  /** Empty map with number keys in ascending numeric order (NaN keys not allowed). */
  static emptyNumber<V>(): PMap<number, V> {
    return PMap.EMPTY_NUM as PMap<number, V>;
  }

  /** Empty map with bigint keys in ascending order (compared with `<`, never converted). */
  static emptyBigint<V>(): PMap<bigint, V> {
    return PMap.EMPTY_BIG as PMap<bigint, V>;
  }

  /**
   * Bulk build in O(n) from entries in STRICTLY ascending key order (checked;
   * throws otherwise). `order` is a comparator or an existing map whose
   * order to use (e.g. `PMap.emptyNumber()`).
   */
  static fromSorted<K, V>(entries: Iterable<readonly [K, V]>, order: Comparator<K> | PMap<K, unknown>): PMap<K, V> {
    const base: PMap<K, V> = order instanceof PMap ? (order as PMap<K, unknown> as PMap<K, V>) : PMap.empty<K, V>(order);
    const cmp = base.cmp;
    const keys: K[] = [];
    const vals: V[] = [];
    for (const e of entries) {
      const k = e[0];
      if (keys.length > 0 && !(cmp(keys[keys.length - 1]!, k) < 0)) {
        throw new Error('PMap.fromSorted: keys not strictly ascending');
      }
      keys.push(k);
      vals.push(e[1]);
    }
    const n = keys.length;
    if (n === 0) return base.root === null ? base : new PMap<K, V>(cmp, base.kind, null);
    const per = Math.max(LEAF_MIN, (LEAF_MAX * 3) >> 2);
    let count = Math.ceil(n / per);
    let level: PNode<K, V>[] = [];
    for (let c = 0; c < count; c++) {
      const a = Math.floor((c * n) / count);
      const b = Math.floor(((c + 1) * n) / count);
      level.push(mkLeaf(keys.slice(a, b), vals.slice(a, b)));
    }
    const iper = Math.max(INNER_MIN, (INNER_MAX * 3) >> 2);
    while (level.length > 1) {
      const m = level.length;
      count = Math.ceil(m / iper);
      const next: PNode<K, V>[] = [];
      for (let c = 0; c < count; c++) {
        const a = Math.floor((c * m) / count);
        const b = Math.floor(((c + 1) * m) / count);
        next.push(mkInner(level.slice(a, b)));
      }
      level = next;
    }
    return new PMap<K, V>(cmp, base.kind, level[0]!);
  }

  /** An empty map with the same order. */
  clear(): PMap<K, V> {
    if (this.root === null) return this;
    return this.kind === K_CMP ? new PMap<K, V>(this.cmp, K_CMP, null) : PMap.empty<K, V>(this.cmp);
  }

  /** Number of entries. O(1). */
  get size(): number {
    return this.root === null ? 0 : this.root.size;
  }

  /** Value for `k`, or undefined. */
  get(k: K): V | undefined {
    let nd = this.root;
    if (nd === null) return undefined;
    const kind = this.kind;
    const cmp = this.cmp;
    for (;;) {
      const i: number = ub(kind, nd.keys, k, cmp) - 1;
      if (i < 0) return undefined;
      if (nd.kids === null) {
        const x = nd.keys[i]!;
        return (kind === K_CMP ? cmp(x, k) === 0 : x === k) ? nd.vals![i] : undefined;
      }
      nd = nd.kids[i]!;
    }
  }

  /** Whether `k` is a key. */
  has(k: K): boolean {
    let nd = this.root;
    if (nd === null) return false;
    const kind = this.kind;
    const cmp = this.cmp;
    for (;;) {
      const i: number = ub(kind, nd.keys, k, cmp) - 1;
      if (i < 0) return false;
      if (nd.kids === null) {
        const x = nd.keys[i]!;
        return kind === K_CMP ? cmp(x, k) === 0 : x === k;
      }
      nd = nd.kids[i]!;
    }
  }

  /** Map with k -> v. Same instance if k already maps to a value `===` v. */
  set(k: K, v: V): PMap<K, V> {
    const root = this.root;
    if (root === null) return new PMap<K, V>(this.cmp, this.kind, new PNode<K, V>([k], [v], null, 1));
    splitRight = null;
    const nr = setNode(root, k, v, this.kind, this.cmp);
    const sr = splitRight as PNode<K, V> | null;
    if (sr !== null) {
      splitRight = null;
      return new PMap<K, V>(this.cmp, this.kind, mkInner([nr, sr]));
    }
    return nr === root ? this : new PMap<K, V>(this.cmp, this.kind, nr);
  }

  /** Map without k. Same instance if k is absent. */
  delete(k: K): PMap<K, V> {
    const root = this.root;
    if (root === null) return this;
    let nr = delNode(root, k, this.kind, this.cmp);
    if (nr === root) return this;
    if (nr.size === 0) return this.clear();
    while (nr.kids !== null && nr.kids.length === 1) nr = nr.kids[0]!;
    return new PMap<K, V>(this.cmp, this.kind, nr);
  }

  /**
   * Sets k to fn(current value); deletes k if fn returns undefined. Same
   * instance if nothing changes.
   */
  update(k: K, fn: (v: V | undefined) => V | undefined): PMap<K, V> {
    const nv = fn(this.get(k));
    return nv === undefined ? this.delete(k) : this.set(k, nv);
  }

  /** Greatest entry with key <= k. */
  floor(k: K): [K, V] | undefined {
    return this.downTo(k, true);
  }

  /** Greatest entry with key < k. */
  lower(k: K): [K, V] | undefined {
    return this.downTo(k, false);
  }

  /** Least entry with key >= k. */
  ceil(k: K): [K, V] | undefined {
    return this.upFrom(k, true);
  }

  /** Least entry with key > k. */
  higher(k: K): [K, V] | undefined {
    return this.upFrom(k, false);
  }

  private downTo(k: K, inclusive: boolean): [K, V] | undefined {
    let nd = this.root;
    if (nd === null) return undefined;
    const kind = this.kind;
    const cmp = this.cmp;
    for (;;) {
      // exact child minimums: child i has an entry <= k (< k) iff keys[i] does
      const i: number = (inclusive ? ub(kind, nd.keys, k, cmp) : lb(kind, nd.keys, k, cmp)) - 1;
      if (i < 0) return undefined;
      if (nd.kids === null) return [nd.keys[i]!, nd.vals![i]!];
      nd = nd.kids[i]!;
    }
  }

  private upFrom(k: K, inclusive: boolean): [K, V] | undefined {
    let nd = this.root;
    if (nd === null) return undefined;
    const kind = this.kind;
    const cmp = this.cmp;
    let next: PNode<K, V> | null = null;
    for (;;) {
      const keys: readonly K[] = nd.keys;
      const kids: readonly PNode<K, V>[] | null = nd.kids;
      if (kids === null) {
        const j = inclusive ? lb(kind, keys, k, cmp) : ub(kind, keys, k, cmp);
        if (j < keys.length) return [keys[j]!, nd.vals![j]!];
        if (next === null) return undefined;
        const l = leftmost(next);
        return [l.keys[0]!, l.vals![0]!];
      }
      const i: number = childFor(kind, keys, k, cmp);
      if (i + 1 < kids.length) next = kids[i + 1]!;
      nd = kids[i]!;
    }
  }

  /** Entry with the least key. */
  min(): [K, V] | undefined {
    if (this.root === null) return undefined;
    const l = leftmost(this.root);
    return [l.keys[0]!, l.vals![0]!];
  }

  /** Entry with the greatest key. */
  max(): [K, V] | undefined {
    if (this.root === null) return undefined;
    const l = rightmost(this.root);
    const i = l.keys.length - 1;
    return [l.keys[i]!, l.vals![i]!];
  }

  /** Number of keys < k (inclusive=false) or <= k (inclusive=true). O(log n). */
  private rank(k: K, inclusive: boolean): number {
    let nd = this.root;
    if (nd === null) return 0;
    const kind = this.kind;
    const cmp = this.cmp;
    let r = 0;
    for (;;) {
      const keys: readonly K[] = nd.keys;
      const kids: readonly PNode<K, V>[] | null = nd.kids;
      if (kids === null) return r + (inclusive ? ub(kind, keys, k, cmp) : lb(kind, keys, k, cmp));
      const i: number = childFor(kind, keys, k, cmp);
      for (let j = 0; j < i; j++) r += kids[j]!.size;
      nd = kids[i]!;
    }
  }

  /** Rank range [lo, hi) of keys within [from, to] (inclusive, either optional). */
  private rankRange(from: K | undefined, to: K | undefined, hasFrom: boolean, hasTo: boolean): [number, number] {
    const lo = hasFrom ? this.rank(from as K, false) : 0;
    const hi = hasTo ? this.rank(to as K, true) : this.size;
    return [lo, hi];
  }

  /**
   * Fast ascending loop over entries with from <= key <= to (bounds
   * optional, inclusive). fn(key, value) returning `false` stops the loop.
   */
  each(fn: EntryVisitor<K, V>, from?: K, to?: K): void {
    const root = this.root;
    if (root === null) return;
    const [lo, hi] = this.rankRange(from, to, from !== undefined, to !== undefined);
    if (lo < hi) eachRank(root, lo, hi, fn);
  }

  /** Ascending iterator over [key, value] with from <= key <= to (inclusive, optional). */
  entries(from?: K, to?: K): Generator<[K, V], void, undefined> {
    return this.iter(from, to, from !== undefined, to !== undefined, pickEntry);
  }

  /** Ascending keys. */
  keys(from?: K, to?: K): Generator<K, void, undefined> {
    return this.iter(from, to, from !== undefined, to !== undefined, pickKey);
  }

  /** Values in ascending key order. */
  values(from?: K, to?: K): Generator<V, void, undefined> {
    return this.iter(from, to, from !== undefined, to !== undefined, pickVal);
  }

  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }

  private iter<T>(from: K | undefined, to: K | undefined, hasFrom: boolean, hasTo: boolean, pick: (k: K, v: V) => T) {
    const root = this.root;
    if (root === null) return iterRanks<K, V, T>(null as unknown as PNode<K, V>, 0, 0, true, pick);
    const [lo, hi] = this.rankRange(from, to, hasFrom, hasTo);
    return iterRanks(root, lo, hi - lo, true, pick);
  }

  /** Descending iterator over [key, value], starting at the greatest key <= from (all keys if omitted). */
  entriesDesc(from?: K): Generator<[K, V], void, undefined> {
    const root = this.root;
    if (root === null) return iterRanks<K, V, [K, V]>(null as unknown as PNode<K, V>, 0, 0, false, pickEntry);
    const hi = from !== undefined ? this.rank(from, true) : this.size;
    return iterRanks(root, hi - 1, hi, false, pickEntry);
  }

  /** All entries, ascending. */
  toArray(): [K, V][] {
    const out: [K, V][] = [];
    if (this.root !== null) {
      eachRank(this.root, 0, this.root.size, (k, v) => {
        out.push([k, v]);
      });
    }
    return out;
  }

  /**
   * Same keys (by this map's comparator) and values (by `valueEq`, default
   * `===`). Shared subtrees are skipped without being walked.
   */
  equals(other: PMap<K, V>, valueEq: (a: V, b: V) => boolean = strictEq): boolean {
    if (this === other) return true;
    const a = this.root;
    const b = other.root;
    if (a === b) return true;
    if (a === null || b === null) return false;
    const cmp = this.cmp;
    const kind = this.kind;
    const keq = kind === K_CMP ? (x: K, y: K) => cmp(x, y) === 0 : strictEq;
    return nodesEqual(a, b, keq, valueEq);
  }

  /**
   * Number-keyed maps only: the lowest integer >= min that is not a key.
   * O(B log n). Precondition: all keys are integers (e.g. xarray-style IDs).
   */
  lowestFreeKey(this: PMap<number, V>, min: number): number {
    if (this.kind !== K_NUM) throw new Error('PMap.lowestFreeKey: map is not number-keyed (use PMap.emptyNumber)');
    if (!Number.isInteger(min)) throw new Error('PMap.lowestFreeKey: min must be an integer');
    const root = this.root;
    if (root === null) return min;
    // r = #keys < min; keys[r + j] === min + j for j < p - r, where p is the
    // first position with keys[p] - p > c := min - r (keys[p]-p is
    // nondecreasing for distinct integers, and <= c for every p < r).
    const r = this.rank(min, false);
    const c = min - r;
    let nd: PNode<number, V> = root;
    let off = 0;
    for (;;) {
      const keys: readonly number[] = nd.keys;
      const kids: readonly PNode<number, V>[] | null = nd.kids;
      if (kids === null) {
        let j = 0;
        while (j < keys.length && keys[j]! - (off + j) <= c) j++;
        return min + (off + j - r);
      }
      // last child whose first entry satisfies keys - pos <= c (child 0 does)
      let i = 0;
      let pos = off;
      let posI = off;
      for (let j = 0; j < kids.length; j++) {
        if (keys[j]! - pos > c) break;
        i = j;
        posI = pos;
        pos += kids[j]!.size;
      }
      off = posI;
      nd = kids[i]!;
    }
  }

  /** @internal Validates structural invariants; throws on violation. */
  debugCheck(): void {
    const root = this.root;
    if (root === null) return;
    const st = { leaf: -1 };
    const cmp = this.cmp;
    const check = (nd: PNode<K, V>, isRoot: boolean, depth: number): void => {
      const fail = (m: string): never => {
        throw new Error(`PMap invariant: ${m}`);
      };
      const n = nd.keys.length;
      for (let i = 1; i < n; i++) if (!(cmp(nd.keys[i - 1]!, nd.keys[i]!) < 0)) fail('keys not ascending');
      if (nd.kids === null) {
        if (nd.vals === null || nd.vals.length !== n) fail('vals length');
        if (nd.size !== n) fail('leaf size');
        if (!isRoot && n < LEAF_MIN) fail('leaf underflow');
        if (n > LEAF_MAX) fail('leaf overflow');
        if (st.leaf === -1) st.leaf = depth;
        else if (st.leaf !== depth) fail('uneven depth');
        return;
      }
      if (nd.vals !== null) fail('inner with vals');
      if (nd.kids.length !== n) fail('kids length');
      if (isRoot ? n < 2 : n < INNER_MIN) fail('inner underflow');
      if (n > INNER_MAX) fail('inner overflow');
      let size = 0;
      for (let i = 0; i < n; i++) {
        const c = nd.kids[i]!;
        check(c, false, depth + 1);
        if (cmp(c.keys[0]!, nd.keys[i]!) !== 0) fail('inner key is not child min');
        if (i + 1 < n) {
          const last = rightmost(c);
          if (!(cmp(last.keys[last.keys.length - 1]!, nd.keys[i + 1]!) < 0)) fail('child ranges overlap');
        }
        size += c.size;
      }
      if (size !== nd.size) fail('inner size');
    };
    check(root, true, 0);
  }
}
