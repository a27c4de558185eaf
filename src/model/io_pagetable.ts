/**
 * io_pagetable.c: the IOVA space of an IOAS — areas, reserved and allowed
 * ranges, automatic IOVA allocation, domains and their pins. Knows nothing
 * about ioctl structs; ioas.ts calls in here as the kernel's ioas.c does.
 */
import { IntervalMap } from '../ds/interval_map.js';
import { PAGE_SIZE, HPAGE_SIZE } from './mm.js';
import type { Tx } from './object.js';
import { dropAllPins, pagesAddRange, pagesRefill, pagesRemoveRange, pagesWith } from './pages.js';
import type { Area, IoasObj, Iopt, Range, Reserved } from './state.js';

export const U64_MAX = 0xffffffffffffffffn;
export const ULONG_MAX = U64_MAX;

export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;
export const IOMMU_CACHE = 4;

export function emptyIopt(): Iopt {
  return {
    areas: IntervalMap.empty<Area>(),
    reserved: [],
    allowed: [],
    domains: [],
    accesses: [],
    iovaAlignment: 1n,
    disableLargePages: false,
  };
}

/** check_add_overflow(a, b) on unsigned long. */
export const addOverflows = (a: bigint, b: bigint): boolean => a + b > U64_MAX;

export function roundupPow2(v: bigint): bigint {
  let p = 1n;
  while (p < v) p <<= 1n;
  return p;
}

export function lowestSetBit(v: bigint): bigint {
  return v & -v;
}

/** Page indices [first, last] of the pages object covered by an area. */
export function areaIndexRange(start: bigint, last: bigint, a: Area): [number, number] {
  return [Number(a.startByte / PAGE_SIZE), Number((a.startByte + (last - start)) / PAGE_SIZE)];
}

export const reservedIntersects = (iopt: Iopt, start: bigint, last: bigint): boolean =>
  iopt.reserved.some((r) => r.start <= last && start <= r.last);

const allowedIntersects = (iopt: Iopt, start: bigint, last: bigint): boolean =>
  iopt.allowed.some((r) => r.start <= last && start <= r.last);

/**
 * iopt_area_iter_first(iopt, start, last) as the interval tree answers it:
 * the nodes with node.start <= last && node.last >= start. A query with
 * start > last (ADD_RESERVED of length 0 asks for [start, start - 1]) is not
 * empty there: it finds the area that runs from `last` on to `start`.
 */
function areasIntersect(iopt: Iopt, start: bigint, last: bigint): boolean {
  if (start <= last) return iopt.areas.anyOverlap(start, last);
  const a = iopt.areas.find(last);
  return a !== undefined && a.last >= start;
}

/** iopt_check_iova: a fixed IOVA range. */
export function checkIova(iopt: Iopt, iova: bigint, length: bigint): string | 0 {
  if (iova & (iopt.iovaAlignment - 1n)) return 'EINVAL';
  if (addOverflows(iova, length - 1n)) return 'EOVERFLOW';
  const last = iova + length - 1n;
  if (reservedIntersects(iopt, iova, last)) return 'EINVAL';
  if (iopt.areas.anyOverlap(iova, last)) return 'EEXIST';
  return 0;
}

/** The reserved set as sorted, merged, disjoint ranges. */
export function mergedReserved(iopt: Iopt): Range[] {
  return mergeRanges(iopt.reserved);
}

/** Sorted, merged, disjoint ranges (overlapping or adjacent ones joined). */
function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top && (r.start <= top.last || r.start === top.last + 1n)) {
      if (r.last > top.last) top.last = r.last;
    } else out.push({ start: r.start, last: r.last });
  }
  return out;
}

/** Holes of a merged range list inside [lo, hi]. */
export function holesOf(used: readonly Range[], lo: bigint, hi: bigint): Range[] {
  const out: Range[] = [];
  let pos = lo;
  for (const r of used) {
    if (r.last < pos) continue;
    if (r.start > hi) break;
    if (r.start > pos) out.push({ start: pos, last: r.start - 1n });
    if (r.last >= hi) return out;
    pos = r.last + 1n;
  }
  if (pos <= hi) out.push({ start: pos, last: hi });
  return out;
}

/**
 * __alloc_iova_check_range. 6.12.117 carries the overflow-checked form;
 * 6.14 the older one (kernel-semantics §3.5). Returns the candidate or undefined.
 */
function checkRange(kernel: string, start: bigint, last: bigint, length: bigint, align: bigint, pageOffset: bigint): bigint | undefined {
  if (kernel === '6.14') {
    if (last - start < length - 1n) return undefined;
    const c = ((((start + align - 1n) & U64_MAX) & ~(align - 1n)) | pageOffset) & U64_MAX;
    if (c > last || last - c < length - 1n) return undefined;
    return c;
  }
  if (addOverflows(start, align - 1n)) return undefined;
  const c = ((start + align - 1n) & ~(align - 1n)) | pageOffset;
  if (c >= last || last - c < length - 1n) return undefined;
  return c;
}

/** iopt_alloc_iova: first fit, lowest address, inside allowed ranges (§3.5). */
export function allocIova(kernel: string, iopt: Iopt, uptr: bigint, length: bigint): bigint | string {
  const pageOffset = uptr % PAGE_SIZE;
  if (length === 0n || length >= ULONG_MAX / 2n) return 'EOVERFLOW';
  let align = uptr === 0n ? roundupPow2(length) : minB(roundupPow2(length), lowestSetBit(uptr));
  if (align >= HPAGE_SIZE) align = HPAGE_SIZE;
  if (align < iopt.iovaAlignment) return 'EINVAL';

  const lo = PAGE_SIZE;
  const hi = ULONG_MAX - PAGE_SIZE;
  const spans: Range[] = iopt.allowed.length === 0 ? [{ start: lo, last: hi }] : clipAllowed(iopt.allowed, lo, hi);
  const reserved = mergedReserved(iopt);
  for (const span of spans) {
    const s = checkRange(kernel, span.start, span.last, length, align, pageOffset);
    if (s === undefined) continue;
    for (const hole of holesOf(reserved, s, span.last)) {
      const found = iopt.areas.firstHole(hole.start, hole.last, length, (hs, hl) => checkRange(kernel, hs, hl, length, align, pageOffset));
      if (found !== undefined) return found;
    }
  }
  return 'ENOSPC';
}

/** interval_tree_for_each_span over the allowed tree, clipped: adjacent/overlapping ranges form one used span. */
function clipAllowed(allowed: readonly Range[], lo: bigint, hi: bigint): Range[] {
  const merged = mergeRanges(allowed);
  const out: Range[] = [];
  for (const r of merged) {
    const s = r.start > lo ? r.start : lo;
    const l = r.last < hi ? r.last : hi;
    if (s <= l) out.push({ start: s, last: l });
  }
  return out;
}

const minB = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const maxB = (a: bigint, b: bigint): bigint => (a > b ? a : b);

export function getIoas(tx: Tx, id: number): IoasObj | undefined {
  return tx.get(id, 'ioas');
}

export function putIopt(tx: Tx, ioasId: number, iopt: Iopt): void {
  const o = tx.get(ioasId, 'ioas')!;
  // Built field by field, not spread: this runs on every MAP/UNMAP and object
  // spread of these records showed up in profiles.
  tx.put({ type: 'ioas', id: o.id, users: o.users, iopt, hwpts: o.hwpts });
}

/** The same io_pagetable with other areas (hot path: no object spread). */
export function withAreas(t: Iopt, areas: Iopt['areas']): Iopt {
  return { areas, reserved: t.reserved, allowed: t.allowed, domains: t.domains, accesses: t.accesses, iovaAlignment: t.iovaAlignment, disableLargePages: t.disableLargePages };
}

/** One piece of a mapping: a slice of a pages object (iopt_pages_list). */
export interface PagesPiece {
  pages: number;
  startByte: bigint;
  length: bigint;
}

/**
 * iopt_map_pages: allocate/check the IOVA, insert one area per piece, fill
 * the domains (pin). Returns the IOVA used or an errno.
 */
export function mapPages(tx: Tx, ioasId: number, pieces: readonly PagesPiece[], length: bigint, iova: bigint, prot: number, allocate: boolean, hint: bigint): bigint | string {
  let iopt = getIoas(tx, ioasId)!.iopt;
  if (length & (iopt.iovaAlignment - 1n) || length === 0n) return 'EINVAL';
  if (allocate) {
    const r = allocIova(tx.kernel, iopt, hint, length);
    if (typeof r === 'string') return r;
    iova = r;
  } else {
    const e = checkIova(iopt, iova, length);
    if (e) return e;
  }
  // iopt_insert_area for each piece.
  let cur = iova;
  const inserted: [bigint, bigint, Area][] = [];
  for (const piece of pieces) {
    const pages = tx.pages(piece.pages);
    if (prot & IOMMU_WRITE && !pages.writable) return 'EPERM';
    const pageOffset = piece.startByte % PAGE_SIZE;
    if (pageOffset & (iopt.iovaAlignment - 1n)) return 'EINVAL';
    if (addOverflows(cur, piece.length - 1n)) return 'EOVERFLOW';
    const area: Area = { pages: piece.pages, startByte: piece.startByte, prot, numAccesses: 0 };
    iopt = withAreas(iopt, iopt.areas.insert(cur, cur + piece.length - 1n, area));
    inserted.push([cur, cur + piece.length - 1n, area]);
    tx.putPages(pagesWith(pages, pages.pinned, pages.npinned, pages.areaRefs + 1));
    cur += piece.length;
  }
  putIopt(tx, ioasId, iopt);
  if (iopt.domains.length) {
    // batch_to_domain maps each area's pinned pages in runs at its IOVAs, and iommu_map refuses a run
    // off a domain's page size: only IOAS_COPY brings such an area (pieces of a source without that
    // alignment), and it fails there, after pinning that area's pages. The IOAS's alignment is at
    // least every domain's page size, so only a piece off it needs the domains looked at (not a MAP).
    // The refusal comes after the area's pins (their faults first) and before their accounting
    // (pfn_reader_update_pinned charges once the domain is filled: seed 229, EINVAL where the
    // model had said the charge's ENOMEM).
    const mask = iopt.iovaAlignment - 1n;
    for (const [s, l, a] of inserted) {
      const [first, last] = areaIndexRange(s, l, a);
      const offPage = (): 'EINVAL' | 0 => {
        if (!((s | (l + 1n)) & mask)) return 0;
        const pg = iopt.domains.reduce((m, h) => maxB(m, tx.get(h, 'hwpt_paging')!.domain.pgsize), 1n);
        return s % pg || (l + 1n) % pg ? 'EINVAL' : 0;
      };
      const e = pagesAddRange(tx, a.pages, first, last, true, offPage);
      if (e) return e;
    }
    for (const [s, l] of inserted) domainsMapped(tx, ioasId, s, l);
  }
  return iova;
}

/** Hook called when an area becomes mapped in the IOAS's domains (iopte.ts records huge IOPTEs). */
let onAreaMapped: ((tx: Tx, ioasId: number, start: bigint, last: bigint) => void) | undefined;
let onAreaUnmapped: ((tx: Tx, ioasId: number, start: bigint, last: bigint) => void) | undefined;
export function setDomainHooks(mapped: typeof onAreaMapped, unmapped: typeof onAreaUnmapped): void {
  onAreaMapped = mapped;
  onAreaUnmapped = unmapped;
}
function domainsMapped(tx: Tx, ioasId: number, start: bigint, last: bigint): void {
  onAreaMapped?.(tx, ioasId, start, last);
}

/** Remove one whole area: unmap from domains, unpin, drop the pages reference. */
export function removeArea(tx: Tx, ioasId: number, start: bigint): void {
  const iopt = getIoas(tx, ioasId)!.iopt;
  const found = iopt.areas.find(start)!;
  const last = found.last;
  const a = found.value;
  const sole = tx.pages(a.pages).areaRefs === 1;
  if (iopt.domains.length) {
    onAreaUnmapped?.(tx, ioasId, start, last);
    const [first, lastIdx] = areaIndexRange(start, last, a);
    // The last area of a pages object holds every remaining pin (accesses let go before an
    // area is removed), so the object goes with all its pins at once.
    if (sole) dropAllPins(tx, a.pages);
    else pagesRemoveRange(tx, a.pages, first, lastIdx);
  }
  putIopt(tx, ioasId, withAreas(getIoas(tx, ioasId)!.iopt, iopt.areas.remove(start)));
  const p = tx.pages(a.pages);
  if (sole) {
    if (p.npinned !== 0) throw new Error(`model bug: pages ${p.id} freed with ${p.npinned} pins`);
    tx.dropPages(p.id);
  } else tx.putPages(pagesWith(p, p.pinned, p.npinned, p.areaRefs - 1));
}

/** The access hook: ask every access on the IOAS to drop pins over [iova, iova+length). */
let notifyUnmap: ((tx: Tx, ioasId: number, iova: bigint, length: bigint) => void) | undefined;
export function setAccessUnmapHook(fn: typeof notifyUnmap): void {
  notifyUnmap = fn;
}

/**
 * iopt_unmap_iova_range: remove whole areas inside [start, last] in
 * ascending order. The first area sticking out makes it stop with ENOENT,
 * keeping what was removed so far (the caller keeps that partial effect).
 */
export function unmapIovaRange(tx: Tx, ioasId: number, start: bigint, last: bigint): { errno: string | 0; unmapped: bigint } {
  let unmapped = 0n;
  let tries = 0;
  for (;;) {
    const iopt = getIoas(tx, ioasId)!.iopt;
    let hit: { start: bigint; last: bigint; value: Area } | undefined;
    iopt.areas.eachOverlapping(start, last, (s, l, v) => {
      hit = { start: s, last: l, value: v };
      return false;
    });
    if (!hit) break;
    const h = hit as { start: bigint; last: bigint; value: Area };
    if (h.start < start || h.last > last) return { errno: 'ENOENT', unmapped };
    if (h.start !== start) tries = 0;
    if (h.value.numAccesses) {
      start = h.start;
      notifyUnmap?.(tx, ioasId, h.start, h.last - h.start + 1n);
      tries++;
      if (tries > 100) return { errno: 'EDEADLOCK', unmapped };
      continue;
    }
    removeArea(tx, ioasId, h.start);
    unmapped += h.last - h.start + 1n;
    if (h.last >= last) break;
    start = h.last + 1n;
  }
  return { errno: 0, unmapped };
}

/**
 * iopt_area_split: split the area containing `iova` into [start, iova] and
 * [iova + 1, last], both slices of the same pages object. A cut at the
 * area's first or last byte is a no-op (the kernel checks `iova == start`
 * too, so a cut one byte into an area does nothing). Refusals, in the
 * kernel's order: the new start or its byte offset in the pages not aligned
 * to the IOAS alignment -> EINVAL; an in-kernel access pin on the area ->
 * EINVAL; the area is in a domain that may hold large IOPTEs (large pages not
 * disabled) -> EINVAL. (EBUSY for an area being unmapped or with
 * prevent_access set cannot arise between ioctls in the model.)
 *
 * Pins stay exact: an area in an IOAS with domains holds one count over its
 * page-index range, so a cut inside a page leaves both halves holding that
 * page and it gets one more holder; a cut on a page boundary changes
 * nothing. (Through the kernel's ioctls every cut of an area in a domain is
 * on a page boundary: it needs large pages disabled, and then the IOVA
 * alignment is at least PAGE_SIZE, iopt_calculate_iova_alignment's floor;
 * VFIO type1 holes with their pins are kernel-checked in
 * test/unit/model/traces/vfio_compat.) Nothing is (un)pinned or (un)charged,
 * no domain is touched.
 * O(log n): one lookup, one removal, two insertions.
 */
export function splitArea(tx: Tx, ioasId: number, iova: bigint): string | 0 {
  const iopt = getIoas(tx, ioasId)!.iopt;
  const found = iopt.areas.find(iova);
  if (!found) return 0;
  const { start, last, value: a } = found;
  if (iova === start || iova === last) return 0;
  const newStart = iova + 1n;
  const rhsByte = a.startByte + (newStart - start);
  const mask = iopt.iovaAlignment - 1n;
  if (newStart & mask || rhsByte & mask) return 'EINVAL';
  if (a.numAccesses) return 'EINVAL';
  const inDomain = iopt.domains.length > 0;
  if (inDomain && !iopt.disableLargePages) return 'EINVAL';
  const rhs: Area = { ...a, startByte: rhsByte };
  const areas = iopt.areas.remove(start).insert(start, iova, a).insert(newStart, last, rhs);
  putIopt(tx, ioasId, { ...iopt, areas });
  const p = tx.pages(a.pages);
  tx.putPages(pagesWith(p, p.pinned, p.npinned, p.areaRefs + 1));
  if (inDomain && rhsByte % PAGE_SIZE !== 0n) {
    const shared = Number(rhsByte / PAGE_SIZE);
    const e = pagesAddRange(tx, a.pages, shared, shared, false);
    if (e) throw new Error(`model bug: extra holder on pinned page ${shared} of pages ${a.pages} failed (${e})`);
  }
  return 0;
}

/** iopt_cut_iova: split at each IOVA in turn; the first refusal stops (earlier splits stay). */
export function cutIova(tx: Tx, ioasId: number, iovas: readonly bigint[]): string | 0 {
  for (const iova of iovas) {
    const e = splitArea(tx, ioasId, iova);
    if (e) return e;
  }
  return 0;
}

/** iopt_reserve_iova */
export function reserveIova(tx: Tx, ioasId: number, start: bigint, last: bigint, owner: string): string | 0 {
  const iopt = getIoas(tx, ioasId)!.iopt;
  if (areasIntersect(iopt, start, last) || allowedIntersects(iopt, start, last)) return 'EADDRINUSE';
  const r: Reserved = { start, last, owner };
  putIopt(tx, ioasId, { ...iopt, reserved: [...iopt.reserved, r] });
  return 0;
}

export function removeReserved(tx: Tx, ioasId: number, owner: string): void {
  const iopt = getIoas(tx, ioasId)!.iopt;
  const reserved = iopt.reserved.filter((r) => r.owner !== owner);
  if (reserved.length !== iopt.reserved.length) putIopt(tx, ioasId, { ...iopt, reserved });
}

/** iopt_check_iova_alignment */
function checkAlignment(iopt: Iopt, align: bigint): string | 0 {
  const mask = align - 1n;
  let bad = false;
  iopt.areas.eachOverlapping(0n, U64_MAX, (s, l, a) => {
    if (s & mask || (l - s + 1n) & mask || a.startByte % PAGE_SIZE & mask) {
      bad = true;
      return false;
    }
    return true;
  });
  return bad ? 'EADDRINUSE' : 0;
}

/** Domain page-size minimum and access alignments feed iopt_calculate_iova_alignment. */
export type AlignmentSources = { domainPgsizes: bigint[]; accessAligns: bigint[] };

export function calculateIovaAlignment(iopt: Iopt, src: AlignmentSources): bigint | string {
  let a = iopt.disableLargePages ? PAGE_SIZE : 1n;
  for (const p of src.domainPgsizes) a = maxB(a, p);
  for (const p of src.accessAligns) a = maxB(a, p);
  if (a > iopt.iovaAlignment) {
    const e = checkAlignment(iopt, a);
    if (e) return e;
  }
  return a;
}

export function alignmentSources(tx: Tx, iopt: Iopt): AlignmentSources {
  return {
    domainPgsizes: iopt.domains.map((h) => tx.get(h, 'hwpt_paging')!.domain.pgsize),
    accessAligns: iopt.accesses.map((id) => (tx.get(id, 'access')!.needsPin ? PAGE_SIZE : 1n)),
  };
}

/** Recompute and store the alignment (after a domain/access left, or HUGE_PAGES changed). */
export function recalcAlignment(tx: Tx, ioasId: number): string | 0 {
  const iopt = getIoas(tx, ioasId)!.iopt;
  const a = calculateIovaAlignment(iopt, alignmentSources(tx, iopt));
  if (typeof a === 'string') return a;
  if (a !== iopt.iovaAlignment) putIopt(tx, ioasId, { ...iopt, iovaAlignment: a });
  return 0;
}

/** iopt_table_add_domain: alignment, aperture reservations, first-domain fill (pins). */
export function addDomain(tx: Tx, ioasId: number, hwptId: number, pgsize: bigint, apStart: bigint, apLast: bigint): string | 0 {
  let iopt = getIoas(tx, ioasId)!.iopt;
  const align = maxB(pgsize, iopt.iovaAlignment);
  if (align > PAGE_SIZE) return 'EINVAL';
  if (align !== iopt.iovaAlignment) {
    const e = checkAlignment(iopt, align);
    if (e) return e;
  }
  const owner = `hwpt:${hwptId}`;
  if (apStart !== 0n) {
    const e = reserveIova(tx, ioasId, 0n, apStart - 1n, owner);
    if (e) return e;
  }
  if (apLast !== U64_MAX) {
    const e = reserveIova(tx, ioasId, apLast + 1n, U64_MAX, owner);
    if (e) return e;
  }
  iopt = getIoas(tx, ioasId)!.iopt;
  if (iopt.domains.length === 0) {
    // iopt_fill_domain on the first domain pins every area.
    let err: string | 0 = 0;
    iopt.areas.eachOverlapping(0n, U64_MAX, (s, l, a) => {
      const [first, last] = areaIndexRange(s, l, a);
      err = pagesAddRange(tx, a.pages, first, last);
      return err === 0;
    });
    if (err) return err;
  } else {
    // iopt_fill_domain fills the new domain from the pinned pages: nothing is pinned, but each fill
    // settles its pages object's accounting (only one CHANGE_PROCESS left behind has anything to settle)
    let err: string | 0 = 0;
    iopt.areas.eachOverlapping(0n, U64_MAX, (_s, _l, a) => {
      err = pagesRefill(tx, a.pages);
      return err === 0;
    });
    if (err) return err;
  }
  putIopt(tx, ioasId, { ...getIoas(tx, ioasId)!.iopt, iovaAlignment: align, domains: [...iopt.domains, hwptId] });
  iopt.areas.eachOverlapping(0n, U64_MAX, (s, l) => {
    domainsMapped(tx, ioasId, s, l);
    return true;
  });
  return 0;
}

/** iopt_table_remove_domain: the last domain unpins every area. */
export function removeDomain(tx: Tx, ioasId: number, hwptId: number): void {
  const iopt = getIoas(tx, ioasId)!.iopt;
  const idx = iopt.domains.indexOf(hwptId);
  if (idx < 0) throw new Error(`model bug: domain ${hwptId} not on IOAS ${ioasId}`);
  // Compress like the kernel: the tail entry takes the removed slot.
  const domains = iopt.domains.slice();
  const tail = domains.pop()!;
  if (idx < domains.length) domains[idx] = tail;
  if (domains.length === 0) {
    iopt.areas.eachOverlapping(0n, U64_MAX, (s, l, a) => {
      const [first, last] = areaIndexRange(s, l, a);
      pagesRemoveRange(tx, a.pages, first, last);
      return true;
    });
    // Pages objects with no areas left cannot exist; nothing else to free.
  }
  putIopt(tx, ioasId, { ...getIoas(tx, ioasId)!.iopt, domains });
  removeReserved(tx, ioasId, `hwpt:${hwptId}`);
  const e = recalcAlignment(tx, ioasId);
  if (e) throw new Error(`model bug: alignment recalculation failed after domain removal: ${e}`);
}
