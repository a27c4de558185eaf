/**
 * The shape of an invariant: a named, documented check that can look at one
 * whole state (tests, the debugger) and at one step (the fuzzer, after every
 * event, at a cost that follows what the step changed).
 */
import type { Event, Result } from '../events/event.js';
import type { World } from '../model/state.js';
import type { StepDelta } from './delta.js';

export interface Violation {
  /** Name of the invariant that does not hold. */
  invariant: string;
  /** What is wrong, with the IDs involved. */
  message: string;
  /** iommufd context, when the violation is inside one. */
  ctx?: number;
  /** Object ID (or pages ID, pid, file ID as the message says). */
  obj?: number;
}

/**
 * Facts a state alone cannot show, learned from the events that led to it.
 * Today: IOAS references leaked by the 6.14 IOMMU_IOAS_MAP_FILE EBADF bug
 * (kernel-semantics §2.3), per context and IOAS.
 */
export interface History {
  leaks: Map<string, number>;
}

export const emptyHistory = (): History => ({ leaks: new Map() });
export const leakKey = (ctx: number, id: number): string => `${ctx}:${id}`;

export interface Invariant {
  readonly name: string;
  /** One line: what must hold. */
  readonly summary: string;
  /** Longer explanation: why, which kernel rule (kernel-semantics §), what is checked incrementally. */
  readonly doc: string;
  /** 'state': a property of every reachable state; 'step': of every transition; 'trace': of a whole run. */
  readonly kind: 'state' | 'step' | 'trace';
  /** Check a whole state (empty for step and trace invariants). */
  checkState(w: World, history?: History): Violation[];
  /** Check one step; may assume the previous state satisfied every state invariant. */
  checkStep(d: StepDelta, history?: History): Violation[];
}

/** One applied event, as the step checks see it. */
export interface StepInput {
  prev: World;
  next: World;
  event: Event;
  result: Result;
  /** Position of the event in its run or trace. */
  index: number;
}
