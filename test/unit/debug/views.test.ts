/**
 * Every view the debugger serves (event, state tree, diff, IOVA picture,
 * object graph, lifecycle) is built for the steps of a fuzz-generated
 * sequence and of a real-kernel capture (every one of the first 300, then a
 * sample), is plain JSON, and is consistent
 * with the state it shows: graph edges join nodes that exist, IOVA bands
 * lie inside the window asked for, and a window around one IOAS's areas
 * shows each of them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { importCapture } from '../../../src/capture/import.js';
import { DebugIndex } from '../../../src/debug/history.js';
import { BUF_HEX_BYTES, diffView, dirtyBitmapMeaning, eventView, graphView, iovaView, lifecycleView, pathNote, spacesView, treeView } from '../../../src/debug/views.js';
import { readTraceSync } from '../../../src/trace/index.js';
import { vmTrace } from '../../../src/bench/vm_trace.js';
import { U64_MAX } from '../../../src/ds/interval_map.js';
import type { KernelVersion } from '../../../src/model/state.js';
import { fuzzEvents, ROOT } from './fixtures.js';

const CAPTURE = join(ROOT, '../shared/captures/selftest/iommufd_ioas.mock_domain.access_rw_unaligned.jsonl.gz');

async function captureEvents(): Promise<Event[]> {
  const out: Event[] = [];
  if (existsSync(CAPTURE)) for await (const ev of importCapture(CAPTURE)) out.push(ev);
  return out;
}

/** The first place in `v` that is not plain JSON (a bigint, undefined, a function, NaN, a class instance...), or null. */
function notJson(v: unknown, path = '$'): string | null {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : path;
  if (Array.isArray(v)) {
    for (let k = 0; k < v.length; k++) {
      const bad = notJson(v[k], `${path}[${k}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) {
      const bad = notJson(x, `${path}.${k}`);
      if (bad) return bad;
    }
    return null;
  }
  return `${path} (${typeof v})`;
}
const plain = (v: unknown) => {
  const bad = notJson(v);
  if (bad) expect.fail(`not plain JSON at ${bad}`);
};

const inWindow = (b: { start: string; last: string }, lo: bigint, hi: bigint) => {
  const s = BigInt(b.start);
  const l = BigInt(b.last);
  return lo <= s && s <= l && l <= hi;
};

describe.each([
  ['fuzz-generated sequence', () => Promise.resolve(fuzzEvents(0x71e5, '6.14', 1200)), '6.14' as KernelVersion],
  ['real-kernel capture (iommufd_ioas.mock_domain.access_rw_unaligned)', captureEvents, '6.12' as KernelVersion],
])('debugger views over a %s', (_name, load, kernel) => {
  let events: Event[];
  let ix: DebugIndex;
  beforeAll(async () => {
    events = await load();
    ix = await DebugIndex.build(events, { kernel, checkpointUnits: 80, checkpointMs: 1e9 });
  });

  it('event, tree, diff, spaces, IOVA pictures, graph and lifecycles at each step', () => {
    expect(events.length).toBeGreaterThan(100);
    let pictures = 0;
    let areasSeen = 0;
    // every step of the first 300, then a sample (the suite's time)
    for (let i = 0; i < events.length; i += i < 300 ? 1 : 7) {
      const ev = eventView(ix, i);
      expect(ev.index).toBe(i);
      expect(ev.op).toBe(events[i]!.op);
      plain(ev);
      plain(diffView(ix.patchesAt(i)));
      if (i >= 300 && i % 4 !== 0) continue;
      const w = ix.stateAt(i + 1);
      const root = treeView(w, []);
      plain(root);
      if (i % 10 === 0) for (const c of root.children) if (c.expandable) plain(treeView(w, [c.key]));

      const g = graphView(w);
      plain(g);
      const keys = new Set(g.nodes.map((n) => n.key));
      expect(keys.size).toBe(g.nodes.length);
      for (const e of g.edges) {
        expect(keys.has(e.from), `edge from ${e.from} at event ${i}`).toBe(true);
        expect(keys.has(e.to), `edge to ${e.to} at event ${i}`).toBe(true);
      }
      if (i % 10 === 0) for (const n of g.nodes) plain(lifecycleView(ix, w, n.ctx, n.id, i));

      const spaces = spacesView(w);
      plain(spaces);
      for (const sp of spaces) {
        const whole = iovaView(w, sp.ctx, sp.id, 0n, U64_MAX, 800, ix.iovaTouchesAt(i));
        plain(whole);
        pictures++;
        for (const b of [...whole.areas, ...whole.clusters, ...whole.pins, ...whole.dirty, ...whole.reserved, ...whole.allowed]) expect(inWindow(b, 0n, U64_MAX)).toBe(true);
        if (sp.type !== 'ioas' || !sp.extent) continue;
        // zoomed to the areas: each area of the IOAS is drawn (or counted in a cluster), inside the window
        const lo = BigInt(sp.extent[0]);
        const hi = BigInt(sp.extent[1]);
        const zoom = iovaView(w, sp.ctx, sp.id, lo, hi, 800);
        for (const b of [...zoom.areas, ...zoom.clusters]) expect(inWindow(b, lo, hi), `band ${b.start}..${b.last} at event ${i}`).toBe(true);
        const drawn = zoom.areas.length + zoom.clusters.reduce((s, c) => s + c.count, 0);
        expect(drawn, `areas of IOAS ${sp.id} at event ${i}`).toBe(sp.areas);
        areasSeen += sp.areas;
      }
    }
    expect(pictures).toBeGreaterThan(50);
    expect(areasSeen).toBeGreaterThan(0);
  }, 120_000);
});

describe('buffers in the event view', () => {
  it('a dirty bitmap reads as runs of dirty IOVAs, exact up to the top of the u64 space', () => {
    const b = new Uint8Array(4);
    // bits 0..2, 7..8 (across a byte boundary), 31 (the last)
    b[0] = 0b1000_0111;
    b[1] = 0b0000_0001;
    b[3] = 0b1000_0000;
    expect(dirtyBitmapMeaning(b, 0x1000000n, 0x1000n)).toBe('6 dirty pages of 0x1000 in 3 runs: 0x1000000..0x1002fff 0x1007000..0x1008fff 0x101f000..0x101ffff');
    const top = U64_MAX - 32n * 0x1000n + 1n; // the bitmap's last page ends at 2^64 - 1
    expect(dirtyBitmapMeaning(b, top, 0x1000n)).toMatch(/ 0xfffffffffffff000\.\.0xffffffffffffffff$/);
    expect(dirtyBitmapMeaning(new Uint8Array(8), 0n, 0x1000n)).toBe('no page dirty');
    expect(dirtyBitmapMeaning(new Uint8Array(8).fill(0x55), 0n, 0x1000n)).toMatch(/^32 dirty pages of 0x1000 in 32 runs: (0x[0-9a-f]+\.\.0x[0-9a-f]+ ){7}0x[0-9a-f]+\.\.0x[0-9a-f]+, 24 more runs$/);
    expect(dirtyBitmapMeaning(b, undefined, 0x1000n)).toBeNull();
  });

  it('the bundled migration trace: each dirty bitmap read names as many pages as it has bits set', async () => {
    const t = readTraceSync(join(ROOT, 'traces/live-migration-dirty.iort'));
    const ix = await DebugIndex.build(t.events, { kernel: t.header.kernel });
    let reads = 0;
    let dirty = 0;
    for (let i = 0; i < ix.length; i++) {
      const v = eventView(ix, i);
      for (const b of v.bufs) {
        expect(b.hex!.length).toBe(2 * Math.min(b.length!, BUF_HEX_BYTES));
        expect(b.omitted).toBe(Math.max(0, b.length! - BUF_HEX_BYTES));
        if (v.op !== 'IOMMU_HWPT_GET_DIRTY_BITMAP') {
          expect(b.meaning).toBeNull();
          continue;
        }
        reads++;
        const bits = [...ix.resultAt(i).bufs!['data']!].reduce((s, x) => s + x.toString(2).replaceAll('0', '').length, 0);
        expect(b.meaning).toEqual(bits ? expect.stringMatching(new RegExp(`^${bits} dirty pages? of 0x1000 in \\d+ runs?: `)) : 'no page dirty');
        dirty += bits;
      }
    }
    expect(reads).toBe(11);
    expect(dirty).toBeGreaterThan(0);
  });
});

describe('IOVA spaces without areas', () => {
  it('an IOAS with no areas but pending faults is framed on its faults (the PRI trace)', async () => {
    const t = readTraceSync(join(ROOT, 'traces/pri-fault-storm.iort'));
    const ix = await DebugIndex.build(t.events, { kernel: t.header.kernel });
    let framed = 0;
    for (let i = 0; i < ix.length; i++) {
      const w = ix.step(i).after;
      for (const sp of spacesView(w)) {
        if (sp.type !== 'ioas' || sp.areas) continue;
        const faults = iovaView(w, sp.ctx, sp.id, 0n, U64_MAX, 800).faults;
        if (!faults.length) {
          expect(sp.extent, `IOAS ${sp.id} at #${i}`).toBeNull();
          continue;
        }
        const [lo, hi] = sp.extent!.map(BigInt) as [bigint, bigint];
        expect(iovaView(w, sp.ctx, sp.id, lo, hi, 800).faults, `IOAS ${sp.id} at #${i}`).toEqual(faults);
        expect(hi - lo).toBeLessThan(1n << 40n);
        framed++;
      }
    }
    expect(framed).toBeGreaterThan(50);
  });
});

describe('constants in the event view', () => {
  it('selftest data types, and an invalidation format that depends on what hwpt_id names', async () => {
    const t = readTraceSync(join(ROOT, 'traces/nested-mock-viommu-invalidate.iort'));
    const ix = await DebugIndex.build(t.events, { kernel: t.header.kernel });
    const decoded = (i: number, field: string) => eventView(ix, i).fields.find((f) => f.name === field)?.decoded;
    const first = (op: string) => t.events.findIndex((e) => e.op === op);
    expect(decoded(first('IOMMU_VIOMMU_ALLOC'), 'type')).toBe('SELFTEST');
    expect(decoded(t.events.findIndex((e) => e.op === 'IOMMU_HWPT_ALLOC' && Number(e.args?.['data_type'] ?? 0) !== 0), 'data_type')).toBe('SELFTEST');
    expect(decoded(first('IOMMU_HWPT_INVALIDATE'), 'data_type')).toBe('HWPT_INVALIDATE_DATA_SELFTEST / VIOMMU_INVALIDATE_DATA_SELFTEST');
  });

  const VFIO = join(ROOT, '../shared/captures/selftest/vfio_compat_mock_domain.Ver1v0.map.jsonl.gz');
  it.skipIf(!existsSync(VFIO))('VFIO type1 map flags (a real capture)', async () => {
    const evs: Event[] = [];
    for await (const ev of importCapture(VFIO)) evs.push(ev);
    const ix = await DebugIndex.build(evs, { kernel: '6.12' });
    const i = evs.findIndex((e) => e.op === 'VFIO_IOMMU_MAP_DMA' && Number(e.args?.['flags']) === 3);
    expect(eventView(ix, i).fields.find((f) => f.name === 'flags')?.decoded).toBe('READ|WRITE');
  });
});

describe("the environment events' flags and modes by name", () => {
  it('open, mmap, mprotect, mremap, mlockall, memfd_create, fallocate, madvise', async () => {
    const V = 0x7f0000000000n;
    const evs: Event[] = [
      { op: 'open', pid: 1, args: { path: '/tmp', flags: 0o20200002 } },
      { op: 'open', pid: 1, args: { path: '/tmp/x', flags: 0o2001101 | 0o40000000 } },
      { op: 'memfd_create', pid: 1, args: { name: 'ram', flags: 0x4 | (21 << 26) | 1 } },
      { op: 'mmap', pid: 1, args: { va: V, length: 0x200000n, kind: 'memfd', fd: 2, prot: 3, flags: 0x8000 | (21 << 26) } },
      { op: 'mprotect', pid: 1, args: { va: V, length: 0x1000n, prot: 0 } },
      { op: 'mremap', pid: 1, args: { va: V, old_length: 0x1000n, new_length: 0x1000n, flags: 3, new_va: V + 0x400000n } },
      { op: 'mlockall', pid: 1, args: { flags: 6 } },
      { op: 'fallocate', pid: 1, args: { fd: 2, mode: 3, offset: 0n, length: 0x200000n } },
      { op: 'madvise', pid: 1, args: { va: V, length: 0x1000n, advice: 21 } },
      { op: 'madvise', pid: 1, args: { va: V, length: 0x1000n, advice: 'COLD' } },
    ];
    const ix = await DebugIndex.build(evs, { kernel: '6.12' });
    const decoded = (i: number, field: string) => eventView(ix, i).fields.find((f) => f.name === field)?.decoded;
    expect(decoded(0, 'flags')).toBe('O_RDWR|O_TMPFILE');
    expect(decoded(1, 'flags')).toBe('O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC|0x800000');
    expect(decoded(2, 'flags')).toBe('MFD_CLOEXEC|MFD_HUGETLB|MFD_HUGE_2MB');
    expect(decoded(3, 'prot')).toBe('PROT_READ|PROT_WRITE');
    expect(decoded(3, 'flags')).toBe('MAP_POPULATE|MAP_HUGE_2MB');
    expect(decoded(3, 'va')).toBeNull();
    expect(decoded(4, 'prot')).toBe('PROT_NONE');
    expect(decoded(5, 'flags')).toBe('MREMAP_MAYMOVE|MREMAP_FIXED');
    expect(decoded(6, 'flags')).toBe('MCL_FUTURE|MCL_ONFAULT');
    expect(decoded(7, 'mode')).toBe('FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE');
    expect(decoded(8, 'advice')).toBe('MADV_PAGEOUT');
    expect(decoded(9, 'advice')).toBeNull();
  });
});

describe('lifecycle of an object changed at nearly every event', () => {
  it('carries the count, the states seen, the latest path segments and rows, as a fold of the whole history would', async () => {
    const ix = await DebugIndex.build(vmTrace({ events: 20_000 }), { kernel: '6.12' });
    for (const upTo of [5, 7_777, 19_999]) {
      const w = ix.step(upTo).after;
      const v = lifecycleView(ix, w, 1, 2, upTo);
      const all = ix.objectHistory(2, 1).filter((c) => c.event <= upTo);
      expect(v.changes).toBe(all.length);
      expect(v.history).toEqual(all.slice(-200).map((c) => ({ event: c.event, op: ix.op(c.event), change: c.change, state: c.state })));
      expect(new Set(v.seen)).toEqual(new Set(all.map((c) => c.state)));
      const runs: { state: string; event: number; n: number }[] = [];
      for (const c of all) {
        const last = runs[runs.length - 1];
        if (last && last.state === c.state) last.n++;
        else runs.push({ state: c.state, event: c.event, n: 1 });
      }
      expect(v.path).toEqual(runs.slice(-24));
      expect(v.pathBefore).toBe(Math.max(0, runs.length - 24));
      expect(JSON.stringify(v).length).toBeLessThan(40_000);
    }
  });
});

describe('diff rows', () => {
  it("a dirty IOPTE slot's path reads as the IOVA it covers; other paths carry no note", async () => {
    expect(pathNote(['ctxs', '1', 'objs', '5', 'domain', 'dirty', '0x21e0'])).toBe('dirty IOPTE slot: IOVA 0x10f0000..0x10f07ff');
    expect(pathNote(['ctxs', '1', 'objs', '1', 'iopt', 'areas', '0x1000000'])).toBeNull();
    const t = readTraceSync(join(ROOT, 'traces/live-migration-dirty.iort'));
    const ix = await DebugIndex.build(t.events, { kernel: t.header.kernel });
    let noted = 0;
    for (let i = 0; i < ix.length; i++)
      for (const r of diffView(ix.patchesAt(i)).rows) {
        const m = /\.domain\.dirty\.(0x[0-9a-f]+)$/.exec(r.path);
        if (!m) {
          expect(r.note, r.path).toBeNull();
          continue;
        }
        expect(r.note).toBe(`dirty IOPTE slot: IOVA 0x${(BigInt(m[1]!) * 2048n).toString(16)}..0x${(BigInt(m[1]!) * 2048n + 2047n).toString(16)}`);
        noted++;
      }
    expect(noted).toBeGreaterThan(50);
  });
});
