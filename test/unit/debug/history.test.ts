/**
 * The debugger's index: any seek (in any order) gives the state of a
 * straight replay, results and errno columns match, and each history query
 * agrees with a brute-force scan of consecutive states.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Event, Result } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { diffStates } from '../../../src/engine/diff.js';
import { replay } from '../../../src/engine/replay.js';
import { emptyWorld, type Pages, type PinRun, type World } from '../../../src/model/state.js';
import { PMap } from '../../../src/ds/pmap.js';
import { readTraceSync } from '../../../src/trace/index.js';
import { vmTrace } from '../../../src/bench/vm_trace.js';
import { applyTimed, DebugIndex, type PinChange } from '../../../src/debug/history.js';
import { openSource } from '../../../src/engine/source.js';
import { importCapture } from '../../../src/capture/import.js';
import { invariantSource, setInvariantChecker } from '../../../src/debug/invariants_hook.js';
import { fuzzEvents, ROOT, SAMPLE } from './fixtures.js';

const SEED = 0xdeb9;

interface Straight {
  states: World[];
  results: Result[];
}

function straight(events: Event[], kernel: '6.12' | '6.14'): Straight {
  const states = [emptyWorld({ kernel })];
  const results: Result[] = [];
  for (const ev of events) {
    const r = apply(states[states.length - 1]!, ev);
    states.push(r.state);
    results.push(r.result);
  }
  return { states, results };
}

/**
 * A heap that asks for a collection at every checkpoint and is over a 1 MiB
 * budget at the first 16. Thinning waits for more than 8 checkpoints and
 * leaves 5, so it thins at the 8th, 12th and 16th: three times. After that
 * nothing is in use: the seeks keep seek checkpoints.
 */
function overBudgetThrice() {
  let collections = 0;
  return { used: () => (collections < 16 ? Infinity : 0), live: () => (collections++ < 16 ? 4 << 20 : 0) };
}

const sample = readTraceSync(SAMPLE);
// a VM-style trace: heavy map/unmap churn (checkpoints forced every 37 events)
const vm = [...vmTrace({ events: 2500, live: 40 })];
const fuzz = fuzzEvents(0x5eed7, '6.14', 2000);
const CAPTURE = join(ROOT, '../shared/captures/selftest/iommufd_ioas.two_mock_domain.access_rw.jsonl.gz');
const capture: Event[] = [];
if (existsSync(CAPTURE)) for await (const ev of importCapture(CAPTURE)) capture.push(ev);
const VFIO = join(ROOT, '../shared/captures/selftest/vfio_compat_mock_domain.Ver1v0.map.jsonl.gz');
const vfio: Event[] = [];
if (existsSync(VFIO)) for await (const ev of importCapture(VFIO)) vfio.push(ev);

describe.each([
  ['bundled trace', sample.events, sample.header.kernel, { checkpointUnits: 40, checkpointMs: 1e9 }],
  ['VM-style trace', vm, '6.12' as const, { maxGap: 37, checkpointMs: 1e9 }],
  // sparse checkpoints: a seek replays past the window it keeps (WIN_BACK states behind the target)
  ['VM-style trace, checkpoints 1,100 events apart', vm, '6.12' as const, { maxGap: 1100, checkpointUnits: 1e9, checkpointMs: 1e9 }],
  // over its memory budget at its first 16 collections: thinned three times (overBudgetThrice), later checkpoints 8 x 37 events apart
  ['VM-style trace, thinned to keep a memory budget', vm, '6.12' as const, { maxGap: 37, checkpointMs: 1e9, memoryMb: 1, heap: overBudgetThrice() }],
  // generated sequences: failures, partial failures, accesses, copies, dirty tracking, faults
  ['fuzz-generated sequence', fuzz, '6.14' as const, { checkpointUnits: 60, checkpointMs: 1e9 }],
  // a real-kernel capture with recorded answers: forks, access pins and reads, several contexts
  ...(capture.length ? [['real-kernel capture (iommufd_ioas.two_mock_domain.access_rw)', capture, '6.12' as const, { checkpointUnits: 60, checkpointMs: 1e9 }] as const] : []),
  // VFIO type1 v1 unmaps parts of mappings: areas split, and pins go from the middle of a pin run
  ...(vfio.length ? [['real-kernel capture (vfio_compat_mock_domain.Ver1v0.map)', vfio, '6.12' as const, { checkpointUnits: 60, checkpointMs: 1e9 }] as const] : []),
])('DebugIndex over the %s', (_name, events, kernel, opts) => {
  let ix: DebugIndex;
  let ref: Straight;
  beforeAll(async () => {
    ix = await DebugIndex.build(events, { kernel, ...opts });
    ref = straight(events, kernel);
  });

  it('indexes every event, with checkpoints', () => {
    expect(ix.length).toBe(events.length);
    expect(ix.done).toBe(true);
    expect(ix.checkpoints).toBeGreaterThan(2);
    expect(ix.thinnings).toBe('heap' in opts ? 3 : 0);
    expect(ix.checkpointSpacing).toBe(2 ** ix.thinnings);
    // (a thinned index's gaps are over maxGap: a seek across one keeps seek checkpoints)
    if ('heap' in opts) {
      const at = ix.checkpointPositions();
      const end = at.find((c, k) => k > 0 && c - at[k - 1]! > 37)!;
      ix.stateAt(0);
      ix.stateAt(end - 1);
      expect(ix.seekCheckpoints).toBeGreaterThan(0);
    }
  });

  it('seeks in any order give the state of a straight replay', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: events.length }), { minLength: 1, maxLength: 12 }), (seq) => {
        for (const i of seq) expect(diffStates(ix.stateAt(i), ref.states[i]!)).toEqual([]);
      }),
      { seed: SEED, numRuns: 25 },
    );
  });

  it('steps forward and backward agree with straight replay, and the event store round-trips', () => {
    const start = Math.floor(events.length / 2);
    for (let k = 0; k < 60; k++) {
      const i = Math.min(events.length - 1, Math.max(0, start + (k < 30 ? k : 30 - k)));
      const s = ix.step(i);
      expect(diffStates(s.after, ref.states[i + 1]!)).toEqual([]);
      expect(s.result.errno).toBe(ref.results[i]!.errno);
      expect(s.event).toEqual(events[i]);
    }
  });

  it('per-event columns', () => {
    for (let i = 0; i < events.length; i++) {
      expect(ix.op(i)).toBe(events[i]!.op);
      expect(ix.errno(i)).toBe(ref.results[i]!.errno);
    }
  });

  it('object history equals a brute-force scan', () => {
    // per context (contexts come and go in the generated sequence), ascending, as the index logs them
    const seen = new Map<number, number[]>();
    for (let i = 0; i < events.length; i++) {
      const a = ref.states[i]!;
      const b = ref.states[i + 1]!;
      const ctxIds = new Set<number>();
      for (const w of [a, b]) w.ctxs.each((ci) => void ctxIds.add(ci));
      for (const ci of [...ctxIds].sort((x, y) => x - y)) {
        const ca = a.ctxs.get(ci);
        const cb = b.ctxs.get(ci);
        const ids = new Set<number>();
        for (const c of [ca, cb]) c?.objs.each((id) => void ids.add(id));
        for (const id of ids) if (ca?.objs.get(id) !== cb?.objs.get(id)) seen.set(id, [...(seen.get(id) ?? []), i]);
      }
    }
    for (const [id, evs] of seen) expect(ix.objectHistory(id).map((c) => c.event)).toEqual(evs);
  });

  it('IOVA history: every map/unmap of an area is found from any address inside it', () => {
    for (let i = 0; i < events.length; i += 7) {
      const a = ref.states[i]!;
      const b = ref.states[i + 1]!;
      b.ctxs.each((ci, ctx) =>
        void ctx.objs.each((id, o) => {
          if (o.type !== 'ioas') return;
          const prev = a.ctxs.get(ci)?.objs.get(id);
          const prevAreas = prev?.type === 'ioas' ? prev.iopt.areas : undefined;
          o.iopt.areas.each((s, l) => {
            if (prevAreas?.get(s) !== undefined && prevAreas.find(s)?.last === l) return;
            const mid = s + (l - s) / 2n;
            const hits = ix.iovaHistory(mid, mid, { space: id, from: i, to: i });
            expect(hits.some((t) => t.kind === 'map' && t.start === s && t.last === l)).toBe(true);
          });
        }),
      );
    }
  });

  it('pin log: the rows of each event cover exactly the pages whose holder count changed, with both counts, the physical page and the VA', () => {
    const rowsOf = new Map<number, PinChange[]>();
    for (let k = 0; k < ix.pins.length; k++) {
      const r = ix.pins.row(k);
      const list = rowsOf.get(r.event) ?? [];
      list.push(r);
      rowsOf.set(r.event, list);
    }
    const runAt = (p: Pages | undefined, idx: number) => {
      const e = p?.pinned.floor(idx);
      return e && e[1].last >= idx ? e : undefined;
    };
    let pages = 0;
    for (let i = 0; i < events.length; i++) {
      const a = ref.states[i]!;
      const b = ref.states[i + 1]!;
      const keys = new Set<string>();
      for (const w of [a, b]) w.ctxs.each((ci, c) => void c.pages.each((pid) => void keys.add(`${ci}:${pid}`)));
      const expected: string[] = [];
      for (const key of keys) {
        const [ci, pid] = key.split(':').map(Number) as [number, number];
        const x = a.ctxs.get(ci)?.pages.get(pid);
        const y = b.ctxs.get(ci)?.pages.get(pid);
        if (x?.pinned === y?.pinned) continue;
        const p = (y ?? x)!;
        for (let idx = 0; idx < p.npages; idx++) {
          const e1 = runAt(x, idx);
          const e2 = runAt(y, idx);
          const c1 = e1?.[1].count ?? 0;
          const c2 = e2?.[1].count ?? 0;
          if (c1 === c2) continue;
          const [s, run] = (e2 ?? e1)!;
          expected.push(`${ci}:${pid}:${idx}:${c1}:${c2}:${run.mobj}:${run.mobjIndex + idx - s}:${p.base + BigInt(idx) * 4096n}`);
        }
      }
      const got: string[] = [];
      for (const r of rowsOf.get(i) ?? [])
        for (let idx = r.first; idx <= r.last; idx++) got.push(`${r.ctx}:${r.pages}:${idx}:${r.before}:${r.after}:${r.mobj}:${r.mobjIndex + idx - r.first}:${r.va + BigInt(idx - r.first) * 4096n}`);
      expect(got.sort(), `event ${i}`).toEqual(expected.sort());
      pages += expected.length;
    }
    expect(pages).toBeGreaterThan(10);
  });

  it('pin history: every newly pinned page is reported at its event', () => {
    let checked = 0;
    for (let i = 0; i < events.length && checked < 200; i++) {
      const a = ref.states[i]!;
      const b = ref.states[i + 1]!;
      b.ctxs.each((ci, ctx) =>
        void ctx.pages.each((pid, p) => {
          const old = a.ctxs.get(ci)?.pages.get(pid);
          if (old?.pinned === p.pinned) return;
          p.pinned.each((s, run) => {
            const before = old?.pinned.floor(s);
            if (before && before[1].last >= s && before[1].count === run.count) return;
            const hits = ix.pinHistory({ pages: pid, index: s, ctx: ci }).filter((h) => h.event === i);
            expect(hits.length).toBe(1);
            expect(hits[0]!.after).toBe(run.count);
            checked++;
          });
        }),
      );
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('errno, divergence and invariant queries', () => {
  afterEach(() => setInvariantChecker(null));

  it('findErrno walks failures both ways', async () => {
    const evs: Event[] = [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_DESTROY', fd: 0, args: { id: 99 } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 1 } },
      { op: 'IOMMU_DESTROY', fd: 0, args: { id: 77 } },
    ];
    const ix = await DebugIndex.build(evs);
    expect(ix.errno(2)).toBe('ENOENT');
    expect(ix.findErrno('ENOENT', -1, 1)).toBe(2);
    expect(ix.findErrno('ENOENT', 2, 1)).toBe(4);
    expect(ix.findErrno('ENOENT', 4, -1)).toBe(2);
    expect(ix.findErrno('any', 2, 1)).toBe(3);
    expect(ix.findErrno('EPERM', -1, 1)).toBe(-1);
  });

  it('the first divergence is the one replay reports', async () => {
    const evs = sample.events.map((e) => ({ ...e }));
    const k = evs.findIndex((e, i) => i > 100 && e.op === 'IOMMU_IOAS_MAP' && e.rec);
    evs[k] = { ...evs[k]!, rec: { ...evs[k]!.rec!, errno: 'EINVAL' } };
    const ix = await DebugIndex.build(evs, { kernel: sample.header.kernel });
    const r = await replay(evs, { kernel: sample.header.kernel });
    expect(ix.firstDivergence).toBe(k);
    expect(r.first_divergence?.index).toBe(k);
    expect(ix.findDivergence(-1, 1)).toBe(k);
    expect(ix.divergenceAt(k)?.what).toBe('errno');
  });

  it('uses the invariant catalogue of src/invariants (incremental step checks)', async () => {
    const ix = await DebugIndex.build(sample.events, { kernel: sample.header.kernel });
    const r = await ix.findInvariantViolation(-1, 1);
    expect(invariantSource()).toMatch(/^src\/invariants .*incremental/);
    // whatever the catalogue says about this trace, the answer is well formed
    expect(r).not.toBeNull();
    if (r!.index >= 0) expect(r!.violations.length).toBeGreaterThan(0);
    else expect(r!.searchedTo).toBe(sample.events.length - 1);
  });

  it('first invariant violation uses the plugged checker', async () => {
    const ix = await DebugIndex.build(sample.events, { kernel: sample.header.kernel });
    setInvariantChecker((w) => {
      let bad = false;
      w.ctxs.each((_c, ctx) => void ctx.objs.each((_i, o) => void (bad ||= o.type === 'ioas' && o.iopt.areas.size > 0)));
      return bad ? [{ name: 'toy', message: 'an IOAS has an area' }] : [];
    }, 'test');
    const first = sample.events.findIndex((e) => e.op === 'IOMMU_IOAS_MAP');
    const r = await ix.findInvariantViolation(-1, 1);
    expect(r?.index).toBe(first);
    expect(r?.violations[0]?.name).toBe('toy');
  });

  it('a source that fails part-way leaves the events before the bad one indexed', async () => {
    function* upTo(n: number): Generator<Event> {
      for (let k = 0; k < n; k++) yield sample.events[k]!;
      throw new Error('bad record');
    }
    for (const n of [10, 1500]) {
      const ix = new DebugIndex({ kernel: sample.header.kernel });
      await expect(ix.ingest(upTo(Math.min(n, sample.events.length)))).rejects.toThrow('bad record');
      expect(ix.length).toBe(Math.min(n, sample.events.length));
      expect(ix.error?.message).toBe('bad record');
    }
  });

  it('indexes a trace file by blocks the same as event by event', async () => {
    const src = await openSource(SAMPLE);
    expect(src.batches).toBeDefined();
    const a = new DebugIndex({ kernel: src.kernel });
    await a.ingestSource(src);
    const b = await DebugIndex.build(sample.events, { kernel: sample.header.kernel });
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) expect([a.op(i), a.errno(i), a.flags(i)]).toEqual([b.op(i), b.errno(i), b.flags(i)]);
    expect(a.objectsChangedAt(a.length - 1)).toEqual(b.objectsChangedAt(b.length - 1));
  });
});

describe('checkpoint spacing', () => {
  it('apply time is the backstop: with units and gaps unbounded, a checkpoint follows each timed event over it, and none other', async () => {
    const unbounded = { kernel: '6.12' as const, checkpointUnits: 1e9, maxGap: 1e9 };
    // (any apply takes some time: over 1e-9 ms once multiplied by the sample rate)
    const timed = await DebugIndex.build(vm, { ...unbounded, checkpointMs: 1e-9 });
    const at = timed.checkpointPositions();
    expect(at[0]).toBe(0);
    for (const p of at.slice(1)) expect(applyTimed(p - 1)).toBe(true);
    const sampledEvents = vm.slice(0, -1).filter((_, i) => applyTimed(i)).length;
    expect(at.length - 1).toBeGreaterThan(sampledEvents * 0.9);
    const untimed = await DebugIndex.build(vm, { ...unbounded, checkpointMs: 1e9 });
    expect(untimed.checkpointPositions()).toEqual([0]);
  });

  it('the timed events are one in 16, spread over every residue: a trace that alternates two kinds of event gets both timed', () => {
    const n = 1 << 16;
    let timed = 0;
    const byResidue = new Array<number>(16).fill(0);
    for (let i = 0; i < n; i++)
      if (applyTimed(i)) {
        timed++;
        byResidue[i % 16]!++;
      }
    expect(timed).toBeGreaterThan(n / 16 - n / 256);
    expect(timed).toBeLessThan(n / 16 + n / 256);
    for (const r of byResidue) expect(r).toBeGreaterThan(timed / 32);
  });
});

describe('pin log rows where the pins of a pages object change in part (the general walk)', () => {
  // Hand-made before/after pages objects: the walk is reached by partial unpins (a VFIO type1 v1 unmap of
  // part of a mapping, with a domain), which no bundled trace or capture happens to do.
  const pages = (runs: [number, PinRun][]): Pages => ({
    id: 3,
    base: 0x7f0000000000n,
    npages: 16,
    writable: true,
    account: 'user',
    ownerPid: 1,
    ownerUid: 0,
    pinned: PMap.fromSorted(runs, PMap.emptyNumber<PinRun>()),
    npinned: 0,
    areaRefs: 1,
  });
  const rowsFor = (x: Pages, y: Pages): PinChange[] => {
    const ix = new DebugIndex();
    (ix as unknown as { recordPins(i: number, ctx: number, id: number, x: Pages, y: Pages): void }).recordPins(7, 1, 3, x, y);
    return Array.from({ length: ix.pins.length }, (_, k) => ix.pins.row(k));
  };

  it('unpinning the tail of a run: the row starts inside the old run, physical page and VA offset to match', () => {
    const x = pages([[0, { last: 15, count: 1, mobj: 2, mobjIndex: 100 }]]);
    const y = pages([[0, { last: 7, count: 1, mobj: 2, mobjIndex: 100 }]]);
    expect(rowsFor(x, y)).toEqual([{ event: 7, ctx: 1, pages: 3, first: 8, last: 15, before: 1, after: 0, mobj: 2, mobjIndex: 108, va: 0x7f0000000000n + 8n * 4096n }]);
  });

  it('a second holder on the middle of a run, and the runs around it untouched', () => {
    const x = pages([[0, { last: 15, count: 1, mobj: 2, mobjIndex: 100 }]]);
    const y = pages([
      [0, { last: 3, count: 1, mobj: 2, mobjIndex: 100 }],
      [4, { last: 5, count: 2, mobj: 2, mobjIndex: 104 }],
      [6, { last: 15, count: 1, mobj: 2, mobjIndex: 106 }],
    ]);
    expect(rowsFor(x, y)).toEqual([{ event: 7, ctx: 1, pages: 3, first: 4, last: 5, before: 1, after: 2, mobj: 2, mobjIndex: 104, va: 0x7f0000000000n + 4n * 4096n }]);
  });
});

describe('the memory budget', () => {
  const MiB = 1 << 20;
  /** Heap use modelled as a fixed part plus `each` per checkpoint held (of either kind); counts the collections asked for. */
  function probe(fixed: number, each: number) {
    const p = { ix: null as DebugIndex | null, collections: 0, fixed };
    const used = () => p.fixed + each * ((p.ix?.checkpoints ?? 0) + (p.ix?.seekCheckpoints ?? 0));
    return { p, heap: { used, live: () => (p.collections++, used()) } };
  }
  const events = [...vmTrace({ events: 3000, live: 40 })];
  const build = async (memoryMb: number, fixed: number, each: number, maxGap = 20) => {
    const { p, heap } = probe(fixed, each);
    const ix = new DebugIndex({ kernel: '6.12', maxGap, checkpointUnits: 1e9, checkpointMs: 1e9, memoryMb, heap });
    p.ix = ix;
    await ix.ingest(events);
    return { ix, p };
  };

  it('a budget that is no number of MiB is a misuse of the API', () => {
    for (const memoryMb of [0, -1, NaN, Infinity]) expect(() => new DebugIndex({ memoryMb })).toThrow(RangeError);
  });

  it('under the budget nothing is thinned and no collection is asked for', async () => {
    const { ix, p } = await build(64, 8 * MiB, 0.1 * MiB);
    expect(ix.checkpoints).toBe(150); // 3000 events / 20, and the initial state
    expect(ix.thinnings).toBe(0);
    expect(ix.checkpointSpacing).toBe(1);
    expect(p.collections).toBe(0);
    // no gap is longer than maxGap: a seek anywhere replays less and keeps nothing
    for (const i of [2999, 1, 1510, 3000, 0, 777]) ix.stateAt(i);
    expect(ix.seekCheckpoints).toBe(0);
  });

  it('past it, checkpoints are thinned and spaced wider until they fit, and every seek still gives the straight state', async () => {
    // 8 MiB fixed + 0.5 MiB a checkpoint against 32 MiB: at most (32 * 0.8 - 8) / 0.5 = 35 checkpoints stay after a collection
    const { ix, p } = await build(32, 8 * MiB, 0.5 * MiB);
    expect(ix.thinnings).toBeGreaterThan(0);
    expect(ix.checkpointSpacing).toBe(2 ** ix.thinnings);
    expect(8 + 0.5 * ix.checkpoints).toBeLessThanOrEqual(32);
    expect(p.collections).toBeLessThan(ix.thinnings + 20);
    const ref = straight(events, '6.12');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: events.length }), { minLength: 1, maxLength: 10 }), (seq) => {
        for (const i of seq) expect(diffStates(ix.stateAt(i), ref.states[i]!)).toEqual([]);
      }),
      { seed: SEED, numRuns: 5 },
    );
  });

  it('on a thinned index, a long seek keeps states it passed through: the next seek near there replays at most a sixteenth as far', async () => {
    // 10 MiB fixed is over 80% of 12 by itself: thinned to the floor of 9 or fewer, gaps of more than 16 x maxGap
    const { ix, p } = await build(12, 10 * MiB, 0.5 * MiB, 8);
    p.fixed = 0; // (then the pressure is gone: the seeks' checkpoints have room)
    const gap = 8 * ix.checkpointSpacing;
    expect(gap).toBeGreaterThan(8 * 16);
    const ref = straight(events, '6.12');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: events.length }), fc.integer({ min: -40, max: 40 }), (i, d) => {
        ix.stateAt(0); // (leaves the replay window)
        let r0 = ix.replayed;
        expect(diffStates(ix.stateAt(i), ref.states[i]!)).toEqual([]);
        const first = ix.replayed - r0;
        expect(first).toBeLessThanOrEqual(gap);
        ix.stateAt(0);
        const j = Math.min(events.length, Math.max(0, i + d));
        r0 = ix.replayed;
        expect(diffStates(ix.stateAt(j), ref.states[j]!)).toEqual([]);
        // from the seek checkpoint before j, or the one before that when j is before i's first
        if (j <= i) expect(ix.replayed - r0).toBeLessThanOrEqual(Math.max(8, Math.ceil(first / 16)) + Math.max(0, i - j) + 8);
        ix.stateAt(0);
        r0 = ix.replayed;
        ix.stateAt(i);
        expect(ix.replayed - r0).toBeLessThanOrEqual(Math.max(8, Math.ceil(first / 16)));
      }),
      { seed: SEED, numRuns: 40 },
    );
    // (as many as the index's own: the heap in use never went over the budget)
    expect(ix.seekCheckpoints).toBe(ix.checkpoints);
  });

  it('seek checkpoints are at most as many as the index\'s own, least recently used dropped first, and half of them go when the heap in use is over the budget', async () => {
    const { ix, p } = await build(12, 10 * MiB, 0.5 * MiB, 8);
    const own = ix.checkpoints;
    const thinnings = ix.thinnings;
    const collections = p.collections;
    // the ends of three gaps of more than 16 x maxGap between the index's checkpoints
    const at = ix.checkpointPositions();
    const ends = at.slice(1).filter((c, k) => c - at[k]! > 8 * 16);
    expect(ends.length).toBeGreaterThanOrEqual(3);
    const [a, b, c] = ends.map((e) => e - 1) as [number, number, number];
    const gap = (i: number) => i - at.filter((x) => x <= i).pop()!;
    const short = (i: number) => Math.ceil(gap(i) / 16);
    const seek = (i: number) => {
      ix.stateAt(0);
      const r0 = ix.replayed;
      ix.stateAt(i);
      return ix.replayed - r0;
    };
    p.fixed = -Infinity; // heap in use never over the budget: only their number limits them
    expect(seek(a)).toBe(gap(a));
    expect(ix.seekCheckpoints).toBe(own); // (15 made, the first ones dropped)
    expect(seek(a)).toBeLessThanOrEqual(short(a));
    expect(seek(b)).toBe(gap(b));
    expect(ix.seekCheckpoints).toBe(own);
    expect(seek(b)).toBeLessThanOrEqual(short(b));
    // over the budget at the next long seek: half go, least recently used first, and that seek keeps none
    const held = ix.seekCheckpoints;
    p.fixed = Infinity;
    expect(seek(c)).toBe(gap(c));
    expect(ix.seekCheckpoints).toBe(held - Math.ceil(held / 2));
    p.fixed = -Infinity;
    expect(seek(b)).toBeLessThanOrEqual(short(b));
    expect(seek(c)).toBe(gap(c));
    // b's and c's, used more recently, pushed out a's (the first seek's)
    expect(seek(a)).toBe(gap(a));
    // no collection asked for by seeks, and the index's own checkpoints untouched
    expect(p.collections).toBe(collections);
    expect(ix.checkpoints).toBe(own);
    expect(ix.thinnings).toBe(thinnings);
  });

  it('while the index grows, its next checkpoint over the budget drops the seeks\' checkpoints, before it would thin its own', async () => {
    const { p, heap } = probe(12 * MiB, 0.5 * MiB);
    const ix = new DebugIndex({ kernel: '6.12', maxGap: 20, checkpointUnits: 1e9, checkpointMs: 1e9, memoryMb: 32, heap });
    p.ix = ix;
    await ix.ingest(events.slice(0, 2000));
    const thinnings = ix.thinnings;
    expect(thinnings).toBeGreaterThan(0);
    p.fixed = 0;
    for (const i of [1999, 1000, 1500]) (ix.stateAt(0), ix.stateAt(i));
    expect(ix.seekCheckpoints).toBeGreaterThan(0);
    p.fixed = 12 * MiB;
    await ix.ingest(events.slice(2000));
    expect(ix.seekCheckpoints).toBe(0);
    // (the collection after the drop still sees too much live: then the index's own are thinned, as before)
    expect(ix.length).toBe(events.length);
    const ref = straight(events, '6.12');
    for (const i of [2999, 1999, 1000, 3000, 0]) expect(diffStates(ix.stateAt(i), ref.states[i]!)).toEqual([]);
  });

  it('seeks between batches of a growing, thinning index (seek checkpoints made, dropped, used) give the straight state', async () => {
    const ref = straight(events, '6.12');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 600 }), fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 6 }), fc.boolean()), { minLength: 1, maxLength: 8 }),
        async (plan) => {
          const { p, heap } = probe(10 * MiB, 0.5 * MiB);
          const ix = new DebugIndex({ kernel: '6.12', maxGap: 8, checkpointUnits: 1e9, checkpointMs: 1e9, memoryMb: 12, heap });
          p.ix = ix;
          let at = 0;
          for (const [n, seeks, room] of plan) {
            await ix.ingest(events.slice(at, Math.min(events.length, at + n)));
            at = Math.min(events.length, at + n);
            // room: seeks may keep their checkpoints; none: each one finds the heap over the budget
            p.fixed = room ? -Infinity : Infinity;
            for (const i of seeks) if (i <= at) expect(diffStates(ix.stateAt(i), ref.states[i]!)).toEqual([]);
            expect(ix.seekCheckpoints).toBeLessThanOrEqual(ix.checkpoints);
            p.fixed = 10 * MiB;
          }
        },
      ),
      { seed: SEED, numRuns: 25 },
    );
  });

  it('a state larger than the budget by itself is not thinned below a few checkpoints, and collections stay rare', async () => {
    // 64 MiB of state against 4 MiB: no number of checkpoints fits, and each one adds a little
    const { ix, p } = await build(4, 64 * MiB, 0.02 * MiB);
    expect(ix.thinnings).toBeGreaterThan(0);
    expect(ix.checkpoints).toBeGreaterThanOrEqual(5);
    // once only the floor is left, the next collection waits for another quarter of the budget in use (50 checkpoints here)
    expect(p.collections).toBeLessThan(2 * ix.thinnings + 5);
  });
});
