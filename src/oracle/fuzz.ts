/**
 * Differential fuzzing against the real kernel: the fuzzer's generated
 * sequences (src/fuzz: event templates, 6.12 profile) are made concrete on
 * the model, run in batches on the oracle kernel, and the model is checked
 * against every kernel answer. Each distinct divergence (op, what differs,
 * the errnos) is shrunk by re-asking the kernel — template deletions,
 * ddmin-style, every candidate of a round in one boot — and the minimal
 * sequence is saved as a trace carrying the kernel's answers.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Event, Result } from '../events/event.js';
import { apply } from '../engine/apply.js';
import { compare, type Divergence } from '../engine/replay.js';
import { emptyWorld } from '../model/state.js';
import { eventTemplates, EVENT_KINDS, learn, MAX_CHAIN, newModel, resolveNext, setupEvents, templateArbitraries, type Template } from '../fuzz/index.js';
import { writeTrace } from '../trace/index.js';
import { encodeInput, notCheckable, representable, traceNotCheckable } from './encode.js';
import { bootOnce, giganticSeconds, giganticTraceSeconds, oracleGuests, PARALLEL_MIN_OPS, type OracleEnv } from './boot.js';
import { judge, type TraceResult } from './check.js';
import { guestPools, hugePagesBound, NO_HUGE_PAGES } from './hugetlb_pool.js';
import { splitRecords, withKernelAnswers, type TraceRecords } from './results.js';

/**
 * Event kinds generated for the 6.12 oracle: every kind but those 6.12
 * lacks and those the oracle has no equivalent of (hardware-model devices
 * and their events, VFIO device cdevs): they would only make sequences
 * not checkable.
 */
export function oracleKinds(): string[] {
  const all = templateArbitraries();
  return EVENT_KINDS.filter((k) => all[k]?.since !== '6.14' && !notCheckable({ op: k, args: {} }));
}

/** A template sequence made concrete on the model. */
export interface Realized {
  events: Event[];
  /** The model's answers. */
  results: Result[];
  /** Per event, the index of the template it came from (-1: the fuzzer's setup). */
  owner: number[];
}

/**
 * The concrete events of a template sequence (the fuzzer's setup first) and
 * the model's answers to them, or null if the model throws. As in the
 * fuzzer's own commands, a template that needs a resource first gets the
 * calls that create it (its constructors), then is resolved again until it
 * resolves to itself: the kernel sees what the template meant to test.
 * With `gigantic` (the guest's pool of 1 GiB pages, `--gigantic N`), an
 * event after or during which the kernel could need more of them than that
 * (hugetlb_pool.ts) is left out, as a note: the model takes the pool to be
 * large enough, so what follows would only show the pool running out.
 */
export function realize(templates: readonly Template[], gigantic = 0): Realized | null {
  let w = emptyWorld({ kernel: '6.12' });
  const m = newModel();
  const out: Realized = { events: [], results: [], owner: [] };
  let pool = NO_HUGE_PAGES;
  const run = (ev: Event, owner: number) => {
    let r = apply(w, ev);
    if (gigantic) {
      // Inside the guest's pool of 1 GiB pages (hugetlb_pool.ts): an event that could need more is left out.
      // (Asked after every event: what fallocate allocated is in no state, only in the bound's carried reach.)
      const after = hugePagesBound(r.state, 30, pool, ev, r.result);
      if (after.peak > gigantic && after.peak > pool.pages) {
        ev = { op: 'note', args: { text: `${ev.op}: could need more 1 GiB hugetlb pages than the oracle's ${gigantic} (the model takes the pool to be large enough)` } };
        r = apply(w, ev);
      } else pool = after;
    }
    out.events.push(ev);
    out.results.push(r.result);
    out.owner.push(owner);
    w = r.state;
    return r.result;
  };
  try {
    for (const ev of setupEvents()) run(ev, -1);
    templates.forEach((t, ti) => {
      for (let k = 0; k < MAX_CHAIN; k++) {
        const { event, constructed } = resolveNext(t, w, m);
        // Values a C struct member cannot hold are cut to its width, for the model too.
        const ev = representable(event);
        const before = w;
        const result = run(ev, ti);
        learn(m, ev, result, w);
        if (!constructed || result.errno || w === before) break;
      }
    });
  } catch {
    return null;
  }
  return out;
}

/** A divergence's identity: the op, what differs, and (for errno / ret) the two answers. */
export function signature(d: Divergence): string {
  // For 'unmodelled' the kernel's side is its whole recorded answer: its errno names it.
  const kernel = d.what === 'unmodelled' ? (d.expected as { errno?: unknown } | null)?.errno : d.expected;
  const vals = d.what === 'errno' || d.what === 'ret' || d.what === 'unmodelled' ? ` kernel=${String(kernel)} model=${String(d.actual)}` : '';
  return `${d.op} ${d.what}${vals}`;
}

export interface OracleFuzzOptions extends OracleEnv {
  seed: number;
  /** Stop once the kernel answered this many ioctls (default 100,000). */
  ioctls?: number;
  /** Sequences per boot (default 2,500). */
  batch?: number;
  /** Most commands per sequence (default 40). */
  maxSteps?: number;
  /** Where minimal divergent traces go (default: none written). */
  saveDir?: string;
  /** Shrink divergences (default true). */
  shrink?: boolean;
  /** At most this many boots for the campaign itself (shrinking not counted). */
  maxBoots?: number;
  /** Generate only these event kinds (default: every kind the oracle can run, `oracleKinds()`). */
  events?: readonly string[];
  /** Weight of each hostile alternative against ~100 for a valid one (default 4, as `iorewind fuzz`). */
  hostile?: number;
  onProgress?: (p: { message: string }) => void;
}

export interface FoundDivergence {
  signature: string;
  /** Generated sequences that showed it first. */
  count: number;
  /** Events of the minimal trace (setup included). */
  events: number;
  saved?: string;
  first: unknown;
  /** Why shrinking stopped before it was done (a shrink boot failed): then `saved` is the smallest trace it had reached. */
  shrinkStopped?: string;
}

export interface OracleFuzzSummary {
  seed: number;
  sequences: number;
  kernel_ioctls: number;
  boots: number;
  shrink_boots: number;
  seconds: number;
  /** Kernel ioctls per second of the whole loop: generation, boots, import, comparison (shrinking excluded). */
  kernel_ioctls_per_sec: number;
  divergent_sequences: number;
  errors: number;
  model_crashes: number;
  /** Generated sequences left out because an event could not run on the oracle. */
  unfit_sequences: number;
  kernel_splats: string[];
  divergences: FoundDivergence[];
  error_examples: string[];
  /** Where the loop's time went (generation overlaps the boots). */
  timing: { generate_s: number; boot_s: number; guest_s: number; judge_s: number };
}

interface Seq {
  name: string;
  templates: Template[];
  events: Event[];
  /** The model's answers, from the generation. */
  results: Result[];
  /** Per event, its template (`Realized.owner`). */
  owner: number[];
}

export function generate(seed: number, count: number, maxSteps: number, kinds: readonly string[], from: number, hostile = 4, gigantic = 0): { seqs: Seq[]; crashes: number; unfit: number } {
  // (1 GiB hugetlb pages only where the guest has a pool of them, OracleEnv.gigantic, and within it)
  const arb = fc.array(eventTemplates('6.12', { hostile, gigantic: gigantic > 0 }, [...kinds]), { minLength: 1, maxLength: maxSteps, size: 'max' });
  const samples = fc.sample(arb, { seed, numRuns: count });
  const seqs: Seq[] = [];
  let crashes = 0;
  let unfit = 0;
  samples.forEach((templates, i) => {
    const r = realize(templates, gigantic);
    if (!r) crashes++;
    // A template can still resolve to an event the oracle cannot run (the fuzzer's own constructors): leave that sequence out.
    else if (traceNotCheckable(r.events)) unfit++;
    else seqs.push({ name: `s${from + i}`, templates, events: r.events, results: r.results, owner: r.owner });
  });
  return { seqs, crashes, unfit };
}

/** A batch's records, from one guest or several booted at once. */
interface BatchRun {
  recs: Map<string, TraceRecords>;
  /** Wall-clock seconds of the longest boot, the guest seconds of the longest executor run. */
  seconds: number;
  guestSeconds: number;
  splats: string[];
  boots: number;
}

/** Runs a batch: split between oracleGuests() guests at once when it is big enough (PARALLEL_MIN_OPS). */
async function startBoot(seqs: readonly { name: string; events: Event[] }[], env: OracleEnv): Promise<BatchRun> {
  const ops = seqs.reduce((s, q) => s + q.events.length, 0);
  const n = ops >= PARALLEL_MIN_OPS ? Math.max(1, Math.min(oracleGuests(), seqs.length)) : 1;
  const groups: (typeof seqs)[number][][] = Array.from({ length: n }, () => []);
  seqs.forEach((q, i) => groups[i % n]!.push(q));
  const runs = await Promise.all(
    groups.map((g) => {
      const { input } = encodeInput(g.map((s) => ({ name: s.name, events: s.events })), { timeoutMs: (30 + giganticSeconds(env)) * 1000 });
      const gops = g.reduce((s, q) => s + q.events.length, 0);
      return bootOnce(input, { ...env, timeoutSec: 120 + gops / 300 + g.length * 0.05 + giganticSeconds(env) + giganticTraceSeconds(env, g) });
    }),
  );
  const recs = new Map<string, TraceRecords>();
  for (const b of runs) for (const [k, v] of splitRecords(b.records, b.input)) recs.set(k, v);
  return { recs, seconds: Math.max(...runs.map((b) => b.seconds)), guestSeconds: Math.max(...runs.map((b) => b.guestSeconds)), splats: runs.flatMap((b) => b.splats), boots: runs.length };
}

/**
 * The verdicts of a batch. With the model's answers from the generation at
 * hand, a sequence is compared event by event without replaying it; only
 * one that differs (or did not finish) is replayed, for the report.
 */
async function judgeBatch(seqs: readonly { name: string; events: Event[]; results?: Result[] }[], boot: BatchRun, env: OracleEnv, keepEvents = false): Promise<{ results: Map<string, TraceResult>; ioctls: number }> {
  const recs = boot.recs;
  const results = new Map<string, TraceResult>();
  let ioctls = 0;
  for (const s of seqs) {
    const rs = recs.get(s.name);
    let r: TraceResult | undefined;
    if (rs && rs.status === 'ok' && s.results) {
      const k = withKernelAnswers(s.events, rs, '6.12');
      let verified = 0;
      let differs = false;
      for (let i = 0; i < k.events.length && !differs; i++) {
        const ev = k.events[i]!;
        if (!ev.rec) continue;
        if (compare(ev, s.results[i]!)) differs = true;
        else verified++;
      }
      if (!differs)
        r = { name: s.name, verdict: 'agree', events: s.events.length, kernelIoctls: rs.ioctls, verified, divergences: 0, firstDivergence: null, skipped: k.skipped, ...(keepEvents ? { kernelEvents: k.events } : {}) };
    }
    r ??= await judge(s.name, s.events, rs, true, guestPools(env));
    ioctls += r.kernelIoctls;
    results.set(s.name, r);
  }
  return { results, ioctls };
}

async function runBatch(seqs: readonly { name: string; events: Event[]; results?: Result[] }[], env: OracleEnv, keepEvents = false): Promise<{ results: Map<string, TraceResult>; ioctls: number }> {
  return judgeBatch(seqs, await startBoot(seqs, env), env, keepEvents);
}

/**
 * ddmin candidates: the sequence without one chunk, for chunk sizes n/2, n/4,
 * ..., 1; `level[i]` is the chunk size of the pass candidate i belongs to (a
 * pass's last chunk may be shorter).
 */
function candidates(n: number): { list: [number, number][]; level: number[] } {
  const list: [number, number][] = [];
  const level: number[] = [];
  const seen = new Set<string>();
  for (let size = Math.ceil(n / 2); ; size = Math.ceil(size / 2)) {
    for (let start = 0; start < n; start += size) {
      const k = `${start}:${Math.min(n, start + size)}`;
      if (!seen.has(k)) {
        seen.add(k);
        list.push([start, Math.min(n, start + size)]);
        level.push(size);
      }
    }
    if (size === 1) break;
  }
  return { list, level };
}

/**
 * Where a sequence of n templates goes on after a shrink at chunk size
 * `size`: the first candidate of the first pass whose chunks are no larger.
 * ddmin keeps its granularity after a success; starting again from the
 * halves made seed 26's divergence (2,000-step sequences) go 75+ rounds, each
 * a boot, without finishing.
 */
export function resumeAt(n: number, size: number): number {
  const { level } = candidates(n);
  const i = level.findIndex((l) => l <= size);
  return i < 0 ? 0 : i;
}

export interface ShrinkJob {
  signature: string;
  templates: Template[];
  best: { events: Event[]; owner: number[]; result: TraceResult };
  done: boolean;
  /** Where in the current sequence's candidate list the next round goes on (rounds are budgeted). */
  from?: number;
  /** The best sequence whose tail past its divergence was last offered (offered once per sequence). */
  tailTried?: Template[];
  /** Why shrinking stopped early: a round's boot failed (`best` is then the smallest reached). */
  stopped?: string;
  /** The guest's pool of 1 GiB pages, which candidates stay inside as the campaign's sequences did (realize). */
  gigantic?: number;
}

/**
 * Templates of the candidates one job sends to one round. A sequence of n
 * templates has about 2n candidates of up to n templates each: all of them in
 * one round is quadratic (a 2,000-step divergence made ~4,000 candidates of
 * ~2,000 templates: gigabytes on the host and no boot after 15 minutes). A
 * round takes them coarsest first up to this many templates and the next round
 * goes on from there, so a long sequence is halved first, as ddmin does; one of
 * up to ~170 steps still sends every candidate at once.
 */
const ROUND_TEMPLATES_PER_JOB = 60_000;

/**
 * The candidates of a sequence of n templates that one round tries, from
 * index `from` of `candidates(n)`: coarsest first, while their templates add
 * up to less than the budget (at least one). `next` is where the following
 * round goes on (`all` when the list is through); `level` is each one's pass
 * (its nominal chunk size).
 */
export function roundCandidates(n: number, from: number, budget = ROUND_TEMPLATES_PER_JOB): { cands: [number, number][]; level: number[]; next: number; all: number } {
  const { list, level } = candidates(n);
  const cands: [number, number][] = [];
  const levels: number[] = [];
  let ci = from;
  for (let used = 0; ci < list.length && (cands.length === 0 || used < budget); ci++) {
    const [s, e] = list[ci]!;
    used += n - (e - s);
    cands.push([s, e]);
    levels.push(level[ci]!);
  }
  return { cands, level: levels, next: ci, all: list.length };
}

/**
 * The templates after the one that diverged: the kernel answers a prefix as
 * it answered it inside the whole sequence, so the first divergence stays
 * where it was without them. [start, n) of the job's templates, or null when
 * the divergence is at the last template already (or in the setup).
 */
export function tailPastDivergence(job: Pick<ShrinkJob, 'templates' | 'best'>): [number, number] | null {
  const d = job.best.result.firstDivergence;
  const n = job.templates.length;
  if (!d) return null;
  const t = job.best.owner[d.index] ?? -1; // (-1: the setup)
  return t >= 0 && t + 1 < n ? [t + 1, n] : null;
}

/** One round's sequences to the kernel and its verdicts by name (a boot; tests put a stand-in here). */
export type ShrinkRunner = (seqs: { name: string; events: Event[]; results: Result[]; templates: readonly Template[] }[]) => Promise<Map<string, TraceResult>>;

/**
 * Shrinks every job by re-asking the kernel, one boot per round for all of
 * them; returns the rounds that booted. A round is the expensive unit (a boot
 * and the guest's run of every candidate), so each round is made to count:
 * - the tail past the divergence is offered once per sequence (nothing after
 *   the first divergence can matter);
 * - after a success the job goes on at the granularity it reached, as ddmin
 *   does, instead of from the halves again;
 * - when several candidates of a round diverged as wanted, the next round also
 *   offers the sequence without every chunk they removed: each alone was not
 *   needed, and together they usually are not either (the kernel says).
 */
export async function shrinkAll(jobs: ShrinkJob[], run: ShrinkRunner, log: (m: string) => void): Promise<number> {
  let boots = 0;
  const reach = new Map<ShrinkJob, number>();
  /** Per job, the templates the last round's successful candidates left out, and the granularity of its best. */
  const unions = new Map<ShrinkJob, { removed: Set<Template>; level: number }>();
  for (let round = 0; round < 400 && jobs.some((j) => !j.done); round++) {
    const batch: { name: string; events: Event[]; results: Result[]; owner: number[]; job: ShrinkJob; templates: Template[]; removed: readonly Template[]; level: number }[] = [];
    for (const [ji, j] of jobs.entries()) {
      if (j.done) continue;
      const n = j.templates.length;
      if (n <= 1) {
        j.done = true;
        continue;
      }
      const offer = (name: string, templates: Template[], removed: readonly Template[], level: number) => {
        const r = realize(templates, j.gigantic);
        if (r) batch.push({ name, events: r.events, results: r.results, owner: r.owner, job: j, templates, removed, level });
      };
      const offerCut = (name: string, s: number, e: number, level: number) => offer(name, [...j.templates.slice(0, s), ...j.templates.slice(e)], j.templates.slice(s, e), level);
      const union = unions.get(j);
      if (union) {
        const rest = j.templates.filter((t) => !union.removed.has(t));
        if (rest.length && rest.length < n) offer(`j${ji}union`, rest, j.templates.filter((t) => union.removed.has(t)), union.level);
      }
      // The tail past the divergence, once per sequence (level -1: taken, the
      // job goes on at the granularity it had reached).
      const tail = j.tailTried === j.templates ? null : tailPastDivergence(j);
      j.tailTried = j.templates;
      if (tail) offerCut(`j${ji}tail`, tail[0], tail[1], -1);
      const plan = roundCandidates(n, j.from ?? 0);
      plan.cands.forEach(([s, e], k) => offerCut(`j${ji}c${(j.from ?? 0) + k}`, s, e, plan.level[k]!));
      reach.set(j, plan.next < plan.all ? plan.next : -1);
    }
    unions.clear();
    // (A round whose share could not be made concrete at all boots nothing and goes on to the finer candidates.)
    const improved = new Map<ShrinkJob, number>();
    if (batch.length) {
      let results: Map<string, TraceResult>;
      try {
        results = await run(batch);
      } catch (e) {
        // A boot that fails (runs past its time, say) ends the shrinking, not
        // the campaign: each job keeps the smallest sequence it had reached.
        const why = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
        log(`shrink round ${round + 1} failed (${why}): shrinking stops; each divergence keeps the smallest trace it reached`);
        for (const j of jobs)
          if (!j.done) {
            j.stopped = why;
            j.done = true;
          }
        return boots;
      }
      boots++; // (rounds: a round may use several guests at once)
      const base = new Map(jobs.map((j) => [j, { n: j.templates.length, from: j.from ?? 0 }]));
      const wins = new Map<ShrinkJob, number>();
      for (const c of batch) {
        const r = results.get(c.name)!;
        if (r.verdict !== 'diverge' || !r.firstDivergence || signature(r.firstDivergence) !== c.job.signature) continue;
        wins.set(c.job, (wins.get(c.job) ?? 0) + 1);
        const u = unions.get(c.job) ?? { removed: new Set<Template>(), level: 1 };
        for (const t of c.removed) u.removed.add(t);
        unions.set(c.job, u);
        if (c.templates.length < c.job.templates.length) {
          const was = base.get(c.job)!;
          c.job.templates = c.templates;
          c.job.best = { events: c.events, owner: c.owner, result: r };
          u.level = c.level >= 0 ? c.level : (roundCandidates(was.n, was.from).level[0] ?? 1);
          improved.set(c.job, u.level);
        }
      }
      for (const [j, count] of wins) if (count < 2) unions.delete(j); // one success: the best has it already
    }
    for (const j of jobs) {
      if (j.done) continue;
      const next = reach.get(j) ?? -1;
      const level = improved.get(j);
      if (level !== undefined) j.from = resumeAt(j.templates.length, level); // a shorter sequence: on at the granularity reached
      else if (next >= 0) j.from = next; // this sequence's finer candidates are still to come
      else j.done = true;
    }
    if (batch.length) log(`shrink round ${round + 1}: ${batch.length} candidates in one boot; ${jobs.filter((j) => !j.done).length} still shrinking`);
  }
  return boots;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const slug = (s: string) => s.replace(/[^A-Za-z0-9_.=-]+/g, '_').replace(/_+/g, '_').slice(0, 120);

/** A divergence's file name: <op>.kernel-<errno>.model-<errno>, or <op>.<what>. */
const divergenceName = (d: Divergence): string => slug(d.what === 'errno' || d.what === 'ret' ? `${d.op}.kernel-${String(d.expected)}.model-${String(d.actual)}` : `${d.op}.${d.what}`);

/** A divergent sequence with the kernel's answers, as a trace file the model can replay. */
async function saveDivergent(path: string, seed: number, signature: string, r: TraceResult, events: readonly Event[]): Promise<void> {
  const d = r.firstDivergence!;
  await writeTrace(path, { kernel: '6.12', meta: { source: 'oracle-fuzz', kernel: 'Linux 6.12.117 (oracle kit)', seed, divergence: signature, first_divergence_index: d.index } }, r.kernelEvents ?? events, { format: 'jsonl' });
}

/** The differential fuzz campaign. */
export async function fuzzOracle(opts: OracleFuzzOptions): Promise<OracleFuzzSummary> {
  const t0 = performance.now();
  const target = opts.ioctls ?? 100_000;
  const batchSize = opts.batch ?? 2500;
  const maxSteps = opts.maxSteps ?? 40;
  const kinds = opts.events ?? oracleKinds();
  const runnable = new Set(oracleKinds());
  for (const k of kinds) if (!runnable.has(k)) throw new Error(`oracle fuzz: event kind '${k}' cannot run on the 6.12 oracle (it runs: ${[...runnable].join(' ')})`);
  if (!kinds.length) throw new Error('oracle fuzz: no event kinds to generate');
  const log = (message: string) => opts.onProgress?.({ message });
  const env: OracleEnv = { ...(opts.kit ? { kit: opts.kit } : {}), ...(opts.kvm ? { kvm: true } : {}), ...(opts.keep ? { keep: true } : {}), ...(opts.gigantic ? { gigantic: opts.gigantic } : {}) };
  const found = new Map<string, { count: number; example: { templates: Template[]; events: Event[]; owner: number[]; result: TraceResult } }>();
  /** Per divergence, the file its first sequence was saved in, whole, until the shrunk trace is. */
  const unshrunk = new Map<string, string>();
  let sequences = 0;
  let ioctls = 0;
  let boots = 0;
  let divergent = 0;
  let errors = 0;
  let crashes = 0;
  let unfit = 0;
  const errorExamples: string[] = [];
  const splats: string[] = [];
  const timing = { generate_s: 0, boot_s: 0, guest_s: 0, judge_s: 0 };
  const gen = (k: number) => {
    const tg = performance.now();
    const g = generate(opts.seed + k * 7919, batchSize, maxSteps, kinds, k * batchSize, opts.hostile, opts.gigantic ?? 0);
    timing.generate_s += (performance.now() - tg) / 1000;
    crashes += g.crashes;
    unfit += g.unfit;
    return g.seqs;
  };
  // A pipeline: the guest runs batch k while the host judges batch k - 1 and generates batch k + 1.
  const ioctlOps = (seqs: Seq[]) => seqs.reduce((n, q) => n + q.events.filter((e) => e.op.startsWith('IOMMU_') || e.op.startsWith('VFIO_') || e.op === 'RAW_IOCTL').length, 0);
  let k = 0;
  let cur = gen(k);
  let expected = ioctlOps(cur);
  let running: Promise<BatchRun> | undefined = startBoot(cur, env);
  let next = gen(++k);
  while (running) {
    const boot = await running;
    boots += boot.boots;
    timing.boot_s += boot.seconds;
    timing.guest_s += boot.guestSeconds;
    splats.push(...boot.splats);
    // The guest takes the next batch at once; the host judges this one meanwhile, then generates the one after.
    running = undefined;
    const following = next;
    if (expected < target && (opts.maxBoots === undefined || boots < opts.maxBoots)) {
      expected += ioctlOps(following);
      running = startBoot(following, env);
    }
    const tj = performance.now();
    const { results, ioctls: n } = await judgeBatch(cur, boot, env, false);
    timing.judge_s += (performance.now() - tj) / 1000;
    ioctls += n;
    sequences += cur.length;
    for (const s of cur) {
      const r = results.get(s.name)!;
      if (r.verdict === 'error') {
        errors++;
        if (errorExamples.length < 10) errorExamples.push(`${s.name}: ${r.reason}`);
      }
      if (r.verdict !== 'diverge' || !r.firstDivergence) continue;
      divergent++;
      const sig = signature(r.firstDivergence);
      const f = found.get(sig);
      if (f) {
        f.count++;
        if (s.templates.length < f.example.templates.length) f.example = { templates: s.templates, events: s.events, owner: s.owner, result: r };
      } else {
        found.set(sig, { count: 1, example: { templates: s.templates, events: s.events, owner: s.owner, result: r } });
        // Saved at once, whole: should the campaign or its shrinking end badly (a boot past its
        // time), the find is not lost. The shrunk trace replaces it.
        if (opts.saveDir) {
          mkdirSync(opts.saveDir, { recursive: true });
          const path = join(opts.saveDir, `${divergenceName(r.firstDivergence)}.seed${opts.seed}.unshrunk.iort.jsonl`);
          await saveDivergent(path, opts.seed, sig, r, s.events);
          unshrunk.set(sig, path);
          log(`new divergence ${sig}: saved unshrunk (${s.events.length} events) as ${path}`);
        }
      }
    }
    const el = (performance.now() - t0) / 1000;
    log(`boot ${boots}: ${cur.length} sequences, ${n} kernel ioctls, ${boot.seconds.toFixed(1)} s (guest ${boot.guestSeconds.toFixed(1)} s); total ${ioctls} ioctls, ${Math.round(ioctls / el)}/s, ${divergent} divergent, ${found.size} distinct, ${errors} errors`);
    cur = following;
    if (running) next = gen(++k);
  }
  const loopSeconds = (performance.now() - t0) / 1000;
  const jobs: ShrinkJob[] = [...found.entries()].map(([signature, f]) => ({ signature, templates: f.example.templates, best: { events: f.example.events, owner: f.example.owner, result: f.example.result }, done: opts.shrink === false, ...(opts.gigantic ? { gigantic: opts.gigantic } : {}) }));
  const shrinkBoots = jobs.length ? await shrinkAll(jobs, async (seqs) => (await runBatch(seqs, env, true)).results, log) : 0;
  const divergences: FoundDivergence[] = [];
  for (const j of jobs) {
    const f = found.get(j.signature)!;
    const d = j.best.result.firstDivergence!;
    const entry: FoundDivergence = { signature: j.signature, count: f.count, events: j.best.events.length, first: { index: d.index, op: d.op, what: d.what, expected: d.expected, actual: d.actual, event: d.event }, ...(j.stopped ? { shrinkStopped: j.stopped } : {}) };
    if (opts.saveDir) {
      mkdirSync(opts.saveDir, { recursive: true });
      // (a name already taken gets the seed)
      const base = divergenceName(d);
      let path = join(opts.saveDir, `${base}.iort.jsonl`);
      if (existsSync(path)) path = join(opts.saveDir, `${base}.seed${opts.seed}.iort.jsonl`);
      await saveDivergent(path, opts.seed, j.signature, j.best.result, j.best.events);
      entry.saved = path;
      const whole = unshrunk.get(j.signature);
      if (whole && whole !== path) rmSync(whole, { force: true });
    }
    divergences.push(entry);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    seed: opts.seed,
    sequences,
    kernel_ioctls: ioctls,
    boots,
    shrink_boots: shrinkBoots,
    seconds: Math.round(seconds * 10) / 10,
    kernel_ioctls_per_sec: Math.round(ioctls / loopSeconds),
    divergent_sequences: divergent,
    errors,
    model_crashes: crashes,
    unfit_sequences: unfit,
    kernel_splats: splats,
    divergences,
    error_examples: errorExamples,
    timing: { generate_s: r2(timing.generate_s), boot_s: r2(timing.boot_s), guest_s: r2(timing.guest_s), judge_s: r2(timing.judge_s) },
  };
}
