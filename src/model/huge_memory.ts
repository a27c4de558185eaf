/**
 * Transparent huge pages of private anonymous memory (mm/huge_memory.c,
 * mm/memory.c), as far as iommufd can see them: which physical pages a pin
 * gets, and so whether they are contiguous. A MOCK_FLAGS_DEVICE_HUGE_IOVA
 * domain (and a real IOMMU) maps a contiguous, aligned run with large IOPTEs,
 * and dirty tracking then reports whole large IOPTEs: a VMM's guest RAM,
 * which QEMU marks MADV_HUGEPAGE, is tracked at that granularity.
 *
 * THP is in `madvise` mode (the oracle kernel's setting, and the common
 * distribution default): only a VMA with VM_HUGEPAGE (and not
 * VM_NOHUGEPAGE) gets huge pages. A fault there (do_huge_pmd_anonymous_page)
 * takes a 2 MiB page when the aligned 2 MiB around the address lies inside
 * the VMA and its PMD entry is still empty (pmd_none). So the model keeps,
 * per address space, which PMD entries of private anonymous memory are not
 * empty (Mm.pmds):
 *
 *  - TABLE: a page table of 4 KiB entries (a 4 KiB fault came first, or a
 *    huge mapping was split); no huge page comes here any more;
 *  - HUGE: a transparent huge page, mapped whole;
 *  - ZERO: the huge zero page, which a read fault maps. A write, or a
 *    long-term pin (GUP must unshare it: it is not an anonymous page), splits
 *    it into 4 KiB pages.
 *
 * A write fault (CPU store, copy_to_user, a writable pin) in an empty entry
 * gets a huge page; a read fault the huge zero page; a read-only pin 4 KiB
 * pages (the unshare fault after the zero page); anything else a page table.
 *
 * The entries change with the address space: munmap frees the page tables no
 * VMA overlaps any more (free_pgtables), MADV_DONTNEED empties a huge entry
 * it covers whole (zap_huge_pmd) and splits one it cuts, a VMA boundary inside
 * a huge entry splits it (vma_adjust_trans_huge), fork copies the entries, and
 * mremap moves them. A huge page keeps its physical pages when it is split
 * (the folio stays), so its pages stay contiguous.
 *
 * Not modelled: khugepaged, which collapses 4 KiB pages into huge pages in
 * the background at a time the trace does not show; memory whose contents
 * the trace does not describe (a capture's: the program's own loads and
 * stores, not recorded, may have faulted it in any way), which gets 4 KiB
 * pages; a 2 MiB range across pieces the model keeps as separate VMAs
 * (mremap growth, DONTNEED), which gets 4 KiB pages.
 */
import { PMap } from '../ds/pmap.js';
import type { World } from './state.js';
import { HPAGE_NR, HPAGE_SIZE, PAGE_SHIFT, VM_DONTCOPY, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_WIPEONFORK, findVma, vmasIn, type Memory, type Mm, type Vma } from './mm.js';

export const PMD_TABLE = 1;
export const PMD_HUGE = 2;
export const PMD_ZERO = 3;

const HMASK = HPAGE_SIZE - 1n;
const down = (a: bigint): bigint => a & ~HMASK;

/** Kinds of fault: a CPU load, a CPU store (or copy_to_user, or a writable pin), a read-only long-term pin. */
export type FaultKind = 'read' | 'write' | 'pin-read';

/** Private anonymous memory the trace fully describes: where faults are tracked. */
function tracked(mem: Memory, v: Vma): boolean {
  if (v.shared || v.cow !== undefined) return false;
  const m = mem.mobjs.get(v.mobj);
  return m !== undefined && m.kind === 'anon' && !m.unknown && !(m.name?.startsWith('/') ?? false);
}

/** thp_vma_allowable_order + thp_vma_suitable_order for the 2 MiB at `h`. */
function hugeAllowed(v: Vma, h: bigint): boolean {
  const f = v.flags ?? 0;
  return (f & VM_HUGEPAGE) !== 0 && (f & VM_NOHUGEPAGE) === 0 && h >= v.start && h + HPAGE_SIZE <= v.end;
}

/** The PMD entries as they are, empty or not. */
const pmdsOf = (mm: Mm): PMap<bigint, number> => mm.pmds ?? PMap.emptyBigint<number>();
const withPmds = (mm: Mm, pmds: PMap<bigint, number>): Mm => (pmds === mm.pmds ? mm : { vmas: mm.vmas, pmds });

/**
 * Faults over `[start, end)` (clipped to the VMAs there, stopping at a hole):
 * the PMD entries they fill, and the huge pages they allocate.
 */
export function fault(mm: Mm, mem: Memory, start: bigint, end: bigint, kind: FaultKind): [Mm, Memory] {
  if (start >= end) return [mm, mem];
  let pmds = pmdsOf(mm);
  let pos = start;
  for (const v of vmasIn(mm, start, end)) {
    // (the access stops at a hole, or at a VMA that refuses it)
    if (v.start > pos || (kind === 'write' ? !v.write : !v.read)) break;
    pos = v.end;
    if (!tracked(mem, v)) continue;
    const s = v.start > start ? v.start : start;
    const e = v.end < end ? v.end : end;
    for (let h = down(s); h < e; h += HPAGE_SIZE) {
      const cur = pmds.get(h);
      if (cur === PMD_HUGE || cur === PMD_TABLE) continue;
      if (cur === PMD_ZERO) {
        if (kind !== 'read') pmds = pmds.set(h, PMD_TABLE); // split, then a 4 KiB copy
        continue;
      }
      if (!hugeAllowed(v, h) || kind === 'pin-read') {
        pmds = pmds.set(h, PMD_TABLE);
        continue;
      }
      if (kind === 'read') {
        pmds = pmds.set(h, PMD_ZERO);
        continue;
      }
      const grown = newFolio(mem, v, h);
      if (grown) {
        mem = grown;
        pmds = pmds.set(h, PMD_HUGE);
      } else pmds = pmds.set(h, PMD_TABLE);
    }
  }
  return [withPmds(mm, pmds), mem];
}

/** A huge page for the 2 MiB at `h` of VMA `v`: its 512 pages of the VMA's object become contiguous. */
function newFolio(mem: Memory, v: Vma, h: bigint): Memory | undefined {
  const m = mem.mobjs.get(v.mobj)!;
  const first = Number((v.offset + (h - v.start)) >> PAGE_SHIFT);
  const thp = m.thp ?? PMap.emptyNumber<bigint>();
  // (an empty entry has no pages behind it; a folio already there would mean the model lost track)
  const below = thp.floor(first + HPAGE_NR - 1);
  if (below && below[0] + HPAGE_NR > first) return undefined;
  const phys = mem.nextPhys;
  return { ...mem, mobjs: mem.mobjs.set(m.id, { ...m, thp: thp.set(first, phys) }), nextPhys: phys + 2n * HPAGE_SIZE };
}

/**
 * The 2 MiB entries `[start, end)` meets, after the VMAs there changed:
 * freed where no VMA overlaps them any more (free_pgtables), split where a
 * huge one is no longer inside one VMA.
 */
export function settle(mm: Mm, start: bigint, end: bigint): Mm {
  if (mm.pmds === undefined || start >= end) return mm;
  let pmds = mm.pmds;
  pmds.each((h, st) => {
    if (h >= end) return false;
    const hit = vmasIn(mm, h, h + HPAGE_SIZE);
    if (hit.length === 0) pmds = pmds.delete(h);
    else if (st !== PMD_TABLE && !oneVma(hit, h)) pmds = pmds.set(h, PMD_TABLE);
    return true;
  }, down(start));
  return withPmds(mm, pmds);
}

/** Whether the VMAs met cover the 2 MiB at `h` as one kernel VMA (pieces the model keeps apart share a `link`). */
function oneVma(hit: readonly Vma[], h: bigint): boolean {
  const a = hit[0]!;
  const z = hit[hit.length - 1]!;
  if (a.start > h || z.end < h + HPAGE_SIZE) return false;
  for (let i = 1; i < hit.length; i++) if (hit[i]!.link === undefined || hit[i]!.link !== a.link || hit[i]!.start !== hit[i - 1]!.end) return false;
  return true;
}

/** MADV_DONTNEED over `[start, end)`: a huge entry covered whole is emptied, one cut is split; page tables stay. */
export function zap(mm: Mm, start: bigint, end: bigint): Mm {
  if (mm.pmds === undefined || start >= end) return mm;
  let pmds = mm.pmds;
  pmds.each((h, st) => {
    if (h >= end) return false;
    if (st === PMD_TABLE) return true;
    pmds = h >= start && h + HPAGE_SIZE <= end ? pmds.delete(h) : pmds.set(h, PMD_TABLE);
    return true;
  }, down(start));
  return withPmds(mm, pmds);
}

/**
 * mremap moved `[from, from + len)` to `to`: the entries go along
 * (move_page_tables). A huge one moves whole only between equally aligned
 * addresses and when all of it moves (move_huge_pmd); otherwise it is split
 * and its page table goes. `keepSource`: MREMAP_DONTUNMAP, whose old range
 * keeps its (now empty) page tables.
 */
export function move(mm: Mm, from: bigint, len: bigint, to: bigint, keepSource: boolean): Mm {
  const old = mm.pmds;
  if (old === undefined || len === 0n) return mm;
  let pmds = old;
  const whole = ((from ^ to) & HMASK) === 0n;
  old.each((h, st) => {
    if (h >= from + len) return false;
    const s = h > from ? h : from;
    const e = h + HPAGE_SIZE < from + len ? h + HPAGE_SIZE : from + len;
    const moved = whole && st === PMD_HUGE && s === h && e === h + HPAGE_SIZE;
    if (moved) {
      pmds = pmds.delete(h).set(to + (h - from), PMD_HUGE);
      return true;
    }
    for (let d = down(to + (s - from)); d < to + (e - from); d += HPAGE_SIZE) pmds = pmds.set(d, PMD_TABLE);
    if (st !== PMD_TABLE) pmds = pmds.set(h, PMD_TABLE);
    return true;
  }, down(from));
  return withPmds(mm, pmds);
}

/**
 * fork: the child's entries are the parent's over what it copies. A huge
 * page with a pinned page is copied to the child page by page and the
 * parent's entry split (copy_huge_pmd: the folio may be DMA-pinned); an
 * unpinned one is shared copy-on-write, so the next write or pin in the
 * parent copies the page it touches: 4 KiB pages again (as long as the child
 * has it; the model does not follow the child's exit there).
 * `pinned(mobj, first)`: whether a page of that folio is pinned.
 */
export function forkPmds(parent: Mm, child: Mm, mem: Memory, pinned: (mobj: number, first: number) => boolean): { parent: Mm; child: Mm; mem: Memory } {
  const pp = parent.pmds;
  if (pp === undefined) return { parent, child, mem };
  let mine = pp;
  let theirs = PMap.emptyBigint<number>();
  pp.each((h, st) => {
    if (!copied(parent, h)) return true;
    if (st !== PMD_HUGE) {
      theirs = theirs.set(h, st);
      return true;
    }
    const v = findVma(parent, h)!;
    const m = mem.mobjs.get(v.mobj)!;
    const first = Number((v.offset + (h - v.start)) >> PAGE_SHIFT);
    const f = m.thp?.floor(first);
    if (f === undefined || f[0] !== first) {
      theirs = theirs.set(h, PMD_TABLE);
      return true;
    }
    if (pinned(m.id, first)) {
      mine = mine.set(h, PMD_TABLE);
      theirs = theirs.set(h, PMD_TABLE);
    } else {
      theirs = theirs.set(h, PMD_HUGE);
      mem = { ...mem, mobjs: mem.mobjs.set(m.id, { ...m, thp: m.thp!.delete(first) }) };
    }
    return true;
  });
  return { parent: withPmds(parent, mine), child: withPmds(child, theirs), mem };
}

/** Whether fork copies page tables over the 2 MiB at `h`: a VMA there that is copied and not wiped (dup_mmap, copy_page_range). */
const copied = (mm: Mm, h: bigint): boolean => vmasIn(mm, h, h + HPAGE_SIZE).some((v) => ((v.flags ?? 0) & (VM_DONTCOPY | VM_WIPEONFORK)) === 0);

/** `fault` in process `pid`'s address space, the World around it. */
export function faultIn(w: World, pid: number, start: bigint, end: bigint, kind: FaultKind): World {
  const p = w.procs.get(pid);
  if (!p || !p.alive) return w;
  const [mm, mem] = fault(p.mm, w.mem, start, end, kind);
  return mm === p.mm && mem === w.mem ? w : { ...w, mem, procs: w.procs.set(pid, { ...p, mm }) };
}
