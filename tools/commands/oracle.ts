/**
 * `iorewind oracle <trace|dir>... [--json]`: run traces on the real Linux
 * 6.12 kernel (the oracle kit under QEMU) and check the model against the
 * kernel's answers. `iorewind oracle --fuzz`: a differential fuzz campaign.
 * See docs/oracle.md.
 */
import { existsSync, statSync } from 'node:fs';
import type { Event } from '../../src/events/event.js';
import { openSource } from '../../src/engine/source.js';
import { checkTraces, type OracleSummary, type TraceResult } from '../../src/oracle/check.js';
import { OracleError } from '../../src/oracle/boot.js';
import { fuzzOracle, type OracleFuzzSummary } from '../../src/oracle/fuzz.js';
import { HOSTILE_LIMIT, MAX_STEPS_LIMIT } from '../../src/fuzz/run.js';
import type { Divergence } from '../../src/engine/replay.js';
import { filesUnder } from './files.js';
import { parseOptions, type Parsed } from './options.js';
import { report } from './replay.js';

export const summary = 'run traces on the real 6.12 kernel (QEMU) and check the model against it; --fuzz: differential fuzzing';

const USAGE = `usage:
  iorewind oracle <trace|dir>... [--json] [--keep] [--kvm] [--trace-timeout SEC] [--gigantic N]
      run each trace on the real kernel (fresh processes and contexts per trace, many per boot)
      and report, per trace, agreement or the first divergence; --gigantic N: boot with N 1 GiB
      hugetlb pages (the kit's CPU has none: MAP_HUGE_1GB and MFD_HUGE_1GB fail without it)
  iorewind oracle --fuzz [--seed N] [--ioctls N] [--batch N] [--max-steps N] [--max-boots N] [--save DIR | --no-save] [--no-shrink]
                        [--events x,y] [--hostile H] [--gigantic N] [--json]
      (also: iorewind fuzz --oracle ...; --out DIR is --save DIR)
      generated 6.12 sequences on the real kernel in batches; every divergence shrunk by
      re-asking the kernel and saved with the kernel's answers in DIR (default test/oracle/regressions,
      which npm test replays: triage each one, fix or list it in test/oracle/known_divergent.ts)
      --events: generate only these kinds (a campaign aimed at one part; iorewind fuzz --list names them,
      and kinds the 6.12 oracle cannot run are refused); --hostile: weight of hostile values, 0..${HOSTILE_LIMIT}
      (default 4); --max-steps: events a sequence may have, 1..${MAX_STEPS_LIMIT} (default 40);
      --gigantic N: boot with N 1 GiB hugetlb pages and generate MAP_HUGE_1GB / MFD_HUGE_1GB memory too,
      leaving out (as a note) any event after which the kernel could need more than N of them`;

const OPTIONS = {
  json: { type: 'boolean' },
  keep: { type: 'boolean' },
  kvm: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'trace-timeout': { type: 'string' },
  gigantic: { type: 'string' },
  fuzz: { type: 'boolean' },
  seed: { type: 'string' },
  ioctls: { type: 'string' },
  batch: { type: 'string' },
  'max-steps': { type: 'string' },
  'max-boots': { type: 'string' },
  save: { type: 'string' },
  out: { type: 'string' },
  'no-save': { type: 'boolean' },
  'no-shrink': { type: 'boolean' },
  events: { type: 'string' },
  hostile: { type: 'string' },
} as const;

/** A numeric option: an integer of at least `min`, or `def` when absent. */
function count(values: Parsed['values'], name: string, def: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = values[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min) throw new Error(`oracle: --${name}: expected an integer >= ${min}, got '${String(v)}'`);
  if (n > max) throw new Error(`oracle: --${name}: at most ${max}, got ${v}`);
  return n;
}

/** The traces named, and the trace and capture files under the directories named (files.ts). */
function traceFiles(paths: string[]): string[] {
  return filesUnder(paths, (p) => /\.iort(\.jsonl)?$|\.jsonl(\.gz)?$/.test(p));
}

const jsonReplacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);

function plainDivergence(d: Divergence | null): unknown {
  return d ? { index: d.index, op: d.op, src: d.src, what: d.what, expected: d.expected, actual: d.actual, event: d.event, context: d.context } : null;
}

/** What a divergence where the guest's hugetlb pool may have run out is told with. */
function poolNote(o: NonNullable<TraceResult['poolOverrun']>): string {
  const size = o.shift === 30 ? '1 GiB' : o.shift === 21 ? '2 MiB' : `2^${o.shift}-byte`;
  return `  (from event ${o.index} on the kernel could need up to ${o.pages} hugetlb pages of ${size}, more than the guest's ${o.pool}: the model takes every pool to be large enough, so this may be the pool running out)`;
}

function line(r: TraceResult): string {
  switch (r.verdict) {
    case 'agree':
      return `${r.name}: agrees (${r.events} events, ${r.kernelIoctls} kernel ioctls, ${r.verified} answers compared${r.skipped.length ? `, ${r.skipped.length} not run: ${r.skipped[0]!.why}` : ''})`;
    case 'not-checkable':
      return `${r.name}: not checkable: ${r.reason}`;
    case 'error':
      return `${r.name}: ERROR: ${r.reason}`;
    case 'diverge':
      return `${r.name}: DIVERGES (${r.divergences} divergence(s) in ${r.events} events)\n${report(r.firstDivergence!).replace(/^/gm, '  ')}${r.poolOverrun ? `\n${poolNote(r.poolOverrun)}` : ''}`;
  }
}

function printSummary(s: OracleSummary): void {
  for (const r of s.results) console.log(line(r));
  const perBoot = s.boots ? ` (${(s.boot_seconds / s.boots).toFixed(1)} s per boot)` : '';
  console.log(
    `${s.traces} trace(s): ${s.agree} agree, ${s.diverge} diverge, ${s.not_checkable} not checkable${s.errors ? `, ${s.errors} error(s)` : ''}; ${s.kernel_ioctls} kernel ioctls in ${s.boots} boot(s), ${s.seconds} s${perBoot}`,
  );
  if (s.kernel_splats.length) console.log(`kernel WARNING/BUG lines on the console:\n  ${s.kernel_splats.slice(0, 10).join('\n  ')}`);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('oracle', argv, OPTIONS, USAGE);
  if (values['help']) {
    console.log(USAGE);
    return 0;
  }
  const json = values['json'] === true;
  const gigantic = count(values, 'gigantic', 0);
  // (each page is 1 GiB of the guest's memory, and of the host's once the guest touches it)
  if (gigantic > 8) throw new Error(`oracle: --gigantic: at most 8 pages of 1 GiB, got ${gigantic}`);
  const env = { keep: values['keep'] === true, kvm: values['kvm'] === true, ...(gigantic ? { gigantic } : {}) };
  try {
    if (values['fuzz']) {
      if (positionals.length) throw new Error(`oracle: --fuzz takes no traces (got ${positionals.join(' ')})\n${USAGE}`);
      return await runFuzz(values, json, env);
    }
    const files = traceFiles(positionals);
    if (!files.length) {
      console.error(USAGE);
      return 2;
    }
    const traces: { name: string; events: Event[] }[] = [];
    for (const f of files) {
      const src = await openSource(f);
      const events: Event[] = [];
      for await (const ev of src.events) events.push(ev);
      traces.push({ name: f, events });
    }
    const tt = count(values, 'trace-timeout', 0); // 0: the checker's own default
    const s = await checkTraces(traces, {
      ...env,
      ...(tt ? { traceTimeoutSec: tt } : {}),
      onBoot: json ? undefined : (b) => process.stderr.write(`boot ${b.boot}: ${b.traces} trace(s), ${b.ops} ops, ${b.seconds.toFixed(1)} s\n`),
    });
    if (json) {
      const { results, first_divergence, ...rest } = s;
      console.log(
        JSON.stringify(
          {
            traces: rest.traces,
            agree: rest.agree,
            diverge: rest.diverge,
            kernel_ioctls: rest.kernel_ioctls,
            seconds: rest.seconds,
            first_divergence: plainDivergence(first_divergence),
            not_checkable: rest.not_checkable,
            errors: rest.errors,
            boots: rest.boots,
            boot_seconds: rest.boot_seconds,
            kernel_splats: rest.kernel_splats,
            results: results.map((r) => ({ name: r.name, verdict: r.verdict, reason: r.reason, events: r.events, kernel_ioctls: r.kernelIoctls, verified: r.verified, divergences: r.divergences, first_divergence: plainDivergence(r.firstDivergence), skipped: r.skipped, ...(r.poolOverrun ? { pool_overrun: r.poolOverrun } : {}) })),
          },
          jsonReplacer,
        ),
      );
    } else printSummary(s);
    return s.diverge || s.errors ? 1 : 0;
  } catch (e) {
    if (e instanceof OracleError) {
      console.error(`iorewind oracle: ${e.message}`);
      return e.kind === 'missing-packages' || e.kind === 'no-kit' ? 3 : 2;
    }
    throw e;
  }
}

async function runFuzz(values: Parsed['values'], json: boolean, env: { keep: boolean; kvm: boolean; gigantic?: number }): Promise<number> {
  const saveDir = values['no-save'] ? undefined : ((values['save'] ?? values['out'] ?? 'test/oracle/regressions') as string);
  // (refused now, not after a campaign found and shrank a divergence it then cannot save)
  if (saveDir !== undefined && existsSync(saveDir) && !statSync(saveDir).isDirectory()) throw new Error(`oracle: --save: ${saveDir} is not a directory`);
  const s: OracleFuzzSummary = await fuzzOracle({
    ...env,
    seed: count(values, 'seed', 1, 0),
    ioctls: count(values, 'ioctls', 100_000),
    batch: count(values, 'batch', 2500),
    maxSteps: count(values, 'max-steps', 40, 1, MAX_STEPS_LIMIT),
    ...(saveDir !== undefined ? { saveDir } : {}),
    ...(values['no-shrink'] ? { shrink: false } : {}),
    ...(values['max-boots'] !== undefined ? { maxBoots: count(values, 'max-boots', 0) } : {}),
    ...(values['events'] !== undefined ? { events: String(values['events']).split(',').filter(Boolean) } : {}),
    ...(values['hostile'] !== undefined ? { hostile: count(values, 'hostile', 4, 0, HOSTILE_LIMIT) } : {}),
    onProgress: json ? undefined : (p) => process.stderr.write(`${p.message}\n`),
  });
  if (json) console.log(JSON.stringify(s, jsonReplacer));
  else {
    console.log(
      `oracle fuzz: seed ${s.seed}: ${s.sequences} sequences, ${s.kernel_ioctls} kernel ioctls, ${s.boots} boots, ${(s.seconds / 60).toFixed(1)} min, ${s.kernel_ioctls_per_sec} kernel ioctls/s through the loop`,
    );
    console.log(`divergent sequences: ${s.divergent_sequences}; distinct divergences: ${s.divergences.length}; errors: ${s.errors}`);
    for (const d of s.divergences) {
      const what = d.shrinkStopped ? `the smallest trace shrinking reached before it stopped (${d.shrinkStopped})` : 'minimal trace';
      console.log(`  ${d.signature}: ${d.count} sequence(s)${d.saved ? `, ${what} (${d.events} events) saved as ${d.saved}` : d.shrinkStopped ? ` (shrinking stopped: ${d.shrinkStopped})` : ''}`);
    }
    // (what went wrong in the guest, a few of them: a trace that hung, a snapshot it could not realize)
    for (const e of s.error_examples.slice(0, 3)) console.log(`  error: ${e}`);
  }
  return s.divergences.length || s.errors ? 1 : 0;
}
