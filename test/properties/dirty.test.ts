/**
 * Dirty-tracking properties (kernel-semantics §7) over random sequences of
 * IOAS maps (read-only and writable, 4 KiB and hugetlb memory), unmaps,
 * SET_DIRTY_TRACKING, device DMA writes (the `dma_write` environment event)
 * and GET_DIRTY_BITMAP, on a 2 KiB-IOPTE domain and a HUGE_IOVA one (1 MiB
 * IOPTEs), both with dirty tracking, plus an automatic domain without dirty
 * ops. Fixed seed.
 *
 * - Dirty bits only ever appear inside writable mappings of domains with
 *   tracking on (and stay inside writable mappings until read, cleared or
 *   unmapped). The mock's IOMMU_TEST_OP_DIRTY is left out on purpose: like
 *   selftest.c it marks any mapped slot, whatever the permissions.
 * - A GET_DIRTY_BITMAP without NO_CLEAR followed by one with it returns
 *   zeros for the range.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/engine/apply.js';
import type { Event, Fields, Result } from '../../src/events/event.js';
import type { IntervalMap } from '../../src/ds/interval_map.js';
import { emptyWorld, type Area, type HwptPagingObj, type KernelVersion, type World } from '../../src/model/state.js';

const SEED = 0xd127;
const PID = 1;
const BASE = 0x1000000n;
const SLOT = 0x200000n;
const NSLOTS = 3;
const ANON_VA = 0x7f0000000000n;
const HUGE_VA = 0x7f1000000000n;
const MEM = 8n << 20n;

interface Fx {
  w: World;
  fd: number;
  ioas: number;
  devs: number[];
  /** Dirty-tracking HWPTs: [2 KiB IOPTEs, HUGE_IOVA]. */
  hwpts: number[];
}

function run(fx: Fx, ev: Event): Result {
  const r = apply(fx.w, ev);
  fx.w = r.state;
  return r.result;
}
const ioctl = (fx: Fx, op: string, args: Fields, bufs?: Event['bufs']) => run(fx, { op, pid: PID, fd: fx.fd, args, ...(bufs ? { bufs } : {}) });

function ok(r: Result): Result {
  expect(r.errno).toBe(0);
  return r;
}

function fixture(kernel: KernelVersion, premap = true): Fx {
  const fx: Fx = { w: emptyWorld({ kernel }), fd: 0, ioas: 0, devs: [], hwpts: [] };
  fx.fd = run(fx, { op: 'open', pid: PID, args: { path: '/dev/iommu' } }).ret!;
  ok(run(fx, { op: 'mmap', pid: PID, args: { va: ANON_VA, length: MEM, kind: 'anon' } }));
  ok(run(fx, { op: 'mmap', pid: PID, args: { va: HUGE_VA, length: MEM, kind: 'anon_hugetlb' } }));
  fx.ioas = Number(ok(ioctl(fx, 'IOMMU_IOAS_ALLOC', { flags: 0 })).out!['out_ioas_id']);
  for (const devFlags of [0, 2]) {
    const r = ok(ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', { id: fx.ioas, mock_domain_flags: { dev_flags: devFlags } }));
    const m = r.out!['mock_domain_flags'] as Fields;
    const idev = Number(m['out_idev_id']);
    fx.devs.push(idev);
    const h = Number(ok(ioctl(fx, 'IOMMU_HWPT_ALLOC', { flags: 2, dev_id: idev, pt_id: fx.ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 })).out!['out_hwpt_id']);
    fx.hwpts.push(h);
    ok(ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: Number(m['out_stdev_id']), mock_domain_replace: { pt_id: h } }));
  }
  // Start with tracking on and a writable mapping of each memory kind; commands change all of it.
  if (premap) {
    for (const h of fx.hwpts) ok(ioctl(fx, 'IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: h, __reserved: 0 }));
    ok(ioctl(fx, 'IOMMU_IOAS_MAP', { flags: 7, ioas_id: fx.ioas, user_va: ANON_VA, length: SLOT, iova: BASE }));
    ok(ioctl(fx, 'IOMMU_IOAS_MAP', { flags: 7, ioas_id: fx.ioas, user_va: HUGE_VA + SLOT, length: SLOT, iova: BASE + SLOT }));
  }
  // A third device stays on an automatic domain (no dirty ops) of the same IOAS.
  const r = ok(ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN', { id: fx.ioas, mock_domain: {} }));
  fx.devs.push(Number((r.out!['mock_domain'] as Fields)['out_idev_id']));
  return fx;
}

type Cmd =
  | { k: 'map'; slot: number; huge: boolean; off: number; pages: number; write: boolean }
  | { k: 'unmap'; slot: number }
  | { k: 'track'; hwpt: number; on: boolean }
  | { k: 'dma'; dev: number; slot: number; off: number; len: number }
  | { k: 'get'; hwpt: number; slot: number; off: number; nslots: number; pageSize: bigint; noClear: boolean };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('map' as const),
      slot: fc.nat(NSLOTS - 1),
      huge: fc.boolean(),
      off: fc.constantFrom(0, 0, 0, 1, 256),
      pages: fc.constantFrom(1, 3, 256, 300, 512),
      write: fc.constantFrom(true, true, false),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unmap' as const), slot: fc.nat(NSLOTS - 1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('track' as const), hwpt: fc.nat(1), on: fc.constantFrom(true, true, true, false) }) },
  {
    weight: 6,
    arbitrary: fc.record({ k: fc.constant('dma' as const), dev: fc.constantFrom(0, 0, 1, 1, 2), slot: fc.nat(NSLOTS - 1), off: fc.constantFrom(0, 100, 4096, 0x100000 - 10, 0x1ff000), len: fc.constantFrom(1, 2048, 5000, 0x10000, 0x48000) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('get' as const), hwpt: fc.nat(1), slot: fc.nat(NSLOTS - 1), off: fc.constantFrom(0, 0, 1, 3, 256), nslots: fc.integer({ min: 1, max: 3 }), pageSize: fc.constantFrom(2048n, 4096n, 0x100000n), noClear: fc.boolean() }),
  },
);

function getBitmap(fx: Fx, hwpt: number, iova: bigint, length: bigint, pageSize: bigint, noClear: boolean): Result {
  const nbytes = Number((length / pageSize + 7n) / 8n);
  return ioctl(fx, 'IOMMU_HWPT_GET_DIRTY_BITMAP', { hwpt_id: hwpt, flags: noClear ? 1 : 0, __reserved: 0, iova, length, page_size: pageSize, data: 0x5000n }, { data: new Uint8Array(nbytes) });
}

function runCmd(fx: Fx, c: Cmd): Result {
  switch (c.k) {
    case 'map': {
      const va = (c.huge ? HUGE_VA : ANON_VA) + BigInt(c.slot) * SLOT + BigInt(c.off) * 4096n;
      const flags = 1 | 4 | (c.write ? 2 : 0);
      return ioctl(fx, 'IOMMU_IOAS_MAP', { flags, ioas_id: fx.ioas, user_va: va, length: BigInt(c.pages) * 4096n, iova: BASE + BigInt(c.slot) * SLOT + BigInt(c.off) * 4096n });
    }
    case 'unmap':
      return ioctl(fx, 'IOMMU_IOAS_UNMAP', { ioas_id: fx.ioas, iova: BASE + BigInt(c.slot) * SLOT, length: SLOT });
    case 'track':
      return ioctl(fx, 'IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: c.on ? 1 : 0, hwpt_id: fx.hwpts[c.hwpt]!, __reserved: 0 });
    case 'dma':
      return run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[c.dev]!, iova: BASE + BigInt(c.slot) * SLOT + BigInt(c.off), length: BigInt(c.len) } });
    case 'get': {
      // Page-size aligned start (at a mapping's start when `off` matches the map's).
      const iova = BASE + BigInt(c.slot) * SLOT + ((BigInt(c.off) * 4096n) / c.pageSize) * c.pageSize;
      const length = BigInt(c.nslots) * SLOT;
      const hwpt = fx.hwpts[c.hwpt]!;
      const r = getBitmap(fx, hwpt, iova, length, c.pageSize, c.noClear);
      expect(r.errno).toBe(0);
      if (!c.noClear) {
        const again = getBitmap(fx, hwpt, iova, length, c.pageSize, true);
        expect(again.errno).toBe(0);
        expect([...again.bufs!['data']!].every((b) => b === 0), `GET_DIRTY_BITMAP NO_CLEAR right after a clearing read of [${iova.toString(16)}, +${length.toString(16)}) is all zeros`).toBe(true);
      }
      return r;
    }
  }
}

function pagingHwpts(w: World): HwptPagingObj[] {
  const out: HwptPagingObj[] = [];
  w.ctxs.each((_c, ctx) => {
    ctx.objs.each((_id, o) => {
      if (o.type === 'hwpt_paging') out.push(o);
      return true;
    });
    return true;
  });
  return out;
}

/** Dirty slots appear only inside writable areas of domains with tracking on, and never outside writable areas. */
function checkDirty(prev: World, next: World, what: string): void {
  const before = new Map(pagingHwpts(prev).map((h) => [h.id, h]));
  for (const h of pagingHwpts(next)) {
    const d = h.domain;
    if (!d.dirtyOps) expect(d.dirty.size, `${what}: hwpt ${h.id} without dirty ops has dirty slots`).toBe(0);
    let ioasAreas: IntervalMap<Area> | undefined;
    next.ctxs.each((_c, ctx) => {
      const io = ctx.objs.get(h.ioas);
      if (io?.type === 'ioas') ioasAreas = io.iopt.areas;
      return true;
    });
    const old = before.get(h.id)?.domain.dirty;
    d.dirty.each((slot) => {
      const a = ioasAreas!.find(slot * 2048n);
      expect(a && a.value.prot & 2, `${what}: hwpt ${h.id} dirty slot 0x${(slot * 2048n).toString(16)} outside a writable mapping`).toBeTruthy();
      if (!old?.has(slot)) expect(d.dirtyEnabled, `${what}: hwpt ${h.id} got dirty slot 0x${(slot * 2048n).toString(16)} with tracking off`).toBe(true);
      return true;
    });
  }
}

describe('dirty tracking properties', () => {
  for (const kernel of ['6.12', '6.14'] as const) {
    it(`dirty bits only inside writable mappings of tracking domains; clearing read then NO_CLEAR read gives zeros (${kernel})`, () => {
      fc.assert(
        fc.property(fc.array(cmd, { minLength: 8, maxLength: 30 }), (cmds) => {
          const fx = fixture(kernel);
          for (const c of cmds) {
            const prev = fx.w;
            runCmd(fx, c);
            checkDirty(prev, fx.w, c.k);
          }
        }),
        { seed: SEED, numRuns: 40 },
      );
    });
  }

  it('dma_write dirties what a later GET_DIRTY_BITMAP reports, at 2 KiB and 1 MiB granularity', () => {
    const fx = fixture('6.12', false);
    ok(runCmd(fx, { k: 'map', slot: 0, huge: false, off: 0, pages: 512, write: true }));
    ok(runCmd(fx, { k: 'map', slot: 1, huge: true, off: 0, pages: 512, write: true }));
    ok(runCmd(fx, { k: 'map', slot: 2, huge: false, off: 0, pages: 16, write: false }));
    for (const h of [0, 1]) ok(runCmd(fx, { k: 'track', hwpt: h, on: true }));
    const w1 = run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[0]!, iova: BASE + 0x3000n, length: 0x1800n } });
    expect(w1).toEqual({ errno: 0, out: { written: 0x1800n, faulted: 0n } });
    const w2 = run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[1]!, iova: BASE + SLOT + 0x100000n + 8n, length: 1n } });
    expect(w2.out).toEqual({ written: 1n, faulted: 0n });
    // The read-only mapping and the hole after it fault.
    const w3 = run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[0]!, iova: BASE + 2n * SLOT, length: 0x20000n } });
    expect(w3.out).toEqual({ written: 0n, faulted: 0x20000n });
    const faults = [...fx.w.journal.faults.values()].map((f) => [f.kind, f.iova - BASE, f.last - BASE]);
    expect(faults).toEqual([
      ['readonly', 2n * SLOT, 2n * SLOT + 0x10000n - 1n],
      ['unmapped', 2n * SLOT + 0x10000n, 2n * SLOT + 0x20000n - 1n],
    ]);
    // Domain 0 (2 KiB IOPTEs): slots 6, 7, 8 of [BASE, BASE + 2 MiB) with 2 KiB pages.
    const g0 = getBitmap(fx, fx.hwpts[0]!, BASE, SLOT, 2048n, false);
    const bits0 = [...g0.bufs!['data']!].flatMap((b, i) => [0, 1, 2, 3, 4, 5, 6, 7].filter((k) => b & (1 << k)).map((k) => i * 8 + k));
    expect(bits0).toEqual([6, 7, 8]);
    // Domain 1 (HUGE_IOVA over hugetlb): the whole second 1 MiB IOPTE of slot 1, reported at 1 MiB.
    const g1 = getBitmap(fx, fx.hwpts[1]!, BASE + SLOT, SLOT, 0x100000n, false);
    expect([...g1.bufs!['data']!]).toEqual([0b10]);
    // Dirty bits are per domain: device 0's write went through domain 0 only.
    const g1a = getBitmap(fx, fx.hwpts[1]!, BASE, SLOT, 2048n, true);
    expect(g1a.bufs!['data']!.every((b) => b === 0)).toBe(true);
    // A device on the automatic domain (no dirty ops) dirties nothing.
    run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[2]!, iova: BASE, length: 0x1000n } });
    checkDirty(fx.w, fx.w, 'auto');
  });
});
