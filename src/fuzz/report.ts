/**
 * What `iorewind fuzz` leaves behind for a failure: the shrunk counterexample
 * as a trace in both formats (`.iort` and `.iort.jsonl`, replayable with
 * `iorewind replay`, which reports the divergence at the failing step), and
 * a short report (`.txt` for people, `.json` for tools).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Value } from '../events/event.js';
import { formatEvent, formatValue, writeTrace } from '../trace/index.js';
import type { FuzzFailure } from './run.js';

export interface WrittenFailure {
  trace: string;
  jsonl: string;
  report: string;
  json: string;
}

function patchLine(p: unknown): string {
  const o = p as { op: string; path: (string | number)[]; value?: unknown };
  const path = o.path.join('/');
  if (o.op === 'remove') return `  - ${path}`;
  const v = formatValue(toValue(o.value));
  return `  ${o.op === 'add' ? '+' : '~'} ${path} = ${v.length > 160 ? `${v.slice(0, 157)}...` : v}`;
}

function toValue(v: unknown): Value {
  if (v === undefined) return null;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toValue);
  if (typeof v === 'object') {
    const o: { [k: string]: Value } = {};
    for (const [k, x] of Object.entries(v as object)) o[k] = toValue(x);
    return o;
  }
  return String(v);
}

/** The report text (also printed by the CLI). */
export function reportText(f: FuzzFailure, files?: Partial<WrittenFailure>): string {
  const L: string[] = [];
  L.push(`invariant violated: ${f.invariant}`);
  for (const v of f.violations.slice(0, 5)) L.push(`  ${v.message}`);
  if (f.violations.length > 5) L.push(`  (${f.violations.length - 5} more)`);
  L.push('');
  const n = f.events.length;
  L.push(`minimal event list: ${n} events (${f.setupLength} fixed setup + ${n - f.setupLength} generated), failing at #${f.failingIndex}`);
  f.events.forEach((ev, i) => {
    const { rec: _r, src: _s, ...plain } = ev;
    const res = f.results[i];
    const ans = res ? (res.errno === 0 ? 'ok' : res.errno) + (res.ret !== undefined ? ` ret=${res.ret}` : '') + (res.out ? ` out=${formatValue(res.out as Value)}` : '') : 'threw';
    L.push(`${i === f.failingIndex ? '>>' : '  '} ${formatEvent(plain, i)}  => ${ans.length > 200 ? `${ans.slice(0, 197)}...` : ans}`);
  });
  L.push('');
  L.push(`state diff at the failing step (#${f.failingIndex}, ${f.diff.length} change${f.diff.length === 1 ? '' : 's'}):`);
  for (const p of f.diff.slice(0, 40)) L.push(patchLine(p));
  if (f.diff.length > 40) L.push(`  ... ${f.diff.length - 40} more`);
  L.push('');
  L.push(`kernel ${f.kernel}, seed ${f.seed}, fast-check path ${JSON.stringify(f.path)}, ${f.numShrinks} shrinks after ${f.numRuns} runs`);
  if (files?.trace) {
    L.push(`reproduce: iorewind replay ${files.trace}`);
    L.push(`           (diverges at event #${f.failingIndex}: ${f.invariant === 'model-crash' ? 'the model throws' : 'out.invariant_violated'})`);
    L.push(`           iorewind fuzz --check ${files.trace}   (re-runs the invariants on the events)`);
  }
  L.push(`           iorewind fuzz --seed ${f.seed} --runs ${f.numRuns} --kernel ${f.kernel}${f.path ? ` --path ${f.path}` : ''}${f.replayPath ? ` --replay-path ${f.replayPath}` : ''} --workers 1`);
  return L.join('\n');
}

function jsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)));
}

/** Write the trace twins and the reports into `dir`; returns their paths. */
export async function writeFailure(dir: string, name: string, f: FuzzFailure): Promise<WrittenFailure> {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, name);
  const files: WrittenFailure = { trace: `${base}.iort`, jsonl: `${base}.iort.jsonl`, report: `${base}.txt`, json: `${base}.json` };
  const meta = { tool: 'iorewind fuzz', invariant: f.invariant, seed: f.seed, path: f.path ?? '', failing_event: f.failingIndex };
  await writeTrace(files.trace, { kernel: f.kernel, meta }, f.events);
  await writeTrace(files.jsonl, { kernel: f.kernel, meta }, f.events);
  writeFileSync(files.report, reportText(f, files) + '\n');
  writeFileSync(
    files.json,
    JSON.stringify(
      jsonSafe({
        invariant: f.invariant,
        violations: f.violations,
        kernel: f.kernel,
        seed: f.seed,
        path: f.path,
        replay_path: f.replayPath,
        num_runs: f.numRuns,
        num_shrinks: f.numShrinks,
        setup_events: f.setupLength,
        failing_event: f.failingIndex,
        events: f.events.map((ev) => formatEvent(ev)),
        diff: f.diff,
        commands: f.commands,
        files,
      }),
      null,
      2,
    ) + '\n',
  );
  return files;
}
