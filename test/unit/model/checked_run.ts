/**
 * Applies events from an empty World, holding every step to the invariants
 * (failed-ioctl-unchanged among them): the hand-written kernel-answer tests
 * check both what the model answers and that it stays consistent.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { compare } from '../../../src/engine/replay.js';
import { openSource } from '../../../src/engine/source.js';
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

/**
 * A trace saved with a kernel's answers (`rec`: test/unit/model/traces/), run
 * as runChecked does: the first answer the model gives otherwise, or null,
 * and how many answers were compared.
 */
export async function kernelTrace(file: string): Promise<{ compared: number; first: { index: number; op: string; what: string; expected: unknown; actual: unknown } | null }> {
  const src = await openSource(file);
  const events: Event[] = [];
  for await (const ev of src.events) events.push(ev);
  const { results } = runChecked(events, src.kernel);
  let compared = 0;
  for (let index = 0; index < events.length; index++) {
    const ev = events[index]!;
    if (!ev.rec) continue;
    compared++;
    const d = compare(ev, results[index]!);
    if (d) return { compared, first: { index, op: ev.op, ...d } };
  }
  return { compared, first: null };
}

/** A describe() over every saved kernel trace in `dir` (kernelTrace): `count` of them, each agreeing, each with more than `minCompared` answers. */
export function kernelTraceSuite(title: string, dir: string, count: number, minCompared: number): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.iort.jsonl')).sort();
  describe(title, () => {
    it('has the traces', () => {
      expect(files.length).toBe(count);
    });
    it.each(files)('%s', async (f) => {
      const r = await kernelTrace(join(dir, f));
      expect(r.first).toBeNull();
      expect(r.compared).toBeGreaterThan(minCompared);
    });
  });
}
