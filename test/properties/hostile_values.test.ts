/**
 * Every integer of every event set to an extreme value (0, -1, 1.5, 2^31 - 1,
 * 2^32 - 1, 2^53, 2^40, 2^63, 2^64 - 4096, 2^64 - 1), every member to a value
 * of the wrong kind or left out, the args and each buffer taken away, in the
 * state the trace had reached: apply answers (whatever the answer) without
 * throwing, within a second. Trace files are untrusted; this found
 * VFIO_GET_INFO members that threw past 2^32 or as strings, negative lengths
 * reaching the interval tree, malformed maps and external_fds events, and
 * (with limits.ts) memsets and reads that took gigabytes. The events are
 * the bundled traces', the oracle regressions' and one capture per selftest
 * file family; the debugger indexes and shows such events too.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Value } from '../../src/events/event.js';
import { apply } from '../../src/engine/apply.js';
import { openSource } from '../../src/engine/source.js';
import { emptyWorld } from '../../src/model/state.js';
import { DebugIndex } from '../../src/debug/history.js';
import { eventView } from '../../src/debug/views.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CAPTURES = join(ROOT, '../shared/captures/selftest');
const EXTREME: Value[] = [0, -1, 1.5, 0x7fffffff, 0xffffffff, 2 ** 53, 1n << 40n, 1n << 63n, (1n << 64n) - 4096n, (1n << 64n) - 1n];
/** Occurrences of each op per trace that are mutated (the first ones). */
const PER_OP = 3;

function files(): string[] {
  const out = readdirSync(join(ROOT, 'traces')).filter((f) => f.endsWith('.iort')).map((f) => join(ROOT, 'traces', f));
  const reg = join(ROOT, 'test/oracle/regressions');
  out.push(...readdirSync(reg).map((f) => join(reg, f)));
  // one capture of each selftest file family (the first by name), plus the VFIO GET_INFO one
  const caps = readdirSync(CAPTURES).filter((f) => f.endsWith('.jsonl.gz')).sort();
  const fams = new Map<string, string>();
  for (const f of caps) if (!fams.has(f.split('.')[0]!)) fams.set(f.split('.')[0]!, f);
  out.push(...[...fams.values(), 'vfio_compat_mock_domain.Ver1v2.get_info.jsonl.gz'].map((f) => join(CAPTURES, f)));
  return out;
}

/** Values of the wrong kind, for any member (undefined: the member left out). */
const ODD: (Value | undefined)[] = [null, 'x', {}, [], [1, 2], true, new Uint8Array(3), undefined];

const isStruct = (v: unknown): v is Fields => !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);

/** Paths of the members of `a` (into nested structs, not into arrays or bytes), with their values. */
function* members(a: Fields, pre: string[] = []): Generator<[string[], Value]> {
  for (const [k, v] of Object.entries(a)) {
    yield [[...pre, k], v];
    if (isStruct(v)) yield* members(v, [...pre, k]);
  }
}

function withValue(a: Fields, path: string[], v: Value | undefined): Fields {
  const [k, ...rest] = path;
  const out: Fields = { ...a };
  if (rest.length) out[k!] = withValue(a[k!] as Fields, rest, v);
  else if (v === undefined) delete out[k!];
  else out[k!] = v;
  return out;
}

/** The event with each member in turn set to each extreme integer (integer members) and each odd value (all members), then without args, and with each buffer null, empty or absent. */
function* mutants(ev: Event): Generator<[string, Event]> {
  const show = (v: Value | undefined) => (v instanceof Uint8Array ? 'bytes' : v === undefined ? 'absent' : typeof v === 'bigint' ? `${v}n` : JSON.stringify(v));
  for (const [path, was] of members(ev.args ?? {})) {
    const values = typeof was === 'number' || typeof was === 'bigint' ? [...EXTREME, ...ODD] : ODD;
    for (const v of values) yield [`${path.join('.')} = ${show(v)}`, { ...ev, args: withValue(ev.args!, path, v) }];
  }
  yield ['args = null', { ...ev, args: null }];
  yield ['args = {}', { ...ev, args: {} }];
  for (const b of Object.keys(ev.bufs ?? {}))
    for (const v of [null, new Uint8Array(0), undefined]) {
      const bufs = { ...ev.bufs };
      if (v === undefined) delete bufs[b];
      else bufs[b] = v;
      yield [`bufs.${b} = ${show(v)}`, { ...ev, bufs }];
    }
}

describe('hostile values in any event', () => {
  for (const file of files()) {
    it(file.slice(file.lastIndexOf('/') + 1), async () => {
      const src = await openSource(file);
      let w = emptyWorld({ kernel: src.kernel });
      const seen = new Map<string, number>();
      let tried = 0;
      for await (const ev of src.events) {
        const k = seen.get(ev.op) ?? 0;
        if (ev.args && k < PER_OP) {
          seen.set(ev.op, k + 1);
          for (const [what, mutant] of mutants(ev)) {
            const t = performance.now();
            expect(() => apply(w, mutant), `${ev.op} ${what}`).not.toThrow();
            expect(performance.now() - t, `${ev.op} ${what}`).toBeLessThan(1000);
            tried++;
          }
        }
        w = apply(w, ev).state;
      }
      expect(tried).toBeGreaterThan(0);
    });
  }

  it('the debugger indexes a trace of such events and shows each one', async () => {
    const src = await openSource(join(ROOT, 'traces/selftest-mock-domain.iort'));
    const evs: Event[] = [];
    const seen = new Set<string>();
    for await (const ev of src.events) {
      if (ev.args && !seen.has(ev.op)) {
        seen.add(ev.op);
        for (const [, m] of mutants(ev)) evs.push(m);
      }
      evs.push(ev);
    }
    const ix = new DebugIndex({ kernel: src.kernel });
    await ix.ingest(evs);
    expect(ix.length).toBe(evs.length);
    for (let i = 0; i < evs.length; i++) expect(() => eventView(ix, i), `event ${i} ${evs[i]!.op}`).not.toThrow();
  });
});
