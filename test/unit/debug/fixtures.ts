/** Shared inputs of the debugger tests. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Event } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { eventTemplates, learn, newModel, resolve, setupEvents } from '../../../src/fuzz/index.js';
import { emptyWorld, type KernelVersion, type World } from '../../../src/model/state.js';
import { encodeTrace, readTraceSync } from '../../../src/trace/index.js';

export const SAMPLE = fileURLToPath(new URL('../../../traces/selftest-mock-domain.iort', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Writes the bundled trace cut short into `dir` and returns its path: blocks
 * of 100 events, the file ending 200 bytes early, inside the last block, so
 * 800 events read before the bad block.
 */
export function writeCutSample(dir: string): string {
  const t = readTraceSync(SAMPLE);
  const bytes = encodeTrace(t.header, t.events, { blockEvents: 100 });
  const cut = join(dir, 'cut.iort');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 200));
  return cut;
}

/** A fuzz-style sequence: generated templates resolved against the state so far, every result kept. */
export function fuzzEvents(seed: number, kernel: KernelVersion, n: number): Event[] {
  const events = [...setupEvents(), { op: 'mmap', args: { va: 0x7f0000000000n, length: 0x4000000n, kind: 'anon' } } as Event];
  let w: World = emptyWorld({ kernel });
  for (const ev of events) w = apply(w, ev).state;
  const m = newModel();
  for (const t of fc.sample(eventTemplates(kernel), { numRuns: n, seed })) {
    const ev = resolve(t, w, m);
    const r = apply(w, ev);
    learn(m, ev, r.result, r.state);
    events.push(ev);
    w = r.state;
  }
  return events;
}
