/**
 * A replayed trace with random access: checkpoints every K events (states
 * are persistent, so a checkpoint shares everything unchanged with its
 * neighbours), `stateAt(i)` by the nearest checkpoint plus replay, and the
 * patches of any step. The time-travel debugger stands on this.
 */
import type { Patch } from 'immer';
import type { Event, Result } from '../events/event.js';
import { emptyWorld, type KernelVersion, type World } from '../model/state.js';
import { apply } from './apply.js';
import { diffStates } from './diff.js';

export interface TimelineOptions {
  kernel?: KernelVersion;
  /** Events between checkpoints (default 1024). */
  checkpointEvery?: number;
}

export class Timeline {
  readonly every: number;
  private readonly checkpoints: World[] = [];
  private readonly results: Result[] = [];
  /** The last state reached by a seek, to make stepping forward O(1). */
  private cursor: { index: number; state: World };

  constructor(
    readonly events: readonly Event[],
    opts: TimelineOptions = {},
  ) {
    this.every = opts.checkpointEvery ?? 1024;
    if (!Number.isInteger(this.every) || this.every < 1) throw new Error(`checkpointEvery must be a positive integer, got ${this.every}`);
    let w = emptyWorld({ kernel: opts.kernel ?? '6.12' });
    const initial = w;
    for (let i = 0; i < events.length; i++) {
      if (i % this.every === 0) this.checkpoints.push(w);
      const s = apply(w, events[i]!);
      w = s.state;
      this.results.push(s.result);
    }
    if (events.length % this.every === 0) this.checkpoints.push(w);
    this.cursor = { index: 0, state: initial };
  }

  get length(): number {
    return this.events.length;
  }

  /** The state after the first `i` events (0 = the initial state). */
  stateAt(i: number): World {
    if (!Number.isInteger(i) || i < 0 || i > this.events.length) throw new RangeError(`stateAt(${i}): index outside 0..${this.events.length}`);
    let base: { index: number; state: World };
    const cp = Math.floor(i / this.every);
    base = { index: cp * this.every, state: this.checkpoints[cp]! };
    if (this.cursor.index <= i && this.cursor.index > base.index) base = this.cursor;
    let w = base.state;
    for (let k = base.index; k < i; k++) w = apply(w, this.events[k]!).state;
    this.cursor = { index: i, state: w };
    return w;
  }

  /** The model's answer to event `i`. */
  resultAt(i: number): Result {
    const r = this.results[i];
    if (!r) throw new RangeError(`resultAt(${i}): index outside 0..${this.events.length - 1}`);
    return r;
  }

  /** What event `i` changed, as immer patches from stateAt(i) to stateAt(i + 1). */
  patchesAt(i: number): Patch[] {
    const before = this.stateAt(i);
    const after = apply(before, this.events[i]!).state;
    return diffStates(before, after);
  }

  /** Indices of events whose result has this errno. */
  findErrno(errno: string | 0, from = 0): number {
    for (let i = from; i < this.results.length; i++) if (this.results[i]!.errno === errno) return i;
    return -1;
  }
}
