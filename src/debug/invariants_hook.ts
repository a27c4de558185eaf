/**
 * INVARIANT HOOK for the debugger ("first invariant violation", breakpoints
 * on invariants).
 *
 * The invariant catalogue lives in `src/invariants/`; it is loaded lazily
 * (and this module keeps working without it). It is picked up if
 * `src/invariants/index.ts` exports one of
 *   - `checkInvariants(world: World): Violation-like[]`
 *   - `checkWorld(world: World): Violation-like[]`
 *   - `check(world: World): Violation-like[]`
 * (a whole-state check), where a violation is a string or an object with
 * `name`/`invariant` and `message`/`detail`; if it also exports a `Checker`
 * class with `step({ prev, next, event, result, index })`, forward searches
 * use its incremental step checks (cost follows each step's change, and
 * step invariants are covered too). `setInvariantChecker` plugs any other
 * whole-state function in.
 */
import type { Event, Result } from '../events/event.js';
import type { World } from '../model/state.js';

export interface Violation {
  name: string;
  message: string;
}

export type InvariantChecker = (w: World) => Violation[];

export interface StepChecker {
  step(s: { prev: World; next: World; event: Event; result: Result; index: number }): Violation[];
}

let checker: InvariantChecker | null = null;
let stepper: (() => StepChecker) | null = null;
let source = 'none';
let tried = false;

/** Use this checker from now on (tests, or a future src/invariants API). */
export function setInvariantChecker(fn: InvariantChecker | null, from = 'custom'): void {
  checker = fn;
  stepper = null;
  source = fn ? from : 'none';
  // null: back to src/invariants on the next use
  tried = fn !== null;
}

function normalise(v: unknown): Violation {
  if (typeof v === 'string') return { name: v, message: v };
  const o = (v ?? {}) as Record<string, unknown>;
  const name = String(o['name'] ?? o['invariant'] ?? o['id'] ?? 'invariant');
  const message = String(o['message'] ?? o['detail'] ?? o['text'] ?? name);
  return { name, message };
}

/** Looks for src/invariants once; returns the checker or null. */
export async function loadInvariantChecker(): Promise<InvariantChecker | null> {
  if (tried) return checker;
  tried = true;
  const spec = '../invariants/index.js';
  try {
    const mod = (await import(spec)) as Record<string, unknown>;
    for (const name of ['checkInvariants', 'checkWorld', 'check']) {
      const f = mod[name];
      if (typeof f === 'function') {
        checker = (w) => {
          const r = (f as (w: World) => unknown)(w);
          if (!r) return [];
          if (Array.isArray(r)) return r.map(normalise);
          return [normalise(r)];
        };
        source = `src/invariants (${name})`;
        const C = mod['Checker'];
        if (typeof C === 'function') {
          const Ctor = C as new () => { step(s: unknown): unknown[] };
          stepper = () => {
            const c = new Ctor();
            return { step: (st) => c.step(st).map(normalise) };
          };
          source += ', incremental step checks';
        }
        return checker;
      }
    }
  } catch {
    // not there yet
  }
  return null;
}

/** Where invariants come from, for messages ('none' until src/invariants exists). */
export function invariantSource(): string {
  return source;
}

export function currentInvariantChecker(): InvariantChecker | null {
  return checker;
}

/** A fresh incremental step checker, when src/invariants provides one. */
export function currentStepChecker(): StepChecker | null {
  return stepper ? stepper() : null;
}
