/**
 * IntervalMap: model-based tests against a naive sorted array (fast-check,
 * fixed seeds), persistence, reference equality on no-ops, holes/firstHole
 * against a naive hole scan, and the 0 / 2^53 / 2^64-1 edges (2^53 and the
 * top of the range are where the double approximations tie).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalMap, U64_MAX, type Interval } from '../../../src/ds/interval_map.js';

const SEED = 0x1e7a;
const P53 = 1n << 53n;

// ---------------------------------------------------------------------------
// naive model

interface NI {
  start: bigint;
  last: bigint;
  value: number;
}

class Naive {
  constructor(readonly items: readonly NI[] = []) {}

  overlaps(s: bigint, l: bigint): boolean {
    return this.items.some((it) => it.start <= l && s <= it.last);
  }

  insert(s: bigint, l: bigint, v: number): Naive {
    if (this.overlaps(s, l)) throw new Error('overlap');
    const items = [...this.items, { start: s, last: l, value: v }];
    items.sort((a, b) => (a.start < b.start ? -1 : 1));
    return new Naive(items);
  }

  remove(s: bigint): Naive {
    return new Naive(this.items.filter((it) => it.start !== s));
  }

  replace(s: bigint, v: number): Naive {
    return new Naive(this.items.map((it) => (it.start === s ? { ...it, value: v } : it)));
  }

  find(a: bigint): NI | undefined {
    return this.items.find((it) => it.start <= a && a <= it.last);
  }

  overlapping(s: bigint, l: bigint): NI[] {
    return this.items.filter((it) => it.start <= l && s <= it.last);
  }

  holes(lo: bigint, hi: bigint): [bigint, bigint][] {
    if (lo < 0n) lo = 0n;
    if (hi > U64_MAX) hi = U64_MAX;
    const out: [bigint, bigint][] = [];
    let cur = lo;
    for (const it of this.items) {
      if (cur > hi) break;
      if (it.last < cur) continue;
      if (it.start > hi) break;
      if (it.start > cur) out.push([cur, it.start - 1n]);
      cur = it.last + 1n;
    }
    if (cur <= hi) out.push([cur, hi]);
    return out;
  }

  total(): bigint {
    return this.items.reduce((a, it) => a + (it.last - it.start + 1n), 0n);
  }
}

const plain = (xs: Iterable<Interval<number>>): NI[] => [...xs].map((x) => ({ start: x.start, last: x.last, value: x.value }));

/** Fast structural equality (vitest's toEqual is slow on long arrays); falls back to toEqual for the diff. */
function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const x = a as NI;
    const y = b as NI;
    return x.start === y.start && x.last === y.last && x.value === y.value && Object.keys(x).length === Object.keys(y).length;
  }
  return Object.is(a, b);
}
function expectSame(a: unknown, b: unknown): void {
  if (!same(a, b)) expect(a).toEqual(b);
}

// ---------------------------------------------------------------------------
// arbitraries: coordinates clustered at the interesting edges

const coord = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt(0n, 400n) },
  { weight: 2, arbitrary: fc.bigInt(0n, 400n).map((k) => P53 - 200n + k) },
  { weight: 2, arbitrary: fc.bigInt(0n, 400n).map((k) => U64_MAX - k) },
  { weight: 1, arbitrary: fc.bigInt(0n, U64_MAX) },
);
const lenArb = fc.oneof({ weight: 4, arbitrary: fc.bigInt(0n, 12n) }, { weight: 1, arbitrary: fc.bigInt(0n, 3000n) });

type Op =
  | { t: 'ins'; s: bigint; len: bigint; v: number }
  | { t: 'rm'; pick: number; s: bigint }
  | { t: 'rep'; pick: number; v: number }
  | { t: 'q'; a: bigint; b: bigint; minLen: bigint; mod: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('ins' as const), s: coord, len: lenArb, v: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('rm' as const), pick: fc.nat(), s: coord }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rep' as const), pick: fc.nat(), v: fc.integer() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('q' as const),
      a: coord,
      b: coord,
      minLen: fc.oneof(fc.bigInt(0n, 20n), fc.bigInt(0n, U64_MAX), fc.constantFrom(1n << 64n, P53, P53 + 1n)),
      mod: fc.integer({ min: 1, max: 5 }),
    }),
  },
);

/** Deterministic accept predicate family: accept holes by a residue of hs, return an address inside. */
function mkAccept(mod: number, log: [bigint, bigint][]): (hs: bigint, hl: bigint) => bigint | undefined {
  return (hs, hl) => {
    log.push([hs, hl]);
    return (hs + hl) % BigInt(mod) === 0n ? hs + (hl - hs) / 2n : undefined;
  };
}

function naiveFirstHole(n: Naive, lo: bigint, hi: bigint, minLen: bigint, mod: number, log: [bigint, bigint][]) {
  const acc = mkAccept(mod, log);
  for (const [hs, hl] of n.holes(lo, hi)) {
    if (hl - hs + 1n < minLen) continue;
    const r = acc(hs, hl);
    if (r !== undefined) return r;
  }
  return undefined;
}

function checkQueries(m: IntervalMap<number>, n: Naive, a: bigint, b: bigint, minLen: bigint, mod: number): void {
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  expectSame(m.find(a), n.find(a));
  expectSame(m.find(b), n.find(b));
  expect(m.anyOverlap(lo, hi)).toBe(n.overlapping(lo, hi).length > 0);
  expectSame(plain(m.overlapping(lo, hi)), n.overlapping(lo, hi));
  // fast loop with early stop after 2
  const got: NI[] = [];
  m.eachOverlapping(lo, hi, (start, last, value) => {
    got.push({ start, last, value });
    return got.length < 2;
  });
  expectSame(got, n.overlapping(lo, hi).slice(0, 2));
  expectSame([...m.holes(lo, hi)], n.holes(lo, hi));
  const logM: [bigint, bigint][] = [];
  const logN: [bigint, bigint][] = [];
  const rm = m.firstHole(lo, hi, minLen, mkAccept(mod, logM));
  const rn = naiveFirstHole(n, lo, hi, minLen, mod, logN);
  expect(rm).toBe(rn);
  // exactly the holes of length >= minLen, in order, up to the accepted one
  expectSame(logM, logN);
}

function checkAll(m: IntervalMap<number>, n: Naive): void {
  m.debugCheck();
  expect(m.size).toBe(n.items.length);
  expect(m.totalLength()).toBe(n.total());
  expectSame(plain(m.toArray()), n.items);
  expectSame(plain(m.entries()), n.items);
  for (const it of n.items) {
    expect(m.get(it.start)).toBe(it.value);
    expect(m.has(it.start)).toBe(true);
  }
}

/** Runs ops on both; returns every version with its model snapshot. */
function run(ops: Op[], check: 'each' | 'end'): Array<[IntervalMap<number>, Naive]> {
  let m = IntervalMap.empty<number>();
  let n = new Naive();
  const versions: Array<[IntervalMap<number>, Naive]> = [[m, n]];
  for (const op of ops) {
    if (op.t === 'ins') {
      const last = op.s + op.len > U64_MAX ? U64_MAX : op.s + op.len;
      const overl = n.overlaps(op.s, last);
      if (overl) {
        expect(() => m.insert(op.s, last, op.v)).toThrow(Error);
        continue;
      }
      m = m.insert(op.s, last, op.v);
      n = n.insert(op.s, last, op.v);
    } else if (op.t === 'rm') {
      const s = n.items.length > 0 && op.pick % 4 !== 0 ? n.items[op.pick % n.items.length]!.start : op.s;
      const before = m;
      m = m.remove(s);
      if (!n.items.some((it) => it.start === s)) expect(m).toBe(before);
      n = n.remove(s);
    } else if (op.t === 'rep') {
      if (n.items.length === 0) {
        expect(() => m.replaceValue(5n, op.v)).toThrow(Error);
        continue;
      }
      const it = n.items[op.pick % n.items.length]!;
      const before = m;
      m = m.replaceValue(it.start, op.v);
      if (it.value === op.v) expect(m).toBe(before);
      n = n.replace(it.start, op.v);
    } else {
      checkQueries(m, n, op.a, op.b, op.minLen, op.mod);
      continue;
    }
    versions.push([m, n]);
    if (check === 'each') checkAll(m, n);
  }
  return versions;
}

describe('IntervalMap', () => {
  it('matches a naive model on random operation sequences (small maps)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const versions = run(ops, 'each');
        // persistence: every old version still shows its snapshot
        for (const [m, n] of versions) expectSame(plain(m.toArray()), n.items);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('matches a naive model on long sequences (multi-level trees)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 400, maxLength: 900 }), (ops) => {
        const versions = run(ops, 'end');
        const [m, n] = versions[versions.length - 1]!;
        checkAll(m, n);
        // spot-check old versions
        for (let i = 0; i < versions.length; i += 97) {
          const [mv, nv] = versions[i]!;
          mv.debugCheck();
          expectSame(plain(mv.toArray()), nv.items);
          expect(mv.totalLength()).toBe(nv.total());
        }
      }),
      { seed: SEED + 1, numRuns: 20 },
    );
  });

  it('deep trees: random churn with many ties near 2^53 and 2^64-1 keeps invariants', () => {
    // deterministic LCG; clusters of adjacent unit intervals in the tie regions
    let x = 12345;
    const rnd = (k: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % k;
    };
    const bases = [0n, P53 - 3000n, U64_MAX - 6000n, 1n << 40n];
    let m = IntervalMap.empty<number>();
    let live = new Map<bigint, bigint>();
    for (let i = 0; i < 6000; i++) {
      const base = bases[rnd(bases.length)]!;
      const s = base + BigInt(rnd(6000));
      if (rnd(3) > 0) {
        const l = s + BigInt(rnd(3));
        if (l > U64_MAX) continue;
        let ov = false;
        for (const [a, b] of live) if (a <= l && s <= b) ov = true;
        if (ov) continue;
        m = m.insert(s, l, i);
        live.set(s, l);
      } else if (live.size > 0) {
        const keys = [...live.keys()];
        const k = keys[rnd(keys.length)]!;
        m = m.remove(k);
        live.delete(k);
      }
    }
    m.debugCheck();
    const sorted = [...live.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    expectSame(m.toArray().map((it) => [it.start, it.last]), sorted);
    // every covered address near the top resolves exactly despite approx ties
    for (const [s, l] of sorted.slice(-50)) {
      expect(m.find(s)?.start).toBe(s);
      expect(m.find(l)?.last).toBe(l);
      expect(m.get(s)).toBeTypeOf('number');
    }
    // drain completely
    for (const k of [...live.keys()]) m = m.remove(k);
    expect(m.size).toBe(0);
    expect(m).toBe(IntervalMap.empty());
    live = new Map();
  });

  it('returns the same instance for no-op updates', () => {
    const m = IntervalMap.empty<string>().insert(10n, 20n, 'a').insert(30n, 40n, 'b');
    expect(m.remove(11n)).toBe(m);
    expect(m.remove(0n)).toBe(m);
    expect(m.remove(-1n)).toBe(m);
    expect(m.remove(1n << 70n)).toBe(m);
    expect(m.replaceValue(10n, 'a')).toBe(m);
    expect(IntervalMap.empty().remove(5n)).toBe(IntervalMap.empty());
    const m2 = m.replaceValue(10n, 'z');
    expect(m2).not.toBe(m);
    expect(m.get(10n)).toBe('a');
    expect(m2.get(10n)).toBe('z');
  });

  it('rejects malformed and overlapping intervals without changing the map', () => {
    const m = IntervalMap.empty<number>().insert(100n, 200n, 1);
    expect(() => m.insert(5n, 4n, 0)).toThrow(Error);
    expect(() => m.insert(-1n, 4n, 0)).toThrow(Error);
    expect(() => m.insert(0n, 1n << 64n, 0)).toThrow(Error);
    expect(() => m.insert(200n, 300n, 0)).toThrow(/overlaps/);
    expect(() => m.insert(50n, 100n, 0)).toThrow(/overlaps/);
    expect(() => m.insert(150n, 160n, 0)).toThrow(/overlaps/);
    expect(() => m.insert(0n, U64_MAX, 0)).toThrow(/overlaps/);
    expect(() => m.replaceValue(101n, 0)).toThrow(Error);
    expect(m.toArray()).toEqual([{ start: 100n, last: 200n, value: 1 }]);
    // adjacent is fine
    const m2 = m.insert(201n, 201n, 2).insert(99n, 99n, 3);
    expect(m2.size).toBe(3);
    expect(m2.totalLength()).toBe(103n);
  });

  it('handles the whole 64-bit range and its edges', () => {
    const full = IntervalMap.empty<number>().insert(0n, U64_MAX, 7);
    expect(full.totalLength()).toBe(1n << 64n);
    expect(full.find(0n)?.value).toBe(7);
    expect(full.find(U64_MAX)?.value).toBe(7);
    expect([...full.holes(0n, U64_MAX)]).toEqual([]);
    expect(full.firstHole(0n, U64_MAX, 1n, (hs) => hs)).toBeUndefined();
    const e = IntervalMap.empty<number>();
    expect([...e.holes(0n, U64_MAX)]).toEqual([[0n, U64_MAX]]);
    expect(e.firstHole(0n, U64_MAX, 1n << 64n, (hs) => hs)).toBe(0n);
    expect(e.firstHole(0n, U64_MAX, (1n << 64n) + 1n, (hs) => hs)).toBeUndefined();
    const top = e.insert(U64_MAX, U64_MAX, 1).insert(0n, 0n, 2);
    expect([...top.holes(0n, U64_MAX)]).toEqual([[1n, U64_MAX - 1n]]);
    expect(top.firstHole(0n, U64_MAX, U64_MAX - 1n, (hs, hl) => hl)).toBe(U64_MAX - 1n);
    expect(top.firstHole(0n, U64_MAX, U64_MAX, (hs) => hs)).toBeUndefined();
    expect(top.totalLength()).toBe(2n);
    expect(top.find(U64_MAX - 1n)).toBeUndefined();
    expect(top.anyOverlap(U64_MAX - 5n, U64_MAX)).toBe(true);
    expect(top.anyOverlap(1n, U64_MAX - 1n)).toBe(false);
  });

  it('fromSorted builds the same map as repeated inserts and validates its input', () => {
    const items: [bigint, bigint, number][] = [];
    for (let i = 0; i < 3000; i++) items.push([BigInt(i) * 10n, BigInt(i) * 10n + 4n, i]);
    const a = IntervalMap.fromSorted(items);
    a.debugCheck();
    let b = IntervalMap.empty<number>();
    for (const [s, l, v] of items) b = b.insert(s, l, v);
    expectSame(a.toArray(), b.toArray());
    expect(a.totalLength()).toBe(15000n);
    expect(IntervalMap.fromSorted([{ start: 1n, last: 2n, value: 0 }]).size).toBe(1);
    expect(IntervalMap.fromSorted([])).toBe(IntervalMap.empty());
    expect(() => IntervalMap.fromSorted([[5n, 6n, 0], [6n, 7n, 0]])).toThrow(Error);
    expect(() => IntervalMap.fromSorted([[5n, 6n, 0], [1n, 2n, 0]])).toThrow(Error);
  });

  it('firstHole skips subtrees without a large enough gap (1e5 intervals, one big hole)', () => {
    const items: [bigint, bigint, number][] = [];
    let cur = 0x1000n;
    for (let i = 0; i < 100_000; i++) {
      const gap = i === 77_777 ? 0x100000n : 0x1000n;
      items.push([cur, cur + 0xfffn, i]);
      cur += 0x1000n + gap;
    }
    const m = IntervalMap.fromSorted(items);
    const offered: [bigint, bigint][] = [];
    const r = m.firstHole(0x2000n, U64_MAX, 0x2000n, (hs, hl) => {
      offered.push([hs, hl]);
      return hs;
    });
    // only the big hole (the one after interval 77777) and never the 0x1000-sized ones
    const big = items[77_777]!;
    expect(offered).toEqual([[big[1] + 1n, big[1] + 0x100000n]]);
    expect(r).toBe(big[1] + 1n);
    // rejecting it reaches the tail hole
    const offered2: bigint[] = [];
    const r2 = m.firstHole(0n, U64_MAX, 0x2000n, (hs) => {
      offered2.push(hs);
      return offered2.length === 2 ? hs : undefined;
    });
    expect(offered2.length).toBe(2);
    expect(r2).toBe(items[items.length - 1]![1] + 1n);
    // bounded search: [lo, hi] clipping
    expect(m.firstHole(0n, 0xfffn, 0x1000n, (hs) => hs)).toBe(0n);
    expect(m.firstHole(0n, 0xffen, 0x1000n, (hs) => hs)).toBeUndefined();
  });

  it('accept may re-enter the map', () => {
    const m = IntervalMap.empty<number>().insert(10n, 19n, 0).insert(40n, 49n, 1);
    const r = m.firstHole(0n, 100n, 5n, (hs, hl) => {
      // nested search from inside accept
      const inner = m.firstHole(hs, hl, 1n, (a) => a);
      return inner === 20n ? hs : undefined;
    });
    expect(r).toBe(20n);
  });

  it('iterators and loops agree on a large map', () => {
    const items: [bigint, bigint, number][] = [];
    for (let i = 0; i < 5000; i++) items.push([BigInt(i) * 3n, BigInt(i) * 3n + 1n, i]);
    const m = IntervalMap.fromSorted(items);
    const viaEach: bigint[] = [];
    m.each((s) => {
      viaEach.push(s);
    });
    expectSame(viaEach, items.map((i) => i[0]));
    expect([...m].length).toBe(5000);
    const ov = [...m.overlapping(1000n, 2000n)].map((i) => i.start);
    expect(ov[0]).toBe(999n);
    expect(ov[ov.length - 1]).toBe(1998n);
    let cnt = 0;
    m.each(() => ++cnt < 10);
    expect(cnt).toBe(10);
  });
});

/** Freezes a version and everything reachable from it (nodes and their arrays). */
function deepFreeze(x: unknown, seen = new Set<unknown>()): void {
  if (typeof x !== 'object' || x === null || seen.has(x)) return;
  seen.add(x);
  for (const v of Object.values(x)) deepFreeze(v, seen);
  Object.freeze(x);
}

describe('IntervalMap never mutates existing versions', () => {
  it('works on a deep-frozen version (splits, merges, replaceValue)', () => {
    const items: [bigint, bigint, number][] = [];
    for (let i = 0; i < 2000; i++) items.push([BigInt(i) * 16n, BigInt(i) * 16n + 7n, i]);
    const base = IntervalMap.fromSorted(items);
    const snapshot = base.toArray();
    deepFreeze(base);
    let m = base;
    for (let i = 0; i < 2000; i += 3) m = m.remove(BigInt(i) * 16n);
    for (let i = 0; i < 2000; i += 2) m = m.insert(BigInt(i) * 16n + 8n, BigInt(i) * 16n + 9n, -i);
    m = m.replaceValue(16n, 42);
    m.debugCheck();
    expect(m.get(16n)).toBe(42);
    expectSame(base.toArray(), snapshot);
    base.debugCheck();
  });
});
