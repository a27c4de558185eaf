/**
 * Structural diffs of two versions of a persistent collection.
 *
 * `diffPMap` / `diffIntervals` walk two versions of a B+tree side by side
 * and skip every subtree the versions share (path copying leaves untouched
 * subtrees reference-equal), so the cost is proportional to the change, not
 * to the size of the collection: O(changed entries x B x height).
 * They use the trees' public (`@internal`-marked) `root` nodes read-only and
 * fall back to a full walk if a collection does not have the expected shape.
 * Used by the debugger's change logs and state diffs (src/debug) and by the
 * step invariants (src/invariants), whose cost must follow the change too.
 */
import { PMap } from './pmap.js';
import { IntervalMap } from './interval_map.js';

interface TreeNode {
  readonly kids: readonly TreeNode[] | null;
}

function height(n: TreeNode): number {
  let h = 0;
  while (n.kids !== null) {
    n = n.kids[0]!;
    h++;
  }
  return h;
}

function expand(level: TreeNode[]): TreeNode[] {
  const out: TreeNode[] = [];
  for (const n of level) for (const k of n.kids!) out.push(k);
  return out;
}

/** Min key of a node (PMap: exact key; IntervalMap: approximate start) and its order. */
interface KeyOrder {
  min(n: TreeNode): unknown;
  cmp(a: unknown, b: unknown): number;
}

/**
 * Removes the nodes present in both lists. Both lists are in key order and
 * a shared node sits at the same key in both, so a merge by min key finds
 * every shared node in O(|a| + |b|). Nodes with equal keys that are not the
 * same object are kept on both sides, which is always safe: the entry
 * merge that follows drops entries that turn out equal.
 */
function dropShared(a: TreeNode[], b: TreeNode[], ko: KeyOrder): [TreeNode[], TreeNode[]] {
  if (a.length === 0 || b.length === 0) return [a, b];
  const ra: TreeNode[] = [];
  const rb: TreeNode[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      i++;
      j++;
      continue;
    }
    const c = ko.cmp(ko.min(x), ko.min(y));
    if (c < 0) ra.push(a[i++]!);
    else if (c > 0) rb.push(b[j++]!);
    else {
      ra.push(a[i++]!);
      rb.push(b[j++]!);
    }
  }
  while (i < a.length) ra.push(a[i++]!);
  while (j < b.length) rb.push(b[j++]!);
  return [ra, rb];
}

/**
 * Pairwise descent for two same-height nodes: while the shapes agree
 * (same number of children), children are compared by position, which is
 * the common case (an update copies one path and keeps the shape). Where
 * the shapes differ (a split or merge), the children are aligned by key.
 * Pairing by position can only report a shared node as unique, never the
 * reverse, which the entry merge that follows tolerates.
 */
function walkPair(a: TreeNode, b: TreeNode, h: number, outA: TreeNode[], outB: TreeNode[], ko: KeyOrder): void {
  if (a === b) return;
  if (h === 0) {
    outA.push(a);
    outB.push(b);
    return;
  }
  const ka = a.kids!;
  const kb = b.kids!;
  if (ka.length === kb.length) {
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) walkPair(ka[i]!, kb[i]!, h - 1, outA, outB, ko);
    return;
  }
  const [la, lb] = levels(ka.slice(), kb.slice(), h - 1, h - 1, ko);
  for (const x of la) outA.push(x);
  for (const y of lb) outB.push(y);
}

/**
 * The leaves of tree `a` that are not in tree `b` and vice versa, each list
 * in key order. Shared subtrees are never entered.
 */
export function uniqueLeaves(ra: TreeNode | null, rb: TreeNode | null, ko: KeyOrder): [TreeNode[], TreeNode[]] {
  const ha = ra ? height(ra) : 0;
  const hb = rb ? height(rb) : 0;
  if (ra && rb && ha === hb) {
    const outA: TreeNode[] = [];
    const outB: TreeNode[] = [];
    walkPair(ra, rb, ha, outA, outB, ko);
    return [outA, outB];
  }
  return levels(ra ? [ra] : [], rb ? [rb] : [], ha, hb, ko);
}

/** Level-by-level variant for lists of nodes (heights may differ). */
function levels(a: TreeNode[], b: TreeNode[], ha: number, hb: number, ko: KeyOrder): [TreeNode[], TreeNode[]] {
  for (;;) {
    if (ha === hb) [a, b] = dropShared(a, b, ko);
    const growA = a.length > 0 && ha > 0 && ha >= hb;
    const growB = b.length > 0 && hb > 0 && hb >= ha;
    if (!growA && !growB) {
      // one side is empty (or both are leaves): expand the other fully
      if (a.length > 0 && ha > 0) {
        a = expand(a);
        ha--;
        continue;
      }
      if (b.length > 0 && hb > 0) {
        b = expand(b);
        hb--;
        continue;
      }
      return [a, b];
    }
    if (growA) {
      a = expand(a);
      ha--;
    }
    if (growB) {
      b = expand(b);
      hb--;
    }
  }
}

interface PLeaf {
  readonly keys: readonly unknown[];
  readonly vals: readonly unknown[] | null;
  readonly kids: null;
}
/**
 * IntervalMap leaves. The leaf layout is the data-structure module's
 * business and has changed over time: [start, last, value] triples in `d`,
 * or entry records `{ start, last, value }` in `e`. Both are read in place;
 * anything else makes the caller fall back to a full walk.
 */
interface ILeafD {
  readonly d: readonly unknown[];
}
interface ILeafE {
  readonly e: readonly { readonly start: bigint; readonly last: bigint; readonly value: unknown }[];
}
type ILeaf = ILeafD | ILeafE;
const leafKind = (n: TreeNode): 'd' | 'e' | null => {
  const x = n as unknown as { d?: unknown; e?: unknown };
  return Array.isArray(x.d) ? 'd' : Array.isArray(x.e) ? 'e' : null;
};

const isPLeaf = (n: PLeaf) => Array.isArray(n.keys) && Array.isArray(n.vals);

const hasRoot = (m: unknown): m is { root: TreeNode | null } => typeof m === 'object' && m !== null && 'root' in m;

/** PMap min-key order for uniqueLeaves, per comparator. */
const pmapOrders = new WeakMap<object, KeyOrder>();
function pmapOrder(cmp: object): KeyOrder {
  let o = pmapOrders.get(cmp);
  if (!o) {
    o = { min: (n) => (n as unknown as PLeaf).keys[0], cmp: cmp as (x: unknown, y: unknown) => number };
    pmapOrders.set(cmp, o);
  }
  return o;
}

/**
 * Calls fn(key, before, after) for every key whose value differs (`===`)
 * between two versions of a map; `undefined` marks absence. Keys ascend.
 */
export function diffPMap<K, V>(a: PMap<K, V>, b: PMap<K, V>, fn: (k: K, before: V | undefined, after: V | undefined) => void): void {
  if (a === b) return;
  if (!hasRoot(a) || !hasRoot(b)) return diffPMapSlow(a, b, fn);
  const cmp = a.cmp;
  // Small maps (each one leaf, the usual case for the object table, files, processes): merge the two leaves.
  const ra = a.root as unknown as PLeaf | null;
  const rb = b.root as unknown as PLeaf | null;
  if (ra && rb && ra.kids === null && rb.kids === null && isPLeaf(ra) && isPLeaf(rb)) return mergeEntries(ra.keys, ra.vals!, rb.keys, rb.vals!, cmp, fn);
  const [la, lb] = uniqueLeaves(a.root, b.root, pmapOrder(cmp)) as unknown as [PLeaf[], PLeaf[]];
  // the leaf layout belongs to ds/pmap.ts: anything unexpected, walk it all
  if (!la.every(isPLeaf) || !lb.every(isPLeaf)) return diffPMapSlow(a, b, fn);
  // drop each leaf pair's identical prefix and suffix, then merge the rest by key
  let ka: unknown[];
  let va: unknown[];
  let kb: unknown[];
  let vb: unknown[];
  if (la.length === lb.length) {
    ka = [];
    va = [];
    kb = [];
    vb = [];
    for (let k = 0; k < la.length; k++) {
      const x = la[k]!;
      const y = lb[k]!;
      const nx = x.keys.length;
      const ny = y.keys.length;
      let p = 0;
      while (p < nx && p < ny && x.vals![p] === y.vals![p] && x.keys[p] === y.keys[p]) p++;
      let q = 0;
      while (q < nx - p && q < ny - p && x.vals![nx - 1 - q] === y.vals![ny - 1 - q] && x.keys[nx - 1 - q] === y.keys[ny - 1 - q]) q++;
      for (let t = p; t < nx - q; t++) (ka.push(x.keys[t]), va.push(x.vals![t]));
      for (let t = p; t < ny - q; t++) (kb.push(y.keys[t]), vb.push(y.vals![t]));
    }
  } else {
    // a leaf split or merged (or one side is empty): merge every entry (loops, not flatMap: this runs per event)
    ka = [];
    va = [];
    kb = [];
    vb = [];
    for (const x of la) for (let t = 0; t < x.keys.length; t++) (ka.push(x.keys[t]), va.push(x.vals![t]));
    for (const y of lb) for (let t = 0; t < y.keys.length; t++) (kb.push(y.keys[t]), vb.push(y.vals![t]));
  }
  mergeEntries(ka, va, kb, vb, cmp, fn);
}

/** Merge two key-ordered entry lists into fn calls for the keys whose values differ. */
function mergeEntries<K, V>(ka: readonly unknown[], va: readonly unknown[], kb: readonly unknown[], vb: readonly unknown[], cmp: (x: K, y: K) => number, fn: (k: K, before: V | undefined, after: V | undefined) => void): void {
  let i = 0;
  let j = 0;
  while (i < ka.length || j < kb.length) {
    const c = i >= ka.length ? 1 : j >= kb.length ? -1 : ka[i] === kb[j] ? 0 : cmp(ka[i] as K, kb[j] as K);
    if (c < 0) fn(ka[i] as K, va[i] as V, undefined);
    else if (c > 0) fn(kb[j] as K, undefined, vb[j] as V);
    else if (va[i] !== vb[j]) fn(ka[i] as K, va[i] as V, vb[j] as V);
    if (c <= 0) i++;
    if (c >= 0) j++;
  }
}

function diffPMapSlow<K, V>(a: PMap<K, V>, b: PMap<K, V>, fn: (k: K, before: V | undefined, after: V | undefined) => void): void {
  const ea = a.toArray();
  const eb = b.toArray();
  let i = 0;
  let j = 0;
  while (i < ea.length || j < eb.length) {
    const c = i >= ea.length ? 1 : j >= eb.length ? -1 : a.cmp(ea[i]![0], eb[j]![0]);
    if (c < 0) {
      fn(ea[i]![0], ea[i]![1], undefined);
      i++;
    } else if (c > 0) {
      fn(eb[j]![0], undefined, eb[j]![1]);
      j++;
    } else {
      if (ea[i]![1] !== eb[j]![1]) fn(ea[i]![0], ea[i]![1], eb[j]![1]);
      i++;
      j++;
    }
  }
}

export interface IvEntry<V> {
  readonly last: bigint;
  readonly value: V;
}

/** Min start of an IntervalMap node: its approximate coordinate (`c`) when it has one. */
const IV_ORDER: KeyOrder = {
  min: (n) => {
    const c = (n as unknown as { c?: readonly number[] }).c;
    if (c && c.length) return c[0];
    let x: TreeNode = n;
    while (x.kids !== null) x = x.kids[0]!;
    const k = leafKind(x);
    if (k === 'd') {
      const d = (x as unknown as ILeafD).d;
      return d.length ? Number(d[0] as bigint) : 0;
    }
    if (k === 'e') {
      const e = (x as unknown as ILeafE).e;
      return e.length ? Number(e[0]!.start) : 0;
    }
    return 0;
  },
  cmp: (x, y) => (x as number) - (y as number),
};

/**
 * Calls fn(start, before, after) for every interval start whose interval
 * (last or value) differs between two versions; `undefined` marks absence.
 */
export function diffIntervals<V>(a: IntervalMap<V>, b: IntervalMap<V>, fn: (start: bigint, before: IvEntry<V> | undefined, after: IvEntry<V> | undefined) => void): void {
  if (a === b) return;
  let ea: Flat | null = null;
  let eb: Flat | null = null;
  if (hasRoot(a) && hasRoot(b)) {
    const [ua, ub] = uniqueLeaves(a.root, b.root, IV_ORDER);
    const kinds = new Set([...ua, ...ub].map(leafKind));
    const kind = kinds.size === 1 ? [...kinds][0]! : kinds.size === 0 ? 'd' : null;
    if (kind !== null) [ea, eb] = middles(ua as unknown as ILeaf[], ub as unknown as ILeaf[], kind);
  }
  if (ea === null || eb === null) {
    const flat = (m: IntervalMap<V>): Flat => {
      const f: Flat = { s: [], l: [], v: [] };
      for (const iv of m.toArray()) (f.s.push(iv.start), f.l.push(iv.last), f.v.push(iv.value));
      return f;
    };
    ea = flat(a);
    eb = flat(b);
  }
  let i = 0;
  let j = 0;
  const na = ea.s.length;
  const nb = eb.s.length;
  while (i < na || j < nb) {
    const sa = i < na ? ea.s[i]! : 0n;
    const sb = j < nb ? eb.s[j]! : 0n;
    const c = i >= na ? 1 : j >= nb ? -1 : sa === sb ? 0 : sa < sb ? -1 : 1;
    if (c < 0) fn(sa, { last: ea.l[i]!, value: ea.v[i] as V }, undefined);
    else if (c > 0) fn(sb, undefined, { last: eb.l[j]!, value: eb.v[j] as V });
    else if (ea.l[i] !== eb.l[j] || ea.v[i] !== eb.v[j]) fn(sa, { last: ea.l[i]!, value: ea.v[i] as V }, { last: eb.l[j]!, value: eb.v[j] as V });
    if (c <= 0) i++;
    if (c >= 0) j++;
  }
}

interface Flat {
  s: bigint[];
  l: bigint[];
  v: unknown[];
}

/**
 * The entries of two lists of unique leaves, less what is plainly the same:
 * when the lists pair up (same count), each pair's common prefix and suffix
 * (identical start, last and value at the same position) is dropped, as an
 * update typically changes one entry of one leaf. What remains is merged by
 * key, so entries that moved between leaves are still matched.
 */
function middles(la: ILeaf[], lb: ILeaf[], kind: 'd' | 'e'): [Flat, Flat] {
  const fa: Flat = { s: [], l: [], v: [] };
  const fb: Flat = { s: [], l: [], v: [] };
  const n = (x: ILeaf) => (kind === 'd' ? (x as ILeafD).d.length / 3 : (x as ILeafE).e.length);
  const same = (x: ILeaf, i: number, y: ILeaf, j: number) => {
    if (kind === 'e') return (x as ILeafE).e[i] === (y as ILeafE).e[j];
    const dx = (x as ILeafD).d;
    const dy = (y as ILeafD).d;
    return dx[3 * i + 2] === dy[3 * j + 2] && dx[3 * i] === dy[3 * j] && dx[3 * i + 1] === dy[3 * j + 1];
  };
  const push = (f: Flat, x: ILeaf, from: number, to: number) => {
    for (let k = from; k < to; k++) {
      if (kind === 'e') {
        const r = (x as ILeafE).e[k]!;
        f.s.push(r.start);
        f.l.push(r.last);
        f.v.push(r.value);
      } else {
        const d = (x as ILeafD).d;
        f.s.push(d[3 * k] as bigint);
        f.l.push(d[3 * k + 1] as bigint);
        f.v.push(d[3 * k + 2]);
      }
    }
  };
  if (la.length === lb.length) {
    for (let k = 0; k < la.length; k++) {
      const x = la[k]!;
      const y = lb[k]!;
      const nx = n(x);
      const ny = n(y);
      let p = 0;
      while (p < nx && p < ny && same(x, p, y, p)) p++;
      let q = 0;
      while (q < nx - p && q < ny - p && same(x, nx - 1 - q, y, ny - 1 - q)) q++;
      push(fa, x, p, nx - q);
      push(fb, y, p, ny - q);
    }
  } else {
    for (const x of la) push(fa, x, 0, n(x));
    for (const y of lb) push(fb, y, 0, n(y));
  }
  return [fa, fb];
}
