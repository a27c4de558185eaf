/**
 * The fuzz loop: fast-check model-based testing (fc.commands + fc.modelRun)
 * over event templates, every invariant checked after every event, the
 * replay-from-checkpoint check at the end of runs, and — on a failure — the
 * shrunk counterexample replayed once more to record its concrete events,
 * results, the violation and the state diff at the failing step.
 *
 * The model is injectable (`ModelApi`): the real one by default, a planted-bug
 * copy in the mutation test.
 */
import fc from 'fast-check';
import type { Event, Result } from '../events/event.js';
import { apply as realApply } from '../engine/apply.js';
import { diffStates as realDiff } from '../engine/diff.js';
import { emptyWorld as realEmptyWorld, type KernelVersion, type World } from '../model/state.js';
import { Checker, checkReplayFromCheckpoints, type Violation } from '../invariants/index.js';
import { eventTemplates, type Bias } from './arbitraries.js';
import { learn, newModel, resolveNext, showTemplate, type FuzzModel, type Template } from './template.js';

export interface ModelApi {
  apply(w: World, ev: Event): { state: World; result: Result };
  emptyWorld(opts: { kernel: KernelVersion }): World;
  diffStates(a: unknown, b: unknown): unknown[];
}

export const realModel: ModelApi = { apply: realApply, emptyWorld: realEmptyWorld, diffStates: realDiff };

/** Pseudo-invariant name of a reducer that threw. */
export const MODEL_CRASH = 'model-crash';

/**
 * The fixed start of every run, as a VMM begins: /dev/iommu open (fd 0) and
 * one IOAS (ID 1). Guest RAM is mapped by the first command that needs user
 * memory (GUEST_VA, 4 MiB), or by generated mmaps.
 */
export function setupEvents(): Event[] {
  return [
    { op: 'open', args: { path: '/dev/iommu' } },
    { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
  ];
}

/**
 * Bounds of the generators' knobs, for the commands that take them: fast-check
 * sizes a run's arrays by its step count (`Invalid array length` past ~2^32),
 * and a hostile weight is meant against ~100 for the valid alternative.
 */
export const MAX_STEPS_LIMIT = 100_000;
export const HOSTILE_LIMIT = 10_000;

export interface FuzzOptions {
  seed: number;
  /** Property runs (each a fresh sequence from the setup). */
  runs: number;
  /** Most commands (events after the setup) per run. */
  maxSteps?: number;
  kernel?: KernelVersion;
  model?: ModelApi;
  /** Check only these invariants (default: all). */
  invariants?: readonly string[];
  /** Generate only these event kinds (default: all). */
  events?: readonly string[];
  bias?: Bias;
  /** fast-check path of a counterexample to replay (with the seed it was found with)... */
  path?: string;
  /** ...and the commands' replay path (fc.commands needs both to replay a shrunk sequence). */
  replayPath?: string;
  /** Stop (not a failure) after this long. */
  timeMs?: number;
  /** Run the replay-from-checkpoint check every N runs (0: never; default 16). */
  replayEvery?: number;
  /** Shrink a failure (default true). */
  shrink?: boolean;
  onProgress?: (p: FuzzProgress) => void;
  /** Called after every generated event (statistics, extra checks) with the state it led to and the run's checker. */
  onStep?: (ev: Event, result: Result | undefined, state: World, checker: Checker) => void;
}

export interface FuzzProgress {
  runs: number;
  steps: number;
  failures: number;
  elapsedMs: number;
}

export interface FuzzFailure {
  invariant: string;
  violations: Violation[];
  kernel: KernelVersion;
  /** The minimal events, setup first, with the model's answers in `rec`. */
  events: Event[];
  results: (Result | undefined)[];
  setupLength: number;
  /** Index of the event after which the invariant failed (or that crashed the model). */
  failingIndex: number;
  /** immer patches from the state before the failing event to the state after it. */
  diff: unknown[];
  seed: number;
  path: string | null;
  replayPath: string | null;
  numRuns: number;
  numShrinks: number;
  /** The shrunk commands as fast-check printed them. */
  commands: string[];
}

export interface FuzzResult {
  seed: number;
  kernel: KernelVersion;
  runs: number;
  steps: number;
  elapsedMs: number;
  stepsPerSec: number;
  interrupted: boolean;
  failure: FuzzFailure | null;
}

/** A failed check inside a run: carries what the report needs. */
class RunFailure extends Error {
  constructor(
    readonly invariant: string,
    readonly violations: Violation[],
    readonly index: number,
  ) {
    super(`${invariant}: ${violations[0]?.message ?? ''}`);
  }
}

interface Real {
  w: World;
  events: Event[];
  results: (Result | undefined)[];
  states: World[];
  checker: Checker;
  keepStates: boolean;
  api: ModelApi;
  /** Commands executed in this run. */
  steps: number;
  onStep?: FuzzOptions['onStep'];
}

class EventCommand implements fc.Command<FuzzModel, Real> {
  constructor(readonly t: Template) {}
  check(): boolean {
    return true;
  }
  run(m: FuzzModel, r: Real): void {
    // A command is its event, preceded by the calls creating the resources it needs (syzkaller-style):
    // each constructor is applied, then the template is resolved again, until it resolves to itself.
    for (let i = 0; i < MAX_CHAIN; i++) {
      const { event, constructed } = resolveNext(this.t, r.w, m);
      const before = r.w;
      r.steps++;
      const res = step(r, m, event);
      if (!constructed || res.errno !== 0 || r.w === before) return;
    }
  }
  toString(): string {
    return showTemplate(this.t);
  }
}

/** Most events one command expands to (its resource constructors, then itself). */
export const MAX_CHAIN = 8;

function step(r: Real, m: FuzzModel, ev: Event): Result {
  const index = r.events.length;
  r.events.push(ev);
  let next: { state: World; result: Result };
  try {
    next = r.api.apply(r.w, ev);
  } catch (e) {
    r.results.push(undefined);
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new RunFailure(MODEL_CRASH, [{ invariant: MODEL_CRASH, message: `${ev.op} threw ${msg}` }], index);
  }
  const prev = r.w;
  r.results.push(next.result);
  r.w = next.state;
  if (r.keepStates) r.states.push(next.state);
  const v = r.checker.check(prev, next.state, ev, next.result, index);
  if (v.length) throw new RunFailure(v[0]!.invariant, v, index);
  r.onStep?.(ev, next.result, next.state, r.checker);
  learn(m, ev, next.result, next.state);
  return next.result;
}

interface Session {
  opts: FuzzOptions;
  kernel: KernelVersion;
  api: ModelApi;
  setup: Event[];
  base: { w: World; results: Result[]; states: World[] };
  runs: number;
  steps: number;
  t0: number;
}

function newSession(opts: FuzzOptions): Session {
  const kernel = opts.kernel ?? '6.12';
  const api = opts.model ?? realModel;
  const setup = setupEvents();
  let w = api.emptyWorld({ kernel });
  const results: Result[] = [];
  const states: World[] = [w];
  for (const ev of setup) {
    const r = api.apply(w, ev);
    if (r.result.errno) throw new Error(`fuzz setup: ${ev.op} failed with ${r.result.errno}`);
    results.push(r.result);
    w = r.state;
    states.push(w);
  }
  return { opts, kernel, api, setup, base: { w, results, states }, runs: 0, steps: 0, t0: performance.now() };
}

/** One run of a command sequence from the setup; throws RunFailure on a violation. */
function runOnce(s: Session, cmds: Iterable<fc.Command<FuzzModel, Real>>, replayCheck: boolean): Real {
  const real: Real = {
    w: s.base.w,
    events: [...s.setup],
    results: [...s.base.results],
    states: replayCheck ? [...s.base.states] : [],
    checker: new Checker(s.opts.invariants ? { only: s.opts.invariants } : {}),
    keepStates: replayCheck,
    api: s.api,
    steps: 0,
    onStep: s.opts.onStep,
  };
  const model = newModel();
  try {
    fc.modelRun(() => ({ model, real }), cmds);
  } finally {
    s.steps += real.steps;
  }
  if (replayCheck && (!s.opts.invariants || s.opts.invariants.includes('replay-from-checkpoint'))) {
    const n = real.events.length;
    // A checkpoint in the middle and the end: one fresh replay compared at both, one replay of the second half.
    const picks = [Math.floor((s.setup.length + n) / 2), n];
    const v = checkReplayFromCheckpoints(s.api, { kernel: s.kernel, events: real.events, states: real.states, picks });
    if (v.length) throw new RunFailure(v[0]!.invariant, v, n - 1);
  }
  return real;
}

/** The concrete events of a failing run, with the model's answers recorded so that `iorewind replay` verifies them. */
function recordFailure(s: Session, cmds: fc.Command<FuzzModel, Real>[], details: fc.RunDetails<[Iterable<fc.Command<FuzzModel, Real>>]>): FuzzFailure {
  let { real, failure } = runRecorded(s, (r, model) => {
    for (const c of cmds) c.run(model, r);
  });
  if (!failure) {
    const err = details.errorInstance;
    throw new Error(`fuzz: the shrunk counterexample did not fail again when replayed (${err instanceof Error ? err.message : String(err)})`);
  }
  // Below the commands: events one by one (a command's constructors go or stay with it in fast-check's shrink).
  const fewer = shrinkEvents(s, real.events.slice(0, failure.index + 1), failure.invariant);
  if (fewer) ({ real, failure } = fewer);
  const i = failure.index;
  const before = real.states[i] ?? s.base.w;
  const after = real.states[i + 1];
  const diff = after ? s.api.diffStates(before, after) : [];
  const events = real.events.map((ev, k) => withRecord(ev, real.results[k], k === i ? failure : undefined));
  const text = String(details.counterexample?.[0] ?? '');
  const m = /replayPath="([^"]*)"/.exec(text);
  return {
    invariant: failure.invariant,
    violations: failure.violations,
    kernel: s.kernel,
    events,
    results: real.results,
    setupLength: s.setup.length,
    failingIndex: i,
    diff,
    seed: details.seed,
    path: details.counterexamplePath,
    replayPath: m ? m[1]! : null,
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
    commands: cmds.map((c) => c.toString()),
  };
}

/**
 * Drops single generated events from a failing event list while the same
 * invariant still fails (last first, until none can go). fast-check removes
 * whole commands, and a command brings the calls that create what it needs
 * (its constructors): a fault queue, a nested HWPT and an attach for a page
 * request, say, which the failure may not need. Returns null if none could go.
 */
function shrinkEvents(s: Session, events: readonly Event[], invariant: string): { real: Real; failure: RunFailure } | null {
  let best: { real: Real; failure: RunFailure } | null = null;
  let cur = [...events];
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = cur.length - 2; k >= s.setup.length; k--) {
      const cand = [...cur.slice(0, k), ...cur.slice(k + 1)];
      const r = runConcrete(s, cand);
      if (r.failure?.invariant === invariant) {
        best = { real: r.real, failure: r.failure };
        cur = cand;
        changed = true;
      }
    }
  }
  return best;
}

/** A concrete event list (setup first) run as a fuzz run is: its states, answers and first violation, if any. */
function runConcrete(s: Session, events: readonly Event[]): { real: Real; failure: RunFailure | null } {
  return runRecorded(s, (r, model) => {
    for (const ev of events.slice(s.setup.length)) step(r, model, ev);
  });
}

/**
 * A run from the setup with every state kept (`run` steps it: commands, or
 * events), then the replay-from-checkpoint check: the run and its first
 * violation, if any.
 */
function runRecorded(s: Session, run: (r: Real, model: FuzzModel) => void): { real: Real; failure: RunFailure | null } {
  const r: Real = { w: s.base.w, events: [...s.setup], results: [...s.base.results], states: [...s.base.states], checker: new Checker(s.opts.invariants ? { only: s.opts.invariants } : {}), keepStates: true, api: s.api, steps: 0 };
  try {
    run(r, newModel());
    const n = r.events.length;
    const v = checkReplayFromCheckpoints(s.api, { kernel: s.kernel, events: r.events, states: r.states, picks: [Math.floor((s.setup.length + n) / 2), n] });
    if (v.length) throw new RunFailure(v[0]!.invariant, v, n - 1);
  } catch (e) {
    if (e instanceof RunFailure) return { real: r, failure: e };
    throw e;
  }
  return { real: r, failure: null };
}

/**
 * The event with the model's answer as its recorded result. At the failing
 * step the record also claims `out.invariant_violated`, which no answer
 * has: replaying the trace reports a divergence exactly there, naming the
 * invariant (a reducer crash needs no marker: replay throws there too).
 */
function withRecord(ev: Event, res: Result | undefined, fail?: RunFailure): Event {
  const out: Event = { ...ev };
  if (res) {
    const rec: NonNullable<Event['rec']> = { errno: res.errno };
    if (res.ret !== undefined) rec.ret = res.ret;
    if (res.out) rec.out = { ...res.out };
    if (res.bufs) rec.bufs = { ...res.bufs };
    if (fail) {
      rec.out = { ...(rec.out ?? {}), invariant_violated: `${fail.invariant}: ${fail.violations[0]?.message ?? ''}`.slice(0, 500) };
    }
    out.rec = rec;
  }
  if (fail) out.src = `fuzz: ${fail.invariant} violated here`;
  return out;
}

/** The fast-check property of a session (exported for tests that want fc.assert). */
function property(s: Session) {
  const o = s.opts;
  const arb = eventTemplates(s.kernel, o.bias ?? { hostile: 4 }, o.events);
  const cmdArb = fc.commands([arb.map((t) => new EventCommand(t) as fc.Command<FuzzModel, Real>)], { maxCommands: o.maxSteps ?? 40, size: 'max', ...(o.replayPath ? { replayPath: o.replayPath } : {}) });
  const every = o.replayEvery ?? 16;
  return fc.property(cmdArb, (cmds) => {
    s.runs++;
    runOnce(s, cmds, every > 0 && s.runs % every === 0);
    if (o.onProgress && s.runs % 16 === 0) o.onProgress({ runs: s.runs, steps: s.steps, failures: 0, elapsedMs: performance.now() - s.t0 });
  });
}

/** Fuzz with one seed: run, and on a failure shrink and record the minimal counterexample. */
export function fuzz(opts: FuzzOptions): FuzzResult {
  const s = newSession(opts);
  const params: fc.Parameters<[Iterable<fc.Command<FuzzModel, Real>>]> = { seed: opts.seed, numRuns: opts.runs, endOnFailure: opts.shrink === false };
  if (opts.path) params.path = opts.path;
  if (opts.timeMs !== undefined) params.interruptAfterTimeLimit = opts.timeMs;
  const details = fc.check(property(s), params) as fc.RunDetails<[Iterable<fc.Command<FuzzModel, Real>>]>;
  const elapsedMs = performance.now() - s.t0;
  let failure: FuzzFailure | null = null;
  if (details.failed && details.counterexample) {
    const cmds = [...details.counterexample[0]].filter((c) => (c as unknown as { hasRan?: boolean }).hasRan !== false) as fc.Command<FuzzModel, Real>[];
    failure = recordFailure(s, unwrap(cmds), details);
  } else if (details.failed) {
    const e = details.errorInstance as unknown;
    throw e instanceof Error ? e : new Error(String(e));
  }
  return {
    seed: opts.seed,
    kernel: s.kernel,
    runs: s.runs,
    steps: s.steps,
    elapsedMs,
    stepsPerSec: elapsedMs > 0 ? Math.round((s.steps / elapsedMs) * 1000) : 0,
    interrupted: details.interrupted,
    failure,
  };
}

/** fast-check wraps commands (to track which ran); run the originals. */
function unwrap(cmds: fc.Command<FuzzModel, Real>[]): fc.Command<FuzzModel, Real>[] {
  return cmds.map((c) => {
    const inner = (c as unknown as { cmd?: fc.Command<FuzzModel, Real> }).cmd;
    return (inner as object | undefined) instanceof EventCommand ? inner! : c;
  });
}

/** Check one concrete event list with every invariant (no generation): what `iorewind fuzz --check FILE` does. */
export function checkEvents(events: readonly Event[], kernel: KernelVersion, opts: { model?: ModelApi; invariants?: readonly string[] } = {}): { index: number; violations: Violation[] } | null {
  const api = opts.model ?? realModel;
  const checker = new Checker(opts.invariants ? { only: opts.invariants } : {});
  let w = api.emptyWorld({ kernel });
  const states: World[] = [w];
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    let r: { state: World; result: Result };
    try {
      r = api.apply(w, ev);
    } catch (e) {
      return { index: i, violations: [{ invariant: MODEL_CRASH, message: `${ev.op} threw ${e instanceof Error ? e.message : String(e)}` }] };
    }
    const v = checker.step({ prev: w, next: r.state, event: ev, result: r.result, index: i });
    w = r.state;
    states.push(w);
    if (v.length) return { index: i, violations: v };
  }
  const v = checkReplayFromCheckpoints(api, { kernel, events, states, picks: [0, Math.floor(events.length / 2), events.length] });
  return v.length ? { index: events.length - 1, violations: v } : null;
}
