/**
 * The debugger's invariant checks ("first invariant violation", breakpoints
 * on invariants): the catalogue of src/invariants, a whole-state check for
 * the first state searched and incremental step checks after it (their cost
 * follows each step's change, and step invariants are covered too).
 * `setInvariantChecker` plugs another whole-state check in (tests).
 */
import type { Event, Result } from '../events/event.js';
import { Checker, checkState, INVARIANTS, type Violation as CatalogueViolation } from '../invariants/index.js';
import type { World } from '../model/state.js';

export interface Violation {
  name: string;
  message: string;
}

export type InvariantChecker = (w: World) => Violation[];

export interface StepChecker {
  step(s: { prev: World; next: World; event: Event; result: Result; index: number }): Violation[];
}

const fromCatalogue = (vs: CatalogueViolation[]): Violation[] => vs.map((v) => ({ name: v.invariant, message: v.message }));

const CATALOGUE = `src/invariants (${INVARIANTS.filter((i) => i.kind !== 'trace').length} state and step invariants, checked incrementally)`;

let plugged: InvariantChecker | null = null;
let pluggedFrom = '';

/** Use this whole-state check instead of the catalogue (null: back to the catalogue). */
export function setInvariantChecker(fn: InvariantChecker | null, from = 'custom'): void {
  plugged = fn;
  pluggedFrom = from;
}

/** Where the invariant checks come from, for messages. */
export function invariantSource(): string {
  return plugged ? pluggedFrom : CATALOGUE;
}

/** The whole-state check. */
export function currentInvariantChecker(): InvariantChecker {
  return plugged ?? ((w) => fromCatalogue(checkState(w)));
}

/** A fresh incremental step checker; null when a plugged whole-state check replaces the catalogue. */
export function currentStepChecker(): StepChecker | null {
  if (plugged) return null;
  const c = new Checker();
  return { step: (s) => fromCatalogue(c.step(s)) };
}
