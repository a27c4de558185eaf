/**
 * How many huge pages of one size the kernel could need for a World: an
 * upper bound on its hugetlb pool's pages in use plus reserved. The model
 * takes every pool to be large enough; the oracle's guest has three 1 GiB
 * pages (`--gigantic 3`), and a sequence that needs a fourth meets the
 * kernel's ENOMEM (a `fork` copying a pinned private page for its child, a
 * shared `mmap` reserving pages) where the model answers 0: gigantic seeds
 * 304-310 found nothing else. So the campaign's generator keeps its
 * sequences inside the pool (fuzz.ts realize): an event that would raise
 * this bound, or its peak during the event, past the pool is left out, as
 * a note. And `iorewind oracle` says of a divergence that comes after the
 * bound passed the guest's pool that it may be the pool running out
 * (check.ts judge, `poolOverrun`).
 *
 * The bound counts, per huge page size (hugetlb's pages and reservations,
 * mm/hugetlb.c):
 *  - every huge page slot of every private hugetlb VMA of a live process:
 *    a slot holds its reservation (hugetlb_reserve_pages at mmap, per VMA),
 *    or its own page once faulted (consuming it), or a copy fork made of a
 *    pinned page (copy_hugetlb_page_range: no reservation), or a page it
 *    still shares copy-on-write with a parent or child (counted in each: an
 *    overcount, which only costs a few sequences);
 *  - every huge page of every live hugetlbfs file (a memfd, a shared
 *    anonymous mapping's inode) up to the furthest its page cache and its
 *    reservations can reach: its shared mappings' ends, what shared mappings
 *    reserved before (the inode's reservation map keeps that after munmap,
 *    until a truncation gives it back), what fallocate allocated (the
 *    carried `FileReach`), and its whole size for a file on the hugetlbfs
 *    mount (it may have had pages before the trace). A memfd's size alone
 *    holds nothing: ftruncate allocates and reserves no page, and a private
 *    mapping's faults take pages of its own (hugetlb_no_page adds a page to
 *    the cache only for a shared mapping).
 *    A file is live while a descriptor or a VMA holds it (one on the
 *    hugetlbfs mount, always);
 *  - every pinned huge page neither of those covers: pages a pin keeps after
 *    their mapping or their file went.
 * Nothing else holds a huge page: overcommit (nr_overcommit_hugepages) is 0,
 * so no surplus page is ever made.
 */
import type { Event, Result } from '../events/event.js';
import { apply } from '../engine/apply.js';
import { FALLOC_FL_PUNCH_HOLE } from '../model/fallocate.js';
import { fileAt } from '../model/files.js';
import { hugeSize, type Mobj, type Vma } from '../model/mm.js';
import { emptyWorld, type World } from '../model/state.js';
import { DEFAULT_HUGEPAGES } from './boot.js';

/**
 * How far each hugetlbfs file's pages and reservations have reached, by
 * memory object: the furthest end offset, and the file's size when last
 * seen (a truncation below it frees pages and reservations past the new
 * size: hugetlb_vmtruncate). Carried by the caller from one event of a
 * sequence to the next.
 */
export type FileReach = ReadonlyMap<number, { readonly end: bigint; readonly size: bigint }>;

export interface PoolBound {
  /** Huge pages the kernel could have in use or reserved. */
  pages: number;
  /**
   * The most it could need during the event: `pages`, or, for an `mmap` of
   * hugetlb memory over a mapping it replaces, the pages before it plus the
   * new mapping's. The new mapping reserves while the old one still holds
   * its pages and reservations: an anonymous one at hugetlb_file_setup,
   * before do_mmap; a file's in its f_op->mmap, and 6.12's mmap_region
   * closes the VMAs it replaces only after that, to restore them should
   * it fail (gigantic seed 313: a shared 1 GiB mmap over the one the
   * parent had, with the children holding the other two pages: ENOMEM).
   */
  peak: number;
  /** The reach to carry to the next event. */
  reach: FileReach;
}

/** The bound before a sequence's first event: no huge page, nothing reached. */
export const NO_HUGE_PAGES: PoolBound = { pages: 0, peak: 0, reach: new Map() };

/**
 * The bound for huge pages of 2^`shift` bytes in `w`, the state after
 * event `ev` (answered `res`); `before` is the bound after the events
 * before it (its pages and the reach it carries).
 */
export function hugePagesBound(w: World, shift: number, before: PoolBound, ev?: Event, res?: Result): PoolBound {
  const prev = before.pages;
  const reach = new Map(before.reach);
  const size = 1n << BigInt(shift);
  const huge = (id: number | undefined): Mobj | undefined => {
    const m = id === undefined ? undefined : w.mem.mobjs.get(id);
    return m !== undefined && m.kind === 'hugetlb' && hugeSize(m) === size ? m : undefined;
  };
  const extend = (m: Mobj, end: bigint) => {
    const r = reach.get(m.id);
    if (!r || r.end < end) reach.set(m.id, { end, size: r?.size ?? m.size });
  };
  // What a successful fallocate allocated (page cache pages, inside the size or past it).
  if (ev?.op === 'fallocate' && res?.errno === 0 && ev.args) {
    const { fd, mode, offset, length } = ev.args;
    const m = huge(typeof fd === 'number' ? fileAt(w, ev.pid ?? 1, fd)?.mobj : undefined);
    if (m && typeof offset === 'bigint' && typeof length === 'bigint' && !(Number(mode ?? 0) & FALLOC_FL_PUNCH_HOLE)) extend(m, offset + length);
  }
  // Live files, by memory object.
  const files = new Set<number>();
  w.files.each((_, f) => {
    if ((f.kind === 'memfd' || f.kind === 'file') && huge(f.mobj)) files.add(f.mobj!);
  });
  // A file on the hugetlbfs mount outlives its descriptors (it is there until unlinked, which no
  // trace does), and may have had pages before the trace: all its size counts (a size the trace never
  // set is UNKNOWN_FILE_SIZE, past any pool). A memfd starts empty, whatever its contents' knowledge.
  const onMount = new Set<number>();
  w.mem.paths?.each((_, id) => {
    if (!huge(id)) return;
    files.add(id);
    onMount.add(id);
  });
  let slots = 0n;
  // Private VMAs' objects and the huge page indices they cover: [mobj, first, end) each.
  const privateRanges: [number, bigint, bigint][] = [];
  w.procs.each((_, p) => {
    if (!p.alive) return;
    p.mm.vmas.each((_, v: Vma) => {
      const m = huge(v.mobj);
      if (!m) return;
      const len = v.end - v.start;
      if (v.shared) {
        files.add(m.id);
        extend(m, v.offset + len);
        return;
      }
      const first = v.offset / size;
      const end = (v.offset + len + size - 1n) / size;
      slots += end - first;
      privateRanges.push([m.id, first, end]);
      // A private mapping of a hugetlbfs file has a copy object; the file stays live while mapped.
      if (v.cow !== undefined) {
        files.add(m.id);
        privateRanges.push([v.cow, first, end]);
      }
    });
  });
  const extent = new Map<number, bigint>();
  for (const id of files) {
    const m = w.mem.mobjs.get(id)!;
    let e = onMount.has(id) ? m.size : 0n;
    const r = reach.get(id);
    if (r) {
      const kept = m.size < r.size && m.size < r.end ? m.size : r.end;
      reach.set(id, { end: kept, size: m.size });
      if (kept > e) e = kept;
    }
    const cached = m.hugeCached?.max()?.[0];
    if (cached !== undefined && BigInt(cached + 1) * size > e) e = BigInt(cached + 1) * size;
    extent.set(id, e);
    slots += (e + size - 1n) / size;
  }
  // Pinned huge pages nothing above counted.
  const nr = Number(size >> 12n);
  const loose = new Set<string>();
  const covered = (mobj: number, h: bigint): boolean => {
    const e = extent.get(mobj);
    if (e !== undefined && h * size < e) return true;
    return privateRanges.some(([id, a, z]) => id === mobj && a <= h && h < z);
  };
  w.ctxs.each((_, ctx) =>
    ctx.pages.each((_, pg) =>
      pg.pinned.each((first, run) => {
        if (!huge(run.mobj)) return;
        const a = Math.floor(run.mobjIndex / nr);
        const z = Math.floor((run.mobjIndex + run.last - first) / nr);
        for (let h = a; h <= z; h++) if (!covered(run.mobj, BigInt(h))) loose.add(`${run.mobj}:${h}`);
      }),
    ),
  );
  const pages = Number(slots) + loose.size;
  let peak = pages;
  if (ev?.op === 'mmap' && res?.errno === 0 && ev.args && typeof ev.args['va'] === 'bigint') {
    const v = w.procs.get(ev.pid ?? 1)?.mm.vmas.get(ev.args['va']);
    if (v && huge(v.mobj)) {
      // (the new VMA's whole length: its pieces past it, if the model keeps several, count no more)
      const len = typeof ev.args['length'] === 'bigint' ? ev.args['length'] : v.end - v.start;
      const fresh = Number((len + size - 1n) / size);
      if (prev + fresh > peak) peak = prev + fresh;
    }
  }
  return { pages, peak, reach };
}

/** A guest's hugetlb pool: pages of 2^shift bytes. */
export interface GuestPool {
  shift: number;
  pages: number;
}

/** The pools of an oracle boot: its 2 MiB pages (the kit's `--hugepages`), and its 1 GiB ones with `--gigantic N`. */
export function guestPools(env: { hugepages?: number; gigantic?: number }): GuestPool[] {
  return [{ shift: 21, pages: env.hugepages ?? DEFAULT_HUGEPAGES }, ...(env.gigantic ? [{ shift: 30, pages: env.gigantic }] : [])];
}

/**
 * The first of `events` (up to `until`) after which the bound passes one
 * of `pools`: from there the kernel may run out of huge pages where the
 * model, taking every pool to be large enough, does not. The bound is
 * asked once the trace has hugetlb memory: a long trace without any that
 * diverges costs a replay, no more.
 */
export function poolOverrun(events: readonly Event[], pools: readonly GuestPool[], kernel: World['kernel'], until = events.length - 1): { index: number; pool: GuestPool; pages: number } | null {
  let w = emptyWorld({ kernel });
  const carried = pools.map(() => NO_HUGE_PAGES);
  let seen = w.mem.nextMobj;
  let huge = false;
  for (let i = 0; i <= until && i < events.length; i++) {
    const ev = events[i]!;
    const r = apply(w, ev);
    w = r.state;
    if (!huge) {
      for (; seen < w.mem.nextMobj; seen++) if (w.mem.mobjs.get(seen)?.kind === 'hugetlb') huge = true;
      if (!huge) continue;
    }
    for (const [k, pool] of pools.entries()) {
      const b = hugePagesBound(w, pool.shift, carried[k]!, ev, r.result);
      carried[k] = b;
      if (b.peak > pool.pages) return { index: i, pool, pages: b.peak };
    }
  }
  return null;
}
