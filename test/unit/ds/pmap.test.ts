/**
 * PMap: model-based tests against a naive sorted array (fast-check, fixed
 * seeds) for number, bigint and comparator-ordered keys; persistence,
 * reference equality on no-ops, navigation, ranges, lowestFreeKey, equals.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PMap, compareBigints, compareNumbers, type Comparator } from '../../../src/ds/pmap.js';

const SEED = 0x9a9;

/** Naive sorted-array map. */
class Naive<K> {
  constructor(
    readonly cmp: Comparator<K>,
    readonly items: ReadonlyArray<readonly [K, number]> = [],
  ) {}
  idx(k: K): number {
    return this.items.findIndex(([x]) => this.cmp(x, k) === 0);
  }
  get(k: K): number | undefined {
    const i = this.idx(k);
    return i < 0 ? undefined : this.items[i]![1];
  }
  set(k: K, v: number): Naive<K> {
    const items = this.items.filter(([x]) => this.cmp(x, k) !== 0);
    let i = 0;
    while (i < items.length && this.cmp(items[i]![0], k) < 0) i++;
    items.splice(i, 0, [k, v] as const);
    return new Naive(this.cmp, items);
  }
  delete(k: K): Naive<K> {
    return new Naive(
      this.cmp,
      this.items.filter(([x]) => this.cmp(x, k) !== 0),
    );
  }
  floor(k: K) {
    return [...this.items].reverse().find(([x]) => this.cmp(x, k) <= 0);
  }
  lower(k: K) {
    return [...this.items].reverse().find(([x]) => this.cmp(x, k) < 0);
  }
  ceil(k: K) {
    return this.items.find(([x]) => this.cmp(x, k) >= 0);
  }
  higher(k: K) {
    return this.items.find(([x]) => this.cmp(x, k) > 0);
  }
  range(from?: K, to?: K) {
    return this.items.filter(([x]) => (from === undefined || this.cmp(x, from) >= 0) && (to === undefined || this.cmp(x, to) <= 0));
  }
}

type Op<K> = { t: 'set'; k: K; v: number } | { t: 'del'; k: K } | { t: 'upd'; k: K; mode: number } | { t: 'q'; a: K; b: K };

function opArb<K>(key: fc.Arbitrary<K>): fc.Arbitrary<Op<K>> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), k: key, v: fc.integer({ min: 0, max: 3 }) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('del' as const), k: key }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('upd' as const), k: key, mode: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('q' as const), a: key, b: key }) },
  );
}

const tuple = <K>(e: readonly [K, number] | undefined) => (e === undefined ? undefined : [e[0], e[1]]);

/** Fast deep equality for lists of entries / scalars (vitest's toEqual is slow on long arrays). */
function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return (a as { id: number }).id === (b as { id: number }).id;
  }
  return Object.is(a, b);
}
function expectSame(a: unknown, b: unknown): void {
  if (!same(a, b)) expect(a).toEqual(b);
}

function checkQueries<K>(m: PMap<K, number>, n: Naive<K>, a: K, b: K): void {
  const [lo, hi] = n.cmp(a, b) <= 0 ? [a, b] : [b, a];
  for (const k of [a, b]) {
    expect(m.get(k)).toBe(n.get(k));
    expect(m.has(k)).toBe(n.idx(k) >= 0);
    expectSame(m.floor(k), tuple(n.floor(k)));
    expectSame(m.lower(k), tuple(n.lower(k)));
    expectSame(m.ceil(k), tuple(n.ceil(k)));
    expectSame(m.higher(k), tuple(n.higher(k)));
  }
  const want = n.range(lo, hi).map(tuple);
  expectSame([...m.entries(lo, hi)], want);
  expectSame([...m.entries(lo)], n.range(lo).map(tuple));
  expectSame([...m.entries(undefined, hi)], n.range(undefined, hi).map(tuple));
  expectSame([...m.keys(lo, hi)], want.map((e) => e![0]));
  expectSame([...m.values(lo, hi)], want.map((e) => e![1]));
  expectSame([...m.entriesDesc(hi)], n.range(undefined, hi).map(tuple).reverse());
  const got: unknown[] = [];
  m.each(
    (k, v) => {
      got.push([k, v]);
      return got.length < 3;
    },
    lo,
    hi,
  );
  expectSame(got, want.slice(0, 3));
}

function checkAll<K>(m: PMap<K, number>, n: Naive<K>): void {
  m.debugCheck();
  expect(m.size).toBe(n.items.length);
  expectSame(m.toArray(), n.items.map(tuple));
  expectSame([...m], n.items.map(tuple));
  expectSame(m.min(), tuple(n.items[0]));
  expectSame(m.max(), tuple(n.items[n.items.length - 1]));
  expectSame([...m.entriesDesc()], n.items.map(tuple).reverse());
}

function run<K>(empty: PMap<K, number>, ops: Op<K>[], check: 'each' | 'end'): Array<[PMap<K, number>, Naive<K>]> {
  let m = empty;
  let n = new Naive<K>(empty.cmp);
  const versions: Array<[PMap<K, number>, Naive<K>]> = [[m, n]];
  for (const op of ops) {
    const before = m;
    if (op.t === 'set') {
      const same = n.get(op.k) === op.v;
      m = m.set(op.k, op.v);
      n = n.set(op.k, op.v);
      if (same) expect(m).toBe(before);
    } else if (op.t === 'del') {
      const absent = n.idx(op.k) < 0;
      m = m.delete(op.k);
      n = n.delete(op.k);
      if (absent) expect(m).toBe(before);
    } else if (op.t === 'upd') {
      // mode 0: keep (no-op), 1: increment or create, 2: delete
      const cur = n.get(op.k);
      const fn = (v: number | undefined) => (op.mode === 0 ? v : op.mode === 1 ? (v ?? 0) + 1 : undefined);
      m = m.update(op.k, fn);
      const nv = fn(cur);
      n = nv === undefined ? n.delete(op.k) : n.set(op.k, nv);
      if (op.mode === 0 || (op.mode === 2 && cur === undefined)) expect(m).toBe(before);
    } else {
      checkQueries(m, n, op.a, op.b);
      continue;
    }
    versions.push([m, n]);
    if (check === 'each') checkAll(m, n);
  }
  return versions;
}

function suite<K>(name: string, empty: () => PMap<K, number>, key: fc.Arbitrary<K>, seed: number): void {
  describe(`PMap (${name})`, () => {
    it('matches a naive model (short sequences, checked after every op)', () => {
      fc.assert(
        fc.property(fc.array(opArb(key), { maxLength: 50 }), (ops) => {
          const versions = run(empty(), ops, 'each');
          for (const [m, n] of versions) expectSame(m.toArray(), n.items.map(tuple));
        }),
        { seed, numRuns: 100 },
      );
    });

    it('matches a naive model (long sequences, multi-level trees)', () => {
      fc.assert(
        fc.property(fc.array(opArb(key), { minLength: 400, maxLength: 1000 }), (ops) => {
          const versions = run(empty(), ops, 'end');
          const [m, n] = versions[versions.length - 1]!;
          checkAll(m, n);
          for (let i = 0; i < versions.length; i += 101) {
            const [mv, nv] = versions[i]!;
            mv.debugCheck();
            expectSame(mv.toArray(), nv.items.map(tuple));
          }
          // equals: same content built differently
          const rebuilt = PMap.fromSorted(
            n.items.map(([k, v]) => [k, v] as const),
            m,
          );
          expect(rebuilt.equals(m)).toBe(true);
          expect(m.equals(rebuilt)).toBe(true);
          if (n.items.length > 0) {
            const [k0, v0] = n.items[0]!;
            expect(m.set(k0, v0 + 1).equals(m)).toBe(false);
            expect(m.delete(k0).equals(m)).toBe(false);
            expect(m.set(k0, v0 + 1).equals(m, () => true)).toBe(true);
          }
        }),
        { seed: seed + 1, numRuns: 4 },
      );
    });
  });
}

const P64 = 1n << 64n;
suite('number keys', () => PMap.emptyNumber<number>(), fc.oneof(fc.integer({ min: -50, max: 400 }), fc.constantFrom(-1e15, 2 ** 53 - 1, 1e300)), SEED);
suite(
  'bigint keys',
  () => PMap.emptyBigint<number>(),
  fc.oneof(fc.bigInt(0n, 300n), fc.bigInt(0n, 300n).map((k) => P64 - 1n - k), fc.bigInt(0n, 300n).map((k) => (1n << 53n) + k)),
  SEED + 10,
);
suite(
  'string keys, custom comparator',
  () => PMap.empty<string, number>((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g') }),
  SEED + 20,
);
suite(
  'object keys (comparator identity differs from key identity)',
  () => PMap.empty<{ id: number }, number>((a, b) => a.id - b.id),
  fc.integer({ min: 0, max: 300 }).map((id) => ({ id })),
  SEED + 30,
);

describe('PMap misc', () => {
  it('no-op updates return the same instance', () => {
    const v = { x: 1 };
    const m = PMap.emptyNumber<object>().set(1, v).set(2, {});
    expect(m.set(1, v)).toBe(m);
    expect(m.delete(3)).toBe(m);
    expect(m.update(1, (x) => x)).toBe(m);
    expect(m.update(9, () => undefined)).toBe(m);
    expect(m.set(1, { x: 1 })).not.toBe(m);
    const e = PMap.emptyNumber<number>();
    expect(e.delete(1)).toBe(e);
    expect(e.set(1, 1).delete(1).size).toBe(0);
    expect(PMap.emptyNumber()).toBe(PMap.emptyNumber());
    expect(PMap.empty(compareNumbers)).toBe(PMap.emptyNumber());
    expect(PMap.empty(compareBigints)).toBe(PMap.emptyBigint());
  });

  it('old versions are unchanged after updates (persistence)', () => {
    let m = PMap.emptyNumber<number>();
    const snaps: Array<[PMap<number, number>, Array<[number, number]>]> = [];
    for (let i = 0; i < 3000; i++) {
      m = i % 3 === 2 ? m.delete((i * 7919) % 1000) : m.set((i * 7919) % 1000, i);
      if (i % 250 === 0) snaps.push([m, m.toArray()]);
    }
    for (const [v, arr] of snaps) {
      expectSame(v.toArray(), arr);
      v.debugCheck();
    }
  });

  it('fromSorted validates order and builds balanced trees', () => {
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < 10_000; i++) entries.push([i * 2, i]);
    const m = PMap.fromSorted(entries, compareNumbers);
    m.debugCheck();
    expect(m.size).toBe(10_000);
    expect(m.get(1998)).toBe(999);
    expectSame(m.floor(1999), [1998, 999]);
    expectSame(m.ceil(1999), [2000, 1000]);
    expect(() => PMap.fromSorted([[1, 0], [1, 0]], compareNumbers)).toThrow(Error);
    expect(() => PMap.fromSorted([[2, 0], [1, 0]], PMap.emptyNumber())).toThrow(Error);
    expect(PMap.fromSorted([], PMap.emptyNumber())).toBe(PMap.emptyNumber());
  });

  it('lowestFreeKey matches a linear scan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 1500 }),
        fc.array(fc.integer({ min: -5, max: 2100 }), { minLength: 1, maxLength: 20 }),
        (keys, mins) => {
          let m = PMap.emptyNumber<null>();
          for (const k of keys) m = m.set(k, null);
          const set = new Set(keys);
          for (const min of mins) {
            let want = min;
            while (set.has(want)) want++;
            expect(m.lowestFreeKey(min)).toBe(want);
          }
        },
      ),
      { seed: SEED + 40, numRuns: 60 },
    );
  });

  it('lowestFreeKey: dense prefixes, ID reuse, and precondition errors', () => {
    const entries: Array<[number, number]> = [];
    for (let i = 1; i <= 50_000; i++) entries.push([i, i]);
    let m = PMap.fromSorted(entries, compareNumbers);
    expect(m.lowestFreeKey(1)).toBe(50_001);
    expect(m.lowestFreeKey(0)).toBe(0);
    m = m.delete(31_337);
    expect(m.lowestFreeKey(1)).toBe(31_337);
    expect(m.lowestFreeKey(31_338)).toBe(50_001);
    m = m.set(31_337, 0);
    expect(m.lowestFreeKey(1)).toBe(50_001);
    expect(PMap.emptyNumber().lowestFreeKey(7)).toBe(7);
    expect(() => PMap.emptyNumber().lowestFreeKey(1.5)).toThrow(Error);
    const custom = PMap.empty<number, number>((a, b) => b - a).set(1, 1);
    expect(() => (custom as PMap<number, number>).lowestFreeKey(1)).toThrow(Error);
  });

  it('bigint maps never convert keys to Number', () => {
    const big = 1n << 64n;
    const m = PMap.emptyBigint<number>()
      .set(big - 1n, 1)
      .set(big - 2n, 2)
      .set(0n, 3);
    // 2^64-1 and 2^64-2 are the same double: must stay distinct
    expect(m.size).toBe(3);
    expectSame([...m.keys()], [0n, big - 2n, big - 1n]);
    expectSame(m.floor(big - 1n), [big - 1n, 1]);
    expectSame(m.lower(big - 1n), [big - 2n, 2]);
  });
});

/** Freezes a version and everything reachable from it (nodes and their arrays). */
function deepFreeze(x: unknown, seen = new Set<unknown>()): void {
  if (typeof x !== 'object' || x === null || seen.has(x)) return;
  seen.add(x);
  for (const v of Object.values(x)) deepFreeze(v, seen);
  Object.freeze(x);
}

describe('PMap never mutates existing versions', () => {
  it('works on a deep-frozen version (splits, merges, overwrites)', () => {
    const base = PMap.fromSorted(
      Array.from({ length: 3000 }, (_, i) => [i * 2, i] as const),
      compareNumbers,
    );
    const snapshot = base.toArray();
    deepFreeze(base);
    let m = base;
    for (let i = 0; i < 3000; i += 3) m = m.delete(i * 2);
    for (let i = 0; i < 3000; i += 2) m = m.set(i * 2 + 1, -i);
    for (let i = 0; i < 100; i++) m = m.set(i * 2 + 1, i);
    m = m.update(-5, () => 1);
    m.debugCheck();
    expect(m.get(-5)).toBe(1);
    expect(m.lowestFreeKey(0)).toBe(0);
    expectSame(base.toArray(), snapshot);
    base.debugCheck();
  });
});
