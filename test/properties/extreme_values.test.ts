/**
 * Every integer of every event, set to an extreme value (0, -1, 1.5, 2^31 - 1,
 * 2^32 - 1, 2^53, 2^40, 2^63, 2^64 - 4096, 2^64 - 1), in the state the
 * trace had reached: apply answers (whatever the answer) without throwing,
 * within a second. Trace files are untrusted; this found a VFIO_GET_INFO
 * field that threw past 2^32, memsets and reads that took gigabytes, and
 * page walks that took hours. The events are the bundled traces', the
 * oracle regressions' and one capture per selftest file family.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Value } from '../../src/events/event.js';
import { apply } from '../../src/engine/apply.js';
import { openSource } from '../../src/engine/source.js';
import { emptyWorld } from '../../src/model/state.js';

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

/** Paths of the integer members of `a` (into nested structs, not into arrays or bytes). */
function* ints(a: Fields, pre: string[] = []): Generator<string[]> {
  for (const [k, v] of Object.entries(a)) {
    if (typeof v === 'number' || typeof v === 'bigint') yield [...pre, k];
    else if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) yield* ints(v as Fields, [...pre, k]);
  }
}

function withValue(a: Fields, path: string[], v: Value): Fields {
  const [k, ...rest] = path;
  return { ...a, [k!]: rest.length ? withValue(a[k!] as Fields, rest, v) : v };
}

describe('extreme integer values in any event', () => {
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
          for (const path of ints(ev.args))
            for (const v of EXTREME) {
              const mutant: Event = { ...ev, args: withValue(ev.args, path, v) };
              const t = performance.now();
              expect(() => apply(w, mutant), `${ev.op} ${path.join('.')} = ${String(v)}`).not.toThrow();
              expect(performance.now() - t, `${ev.op} ${path.join('.')} = ${String(v)}`).toBeLessThan(1000);
              tried++;
            }
        }
        w = apply(w, ev).state;
      }
      expect(tried).toBeGreaterThan(0);
    });
  }
});
