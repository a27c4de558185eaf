/**
 * The debugger's structural diffs: diffPMap / diffIntervals report exactly
 * what a full comparison reports (fast-check over random edit sequences,
 * including splits and merges of the trees), and diffWorlds gives the same
 * patches as engine/diff.ts's diffStates on real model steps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyPatches, enablePatches } from 'immer';
import { PMap } from '../../../src/ds/pmap.js';
import { IntervalMap } from '../../../src/ds/interval_map.js';
import { diffIntervals, diffPMap } from '../../../src/ds/diff.js';
import { diffWorlds } from '../../../src/debug/sdiff.js';
import { diffStates, snapshot } from '../../../src/engine/diff.js';
import { apply } from '../../../src/engine/apply.js';
import { emptyWorld } from '../../../src/model/state.js';
import { readTraceSync } from '../../../src/trace/index.js';
import { SAMPLE } from './fixtures.js';

enablePatches();
const SEED = 0xd1ff;

function naivePMap<V>(a: PMap<number, V>, b: PMap<number, V>): [number, V | undefined, V | undefined][] {
  const ma = new Map(a.toArray());
  const mb = new Map(b.toArray());
  const keys = [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => x - y);
  return keys.filter((k) => ma.get(k) !== mb.get(k)).map((k) => [k, ma.get(k), mb.get(k)]);
}

const edits = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 }), fc.integer()), { maxLength: 400 });

describe('diffPMap', () => {
  it('reports exactly the changed keys (random edit sequences)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), edits, (n, ops) => {
        let a = PMap.emptyNumber<{ v: number }>();
        for (let i = 0; i < n; i++) a = a.set(i * 2, { v: i });
        let b = a;
        for (const [del, k, v] of ops) b = del ? b.delete(k) : b.set(k, { v });
        const got: [number, unknown, unknown][] = [];
        diffPMap(a, b, (k, x, y) => got.push([k, x, y]));
        expect(got).toEqual(naivePMap(a, b));
        const back: [number, unknown, unknown][] = [];
        diffPMap(b, a, (k, x, y) => back.push([k, x, y]));
        expect(back).toEqual(naivePMap(b, a));
      }),
      { seed: SEED, numRuns: 120 },
    );
  });

  it('bigint keys, and unrelated maps', () => {
    let a = PMap.emptyBigint<number>();
    let b = PMap.emptyBigint<number>();
    for (let i = 0n; i < 500n; i++) a = a.set(i * 3n, Number(i));
    for (let i = 0n; i < 400n; i++) b = b.set(i * 5n, Number(i));
    const got: bigint[] = [];
    diffPMap(a, b, (k) => got.push(k));
    const keys = new Set([...a.keys(), ...b.keys()]);
    const want = [...keys].filter((k) => a.get(k) !== b.get(k)).sort((x, y) => (x < y ? -1 : 1));
    expect(got).toEqual(want);
  });
});

describe('diffIntervals', () => {
  it('reports exactly the changed intervals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1500 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 1, max: 3 })), { maxLength: 300 }), (n, ops) => {
        let a = IntervalMap.empty<{ v: number }>();
        for (let i = 0; i < n; i++) a = a.insert(BigInt(i) * 0x4000n, BigInt(i) * 0x4000n + 0xfffn, { v: i });
        let b = a;
        for (const [del, k, len] of ops) {
          const s = BigInt(k) * 0x1000n;
          if (del) {
            const hit = b.find(s);
            if (hit) b = b.remove(hit.start);
          } else if (!b.anyOverlap(s, s + BigInt(len) * 0x1000n - 1n)) b = b.insert(s, s + BigInt(len) * 0x1000n - 1n, { v: k });
        }
        const got: string[] = [];
        diffIntervals(a, b, (s, x, y) => got.push(`${s}:${x ? `${x.last}/${(x.value as { v: number }).v}` : '-'}:${y ? `${y.last}/${(y.value as { v: number }).v}` : '-'}`));
        const ma = new Map(a.toArray().map((iv) => [iv.start, iv]));
        const mb = new Map(b.toArray().map((iv) => [iv.start, iv]));
        const want: string[] = [];
        for (const s of [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => (x < y ? -1 : 1))) {
          const x = ma.get(s);
          const y = mb.get(s);
          if (x && y && x.last === y.last && x.value === y.value) continue;
          want.push(`${s}:${x ? `${x.last}/${x.value.v}` : '-'}:${y ? `${y.last}/${y.value.v}` : '-'}`);
        }
        expect(got).toEqual(want);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

const key = (p: { op: string; path: (string | number)[]; value?: unknown }) => JSON.stringify([p.op, p.path, p.value ?? null], (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? [...v] : v));

describe('diffWorlds', () => {
  it('gives the same patches as diffStates on every step of the bundled trace, and they replay', () => {
    const { header, events } = readTraceSync(SAMPLE);
    let w = emptyWorld({ kernel: header.kernel });
    let plain = snapshot(w) as object;
    for (const ev of events) {
      const next = apply(w, ev).state;
      const mine = diffWorlds(w, next);
      expect(mine.map(key).sort()).toEqual(diffStates(w, next).map(key).sort());
      plain = applyPatches(plain, mine);
      w = next;
    }
    expect(JSON.parse(key({ op: '', path: [], value: plain }))).toEqual(JSON.parse(key({ op: '', path: [], value: snapshot(w) })));
  });

  it('limit builds at most that many patches and counts them all', () => {
    let a = PMap.emptyNumber<number>();
    for (let i = 0; i < 100; i++) a = a.set(i, i);
    let b = a;
    for (let i = 0; i < 100; i += 2) b = b.set(i, -i - 1);
    const counted = { total: 0 };
    const p = diffWorlds({ m: a }, { m: b }, [], [], 7, counted);
    expect(p).toHaveLength(7);
    expect(counted.total).toBe(50);
  });
});
