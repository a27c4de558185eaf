/**
 * The mock driver's 1 MiB IOPTE decision (kernel-semantics §12.1, §3.12;
 * pages.c batch_to_domain / batch_iommu_map_small, iommu_pgsize,
 * selftest.c mock_domain_map_pages) and the dirty read-and-clear walk that
 * depends on it (§7.2; selftest.c mock_domain_read_and_clear_dirty).
 *
 * traces/iopte/huge_dirty was run on Linux 6.12.117 through the oracle and
 * saved with its answers (session 22; the model gave all 33, and no oracle
 * campaign had reached these reads): a HUGE_IOVA device's domains over
 * hugetlb memory at matching, offset and half-offset places and over
 * ordinary pages; TEST_OP_DIRTY of single 2 KiB slots; GET_DIRTY_BITMAP
 * from the middle of a huge page (with and without NO_CLEAR, in 4 KiB,
 * 2 KiB and 1 MiB granules), over an area that is small, huge and small
 * again, and after an unmap and a map; IOMMU_OPTION HUGE_PAGES off refused
 * (EINVAL) once a domain has areas. traces/iopte/bitmap_pages (14 answers,
 * all the model's): 128 MiB of 2 KiB IOPTEs, so bitmaps of 8 KiB that the
 * executor places off a page boundary (iova_bitmap maps the user's pages in
 * turn), read with NO_CLEAR into a zeroed buffer and into one already
 * holding bits (the kernel only sets bits: ORed), in 4 KiB granules, half of
 * it cleared, then all.
 */
import { describe, expect, it } from 'vitest';
import { PMap } from '../../../src/ds/pmap.js';
import { apply } from '../../../src/engine/apply.js';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { hugeIoptes, hugeStretch, mergeRuns, mockReadAndClearDirty, rangesAdd, rangesRemove } from '../../../src/model/iopte.js';
import { emptyWorld, type Domain, type World } from '../../../src/model/state.js';
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

const K = 1024n;
const M = 1024n * K;
const PID = 1;

describe('hugeStretch: the 1 MiB IOPTEs of one iommu_map() call', () => {
  it('covers the 1 MiB-aligned middle of a run whose IOVA and physical address agree modulo 1 MiB', () => {
    expect(hugeStretch({ iova: 0x1000000n, phys: 0x100000000n, length: 2n * M })).toEqual({ start: 0x1000000n, last: 0x11fffffn });
    // Starts 512 KiB into a huge page: small IOPTEs up to the boundary, then 1 MiB ones, then small again.
    expect(hugeStretch({ iova: 0x1080000n, phys: 0x100080000n, length: 3n * M })).toEqual({ start: 0x1100000n, last: 0x12fffffn });
  });

  it('needs a whole 1 MiB left after the first aligned IOVA', () => {
    expect(hugeStretch({ iova: 0x1000000n, phys: 0x100000000n, length: M })).toEqual({ start: 0x1000000n, last: 0x10fffffn });
    expect(hugeStretch({ iova: 0x1000000n, phys: 0x100000000n, length: M - 2n * K })).toBeUndefined();
    expect(hugeStretch({ iova: 0x1080000n, phys: 0x100080000n, length: M + 256n * K })).toBeUndefined();
  });

  it('never when IOVA and physical address are offset differently inside a huge page', () => {
    expect(hugeStretch({ iova: 0x1000000n, phys: 0x100080000n, length: 64n * M })).toBeUndefined();
    expect(hugeStretch({ iova: 0x1000800n, phys: 0x100000000n, length: 64n * M })).toBeUndefined();
  });

  it('HUGE_PAGES off maps PAGE_SIZE at a time: no 1 MiB IOPTE at all', () => {
    const runs = [{ iova: 0x1000000n, phys: 0x100000000n, length: 64n * M }];
    expect(hugeIoptes(runs, true)).toEqual([{ start: 0x1000000n, last: 0x4ffffffn }]);
    expect(hugeIoptes(runs, false)).toEqual([]);
  });

  it('runs that continue each other physically are one batch entry', () => {
    const a = { iova: 0x1000000n, phys: 0x100000000n, length: 768n * K };
    const b = { iova: 0x10c0000n, phys: 0x1000c0000n, length: 768n * K };
    expect(hugeIoptes([a, b], true)).toEqual([]);
    expect(mergeRuns([a, b])).toEqual([{ iova: 0x1000000n, phys: 0x100000000n, length: 1536n * K }]);
    expect(hugeIoptes(mergeRuns([a, b]), true)).toEqual([{ start: 0x1000000n, last: 0x10fffffn }]);
    // A physical gap keeps them apart.
    expect(mergeRuns([a, { ...b, phys: b.phys + 0x1000n }])).toHaveLength(2);
  });
});

describe('range sets', () => {
  it('merge touching ranges and trim on removal', () => {
    let s = PMap.emptyBigint<bigint>();
    s = rangesAdd(s, 0x1000n, 0x1fffn);
    s = rangesAdd(s, 0x3000n, 0x3fffn);
    s = rangesAdd(s, 0x2000n, 0x2fffn);
    expect(s.toArray()).toEqual([[0x1000n, 0x3fffn]]);
    s = rangesRemove(s, 0x1800n, 0x27ffn);
    expect(s.toArray()).toEqual([
      [0x1000n, 0x17ffn],
      [0x2800n, 0x3fffn],
    ]);
  });
});

describe('mock read-and-clear over 1 MiB IOPTEs', () => {
  const S = 2n * K;
  const domain = (dirtyAddrs: bigint[], huge: [bigint, bigint][]): Pick<Domain, 'dirty' | 'hugeMapped'> => {
    let dirty = PMap.emptyBigint<true>();
    for (const a of dirtyAddrs) dirty = dirty.set(a / S, true);
    let hugeMapped = PMap.emptyBigint<bigint>();
    for (const [s, l] of huge) hugeMapped = hugeMapped.set(s, l);
    return { dirty, hugeMapped };
  };
  const walk = (d: Pick<Domain, 'dirty' | 'hugeMapped'>, start: bigint, last: bigint, noClear = false) => {
    const rec: [bigint, bigint][] = [];
    const dirty = mockReadAndClearDirty(d, start, last, noClear, (a, l) => rec.push([a, l]));
    return { rec, left: [...dirty.keys()].map((k) => k * S) };
  };

  it('a dirty slot of a huge IOPTE reports and clears the whole 1 MiB', () => {
    const d = domain([0x1000000n + 6n * K, 0x1000000n + 900n * K, 0x1200000n], [[0x1000000n, 0x11fffffn]]);
    expect(walk(d, 0x1000000n, 0x13fffffn)).toEqual({
      rec: [
        [0x1000000n, M],
        [0x1200000n, S],
      ],
      left: [],
    });
    expect(walk(d, 0x1000000n, 0x13fffffn, true).left).toHaveLength(3);
  });

  it('ordinary slots report 2 KiB each', () => {
    const d = domain([0x1000000n, 0x1000800n, 0x1003000n], []);
    expect(walk(d, 0x1000000n, 0x10fffffn).rec).toEqual([
      [0x1000000n, S],
      [0x1000800n, S],
      [0x1003000n, S],
    ]);
  });

  it('a piece starting inside a huge page keeps its offset: whole pages tested, slots after the run skipped', () => {
    // Huge run [16M, 18M); the piece starts at 16M + 512K. Steps: 16.5M (tests [16M,17M)), 17.5M (tests [17M,18M)),
    // then 18.5M is past the run: the slots in [18M, 18.5M) are never visited.
    const d = domain([0x1000000n, 0x1100000n + 4n * K, 0x1200000n + 2n * K, 0x1280000n], [[0x1000000n, 0x11fffffn]]);
    const r = walk(d, 0x1080000n, 0x13fffffn);
    expect(r.rec).toEqual([
      [0x1080000n, M],
      [0x1180000n, M],
      [0x1280000n, S],
    ]);
    // The slot before the piece start was cleared with its huge page; the skipped one stays dirty.
    expect(r.left).toEqual([0x1200000n + 2n * K]);
  });
});

// ---- through the model -------------------------------------------------------

interface Fx {
  w: World;
  fd: number;
}

function ev(fx: Fx, op: string, args: Fields, bufs?: Event['bufs']): Result {
  const r = apply(fx.w, { op, pid: PID, fd: fx.fd, args, ...(bufs ? { bufs } : {}) });
  fx.w = r.state;
  return r.result;
}

function env(fx: Fx, op: string, args: Fields): Result {
  const r = apply(fx.w, { op, pid: PID, args });
  fx.w = r.state;
  return r.result;
}

function open(): Fx {
  const r = apply(emptyWorld({ kernel: '6.12' }), { op: 'open', pid: PID, args: { path: '/dev/iommu' } });
  return { w: r.state, fd: r.result.ret! };
}

function ok(r: Result): Fields {
  expect(r.errno).toBe(0);
  return r.out ?? {};
}

const HUGE_VA = 0x7f1000000000n;
const ANON_VA = 0x7f2000000000n;
const IOAS_MAP_FIXED_RW = 7;

function setup(): Fx & { ioas: number } {
  const fx = open();
  ok(env(fx, 'mmap', { va: HUGE_VA, length: 16n * M, kind: 'anon_hugetlb' }));
  ok(env(fx, 'mmap', { va: ANON_VA, length: 16n * M, kind: 'anon' }));
  const ioas = Number(ok(ev(fx, 'IOMMU_IOAS_ALLOC', { flags: 0 }))['out_ioas_id']);
  return { ...fx, ioas };
}

function mockDevice(fx: Fx, ioas: number, devFlags: number): { idev: number; hwpt: number } {
  const m = ok(ev(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', { id: ioas, mock_domain_flags: { dev_flags: devFlags } }))['mock_domain_flags'] as Fields;
  return { idev: Number(m['out_idev_id']), hwpt: Number(m['out_hwpt_id']) };
}

function hugeRuns(fx: Fx, hwpt: number): [bigint, bigint][] {
  let found: [bigint, bigint][] = [];
  fx.w.ctxs.each((_id, c) => {
    const h = c.objs.get(hwpt);
    if (h?.type === 'hwpt_paging') found = h.domain.hugeMapped.toArray();
    return false;
  });
  return found;
}

const map = (fx: Fx & { ioas: number }, va: bigint, length: bigint, iova: bigint) =>
  ev(fx, 'IOMMU_IOAS_MAP', { ioas_id: fx.ioas, flags: IOAS_MAP_FIXED_RW, user_va: va, length, iova });

describe('1 MiB IOPTEs of a MOCK_FLAGS_DEVICE_HUGE_IOVA domain', () => {
  it('hugetlb memory at matching offsets gets 1 MiB IOPTEs; ordinary pages and mismatched offsets do not', () => {
    const fx = setup();
    const { hwpt } = mockDevice(fx, fx.ioas, 2);
    ok(map(fx, HUGE_VA, 4n * M, 0x1000000n));
    ok(map(fx, HUGE_VA + 4n * M + 512n * K, 2n * M, 0x2000000n)); // phys 512 KiB into a huge page, IOVA aligned
    ok(map(fx, HUGE_VA + 8n * M + 512n * K, 2n * M, 0x3080000n)); // both 512 KiB in: the middle 1 MiB
    ok(map(fx, ANON_VA, 4n * M, 0x4000000n));
    expect(hugeRuns(fx, hwpt)).toEqual([
      [0x1000000n, 0x13fffffn],
      [0x3100000n, 0x31fffffn],
    ]);
    // Unmapping drops the area's IOPTEs.
    ok(ev(fx, 'IOMMU_IOAS_UNMAP', { ioas_id: fx.ioas, iova: 0x1000000n, length: 4n * M }));
    expect(hugeRuns(fx, hwpt)).toEqual([[0x3100000n, 0x31fffffn]]);
  });

  it('a device without HUGE_IOVA never has them', () => {
    const fx = setup();
    const { hwpt } = mockDevice(fx, fx.ioas, 0);
    ok(map(fx, HUGE_VA, 4n * M, 0x1000000n));
    expect(hugeRuns(fx, hwpt)).toEqual([]);
  });

  it('areas mapped before the domain was added are filled with 1 MiB IOPTEs too', () => {
    const fx = setup();
    ok(map(fx, HUGE_VA, 4n * M, 0x1000000n));
    const { hwpt } = mockDevice(fx, fx.ioas, 2);
    expect(hugeRuns(fx, hwpt)).toEqual([[0x1000000n, 0x13fffffn]]);
  });

  it('never while HUGE_PAGES is off, and a domain keeps the IOPTEs it was filled with', () => {
    const fx = setup();
    ok(ev(fx, 'IOMMU_OPTION', { option_id: 1, op: 0, object_id: fx.ioas, val64: 0n }));
    const a = mockDevice(fx, fx.ioas, 2);
    ok(map(fx, HUGE_VA, 4n * M, 0x1000000n));
    expect(hugeRuns(fx, a.hwpt)).toEqual([]);
    // Turning large pages back on does not remap; a domain added now gets 1 MiB IOPTEs, the first keeps 2 KiB ones.
    ok(ev(fx, 'IOMMU_OPTION', { option_id: 1, op: 0, object_id: fx.ioas, val64: 1n }));
    const b = ok(ev(fx, 'IOMMU_HWPT_ALLOC', { flags: 0, dev_id: a.idev, pt_id: fx.ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }));
    expect(hugeRuns(fx, Number(b['out_hwpt_id']))).toEqual([[0x1000000n, 0x13fffffn]]);
    expect(hugeRuns(fx, a.hwpt)).toEqual([]);
  });

  it('GET_DIRTY_BITMAP reports 1 MiB granules there, and an unmap forgets dirty bits', () => {
    const fx = setup();
    const { idev } = mockDevice(fx, fx.ioas, 2);
    ok(map(fx, HUGE_VA, 2n * M, 0x1000000n));
    ok(map(fx, ANON_VA, 2n * M, 0x1200000n));
    const hwpt = Number(ok(ev(fx, 'IOMMU_HWPT_ALLOC', { flags: 2, dev_id: idev, pt_id: fx.ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }))['out_hwpt_id']);
    ok(ev(fx, 'IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: hwpt }));
    // 4 MiB in 2 KiB bits = 2048 bits = 256 bytes; dirty the first slot of each MiB.
    const bits = new Uint8Array(256);
    for (let i = 0; i < 4; i++) bits[i * 64] = 1;
    const dirty = ok(ev(fx, 'IOMMU_TEST_OP_DIRTY', { id: hwpt, dirty: { iova: 0x1000000n, length: 4n * M, page_size: 2n * K, uptr: 0x10000n } }, { uptr: bits }));
    expect((dirty['dirty'] as Fields)['out_nr_dirty']).toBe(4);
    const get = () =>
      ev(fx, 'IOMMU_HWPT_GET_DIRTY_BITMAP', { hwpt_id: hwpt, flags: 0, iova: 0x1000000n, length: 4n * M, page_size: 2n * K, data: 0x20000n }, { data: new Uint8Array(256) });
    const r = get();
    expect(r.errno).toBe(0);
    const want = new Uint8Array(256);
    want.fill(0xff, 0, 128); // two whole huge MiBs
    want[128] = 1; // anon: 2 KiB granules
    want[192] = 1;
    expect(r.bufs!['data']).toEqual(want);
    expect(get().bufs!['data']).toEqual(new Uint8Array(256));
    // Dirty again, unmap and map again: the new IOPTEs start clean.
    ok(ev(fx, 'IOMMU_TEST_OP_DIRTY', { id: hwpt, dirty: { iova: 0x1000000n, length: 4n * M, page_size: 2n * K, uptr: 0x10000n } }, { uptr: bits }));
    ok(ev(fx, 'IOMMU_IOAS_UNMAP', { ioas_id: fx.ioas, iova: 0x1200000n, length: 2n * M }));
    ok(map(fx, ANON_VA, 2n * M, 0x1200000n));
    const again = new Uint8Array(256);
    again.fill(0xff, 0, 128);
    expect(get().bufs!['data']).toEqual(again);
  });
});

kernelTraceSuite('1 MiB IOPTEs and dirty reads on the real kernel (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'iopte'), 2, 12);
