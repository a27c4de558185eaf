/**
 * The index's change logs found from what transactions wrote ('touch', the
 * default) are row for row the logs of the structural diff of consecutive
 * states ('diff', the reference): over real-kernel captures, the bundled
 * traces, the oracle regression traces, fuzz-generated sequences (failed
 * ioctls and partial failures included) and a VM-style trace.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { importCapture } from '../../../src/capture/import.js';
import { DebugIndex } from '../../../src/debug/history.js';
import type { KernelVersion, World } from '../../../src/model/state.js';
import { readTraceSync } from '../../../src/trace/index.js';
import { vmTrace } from '../../../src/bench/vm_trace.js';
import { fuzzEvents, ROOT } from './fixtures.js';

/** Every log row of an index, in order, as text. */
function rows(ix: DebugIndex): string[] {
  const out: string[] = [];
  for (let k = 0; k < ix.iova.length; k++) {
    const r = ix.iova.row(k);
    out.push(`iova ${r.event} ${r.ctx} ${r.space} ${r.kind} ${r.start} ${r.last}`);
  }
  const o = ix.objs;
  for (let k = 0; k < o.length; k++) out.push(`obj ${o.ev.get(k)} ${o.ctx.get(k)} ${o.id.get(k)} ${o.change.get(k)} ${o.type.get(k)} ${o.state.get(k)}`);
  for (let k = 0; k < ix.pins.length; k++) out.push(`pin ${JSON.stringify(ix.pins.row(k), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  return out;
}

async function sameLogs(events: Event[], kernel: KernelVersion): Promise<number> {
  const touch = await DebugIndex.build(events, { kernel });
  const diff = await DebugIndex.build(events, { kernel, logs: 'diff' });
  const a = rows(touch);
  const b = rows(diff);
  expect(a.length).toBe(b.length);
  // first differing row, for a readable failure
  const k = a.findIndex((r, j) => r !== b[j]);
  expect(k === -1 ? null : { row: k, touch: a[k], diff: b[k] }).toBeNull();
  return a.length;
}

const CAPTURES = join(ROOT, '../shared/captures/selftest');
const captureFiles = existsSync(CAPTURES) ? readdirSync(CAPTURES).filter((f) => f.endsWith('.jsonl.gz')).sort() : [];

describe('change logs from transaction writes equal the structural diff logs', () => {
  it('on the real-kernel captures', async () => {
    expect(captureFiles.length).toBeGreaterThan(100);
    let total = 0;
    for (const f of captureFiles) {
      const events: Event[] = [];
      for await (const ev of importCapture(join(CAPTURES, f))) events.push(ev);
      total += await sameLogs(events, '6.12');
    }
    expect(total).toBeGreaterThan(10_000);
  }, 240_000);

  it('on the bundled traces and the oracle regression traces', async () => {
    const dirs = [join(ROOT, 'traces'), join(ROOT, 'test/oracle/regressions')];
    let n = 0;
    for (const d of dirs)
      for (const f of readdirSync(d).filter((x) => x.endsWith('.iort') || x.endsWith('.iort.jsonl'))) {
        const t = readTraceSync(join(d, f));
        await sameLogs(t.events, t.header.kernel);
        n++;
      }
    expect(n).toBeGreaterThan(10);
  });

  it('on fuzz-generated sequences, both kernels', async () => {
    for (const [seed, kernel] of [
      [0x10c5, '6.12'],
      [0x10c6, '6.14'],
      [0x10c7, '6.14'],
    ] as const)
      expect(await sameLogs(fuzzEvents(seed, kernel, 3000), kernel)).toBeGreaterThan(500);
  }, 120_000);

  it('on a VM-style trace', async () => {
    expect(await sameLogs([...vmTrace({ events: 6000, live: 300 })], '6.12')).toBeGreaterThan(6000);
  });

  it('catches a write the recorder misses', async () => {
    // The check above must be able to fail: with the Tx's object writes
    // unrecorded (an index whose list forgets them), the logs differ.
    const events = [...vmTrace({ events: 300, live: 20 })];
    const diff = rows(await DebugIndex.build(events, { logs: 'diff' }));
    const ix = new DebugIndex();
    type Inner = { touch: { objs: number[] }; applyTouched: (w: World, ev: Event) => unknown };
    const inner = ix as unknown as Inner;
    const real = inner.applyTouched.bind(ix);
    inner.applyTouched = (w, ev) => {
      const r = real(w, ev);
      inner.touch.objs = []; // every object write forgotten
      return r;
    };
    await ix.ingest(events);
    expect(rows(ix)).not.toEqual(diff);
  });
});
