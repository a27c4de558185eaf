/**
 * Replay from any checkpoint equals replay from the start: the model is a
 * pure function of the events, and a state kept as a checkpoint is never
 * changed by what is applied after it (persistent states, no hidden
 * mutable state, no iteration-order accidents).
 */
import type { Event, Result } from '../events/event.js';
import type { KernelVersion, World } from '../model/state.js';
import type { Invariant, Violation } from './types.js';

export const REPLAY_FROM_CHECKPOINT = 'replay-from-checkpoint';

/** The model entry points a replay check needs (the real model, or a copy of it). */
export interface ReplayModel {
  apply(w: World, ev: Event): { state: World; result: Result };
  emptyWorld(opts: { kernel: KernelVersion }): World;
  /** Structural differences between two states (engine/diff.ts diffStates). */
  diffStates(a: unknown, b: unknown): unknown[];
}

export interface ReplayCheckInput {
  kernel: KernelVersion;
  events: readonly Event[];
  /**
   * The states the run went through, kept as checkpoints: `states[i]` is the
   * state after the first i events (holes allowed; at least `states[0]`).
   */
  states: readonly (World | undefined)[];
  /** Checkpoint indices to restart from (default: every kept state). */
  picks?: readonly number[];
}

/** A few differences, printable. */
function show(patches: unknown[]): string {
  return JSON.stringify(patches.slice(0, 3), (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? `<${v.length} bytes>` : v)).slice(0, 400);
}

const isPlainObject = (v: object): boolean => {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
};

/** The persistent collections diffStates compares by their entries (read duck-typed, as a model copy has its own classes). */
const COLLECTIONS = new Set(['PMap', 'IntervalMap']);

function collection(v: object): { toArray(): unknown[] } | undefined {
  const p = Object.getPrototypeOf(v) as { constructor?: { name?: string }; toArray?: unknown } | null;
  return p && typeof p.toArray === 'function' && COLLECTIONS.has(p.constructor?.name ?? '') ? (v as { toArray(): unknown[] }) : undefined;
}

/**
 * Whether two values (numbers, strings, bigints, byte arrays, arrays and plain objects of them, persistent maps
 * by their entries: results and states) are structurally equal, shared subtrees skipped. Only ever answers
 * true where `diffStates` finds no difference; anything else (another class, a difference) answers false and
 * the caller asks `diffStates`, which says what differs.
 */
function plainEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ca = collection(a);
  if (ca) {
    const cb = collection(b);
    return !!cb && Object.getPrototypeOf(a) === Object.getPrototypeOf(b) && plainEqual(ca.toArray(), cb.toArray());
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!plainEqual(a[i], b[i])) return false;
    return true;
  }
  if (!isPlainObject(a) || !isPlainObject(b) || b instanceof Uint8Array || Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !plainEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * One straight replay from the empty state, compared at each picked index with
 * the kept checkpoint, and a replay from each picked checkpoint to the end
 * compared with the straight replay's final state; results must agree too.
 */
export function checkReplayFromCheckpoints(model: ReplayModel, input: ReplayCheckInput): Violation[] {
  const out: Violation[] = [];
  const n = input.events.length;
  const picks = [...new Set(input.picks ?? input.states.map((s, i) => (s ? i : -1)).filter((i) => i >= 0))].filter((i) => i >= 0 && i <= n).sort((a, b) => a - b);
  const want = new Set(picks);
  let w = model.emptyWorld({ kernel: input.kernel });
  const straight: World[] = [];
  const results: Result[] = [];
  for (let i = 0; ; i++) {
    if (want.has(i)) {
      straight[i] = w;
      const cp = input.states[i];
      if (cp) {
        const diff = plainEqual(cp, w) ? [] : model.diffStates(cp, w);
        if (diff.length) out.push({ invariant: REPLAY_FROM_CHECKPOINT, message: `the checkpoint after ${i} events differs from a fresh replay of those events: ${show(diff)}` });
      }
    }
    if (i === n) break;
    const r = model.apply(w, input.events[i]!);
    results.push(r.result);
    w = r.state;
  }
  const final = w;
  for (const i of picks) {
    if (out.length) break;
    const cp = input.states[i] ?? straight[i]!;
    let x = cp;
    for (let k = i; k < n; k++) {
      const r = model.apply(x, input.events[k]!);
      const d = plainEqual(r.result, results[k]) ? [] : model.diffStates(r.result, results[k]);
      if (d.length) {
        out.push({ invariant: REPLAY_FROM_CHECKPOINT, message: `replaying from the checkpoint after ${i} events, event ${k} (${input.events[k]!.op}) answers differently: ${show(d)}` });
        break;
      }
      x = r.state;
    }
    const diff = plainEqual(x, final) ? [] : model.diffStates(x, final);
    if (diff.length) out.push({ invariant: REPLAY_FROM_CHECKPOINT, message: `replaying from the checkpoint after ${i} events ends in a different state than replaying from the start: ${show(diff)}` });
  }
  return out;
}

export const replayFromCheckpoint: Invariant = {
  name: REPLAY_FROM_CHECKPOINT,
  kind: 'trace',
  summary: 'replay from any checkpoint equals replay from the start',
  doc:
    'Applying events is a pure function of the state and the event: a fresh replay from the empty state reaches ' +
    'states structurally equal (engine/diff.ts, no patches) to the checkpoints a run kept, and replaying the rest ' +
    'of the run from any checkpoint gives the same answers and the same final state. Catches reducers that mutate ' +
    'a previous state in place, hidden mutable state (module-level caches, counters) and iteration-order ' +
    'accidents. A trace-level check: use checkReplayFromCheckpoints (the fuzzer runs it at the end of each run).',
  checkState: () => [],
  checkStep: () => [],
};
