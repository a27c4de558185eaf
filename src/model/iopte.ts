/**
 * Which IOPTE sizes the mock driver's paging domains hold, and the mock's
 * dirty read-and-clear walk that depends on them (kernel-semantics §12.1,
 * §7.2 "Mock read-and-clear", §3.12).
 *
 * The core maps an area into a domain one physically contiguous run at a
 * time (pages.c batch_to_domain: one iommu_map() per batch entry, and a
 * batch entry is a maximal run of consecutive PFNs), or PAGE_SIZE by
 * PAGE_SIZE while the IOAS's HUGE_PAGES option is off
 * (batch_iommu_map_small). iommu_map() splits each call with iommu_pgsize():
 * a MOCK_FLAGS_DEVICE_HUGE_IOVA domain supports {2 KiB, 1 MiB}, so 1 MiB
 * IOPTEs cover exactly the 1 MiB-aligned stretch of a run whose IOVA and
 * physical address agree modulo 1 MiB; selftest.c mock_domain_map_pages
 * marks each 2 KiB slot of those IOPTEs MOCK_PFN_HUGE_IOVA.
 *
 * Domain state (Domain.mapped / Domain.hugeMapped) is only kept for domains
 * that can hold 1 MiB IOPTEs; it is updated through io_pagetable.ts's
 * domain hooks, registered here.
 */
import { PMap } from '../ds/pmap.js';
import { MOCK_HUGE_PAGE_SIZE, MOCK_IO_PAGE_SIZE } from './drivers/mock.js';
import { getIoas, setDomainHooks } from './io_pagetable.js';
import { HPAGE_NR, PAGE_SIZE, folioPieces, physOf } from './mm.js';
import type { Tx } from './object.js';
import type { Area, Domain, Pages, Range } from './state.js';

/** A physically contiguous piece of an area: `length` bytes at `iova` backed by `phys`. */
export interface PhysRun {
  readonly iova: bigint;
  readonly phys: bigint;
  readonly length: bigint;
}

/** A disjoint set of inclusive ranges, keyed by start. */
export type RangeSet = PMap<bigint, bigint>;

/**
 * The IOVA stretches one iommu_map(iova, phys, length) call maps with
 * `huge`-sized IOPTEs when the domain supports {base, huge} page sizes
 * (iommu_pgsize): from the first huge-aligned IOVA to the last huge
 * boundary, provided IOVA and physical address are equally offset inside a
 * huge page and at least one whole huge page fits.
 */
export function hugeStretch(run: PhysRun, huge: bigint = MOCK_HUGE_PAGE_SIZE): Range | undefined {
  if ((run.iova ^ run.phys) & (huge - 1n)) return undefined;
  const first = (run.iova + huge - 1n) & ~(huge - 1n);
  const end = (run.iova + run.length) & ~(huge - 1n);
  return end - first >= huge ? { start: first, last: end - 1n } : undefined;
}

/**
 * The 1 MiB-IOPTE runs of a huge-capable mock domain after mapping the given
 * physically contiguous runs. `largePages` false (IOMMU_OPTION_HUGE_PAGES
 * off) maps PAGE_SIZE at a time, which never yields a 1 MiB IOPTE.
 */
export function hugeIoptes(runs: readonly PhysRun[], largePages: boolean, huge: bigint = MOCK_HUGE_PAGE_SIZE): Range[] {
  if (!largePages) return [];
  const out: Range[] = [];
  for (const r of runs) {
    const s = hugeStretch(r, huge);
    if (s) out.push(s);
  }
  return out;
}

/** Merge runs that continue each other in both IOVA and physical address (one batch entry). */
export function mergeRuns(runs: readonly PhysRun[]): PhysRun[] {
  const out: PhysRun[] = [];
  for (const r of runs) {
    const top = out[out.length - 1];
    if (top && top.iova + top.length === r.iova && top.phys + top.length === r.phys) out[out.length - 1] = { ...top, length: top.length + r.length };
    else out.push(r);
  }
  return out;
}

/**
 * The physically contiguous runs of area [start, last] from its pinned pages.
 * Memory objects whose consecutive pages are not physically consecutive
 * (everything but hugetlb, mm.ts physOf) only give 4 KiB runs, which can
 * never hold a 1 MiB IOPTE: they are left out, so cost follows the number of
 * pin runs, not of pages.
 */
export function areaPhysRuns(tx: Tx, start: bigint, last: bigint, area: Area): PhysRun[] {
  const pages: Pages = tx.pages(area.pages);
  const lo = area.startByte;
  const hi = area.startByte + (last - start) + 1n; // exclusive, bytes of the pages object
  const firstIdx = Number(lo / PAGE_SIZE);
  const lastIdx = Number((hi - 1n) / PAGE_SIZE);
  const runs: PhysRun[] = [];
  const visit = (k0: number, r: { last: number; mobj: number; mobjIndex: number }) => {
    const m = tx.w.mem.mobjs.get(r.mobj);
    if (!m) return;
    const b0 = BigInt(k0) * PAGE_SIZE;
    const s = b0 > lo ? b0 : lo;
    const e = BigInt(r.last + 1) * PAGE_SIZE < hi ? BigInt(r.last + 1) * PAGE_SIZE : hi;
    if (s >= e) return;
    if (m.kind === 'hugetlb') {
      runs.push({ iova: start + (s - lo), phys: physOf(m, BigInt(r.mobjIndex) * PAGE_SIZE + (s - b0)), length: e - s });
      return;
    }
    // Anonymous memory is contiguous only inside its transparent huge pages (mm.ts physOf, huge_memory.ts).
    if (m.thp === undefined) return;
    const first = r.mobjIndex + Number((s - b0) / PAGE_SIZE); // object page of byte s
    const last = r.mobjIndex + Number((e - 1n - b0) / PAGE_SIZE);
    const f0 = m.thp.floor(first);
    const visitFolio = (f: number) => {
      // (pages copied out of the folio since fork are 4 KiB pages of their own)
      for (const [a, z] of folioPieces(m, Math.max(f, first), Math.min(f + HPAGE_NR - 1, last))) {
        const from = a === first ? s : b0 + BigInt(a - r.mobjIndex) * PAGE_SIZE;
        const to = z === last ? e : b0 + BigInt(z + 1 - r.mobjIndex) * PAGE_SIZE;
        runs.push({ iova: start + (from - lo), phys: physOf(m, BigInt(r.mobjIndex) * PAGE_SIZE + (from - b0)), length: to - from });
      }
    };
    if (f0 && f0[0] < first) visitFolio(f0[0]);
    m.thp.each((f) => {
      if (f > last) return false;
      visitFolio(f);
      return true;
    }, first);
  };
  const before = pages.pinned.lower(firstIdx);
  if (before && before[1].last >= firstIdx) visit(before[0], before[1]);
  pages.pinned.each((k, r) => {
    visit(k, r);
    return true;
  }, firstIdx, lastIdx);
  return mergeRuns(runs);
}

// ---- disjoint range sets ---------------------------------------------------

/** The range of `set` containing `x`. */
export function rangeAt(set: RangeSet, x: bigint): Range | undefined {
  const e = set.floor(x);
  return e && e[1] >= x ? { start: e[0], last: e[1] } : undefined;
}

export function rangesOverlap(set: RangeSet, start: bigint, last: bigint): boolean {
  const e = set.floor(last);
  return !!e && e[1] >= start;
}

/** Add [start, last] (disjoint from the set), merging with touching neighbours. */
export function rangesAdd(set: RangeSet, start: bigint, last: bigint): RangeSet {
  const prev = set.lower(start);
  if (prev && prev[1] + 1n === start) {
    set = set.delete(prev[0]);
    start = prev[0];
  }
  const next = set.get(last + 1n);
  if (next !== undefined) {
    set = set.delete(last + 1n);
    last = next;
  }
  return set.set(start, last);
}

/** Remove [start, last], trimming ranges that stick out. */
export function rangesRemove(set: RangeSet, start: bigint, last: bigint): RangeSet {
  const hit: [bigint, bigint][] = [];
  const prev = set.lower(start);
  if (prev && prev[1] >= start) hit.push(prev);
  set.each((s, l) => {
    hit.push([s, l]);
    return true;
  }, start, last);
  for (const [s, l] of hit) {
    set = set.delete(s);
    if (s < start) set = set.set(s, start - 1n);
    if (l > last) set = set.set(last + 1n, l);
  }
  return set;
}

// ---- domain hooks ----------------------------------------------------------

/** An area became mapped in the IOAS's domains: decide its IOPTE sizes in each huge-capable domain that does not hold it yet. */
function areaMapped(tx: Tx, ioasId: number, start: bigint, last: bigint): void {
  const iopt = getIoas(tx, ioasId)!.iopt;
  let huge: Range[] | undefined;
  for (const hwptId of iopt.domains) {
    const h = tx.get(hwptId, 'hwpt_paging');
    if (!h || !h.domain.huge || rangesOverlap(h.domain.mapped, start, last)) continue;
    if (!huge) {
      const area = iopt.areas.find(start);
      huge = area && !iopt.disableLargePages ? hugeIoptes(areaPhysRuns(tx, start, last, area.value), true) : [];
    }
    let hugeMapped = h.domain.hugeMapped;
    for (const r of huge) hugeMapped = rangesAdd(hugeMapped, r.start, r.last);
    tx.put({ ...h, domain: { ...h.domain, mapped: rangesAdd(h.domain.mapped, start, last), hugeMapped } });
  }
}

/** An area left the IOAS's domains: its IOPTEs, with their dirty bits, are gone (mock_domain_unmap_pages erases the slots). */
function areaUnmapped(tx: Tx, ioasId: number, start: bigint, last: bigint): void {
  const iopt = getIoas(tx, ioasId)!.iopt;
  for (const hwptId of iopt.domains) {
    const h = tx.get(hwptId, 'hwpt_paging');
    if (!h) continue;
    let d: Domain = h.domain;
    let dirty = d.dirty;
    d.dirty.each((slot) => {
      dirty = dirty.delete(slot);
      return true;
    }, start / MOCK_IO_PAGE_SIZE, last / MOCK_IO_PAGE_SIZE);
    if (dirty !== d.dirty) d = { ...d, dirty };
    if (d.huge && rangesOverlap(d.mapped, start, last)) d = { ...d, mapped: rangesRemove(d.mapped, start, last), hugeMapped: rangesRemove(d.hugeMapped, start, last) };
    if (d !== h.domain) tx.put({ ...h, domain: d });
  }
}

setDomainHooks(areaMapped, areaUnmapped);

// ---- dirty read-and-clear ----------------------------------------------------

/**
 * selftest.c mock_domain_read_and_clear_dirty over one piece [start, last]
 * of an area: walk slot by slot; a slot of a 1 MiB IOPTE tests (and unless
 * `noClear` clears) the dirty bits of the whole aligned 1 MiB page and
 * reports [addr, addr + 1 MiB), then moves on by 1 MiB — so a piece that
 * starts inside a huge page keeps that offset, skipping the slots between
 * the end of a huge run and the next step. Other slots report 2 KiB each.
 * Cost follows dirty slots and huge runs, not the size of the piece.
 * Returns the new dirty set.
 */
export function mockReadAndClearDirty(
  d: Pick<Domain, 'dirty' | 'hugeMapped'>,
  start: bigint,
  last: bigint,
  noClear: boolean,
  record: (addr: bigint, length: bigint) => void,
): PMap<bigint, true> {
  const H = MOCK_HUGE_PAGE_SIZE;
  const S = MOCK_IO_PAGE_SIZE;
  let dirty = d.dirty;
  const end = last + 1n;
  let p = start;
  while (p < end) {
    const run = rangeAt(d.hugeMapped, p);
    if (run) {
      // Steps p, p + H, ... while still inside the run and the piece.
      const stop = run.last + 1n < end ? run.last + 1n : end;
      const steps = (stop - p + H - 1n) / H;
      dirty = readEntries(dirty, p, steps, H, noClear, record);
      p += steps * H;
    } else {
      const next = d.hugeMapped.higher(p);
      const stop = next && next[0] < end ? next[0] : end;
      const found: bigint[] = [];
      dirty.each((slot) => {
        found.push(slot);
        return true;
      }, p / S, (stop - 1n) / S);
      for (const slot of found) {
        record(slot * S, S);
        if (!noClear) dirty = dirty.delete(slot);
      }
      p = stop;
    }
  }
  return dirty;
}

/**
 * The read-and-clear walk of a driver whose domains hold leaf entries of
 * `pte` bytes, no larger ones (intel_iommu_read_and_clear_dirty over a
 * second-stage table without superpages, which is what the VT-d profile's
 * registers give; io-pgtable-arm's walk for SMMUv3 pages): from `start`
 * in steps of `pte`, each step tests (and unless `noClear` clears) the
 * entry holding it and reports [step, step + pte), so a piece that starts
 * inside an entry keeps that offset. The dirty set holds 2 KiB slots (a
 * device write marks those: dma.ts), and an entry is dirty if any of its
 * slots is. Cost follows dirty slots, not the size of the piece.
 */
export function pteReadAndClearDirty(dirty: PMap<bigint, true>, start: bigint, last: bigint, pte: bigint, noClear: boolean, record: (addr: bigint, length: bigint) => void): PMap<bigint, true> {
  return readEntries(dirty, start, (last - start) / pte + 1n, pte, noClear, record);
}

/**
 * `steps` steps of `size` bytes from `p`: each tests the `size`-byte entry
 * holding it (the one holding `p`, then one per step), reports
 * [step, step + size) when any of the entry's 2 KiB slots is dirty, and
 * unless `noClear` clears them. Cost follows the dirty slots there.
 */
function readEntries(dirty: PMap<bigint, true>, p: bigint, steps: bigint, size: bigint, noClear: boolean, record: (addr: bigint, length: bigint) => void): PMap<bigint, true> {
  const S = MOCK_IO_PAGE_SIZE;
  const first = p - (p % size);
  const hits = new Map<bigint, bigint[]>();
  dirty.each((slot) => {
    const k = (slot * S - first) / size;
    const l = hits.get(k);
    if (l) l.push(slot);
    else hits.set(k, [slot]);
    return true;
  }, first / S, (first + steps * size - 1n) / S);
  for (const [k, slots] of hits) {
    record(p + k * size, size);
    if (!noClear) for (const slot of slots) dirty = dirty.delete(slot);
  }
  return dirty;
}

