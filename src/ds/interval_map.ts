/**
 * IntervalMap<V>: persistent (immutable, structurally shared, path-copying)
 * map of DISJOINT closed intervals [start, last] over the unsigned 64-bit
 * range 0n .. 2n**64n - 1n, keyed by start.
 *
 * Shape: a persistent B+tree (deterministic, no randomness).
 *
 *  - Leaves hold, per interval, the approximate coordinates as doubles in
 *    `c` = [start0, last0, start1, last1, ...] and the exact data in
 *    `d` = [start0 (bigint), last0 (bigint), value0, start1, ...].
 *  - Inner nodes hold, per child, the approximate min start / max last of
 *    the child in `c` (same layout) plus the child pointers in `kids`.
 *
 * Why doubles: bigints are heap objects, so comparing against an array of
 * bigints dereferences a separate object per probe (a cache miss per probe
 * on a large map) and every bigint sum allocates. Searching an unboxed
 * double array is cache friendly. `approx(x)` is the correctly rounded
 * double of x, which is monotone (x <= y implies approx(x) <= approx(y)) and
 * exact below 2^53. So comparisons on approximations are decisive except on
 * ties at or above 2^53, which are resolved with the exact bigints (a rare,
 * slower path; IOVAs above 2^53 are unusual but fully supported).
 *
 * Augmentations per node (used to prune first-fit searches and for O(1)
 * totals):
 *  - size      : number of intervals in the subtree;
 *  - tHi, tLo  : total length = tHi * 2^32 + tLo (exact, 0 <= tLo < 2^32);
 *  - hole      : an upper bound of the largest gap strictly between two
 *                consecutive intervals of the subtree, computed from the
 *                approximations only (exact when both sides are < 2^53, see
 *                gapU). Deterministic function of the node contents.
 *
 * Invariants (checked by `debugCheck`): all leaves at the same depth; every
 * non-root leaf has >= LEAF_MIN entries, every non-root inner node >=
 * INNER_MIN children, the root inner node >= 2; nodes are never mutated
 * after construction. Operations that change nothing return the same
 * IntervalMap instance. Values are opaque (identity is `===`).
 */

import { arrConcat, arrInsert2, arrInsert3, arrMerge2, arrRemoveN, arrReplace2, arrSet, arrSet2, arrSplice } from './arr.js';

/** Largest address: 2^64 - 1. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** Approximations below this are exact integers. */
const SAFE = 9007199254740992; // 2^53
const TWO32 = 4294967296;
/** approx(2^64): sentinel "no next interval". */
const NO_NEXT_A = 18446744073709551616;
/**
 * Slack added to a gap computed from approximations >= 2^53: each
 * approximation is off by at most 2^10 (half an ulp below 2^64) and the
 * subtraction adds at most another 2^10, so this keeps an upper bound.
 */
const BIG_SLACK = 8192;

// Fanout 32. 16 copies fewer slots per update, but its gain on the VM trace
// was inside the measurement noise while the debugger's checkpoints took 7%
// more heap (221 vs 207 MB on the 1M-event bench), so 32 stays.
const LEAF_MAX = 32;
const LEAF_MIN = 8;
const INNER_MAX = 32;
const INNER_MIN = 8;

// Correctly rounded bigint -> double for 0 <= x < 2^64. Number(bigint) is a
// slow runtime call in V8 11; writing through a BigUint64Array and reading
// the two 32-bit halves is ~2x faster (hi * 2^32 is exact; one rounding).
const U64 = new BigUint64Array(1);
const U32 = new Uint32Array(U64.buffer);
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const approx: (x: bigint) => number = LE
  ? (x) => {
      U64[0] = x;
      return U32[1]! * TWO32 + U32[0]!;
    }
  : (x) => Number(x);

/** One interval as handed out by queries. */
export interface Interval<V> {
  readonly start: bigint;
  readonly last: bigint;
  readonly value: V;
}

/** Callback for the fast `each*` loops; return `false` to stop early. */
export type IntervalVisitor<V> = (start: bigint, last: bigint, value: V) => boolean | void;

/**
 * @internal B+tree node. Leaf iff `kids === null`. Never mutated.
 * NOTE: src/ds/diff.ts walks `IntervalMap.root` and these fields (c, d,
 * kids) directly to diff versions while skipping shared subtrees; keep the
 * layout stable or update it together.
 */
export class INode<V> {
  constructor(
    /** approximate [start, last] pairs (leaf: intervals; inner: child min start / max last) */
    readonly c: readonly number[],
    /** leaf: exact [start, last, value] triples; inner: null */
    readonly d: readonly unknown[] | null,
    /** inner: children; leaf: null */
    readonly kids: readonly INode<V>[] | null,
    /** number of intervals in the subtree */
    readonly size: number,
    /** total length, high part (multiples of 2^32) */
    readonly tHi: number,
    /** total length, low part, 0 <= tLo < 2^32 */
    readonly tLo: number,
    /** upper bound of the largest gap between consecutive intervals (0 if none) */
    readonly hole: number,
  ) {}
}

// ---------------------------------------------------------------------------
// small helpers

/** Gap length between an interval ending at La and the next starting at Sa (upper bound). */
function gapU(La: number, Sa: number): number {
  return Sa < SAFE ? Sa - La - 1 : Sa - La + BIG_SLACK;
}

/** Largest gapU over consecutive pairs of an approximate [start, last] array. */
function pairsHole(c: readonly number[]): number {
  let h = 0;
  for (let i = 2; i < c.length; i += 2) {
    const g = gapU(c[i - 1]!, c[i]!);
    if (g > h) h = g;
  }
  return h;
}

/** Module scratch: low part of the last `tNorm` result. */
let tLoOut = 0;
/** Normalises hi * 2^32 + lo (lo any integer-valued double with |lo| < 2^53); returns hi, sets tLoOut. */
function tNorm(hi: number, lo: number): number {
  const carry = Math.floor(lo / TWO32);
  tLoOut = lo - carry * TWO32;
  return hi + carry;
}

/** Module scratch: low part of the last `lenParts` result. */
let lenLoOut = 0;
/** Length last - start + 1 split as hi * 2^32 + lo; returns hi, sets lenLoOut. */
function lenParts(sA: number, lA: number, s: bigint, l: bigint): number {
  if (lA < SAFE) {
    const len = lA - sA + 1;
    const hi = Math.floor(len / TWO32);
    lenLoOut = len - hi * TWO32;
    return hi;
  }
  const len = l - s + 1n;
  U64[0] = len & U64_MAX; // len <= 2^64: 2^64 wraps to 0, fixed below
  const hi = len > U64_MAX ? TWO32 : LE ? U32[1]! : Number(len >> 32n);
  lenLoOut = len > U64_MAX ? 0 : LE ? U32[0]! : Number(len & 0xffff_ffffn);
  return hi;
}

function exactTotal(hi: number, lo: number): bigint {
  return BigInt(hi) * 4294967296n + BigInt(lo);
}

function leftLeaf<V>(nd: INode<V>): INode<V> {
  while (nd.kids !== null) nd = nd.kids[0]!;
  return nd;
}

function rightLeaf<V>(nd: INode<V>): INode<V> {
  while (nd.kids !== null) nd = nd.kids[nd.kids.length - 1]!;
  return nd;
}

/** Exact start of entry / child i of nd. */
function exactStartAt<V>(nd: INode<V>, i: number): bigint {
  if (nd.kids === null) return nd.d![3 * i] as bigint;
  return leftLeaf(nd.kids[i]!).d![0] as bigint;
}

/** Exact last of entry / child i of nd. */
function exactLastAt<V>(nd: INode<V>, i: number): bigint {
  if (nd.kids === null) return nd.d![3 * i + 1] as bigint;
  const d = rightLeaf(nd.kids[i]!).d!;
  return d[d.length - 2] as bigint;
}

/** Number of entries / children of nd whose start is <= x (xa = approx(x)). */
function ubS<V>(nd: INode<V>, xa: number, x: bigint): number {
  const c = nd.c;
  let lo = 0;
  let hi = c.length >> 1;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (c[2 * m]! <= xa) lo = m + 1;
    else hi = m;
  }
  if (xa >= SAFE) {
    // approximate ties above 2^53: resolve with exact starts
    while (lo > 0 && c[2 * lo - 2] === xa && exactStartAt(nd, lo - 1) > x) lo--;
  }
  return lo;
}

/** Index of the first entry / child of nd whose last is >= x (xa = approx(x)). */
function lbL<V>(nd: INode<V>, xa: number, x: bigint): number {
  const c = nd.c;
  const n = c.length >> 1;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (c[2 * m + 1]! < xa) lo = m + 1;
    else hi = m;
  }
  if (xa >= SAFE) {
    while (lo < n && c[2 * lo + 1] === xa && exactLastAt(nd, lo) < x) lo++;
  }
  return lo;
}

// ---------------------------------------------------------------------------
// node construction

function mkLeaf<V>(c: number[], d: unknown[]): INode<V> {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < c.length; i += 2) {
    hi += lenParts(c[i]!, c[i + 1]!, d[(3 * i) >> 1] as bigint, d[((3 * i) >> 1) + 1] as bigint);
    lo += lenLoOut;
  }
  hi = tNorm(hi, lo);
  return new INode<V>(c, d, null, c.length >> 1, hi, tLoOut, pairsHole(c));
}

function innerHole<V>(c: readonly number[], kids: readonly INode<V>[]): number {
  let h = pairsHole(c);
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i]!.hole;
    if (k > h) h = k;
  }
  return h;
}

function mkInner<V>(kids: INode<V>[]): INode<V> {
  const c: number[] = [];
  let size = 0;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i]!;
    c.push(k.c[0]!, k.c[k.c.length - 1]!);
    size += k.size;
    hi += k.tHi;
    lo += k.tLo;
  }
  hi = tNorm(hi, lo);
  return new INode<V>(c, null, kids, size, hi, tLoOut, innerHole(c, kids));
}

/**
 * Child i of inner node nd was replaced by nk (same slot, no split/merge).
 * Size changes by dsize, total by sign * (dHi * 2^32 + dLo). The hole bound
 * is maintained incrementally; the node is rescanned only when a value that
 * equalled the node maximum decreased.
 */
function innerReplace<V>(
  nd: INode<V>,
  i: number,
  ok: INode<V>,
  nk: INode<V>,
  dsize: number,
  dHi: number,
  dLo: number,
): INode<V> {
  const c = nd.c;
  const n = c.length >> 1;
  const old = nd.hole;
  let h = old;
  let rescan = false;
  const oh = ok.hole;
  const nh = nk.hole;
  if (nh < oh) {
    if (oh === old) rescan = true;
  } else if (nh > h) h = nh;
  const os = c[2 * i]!;
  const ns = nk.c[0]!;
  const ol = c[2 * i + 1]!;
  const nl = nk.c[nk.c.length - 1]!;
  let nc = c;
  if (os !== ns || ol !== nl) {
    const cc = c.slice();
    cc[2 * i] = ns;
    cc[2 * i + 1] = nl;
    nc = cc;
    if (os !== ns && i > 0) {
      const pl = c[2 * i - 1]!;
      const og = gapU(pl, os);
      const ng = gapU(pl, ns);
      if (ng < og) {
        if (og === old) rescan = true;
      } else if (ng > h) h = ng;
    }
    if (ol !== nl && i + 1 < n) {
      const nx = c[2 * i + 2]!;
      const og = gapU(ol, nx);
      const ng = gapU(nl, nx);
      if (ng < og) {
        if (og === old) rescan = true;
      } else if (ng > h) h = ng;
    }
  }
  const nKids = arrSet(nd.kids!, i, nk);
  if (rescan) h = innerHole(nc, nKids);
  const hi = tNorm(nd.tHi + dHi, nd.tLo + dLo);
  return new INode<V>(nc, null, nKids, nd.size + dsize, hi, tLoOut, h);
}

// ---------------------------------------------------------------------------
// insert

/** Right half of a split during insert (module scratch, read right after the call). */
let splitRight: INode<any> | null = null;

function overlapError(s: bigint, l: bigint): Error {
  return new Error(`IntervalMap.insert: [0x${s.toString(16)}, 0x${l.toString(16)}] overlaps an existing interval`);
}

function insLeaf<V>(
  nd: INode<V>,
  s: bigint,
  l: bigint,
  sA: number,
  lA: number,
  v: V,
  dHi: number,
  dLo: number,
  prevA: number,
  nextA: number,
  check: boolean,
): INode<V> {
  const c = nd.c;
  const n = c.length >> 1;
  const p = ubS(nd, sA, s);
  const pl = p > 0 ? c[2 * p - 1]! : prevA;
  const ns = p < n ? c[2 * p]! : nextA;
  // with check set, lA < 2^53, so these approximate comparisons are exact
  if (check && (pl >= sA || ns <= lA)) throw overlapError(s, l);
  const nc = arrInsert2(c, 2 * p, sA, lA);
  const nd2 = arrInsert3(nd.d!, 3 * p, s, l, v as unknown);
  if (n < LEAF_MAX) {
    const old = nd.hole;
    let h: number;
    if (n === 0) {
      h = 0;
    } else if (p > 0 && p < n) {
      // splits the gap between p-1 and p: matters only if it was the maximum
      h = gapU(pl, ns) >= old ? pairsHole(nc) : old;
    } else if (p === 0) {
      const g = gapU(lA, ns);
      h = g > old ? g : old;
    } else {
      const g = gapU(pl, sA);
      h = g > old ? g : old;
    }
    const hi = tNorm(nd.tHi + dHi, nd.tLo + dLo);
    return new INode<V>(nc, nd2, null, n + 1, hi, tLoOut, h);
  }
  const m = (n + 1) >> 1;
  splitRight = mkLeaf(nc.slice(2 * m), nd2.slice(3 * m));
  return mkLeaf(nc.slice(0, 2 * m), nd2.slice(0, 3 * m));
}

function insNode<V>(
  nd: INode<V>,
  s: bigint,
  l: bigint,
  sA: number,
  lA: number,
  v: V,
  dHi: number,
  dLo: number,
  prevA: number,
  nextA: number,
  check: boolean,
): INode<V> {
  const kids = nd.kids;
  if (kids === null) return insLeaf(nd, s, l, sA, lA, v, dHi, dLo, prevA, nextA, check);
  const c = nd.c;
  const n = kids.length;
  let i = ubS(nd, sA, s) - 1;
  if (i < 0) i = 0;
  const ok = kids[i]!;
  const nk = insNode(
    ok,
    s,
    l,
    sA,
    lA,
    v,
    dHi,
    dLo,
    i > 0 ? c[2 * i - 1]! : prevA,
    i + 1 < n ? c[2 * i + 2]! : nextA,
    check,
  );
  const sr = splitRight as INode<V> | null;
  if (sr === null) return innerReplace(nd, i, ok, nk, 1, dHi, dLo);
  splitRight = null;
  const nKids = arrSet2(kids, i, nk, sr);
  if (n < INNER_MAX) {
    const nc = arrSplice(c, 2 * i, 2, [nk.c[0]!, nk.c[nk.c.length - 1]!, sr.c[0]!, sr.c[sr.c.length - 1]!]);
    const hi = tNorm(nd.tHi + dHi, nd.tLo + dLo);
    return new INode<V>(nc, null, nKids, nd.size + 1, hi, tLoOut, innerHole(nc, nKids));
  }
  const m = (n + 1) >> 1;
  splitRight = mkInner(nKids.slice(m));
  return mkInner(nKids.slice(0, m));
}

// ---------------------------------------------------------------------------
// remove

/** Length (hi, lo) of the interval removed by the last remNode (module scratch). */
let remHi = 0;
let remLo = 0;

function remLeaf<V>(nd: INode<V>, s: bigint, sA: number): INode<V> {
  const c = nd.c;
  const d = nd.d!;
  const n = c.length >> 1;
  const p = ubS(nd, sA, s) - 1;
  if (p < 0 || c[2 * p] !== sA || (sA >= SAFE && d[3 * p] !== s)) return nd;
  const lA = c[2 * p + 1]!;
  remHi = -lenParts(sA, lA, s, d[3 * p + 1] as bigint);
  remLo = -lenLoOut;
  const nc = arrRemoveN(c, 2 * p, 2);
  const nd2 = arrRemoveN(d, 3 * p, 3);
  const old = nd.hole;
  let h: number;
  if (n === 1) {
    h = 0;
  } else if (p > 0 && p < n - 1) {
    // the two neighbouring gaps merge into a larger one
    const g = gapU(c[2 * p - 1]!, c[2 * p + 2]!);
    h = g > old ? g : old;
  } else if (p === 0) {
    h = gapU(lA, c[2]!) >= old ? pairsHole(nc) : old;
  } else {
    h = gapU(c[2 * p - 1]!, sA) >= old ? pairsHole(nc) : old;
  }
  const hi = tNorm(nd.tHi + remHi, nd.tLo + remLo);
  return new INode<V>(nc, nd2, null, n - 1, hi, tLoOut, h);
}

function remNode<V>(nd: INode<V>, s: bigint, sA: number): INode<V> {
  const kids = nd.kids;
  if (kids === null) return remLeaf(nd, s, sA);
  const i = ubS(nd, sA, s) - 1;
  if (i < 0) return nd;
  const ok = kids[i]!;
  const nk = remNode(ok, s, sA);
  if (nk === ok) return nd;
  const dHi = remHi;
  const dLo = remLo;
  const under = nk.kids === null ? nk.c.length < 2 * LEAF_MIN : nk.kids.length < INNER_MIN;
  if (!under) return innerReplace(nd, i, ok, nk, -1, dHi, dLo);
  // underflow: merge with / redistribute from a sibling
  const n = kids.length;
  const li = i + 1 < n ? i : i - 1;
  const a = li === i ? nk : kids[li]!;
  const b = li === i ? kids[i + 1]! : nk;
  let nKids: INode<V>[];
  if (a.kids === null) {
    const cs = arrConcat(a.c, b.c);
    const ds = arrConcat(a.d!, b.d!);
    const cnt = cs.length >> 1;
    if (cnt <= LEAF_MAX) {
      nKids = arrMerge2(kids, li, mkLeaf<V>(cs, ds));
    } else {
      const m = cnt >> 1;
      nKids = arrReplace2(
        kids,
        li,
        mkLeaf<V>(cs.slice(0, 2 * m), ds.slice(0, 3 * m)),
        mkLeaf<V>(cs.slice(2 * m), ds.slice(3 * m)),
      );
    }
  } else {
    const ks = arrConcat(a.kids, b.kids!);
    if (ks.length <= INNER_MAX) {
      nKids = arrMerge2(kids, li, mkInner(ks));
    } else {
      const m = ks.length >> 1;
      nKids = arrReplace2(kids, li, mkInner(ks.slice(0, m)), mkInner(ks.slice(m)));
    }
  }
  const nc: number[] = [];
  for (let j = 0; j < nKids.length; j++) {
    const k = nKids[j]!;
    nc.push(k.c[0]!, k.c[k.c.length - 1]!);
  }
  const hi = tNorm(nd.tHi + dHi, nd.tLo + dLo);
  return new INode<V>(nc, null, nKids, nd.size - 1, hi, tLoOut, innerHole(nc, nKids));
}

// ---------------------------------------------------------------------------
// replaceValue

function repNode<V>(nd: INode<V>, s: bigint, sA: number, v: V): INode<V> {
  const i = ubS(nd, sA, s) - 1;
  const kids = nd.kids;
  if (kids === null) {
    const d = nd.d!;
    if (i < 0 || d[3 * i] !== s) throw new Error(`IntervalMap.replaceValue: no interval starts at 0x${s.toString(16)}`);
    if (d[3 * i + 2] === v) return nd;
    return new INode<V>(nd.c, arrSet(d, 3 * i + 2, v as unknown), null, nd.size, nd.tHi, nd.tLo, nd.hole);
  }
  if (i < 0) throw new Error(`IntervalMap.replaceValue: no interval starts at 0x${s.toString(16)}`);
  const ok = kids[i]!;
  const nk = repNode(ok, s, sA, v);
  if (nk === ok) return nd;
  return new INode<V>(nd.c, null, arrSet(kids, i, nk), nd.size, nd.tHi, nd.tLo, nd.hole);
}

// ---------------------------------------------------------------------------
// traversal

/** Calls fn for intervals with last >= lo and start <= hi, ascending. Returns true if stopped. */
function eachOv<V>(nd: INode<V>, lo: bigint, loA: number, hi: bigint, hiA: number, fn: IntervalVisitor<V>): boolean {
  const c = nd.c;
  const n = c.length >> 1;
  let i = lbL(nd, loA, lo);
  const kids = nd.kids;
  if (kids === null) {
    const d = nd.d!;
    for (; i < n; i++) {
      const sa = c[2 * i]!;
      const s = d[3 * i] as bigint;
      if (sa > hiA || (sa === hiA && s > hi)) return true;
      if (fn(s, d[3 * i + 1] as bigint, d[3 * i + 2] as V) === false) return true;
    }
    return false;
  }
  for (; i < n; i++) {
    if (c[2 * i]! > hiA) return true; // ties: decided in the leaf
    if (eachOv(kids[i]!, lo, loA, hi, hiA, fn)) return true;
  }
  return false;
}

/** Ascending generator over intervals with last >= lo and start <= hi (explicit stack). */
function* iterFrom<V>(root: INode<V>, lo: bigint, loA: number, hi: bigint, hiA: number): Generator<Interval<V>, void, undefined> {
  const stackN: INode<V>[] = [];
  const stackI: number[] = [];
  let nd = root;
  let i = lbL(nd, loA, lo);
  while (nd.kids !== null) {
    if (i === nd.kids.length) return;
    stackN.push(nd);
    stackI.push(i);
    nd = nd.kids[i]!;
    i = lbL(nd, loA, lo);
  }
  for (;;) {
    const c = nd.c;
    const d = nd.d!;
    const n = c.length >> 1;
    for (; i < n; i++) {
      const sa = c[2 * i]!;
      const s = d[3 * i] as bigint;
      if (sa > hiA || (sa === hiA && s > hi)) return;
      yield { start: s, last: d[3 * i + 1] as bigint, value: d[3 * i + 2] as V };
    }
    let up = stackN.length - 1;
    while (up >= 0 && stackI[up]! + 1 >= stackN[up]!.kids!.length) up--;
    if (up < 0) return;
    stackN.length = up + 1;
    stackI.length = up + 1;
    const j = stackI[up]! + 1;
    stackI[up] = j;
    nd = stackN[up]!.kids![j]!;
    while (nd.kids !== null) {
      stackN.push(nd);
      stackI.push(0);
      nd = nd.kids[0]!;
    }
    i = 0;
  }
}

/** State of one firstHole walk (allocated per call so `accept` may re-enter the map). */
interface HoleWalk {
  /** approx of prev, the last address known covered (lo - 1 initially) */
  prevA: number;
  /** exact prev, or null if it must be fetched from (prevNd, prevI) */
  prevX: bigint | null;
  prevNd: INode<unknown> | null;
  prevI: number;
  readonly lo: bigint;
  readonly loA: number;
  readonly hi: bigint;
  readonly hiA: number;
  readonly minLen: bigint;
  /** lower bound of approx(minLen) */
  readonly minLenL: number;
  readonly accept: (hs: bigint, hl: bigint) => bigint | undefined;
  result: bigint | undefined;
  found: boolean;
}

function walkPrev(w: HoleWalk): bigint {
  if (w.prevX === null) w.prevX = exactLastAt(w.prevNd!, w.prevI);
  return w.prevX;
}

/**
 * Offers the holes of subtree nd in ascending order. With skip0 the hole
 * before entry/child 0 is not offered (the caller already handled it).
 * Returns true when the walk must stop (found, or went past hi).
 */
function holeWalk<V>(nd: INode<V>, w: HoleWalk, skip0: boolean): boolean {
  const c = nd.c;
  const kids = nd.kids;
  const n = c.length >> 1;
  const hiA = w.hiA;
  const minLenL = w.minLenL;
  let i = lbL(nd, w.loA, w.lo);
  for (; i < n; i++) {
    const sA = c[2 * i]!;
    if (sA > hiA) return true;
    if (sA === hiA && hiA >= SAFE && exactStartAt(nd, i) > w.hi) return true;
    if ((i > 0 || !skip0) && gapU(w.prevA, sA) >= minLenL) {
      const sx = exactStartAt(nd, i);
      const px = walkPrev(w);
      if (sx - px > w.minLen) {
        const r = w.accept(px + 1n, sx - 1n);
        if (r !== undefined) {
          w.result = r;
          w.found = true;
          return true;
        }
      }
    }
    if (kids !== null && kids[i]!.hole >= minLenL) {
      if (holeWalk(kids[i]!, w, true)) return true;
    }
    const lA = c[2 * i + 1]!;
    w.prevA = lA;
    w.prevX = null;
    w.prevNd = nd as INode<unknown>;
    w.prevI = i;
    if (lA > hiA) return true;
    if (lA === hiA && (hiA < SAFE || exactLastAt(nd, i) >= w.hi)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// the map

/**
 * Starts of the intervals inserted, removed or given a new value, while a
 * recorder is installed (the debugger's change logs): a map built whole
 * (fromSorted) records -1n, "compare everything". A superset across every
 * IntervalMap in use; the reader compares before and after at each start.
 */
let touched: bigint[] | null = null;
/** Install (or remove, with null) the start recorder; returns the previous one. */
export function setIntervalTouchRecorder(r: bigint[] | null): bigint[] | null {
  const prev = touched;
  touched = r;
  return prev;
}

/** Persistent map of disjoint closed 64-bit intervals, keyed by start. */
export class IntervalMap<V> {
  /** @internal */
  readonly root: INode<V> | null;

  private constructor(root: INode<V> | null) {
    this.root = root;
  }

  private static readonly EMPTY = new IntervalMap<never>(null);

  /** The empty map (a shared singleton). */
  static empty<V>(): IntervalMap<V> {
    return IntervalMap.EMPTY as IntervalMap<V>;
  }

  /**
   * Builds a map in O(n) from intervals sorted by start, given as
   * `{start, last, value}` objects or `[start, last, value]` tuples.
   * Validated: in range, sorted and disjoint (throws otherwise).
   */
  static fromSorted<V>(items: Iterable<Interval<V> | readonly [bigint, bigint, V]>): IntervalMap<V> {
    if (touched !== null) touched.push(-1n);
    const c: number[] = [];
    const d: unknown[] = [];
    let prev = -1n;
    for (const it of items) {
      let s: bigint;
      let l: bigint;
      let v: V;
      if (Array.isArray(it)) {
        const t = it as readonly [bigint, bigint, V];
        s = t[0];
        l = t[1];
        v = t[2];
      } else {
        const t = it as Interval<V>;
        s = t.start;
        l = t.last;
        v = t.value;
      }
      checkRange('fromSorted', s, l);
      if (s <= prev) throw new Error('IntervalMap.fromSorted: intervals not sorted or overlapping');
      c.push(approx(s), approx(l));
      d.push(s, l, v);
      prev = l;
    }
    const n = c.length >> 1;
    if (n === 0) return IntervalMap.empty();
    // leaves / inner nodes filled to ~3/4 so later inserts do not split at once
    const per = (LEAF_MAX * 3) >> 2;
    let count = Math.ceil(n / per);
    let level: INode<V>[] = [];
    for (let k = 0; k < count; k++) {
      const a = Math.floor((k * n) / count);
      const b = Math.floor(((k + 1) * n) / count);
      level.push(mkLeaf<V>(c.slice(2 * a, 2 * b), d.slice(3 * a, 3 * b)));
    }
    const iper = (INNER_MAX * 3) >> 2;
    while (level.length > 1) {
      const m = level.length;
      count = Math.ceil(m / iper);
      const next: INode<V>[] = [];
      for (let k = 0; k < count; k++) {
        const a = Math.floor((k * m) / count);
        const b = Math.floor(((k + 1) * m) / count);
        next.push(mkInner(level.slice(a, b)));
      }
      level = next;
    }
    return new IntervalMap(level[0]!);
  }

  /** Number of intervals. O(1). */
  get size(): number {
    return this.root === null ? 0 : this.root.size;
  }

  /** Sum of (last - start + 1) over all intervals. O(1). */
  totalLength(): bigint {
    const r = this.root;
    return r === null ? 0n : exactTotal(r.tHi, r.tLo);
  }

  /** Value of the interval starting exactly at `start`. */
  get(start: bigint): V | undefined {
    let nd = this.root;
    if (nd === null || start < 0n || start > U64_MAX) return undefined;
    const sA = approx(start);
    for (;;) {
      const i: number = ubS(nd, sA, start) - 1;
      if (i < 0) return undefined;
      if (nd.kids === null) return nd.d![3 * i] === start ? (nd.d![3 * i + 2] as V) : undefined;
      nd = nd.kids[i]!;
    }
  }

  /** Whether an interval starts exactly at `start`. */
  has(start: bigint): boolean {
    let nd = this.root;
    if (nd === null || start < 0n || start > U64_MAX) return false;
    const sA = approx(start);
    for (;;) {
      const i: number = ubS(nd, sA, start) - 1;
      if (i < 0) return false;
      if (nd.kids === null) return nd.d![3 * i] === start;
      nd = nd.kids[i]!;
    }
  }

  /**
   * Inserts [start, last] -> value. Throws (plain Error) if the interval is
   * malformed (start > last, outside 0..2^64-1) or overlaps an existing one.
   */
  insert(start: bigint, last: bigint, value: V): IntervalMap<V> {
    checkRange('insert', start, last);
    if (touched !== null) touched.push(start);
    const root = this.root;
    const sA = approx(start);
    const lA = approx(last);
    const dHi = lenParts(sA, lA, start, last);
    const dLo = lenLoOut;
    if (root === null) {
      return new IntervalMap(new INode<V>([sA, lA], [start, last, value], null, 1, dHi, dLo, 0));
    }
    // Below 2^53 the overlap check is done exactly on approximations during
    // the descent; above, it is done up front with exact tie resolution.
    let check = true;
    if (lA >= SAFE) {
      if (this.anyOverlap(start, last)) throw overlapError(start, last);
      check = false;
    }
    splitRight = null;
    const nr = insNode(root, start, last, sA, lA, value, dHi, dLo, -1, NO_NEXT_A, check);
    const sr = splitRight as INode<V> | null;
    if (sr === null) return new IntervalMap(nr);
    splitRight = null;
    return new IntervalMap(mkInner([nr, sr]));
  }

  /** Removes the interval starting exactly at `start` (same instance if absent). */
  remove(start: bigint): IntervalMap<V> {
    if (touched !== null) touched.push(start);
    const root = this.root;
    if (root === null || start < 0n || start > U64_MAX) return this;
    let nr = remNode(root, start, approx(start));
    if (nr === root) return this;
    if (nr.size === 0) return IntervalMap.empty();
    while (nr.kids !== null && nr.kids.length === 1) nr = nr.kids[0]!;
    return new IntervalMap(nr);
  }

  /**
   * Replaces the value of the interval starting exactly at `start`. Same
   * instance if the value is `===` the current one; throws if absent.
   */
  replaceValue(start: bigint, value: V): IntervalMap<V> {
    if (touched !== null) touched.push(start);
    const root = this.root;
    if (root === null || start < 0n || start > U64_MAX) {
      throw new Error(`IntervalMap.replaceValue: no interval starts at 0x${start.toString(16)}`);
    }
    const nr = repNode(root, start, approx(start), value);
    return nr === root ? this : new IntervalMap(nr);
  }

  /** The interval containing `addr`, if any. O(log n). */
  find(addr: bigint): Interval<V> | undefined {
    let nd = this.root;
    if (nd === null || addr < 0n || addr > U64_MAX) return undefined;
    const xa = approx(addr);
    for (;;) {
      const i: number = lbL(nd, xa, addr);
      if (i === nd.c.length >> 1) return undefined;
      if (nd.kids === null) {
        const d = nd.d!;
        const s = d[3 * i] as bigint;
        return s <= addr ? { start: s, last: d[3 * i + 1] as bigint, value: d[3 * i + 2] as V } : undefined;
      }
      nd = nd.kids[i]!;
    }
  }

  /** Whether any interval intersects [start, last]. O(log n). */
  anyOverlap(start: bigint, last: bigint): boolean {
    if (start < 0n) start = 0n;
    if (last > U64_MAX) last = U64_MAX;
    if (start > last) return false;
    let nd = this.root;
    if (nd === null) return false;
    const sA = approx(start);
    const lA = approx(last);
    for (;;) {
      const i: number = lbL(nd, sA, start);
      if (i === nd.c.length >> 1) return false;
      if (nd.c[2 * i]! > lA) return false;
      if (nd.kids === null) return (nd.d![3 * i] as bigint) <= last;
      nd = nd.kids[i]!;
    }
  }

  /** Fast ascending loop over the intervals intersecting [start, last]; fn returning false stops. */
  eachOverlapping(start: bigint, last: bigint, fn: IntervalVisitor<V>): void {
    if (start < 0n) start = 0n;
    if (last > U64_MAX) last = U64_MAX;
    if (this.root === null || start > last) return;
    eachOv(this.root, start, approx(start), last, approx(last), fn);
  }

  /** Fast ascending loop over all intervals; fn returning false stops. */
  each(fn: IntervalVisitor<V>): void {
    if (this.root === null) return;
    eachOv(this.root, 0n, 0, U64_MAX, NO_NEXT_A, fn);
  }

  /** Ascending iterator over the intervals intersecting [start, last]. */
  overlapping(start: bigint, last: bigint): Generator<Interval<V>, void, undefined> {
    if (start < 0n) start = 0n;
    if (last > U64_MAX) last = U64_MAX;
    if (this.root === null || start > last) return emptyGen();
    return iterFrom(this.root, start, approx(start), last, approx(last));
  }

  /** Ascending iterator over all intervals. */
  entries(): Generator<Interval<V>, void, undefined> {
    if (this.root === null) return emptyGen();
    return iterFrom(this.root, 0n, 0, U64_MAX, NO_NEXT_A);
  }

  [Symbol.iterator](): Generator<Interval<V>, void, undefined> {
    return this.entries();
  }

  /** All intervals, ascending. */
  toArray(): Interval<V>[] {
    const out: Interval<V>[] = [];
    this.each((start, last, value) => {
      out.push({ start, last, value });
    });
    return out;
  }

  /**
   * Ascending iterator over the maximal gaps [hs, hl] inside [lo, hi] not
   * covered by any interval (bounds included; clipped to 0..2^64-1).
   */
  *holes(lo: bigint, hi: bigint): Generator<readonly [bigint, bigint], void, undefined> {
    if (lo < 0n) lo = 0n;
    if (hi > U64_MAX) hi = U64_MAX;
    if (lo > hi) return;
    let prev = lo - 1n;
    if (this.root !== null) {
      for (const it of iterFrom(this.root, lo, approx(lo), hi, approx(hi))) {
        if (it.start - prev > 1n) yield [prev + 1n, it.start - 1n] as const;
        if (it.last >= hi) return;
        prev = it.last;
      }
    }
    yield [prev + 1n, hi] as const;
  }

  /**
   * First-fit search: walks the holes inside [lo, hi] in ascending order,
   * offering to `accept` only holes of length (hl - hs + 1) >= minLen, and
   * returns the first non-undefined value `accept` returns (undefined if
   * none). Subtrees without a large enough gap are skipped without being
   * visited: O(B log n + number of holes offered).
   */
  firstHole(
    lo: bigint,
    hi: bigint,
    minLen: bigint,
    accept: (hs: bigint, hl: bigint) => bigint | undefined,
  ): bigint | undefined {
    if (lo < 0n) lo = 0n;
    if (hi > U64_MAX) hi = U64_MAX;
    if (lo > hi) return undefined;
    if (minLen < 1n) minLen = 1n;
    const root = this.root;
    if (root === null) return hi - lo >= minLen - 1n ? accept(lo, hi) : undefined;
    // a lower bound of minLen as a double (exact below 2^53)
    const minLenL = minLen < 9007199254740992n ? approx(minLen) : minLen > U64_MAX ? Infinity : approx(minLen) - BIG_SLACK;
    const w: HoleWalk = {
      prevA: lo === 0n ? -1 : approx(lo - 1n),
      prevX: lo - 1n,
      prevNd: null,
      prevI: 0,
      lo,
      loA: approx(lo),
      hi,
      hiA: approx(hi),
      minLen,
      minLenL,
      accept,
      result: undefined,
      found: false,
    };
    holeWalk(root, w, false);
    if (w.found) return w.result;
    const px = walkPrev(w);
    if (px >= hi) return undefined;
    // final hole [prev + 1, hi]
    if (hi - px >= minLen) return accept(px + 1n, hi);
    return undefined;
  }

  /** @internal Validates all structural invariants and augmentations; throws on violation. */
  debugCheck(): void {
    const root = this.root;
    if (root === null) return;
    checkNode(root, true, 0, { leaf: -1 });
  }
}

function* emptyGen<T>(): Generator<T, void, undefined> {
  // nothing
}

function checkRange(op: string, s: bigint, l: bigint): void {
  if (typeof s !== 'bigint' || typeof l !== 'bigint') throw new Error(`IntervalMap.${op}: bounds must be bigints`);
  if (s < 0n || l > U64_MAX || s > l) {
    throw new Error(`IntervalMap.${op}: invalid interval [${s}, ${l}]`);
  }
}

function checkNode<V>(nd: INode<V>, isRoot: boolean, depth: number, st: { leaf: number }): void {
  const fail = (msg: string): never => {
    throw new Error(`IntervalMap invariant: ${msg}`);
  };
  const c = nd.c;
  const n = c.length >> 1;
  for (let i = 0; i < n; i++) {
    if (!(c[2 * i]! <= c[2 * i + 1]!)) fail('approx start > last');
    if (i > 0 && !(c[2 * i]! >= c[2 * i - 1]!)) fail('approx not sorted');
  }
  if (nd.kids === null) {
    const d = nd.d;
    if (d === null || d.length !== 3 * n) fail('d length mismatch');
    if (!isRoot && n < LEAF_MIN) fail(`leaf underflow ${n}`);
    if (n > LEAF_MAX) fail('leaf overflow');
    if (st.leaf === -1) st.leaf = depth;
    else if (st.leaf !== depth) fail('leaves at different depths');
    let total = 0n;
    for (let i = 0; i < n; i++) {
      const s = d![3 * i] as bigint;
      const l = d![3 * i + 1] as bigint;
      if (s > l) fail('start > last');
      if (i > 0 && s <= (d![3 * i - 2] as bigint)) fail('entries not sorted/disjoint');
      if (Number(s) !== c[2 * i] || Number(l) !== c[2 * i + 1]) fail('approximation mismatch');
      total += l - s + 1n;
    }
    if (total !== exactTotal(nd.tHi, nd.tLo)) fail('leaf total');
    if (!(nd.tLo >= 0 && nd.tLo < TWO32)) fail('tLo not normalised');
    if (nd.size !== n) fail('leaf size');
    if (pairsHole(c) !== nd.hole) fail('leaf hole');
    return;
  }
  if (nd.d !== null) fail('inner with data');
  if (nd.kids.length !== n) fail('kids length mismatch');
  if (isRoot ? n < 2 : n < INNER_MIN) fail(`inner underflow ${n}`);
  if (n > INNER_MAX) fail('inner overflow');
  let size = 0;
  let total = 0n;
  for (let i = 0; i < n; i++) {
    const k = nd.kids[i]!;
    checkNode(k, false, depth + 1, st);
    if (k.c[0] !== c[2 * i] || k.c[k.c.length - 1] !== c[2 * i + 1]) fail('inner keys');
    if (i > 0 && !(exactStartAt(nd, i) > exactLastAt(nd, i - 1))) fail('children overlap');
    size += k.size;
    total += exactTotal(k.tHi, k.tLo);
  }
  if (size !== nd.size) fail('inner size');
  if (total !== exactTotal(nd.tHi, nd.tLo)) fail('inner total');
  if (innerHole(c, nd.kids) !== nd.hole) fail('inner hole');
}
