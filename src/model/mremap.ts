/**
 * mremap(2) (mm/mremap.c, 6.12): shrink, grow in place, or move a mapping.
 * glibc's realloc of a large block is an mremap, so a buffer a program maps
 * for DMA can move under it: a pinned page moves with its mapping (the pin is
 * on the page, not the address), and the old address then holds nothing.
 *
 * Where the kernel puts a mapping it moves on its own (MREMAP_MAYMOVE without
 * MREMAP_FIXED) is get_unmapped_area's choice, which the model does not make:
 * a capture says where (`placed`, the call's answer); without it the call is
 * answered as not modelled.
 */
import type { Fields, Result } from '../events/event.js';
import { u64 } from './args.js';
import { PAGE_SIZE, vmaHugeSize, TASK_SIZE, VM_LOCKED, VM_LOCKED_MASK, findVma, isHugetlbVma, mapVma, newTag, pageAlign, unmapRange, vmaHasFile, vmasIn, withFlags, withNewPages, type Memory, type Mm, type Vma } from './mm.js';
import { mlockFutureOk, populate, tooMuchToFaultIn } from './mlock.js';
import type { World } from './state.js';
import { move as movePmds, munmapFreeing, settle } from './huge_memory.js';
import { kernelVmaPieces, mergeNew } from './vma_merge.js';

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

/**
 * The VMA containing `va` (vma_lookup) as the kernel has it. The model leaves
 * a VMA split where the kernel merges the pieces back (an mprotect undone, a
 * madvise flag cleared) or keeps one (a growth's or a DONTNEED's new pages),
 * and mremap is where the boundaries show (it does not cross one): pieces of
 * one object at contiguous offsets, or tagged as one (`link`), with the same
 * attributes are one VMA here.
 */
function vmaAt(mm: Mm, va: bigint): Vma | undefined {
  const at = findVma(mm, va);
  if (!at) return undefined;
  // (neighbouring pieces compared pair by pair: pieces of two objects tagged as one VMA do not
  // continue each other's offsets, seed 205)
  const pieces = kernelVmaPieces(mm, at);
  const first = pieces[0]!;
  return { ...first, end: pieces[pieces.length - 1]!.end };
}

/**
 * Adjacent private mappings the model keeps apart that the kernel may have
 * as one VMA. The model follows every merge the trace shows (vma_merge.ts),
 * of anonymous memory and of private mappings of one file, so two it keeps
 * apart are two, unless the trace does not describe their memory (a
 * capture's: the program's own faults and stores, which decide some merges,
 * are not recorded, nor are the page offsets of what a maps snapshot lists).
 */
function mayBeOneVma(mem: Memory, a: Vma, b: Vma): boolean {
  if (a.end !== b.start || a.shared || b.shared || a.read !== b.read || a.write !== b.write || (a.flags ?? 0) !== (b.flags ?? 0)) return false;
  const unknown = (id: number) => !!mem.mobjs.get(id)?.unknown;
  if (!vmaHasFile(mem, a) && !vmaHasFile(mem, b)) return unknown(a.mobj) || unknown(b.mobj);
  return a.cow !== undefined && b.cow !== undefined && a.mobj === b.mobj && a.offset + (a.end - a.start) === b.offset && (unknown(a.cow) || unknown(b.cow));
}

/** How far [addr, ...) may reach inside what could be one kernel VMA (vmaAt's VMA and neighbours it may be one with). */
function mayReach(mm: Mm, mem: Memory, v: Vma): bigint {
  let end = v.end;
  for (let cur: Vma = v, next = mm.vmas.ceil(end)?.[1]; next && mayBeOneVma(mem, cur, next); cur = next, next = mm.vmas.ceil(end)?.[1]) end = next.end;
  return end;
}

/** An answer the model cannot give exactly: the kernel's likeliest errno, and why. */
interface NotModelled {
  errno: string;
  unmodelled: string;
}
const PLACED: NotModelled = { errno: 'ENOMEM', unmodelled: 'mremap moving a mapping where the kernel chooses (get_unmapped_area), and the trace does not say where' };
const MERGED: NotModelled = { errno: 'EFAULT', unmodelled: "mremap across two private mappings of a capture's memory, which the kernel may have merged into one VMA" };
const BAD_PLACE: NotModelled = { errno: 'EINVAL', unmodelled: "mremap: the trace's new address is not one the kernel could have chosen (unaligned, past TASK_SIZE, or over the old range)" };

interface Call {
  w: World;
  pid: number;
  mm: Mm;
  addr: bigint;
  flags: number;
  /** Where the kernel placed a mapping it moved on its own, when the trace says. */
  placed: bigint | undefined;
}

/** mremap(addr, old_len, new_len, flags, new_addr): the answer is the mapping's (new) address. */
export function mremap(w: World, pid: number, a: Fields): [World, Result] {
  const rawFlags = u64(a, 'flags');
  if (rawFlags & ~BigInt(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return [w, { errno: 'EINVAL' }];
  const flags = Number(rawFlags);
  const addr = u64(a, 'va');
  const rawOld = u64(a, 'old_length');
  const rawNew = u64(a, 'new_length');
  let newAddr = a['new_va'] === undefined ? 0n : u64(a, 'new_va');
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) return [w, { errno: 'EINVAL' }];
  // DONTUNMAP is always a move, and never a resize.
  if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || rawOld !== rawNew)) return [w, { errno: 'EINVAL' }];
  if (addr % PAGE_SIZE) return [w, { errno: 'EINVAL' }];
  let oldLen = pageAlign(rawOld);
  let newLen = pageAlign(rawNew);
  if (!newLen) return [w, { errno: 'EINVAL' }];
  const p = w.procs.get(pid)!;
  const vma = vmaAt(p.mm, addr);
  if (!vma) return [w, { errno: 'EFAULT' }];
  if (isHugetlbVma(w.mem, vma)) {
    const hs = vmaHugeSize(w.mem, vma);
    oldLen = ((oldLen + hs - 1n) / hs) * hs;
    newLen = ((newLen + hs - 1n) / hs) * hs;
    // both addresses on a huge page, and no growing (the reservation cannot be split)
    if (addr % hs || newAddr % hs || newLen > oldLen) return [w, { errno: 'EINVAL' }];
  }
  const c: Call = { w, pid, mm: p.mm, addr, flags, placed: a['placed'] === undefined ? undefined : u64(a, 'placed') };
  let r: bigint | string | NotModelled;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) r = mremapTo(c, oldLen, newAddr, newLen);
  else if (oldLen >= newLen) {
    // Shrinking always works: the tail is unmapped (wherever it lies).
    const e = oldLen === newLen ? 0 : unmap(c, addr + newLen, oldLen - newLen);
    r = e || addr;
  } else r = grow(c, oldLen, newLen);
  if (typeof r !== 'bigint') {
    // An error after an unmapping keeps it (mremap_to unmaps the target and the tail first).
    return [c.mm === p.mm ? w : { ...c.w, procs: c.w.procs.set(pid, { ...p, mm: c.mm }) }, typeof r === 'string' ? { errno: r } : { ...r }];
  }
  newAddr = r;
  const moved: World = { ...c.w, procs: c.w.procs.set(pid, { ...p, mm: c.mm }) };
  // A locked mapping's growth is faulted in (mm_populate, errors ignored); when that is too much
  // for one event, the call is refused with nothing changed.
  if (!((vma.flags ?? 0) & VM_LOCKED) || newLen <= oldLen) return [moved, { errno: 0, ret: Number(newAddr) }];
  const tooBig = tooMuchToFaultIn(moved.procs.get(pid)!.mm, newAddr + oldLen, newAddr + newLen);
  if (tooBig) return [w, tooBig];
  const [populated, big] = populate(moved, pid, newAddr + oldLen, newAddr + newLen, true);
  return [populated, big ?? { errno: 0, ret: Number(newAddr) }];
}

/** do_vmi_munmap inside mremap: the call's map (and memory) as it leaves them, even when it refuses (a split kept). */
function unmap(c: Call, va: bigint, length: bigint): 0 | 'EINVAL' {
  const u = munmapFreeing(c.mm, c.w.mem, va, length);
  c.mm = u.mm;
  if (u.mem !== c.w.mem) c.w = { ...c.w, mem: u.mem };
  return u.errno;
}

/** Growing without FIXED: in place when the VMA ends there and nothing follows, else a move if MAYMOVE. */
function grow(c: Call, oldLen: bigint, newLen: bigint): bigint | string | NotModelled {
  const vma = vmaToResize(c, oldLen, newLen);
  if (typeof vma === 'string' || !('start' in vma)) return vma;
  if (oldLen === vma.end - c.addr) {
    const end = vma.end + (newLen - oldLen);
    // vma_expandable: no VMA in the way, and the end inside the address space
    const next = c.mm.vmas.ceil(vma.end)?.[1];
    if (end <= TASK_SIZE && (!next || next.start >= end)) {
      grownTo(c, vma, end);
      return c.addr;
    }
  }
  if (!(c.flags & MREMAP_MAYMOVE)) return 'ENOMEM';
  const at = placement(c, oldLen, newLen);
  return typeof at === 'bigint' ? moveVma(c, vma, oldLen, newLen, at) : at;
}

/** mremap_to: FIXED (the target unmapped first) or DONTUNMAP. */
function mremapTo(c: Call, oldLen: bigint, newAddr: bigint, newLen: bigint): bigint | string | NotModelled {
  const addr = c.addr;
  if (newAddr % PAGE_SIZE) return 'EINVAL';
  if (newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) return 'EINVAL';
  // the old and new ranges must not overlap
  if (addr + oldLen > newAddr && newAddr + newLen > addr) return 'EINVAL';
  if (c.flags & MREMAP_FIXED) {
    const e = unmap(c, newAddr, newLen);
    if (e) return e;
  }
  if (oldLen > newLen) {
    const e = unmap(c, addr + newLen, oldLen - newLen);
    if (e) return e;
    oldLen = newLen;
  }
  const vma = vmaToResize(c, oldLen, newLen);
  if (typeof vma === 'string' || !('start' in vma)) return vma;
  if (!(c.flags & MREMAP_FIXED)) {
    const at = placement(c, oldLen, newLen);
    if (typeof at !== 'bigint') return at;
    newAddr = at;
  }
  return moveVma(c, vma, oldLen, newLen, newAddr);
}

/** vma_to_resize: the VMA at `addr`, if [addr, addr + oldLen) can become newLen bytes. */
function vmaToResize(c: Call, oldLen: bigint, newLen: bigint): Vma | string | NotModelled {
  const vma = vmaAt(c.mm, c.addr);
  if (!vma) return 'EFAULT';
  // old_len 0 duplicates a shared mapping; of a private one it would make an unrelated one
  if (!oldLen && !vma.shared) return 'EINVAL';
  // a hugetlb VMA is VM_DONTEXPAND
  const dontExpand = isHugetlbVma(c.w.mem, vma);
  if (c.flags & MREMAP_DONTUNMAP && dontExpand) return 'EINVAL';
  // no remapping across VMAs
  if (oldLen > vma.end - c.addr) return oldLen > mayReach(c.mm, c.w.mem, vma) - c.addr ? 'EFAULT' : MERGED;
  if (newLen === oldLen) return vma;
  if (dontExpand) return 'EFAULT';
  // (a locked VMA grows only as far as RLIMIT_MEMLOCK allows: mlock_future_ok)
  if (!mlockFutureOk({ ...c.w.procs.get(c.pid)!, mm: c.mm }, vma.flags ?? 0, newLen - oldLen)) return 'EAGAIN';
  return vma;
}

/** The model's pieces of [start, end), clipped to it. */
function piecesOf(mm: Mm, start: bigint, end: bigint): Vma[] {
  return vmasIn(mm, start, end).map((v) => {
    const s = v.start > start ? v.start : start;
    return { ...v, start: s, end: v.end < end ? v.end : end, offset: v.offset + (s - v.start) };
  });
}

/** The trace's word for where the kernel moved a mapping on its own, if it is a place the kernel could have chosen. */
function placement(c: Call, oldLen: bigint, newLen: bigint): bigint | NotModelled {
  const at = c.placed;
  if (at === undefined) return PLACED;
  if (at % PAGE_SIZE || newLen > TASK_SIZE || at > TASK_SIZE - newLen || (c.addr + oldLen > at && at + newLen > c.addr)) return BAD_PLACE;
  return at;
}

/**
 * move_vma: [addr, addr + oldLen) is mapped at newAddr with the same pages
 * (each piece its object and offsets: pins and contents follow), then grown
 * to newLen. The old range is unmapped; with DONTUNMAP it stays mapped,
 * empty: private memory gets new zero pages there (and is a VMA of its own),
 * a shared mapping shows the file again.
 */
function moveVma(c: Call, vma: Vma, oldLen: bigint, newLen: bigint, newAddr: bigint): bigint {
  const addr = c.addr;
  const pieces = piecesOf(c.mm, addr, addr + oldLen);
  let mm = c.mm;
  // A locked VMA is split at the old range first, which then loses its lock flags: its locked
  // pages are the new VMA's now (move_vma; locked_vm does not change).
  const locked = ((vma.flags ?? 0) & VM_LOCKED) !== 0;
  if (oldLen) {
    if (!(c.flags & MREMAP_DONTUNMAP)) mm = unmapRange(mm, addr, addr + oldLen);
    else if (vma.shared) {
      // (split off, a locked VMA's old range loses its lock flags by vm_flags_clear, which merges
      // nothing: a VMA of its own, however alike its neighbours now are, so it gets its own tag)
      if (locked) {
        const [mem, tag] = newTag(c.w.mem);
        c.w = { ...c.w, mem };
        for (const x of pieces) mm = mapVma(mm, { ...withFlags(x, (x.flags ?? 0) & ~VM_LOCKED_MASK), link: tag });
      }
    } else {
      // The old range stays part of its VMA (move_vma with DONTUNMAP splits nothing: a read
      // fault next to it maps the huge zero page over 2 MiB across it, seed 84), with new pages,
      // as after a DONTNEED: one new object for all of it, its pieces tagged as one VMA with
      // the rest (madvise.ts dontneed). (Pieces whose offsets do not line up each get one.)
      const first = pieces[0];
      const inLine = first !== undefined && pieces.every((p) => p.offset - p.start === first.offset - first.start);
      let [mem, whole] = inLine ? withNewPages(c.w.mem, { ...first, end: addr + oldLen }) : [c.w.mem, undefined];
      // (all of the VMA moved, or a locked one's range split off: it lets go of its anon_vma,
      // unlink_anon_vmas, and an anonymous one takes its address as page offset again, as
      // unfaulted anonymous VMAs have: move_vma)
      const all = locked || (vma.start === addr && vma.end === addr + oldLen);
      // (split off, a locked VMA's old range is a VMA of its own: its own tag. So is a whole VMA
      // that let go of its anon_vma: alike now with a neighbour it had not merged with for want of
      // one, it still does not merge, aimed vma_locks 1202/1364)
      let tag = all ? undefined : (vma.link ?? (whole ? (whole.cow ?? whole.mobj) : undefined));
      if (tag === undefined) [mem, tag] = newTag(mem);
      c.w = { ...c.w, mem };
      if (vma.link === undefined && !all) mm = mapVma(mm, { ...vma, link: tag });
      const unfaulted = ({ anon: _a, anonForked: _f, ...rest }: Vma): Vma => (vmaHasFile(c.w.mem, rest) ? rest : { ...rest, pgoffDelta: rest.start - rest.offset });
      for (const piece of pieces) {
        const x = locked ? withFlags(piece, (piece.flags ?? 0) & ~VM_LOCKED_MASK) : piece;
        const p = all ? unfaulted(x) : x;
        let left: Vma;
        if (whole) left = whole.cow !== undefined ? { ...p, cow: whole.cow } : { ...p, mobj: whole.mobj };
        else {
          let mem: typeof c.w.mem;
          [mem, left] = withNewPages(c.w.mem, p);
          c.w = { ...c.w, mem };
        }
        mm = mapVma(mm, { ...left, link: tag });
      }
    }
  }
  // The moved pages are a new VMA (copy_vma): its pieces are tagged as one, and apart from the
  // old VMA's pieces (moved right next to them, they are still two VMAs: #44 in docs/oracle.md).
  // (a piece of a tagged VMA is tagged anew too: a tag may be an object's id, madvise.ts dontneed,
  // and the piece untagged would count as one VMA with every piece of that tag: seed 205)
  let dest: number | undefined;
  if (pieces.length > 1 || pieces.some((p) => p.link !== undefined)) {
    let mem: typeof c.w.mem;
    [mem, dest] = newTag(c.w.mem);
    c.w = { ...c.w, mem };
  }
  // An anonymous VMA without an anon_vma takes its new address as page offset (copy_vma), and
  // the new VMA merges with its new neighbours as a new mapping would (vma_merge.ts).
  const moved: Vma[] = [];
  for (const { link: _old, ...p } of pieces) {
    const start = p.start - addr + newAddr;
    const fresh = p.anon === undefined && !vmaHasFile(c.w.mem, p);
    const v: Vma = { ...p, start, end: p.end - addr + newAddr, ...(dest !== undefined ? { link: dest } : {}), ...(fresh ? { pgoffDelta: start - p.offset } : {}) };
    moved.push(v);
    mm = mapVma(mm, v);
  }
  // copy_vma makes the new VMA newLen long before it merges it with its neighbours: the growth is
  // part of what merges (a move that grows into the start of a mapping merges with it; seed 302)
  let range = moved;
  if (newLen > oldLen) {
    const p = pieces[pieces.length - 1];
    const last = p ? { ...p, start: p.start - addr + newAddr, end: p.end - addr + newAddr } : { ...vma, start: newAddr, end: newAddr, offset: vma.offset + (addr - vma.start) };
    c.mm = mm;
    grownTo(c, last, newAddr + newLen, false);
    mm = c.mm;
    range = piecesOf(mm, newAddr, newAddr + newLen);
  }
  let mem: typeof c.w.mem;
  // (not with the VMA a DONTUNMAP move keeps, when it has no anon_vma: copy_vma keeps the two apart;
  // of a locked VMA that is the old range alone, split off first, and what was split from it may
  // merge: aimed vma_locks 1701/0005, a page moved to just past its VMA's end merged with the rest)
  const keptFrom = locked ? addr : vma.start;
  const keptTo = locked ? addr + oldLen : vma.end;
  const kept = c.flags & MREMAP_DONTUNMAP && pieces[0]?.anon === undefined ? (x: Vma) => x.start >= keptFrom && x.end <= keptTo : undefined;
  [mm, mem] = mergeNew(mm, c.w.mem, range.map((v) => mm.vmas.get(v.start) ?? v), kept);
  c.w = { ...c.w, mem };
  // The page tables move too (huge_memory.ts); the old range's go where no VMA is left.
  c.mm = settle(movePmds(mm, addr, oldLen, newAddr), addr, addr + oldLen);
  return newAddr;
}

/**
 * What a mapping grown to `end` has past `from` (its old end): the same
 * object at the next offsets. Private memory there has no pages of its own
 * yet, and the model names private pages by their object and offset, so the
 * growth gets a new object (anonymous memory) or a new private-copy object (a
 * private file mapping): the offsets past the old end may be another piece's
 * of the same object, since moved or shrunk.
 */
function grownTo(c: Call, v: Vma, end: bigint, merge = true): void {
  const from = v.end;
  const start = vmaStartOf(c.mm, v);
  const ext: Vma = { ...v, start: from, end, offset: v.offset + (from - v.start) };
  if (v.shared) c.mm = mapVma(c.mm, ext);
  else {
    const [mem, grown] = withNewPages(c.w.mem, ext, end - from);
    c.w = { ...c.w, mem };
    // One kernel VMA: every piece of the grown mapping gets one tag (the new object's id, unique).
    const tag = grown.cow ?? grown.mobj;
    let mm = c.mm;
    for (const p of piecesOf(mm, start, from)) mm = mapVma(mm, { ...p, link: tag });
    c.mm = mapVma(mm, { ...grown, link: tag });
  }
  // Grown in place, the VMA merges with the one its new end meets where they agree (mremap's
  // vma_merge_extend), never with the one before it, which the extension does not meet (aimed
  // vma_merges 943/0127: a VMA without an anon_vma grown next to one with); a move's growth merges
  // with the moved VMA's (copy_vma: moveVma).
  if (merge) {
    const [mm, mem] = mergeNew(c.mm, c.w.mem, piecesOf(c.mm, start, end), (x) => x.end <= start);
    c.mm = mm;
    c.w = { ...c.w, mem };
  }
}

/** Where the kernel VMA that ends at v.end starts (v may be the last piece of several). */
function vmaStartOf(mm: Mm, v: Vma): bigint {
  return v.end > v.start ? (vmaAt(mm, v.end - 1n)?.start ?? v.start) : v.start;
}
