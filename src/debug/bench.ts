/**
 * The debugger's figures on a generated VM-style trace (src/bench/vm_trace),
 * or on one whose state is large (src/bench/large_state_trace: hundreds of
 * thousands of live mappings, whose checkpoints cost five times as much
 * memory an event, so that on longer traces the index's budget decides):
 *  - index_events_per_sec: opening the trace file and building the index
 *    (decode + apply every event + checkpoints + history logs), end to end;
 *  - seek_ms_p99: reaching a random event from wherever the cursor is
 *    (state before it + its answer), 99th percentile; seek_ms_max the
 *    slowest of them (#7 asks for "any seek" within 20 ms);
 *  - step_ms_p99: one step forward or back, state and diff of the step
 *    (step_ms_max likewise);
 *  - debug_rss_mb: resident memory of the process holding the index, after
 *    building it and after the seeks and steps, each time settled: a full
 *    collection, then 300 ms for V8's background sweeping to hand the freed
 *    pages back, twice (the figure an idle debugger shows in `top`). Read
 *    right after the collection instead, resident memory is 40-60 MB higher
 *    and jitters with the sweeper's progress: that figure is rss_after_gc_mb,
 *    and rss_peak_mb is the one before any collection.
 * The index is built in a child process (`node --expose-gc bench.js
 * --child`) so the resident-memory figure is the debugger's alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vmTrace, xorshift } from '../bench/vm_trace.js';
import { largeStateTrace } from '../bench/large_state_trace.js';
import { writeTrace } from '../trace/index.js';
import { openSource } from '../engine/source.js';
import { DebugIndex } from './history.js';

export interface DebugBench {
  seek_ms_p99: number;
  step_ms_p99: number;
  debug_rss_mb: number;
  index_events_per_sec: number;
  /** Details (not in tools/bench.ts's object). */
  events: number;
  checkpoints: number;
  seek_ms_p50: number;
  seek_ms_max: number;
  step_ms_p50: number;
  step_ms_max: number;
  index_ms: number;
  /** V8 heap in use after the build (checkpoint worlds, mostly). */
  heap_mb: number;
  /** Resident memory before a collection, right after the seeks and steps. */
  rss_peak_mb: number;
  /** Resident memory read right after a collection (the larger of the two readings). */
  rss_after_gc_mb: number;
  /** Typed-array columns, logs and encoded events. */
  columns_mb: number;
  /** Times the checkpoints were thinned to keep the index's memory budget (history.ts). */
  thinnings: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? 0;
};
const r2 = (v: number) => Math.round(v * 100) / 100;

/** Resident memory once the collector's background work is done (see debug_rss_mb above). */
async function settledRss(gc: (() => void) | undefined): Promise<number> {
  for (let k = 0; k < 2; k++) {
    gc?.();
    await new Promise((res) => setTimeout(res, 300));
  }
  return process.memoryUsage().rss;
}

/** Runs in the child: index the trace file, then measure seeks and steps. */
async function child(path: string, nSeeks: number): Promise<DebugBench> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const t0 = performance.now();
  const src = await openSource(path);
  const ix = new DebugIndex({ kernel: src.kernel });
  await ix.ingestSource(src);
  const indexMs = performance.now() - t0;
  const n = ix.length;
  gc?.();
  const mem = process.memoryUsage();
  let rssAfterGc = mem.rss;
  let rss = await settledRss(gc);
  // reproducible seek positions in [0, 1)
  const next = xorshift(0x5eec);
  const rnd = () => next() / 4294967296;
  // warm up the code paths once
  for (let k = 0; k < 20; k++) ix.patchesAt(Math.floor(rnd() * n));
  const seeks: number[] = [];
  for (let k = 0; k < nSeeks; k++) {
    const i = Math.floor(rnd() * n);
    const a = performance.now();
    ix.step(i);
    seeks.push(performance.now() - a);
  }
  const steps: number[] = [];
  for (let k = 0; k < 20; k++) {
    let i = Math.floor(rnd() * (n - 200)) + 100;
    ix.patchesAt(i);
    for (let s = 0; s < 50; s++) {
      const dir = s < 25 ? 1 : -1;
      i += dir;
      const a = performance.now();
      ix.patchesAt(i);
      steps.push(performance.now() - a);
    }
  }
  const peak = process.memoryUsage().rss;
  gc?.();
  rssAfterGc = Math.max(rssAfterGc, process.memoryUsage().rss);
  rss = Math.max(rss, await settledRss(gc));
  return {
    seek_ms_p99: r2(pct(seeks, 99)),
    step_ms_p99: r2(pct(steps, 99)),
    debug_rss_mb: Math.round(rss / 1048576),
    index_events_per_sec: Math.round((n / indexMs) * 1000),
    events: n,
    checkpoints: ix.checkpoints,
    seek_ms_p50: r2(pct(seeks, 50)),
    seek_ms_max: r2(pct(seeks, 100)),
    step_ms_p50: r2(pct(steps, 50)),
    step_ms_max: r2(pct(steps, 100)),
    index_ms: Math.round(indexMs),
    heap_mb: Math.round(mem.heapUsed / 1048576),
    rss_peak_mb: Math.round(Math.max(peak, rssAfterGc, rss) / 1048576),
    rss_after_gc_mb: Math.round(rssAfterGc / 1048576),
    columns_mb: Math.round(ix.columnBytes / 1048576),
    thinnings: ix.thinnings,
  };
}

/** Generates the trace file, then indexes and measures it in a child process. */
export async function benchDebug(opts: { events?: number; trace?: 'vm' | 'large-state'; seeks?: number; log?: (s: string) => void } = {}): Promise<DebugBench> {
  const events = opts.events ?? 1_000_000;
  const large = opts.trace === 'large-state';
  const dir = mkdtempSync(join(tmpdir(), 'iorewind-debug-bench-'));
  const file = join(dir, large ? 'large-state.iort' : 'vm.iort');
  try {
    opts.log?.(`  writing a ${events}-event ${large ? 'large-state' : 'VM-style'} trace...`);
    await writeTrace(file, { kernel: '6.12', meta: { generator: large ? 'large_state_trace' : 'vm_trace' } }, large ? largeStateTrace({ events }) : vmTrace({ events }));
    opts.log?.('  indexing it in a child process...');
    const me = fileURLToPath(import.meta.url);
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--expose-gc', me, '--child', file, String(opts.seeks ?? 400)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      p.stdout.on('data', (d: Buffer) => (s += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`debug bench child exited with ${code}`))));
    });
    return JSON.parse(out.trim().split('\n').pop()!) as DebugBench;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  child(process.argv[3]!, Number(process.argv[4] ?? 400)).then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
