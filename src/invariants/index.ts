/**
 * The invariant catalogue: named, documented checks of the model's states
 * and steps, for tests, the fuzzer (`iorewind fuzz`) and a debugger.
 *
 *   import { INVARIANTS, Checker, checkState } from './invariants/index.js';
 *   const c = new Checker();                 // all state and step invariants
 *   const v = c.step({ prev, next, event, result, index });   // incremental, after every event
 *   const all = checkState(world);           // the whole state, from scratch
 *
 * State invariants have both a whole-state check and an incremental step
 * check whose cost follows what the step changed (found by reference
 * equality of the persistent state); step invariants look at one
 * transition; the trace invariant (replay from any checkpoint) is
 * `checkReplayFromCheckpoints`.
 */
import type { Event, Result } from '../events/event.js';
import type { World } from '../model/state.js';
import { StepDelta } from './delta.js';
import { areasDisjoint, areasInBounds } from './areas.js';
import { pinnedAccounting } from './pins.js';
import { refcounts } from './refs.js';
import { noDanglingIds } from './reach.js';
import { hwptMapsIoas } from './hwpt.js';
import { dirtyInTrackedMappings } from './dirty.js';
import { faultAnsweredOnce } from './faults.js';
import { vdeviceHasViommu } from './viommu.js';
import { failedIoctlUnchanged, mapPostcondition, unmapPostcondition } from './steps.js';
import { replayFromCheckpoint } from './replay.js';
import { opOf } from './util.js';
import { emptyHistory, leakKey, type History, type Invariant, type StepInput, type Violation } from './types.js';

export type { History, Invariant, StepInput, Violation } from './types.js';
export { emptyHistory, leakKey } from './types.js';
export { StepDelta, diffMap, type Change } from './delta.js';
export { checkReplayFromCheckpoints, type ReplayModel, type ReplayCheckInput } from './replay.js';
export { holds } from './refs.js';
export { refsOf } from './reach.js';

/** Every invariant, in the order they are checked and reported. */
export const INVARIANTS: readonly Invariant[] = [
  failedIoctlUnchanged,
  areasDisjoint,
  areasInBounds,
  mapPostcondition,
  unmapPostcondition,
  noDanglingIds,
  refcounts,
  pinnedAccounting,
  hwptMapsIoas,
  dirtyInTrackedMappings,
  faultAnsweredOnce,
  vdeviceHasViommu,
  replayFromCheckpoint,
];

export const INVARIANT_NAMES: readonly string[] = INVARIANTS.map((i) => i.name);

export function invariant(name: string): Invariant {
  const i = INVARIANTS.find((x) => x.name === name);
  if (!i) throw new Error(`unknown invariant '${name}' (known: ${INVARIANT_NAMES.join(', ')})`);
  return i;
}

/** Ops whose step checks still matter when the state did not change at all. */
const UNCHANGED_CHECKED = new Set(['IOMMU_IOAS_UNMAP', 'IOMMU_IOAS_MAP', 'IOMMU_IOAS_MAP_FILE', 'IOMMU_IOAS_COPY', 'VFIO_IOMMU_MAP_DMA', 'IOMMU_HWPT_SET_DIRTY_TRACKING', 'IOMMU_HWPT_GET_DIRTY_BITMAP']);

/** Whole-state check of every state invariant (or the named ones). */
export function checkState(w: World, opts: { only?: readonly string[]; history?: History } = {}): Violation[] {
  const out: Violation[] = [];
  for (const inv of INVARIANTS) if (inv.kind === 'state' && (!opts.only || opts.only.includes(inv.name))) out.push(...inv.checkState(w, opts.history));
  return out;
}

/**
 * Runs the step checks of the chosen invariants after each event and keeps
 * the history they need (IOAS references leaked by the 6.14 MAP_FILE bug).
 */
/** The step checks of the invariants a checker runs (plain functions: one indirect call each, no megamorphic method load). */
type StepCheck = (d: StepDelta, history: History) => Violation[];

/** The step invariants the default checker runs, and their step checks (built once). */
const STEP_INVARIANTS: readonly Invariant[] = INVARIANTS.filter((i) => i.kind !== 'trace');
// (No step check uses `this`.)
const stepChecks = (l: readonly Invariant[]): StepCheck[] => l.map((i) => i.checkStep as StepCheck);
const ALL_STEP_CHECKS: readonly StepCheck[] = stepChecks(STEP_INVARIANTS);

export class Checker {
  readonly invariants: readonly Invariant[];
  readonly history: History;
  /** Steps checked and violations found so far. */
  steps = 0;
  private readonly checks: readonly StepCheck[];

  constructor(opts: { only?: readonly string[]; history?: History } = {}) {
    if (opts.only) {
      for (const n of opts.only) invariant(n);
      const only = opts.only;
      this.invariants = STEP_INVARIANTS.filter((i) => only.includes(i.name));
      this.checks = stepChecks(this.invariants);
    } else {
      this.invariants = STEP_INVARIANTS;
      this.checks = ALL_STEP_CHECKS;
    }
    this.history = opts.history ?? emptyHistory();
  }

  /** Check one step; returns the violations (empty when every invariant holds). */
  step(s: StepInput): Violation[] {
    return this.check(s.prev, s.next, s.event, s.result, s.index);
  }

  /** `step` without the input record. */
  check(prev: World, next: World, event: Event, result: Result, index: number): Violation[] {
    this.steps++;
    // A step that changed nothing can only break the postconditions of a few ops (a success that did not do
    // its job, a missing 6.14 MAP_FILE leak is fine): skip the rest.
    if (prev === next && !UNCHANGED_CHECKED.has(event.op)) return [];
    const d = new StepDelta(prev, next, event, result, index);
    const checks = this.checks;
    let out: Violation[] | undefined;
    for (let i = 0; i < checks.length; i++) {
      const v = checks[i]!(d, this.history);
      if (v.length) (out ??= []).push(...v);
    }
    this.learn(d);
    return out ?? [];
  }

  /** Whole-state check with what this checker learned so far. */
  state(w: World): Violation[] {
    const out: Violation[] = [];
    for (const inv of this.invariants) if (inv.kind === 'state') out.push(...inv.checkState(w, this.history));
    return out;
  }

  private learn(d: StepDelta): void {
    const ev = d.event;
    if (d.kernel === '6.14' && d.result.errno === 'EBADF' && opOf(ev) === 'IOMMU_IOAS_MAP_FILE' && !d.unchanged) {
      for (const ctxId of d.ctxs.keys())
        for (const [id, [b, a]] of d.objs(ctxId))
          if (b?.type === 'ioas' && a?.type === 'ioas' && a.users === b.users + 1) {
            const k = leakKey(ctxId, id);
            this.history.leaks.set(k, (this.history.leaks.get(k) ?? 0) + 1);
          }
    }
    if (this.history.leaks.size && d.prev.ctxs !== d.next.ctxs)
      for (const [ctxId, [b, a]] of d.ctxs) if (b && !a) for (const k of [...this.history.leaks.keys()]) if (k.startsWith(`${ctxId}:`)) this.history.leaks.delete(k);
  }
}

/**
 * Whole-state check of every state invariant: the entry point the debugger's
 * invariant hook looks for (src/debug/invariants_hook.ts).
 */
export function checkInvariants(w: World): Violation[] {
  return checkState(w);
}
