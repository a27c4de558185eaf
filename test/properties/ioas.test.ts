/**
 * Properties of the IOAS model over random ioctl sequences (fast-check,
 * fixed seed): determinism, failed ioctls change nothing (except where the
 * kernel keeps partial effects), areas never overlap, pinned-page totals
 * equal what the areas in domain-backed IOASes cover, unmap-all empties an
 * IOAS, and stateAt from any checkpoint equals straight replay.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/events/event.js';
import { apply } from '../../src/engine/apply.js';
import { diffStates } from '../../src/engine/diff.js';
import { Timeline } from '../../src/engine/timeline.js';
import { emptyWorld, type World } from '../../src/model/state.js';
import { areaIndexRange } from '../../src/model/io_pagetable.js';

const SEED = 0x10a5;
const BUF = 0x7f0000000000n;
const BUF_LEN = 0x200000n;
const FD = 0;

/** Operations whose failure keeps partial effects in the kernel (kernel-semantics §1.4, §3.7, §4.3). */
const PARTIAL_ON_FAILURE = new Set(['IOMMU_IOAS_UNMAP', 'IOMMU_HWPT_INVALIDATE', 'IOMMU_TEST_OP_ACCESS_RW', 'IOMMU_IOAS_MAP_FILE']);

/** Mostly IDs that exist (IOAS 1 with a mock domain, IOAS 5 without, new ones from 6), sometimes anything. */
const id = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(1, 1, 5, 6) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }) });
/** Mostly IOVAs inside the mock aperture on a page grid, sometimes the edges of the 64-bit space. */
const u64Edge = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 0x60 }).map((k) => 0x1000000n + BigInt(k) * 0x1000n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 0x1000n, 0x800n, 0x7fffffffn, 0xffffffffffffffffn, 0xfffffffffffff000n, 0x8000000000000000n) },
);
const len = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 0x20 }).map((k) => BigInt(k) * 0x1000n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 0x800n, 0xffffffffffffffffn, 0x1001n) },
);
const userVa = fc.oneof(fc.constant(BUF), fc.bigInt({ min: 0n, max: 0x1ffn }).map((v) => BUF + v * 0x1000n), fc.constant(0x80000000n), fc.constant(BUF + 0x800n));

const ioctl = (op: string, args: Event['args']): Event => ({ op, fd: FD, args });

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(ioctl('IOMMU_IOAS_ALLOC', { flags: 0 })) },
  {
    weight: 6,
    arbitrary: fc.record({ ioas: id, flags: fc.constantFrom(7, 7, 7, 6, 5, 3, 1, 0, 8), va: userVa, length: len, iova: u64Edge }).map((r) =>
      ioctl('IOMMU_IOAS_MAP', { ioas_id: r.ioas, flags: r.flags, user_va: r.va, length: r.length, iova: r.iova, __reserved: 0 }),
    ),
  },
  { weight: 4, arbitrary: fc.record({ ioas: id, iova: u64Edge, length: len }).map((r) => ioctl('IOMMU_IOAS_UNMAP', { ioas_id: r.ioas, iova: r.iova, length: r.length })) },
  { weight: 1, arbitrary: id.map((i) => ioctl('IOMMU_IOAS_UNMAP', { ioas_id: i, iova: 0n, length: 0xffffffffffffffffn })) },
  {
    weight: 2,
    arbitrary: fc.record({ src: id, dst: id, flags: fc.constantFrom(2, 4, 6, 7), srcIova: u64Edge, dstIova: u64Edge, length: len }).map((r) =>
      ioctl('IOMMU_IOAS_COPY', { src_ioas_id: r.src, dst_ioas_id: r.dst, flags: r.flags, src_iova: r.srcIova, dst_iova: r.dstIova, length: r.length }),
    ),
  },
  { weight: 2, arbitrary: id.map((i) => ioctl('IOMMU_TEST_OP_MOCK_DOMAIN', { id: i, mock_domain: {} })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }).map((i) => ioctl('IOMMU_DESTROY', { id: i })) },
  { weight: 1, arbitrary: fc.record({ ioas: id, v: fc.constantFrom(0n, 1n, 2n) }).map((r) => ioctl('IOMMU_OPTION', { option_id: 1, op: 0, object_id: r.ioas, val64: r.v })) },
  { weight: 1, arbitrary: fc.constant<Event>({ op: 'munmap', args: { va: BUF, length: 0x1000n } }) },
);

/** IOAS 1 with a mock device attached (stdev 2, device 3, HWPT 4) and IOAS 5 without a domain. */
const SETUP: Event[] = [
  { op: 'open', args: { path: '/dev/iommu' } },
  { op: 'mmap', args: { va: BUF, length: BUF_LEN, kind: 'anon' } },
  ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }),
  ioctl('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }),
  ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }),
];

function start(): World {
  let w = emptyWorld({ kernel: '6.12' });
  for (const ev of SETUP) w = apply(w, ev).state;
  return w;
}

function checkInvariants(w: World): void {
  for (const [, ctx] of w.ctxs.toArray()) {
    const covered = new Map<number, Set<number>>();
    for (const [, o] of ctx.objs.toArray()) {
      if (o.type !== 'ioas') continue;
      const areas = o.iopt.areas.toArray();
      for (let i = 1; i < areas.length; i++) expect(areas[i]!.start > areas[i - 1]!.last, 'areas overlap').toBe(true);
      if (!o.iopt.domains.length) continue;
      for (const a of areas) {
        const [f, l] = areaIndexRange(a.start, a.last, a.value);
        const s = covered.get(a.value.pages) ?? new Set<number>();
        for (let k = f; k <= l; k++) s.add(k);
        covered.set(a.value.pages, s);
      }
    }
    for (const [pid, p] of ctx.pages.toArray()) {
      const want = covered.get(pid)?.size ?? 0;
      expect(p.npinned, `pages ${pid}: pinned count vs areas in domain-backed IOASes`).toBe(want);
      const runs = p.pinned.toArray().reduce((s, [k, r]) => s + (r.last - k + 1), 0);
      expect(runs).toBe(p.npinned);
    }
  }
}

describe(`IOAS properties (seed ${SEED})`, () => {
  it('failed ioctls leave the state unchanged; areas never overlap; pins equal area coverage', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
        let w = start();
        for (const ev of events) {
          const { state, result } = apply(w, ev);
          if (result.errno && !PARTIAL_ON_FAILURE.has(ev.op)) expect(state, `${ev.op} failed with ${result.errno} but changed the state`).toBe(w);
          expect(result.unmodelled).toBeUndefined();
          w = state;
          checkInvariants(w);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('replay is deterministic: same events, same results and equal states', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let a = start();
        let b = start();
        for (const ev of events) {
          const ra = apply(a, ev);
          const rb = apply(b, structuredClone(ev));
          expect(rb.result).toEqual(ra.result);
          a = ra.state;
          b = rb.state;
        }
        expect(diffStates(a, b)).toEqual([]);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('unmap-all leaves an empty IOAS', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let w = start();
        for (const ev of events) w = apply(w, ev).state;
        const ctx = w.ctxs.toArray()[0]![1];
        for (const [oid, o] of ctx.objs.toArray()) {
          if (o.type !== 'ioas') continue;
          const r = apply(w, ioctl('IOMMU_IOAS_UNMAP', { ioas_id: oid, iova: 0n, length: 0xffffffffffffffffn }));
          expect(r.result.errno).toBe(0);
          w = r.state;
          const after = w.ctxs.toArray()[0]![1].objs.get(oid);
          expect(after?.type === 'ioas' && after.iopt.areas.size).toBe(0);
        }
        checkInvariants(w);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('stateAt from any checkpoint equals straight replay', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), fc.nat(), (events, every, pick) => {
        const prefix: Event[] = [...SETUP, ...events];
        const t = new Timeline(prefix, { checkpointEvery: every });
        const i = pick % (prefix.length + 1);
        let w = emptyWorld({ kernel: '6.12' });
        for (let k = 0; k < i; k++) w = apply(w, prefix[k]!).state;
        expect(diffStates(t.stateAt(i), w)).toEqual([]);
        // Going back and forth gives the same states.
        if (i > 0) expect(diffStates(t.stateAt(i - 1), (() => { let x = emptyWorld({ kernel: '6.12' }); for (let k = 0; k < i - 1; k++) x = apply(x, prefix[k]!).state; return x; })())).toEqual([]);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});
