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
 * a huge entry splits it (vma_adjust_trans_huge), fork copies the entries
 * (and shares huge pages copy-on-write: forkPmds), and mremap moves them. A
 * huge page keeps its physical pages when its entry is split (the folio
 * stays), so its pages stay contiguous. MADV_COLD / PAGEOUT split the folio
 * itself (coldSplit): its pages are no longer one compound page, and 6.12's
 * split gives each all-zero page back for the shared zero page.
 *
 * Where the model keeps one kernel VMA as pieces, each with its own memory
 * object (the new pages of a DONTNEED, a private mapping's growth, mappings
 * the kernel merged: mm.ts `link`), 2 MiB across them is one VMA's all the
 * same: a read fault maps the huge zero page, a write fault a huge page
 * registered in each piece's object (newFolioAcross; #41, #42, #45 in
 * docs/oracle.md).
 *
 * Not modelled, each answered with 4 KiB pages: khugepaged, which collapses
 * 4 KiB pages into huge pages in the background at a time the trace does not
 * show (and the deferred split of a partly unmapped huge page, which happens
 * under memory pressure: the model keeps it whole); memory whose contents
 * the trace does not describe (a capture's: the program's own loads and
 * stores, not recorded, may have faulted it in any way).
 *
 * An ioctl that fails drops its pins, but not what their faults filled in:
 * the kernel keeps those entries (and what a later pin there gets depends on
 * them), and so does the model (object.ts Tx.failed).
 */
import { PMap } from '../ds/pmap.js';
import { sameKernelVma, splitKernelVma, withAnonVma } from './vma_merge.js';
import type { World } from './state.js';
import { HPAGE_NR, HPAGE_SIZE, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, VM_DONTCOPY, VM_EXEC, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_HUGETLB, VM_WIPEONFORK, cutsHugetlb, hugetlbfsFault, findVma, newMobj, pageAlign, unmapRange, vmasIn, withVmas, folioPieces, withPageSet, type Memory, type Mm, type Mobj, type Vma } from './mm.js';

export const PMD_TABLE = 1;
export const PMD_HUGE = 2;
export const PMD_ZERO = 3;

const HMASK = HPAGE_SIZE - 1n;
const down = (a: bigint): bigint => a & ~HMASK;

/**
 * Kinds of fault: a CPU load, a CPU store (or copy_to_user, or a writable pin), a read-only
 * long-term pin, and a read through GUP with FOLL_PIN that is not long-term (process_vm_readv,
 * how the recorder and the oracle's executor read user memory; pin_user_pages_remote of one page
 * by ACCESS_RW): a load that also unshares the copy-on-write pages fork left (gup_must_unshare:
 * a pinned anonymous page must be exclusive), which splits a huge page fork shared (oracle fuzz
 * seed 141).
 */
export type FaultKind = 'read' | 'write' | 'pin-read' | 'gup-read';

/** Private anonymous memory the trace fully describes: where faults are tracked. */
function tracked(mem: Memory, v: Vma): boolean {
  if (v.shared || v.cow !== undefined) return false;
  const m = mem.mobjs.get(v.mobj);
  return m !== undefined && m.kind === 'anon' && !m.unknown && !(m.name?.startsWith('/') ?? false);
}

/** thp_vma_allowable_order: MADV_HUGEPAGE and not MADV_NOHUGEPAGE (THP in `madvise` mode). */
function hugeFlags(v: Vma): boolean {
  const f = v.flags ?? 0;
  return (f & VM_HUGEPAGE) !== 0 && (f & VM_NOHUGEPAGE) === 0;
}

/** thp_vma_allowable_order + thp_vma_suitable_order for the 2 MiB at `h`. */
function hugeAllowed(v: Vma, h: bigint): boolean {
  return hugeFlags(v) && h >= v.start && h + HPAGE_SIZE <= v.end;
}

/** The PMD entries as they are, empty or not. */
const pmdsOf = (mm: Mm): PMap<bigint, number> => mm.pmds ?? PMap.emptyBigint<number>();
const withPmds = (mm: Mm, pmds: PMap<bigint, number>): Mm => (pmds === mm.pmds ? mm : { vmas: mm.vmas, pmds });

/**
 * Faults over `[start, end)` (clipped to the VMAs there, stopping at a hole):
 * the PMD entries they fill, and the huge pages they allocate. A huge page
 * across pieces may move an empty piece onto an object of its own
 * (newFolioAcross); one in `[start, end)` only with `rehomeFaulted`, for a
 * caller that looks its pages up after the fault, not before. `force`: a read
 * with FOLL_FORCE (populating), which a VMA without VM_READ takes too.
 */
export function fault(mm: Mm, mem: Memory, start: bigint, end: bigint, how: FaultKind, elsewhere?: (phys: bigint) => boolean, rehomeFaulted = false, force = false): [Mm, Memory] {
  if (start >= end) return [mm, mem];
  // (a GUP read is a load, but for the copy-on-write pages fork left, which it unshares)
  const kind = how === 'gup-read' ? 'read' : how;
  const unshares = kind !== 'read' || how === 'gup-read';
  let pmds = pmdsOf(mm);
  let pos = start;
  // the VMAs whose fault gets them an anon_vma (vma_merge.ts): a write, a long-term pin's unshare,
  // a fault that may take a huge page (do_huge_pmd_anonymous_page prepares one before it maps the zero page)
  const anon: Vma[] = [];
  for (const v of vmasIn(mm, start, end)) {
    // (the access stops at a hole, or at a VMA that refuses it)
    // (FOLL_FORCE, as populating does: a read of any VMA that is accessible at all; mlock.ts populate
    // leaves exec-only memory alone, whose reads hang on the CPU)
    if (v.start > pos || (kind === 'write' ? !v.write : !v.read && !(force && (v.write || (v.flags ?? 0) & VM_EXEC)))) break;
    pos = v.end;
    if (kind !== 'read') anon.push(v);
    // (a mapping of a hugetlbfs file: the file's page cache, or a private mapping's own huge pages)
    if ((v.shared || v.cow !== undefined) && (v.flags ?? 0) & VM_HUGETLB) mem = hugetlbfsFault(mem, v, v.start > start ? v.start : start, v.end < end ? v.end : end);
    if (!tracked(mem, v)) continue;
    const s = v.start > start ? v.start : start;
    const e = v.end < end ? v.end : end;
    let hugeRead = false;
    for (let h = down(s); h < e; h += HPAGE_SIZE) {
      const cur = pmds.get(h);
      if (cur === PMD_HUGE || cur === PMD_TABLE) {
        // (only the pages fork shared copy: Mobj.thpShared)
        if (unshares && mem.forkedFolios !== undefined) [pmds, mem] = cow(pmds, mem, v, h, s > h ? s : h, e < h + HPAGE_SIZE ? e : h + HPAGE_SIZE, cur, elsewhere);
        continue;
      }
      if (cur === PMD_ZERO) {
        if (kind !== 'read') pmds = pmds.set(h, PMD_TABLE); // split, then a 4 KiB copy
        continue;
      }
      if (!hugeAllowed(v, h) || kind === 'pin-read') {
        // 2 MiB across pieces the model keeps apart but the kernel has as one VMA: a read fault
        // maps the huge zero page there, a write fault a huge page across the pieces' objects.
        const across = kind !== 'pin-read' && acrossPieces(mm, mem, h);
        const grown = across && kind === 'write' ? newFolioAcross(mm, mem, h, rehomeFaulted ? 0n : start, rehomeFaulted ? 0n : end) : undefined;
        if (grown) [mm, mem] = grown;
        hugeRead ||= across && kind === 'read';
        pmds = pmds.set(h, grown ? PMD_HUGE : across && kind === 'read' ? PMD_ZERO : PMD_TABLE);
        continue;
      }
      if (kind === 'read') {
        hugeRead = true;
        pmds = pmds.set(h, PMD_ZERO);
        continue;
      }
      const grown = newFolio(mem, v, h);
      if (grown) {
        mem = grown;
        pmds = pmds.set(h, PMD_HUGE);
      } else pmds = pmds.set(h, PMD_TABLE);
    }
    if (hugeRead) anon.push(v);
  }
  let out = withPmds(mm, pmds);
  for (const v of anon) [out, mem] = withAnonVma(out, mem, v);
  return [out, mem];
}

/**
 * A write or pin of pages [s, e) in the 2 MiB at `h` where a huge page fork
 * shared may be. Only the pages fork shared (Mobj.thpShared) are not this
 * process's own: one a VMA fork did not copy kept PageAnonExclusive, and its
 * entry is writable, no fault. Mapped whole (do_huge_pmd_wp_page): the only
 * mapper left takes it back (reuse), else the entry is split and the page
 * copied. Through 4 KiB entries: copied, always (a large folio's page is
 * never reused). A copied page is a 4 KiB one of this process's (copyOut);
 * the folio's other pages stay where they are.
 */
function cow(pmds: PMap<bigint, number>, mem: Memory, v: Vma, h: bigint, s: bigint, e: bigint, cur: number, elsewhere: ((phys: bigint) => boolean) | undefined): [PMap<bigint, number>, Memory] {
  const m = mem.mobjs.get(v.mobj)!;
  if (m.thp === undefined) return [pmds, mem];
  const idx = (va: bigint) => Number((v.offset + (va - v.start)) >> PAGE_SHIFT);
  const a = idx(s);
  const z = idx(e - 1n);
  for (const [first, phys] of foliosIn(m.thp, a, z + 1)) {
    if (!mem.forkedFolios!.has(phys)) continue;
    const shared = runsIn(mem.mobjs.get(m.id)!.thpShared, Math.max(a, first), Math.min(z, first + HPAGE_NR - 1));
    if (!shared.length) continue;
    if (cur === PMD_HUGE && !elsewhere?.(phys)) {
      const now = mem.mobjs.get(m.id)!;
      mem = { ...mem, forkedFolios: mem.forkedFolios!.delete(phys), mobjs: mem.mobjs.set(m.id, withPageSet(now, 'thpShared', withoutRun(now.thpShared, first, first + HPAGE_NR - 1))) };
      continue;
    }
    if (cur === PMD_HUGE) pmds = pmds.set(h, PMD_TABLE);
    for (const [x, y] of shared) mem = copyOut(mem, m.id, first, x, y);
  }
  return [pmds, mem];
}

/** Run set `runs` (first -> last, disjoint) with [a, z] added, merged with the runs it touches or meets. */
function withRun(runs: PMap<number, number> | undefined, a: number, z: number): PMap<number, number> {
  let out = runs ?? PMap.emptyNumber<number>();
  const below = out.floor(a);
  if (below && below[1] + 1 >= a) {
    a = below[0];
    if (below[1] > z) z = below[1];
    out = out.delete(below[0]);
  }
  const meets: [number, number][] = [];
  out.each((s, l) => {
    if (s > z + 1) return false;
    meets.push([s, l]);
    return true;
  }, a);
  for (const [s, l] of meets) {
    out = out.delete(s);
    if (l > z) z = l;
  }
  return out.set(a, z);
}

/** Run set `runs` without [a, z]. */
function withoutRun(runs: PMap<number, number> | undefined, a: number, z: number): PMap<number, number> | undefined {
  if (runs === undefined) return undefined;
  let out = runs;
  const below = out.floor(a);
  const cut: [number, number][] = below && below[0] < a && below[1] >= a ? [below] : [];
  out.each((s, l) => {
    if (s > z) return false;
    cut.push([s, l]);
    return true;
  }, a);
  for (const [s, l] of cut) {
    out = out.delete(s);
    if (s < a) out = out.set(s, a - 1);
    if (l > z) out = out.set(z + 1, l);
  }
  return out;
}

/** The parts of [a, z] inside run set `runs`, in order. */
function runsIn(runs: PMap<number, number> | undefined, a: number, z: number): [number, number][] {
  const out: [number, number][] = [];
  if (runs === undefined) return out;
  const below = runs.floor(a);
  if (below && below[0] < a && below[1] >= a) out.push([a, Math.min(below[1], z)]);
  runs.each((s, l) => {
    if (s > z) return false;
    out.push([s, Math.min(l, z)]);
    return true;
  }, a);
  return out;
}

/** Pages [a, z] of object `id`'s folio at `first` copied out of it; the folio leaves the object once none of its pages is left. */
function copyOut(mem: Memory, id: number, first: number, a: number, z: number): Memory {
  const m = mem.mobjs.get(id)!;
  mem = { ...mem, mobjs: mem.mobjs.set(id, { ...m, thpCopied: withRun(m.thpCopied, a, z) }) };
  // none of it left: the folio goes
  return folioPieces(mem.mobjs.get(id)!, first, first + HPAGE_NR - 1).length ? mem : dropFolio(mem, id, first);
}

/** Object `id` without its folio at `first` (and the runs copied out of it, and those fork shared): its pages there are 4 KiB pages. */
function dropFolio(mem: Memory, id: number, first: number): Memory {
  const m = mem.mobjs.get(id)!;
  // (the folio's pages only: a run of copied pages may go on into the next folio's, as withRun
  // merges runs that meet, and those stay copied out of it; oracle aimed thp_fork 723/0655)
  const copied = withoutRun(m.thpCopied, first, first + HPAGE_NR - 1);
  const next: Mobj = { ...m, thp: m.thp!.delete(first), ...(m.thpSmall?.has(first) ? { thpSmall: m.thpSmall.delete(first) } : {}) };
  const out = withPageSet(next, 'thpShared', withoutRun(m.thpShared, first, first + HPAGE_NR - 1));
  return { ...mem, mobjs: mem.mobjs.set(id, copied === m.thpCopied ? out : { ...out, thpCopied: copied }) };
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

/**
 * Whether the 2 MiB at `h` lies in one kernel VMA that the model keeps as
 * several tracked pieces (each with its own object: mm.ts `link`), huge
 * pages allowed in each. (A piece mprotected or advised apart would be a VMA
 * of its own in the kernel: the pieces must agree on those.)
 */
function acrossPieces(mm: Mm, mem: Memory, h: bigint): boolean {
  const hit = vmasIn(mm, h, h + HPAGE_SIZE);
  return hit.length > 1 && oneVma(hit, h) && hit.every((x) => tracked(mem, x) && hugeFlags(x));
}

/**
 * A huge page for the 2 MiB at `h` across pieces (`acrossPieces`): one folio,
 * registered in each piece's object at the index its first page would have
 * there (maybe below 0: an object mapped from inside the 2 MiB), so each
 * piece's pages there are the folio's. An object's other indices in the
 * folio are not: the pages a DONTNEED left behind (pinned, maybe), or pages a
 * growth's old object has mapped where they were moved to. They are marked
 * copied out of it (Mobj.thpCopied): 4 KiB pages of their own, as they were.
 */
function newFolioAcross(mm: Mm, mem: Memory, h: bigint, start: bigint, end: bigint): [Mm, Memory] | undefined {
  let hit = vmasIn(mm, h, h + HPAGE_SIZE);
  // An object's folios may not overlap in its indices. A piece whose object has a folio where this one
  // would go (an object with a huge page further on, a piece of it moved here by mremap: #52) moves
  // onto an object of its own first, when it can do so unseen: inside the 2 MiB (nothing of it is
  // present there), not what this fault is for (its callers hold its pages' identities), one VMA
  // with the others by its tag, and nothing of it in its object.
  for (const x of hit) {
    const first = Number((x.offset + (h - x.start)) >> PAGE_SHIFT);
    if (!overlapsFolio(mem.mobjs.get(x.mobj)!, first)) continue;
    const rehomed = ownObject(mm, mem, x, h, start, end);
    if (!rehomed) return undefined;
    [mm, mem] = rehomed;
  }
  hit = vmasIn(mm, h, h + HPAGE_SIZE);
  const firsts = new Map<number, number>();
  for (const x of hit) {
    const first = Number((x.offset + (h - x.start)) >> PAGE_SHIFT);
    // (two pieces of one object at offsets that do not line up: not one folio's pages)
    if ((firsts.get(x.mobj) ?? first) !== first) return undefined;
    firsts.set(x.mobj, first);
  }
  for (const [id, first] of firsts) {
    // (an empty entry has no pages behind it; a folio already there would mean the model lost track)
    if (overlapsFolio(mem.mobjs.get(id)!, first)) return undefined;
  }
  const phys = mem.nextPhys;
  mem = { ...mem, nextPhys: phys + 2n * HPAGE_SIZE };
  for (const [id, first] of firsts) {
    const m = mem.mobjs.get(id)!;
    mem = { ...mem, mobjs: mem.mobjs.set(id, { ...m, thp: (m.thp ?? PMap.emptyNumber<bigint>()).set(first, phys) }) };
    let next = first;
    for (const x of hit) {
      if (x.mobj !== id) continue;
      const a = first + Number(((x.start > h ? x.start : h) - h) >> PAGE_SHIFT);
      const z = first + Number(((x.end < h + HPAGE_SIZE ? x.end : h + HPAGE_SIZE) - h) >> PAGE_SHIFT) - 1;
      if (a > next) mem = copyOut(mem, id, first, next, a - 1);
      next = z + 1;
    }
    if (next < first + HPAGE_NR) mem = copyOut(mem, id, first, next, first + HPAGE_NR - 1);
  }
  return [mm, mem];
}

/** Whether object `m` has a folio in indices [first, first + HPAGE_NR). */
function overlapsFolio(m: Mobj, first: number): boolean {
  const below = m.thp?.floor(first + HPAGE_NR - 1);
  return below !== undefined && below[0] + HPAGE_NR > first;
}

/**
 * Piece `x` (inside the 2 MiB at `h`) on an anonymous object of its own, its
 * first page at the folio's first index (0), its kernel page offset kept; or
 * undefined when that could be seen (see newFolioAcross).
 */
function ownObject(mm: Mm, mem: Memory, x: Vma, h: bigint, start: bigint, end: bigint): [Mm, Memory] | undefined {
  if (x.start < h || x.end > h + HPAGE_SIZE || (x.start < end && start < x.end) || x.link === undefined || x.cow !== undefined || x.shared) return undefined;
  const m = mem.mobjs.get(x.mobj)!;
  if (m.kind !== 'anon') return undefined;
  const a = Number(x.offset >> PAGE_SHIFT);
  const z = a + Number((x.end - x.start) >> PAGE_SHIFT) - 1;
  const has = (t: PMap<number, unknown> | undefined) => t !== undefined && t.floor(z) !== undefined && t.floor(z)![0] >= a;
  // (nothing of it in its object: no bytes, no folio or copied-out run that reaches into it)
  if (has(m.data) || (m.thp?.floor(z) && m.thp.floor(z)![0] + HPAGE_NR > a) || (m.thpCopied?.floor(z) && m.thpCopied.floor(z)![1] >= a) || (m.thpSmall?.floor(z) && m.thpSmall.floor(z)![0] + HPAGE_NR > a)) return undefined;
  let id: number;
  [mem, id] = newMobj(mem, 'anon', HPAGE_SIZE, m.name, undefined, m.unknown);
  const offset = x.start - h;
  const { pgoffDelta: _d, ...rest } = x;
  const kernelPgoff = x.offset + (x.pgoffDelta ?? 0n);
  const y: Vma = { ...rest, mobj: id, offset, ...(kernelPgoff !== offset ? { pgoffDelta: kernelPgoff - offset } : {}) };
  return [withVmas(mm, mm.vmas.set(y.start, y)), mem];
}

/**
 * Whether the VMAs met cover the 2 MiB at `h` as one kernel VMA
 * (vma_merge.ts sameKernelVma: pieces of one object an undone mprotect left,
 * or pieces of several the model tags as one; a piece mprotected or advised
 * apart from the others is a VMA of its own).
 */
function oneVma(hit: readonly Vma[], h: bigint): boolean {
  if (hit[0]!.start > h || hit[hit.length - 1]!.end < h + HPAGE_SIZE) return false;
  for (let i = 1; i < hit.length; i++) if (!sameKernelVma(hit[i - 1]!, hit[i]!)) return false;
  return true;
}

/** An unmapping's outcome: the map after it (and the memory: a split kept takes a tag), and its errno. */
export interface Unmapped {
  mm: Mm;
  mem: Memory;
  errno: 0 | 'EINVAL';
}

/**
 * do_vmi_munmap of `[va, va + length)` (munmap(2); mremap's target and
 * tail), and the page tables it frees: EINVAL for a range outside
 * TASK_SIZE or an empty one, or one refused by its cuts (refusedCut).
 */
export function munmapFreeing(mm: Mm, mem: Memory, va: bigint, length: bigint): Unmapped {
  if (va % PAGE_SIZE || va > TASK_SIZE || length > TASK_SIZE - va) return { mm, mem, errno: 'EINVAL' };
  const len = pageAlign(length);
  if (len === 0n) return { mm, mem, errno: 'EINVAL' };
  const refused = refusedCut(mm, mem, va, va + len);
  if (refused) return { ...refused, errno: 'EINVAL' };
  return { mm: settle(unmapRange(mm, va, va + len), va, va + len), mem, errno: 0 };
}

/**
 * vms_gather_munmap_vmas' cuts before `[start, end)` goes (munmap, an mmap
 * over old mappings, mremap): a hugetlb VMA may only be cut on a huge-page
 * boundary (hugetlb_vm_op_split). Cut at `start`, the unmapping is refused
 * (EINVAL) with nothing done; cut at `end`, it is refused too, but the VMA
 * at `start` was split there first and stays two VMAs (the split is not
 * undone; a huge page there is split with it). The map and memory a refusal
 * leaves, or undefined when the cuts are allowed.
 */
export function refusedCut(mm: Mm, mem: Memory, start: bigint, end: bigint): { mm: Mm; mem: Memory } | undefined {
  if (cutsHugetlb(mm, mem, start)) return { mm, mem };
  if (!cutsHugetlb(mm, mem, end)) return undefined;
  const [split, tagged] = splitKernelVma(mm, mem, start);
  return { mm: settle(split, start, start + 1n), mem: tagged };
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
 * (move_page_tables). A huge one (a huge page's or the huge zero page's)
 * moves whole only between equally aligned
 * addresses and when all of it moves (move_huge_pmd), leaving the old entry
 * empty, and so does a page table where the new address has none
 * (move_normal_pmd); otherwise a huge one is split and the entries move one
 * by one, the old table staying (emptied) until `settle` frees it:
 * MREMAP_DONTUNMAP's old range keeps it.
 */
export function move(mm: Mm, from: bigint, len: bigint, to: bigint): Mm {
  const old = mm.pmds;
  if (old === undefined || len === 0n) return mm;
  let pmds = old;
  const whole = ((from ^ to) & HMASK) === 0n;
  old.each((h, st) => {
    if (h >= from + len) return false;
    const s = h > from ? h : from;
    const e = h + HPAGE_SIZE < from + len ? h + HPAGE_SIZE : from + len;
    // (the huge zero page's entry too: move_page_tables moves any trans-huge PMD whole; and a page
    // table whole, move_normal_pmd, where the new address has none: the old entry is empty then,
    // so a fault there after MREMAP_DONTUNMAP may map a huge page again)
    const aligned = whole && s === h && e === h + HPAGE_SIZE;
    if (aligned && (st === PMD_HUGE || st === PMD_ZERO || !pmds.has(to + (h - from)))) {
      pmds = pmds.delete(h).set(to + (h - from), st);
      return true;
    }
    for (let d = down(to + (s - from)); d < to + (e - from); d += HPAGE_SIZE) pmds = pmds.set(d, PMD_TABLE);
    if (st !== PMD_TABLE) pmds = pmds.set(h, PMD_TABLE);
    return true;
  }, down(from));
  return withPmds(mm, pmds);
}

/**
 * fork (dup_mmap, copy_page_range): the child's entries are the parent's
 * over what it copies, and each huge page of the parent's goes one of three
 * ways. With a page of it pinned (folio_maybe_dma_pinned), the child gets
 * copies of every page and the parent keeps it (copy_huge_pmd splits the
 * parent's entry first). Else, mapped whole, it is shared: both map it
 * copy-on-write (the same physical pages: the child's object gets the same
 * folio), and `fault` decides at the next write or pin. Split before (mapped
 * through 4 KiB entries), it is shared all the same, and stays one compound
 * page; a write or pin of a page of it through such an entry, in either
 * process, always copies that page (wp_can_reuse_anon_folio never reuses a
 * large folio's page), even once the other has let go of it.
 * `pinned(phys)`: whether a page of huge page `phys` is pinned (pages.ts physPinned).
 */
export function forkPmds(parent: Mm, child: Mm, mem: Memory, pinned: (phys: bigint) => boolean): { parent: Mm; child: Mm; mem: Memory } {
  const pp = parent.pmds;
  if (pp === undefined) return { parent, child, mem };
  let mine = pp;
  let theirs = PMap.emptyBigint<number>();
  pp.each((h, st) => {
    if (copied(parent, h)) theirs = theirs.set(h, st);
    return true;
  });
  const seen = new Set<string>();
  const forked = (v: Vma, m: Mobj | undefined): m is Mobj & { thp: PMap<number, bigint> } =>
    m?.thp !== undefined && !v.shared && v.cow === undefined && ((v.flags ?? 0) & (VM_DONTCOPY | VM_WIPEONFORK)) === 0;
  // A folio across pieces (newFolioAcross) is in several objects: pinned if a page of it is in any.
  const pinnedPhys = new Map<bigint, boolean>();
  parent.vmas.each((_s, v) => {
    const m = mem.mobjs.get(v.mobj);
    if (!forked(v, m)) return true;
    const lo = Number(v.offset >> PAGE_SHIFT);
    for (const [, phys] of foliosIn(m.thp, lo, lo + Number((v.end - v.start) >> PAGE_SHIFT))) if (!pinnedPhys.has(phys)) pinnedPhys.set(phys, pinned(phys));
    return true;
  });
  parent.vmas.each((_s, v) => {
    const m = mem.mobjs.get(v.mobj);
    if (!forked(v, m)) return true;
    const lo = Number(v.offset >> PAGE_SHIFT);
    const hi = lo + Number((v.end - v.start) >> PAGE_SHIFT); // exclusive
    const c = findVma(child, v.start);
    for (const [first, phys] of foliosIn(m.thp, lo, hi)) {
      const key = `${m.id}:${first}`;
      // (a folio split into small pages: each page forks as an ordinary one)
      if (m.thpSmall?.has(first)) continue;
      // The pages of this VMA's part of a folio it shares are shared in both processes (their
      // PageAnonExclusive cleared: folio_try_dup_anon_rmap_ptes); a folio across several VMAs
      // is handed to the child once, but each copied VMA shares its part.
      const shareHere = (): void => {
        const a = Math.max(lo, first);
        const z = Math.min(hi - 1, first + HPAGE_NR - 1);
        for (const id of new Set([m.id, c!.mobj])) {
          const now = mem.mobjs.get(id)!;
          if (now.thp?.get(first) !== phys) continue; // (the child's copy took every page of it)
          mem = { ...mem, mobjs: mem.mobjs.set(id, withPageSet(now, 'thpShared', withRun(now.thpShared, a, z))) };
        }
      };
      if (seen.has(key)) {
        if (!pinnedPhys.get(phys) && c) shareHere();
        continue;
      }
      seen.add(key);
      const va = v.start + BigInt(first - lo) * PAGE_SIZE;
      const whole = (va & HMASK) === 0n && pp.get(va) === PMD_HUGE;
      if (pinnedPhys.get(phys)) {
        if (whole) {
          mine = mine.set(va, PMD_TABLE);
          theirs = theirs.set(va, PMD_TABLE);
        }
      } else if (c) {
        const cm = mem.mobjs.get(c.mobj)!;
        mem = { ...mem, mobjs: mem.mobjs.set(cm.id, { ...cm, thp: (cm.thp ?? PMap.emptyNumber<bigint>()).set(first, phys) }), forkedFolios: (mem.forkedFolios ?? PMap.emptyBigint<true>()).set(phys, true) };
        // The pages the parent has as 4 KiB pages of its own (copied out of the folio, or never
        // its: newFolioAcross) are copied for the child as such, not shared.
        for (const [a, z] of copiedRuns(m, first)) mem = copyOut(mem, cm.id, first, a, z);
        shareHere();
      }
    }
    return true;
  });
  return { parent: withPmds(parent, mine), child: withPmds(child, theirs), mem };
}

/** The runs of the folio at `first` of `m` that are copied out of it (Mobj.thpCopied). */
function copiedRuns(m: Mobj, first: number): [number, number][] {
  const last = first + HPAGE_NR - 1;
  const out: [number, number][] = [];
  const below = m.thpCopied?.floor(first);
  if (below && below[0] < first && below[1] >= first) out.push([first, Math.min(below[1], last)]);
  m.thpCopied?.each((a, z) => {
    if (a > last) return false;
    out.push([a, Math.min(z, last)]);
    return true;
  }, first);
  return out;
}

/** The folios of a `thp` map with a page in object pages [lo, hi). */
export function foliosIn(thp: PMap<number, bigint>, lo: number, hi: number): [number, bigint][] {
  const out: [number, bigint][] = [];
  const below = thp.floor(lo);
  if (below && below[0] < lo && below[0] + HPAGE_NR > lo) out.push(below);
  thp.each((f, phys) => {
    if (f >= hi) return false;
    out.push([f, phys]);
    return true;
  }, lo);
  return out;
}

/**
 * Each mapping of huge page `phys` (a folio fork shared) in a live process: a
 * VMA of private memory whose object has that folio, with the runs of its
 * pages the VMA maps (none copied out). `fn` returning false stops the walk.
 */
function eachFolioMapping(w: World, phys: bigint, fn: (pid: number, mm: Mm, v: Vma, m: Mobj, first: number, pieces: [number, number][]) => boolean | void): void {
  let more = true;
  w.procs.each((pid, q) => {
    if (!q.alive) return true;
    q.mm.vmas.each((_s, v) => {
      const m = w.mem.mobjs.get(v.mobj);
      if (m?.thp === undefined || v.shared || v.cow !== undefined) return true;
      const lo = Number(v.offset >> PAGE_SHIFT);
      const hi = lo + Number((v.end - v.start) >> PAGE_SHIFT) - 1;
      for (const [first, f] of foliosIn(m.thp, lo, hi + 1)) {
        if (f !== phys) continue;
        const pieces = folioPieces(m, Math.max(lo, first), Math.min(hi, first + HPAGE_NR - 1));
        if (pieces.length && fn(pid, q.mm, v, m, first, pieces) === false) return (more = false);
      }
      return true;
    });
    return more;
  });
}

/** Whether another live process than `pid` maps a page of huge page `phys` (eachFolioMapping). */
export function mappedElsewhere(w: World, pid: number, phys: bigint): boolean {
  let hit = false;
  eachFolioMapping(w, phys, (qid) => !(hit = qid !== pid));
  return hit;
}

/** Who maps a huge page, as MADV_COLD / PAGEOUT's split sees it (folioMappings). */
export interface FolioMappings {
  /** folio_likely_mapped_shared: the split leaves it alone. */
  readonly shared: boolean;
  /** Every object, in every live process, that holds it: object -> the folio's first page index there. */
  readonly holders: ReadonlyMap<number, number>;
  /** Whether a live process other than the one asking maps a page of it. */
  readonly elsewhere: boolean;
}

/**
 * The mappings of huge page `phys` across live processes, and
 * folio_likely_mapped_shared of it (6.12 include/linux/mm.h), which MADV_COLD and MADV_PAGEOUT
 * ask before splitting it. Its mapcount counts each page table entry that maps a page of it and
 * each PMD that maps it whole, in every process. One mapping or none: not shared. A PMD mapping
 * beside any other, or more mappings than pages: shared. Otherwise the kernel guesses from the
 * first page alone: shared if that is mapped twice. So a huge page fork shared whose first page
 * neither process maps any more counts as exclusive, and so does one the other process maps
 * but not its first page, if no more than 512 entries map it (oracle fuzz seed 175;
 * traces/fork_folio/ff_cold_shared, ff_likely_shared).
 */
export function folioMappings(w: World, phys: bigint, asking: number): FolioMappings {
  let elsewhere = false;
  let total = 0;
  let entire = 0;
  let firstMaps = 0;
  const holders = new Map<number, number>();
  // the PMD counted for each process (a folio across pieces is one)
  const huge = new Map<number, bigint>();
  eachFolioMapping(w, phys, (pid, mm, v, m, first, pieces) => {
    if (m.thpSmall?.has(first)) return;
    holders.set(m.id, first);
    if (pid !== asking) elsewhere = true;
    const va = v.start + (BigInt(first) << PAGE_SHIFT) - v.offset;
    const h = down(va > v.start ? va : v.start);
    if (pmdsOf(mm).get(h) === PMD_HUGE) {
      if (huge.get(pid) !== h) huge.set(pid, h), entire++, total++;
      return;
    }
    for (const [a, z] of pieces) {
      total += z - a + 1;
      if (a === first) firstMaps++;
    }
  });
  const shared = total > 1 && (entire > 0 || total > HPAGE_NR || firstMaps > 1);
  return { shared, holders, elsewhere };
}

/**
 * Whether fork copies page tables over the 2 MiB at `h`: a VMA there that is copied, not wiped, and
 * has an anon_vma (dup_mmap, copy_page_range's vma_needs_copy: without one, a fault fills them as
 * well, so a 4 KiB read fault's zero-page table stays the parent's; oracle fuzz seed 146).
 */
const copied = (mm: Mm, h: bigint): boolean => vmasIn(mm, h, h + HPAGE_SIZE).some((v) => ((v.flags ?? 0) & (VM_DONTCOPY | VM_WIPEONFORK)) === 0 && v.anon !== undefined);

/**
 * MADV_COLD / MADV_PAGEOUT over `[start, end)` of VMA `v`
 * (madvise_cold_or_pageout_pte_range): a huge page the range only partly
 * covers is split into small pages (split_folio), unless the kernel takes
 * it for shared with another process (folioMappings) or a page of it is
 * pinned, wherever that page is (`pinned(phys)`: the split fails and it stays). Its
 * pages stay where they are, contiguous, but are no longer one compound page
 * (Mobj.thpSmall), and its entry becomes a page table. A huge page the range
 * covers whole is only aged by MADV_COLD; MADV_PAGEOUT (`pageout`) sends it
 * to reclaim, which, with no swap to write it to, splits it all the same
 * (shrink_folio_list: add_to_swap fails, "fallback to swap normal pages"),
 * under the same conditions (not pinned: folio_maybe_dma_pinned keeps it).
 * The huge zero page is left alone.
 */
export function coldSplit(mm: Mm, mem: Memory, v: Vma, start: bigint, end: bigint, range: readonly [bigint, bigint], pinned: (phys: bigint) => boolean, others: (phys: bigint) => FolioMappings, pageout = false): [Mm, Memory] {
  const m = mem.mobjs.get(v.mobj);
  if (!tracked(mem, v) || m?.thp === undefined) return [mm, mem];
  let pmds = pmdsOf(mm);
  const idx = (va: bigint) => Number((v.offset + (va - v.start)) >> PAGE_SHIFT);
  const lo = idx(start);
  const hi = idx(end - 1n);
  for (const [first, phys] of foliosIn(m.thp, lo, hi + 1)) {
    if (m.thpSmall?.has(first)) continue;
    // (the walk meets the folio only through an entry of the range that maps a page of it: pages
    // copied out of it are 4 KiB folios of their own; oracle fuzz seed 184)
    if (!folioPieces(m, Math.max(lo, first), Math.min(hi, first + HPAGE_NR - 1)).length) continue;
    const va = v.start + (BigInt(first) << PAGE_SHIFT) - v.offset;
    const st = pmds.get(down(va > v.start ? va : v.start));
    if (st === PMD_ZERO) continue;
    // A huge page across pieces of one kernel VMA (newFolioAcross) is one folio: its pieces'
    // objects each hold it, the whole advice range decides, and a split splits it in each.
    const firstIn = (x: Vma) => Number((x.offset + (va - x.start)) >> PAGE_SHIFT);
    const pieces: Vma[] = (va & HMASK) === 0n ? vmasIn(mm, va, va + HPAGE_SIZE).filter((x) => x.mobj !== m.id && mem.mobjs.get(x.mobj)?.thp?.get(firstIn(x)) === phys) : [];
    const holders: Vma[] = [v, ...pieces];
    // the folio's pages mapped here, and those the range holds: all of them only when it covers the folio
    const mapped = folioPieces(m, Math.max(first, idx(v.start)), Math.min(first + HPAGE_NR - 1, idx(v.end - 1n)));
    // The kernel walks a VMA's entries, and leaves a huge page whole when the range maps all of it
    // in one run (madvise_folio_pte_batch): across the pieces the model keeps of one kernel VMA (an
    // mremap away and back, #91), as within one.
    const here = (va & HMASK) === 0n ? vmasIn(mm, va, va + HPAGE_SIZE) : [];
    const samePieces = here.length > 1 && oneVma(here, va) && here.every((x) => x.mobj === m.id && firstIn(x) === first);
    // (all of it in one kernel VMA: the walk goes VMA by VMA, so a huge page an munmap or a split
    // left in two is never one run: aimed vma_pieces 982/2904)
    const whole = pieces.length
      ? range[0] <= va && range[1] >= va + HPAGE_SIZE && here.length > 0 && oneVma(here, va) && here.every((x) => wholeIn(mem.mobjs.get(x.mobj)!, x, va, phys))
      : samePieces
        ? range[0] <= va && range[1] >= va + HPAGE_SIZE && wholeRun(folioPieces(m, first, first + HPAGE_NR - 1), first)
        : wholeRun(mapped, first) && lo <= first && hi >= first + HPAGE_NR - 1;
    if (whole && !pageout) continue;
    // A huge page fork shared is split in every process that maps it (split_folio remaps each
    // mapping), and fails if a page of it is pinned, in any of them or in an object a pin alone keeps
    // (a pinned page a DONTNEED zapped: #107); it stays fork shared while
    // another process maps a page of it (its pages copy on write).
    // So is a piece of it mremap took elsewhere in this process: every object that holds the folio
    // has its pages split (aimed thp_locks 2502x3/721: page 0 of a huge page across the model's
    // pieces moved away, PAGEOUT of the rest, then the moved page is a small page).
    const all = new Map<number, number>(holders.map((x): [number, number] => [x.mobj, firstIn(x)]));
    const forked = mem.forkedFolios?.has(phys) === true;
    const o = others(phys);
    if (forked && o.shared) continue;
    for (const [id, f] of o.holders) if (!all.has(id)) all.set(id, f);
    if (pinned(phys)) continue;
    if (forked && !o.elsewhere) mem = { ...mem, forkedFolios: mem.forkedFolios!.delete(phys) };
    for (const [id, f] of all) {
      const now = mem.mobjs.get(id)!;
      mem = { ...mem, mobjs: mem.mobjs.set(id, { ...now, thpSmall: (now.thpSmall ?? PMap.emptyNumber<true>()).set(f, true) }) };
      // The split maps each all-zero page to the shared zero page and frees it (6.12 remap_page,
      // RMP_USE_SHARED_ZEROPAGE): its next write or pin gets a 4 KiB page of its own.
      for (const [a, z] of zeroRuns(now, f)) mem = copyOut(mem, id, f, a, z);
    }
    if ((va & HMASK) === 0n && pmds.get(va) === PMD_HUGE) pmds = pmds.set(va, PMD_TABLE);
  }
  return [withPmds(mm, pmds), mem];
}

/** Whether `runs` are the whole folio at `first`: one run of all its pages. */
const wholeRun = (runs: readonly [number, number][], first: number): boolean => runs.length === 1 && runs[0]![0] === first && runs[0]![1] === first + HPAGE_NR - 1;

/**
 * Whether piece `x`'s part of the 2 MiB at `va` is all the huge page `phys`'s: its object holds
 * that huge page there (a piece DONTNEED gave new pages holds none: aimed vma_pieces 955/2102), and
 * none of its pages there is copied out.
 */
function wholeIn(m: Mobj, x: Vma, va: bigint, phys: bigint): boolean {
  const idx = (a: bigint) => Number((x.offset + (a - x.start)) >> PAGE_SHIFT);
  if (m.thp?.get(idx(va)) !== phys) return false;
  const a = idx(x.start > va ? x.start : va);
  const z = idx((x.end < va + HPAGE_SIZE ? x.end : va + HPAGE_SIZE) - 1n);
  const mapped = folioPieces(m, a, z);
  return mapped.length === 1 && mapped[0]![0] === a && mapped[0]![1] === z;
}

/** The runs of pages of folio `first` of `m` whose bytes are all zero (no data, or zeros). */
function zeroRuns(m: Mobj, first: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = first; i < first + HPAGE_NR; i++) {
    const d = m.data.get(i);
    if (d !== undefined && d.some((b) => b !== 0)) continue;
    const top = out[out.length - 1];
    if (top && top[1] === i - 1) top[1] = i;
    else out.push([i, i]);
  }
  return out;
}

/**
 * Whether the page at `va` (resolved to `page`) is part of a compound page:
 * a hugetlb page, a transparent huge page (split or not, so long as the page
 * was not copied out of it), or the huge zero page. MD_CHECK_REFS counts no
 * references on those (PageCompound).
 */
export function isCompoundPage(mm: Mm, mem: Memory, va: bigint, page: { mobj: number; index: number }): boolean {
  const m = mem.mobjs.get(page.mobj);
  if (!m) return false;
  if (m.kind === 'hugetlb') return true;
  if (mm.pmds?.get(down(va)) === PMD_ZERO) return true;
  if (m.thp === undefined) return false;
  const f = m.thp.floor(page.index);
  return f !== undefined && page.index < f[0] + HPAGE_NR && !m.thpSmall?.has(f[0]) && folioPieces(m, page.index, page.index).length > 0;
}

/** `fault` in process `pid`'s address space, the World around it. */
export function faultIn(w: World, pid: number, start: bigint, end: bigint, kind: FaultKind, rehomeFaulted = false): World {
  const p = w.procs.get(pid);
  if (!p || !p.alive) return w;
  const [mm, mem] = fault(p.mm, w.mem, start, end, kind, (phys) => mappedElsewhere(w, pid, phys), rehomeFaulted);
  return mm === p.mm && mem === w.mem ? w : { ...w, mem, procs: w.procs.set(pid, { ...p, mm }) };
}
