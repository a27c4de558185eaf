/**
 * The bound on the hugetlb pages a state could have in use or reserved
 * (src/oracle/hugetlb_pool.ts), and what uses it: the gigantic campaigns'
 * generator keeping its sequences inside the guest's pool of 1 GiB pages
 * (fuzz.ts realize), and `iorewind oracle`'s word on a divergence that comes
 * where the pool could have run out (poolOverrun). The bound is checked
 * against the kernel's own counts (sysfs, 2 MiB pages: traces/pool_*.c) and
 * against the campaigns' finds: gigantic seeds 304, 305, 307, 308 and 310
 * met ENOMEM at the first event taking it past three pages in all but one
 * sequence (seed 308's went past one `fork` before: children sharing a page
 * copy-on-write count once each), seed 313 at the first `mmap` whose peak
 * did (the new mapping reserves before the one it replaces goes). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { importCapture } from '../../../src/capture/import.js';
import { compare } from '../../../src/engine/replay.js';
import { openSource } from '../../../src/engine/source.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import type { Template } from '../../../src/fuzz/index.js';
import { GUEST_VA } from '../../../src/fuzz/template.js';
import { generate, realize, type Realized } from '../../../src/oracle/fuzz.js';
import { hugePagesBound, NO_HUGE_PAGES, poolOverrun } from '../../../src/oracle/hugetlb_pool.js';

const G = 1n << 30n;
const VA = 0x7f0000000000n; // on a 1 GiB boundary
const MAP_HUGETLB = 0x40000;
const HUGE_1GB = 30 << 26;
const MFD_HUGETLB = 4;
const KEEP_SIZE = 1;
const PUNCH_HOLE = 2;

/** The bound after each event, applied one by one (`strict`: each must succeed); `peaks` gets the peak of each. */
function bounds(events: Event[], strict = true, peaks: number[] = []): number[] {
  let w: World = emptyWorld({ kernel: '6.12' });
  let b = NO_HUGE_PAGES;
  const out: number[] = [];
  for (const ev of events) {
    const r = apply(w, ev);
    if (strict) expect(r.result.errno, `${ev.op} ${JSON.stringify(ev.args, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`).toBe(0);
    w = r.state;
    b = hugePagesBound(w, 30, b, ev, r.result);
    out.push(b.pages);
    peaks.push(b.peak);
  }
  return out;
}

const privateHuge = (va: bigint, length: bigint, pid = 1): Event => ({ op: 'mmap', pid, args: { va, length, kind: 'private_anon', prot: 3, flags: MAP_HUGETLB | HUGE_1GB } });
const pinAll: Event[] = [
  { op: 'open', pid: 1, args: { path: '/dev/iommu' } },
  { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } },
  { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 1, mock_domain: {} } },
  { op: 'IOMMU_IOAS_MAP', pid: 1, fd: 0, args: { ioas_id: 1, flags: 7, user_va: VA, length: 0x200000n, iova: 0x1000000n, __reserved: 0 } },
];

describe('hugePagesBound', () => {
  it('a private mapping holds a page (or its reservation) per slot; each fork a copy of the pinned page (the campaigns\' ENOMEM at the fourth)', () => {
    const b = bounds([privateHuge(VA, G), ...pinAll, { op: 'fork', pid: 1, args: { child: 2 } }, { op: 'fork', pid: 1, args: { child: 3 } }, { op: 'exit', pid: 3, args: {} }, { op: 'fork', pid: 1, args: { child: 4 } }, { op: 'fork', pid: 1, args: { child: 5 } }]);
    expect(b).toEqual([1, 1, 1, 1, 1, 2, 3, 2, 3, 4]);
  });

  it('an mmap over a hugetlb mapping needs both while it runs (gigantic seed 313: ENOMEM for the new one)', () => {
    const peaks: number[] = [];
    const shared = (va: bigint): Event => ({ op: 'mmap', pid: 1, args: { va, length: 0x400000n, kind: 'anon_hugetlb', prot: 3, flags: HUGE_1GB } });
    expect(bounds([shared(VA), { op: 'fork', pid: 1, args: { child: 2 } }, shared(VA), shared(VA)], true, peaks)).toEqual([1, 1, 2, 2]);
    // the child keeps the first mapping; each new one over the parent's old needs a page more while it is made
    expect(peaks).toEqual([1, 1, 2, 3]);
  });

  it('the pinned page stays counted after its mapping goes, until it is unpinned', () => {
    const b = bounds([privateHuge(VA, G), ...pinAll, { op: 'munmap', pid: 1, args: { va: VA, length: G } }, { op: 'IOMMU_IOAS_UNMAP', pid: 1, fd: 0, args: { ioas_id: 1, iova: 0x1000000n, length: 0x200000n } }]);
    expect(b).toEqual([1, 1, 1, 1, 1, 1, 0]);
  });

  it("a memfd's size holds nothing; a shared mapping reserves what it maps, kept after munmap until a truncation gives it back", () => {
    const b = bounds([
      { op: 'memfd_create', pid: 1, args: { name: 'guest-ram', flags: MFD_HUGETLB | HUGE_1GB } },
      { op: 'ftruncate', pid: 1, args: { fd: 0, length: 2n * G } },
      { op: 'mmap', pid: 1, args: { va: VA, length: 2n * G, kind: 'memfd', prot: 3, fd: 0, offset: 0n } },
      { op: 'munmap', pid: 1, args: { va: VA, length: 2n * G } },
      { op: 'ftruncate', pid: 1, args: { fd: 0, length: G } },
      { op: 'close', pid: 1, args: { fd: 0 } },
    ]);
    expect(b).toEqual([0, 0, 2, 2, 1, 0]);
  });

  it('fallocate allocates pages inside the size too (KEEP_SIZE), a hole allocates nothing', () => {
    const b = bounds([
      { op: 'memfd_create', pid: 1, args: { name: 'guest-ram', flags: MFD_HUGETLB | HUGE_1GB } },
      { op: 'ftruncate', pid: 1, args: { fd: 0, length: 3n * G } },
      { op: 'fallocate', pid: 1, args: { fd: 0, mode: PUNCH_HOLE | KEEP_SIZE, offset: 0n, length: 3n * G } },
      { op: 'fallocate', pid: 1, args: { fd: 0, mode: KEEP_SIZE, offset: G, length: G } },
    ]);
    expect(b).toEqual([0, 0, 0, 2]);
  });

  it("a private mapping of a memfd reserves a page per slot of its own (the file's size still holds nothing)", () => {
    const b = bounds([
      { op: 'memfd_create', pid: 1, args: { name: 'guest-ram', flags: MFD_HUGETLB | HUGE_1GB } },
      { op: 'ftruncate', pid: 1, args: { fd: 0, length: 2n * G } },
      { op: 'mmap', pid: 1, args: { va: VA, length: 2n * G, kind: 'file_private', prot: 3, fd: 0, offset: 0n } },
      { op: 'close', pid: 1, args: { fd: 0 } },
      { op: 'munmap', pid: 1, args: { va: VA, length: 2n * G } },
    ]);
    expect(b).toEqual([0, 0, 2, 2, 0]);
  });
});

describe('against the kernel (2 MiB pages: the same reservations, faster under TCG)', () => {
  // Each program in traces/ reads nr_hugepages - free_hugepages + resv_hugepages after each step (its
  // output, Linux 6.12.117 on the oracle kit with 16 pages). In pool_2m, resv_hugepages read -1 once,
  // right after the private mapping holding the pinned page went (it comes back to 0 when the page is
  // unpinned), where the one pinned page is all that is in use: counted here as 1.
  const cases = [
    {
      trace: 'pool_2m',
      kernel: [0, 4, 4, 4, 5, 4, 4, 8, 8, 8, 5, 6, 5, 4, 1, 0],
      // where the bound counts more: a forked child's slots (its parent's unpinned pages it shares count
      // again), and a file's pages below its furthest reach that were never there or were punched out
      bound: [0, 4, 4, 4, 8, 4, 4, 8, 8, 8, 5, 7, 7, 4, 1, 0],
    },
    {
      trace: 'pool_dontneed',
      kernel: [0, 2, 2, 2, 2, 2, 4, 4, 5, 4],
      // a pinned page MADV_DONTNEED took out of its slot counts apart from the slot (the kernel gives
      // its reservation back only when the page is freed, and lends the slot another meanwhile)
      bound: [0, 2, 2, 3, 3, 3, 5, 6, 6, 4],
    },
  ];

  it.each(cases)('$trace: the bound is never below what the kernel had in use and reserved', async ({ trace, kernel, bound }) => {
    const src = await openSource(join(import.meta.dirname, 'traces', `${trace}.iort.jsonl`));
    let w: World = emptyWorld({ kernel: src.kernel });
    let b = NO_HUGE_PAGES;
    const at: number[] = [];
    for await (const ev of src.events) {
      const r = apply(w, ev);
      expect(compare(ev, r.result), `${ev.op}`).toBeUndefined();
      w = r.state;
      b = hugePagesBound(w, 21, b, ev, r.result);
      // (each reading opens resv_hugepages last)
      if (ev.op === 'open' && String(ev.args?.['path']).endsWith('/resv_hugepages')) at.push(b.pages);
    }
    expect(at).toHaveLength(kernel.length);
    at.forEach((n, i) => expect(n, `reading ${i}`).toBeGreaterThanOrEqual(kernel[i]!));
    expect(at).toEqual(bound);
  });

  it("poolOverrun names the first event after which a guest's pool could run out (what `iorewind oracle` tells a divergence with)", async () => {
    const events: Event[] = [];
    for await (const ev of (await openSource(join(import.meta.dirname, 'traces', 'pool_2m.iort.jsonl'))).events) events.push(ev);
    const o = poolOverrun(events, [{ shift: 21, pages: 4 }], '6.12');
    expect(o && { op: events[o.index]!.op, pages: o.pages }).toEqual({ op: 'fork', pages: 8 });
    // not past the event asked about, nor with the pool the program ran with
    expect(poolOverrun(events, [{ shift: 21, pages: 4 }], '6.12', o!.index - 1)).toBeNull();
    expect(poolOverrun(events, [{ shift: 21, pages: 16 }, { shift: 30, pages: 0 }], '6.12')).toBeNull();
  });
});

describe('an mmap over a mapping, against the kernel (2 MiB pages, a pool of four)', () => {
  it('the kernel refuses the mmap the peak counts past the pool, and takes the same one after a munmap', async () => {
    // traces/pool_mmap_over.c's capture (`run --hugepages 4 --capture`): its failed mmap is a noop once imported
    const path = join(import.meta.dirname, 'traces', 'pool_mmap_over.capture.jsonl');
    const recs = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; seq: number; errno?: number });
    expect(recs.filter((r) => r.kind === 'mmap').map((r) => r.errno)).toEqual([0, 0, 12, 0]);
    const refused = recs.find((r) => r.kind === 'mmap' && r.errno === 12)!.seq;
    const events: Event[] = [];
    for await (const ev of importCapture(path)) events.push(ev);
    const at = events.findIndex((e) => e.op === 'noop' && e.src?.endsWith(`seq ${refused}`));
    const again = events.slice(0, at).filter((e) => e.op === 'mmap').at(-1)!;
    events[at] = { ...again, rec: { errno: 'ENOMEM' } };
    expect(poolOverrun(events, [{ shift: 21, pages: 4 }], '6.12')?.index).toBe(at);
    expect(poolOverrun(events, [{ shift: 21, pages: 6 }], '6.12')).toBeNull();
  });
});

describe('gigantic campaigns stay inside the pool', () => {
  const ioasMap: Template = { op: 'IOMMU_IOAS_MAP', pid: 0, fd: { $: 'fd', kind: 'iommufd', k: 0 }, args: { ioas_id: 1, flags: 7, user_va: GUEST_VA, length: 0x200000n, iova: 0x1000000n, __reserved: 0 } };
  const fork: Template = { op: 'fork', pid: 0, args: { child: { $: 'newpid' } } };
  const templates: Template[] = [
    { op: 'mmap', pid: 0, args: { va: GUEST_VA, length: G, kind: 'private_anon', prot: 3, flags: MAP_HUGETLB | HUGE_1GB } },
    { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 0, fd: { $: 'fd', kind: 'iommufd', k: 0 }, args: { id: 1, mock_domain: {} } },
    ioasMap,
    fork,
    fork,
    fork,
  ];
  const ops = (r: Realized) => r.events.slice(2).map((e) => (e.op === 'note' ? 'note' : e.op));

  it('the fork that would copy the pinned page a fourth time is left out, as a note', () => {
    expect(ops(realize(templates, 3)!)).toEqual(['mmap', 'IOMMU_TEST_OP_MOCK_DOMAIN', 'IOMMU_IOAS_MAP', 'fork', 'fork', 'note']);
    expect(String(realize(templates, 3)!.events.at(-1)!.args?.['text'])).toMatch(/^fork: could need more 1 GiB hugetlb pages than the oracle's 3/);
    // without a pool (the campaigns without --gigantic) and with a larger one, nothing is left out
    expect(ops(realize(templates)!)).toEqual(['mmap', 'IOMMU_TEST_OP_MOCK_DOMAIN', 'IOMMU_IOAS_MAP', 'fork', 'fork', 'fork']);
    expect(ops(realize(templates, 4)!)).toEqual(ops(realize(templates)!));
  });

  it('as is an mmap over a mapping when the old and the new one could not both be held (gigantic seed 313)', () => {
    const shared: Template = { op: 'mmap', pid: 0, args: { va: GUEST_VA, length: 0x400000n, kind: 'anon_hugetlb', prot: 3, flags: HUGE_1GB } };
    const seq = [shared, fork, shared, fork, shared, shared];
    expect(ops(realize(seq, 3)!)).toEqual(['mmap', 'fork', 'mmap', 'fork', 'mmap', 'note']);
    expect(ops(realize(seq)!)).toEqual(['mmap', 'fork', 'mmap', 'fork', 'mmap', 'mmap']);
  });

  const kinds = ['mmap', 'munmap', 'fork', 'exit', 'memfd_create', 'ftruncate', 'fallocate', 'IOMMU_IOAS_MAP', 'IOMMU_IOAS_UNMAP', 'IOMMU_TEST_OP_MOCK_DOMAIN', 'write_memory', 'madvise', 'mremap'];
  const worst = (events: Event[]): number => Math.max(0, ...bounds(events, false));
  const leftOut = (seqs: { events: Event[] }[]) => seqs.reduce((n, s) => n + s.events.filter((e) => e.op === 'note' && String(e.args?.['text']).includes('1 GiB hugetlb pages than the oracle')).length, 0);

  it('generated sequences: with a pool of one page none could need a second, and some events were left out for it', () => {
    const { seqs } = generate(5, 150, 300, kinds, 0, 4, 1);
    expect(seqs.length).toBeGreaterThan(100);
    for (const s of seqs) expect(worst(s.events), s.name).toBeLessThanOrEqual(1);
    expect(leftOut(seqs)).toBeGreaterThan(0);
    // the same draws with a pool of 64: nothing left out, and some sequences then need more than one page
    const big = generate(5, 150, 300, kinds, 0, 4, 64).seqs;
    expect(leftOut(big)).toBe(0);
    expect(big.filter((s) => worst(s.events) > 1).length).toBeGreaterThan(0);
  });
});
