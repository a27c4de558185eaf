/**
 * INVARIANT HOOK for the debugger ("first invariant violation", breakpoints
 * on invariants).
 *
 * The invariant checker lives in `src/invariants/` (built by another
 * change). Until it exists this hook finds nothing and says so. When it
 * does, it is picked up automatically if `src/invariants/index.ts` exports
 * one of:
 *   - `checkInvariants(world: World): Violation-like[]`
 *   - `checkWorld(world: World): Violation-like[]`
 *   - `check(world: World): Violation-like[]`
 * where a violation is a string or an object with `name`/`invariant` and
 * `message`/`detail`. `setInvariantChecker` plugs any other function in.
 */
import type { World } from '../model/state.js';

export interface Violation {
  name: string;
  message: string;
}

export type InvariantChecker = (w: World) => Violation[];

let checker: InvariantChecker | null = null;
let source = 'none';
let tried = false;

/** Use this checker from now on (tests, or a future src/invariants API). */
export function setInvariantChecker(fn: InvariantChecker | null, from = 'custom'): void {
  checker = fn;
  source = fn ? from : 'none';
  tried = true;
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
