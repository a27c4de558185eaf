/**
 * Micro-benchmarks for the persistent collections in src/ds.
 *
 *   npx tsc -p tsconfig.json && node dist/tools/bench_ds.js
 *
 * Figures are µs per operation (or per op pair). Deterministic inputs: a
 * fixed-seed xorshift PRNG defined below (no Math.random).
 */

import { pathToFileURL } from 'node:url';
import { IntervalMap } from '../src/ds/interval_map.js';
import { PMap } from '../src/ds/pmap.js';

/** xorshift128+ style 32-bit PRNG (sfc32), fixed seed. */
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
const MiB = 1024 * 1024;

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

/** µs per (remove + re-insert) pair at steady state with n live intervals. */
function benchIntervalChurn(n: number, ops: number): number {
  const { starts, lasts } = layout(n, 42);
  let m = IntervalMap.fromSorted<number>(starts.map((s, i) => [s, lasts[i]!, i] as const));
  const r = rng(7);
  const idx: number[] = [];
  for (let i = 0; i < ops; i++) idx.push(Math.floor(r() * n));
  // warm-up
  for (let i = 0; i < Math.min(ops, 20000); i++) {
    const j = idx[i]!;
    m = m.remove(starts[j]!).insert(starts[j]!, lasts[j]!, j);
  }
  const t0 = now();
  for (let i = 0; i < ops; i++) {
    const j = idx[i]!;
    m = m.remove(starts[j]!).insert(starts[j]!, lasts[j]!, j);
  }
  const dt = now() - t0;
  if (m.size !== n) throw new Error('bench: size drift');
  return dt / ops;
}

/** µs per (insert into a random hole + remove) pair with n live intervals. */
function benchIntervalInsertFresh(n: number, ops: number): number {
  const { starts, lasts } = layout(n, 43);
  const base = IntervalMap.fromSorted<number>(starts.map((s, i) => [s, lasts[i]!, i] as const));
  const r = rng(9);
  // fresh 4 KiB intervals placed in the hole after a random interval (if any)
  const ins: bigint[] = [];
  for (let i = 0; i < ops; i++) {
    const j = Math.floor(r() * n);
    const s = lasts[j]! + 1n;
    if (j + 1 < n && starts[j + 1]! <= s) continue;
    ins.push(s);
  }
  let m = base;
  let cnt = 0;
  const t0 = now();
  for (let i = 0; i < ins.length; i++) {
    const s = ins[i]!;
    m = m.insert(s, s + 0xfffn, -1).remove(s);
    cnt++;
  }
  const dt = now() - t0;
  return dt / cnt;
}

/** µs per find() at n live intervals. */
function benchIntervalFind(n: number, ops: number): number {
  const { starts, lasts } = layout(n, 44);
  const m = IntervalMap.fromSorted<number>(starts.map((s, i) => [s, lasts[i]!, i] as const));
  const r = rng(11);
  const q: bigint[] = [];
  for (let i = 0; i < ops; i++) {
    const j = Math.floor(r() * n);
    q.push(starts[j]! + (lasts[j]! - starts[j]!) / 2n);
  }
  let hits = 0;
  const t0 = now();
  for (let i = 0; i < ops; i++) if (m.find(q[i]!) !== undefined) hits++;
  const dt = now() - t0;
  if (hits !== ops) throw new Error('bench: find miss');
  return dt / ops;
}

/** µs per first-fit allocate (firstHole + insert) + free, at n live intervals. */
function benchFirstFit(n: number, ops: number): number {
  const { starts, lasts } = layout(n, 45);
  const m = IntervalMap.fromSorted<number>(starts.map((s, i) => [s, lasts[i]!, i] as const));
  const r = rng(13);
  const sizes: bigint[] = [];
  for (let i = 0; i < ops; i++) sizes.push(BigInt((1 + Math.floor(r() * 512)) * 4 * KiB));
  const accept = (hs: bigint): bigint => hs;
  const t0 = now();
  for (let i = 0; i < ops; i++) {
    const len = sizes[i]!;
    const s = m.firstHole(0n, 0xffff_ffff_ffffn, len, accept);
    if (s === undefined) throw new Error('bench: no hole');
    m.insert(s, s + len - 1n, i).remove(s);
  }
  return (now() - t0) / ops;
}

/** µs per PMap.set (fresh key) + delete pair at n live number keys. */
function benchPMapSetDelete(n: number, ops: number): number {
  let m = PMap.emptyNumber<number>();
  const entries: [number, number][] = [];
  for (let i = 0; i < n; i++) entries.push([i * 2, i]);
  m = PMap.fromSorted(entries, PMap.emptyNumber<number>());
  const r = rng(17);
  const ks: number[] = [];
  for (let i = 0; i < ops; i++) ks.push(Math.floor(r() * n) * 2 + 1);
  const t0 = now();
  for (let i = 0; i < ops; i++) {
    const k = ks[i]!;
    m = m.set(k, i).delete(k);
  }
  const dt = now() - t0;
  if (m.size !== n) throw new Error('bench: pmap size drift');
  return dt / ops;
}

/** µs per PMap.set overwriting an existing key at n live keys. */
function benchPMapOverwrite(n: number, ops: number): number {
  const entries: [number, number][] = [];
  for (let i = 0; i < n; i++) entries.push([i, i]);
  let m = PMap.fromSorted(entries, PMap.emptyNumber<number>());
  const r = rng(19);
  const ks: number[] = [];
  for (let i = 0; i < ops; i++) ks.push(Math.floor(r() * n));
  const t0 = now();
  for (let i = 0; i < ops; i++) m = m.set(ks[i]!, -i - 1);
  return (now() - t0) / ops;
}

/** µs per PMap.get at n live keys. */
function benchPMapGet(n: number, ops: number): number {
  const entries: [number, number][] = [];
  for (let i = 0; i < n; i++) entries.push([i, i]);
  const m = PMap.fromSorted(entries, PMap.emptyNumber<number>());
  const r = rng(23);
  const ks: number[] = [];
  for (let i = 0; i < ops; i++) ks.push(Math.floor(r() * n));
  let sum = 0;
  const t0 = now();
  for (let i = 0; i < ops; i++) sum += m.get(ks[i]!)!;
  const dt = now() - t0;
  if (sum < 0) throw new Error('unreachable');
  return dt / ops;
}

/** µs per bigint-keyed PMap.set (fresh) + delete pair at n live keys. */
function benchPMapBigint(n: number, ops: number): number {
  const entries: [bigint, number][] = [];
  for (let i = 0; i < n; i++) entries.push([BigInt(i) * 0x2000n, i]);
  let m = PMap.fromSorted(entries, PMap.emptyBigint<number>());
  const r = rng(29);
  const ks: bigint[] = [];
  for (let i = 0; i < ops; i++) ks.push(BigInt(Math.floor(r() * n)) * 0x2000n + 0x1000n);
  const t0 = now();
  for (let i = 0; i < ops; i++) {
    const k = ks[i]!;
    m = m.set(k, i).delete(k);
  }
  return (now() - t0) / ops;
}

/** µs per lowestFreeKey(1) + set + delete of that id, with n ids allocated. */
function benchLowestFree(n: number, ops: number): number {
  const entries: [number, number][] = [];
  for (let i = 1; i <= n; i++) entries.push([i, i]);
  let m = PMap.fromSorted(entries, PMap.emptyNumber<number>());
  const r = rng(31);
  // punch one hole at a random place, then allocate / free it repeatedly
  const holes: number[] = [];
  for (let i = 0; i < ops; i++) holes.push(1 + Math.floor(r() * n));
  const t0 = now();
  for (let i = 0; i < ops; i++) {
    const h = holes[i]!;
    const m2 = m.delete(h);
    const id = m2.lowestFreeKey(1);
    if (id !== h) throw new Error('bench: lowestFreeKey');
    m = m2.set(id, i);
  }
  return (now() - t0) / ops;
}

/** Runs all benchmarks; returns figures in µs keyed by name. */
export async function benchDs(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const OPS = 200_000;
  out['interval.churn.1k'] = benchIntervalChurn(1_000, OPS);
  out['interval.churn.1M'] = benchIntervalChurn(1_000_000, OPS);
  out['interval.churn.ratio'] = out['interval.churn.1M'] / out['interval.churn.1k'];
  out['interval.insfresh.1k'] = benchIntervalInsertFresh(1_000, OPS);
  out['interval.insfresh.1M'] = benchIntervalInsertFresh(1_000_000, OPS);
  out['interval.insfresh.ratio'] = out['interval.insfresh.1M'] / out['interval.insfresh.1k'];
  out['interval.find.1k'] = benchIntervalFind(1_000, OPS);
  out['interval.find.1M'] = benchIntervalFind(1_000_000, OPS);
  out['interval.firstfit.1k'] = benchFirstFit(1_000, OPS / 4);
  out['interval.firstfit.1M'] = benchFirstFit(1_000_000, OPS / 4);
  out['pmap.setdel.1k'] = benchPMapSetDelete(1_000, OPS);
  out['pmap.setdel.1M'] = benchPMapSetDelete(1_000_000, OPS);
  out['pmap.overwrite.1k'] = benchPMapOverwrite(1_000, OPS);
  out['pmap.get.1k'] = benchPMapGet(1_000, OPS);
  out['pmap.get.1M'] = benchPMapGet(1_000_000, OPS);
  out['pmap.bigint.setdel.1k'] = benchPMapBigint(1_000, OPS);
  out['pmap.lowestFree.1k'] = benchLowestFree(1_000, OPS);
  out['pmap.lowestFree.1M'] = benchLowestFree(1_000_000, OPS / 4);
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
  console.log(`target interval 1M/1k <= 2x: ${ratio <= 2 ? 'MET' : 'NOT MET'} (${ratio.toFixed(2)}x)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
