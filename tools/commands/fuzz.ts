/**
 * `iorewind fuzz [--seed S] [--runs N] [--max-steps M] [--time T] [--workers W]
 *                [--out DIR] [--kernel 6.12|6.14] [--path P --replay-path R] [--invariants a,b]
 *                [--events x,y] [--hostile H] [--json]`
 * `iorewind fuzz --check TRACE [--kernel K]`
 * `iorewind fuzz --list`
 *
 * Property-based fuzzing of the model with every invariant checked after
 * every event (src/fuzz, src/invariants). Reproducible: a run is determined by
 * the seed (and, for one counterexample, the fast-check path). A failure is
 * shrunk and written to DIR as `<name>.iort`, `<name>.iort.jsonl` (replay them
 * with `iorewind replay`: the divergence is at the failing event),
 * `<name>.txt` and `<name>.json`. Exit 1 when something failed.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { openSource } from '../../src/engine/source.js';
import type { Event } from '../../src/events/event.js';
import { runCampaign, workerSeed } from '../../src/fuzz/campaign.js';
import { HOSTILE_LIMIT, MAX_STEPS_LIMIT } from '../../src/fuzz/run.js';
import { checkEvents, EVENT_KINDS } from '../../src/fuzz/index.js';
import { INVARIANTS, INVARIANT_NAMES } from '../../src/invariants/index.js';
import type { KernelVersion } from '../../src/model/state.js';
import { formatEvent } from '../../src/trace/index.js';

export const summary = 'property-based fuzzing with every invariant checked after every event';

const USAGE = `usage: iorewind fuzz [--seed S] [--runs N] [--max-steps M] [--time T] [--workers W] [--out DIR]
                     [--kernel 6.12|6.14] [--path P --replay-path R] [--invariants a,b] [--events x,y] [--hostile H] [--json]
       iorewind fuzz --check TRACE [--kernel 6.12|6.14]
       iorewind fuzz --list
       iorewind fuzz --oracle [--seed S] [--ioctls N] [--batch N] [--max-steps M] [--out DIR] [--json]   (on the real 6.12 kernel: iorewind oracle --help)
  --max-steps M: events a run generates after its setup, 1..${MAX_STEPS_LIMIT} (default 40);
  --hostile H: weight of each hostile value against ~100 for a valid one, 0..${HOSTILE_LIMIT} (default 4)`;

function parseTime(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) throw new Error(`--time: expected a duration like 60, 30s, 2m, got '${s}'`);
  const v = Number(m[1]);
  return v * ({ ms: 1, s: 1000, m: 60000, h: 3600000 } as Record<string, number>)[m[2] ?? 's']!;
}

function int(s: string | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = Number(s);
  if (s === undefined || !Number.isInteger(v) || v < 0) throw new Error(`${what}: expected a non-negative integer, got '${s}'`);
  if (v > max) throw new Error(`${what}: at most ${max}, got ${s}`);
  return v;
}

export async function run(argv: string[]): Promise<number> {
  // --oracle: the generated sequences run on the real 6.12 kernel (src/oracle, docs/oracle.md).
  if (argv.includes('--oracle')) return (await import('./oracle.js')).run(['--fuzz', ...argv.filter((a) => a !== '--oracle')]);
  const opt = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json' || a === '--list' || a === '--help' || a === '-h') flags.add(a);
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) opt.set(a.slice(0, eq), a.slice(eq + 1));
      else {
        const v = argv[++i];
        // (the next option is no value: `--check --json` lacks its trace)
        if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value\n${USAGE}`);
        opt.set(a, v);
      }
    } else throw new Error(`unexpected argument '${a}'\n${USAGE}`);
  }
  if (flags.has('--help') || flags.has('-h')) {
    console.log(USAGE);
    return 0;
  }
  const known = new Set(['--seed', '--runs', '--max-steps', '--time', '--workers', '--out', '--kernel', '--path', '--replay-path', '--invariants', '--events', '--hostile', '--check', '--replay-every']);
  for (const k of opt.keys()) if (!known.has(k)) throw new Error(`unknown option ${k}\n${USAGE}`);
  const kernel = (opt.get('--kernel') ?? '6.12') as KernelVersion;
  if (kernel !== '6.12' && kernel !== '6.14') throw new Error(`--kernel: 6.12 or 6.14, got '${kernel}'`);
  const json = flags.has('--json');

  if (flags.has('--list')) {
    console.log('invariants:');
    for (const i of INVARIANTS) console.log(`  ${i.name.padEnd(28)} ${i.summary}`);
    console.log(`event kinds (${EVENT_KINDS.length}): ${EVENT_KINDS.join(' ')}`);
    return 0;
  }

  const invariants = opt.get('--invariants')?.split(',').filter(Boolean);
  for (const n of invariants ?? []) if (!INVARIANT_NAMES.includes(n)) throw new Error(`unknown invariant '${n}' (iorewind fuzz --list)`);

  const check = opt.get('--check');
  if (check !== undefined) {
    const src = await openSource(check, opt.has('--kernel') ? kernel : undefined);
    const events: Event[] = [];
    // a trace cut short is checked up to its bad record, then the error decides the status (as replay does)
    let stopped: Error | null = null;
    try {
      for await (const ev of src.events) events.push(ev);
    } catch (e) {
      stopped = e instanceof Error ? e : new Error(String(e));
      if (events.length === 0) throw stopped;
    }
    const r = checkEvents(events, src.kernel, invariants ? { invariants } : {});
    if (json) console.log(JSON.stringify({ file: check, kernel: src.kernel, events: events.length, violation: r ? { index: r.index, violations: r.violations } : null, stopped: stopped ? stopped.message : null }));
    else if (!r) console.log(`${check}: ${events.length} events, every invariant holds (Linux ${src.kernel} profile)`);
    else {
      console.log(`${check}: invariant ${r.violations[0]!.invariant} violated at event #${r.index}: ${formatEvent(events[r.index]!, r.index)}`);
      for (const v of r.violations) console.log(`  ${v.invariant}: ${v.message}`);
    }
    if (stopped) {
      console.error(`iorewind fuzz --check: stopped after ${events.length} events: ${stopped.message}`);
      return 2;
    }
    return r ? 1 : 0;
  }

  const events = opt.get('--events')?.split(',').filter(Boolean);
  for (const n of events ?? []) if (!EVENT_KINDS.includes(n)) throw new Error(`unknown event kind '${n}' (iorewind fuzz --list)`);
  const seed = opt.has('--seed') ? int(opt.get('--seed'), '--seed') >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
  const workers = opt.has('--workers') ? int(opt.get('--workers'), '--workers') : 1;
  // Each worker is a thread with its own V8 heap (tens of MB): more than a few per core only costs memory.
  const maxWorkers = 4 * availableParallelism();
  if (workers < 1 || workers > maxWorkers) throw new Error(`--workers: 1..${maxWorkers} on this machine (${availableParallelism()} cores), got ${workers}`);
  const timeMs = opt.has('--time') ? parseTime(opt.get('--time')!) : undefined;
  const runs = opt.has('--runs') ? int(opt.get('--runs'), '--runs') : undefined;
  const maxSteps = opt.has('--max-steps') ? Math.max(1, int(opt.get('--max-steps'), '--max-steps', MAX_STEPS_LIMIT)) : undefined;
  const hostile = opt.has('--hostile') ? int(opt.get('--hostile'), '--hostile', HOSTILE_LIMIT) : undefined;
  const replayEvery = opt.has('--replay-every') ? int(opt.get('--replay-every'), '--replay-every') : undefined;
  const out = opt.get('--out') ?? 'fuzz-out';
  // (refused now, not after a long campaign found and shrank a counterexample it then cannot write)
  if (existsSync(out) && !statSync(out).isDirectory()) throw new Error(`--out: ${out} is not a directory`);
  const tty = process.stderr.isTTY && !json;
  if (!json)
    console.error(
      `iorewind fuzz: seed ${seed}, ${workers} worker${workers > 1 ? `s (seeds ${Array.from({ length: workers }, (_, k) => workerSeed(seed, k)).join(', ')})` : ''}, Linux ${kernel} profile, ${INVARIANTS.length - (invariants ? INVARIANTS.length - invariants.length : 0)} invariants`,
    );
  let lastLine = 0;
  const res = await runCampaign({
    seed,
    ...(runs !== undefined ? { runs } : {}),
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(timeMs !== undefined ? { timeMs } : {}),
    workers,
    out,
    kernel,
    ...(opt.get('--path') ? { path: opt.get('--path')! } : {}),
    ...(opt.get('--replay-path') ? { replayPath: opt.get('--replay-path')! } : {}),
    ...(invariants ? { invariants } : {}),
    ...(events ? { events } : {}),
    ...(hostile !== undefined ? { hostile } : {}),
    ...(replayEvery !== undefined ? { replayEvery } : {}),
    onProgress: (p) => {
      if (json) return;
      const now = performance.now();
      if (!tty && now - lastLine < 5000) return;
      lastLine = now;
      const rate = p.elapsedMs > 0 ? Math.round((p.steps / p.elapsedMs) * 1000) : 0;
      const bar = '#'.repeat(Math.round(p.done * 20)).padEnd(20, '.');
      const line = `[${bar}] ${(p.done * 100).toFixed(0).padStart(3)}%  runs ${p.runs}  steps ${p.steps}  ${rate} steps/s  failures ${p.failures}  ${(p.elapsedMs / 1000).toFixed(1)}s`;
      process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  if (json) {
    console.log(
      JSON.stringify({
        seed: res.seed,
        kernel: res.kernel,
        runs: res.runs,
        steps: res.steps,
        steps_per_sec: res.stepsPerSec,
        elapsed_ms: Math.round(res.elapsedMs),
        failures: res.failures,
        workers: res.workers.map((w) => ({ worker: w.worker, seed: w.seed, runs: w.runs, steps: w.steps, failure: w.failure ? { invariant: w.failure.invariant, message: w.failure.message, events: w.failure.events, files: w.failure.files } : null })),
      }),
    );
  } else {
    console.log(`runs ${res.runs}  steps ${res.steps}  ${res.stepsPerSec} steps/s  failures ${res.failures}  (${(res.elapsedMs / 1000).toFixed(1)}s)`);
    for (const w of res.workers)
      if (w.failure) {
        console.log(`\nworker ${w.worker} (seed ${w.seed}): ${w.failure.events} events after shrinking (${w.failure.generated} generated), written to ${w.failure.files.trace} (+ .iort.jsonl, .txt, .json)`);
        console.log(w.failure.report);
      }
  }
  return res.failures ? 1 : 0;
}
