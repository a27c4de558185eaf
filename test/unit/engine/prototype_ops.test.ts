/**
 * Event `op`s (and an mmap `kind`) that are names of Object.prototype's
 * members: trace files are untrusted, and a handler table looked up by such
 * a name used to hand back toString or the Object constructor, called as a
 * handler (an internal error out of `replay`, a garbage result from
 * `apply`), and replay's per-op counts would have written into
 * Object.prototype. Each one is now an op the model does not handle.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { replay } from '../../../src/engine/replay.js';
import { emptyWorld } from '../../../src/model/state.js';
import { DebugIndex } from '../../../src/debug/history.js';
import { eventView } from '../../../src/debug/views.js';
import { encodeInput, notCheckable } from '../../../src/oracle/encode.js';

const NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'toLocaleString'];

const trace: Event[] = [{ op: 'open', pid: 1, args: { path: '/dev/iommu' } }];
for (const op of NAMES) trace.push({ op, pid: 1, args: {} }, { op, pid: 1, fd: 0, args: {} });
trace.push({ op: 'mmap', pid: 1, args: { va: 0x10000n, length: 0x1000n, kind: 'constructor' } });

describe('ops named after Object.prototype members', () => {
  it('apply: not modelled, state unchanged', () => {
    const w = apply(emptyWorld({ kernel: '6.12' }), trace[0]!).state;
    for (const op of NAMES)
      for (const fd of [undefined, 0]) {
        const r = apply(w, { op, pid: 1, fd, args: {} });
        expect(r.result.unmodelled, `${op} fd ${fd}`).toBe(op);
        expect(r.state).toBe(w);
      }
  });

  it('replay counts them per op without touching Object.prototype', async () => {
    const s = await replay(trace);
    expect(s.events).toBe(trace.length);
    expect(s.divergences).toBe(NAMES.length * 2);
    expect(Object.getOwnPropertyNames(s.by_op)).toEqual(expect.arrayContaining(NAMES));
    expect(s.by_op['toString']).toEqual({ events: 2, divergences: 2 });
    expect(Object.prototype).not.toHaveProperty('events');
  });

  it('the debugger indexes and shows them; the oracle encodes or declines them without a crash', async () => {
    const ix = new DebugIndex({ kernel: '6.12' });
    await ix.ingest(trace);
    expect(ix.length).toBe(trace.length);
    for (let i = 0; i < trace.length; i++) expect(eventView(ix, i).op).toBe(trace[i]!.op);
    for (const ev of trace.slice(1, -1)) expect(typeof notCheckable(ev) === 'string' || notCheckable(ev) === undefined).toBe(true);
    // like any op it does not know, the oracle's encoder refuses them by name
    for (const op of NAMES) expect(() => encodeInput([{ name: 't', events: [trace[0]!, { op, pid: 1, args: {} }] }])).toThrow(`unknown event ${op}`);
    // an unknown mmap kind is sent as an anonymous mapping, whatever its name
    const mmap = (kind: string) => encodeInput([{ name: 't', events: [{ op: 'mmap', pid: 1, args: { va: 0x10000n, length: 0x1000n, kind } }] }]).input;
    expect(mmap('constructor')).toEqual(mmap('no-such-kind'));
    // a madvise advice of such a name is declined as an unknown one; a capability is sent as one
    const env = (op: string, args: Event['args']) => encodeInput([{ name: 't', events: [{ op, pid: 1, args }] }]).input;
    for (const advice of ['toString', 'NO_SUCH']) expect(() => env('madvise', { va: 0x10000n, length: 0x1000n, advice })).toThrow('an advice name madvise(2) does not have');
    expect(env('drop_capability', { cap: 'valueOf' })).toEqual(env('drop_capability', { cap: 'CAP_NO_SUCH' }));
  });
});
