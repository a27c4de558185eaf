/**
 * madvise(2) (mm/madvise.c, 6.12): what a VMM does to its guest RAM besides
 * mapping it. QEMU marks guest RAM MADV_DONTFORK (a child must not share
 * pages a device DMAs into) and MADV_HUGEPAGE; virtio-mem and the balloon
 * give memory back with MADV_REMOVE (shared) or MADV_DONTNEED (private).
 *
 * The order of do_madvise: an advice the kernel does not know, an unaligned
 * start, a wrapping range: EINVAL; an empty range: 0; then
 * madvise_walk_vmas visits each VMA the range meets, in address order,
 * stopping at the first error (what the VMAs before it got stays done) and
 * answering ENOMEM at the end when part of the range is not mapped.
 */
import type { Fields, Result } from '../events/event.js';
import { table } from '../ds/table.js';
import { u64 } from './args.js';
import { PAGE_SIZE, vmaHugeSize, U64_MAX, VM_LOCKED, VM_NO_MAYWRITE, findVma, pageAlign, withFlags, VM_DONTCOPY, VM_DONTDUMP, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_RAND_READ, VM_SEQ_READ, VM_WIPEONFORK, isHugetlbVma, mapVma, vmaHasFile, withNewPages, type Vma } from './mm.js';
import { punchHole } from './fallocate.js';
import { coldSplit, folioMappings, settle, zap } from './huge_memory.js';
import { kernelVmaPieces, mergeChanged, splitKernelVma } from './vma_merge.js';
import { physPinned } from './pages.js';
import { faultInVma, tooMuchToFaultIn } from './mlock.js';
import type { Proc, World } from './state.js';

/** The advice values (include/uapi/asm-generic/mman-common.h). */
export const MADV: Readonly<Record<string, number>> = table({
  NORMAL: 0, RANDOM: 1, SEQUENTIAL: 2, WILLNEED: 3, DONTNEED: 4, FREE: 8, REMOVE: 9, DONTFORK: 10, DOFORK: 11,
  MERGEABLE: 12, UNMERGEABLE: 13, HUGEPAGE: 14, NOHUGEPAGE: 15, DONTDUMP: 16, DODUMP: 17, WIPEONFORK: 18,
  KEEPONFORK: 19, COLD: 20, PAGEOUT: 21, POPULATE_READ: 22, POPULATE_WRITE: 23, DONTNEED_LOCKED: 24, COLLAPSE: 25,
  HWPOISON: 100, SOFT_OFFLINE: 101, GUARD_INSTALL: 102, GUARD_REMOVE: 103,
});

/**
 * Advice whose answer depends on how the kernel was configured, which a
 * trace does not say: the model answers them as not modelled rather than
 * guess (CONFIG_KSM, CONFIG_MEMORY_FAILURE: without them, EINVAL).
 */
const BY_CONFIG: Readonly<Record<number, string>> = table({
  12: 'MADV_MERGEABLE (CONFIG_KSM)',
  13: 'MADV_UNMERGEABLE (CONFIG_KSM)',
  100: 'MADV_HWPOISON (CONFIG_MEMORY_FAILURE)',
  101: 'MADV_SOFT_OFFLINE (CONFIG_MEMORY_FAILURE)',
});

/** Advice the kernel knows and the model does not carry out, with why. */
const NOT_MODELLED: Readonly<Record<number, string>> = table({
  25: 'MADV_COLLAPSE (transparent huge pages) is not modelled',
  102: 'MADV_GUARD_INSTALL (guard regions) is not modelled',
  103: 'MADV_GUARD_REMOVE (guard regions) is not modelled',
});

/** madvise_behavior_valid, for the advice the model answers itself (6.12 knows no guard regions). */
function known(behavior: number, kernel: string): boolean {
  if (behavior === MADV.GUARD_INSTALL || behavior === MADV.GUARD_REMOVE) return kernel !== '6.12';
  return (behavior >= 0 && behavior <= 4) || (behavior >= 8 && behavior <= 25);
}


/** The name of an advice value (MADV_ left off), if it has one. */
export function adviceName(n: number): string | undefined {
  return Object.keys(MADV).find((k) => MADV[k] === n);
}

/** The advice an event names, a name (a capture's advice_name) or the number: its value, or why there is none. */
export function adviceOf(a: Fields): number | string {
  const v = a['advice'];
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  const name = String(v ?? '').replace(/^MADV_/, '');
  return Object.hasOwn(MADV, name) ? MADV[name]! : `madvise: unknown advice ${JSON.stringify(v)}`;
}

interface Walk {
  w: World;
  pid: number;
  /** The whole range advised (a visit sees its VMA's part of it). */
  range: readonly [bigint, bigint];
  /** Set by a VMA's visit that the kernel carries out in a way the model does not know: why. */
  unmodelled?: string;
}

export function madvise(w: World, pid: number, a: Fields): [World, Result] {
  const behavior = adviceOf(a);
  if (typeof behavior === 'string') return [w, { errno: 'EINVAL', unmodelled: behavior }];
  if (Object.hasOwn(BY_CONFIG, behavior)) return [w, { errno: 'EINVAL', unmodelled: `${BY_CONFIG[behavior]}: the answer depends on the kernel's configuration` }];
  if (!known(behavior, w.kernel)) return [w, { errno: 'EINVAL' }];
  const start = u64(a, 'va');
  const raw = u64(a, 'length');
  if (start % PAGE_SIZE) return [w, { errno: 'EINVAL' }];
  const len = pageAlign(raw);
  // len rounded up from a huge value to 0, or start + len past 2^64
  if ((raw && !len) || start + len > U64_MAX) return [w, { errno: 'EINVAL' }];
  if (len === 0n) return [w, { errno: 0 }];
  if (behavior === MADV.POPULATE_READ || behavior === MADV.POPULATE_WRITE) return populate(w, pid, start, start + len, behavior === MADV.POPULATE_WRITE);
  const why = NOT_MODELLED[behavior];
  if (why) return [w, { errno: 0, unmodelled: why }];
  const s: Walk = { w, pid, range: [start, start + len] };
  const errno = walkVmas(s, start, start + len, behavior);
  // (VMAs split inside a transparent huge page split its mapping: huge_memory.ts; a VMA whose
  // flags changed merges with neighbours it now agrees with: vma_merge.ts)
  const p = s.w.procs.get(pid);
  if (p && s.w !== w) {
    const [mm, mem] = mergeChanged(w.procs.get(pid)!.mm, settle(p.mm, start, start + len), s.w.mem, start, start + len);
    if (mem !== s.w.mem) s.w = { ...s.w, mem };
    if (mm !== p.mm) setMm(s, p, mm);
  }
  return [s.w, s.unmodelled ? { errno, unmodelled: s.unmodelled } : { errno }];
}

/**
 * MADV_POPULATE_READ / _WRITE (madvise_populate, faultin_page_range): the
 * range faulted in as GUP does it, page by page the way a CPU access would
 * (read: the huge zero page where a transparent huge page may go; write: a
 * huge page there, and a private file mapping's pages copied, as a store
 * copies them, with their contents of now). QEMU preallocates guest RAM
 * with it. It stops at the first page it cannot fault and keeps what it
 * faulted before: no VMA there is ENOMEM, a VMA that refuses the access
 * EINVAL (check_vma_flags' EFAULT, answered as "incompatible mapping"), a
 * page past the end of its file EFAULT (the fault's SIGBUS).
 */
function populate(w: World, pid: number, start: bigint, end: bigint, write: boolean): [World, Result] {
  const before = w;
  const big = tooMuchToFaultIn(w.procs.get(pid)!.mm, start, end, () => true, () => write);
  if (big) return [w, big];
  for (let pos = start; pos < end; ) {
    const v = findVma(w.procs.get(pid)!.mm, pos);
    if (!v) return [w, { errno: 'ENOMEM' }];
    if (write ? !v.write : !v.read) return [w, { errno: 'EINVAL' }];
    const stop = v.end < end ? v.end : end;
    const [faulted, failed] = faultInVma(w, pid, v, pos, stop, write);
    if (failed === 'eof') return [faulted, { errno: 'EFAULT' }];
    if (failed) return [before, failed];
    w = faulted;
    pos = stop;
  }
  return [w, { errno: 0 }];
}

/** madvise_walk_vmas: each VMA's part of [start, end) in turn; holes make ENOMEM once the rest is done. */
function walkVmas(s: Walk, start: bigint, end: bigint, behavior: number): string | 0 {
  let unmapped: string | 0 = 0;
  for (;;) {
    // find_vma: the first VMA ending above `start`, in the map as the visits before left it
    const mm = s.w.procs.get(s.pid)!.mm;
    const below = mm.vmas.floor(start);
    const v = below && below[1].end > start ? below[1] : mm.vmas.ceil(start)?.[1];
    if (!v) return 'ENOMEM';
    if (start < v.start) {
      unmapped = 'ENOMEM';
      start = v.start;
      if (start >= end) break;
    }
    const tmp = v.end < end ? v.end : end;
    const e = visit(s, v, start, tmp, behavior);
    if (e) return e;
    start = tmp;
    if (start >= end) break;
  }
  return unmapped;
}

function setMm(s: Walk, p: Proc, vmas: Proc['mm']): void {
  s.w = { ...s.w, procs: s.w.procs.set(p.pid, { ...p, mm: vmas }) };
}

/** The advice that only sets vm_flags: the bits it clears, then the bits it sets. */
const FLAG_ADVICE: ReadonlyMap<number, readonly [clear: number, set: number]> = new Map([
  [MADV.NORMAL!, [VM_RAND_READ | VM_SEQ_READ, 0]],
  [MADV.SEQUENTIAL!, [VM_RAND_READ, VM_SEQ_READ]],
  [MADV.RANDOM!, [VM_SEQ_READ, VM_RAND_READ]],
  [MADV.DONTFORK!, [0, VM_DONTCOPY]],
  [MADV.DOFORK!, [VM_DONTCOPY, 0]],
  [MADV.WIPEONFORK!, [0, VM_WIPEONFORK]],
  [MADV.KEEPONFORK!, [VM_WIPEONFORK, 0]],
  [MADV.DONTDUMP!, [0, VM_DONTDUMP]],
  [MADV.DODUMP!, [VM_DONTDUMP, 0]],
  [MADV.HUGEPAGE!, [VM_NOHUGEPAGE, VM_HUGEPAGE]],
  [MADV.NOHUGEPAGE!, [VM_HUGEPAGE, VM_NOHUGEPAGE]],
]);

/** madvise_vma_behavior for one VMA's part [start, end) of the range. */
function visit(s: Walk, v: Vma, start: bigint, end: bigint, behavior: number): string | 0 {
  const w = s.w;
  const flags = v.flags ?? 0;
  switch (behavior) {
    case MADV.REMOVE:
      return remove(s, v, start, end);
    case MADV.WILLNEED:
      // Read-ahead, or swap-in; nothing the model sees. Without a file, the answer is the kernel's configuration's.
      if (!vmaHasFile(w.mem, v)) s.unmodelled = 'MADV_WILLNEED on anonymous memory: 0 with CONFIG_SWAP, EBADF without';
      return 0;
    case MADV.FREE:
      // madvise_dontneed_free_valid_vma, madvise_free_single_vma: anonymous private memory only, not locked.
      if (isHugetlbVma(w.mem, v) || flags & VM_LOCKED || vmaHasFile(w.mem, v)) return 'EINVAL';
      s.unmodelled = 'MADV_FREE: the pages may be freed whenever memory runs short, or kept';
      return 0;
    case MADV.COLD:
    case MADV.PAGEOUT: {
      // can_madv_lru_vma (not hugetlb, not locked); past it, pages may be deactivated or reclaimed,
      // which changes no contents, and a pinned page is never reclaimed. A huge page cut by the range is
      // split, and with PAGEOUT one it covers whole too (reclaim splits it: the model takes there to be no swap).
      if (isHugetlbVma(w.mem, v) || flags & VM_LOCKED) return 'EINVAL';
      const p = w.procs.get(s.pid)!;
      const [mm, mem] = coldSplit(p.mm, w.mem, v, start, end, s.range, (phys) => physPinned(w, phys), (phys) => folioMappings(w, phys, s.pid), behavior === MADV.PAGEOUT);
      if (mm !== p.mm || mem !== w.mem) s.w = { ...w, mem, procs: w.procs.set(p.pid, { ...p, mm }) };
      return 0;
    }
    case MADV.DONTNEED:
    case MADV.DONTNEED_LOCKED:
      return dontneed(s, v, start, end, behavior);
    case MADV.WIPEONFORK:
      // only anonymous private memory
      if (vmaHasFile(w.mem, v)) return 'EINVAL';
      break;
  }
  const change = FLAG_ADVICE.get(behavior);
  if (!change) throw new Error(`model bug: madvise ${behavior} reached the VMA walk`);
  const next = (flags & ~change[0]) | change[1];
  // madvise_update_vma: nothing to do when the flags stay; else the VMA is split at the
  // range's ends, and a hugetlb VMA splits only at a huge-page boundary (hugetlb_vm_op_split).
  if (next === flags) return 0;
  if (isHugetlbVma(w.mem, v) && start > v.start && start % vmaHugeSize(w.mem, v)) return 'EINVAL';
  const p = w.procs.get(s.pid)!;
  if (isHugetlbVma(w.mem, v) && end < v.end && end % vmaHugeSize(w.mem, v)) {
    // (the split at the start came first, and stays)
    const [mm, mem] = splitKernelVma(p.mm, w.mem, start);
    s.w = { ...w, mem };
    setMm(s, p, mm);
    return 'EINVAL';
  }
  const nv: Vma = { ...v, start, end, offset: v.offset + (start - v.start) };
  setMm(s, p, mapVma(p.mm, withFlags(nv, next)));
  return 0;
}

/**
 * MADV_DONTNEED: the next touch of anonymous private memory gets new zero
 * pages, of a private file mapping the file's page (its private copies are
 * dropped); shared memory keeps its pages. A hugetlb VMA takes it only from
 * a huge-page boundary, and only whole huge pages (the end rounds down).
 */
function dontneed(s: Walk, v: Vma, start: bigint, end: bigint, behavior: number): string | 0 {
  // (madvise_dontneed_free_valid_vma: locked memory only takes DONTNEED_LOCKED)
  if (behavior !== MADV.DONTNEED_LOCKED && (v.flags ?? 0) & VM_LOCKED) return 'EINVAL';
  if (isHugetlbVma(s.w.mem, v)) {
    const hs = vmaHugeSize(s.w.mem, v);
    if (start % hs) return 'EINVAL';
    // (whole huge pages only: private ones are dropped, the file's page, or none, shows again)
    end = (end / hs) * hs;
    if (end <= start) return 0;
  }
  if (v.shared) return 0;
  const p = s.w.procs.get(s.pid)!;
  // (a private file mapping's next write copies the file's page anew: another physical page than a pinned old copy)
  const [mem, nv] = withNewPages(s.w.mem, { ...v, start, end, offset: v.offset + (start - v.start) });
  s.w = { ...s.w, mem };
  // The kernel zaps pages and keeps the VMA whole: its pieces here are tagged as one (mm.ts `link`),
  // with the other pieces of that VMA (an mprotect undone leaves it in pieces of one object).
  const tag = v.link ?? nv.cow ?? nv.mobj;
  let mm = p.mm;
  const pieces = kernelVmaPieces(mm, v);
  if (v.link === undefined) for (const x of pieces) mm = mapVma(mm, { ...x, link: tag });
  // A transparent huge page covered whole goes (its entry is empty again), one cut is split. Whole
  // is as the kernel's one VMA sees it, over all its pieces here (zap_pmd_range over the advice's
  // part of it): a huge page across two pieces that the advice covers is emptied, not split by the
  // first piece (oracle, session 29: a write fault there then got a huge page again).
  const first = pieces[0]!.start;
  const last = pieces[pieces.length - 1]!.end;
  const from = s.range[0] > first ? s.range[0] : first;
  const to = s.range[1] < last ? s.range[1] : last;
  setMm(s, p, zap(mapVma(mm, { ...nv, link: tag }), from, to));
  return 0;
}

/**
 * MADV_REMOVE (madvise_remove): a hole punched in the file behind a shared
 * mapping, vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) (fallocate.ts; the range is
 * page-aligned). No file: EINVAL; a mapping that is not shared and may-write
 * (vma_is_shared_maywrite: private, or shared of a file open read-only,
 * whatever its protection now) EACCES. The VMAs before it keep their holes.
 */
function remove(s: Walk, v: Vma, start: bigint, end: bigint): string | 0 {
  if ((v.flags ?? 0) & VM_LOCKED || !vmaHasFile(s.w.mem, v)) return 'EINVAL';
  if (!v.shared || (v.flags ?? 0) & VM_NO_MAYWRITE) return 'EACCES';
  s.w = punchHole(s.w, v.mobj, v.offset + (start - v.start), end - start);
  return 0;
}
