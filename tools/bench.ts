/**
 * `npm run bench [-- --json] [-- --quick] [-- --only SECTION[,SECTION]]`:
 * replay throughput on a generated 1M-event VM-style trace, map/unmap cost
 * at 1k vs 1M live areas, plus the trace codec and persistent-structure
 * figures. Prints one JSON object with --json (later issues add their keys
 * to the same object).
 *
 * `--only` (or $IOREWIND_BENCH_ONLY) runs just the named sections: replay,
 * maps, trace, debug, debug-large, fuzz, oracle. `npm run bench -- --json --only oracle`
 * measures the real-kernel oracle alone (`oracle_ioctls_per_sec`, about a
 * minute) without the several minutes of the others.
 */
import type { Event } from '../src/events/event.js';
import { apply } from '../src/engine/apply.js';
import { vmTrace } from '../src/bench/vm_trace.js';
import { emptyWorld, type World } from '../src/model/state.js';
import { benchTrace } from '../src/trace/bench.js';
import { benchDebug } from '../src/debug/bench.js';
import { benchFuzz } from '../src/fuzz/bench.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const SECTIONS = ['replay', 'maps', 'trace', 'debug', 'debug-large', 'fuzz', 'oracle'];
const onlyArg = process.argv.find((a, i) => a.startsWith('--only=') || process.argv[i - 1] === '--only');
const only = (onlyArg?.replace(/^--only=/, '') ?? process.env['IOREWIND_BENCH_ONLY'] ?? '').split(',').filter(Boolean);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`bench: unknown section ${s} (sections: ${SECTIONS.join(', ')})`);
const run = (section: string) => !only.length || only.includes(section);
const log = (s: string) => {
  if (!json) console.log(s);
};

/** Replay rate over a VM-style trace; events are generated ahead of the timed loop, in chunks. */
function replayRate(total: number): { rate: number; errors: number } {
  let w = emptyWorld({ kernel: '6.12' });
  const gen = vmTrace({ events: total, live: 1000 });
  let ms = 0;
  let n = 0;
  let errors = 0;
  for (;;) {
    const chunk: Event[] = [];
    for (let i = 0; i < 100_000; i++) {
      const r = gen.next();
      if (r.done) break;
      chunk.push(r.value);
    }
    if (!chunk.length) break;
    const t0 = performance.now();
    for (const ev of chunk) {
      const r = apply(w, ev);
      w = r.state;
      if (r.result.errno) errors++;
    }
    ms += performance.now() - t0;
    n += chunk.length;
  }
  return { rate: Math.round((n / ms) * 1000), errors };
}

const GUEST = 0x7f0000000000n;

/** A world with one mock-domain IOAS holding `live` 4 KiB areas at fixed IOVAs. */
function worldWithAreas(live: number): World {
  let w = emptyWorld({ kernel: '6.12' });
  const run = (ev: Event) => {
    const r = apply(w, ev);
    if (r.result.errno) throw new Error(`bench setup: ${ev.op} failed with ${r.result.errno}`);
    w = r.state;
  };
  run({ op: 'open', args: { path: '/dev/iommu' } });
  run({ op: 'mmap', args: { va: GUEST, length: 0x400000n, kind: 'anon_hugetlb' } });
  run({ op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } });
  // No domain: with one, the mock aperture (2 GiB) could not hold 1M areas 8 KiB apart.
  for (let i = 0; i < live; i++)
    run({ op: 'IOMMU_IOAS_MAP', fd: 0, args: { ioas_id: 1, flags: 7, user_va: GUEST, length: 0x1000n, iova: 0x100000000n + BigInt(i) * 0x2000n, __reserved: 0 } });
  return w;
}

/** Mean µs of one MAP + UNMAP pair of a 4 KiB buffer among `live` areas. */
function mapUnmapCost(w: World, live: number, pairs: number): number {
  const t0 = performance.now();
  let s = w;
  for (let i = 0; i < pairs; i++) {
    const iova = 0x100000000n + BigInt(i % live) * 0x2000n + 0x1000n;
    s = apply(s, { op: 'IOMMU_IOAS_MAP', fd: 0, args: { ioas_id: 1, flags: 7, user_va: GUEST, length: 0x1000n, iova, __reserved: 0 } }).state;
    s = apply(s, { op: 'IOMMU_IOAS_UNMAP', fd: 0, args: { ioas_id: 1, iova, length: 0x1000n } }).state;
  }
  return ((performance.now() - t0) * 1000) / pairs;
}

async function main() {
  const out: Record<string, number> = {};
  if (run('replay')) {
    const events = quick ? 200_000 : 1_000_000;
    log(`replaying a generated VM-style trace of ${events} events...`);
    const r = replayRate(events);
    out['replay_events_per_sec'] = r.rate;
    out['replay_events'] = events;
    log(`  ${r.rate} events/s (${r.errors} failed ioctls in the trace)`);
  }

  if (run('maps')) {
    const big = quick ? 100_000 : 1_000_000;
    log(`map/unmap cost at 1k and ${big} live areas...`);
    const w1k = worldWithAreas(1000);
    mapUnmapCost(w1k, 1000, 5000); // warm-up
    out['map_unmap_us_at_1k'] = round(mapUnmapCost(w1k, 1000, 20000));
    const t0 = performance.now();
    const wBig = worldWithAreas(big);
    out['setup_maps_per_sec'] = Math.round((big / (performance.now() - t0)) * 1000);
    out[quick ? 'map_unmap_us_at_100k' : 'map_unmap_us_at_1m'] = round(mapUnmapCost(wBig, big, 20000));
    log(`  1k: ${out['map_unmap_us_at_1k']} µs   ${big}: ${out[quick ? 'map_unmap_us_at_100k' : 'map_unmap_us_at_1m']} µs per map+unmap pair`);
  }

  let t: Record<string, number> = {};
  if (run('trace')) {
    log('trace codec...');
    t = await benchTrace({ events: quick ? 200_000 : 1_000_000 });
    for (const [k, v] of Object.entries(t)) out[`trace_${k}`] = v;
  }
  if (run('debug')) {
    log('debugger: index build, seek, step, resident memory...');
    const d = await benchDebug({ events: quick ? 200_000 : 1_000_000, log });
    for (const k of ['seek_ms_p99', 'seek_ms_max', 'step_ms_p99', 'step_ms_max', 'debug_rss_mb', 'index_events_per_sec'] as const) out[k] = d[k];
    log(`  seek p99 ${d.seek_ms_p99} ms (max ${d.seek_ms_max}), step p99 ${d.step_ms_p99} ms (max ${d.step_ms_max}), ${d.debug_rss_mb} MB resident, index ${d.index_events_per_sec} events/s (${d.events} events, ${d.checkpoints} checkpoints)`);
  }
  if (run('debug-large')) {
    // The debugger on a large state (300k live mappings under random churn): checkpoints cost
    // ~1 KB an event here (the VM trace: 0.2 KB), so a few million events reach the index's
    // memory budget, and seeks replay further from then on (thinnings counts it).
    log('debugger on a large state: 300k live mappings, then churn...');
    const d = await benchDebug({ events: quick ? 400_000 : 1_000_000, trace: 'large-state', seeks: 100, log });
    out['large_state_index_events_per_sec'] = d.index_events_per_sec;
    out['large_state_seek_ms_p99'] = d.seek_ms_p99;
    out['large_state_seek_ms_max'] = d.seek_ms_max;
    out['large_state_step_ms_p99'] = d.step_ms_p99;
    out['large_state_step_ms_max'] = d.step_ms_max;
    out['large_state_rss_mb'] = d.debug_rss_mb;
    out['large_state_rss_peak_mb'] = d.rss_peak_mb;
    out['large_state_thinnings'] = d.thinnings;
    log(`  seek p50 ${d.seek_ms_p50} ms, p99 ${d.seek_ms_p99} ms, max ${d.seek_ms_max} ms, step p99 ${d.step_ms_p99} ms, ${d.debug_rss_mb} MB resident (peak ${d.rss_peak_mb}), index ${d.index_events_per_sec} events/s (${d.events} events, ${d.checkpoints} checkpoints, thinned ${d.thinnings} times)`);
  }
  if (run('fuzz')) {
    log('fuzzing (one thread, every invariant after every event)...');
    out['fuzz_steps_per_sec'] = benchFuzz({ quick, log }).fuzz_steps_per_sec;
  }
  if (run('oracle')) {
    // The real kernel under QEMU, where it can run (docs/oracle.md); skipped without QEMU, gcc or the kit.
    log('the real kernel (oracle): the vmm workload, boots included...');
    const o = await (await import('../src/oracle/bench.js')).benchOracle({ quick });
    if (o) Object.assign(out, o);
    if (o) log(`oracle: ${o['oracle_ioctls_per_sec']} kernel ioctls/s through the whole loop, boot included (${o['oracle_guests']} guest(s), ${o['oracle_divergences']} divergences)`);
    else log('oracle: skipped (no QEMU, gcc or oracle kit)');
  }
  if (json) console.log(JSON.stringify(out));
  else for (const [k, v] of Object.entries(t)) console.log(`  ${k}: ${v}`);
}

const round = (v: number) => Math.round(v * 100) / 100;
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
