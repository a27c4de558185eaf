/**
 * Applies events from an empty World, holding every step to the invariants
 * (failed-ioctl-unchanged among them): the hand-written kernel-answer tests
 * check both what the model answers and that it stays consistent.
 */
import { expect } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event, Result } from '../../../src/events/event.js';
import { Checker } from '../../../src/invariants/index.js';
import { emptyWorld, type KernelVersion, type World } from '../../../src/model/state.js';

export function runChecked(events: Event[], kernel: KernelVersion = '6.12'): { results: Result[]; w: World } {
  let w = emptyWorld({ kernel });
  const checker = new Checker();
  const results = events.map((ev, index) => {
    const r = apply(w, ev);
    expect(checker.step({ prev: w, next: r.state, event: ev, result: r.result, index }), ev.op).toEqual([]);
    w = r.state;
    return r.result;
  });
  return { results, w };
}
