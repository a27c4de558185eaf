/**
 * VMA merging of private memory, anonymous or of a file (mm/vma.c, 6.12), as
 * far as the model needs it: which neighbours the kernel has as one VMA. The model keeps
 * a VMA's pages in memory objects, so two mappings the kernel merged stay two
 * model VMAs (each with its object) tagged as one (`Vma.link`), like the
 * pieces a DONTNEED or a growth leaves. One VMA or two decides whether a huge
 * page can span them (huge_memory.ts) and whether mremap may cross them.
 *
 * A new mapping (mmap, or the VMA mremap moves: copy_vma) merges with the VMA
 * before it and the one after it (vma_merge_new_range) when they have the
 * same flags and the same file or none, their page offsets run on (a file's:
 * its offsets; an anonymous VMA's vm_pgoff is its address at mmap, and
 * follows a move while it has no anon_vma), and their anon_vmas allow it (is_mergeable_anon_vma): a
 * neighbour without one, or with its own only (not one fork gave it), takes a
 * range without one; two with different anon_vmas never merge. A VMA that
 * mprotect or madvise changed merges with its neighbours by the same rules
 * (vma_merge_existing_range). Linux 6.12.117 answered every rule here in the
 * traces of test/unit/model/vma_merge.test.ts (docs/oracle.md #45).
 *
 * A VMA gets its anon_vma at its first anonymous fault (huge_memory.ts
 * `fault`): a write, a long-term pin, a fault that may take a huge page; a
 * private file mapping's at its first copy (a write, a long-term pin's
 * unshare). Shared memory merges the same way, without anon_vmas (but
 * hugetlb memory, VM_DONTEXPAND, which never merges).
 */
import { VM_EXEC, VM_HUGETLB, VM_LOCKED_MASK, findVma, isHugetlbVma, newTag, pastEof, vmaHasFile, vmasIn, withVmas, type Memory, type Mm, type Vma } from './mm.js';

/** Which private pages a piece has: its private copies (a file mapping) or its anonymous object, unless tagged one with others. */
const group = (v: Vma): number => v.link ?? v.cow ?? v.mobj;

/**
 * Neighbours the kernel keeps as one VMA: the same protection and flags, the
 * same object at contiguous offsets, and the same private pages, or pieces
 * the model split that the kernel has as one (`link`). Shared pieces with
 * different tags are two (a split nothing merged back: splitKernelVma). So
 * are pieces with different anon_vmas: one VMA has one (withAnonVma gives it
 * to every piece), and two that differ there did not merge (seed 116: a
 * write fault past a file's end gave one half of a split an anon_vma, and
 * munlockall could not merge the halves back).
 */
export const sameKernelVma = (a: Vma, b: Vma): boolean =>
  a.end === b.start &&
  // (hugetlb VMAs never merge: pieces alike after a split the kernel made stay two)
  (!((a.flags ?? 0) & VM_HUGETLB) || (a.link !== undefined && a.link === b.link)) &&
  a.read === b.read &&
  a.write === b.write &&
  a.shared === b.shared &&
  (a.flags ?? 0) === (b.flags ?? 0) &&
  a.anon === b.anon &&
  (a.cow === undefined) === (b.cow === undefined) &&
  // (the same object at offsets that do not run on is two VMAs, unless the pieces are private and
  // tagged one: a DONTUNMAP move leaves the moved pages in their object, and the VMA they went to
  // may merge with the old range's, whose pages are new, by their page offsets: aimed vma_locks
  // 1202/0368)
  (a.mobj === b.mobj ? a.offset + (a.end - a.start) === b.offset || (!a.shared && a.link !== undefined && a.link === b.link) : a.cow === undefined) &&
  (a.shared ? a.mobj === b.mobj && a.link === b.link : group(a) === group(b));

/** The model VMAs that make up `v`'s kernel VMA, in address order. */
export function kernelVmaPieces(mm: Mm, v: Vma): Vma[] {
  const out = [v];
  for (let prev = mm.vmas.lower(v.start)?.[1]; prev && sameKernelVma(prev, out[0]!); prev = mm.vmas.lower(prev.start)?.[1]) out.unshift(prev);
  for (let next = mm.vmas.ceil(v.end)?.[1]; next && sameKernelVma(out[out.length - 1]!, next); next = mm.vmas.ceil(next.end)?.[1]) out.push(next);
  return out;
}

/**
 * __split_vma at `at` that nothing merges back (an unmapping refused after
 * its first cut: huge_memory.ts refusedCut): the kernel VMA containing `at`
 * becomes two, its pieces from `at` on tagged apart. Nothing to do where
 * `at` is no VMA's inside.
 */
export function splitKernelVma(mm: Mm, mem: Memory, at: bigint): [Mm, Memory] {
  const v = findVma(mm, at);
  if (!v) return [mm, mem];
  const pieces = kernelVmaPieces(mm, v);
  if (pieces[0]!.start === at) return [mm, mem];
  const [tagged, tag] = newTag(mem);
  let vmas = mm.vmas;
  for (const p of pieces) {
    if (p.end <= at) continue;
    if (p.start < at) vmas = vmas.set(p.start, { ...p, end: at }).set(at, { ...p, start: at, offset: p.offset + (at - p.start), link: tag });
    else vmas = vmas.set(p.start, { ...p, link: tag });
  }
  return [withVmas(mm, vmas), tagged];
}

/**
 * fork's child: its VMAs lose their lock flags (dup_mmap), but not their
 * boundaries, as dup_mmap copies VMA by VMA and merges nothing: the pieces
 * of each kernel VMA that was locked get a tag of their own in the child, so
 * that they stay apart from neighbours they differed from only by the lock.
 */
export function keepForkedApart(parent: Mm, child: Mm, mem: Memory): [Mm, Memory] {
  let vmas = child.vmas;
  let prev: Vma | undefined;
  let tag: number | undefined;
  parent.vmas.each((_s, v) => {
    if (prev === undefined || !sameKernelVma(prev, v)) tag = undefined;
    prev = v;
    const c = vmas.get(v.start);
    if (!((v.flags ?? 0) & VM_LOCKED_MASK) || !c) return true;
    if (tag === undefined) [mem, tag] = newTag(mem);
    vmas = vmas.set(v.start, { ...c, link: tag });
    return true;
  });
  return [withVmas(child, vmas), mem];
}

/** The kernel's vm_pgoff of `v`, in bytes. */
const kernelPgoff = (v: Vma): bigint => v.offset + (v.pgoffDelta ?? 0n);

/** Private anonymous memory: no file behind it (vma->vm_file NULL). */
const anonymous = (mem: Memory, v: Vma): boolean => !vmaHasFile(mem, v);

/**
 * Private memory whose merging the model follows: anonymous, or a private
 * mapping of a file (its written pages copied into `cow`); undefined for
 * shared memory. Two VMAs merge only if of one kind, and a file's with the
 * same file (is_mergeable_vma: vm_file).
 */
function privateKind(mem: Memory, v: Vma): 'anon' | 'cow' | undefined {
  return anonymous(mem, v) ? 'anon' : v.cow !== undefined ? 'cow' : undefined;
}
/** What a VMA merges as: private memory (privateKind), or shared memory but hugetlb (VM_DONTEXPAND: never merged). */
function mergeKind(mem: Memory, v: Vma): 'anon' | 'cow' | 'shared' | undefined {
  return privateKind(mem, v) ?? (v.shared && !isHugetlbVma(mem, v) ? 'shared' : undefined);
}
const sameFile = (mem: Memory, a: Vma, b: Vma): boolean => {
  const k = mergeKind(mem, a);
  return k !== undefined && k === mergeKind(mem, b) && (k === 'anon' || a.mobj === b.mobj);
};

/** is_mergeable_vma for two anonymous VMAs: the same vm_flags. */
const alike = (a: Vma, b: Vma): boolean => a.read === b.read && a.write === b.write && (a.flags ?? 0) === (b.flags ?? 0);

/**
 * is_mergeable_anon_vma(a1, a2, nb): a range with anon_vma `a1` next to a
 * VMA `nb` with `a2`. Either none, and `nb`'s anon_vma chain is just its own
 * (list_is_singular: it has one, and fork did not give it its parent's); or
 * both the same. `nb` undefined: two neighbours compared with each other.
 */
function mergeableAnon(a1: string | undefined, a2: string | undefined, nb: Vma | undefined): boolean {
  if ((a1 === undefined || a2 === undefined) && (nb === undefined || (nb.anon !== undefined && !nb.anonForked))) return true;
  return a1 === a2;
}

/**
 * vma_merge_new_range for `range` (the pieces of one new VMA, just mapped):
 * merged with the VMA before it, the one after it, or both, by tagging every
 * piece of the result as one VMA (a new tag: an id no object has) with the
 * anon_vma it ends up with. `apart`: neighbours it may not merge with (the
 * VMA a DONTUNMAP move keeps, copy_vma). `laterNext`: next neighbours that
 * decide their merge with it themselves, later (mergeChanged). A neighbour
 * the range equals (sameKernelVma: untagged pieces alike, a shared file's at
 * running offsets) is one VMA with it, and takes the new tag with it.
 */
export function mergeNew(mm: Mm, mem: Memory, range: readonly Vma[], apart?: (v: Vma) => boolean, laterNext?: (v: Vma) => boolean): [Mm, Memory] {
  const a = range[0];
  const z = range[range.length - 1];
  if (!a || !z || !range.every((x) => sameFile(mem, a, x))) return [mm, mem];
  const pgoff = kernelPgoff(a);
  const before = mm.vmas.lower(a.start)?.[1];
  const after = mm.vmas.ceil(z.end)?.[1];
  const can = (v: Vma | undefined): v is Vma => v !== undefined && sameFile(mem, a, v) && !apart?.(v);
  const prev = can(before) && before.end === a.start && alike(before, a) && !sameKernelVma(before, a) ? before : undefined;
  const next = can(after) && !laterNext?.(after) && after.start === z.end && alike(z, after) && !sameKernelVma(z, after) ? after : undefined;
  const left = prev !== undefined && mergeableAnon(a.anon, prev.anon, prev) && kernelPgoff(prev) + (prev.end - prev.start) === pgoff;
  // (with both, the two neighbours must suit each other too: are_anon_vmas_compatible)
  const right = next !== undefined && mergeableAnon(a.anon, next.anon, next) && kernelPgoff(next) === pgoff + (z.end - a.start) && !(left && !mergeableAnon(prev.anon, next.anon, undefined));
  if (!left && !right) return [mm, mem];
  // A neighbour the range equals is one VMA with it, so its pieces take the new tag too: an existing
  // VMA changed (mergeChanged) merges with a neighbour it now equals (seed 221: a VMA whose protection
  // came to equal both neighbours', one of them tagged, merges with both), and a new mapping of a
  // shared file merged with the tagged VMA after it is one VMA with the untagged one before it at
  // running offsets too (aimed vma_merges_files 1210/1281: left behind, that one looked apart).
  const eqL = before !== undefined && can(before) && before.end === a.start && sameKernelVma(before, a);
  const eqR = after !== undefined && can(after) && after.start === z.end && sameKernelVma(z, after);
  const pieces = [...(left ? kernelVmaPieces(mm, prev) : eqL ? kernelVmaPieces(mm, before) : []), ...range, ...(right ? kernelVmaPieces(mm, next!) : eqR ? kernelVmaPieces(mm, after) : [])];
  const anon = a.anon ?? (left ? prev.anon : undefined) ?? (right ? next!.anon : undefined);
  const [tagged, tag] = newTag(mem);
  let vmas = mm.vmas;
  for (const p of pieces) vmas = vmas.set(p.start, { ...p, link: tag, ...(anon !== undefined ? { anon } : {}) });
  return [withVmas(mm, vmas), tagged];
}

/**
 * anon_vma_compatible(a, b), `a` just before `b`: the same file (none, for
 * anonymous memory), the same vm_flags but for the access bits (read, write,
 * exec), and page offsets in line. Unlike merging, protection may differ.
 */
function anonVmaCompatible(mem: Memory, a: Vma, b: Vma): boolean {
  return a.end === b.start && sameFile(mem, a, b) && ((a.flags ?? 0) & ~VM_EXEC) === ((b.flags ?? 0) & ~VM_EXEC) && kernelPgoff(b) === kernelPgoff(a) + (b.start - a.start);
}

/**
 * `v`'s kernel VMA with an anon_vma (anon_vma_prepare at its first anonymous
 * fault): all its pieces get one identity. Not for memory whose contents the
 * trace does not describe (a capture's: the program's own stores and faults
 * are not recorded, so whether and when it got its anon_vma is not known);
 * the model then takes its merges as anonymous ones allow.
 */
export function withAnonVma(mm: Mm, mem: Memory, at: Vma): [Mm, Memory] {
  const v = mm.vmas.get(at.start) ?? at;
  if (v.anon !== undefined || privateKind(mem, v) === undefined || mem.mobjs.get(v.cow ?? v.mobj)?.unknown) return [mm, mem];
  const pieces = kernelVmaPieces(mm, v);
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  // find_mergeable_anon_vma: the next VMA's anon_vma, else the previous one's, where it is the
  // neighbour's own (reusable_anon_vma: list_is_singular) and the two are anon_vma_compatible
  // (so that an mprotect making them alike can merge them later; oracle fuzz seed 248)
  const reuse = (nb: Vma | undefined, a: Vma, b: Vma): string | undefined => (nb?.anon !== undefined && !nb.anonForked && anonVmaCompatible(mem, a, b) ? nb.anon : undefined);
  const next = mm.vmas.ceil(last.end)?.[1];
  const prev = mm.vmas.lower(first.start)?.[1];
  // (else a new one: its own identity, taken from the object ids as tags are; an identity made of
  // the VMA's object and address came round again once a VMA that had let go of its anon_vma got
  // a new one, and the two took each other's for one: aimed vma_locks 1203/2080)
  let id = (next && reuse(next, last, next)) ?? (prev && reuse(prev, prev, first));
  if (id === undefined) {
    let n: number;
    [mem, n] = newTag(mem);
    id = `anon_vma ${n}`;
  }
  // A fault merges nothing: a neighbour whose anon_vma this VMA took, alike in all else, stays a
  // VMA of its own, so the pieces take a tag of their own where they would look one with it
  // (aimed vma_merges 931/0990: an mremap across the two is EFAULT).
  const now = (p: Vma): Vma => ({ ...p, anon: id });
  const alikeNow = (next !== undefined && sameKernelVma(now(last), next)) || (prev !== undefined && sameKernelVma(prev, now(first)));
  let tag: number | undefined;
  if (alikeNow) [mem, tag] = newTag(mem);
  let vmas = mm.vmas;
  for (const p of pieces) vmas = vmas.set(p.start, tag === undefined ? now(p) : { ...now(p), link: tag });
  return [withVmas(mm, vmas), mem];
}

/**
 * A write fault that found no page: a store, or a write pin, at a page past
 * the end of a writable private file mapping's file. do_cow_fault prepares
 * the VMA's anon_vma (vmf_anon_prepare) before __do_fault finds nothing
 * (SIGBUS; GUP's EFAULT), so the VMA has one after the failed access, and it
 * no longer merges into a neighbour without one (oracle fuzz seed 116).
 */
export function cowFaultPastEof(mm: Mm, mem: Memory, va: bigint): [Mm, Memory] {
  const v = findVma(mm, va);
  if (!v || v.cow === undefined || v.shared || !v.write || !pastEof(mem, v, v.offset + (va - v.start))) return [mm, mem];
  return withAnonVma(mm, mem, v);
}

/**
 * vma_modify after mprotect or madvise changed the protection or flags of
 * VMAs in [start, end): each kernel VMA that changed merges with its
 * neighbours where they now agree, as a new range would
 * (vma_merge_existing_range checks the same). `before`: the map before the
 * call, to tell which changed (mprotect_fixup and madvise_update_vma leave
 * an unchanged VMA alone, merging nothing).
 */
export function mergeChanged(before: Mm, mm: Mm, mem: Memory, start: bigint, end: bigint): [Mm, Memory] {
  if (mm === before) return [mm, mem];
  const changed = (cur: Vma): boolean => {
    const was = before.vmas.floor(cur.start)?.[1];
    return !was || was.end <= cur.start || was.read !== cur.read || was.write !== cur.write || (was.flags ?? 0) !== (cur.flags ?? 0);
  };
  // A changed VMA further on in the range decides its own merge with what lies before it when
  // the walk reaches it (mprotect_fixup compared this one with its next's old flags), as the VMA
  // being merged: is_mergeable_anon_vma is not symmetric (seed 208: a VMA with an anon_vma does
  // not merge into a neighbour without one, while one without merges into one with).
  const later = (v: Vma): boolean => v.start >= start && v.start < end && changed(v);
  let pos = start;
  while (pos < end) {
    const at = mm.vmas.floor(pos)?.[1];
    const cur = at && at.end > pos ? at : mm.vmas.ceil(pos)?.[1];
    if (!cur || cur.start >= end) break;
    if (!changed(cur)) {
      pos = cur.end;
      continue;
    }
    // The VMA the change was made to is the one `cur` was part of before it (mprotect_fixup's
    // vma), within the range: not the unchanged neighbours it now equals, which the kernel has
    // as neighbours (seed 208's second form: a VMA with an anon_vma between two without).
    const was = before.vmas.floor(cur.start)?.[1];
    let range: Vma[];
    if (was && was.end > cur.start) {
      const old = kernelVmaPieces(before, was);
      const lo = old[0]!.start > start ? old[0]!.start : start;
      const hi = old[old.length - 1]!.end < end ? old[old.length - 1]!.end : end;
      range = vmasIn(mm, lo, hi);
    } else range = kernelVmaPieces(mm, cur);
    [mm, mem] = mergeNew(mm, mem, range, undefined, later);
    pos = range[range.length - 1]!.end;
  }
  return [mm, mem];
}
