/**
 * Micro-benchmarks for the persistent collections in src/ds.
 *
 *   npx tsc -p tsconfig.json && node dist/tools/bench_ds.js
 *
 * Figures are µs per operation (or per op pair). Deterministic inputs: a
 * fixed-seed sfc32 PRNG defined below (no Math.random).
 */

import { pathToFileURL } from 'node:url';
import { IntervalMap } from '../src/ds/interval_map.js';
import { PMap } from '../src/ds/pmap.js';

/** sfc32: small fast 32-bit PRNG, fixed seed (deterministic inputs). */
function rng(seed: number): () => number {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed | 0;
  return () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/**
 * Process CPU time in µs (user + system, all threads, so GC helper threads
 * are included). Used instead of wall time because benchmark machines are
 * often shared; set BENCH_DS_WALL=1 to use wall-clock time.
 */
const USE_WALL = process.env['BENCH_DS_WALL'] === '1';
function now(): number {
  if (USE_WALL) return Number(process.hrtime.bigint()) / 1e3;
  const u = process.cpuUsage();
  return u.user + u.system;
}

const KiB = 1024;

interface Layout {
  starts: bigint[];
  lasts: bigint[];
}

/** n disjoint intervals of 4 KiB..2 MiB (page multiples), random gaps of 0..2 MiB. */
function layout(n: number, seed: number): Layout {
  const r = rng(seed);
  const starts: bigint[] = [];
  const lasts: bigint[] = [];
  let cur = 0x10_0000; // start at 1 MiB (as a number: fits 2^53 easily for 1M intervals)
  for (let i = 0; i < n; i++) {
    cur += Math.floor(r() * 513) * 4 * KiB; // gap 0..2 MiB
    const len = (1 + Math.floor(r() * 512)) * 4 * KiB; // 4 KiB..2 MiB
    starts.push(BigInt(cur));
    lasts.push(BigInt(cur + len - 1));
    cur += len;
  }
  return { starts, lasts };
}

/**
 * A benchmark body: performs `ops` operations on a structure it prepared.
 * `measure` runs it once to warm up (JIT, GC steady state), then `reps`
 * times and keeps the best, which filters out noise from other processes.
 */
type Body = () => void;

function measure(body: Body, ops: number, reps: number): number {
  body();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    body();
    const dt = (now() - t0) / ops;
    if (dt < best) best = dt;
  }
  return best;
}

function buildIntervals(n: number, seed: number): { m: IntervalMap<number>; starts: bigint[]; lasts: bigint[] } {
  const { starts, lasts } = layout(n, seed);
  const m = IntervalMap.fromSorted<number>(starts.map((s, i) => [s, lasts[i]!, i] as const));
  return { m, starts, lasts };
}

/** (remove + re-insert) of a random existing interval, n live intervals: µs per pair. */
function intervalChurn(n: number, ops: number): Body {
  const b = buildIntervals(n, 42);
  let m = b.m;
  const { starts, lasts } = b;
  const r = rng(7);
  const idx: number[] = [];
  for (let i = 0; i < ops; i++) idx.push(Math.floor(r() * n));
  return () => {
    for (let i = 0; i < ops; i++) {
      const j = idx[i]!;
      m = m.remove(starts[j]!).insert(starts[j]!, lasts[j]!, j);
    }
    if (m.size !== n) throw new Error('bench: size drift');
  };
}

/** (insert a fresh 4 KiB interval into a random hole + remove it), n live intervals: µs per pair. */
function intervalInsertFresh(n: number, ops: number): Body {
  const { m: base, starts, lasts } = buildIntervals(n, 43);
  const r = rng(9);
  const ins: bigint[] = [];
  const ends: bigint[] = [];
  while (ins.length < ops) {
    const j = Math.floor(r() * n);
    const s = lasts[j]! + 1n;
    if (j + 1 < n && starts[j + 1]! <= s) continue; // no hole after j
    ins.push(s);
    ends.push(s + 0xfffn);
  }
  let m = base;
  return () => {
    for (let i = 0; i < ops; i++) {
      const s = ins[i]!;
      m = m.insert(s, ends[i]!, -1).remove(s);
    }
  };
}

/** find() of a random covered address, n live intervals: µs per lookup. */
function intervalFind(n: number, ops: number): Body {
  const { m, starts, lasts } = buildIntervals(n, 44);
  const r = rng(11);
  const q: bigint[] = [];
  for (let i = 0; i < ops; i++) {
    const j = Math.floor(r() * n);
    q.push(starts[j]! + (lasts[j]! - starts[j]!) / 2n);
  }
  return () => {
    let hits = 0;
    for (let i = 0; i < ops; i++) if (m.find(q[i]!) !== undefined) hits++;
    if (hits !== ops) throw new Error('bench: find miss');
  };
}

/** first-fit allocation (firstHole over the whole space + insert) then free, n live intervals: µs per op. */
function intervalFirstFit(n: number, ops: number): Body {
  const { m } = buildIntervals(n, 45);
  const r = rng(13);
  const sizes: bigint[] = [];
  for (let i = 0; i < ops; i++) sizes.push(BigInt((1 + Math.floor(r() * 512)) * 4 * KiB));
  const accept = (hs: bigint): bigint => hs;
  return () => {
    for (let i = 0; i < ops; i++) {
      const len = sizes[i]!;
      const s = m.firstHole(0n, 0xffff_ffff_ffffn, len, accept);
      if (s === undefined) throw new Error('bench: no hole');
      m.insert(s, s + len - 1n, i).remove(s);
    }
  };
}

function numberMap(n: number, step: number, first: number): PMap<number, number> {
  const entries: [number, number][] = [];
  for (let i = 0; i < n; i++) entries.push([first + i * step, i]);
  return PMap.fromSorted(entries, PMap.emptyNumber<number>());
}

/** PMap<number>.set of a fresh key + delete of it, n live keys: µs per pair. */
function pmapSetDelete(n: number, ops: number): Body {
  let m = numberMap(n, 2, 0);
  const r = rng(17);
  const ks: number[] = [];
  for (let i = 0; i < ops; i++) ks.push(Math.floor(r() * n) * 2 + 1);
  return () => {
    for (let i = 0; i < ops; i++) {
      const k = ks[i]!;
      m = m.set(k, i).delete(k);
    }
    if (m.size !== n) throw new Error('bench: pmap size drift');
  };
}

/** PMap<number>.set overwriting an existing key, n live keys: µs per op. */
function pmapOverwrite(n: number, ops: number): Body {
  let m = numberMap(n, 1, 0);
  const r = rng(19);
  const ks: number[] = [];
  for (let i = 0; i < ops; i++) ks.push(Math.floor(r() * n));
  let round = 0;
  return () => {
    round++;
    for (let i = 0; i < ops; i++) m = m.set(ks[i]!, round * ops + i);
  };
}

/** PMap<number>.get of a present key, n live keys: µs per op. */
function pmapGet(n: number, ops: number): Body {
  const m = numberMap(n, 1, 0);
  const r = rng(23);
  const ks: number[] = [];
  for (let i = 0; i < ops; i++) ks.push(Math.floor(r() * n));
  return () => {
    let sum = 0;
    for (let i = 0; i < ops; i++) sum += m.get(ks[i]!)!;
    if (sum < 0) throw new Error('unreachable');
  };
}

/** PMap<bigint>.set of a fresh key + delete, n live keys: µs per pair. */
function pmapBigint(n: number, ops: number): Body {
  const entries: [bigint, number][] = [];
  for (let i = 0; i < n; i++) entries.push([BigInt(i) * 0x2000n, i]);
  let m = PMap.fromSorted(entries, PMap.emptyBigint<number>());
  const r = rng(29);
  const ks: bigint[] = [];
  for (let i = 0; i < ops; i++) ks.push(BigInt(Math.floor(r() * n)) * 0x2000n + 0x1000n);
  return () => {
    for (let i = 0; i < ops; i++) {
      const k = ks[i]!;
      m = m.set(k, i).delete(k);
    }
  };
}

/** xarray-style ID reuse: delete a random ID, lowestFreeKey(1) finds it, set it again; n IDs: µs per round. */
function pmapLowestFree(n: number, ops: number): Body {
  let m = numberMap(n, 1, 1);
  const r = rng(31);
  const holes: number[] = [];
  for (let i = 0; i < ops; i++) holes.push(1 + Math.floor(r() * n));
  return () => {
    for (let i = 0; i < ops; i++) {
      const h = holes[i]!;
      const m2 = m.delete(h);
      const id = m2.lowestFreeKey(1);
      if (id !== h) throw new Error('bench: lowestFreeKey');
      m = m2.set(id, i);
    }
  };
}

/**
 * Runs all benchmarks; returns figures in µs per op (or per op pair) keyed
 * by name, plus `*.ratio` entries (1M figure / 1k figure). `opts.ops`
 * scales the iteration counts (default 200k) for quicker runs.
 */
export async function benchDs(opts: { ops?: number; reps?: number } = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const OPS = opts.ops ?? 200_000;
  const REPS = opts.reps ?? 3;
  const K = 1_000;
  const M = 1_000_000;
  const run = (name: string, mk: (n: number, ops: number) => Body, n: number, ops = OPS): void => {
    out[name] = measure(mk(n, ops), ops, REPS);
  };
  const ratio = (name: string): void => {
    out[`${name}.ratio`] = out[`${name}.1M`]! / out[`${name}.1k`]!;
  };
  run('interval.churn.1k', intervalChurn, K);
  run('interval.churn.1M', intervalChurn, M);
  ratio('interval.churn');
  run('interval.insfresh.1k', intervalInsertFresh, K);
  run('interval.insfresh.1M', intervalInsertFresh, M);
  ratio('interval.insfresh');
  run('interval.find.1k', intervalFind, K);
  run('interval.find.1M', intervalFind, M);
  ratio('interval.find');
  run('interval.firstfit.1k', intervalFirstFit, K, OPS / 4);
  run('interval.firstfit.1M', intervalFirstFit, M, OPS / 4);
  ratio('interval.firstfit');
  run('pmap.setdel.1k', pmapSetDelete, K);
  run('pmap.setdel.1M', pmapSetDelete, M);
  ratio('pmap.setdel');
  run('pmap.overwrite.1k', pmapOverwrite, K);
  run('pmap.get.1k', pmapGet, K);
  run('pmap.get.1M', pmapGet, M);
  ratio('pmap.get');
  run('pmap.bigint.setdel.1k', pmapBigint, K);
  run('pmap.lowestFree.1k', pmapLowestFree, K);
  run('pmap.lowestFree.1M', pmapLowestFree, M, OPS / 4);
  ratio('pmap.lowestFree');
  return out;
}

async function main(): Promise<void> {
  const res = await benchDs();
  const w = Math.max(...Object.keys(res).map((k) => k.length));
  for (const [k, v] of Object.entries(res)) {
    const unit = k.endsWith('.ratio') ? 'x' : ' µs/op';
    console.log(`${k.padEnd(w)}  ${v.toFixed(3)}${unit}`);
  }
  const ratio = res['interval.churn.ratio']!;
  console.log(`target interval insert+remove 1M/1k <= 2x: ${ratio <= 2 ? 'MET' : 'NOT MET'} (${ratio.toFixed(2)}x)`);
  console.log(`(${USE_WALL ? 'wall-clock' : 'process CPU'} time; set BENCH_DS_WALL=1 for wall-clock)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
