/**
 * mlock(2), mlock2(2), munlock(2), mlockall(2) and munlockall(2)
 * (mm/mlock.c, 6.12), and the populating of locked memory that mmap, mremap
 * and mprotect do (mm/gup.c __mm_populate, populate_vma_page_range).
 *
 * Why an iommufd model needs them: mm->locked_vm is shared. In MM accounting
 * mode (VFIO compat, or IOMMU_OPTION RLIMIT_MODE 1) iommufd charges the pages
 * it pins to the owner's mm->locked_vm against RLIMIT_MEMLOCK, the very count
 * mlock adds to. A VMM that locks guest RAM (QEMU's -overcommit mem-lock=on is
 * mlockall) and then maps it for a device through VFIO pays twice: the same
 * pages count once as locked and once as pinned, and the pin fails with
 * ENOMEM at half the limit one would expect. USER mode (iommufd's default)
 * charges user->locked_vm instead and does not meet mlock at all.
 *
 * The model keeps VM_LOCKED / VM_LOCKONFAULT in Vma.flags; mlock's part of
 * locked_vm is the VM_LOCKED VMAs (mm.ts mlockedPages), and the process's
 * def_flags from mlockall(MCL_FUTURE) are Proc.defLocked. Locking faults the
 * pages in (unless on fault), as a CPU access would: a write fault for a
 * private writable mapping (new pages, maybe transparent huge pages; a
 * private file mapping's pages copied), a read fault otherwise.
 */
import type { Fields, Result } from '../events/event.js';
import { u32, u64 } from './args.js';
import { HPAGE_SIZE, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, U64_MAX, VM_LOCKED, VM_LOCKED_MASK, EXEC_ONLY_READ, execOnly, VM_LOCKONFAULT, eofVa, findVma, isHugetlbVma, mapVma, mlockedPages, pageAlign, RLIM_INFINITY_PAGES, pinPage, vmasIn, withFlags, type Memory, type Mm, type Vma } from './mm.js';
import { fault, mappedElsewhere, settle } from './huge_memory.js';
import { MAX_EVENT_STEPS, MAX_FAULT_UNITS, overLimit } from './limits.js';
import { cowFaultPastEof, mergeChanged } from './vma_merge.js';
import type { Proc, World } from './state.js';

export const MLOCK_ONFAULT = 1;
export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;

const PAGE_MASK = PAGE_SIZE - 1n;

const proc = (w: World, pid: number): Proc => w.procs.get(pid)!;
const withProc = (w: World, p: Proc): World => ({ ...w, procs: w.procs.set(p.pid, p) });

/** can_do_mlock: a non-zero RLIMIT_MEMLOCK, or CAP_IPC_LOCK. */
export const canDoMlock = (p: Proc): boolean => p.memlockPages !== 0n || p.capIpcLock;

/** mm->locked_vm in pages: what iommufd charged in MM mode plus the VM_LOCKED VMAs (an unsigned long). */
export const lockedVmOf = (p: Proc): bigint => BigInt.asUintN(64, p.lockedVm + mlockedPages(p.mm));

/**
 * mlock_future_ok: whether `bytes` more of memory with vm_flags `flags` may
 * be locked (mmap under MCL_FUTURE, mremap growing a locked VMA): EAGAIN
 * when not.
 */
export function mlockFutureOk(p: Proc, flags: number, bytes: bigint): boolean {
  if (!(flags & VM_LOCKED) || p.capIpcLock) return true;
  return BigInt.asUintN(64, (bytes >> PAGE_SHIFT) + lockedVmOf(p)) <= (p.memlockPages ?? RLIM_INFINITY_PAGES);
}

/** `len` bytes of memory too many to fault in within one event (limits.ts MAX_FAULT_UNITS): the not-modelled result, checked before anything changes. */
export const tooMuchToFault = (len: bigint): Result | undefined => overLimit('faulting in', (len + HPAGE_SIZE - 1n) / HPAGE_SIZE, MAX_FAULT_UNITS, '2 MiB units');

/**
 * The same for the mapped part of [start, end) (a range may be mostly holes)
 * of the VMAs `which` picks, checked before anything changes: too many 2 MiB
 * units in all, or too many pages of writable private file mappings in all
 * (each copied, 4 KiB apiece: limits.ts MAX_EVENT_STEPS).
 */
export function tooMuchToFaultIn(mm: Mm, start: bigint, end: bigint, which: (v: Vma) => boolean = () => true, writes: (v: Vma) => boolean = (v) => v.write): Result | undefined {
  let n = 0n;
  let copies = 0n;
  for (const v of vmasIn(mm, start, end)) {
    if (!which(v)) continue;
    const len = (v.end < end ? v.end : end) - (v.start > start ? v.start : start);
    n += len;
    if (v.cow !== undefined && writes(v)) copies += len / PAGE_SIZE;
  }
  return tooMuchToFault(n) ?? overLimit('populating private file mappings for writing', copies, MAX_EVENT_STEPS, 'pages');
}

/** The length mlock and munlock work on: PAGE_ALIGN(len + offset_in_page(start)) in unsigned long (a huge length wraps to a small one). */
const lockLength = (start: bigint, len: bigint): bigint => pageAlign((len + (start & PAGE_MASK)) & U64_MAX);

/** Locked, faulted in (not on fault): what populate faults in. */
export const populated = (v: Vma): boolean => ((v.flags ?? 0) & (VM_LOCKED | VM_LOCKONFAULT)) === VM_LOCKED;

/** vma_supports_mlock: not hugetlb (nor the special VMAs the model has none of). */
const supportsMlock = (mem: Memory, v: Vma): boolean => !isHugetlbVma(mem, v);

/**
 * One VMA's part [from, to) faulted in as GUP does (faultin_page_range,
 * populate_vma_page_range): `write` a write fault (a private file mapping's
 * pages copied), else a read fault. 'eof': a page past the end of its file
 * stopped it (SIGBUS: GUP's EFAULT), the pages before it faulted in; a
 * Result: more pages than the model walks one by one.
 */
export function faultInVma(w: World, pid: number, v: Vma, from: bigint, to: bigint, write: boolean, force = false): [World, 'eof' | Result | undefined] {
  const p = proc(w, pid);
  const eof = eofVa(w.mem, v, from, to);
  const lim = eof ?? to;
  const huge = tooMuchToFault(lim - from);
  if (huge) return [w, huge];
  let mem = w.mem;
  if (write && v.cow !== undefined) {
    const big = overLimit('populating a private file mapping for writing', (lim - from) / PAGE_SIZE, MAX_EVENT_STEPS, 'pages');
    if (big) return [w, big];
    for (let va = from; va < lim; va += PAGE_SIZE) mem = pinPage(p.mm, mem, va, true)!.mem;
  }
  let [mm, faulted] = fault(p.mm, mem, from, lim, write ? 'write' : 'read', (phys) => mappedElsewhere(w, pid, phys), false, force);
  // (the write fault at the file's end prepared the anon_vma all the same)
  if (write && eof !== undefined) [mm, faulted] = cowFaultPastEof(mm, faulted, eof);
  if (mm !== p.mm || faulted !== w.mem) w = { ...w, mem: faulted, procs: w.procs.set(pid, { ...p, mm }) };
  return [w, eof !== undefined ? 'eof' : undefined];
}

/**
 * __mm_populate(start, end - start, ignoreErrors): the VMAs meeting the range
 * (holes skipped), each faulted in unless it locks on fault: a write fault
 * for private writable memory (to break COW), else a read (FOLL_FORCE). A
 * PROT_NONE VMA and a page past the end of a file are EFAULT: the first stops
 * it, or with `ignoreErrors` (mm_populate, after mmap and mremap) moves it on
 * to the next VMA.
 */
export function populate(w: World, pid: number, start: bigint, end: bigint, ignoreErrors: boolean): [World, Result | undefined] {
  let pos = start;
  while (pos < end) {
    const p = proc(w, pid);
    const at = findVma(p.mm, pos);
    const v = at ?? p.mm.vmas.ceil(pos)?.[1];
    if (!v || v.start >= end) break;
    const from = v.start > pos ? v.start : pos;
    const to = v.end < end ? v.end : end;
    pos = to;
    if ((v.flags ?? 0) & VM_LOCKONFAULT) continue;
    // (PROT_NONE: never faulted in, EFAULT; so is a page past the end of a file. Write-only memory
    // is: populate_vma_page_range reads with FOLL_FORCE any VMA that is accessible. Exec-only memory
    // hangs on the CPU (mm.ts execOnly): not modelled where the answer says it, left alone after mmap)
    if (execOnly(v)) {
      if (!ignoreErrors) return [w, { errno: 'ENOMEM', unmodelled: EXEC_ONLY_READ }];
      continue;
    }
    let efault = !v.read && !v.write;
    if (!efault) {
      const [faulted, stopped] = faultInVma(w, pid, v, from, to, v.write && !v.shared, true);
      if (stopped && stopped !== 'eof') return [faulted, stopped];
      w = faulted;
      efault = stopped === 'eof';
    }
    if (efault && !ignoreErrors) return [w, { errno: 'EFAULT' }];
  }
  return [w, undefined];
}

/**
 * apply_vma_lock_flags: VMA by VMA over [start, start + len), each given the
 * lock flags `lock` (mlock_fixup: a hugetlb VMA is left alone, an unchanged
 * one too; a changed one is split at the range's ends and merges with
 * neighbours that now agree). No VMA at `start` is ENOMEM with nothing done;
 * a hole later, or the range running past the last VMA, is ENOMEM after the
 * VMAs before it changed (a kernel partial effect).
 */
function applyLockFlags(w: World, pid: number, start: bigint, len: bigint, lock: number): [World, string | 0] {
  const end = start + len;
  if (end > U64_MAX) return [w, 'EINVAL'];
  if (len === 0n) return [w, 0];
  const p = proc(w, pid);
  if (!findVma(p.mm, start)) return [w, 'ENOMEM'];
  let mm = p.mm;
  let pos = start;
  let errno: string | 0 = 0;
  for (const v of vmasIn(p.mm, start, end)) {
    if (v.start > pos) {
      errno = 'ENOMEM';
      break;
    }
    const to = v.end < end ? v.end : end;
    const flags = v.flags ?? 0;
    const next = (flags & ~VM_LOCKED_MASK) | lock;
    if (next !== flags && supportsMlock(w.mem, v)) mm = mapVma(mm, withFlags({ ...v, start: pos, end: to, offset: v.offset + (pos - v.start) }, next));
    pos = to;
  }
  if (!errno && pos < end) errno = 'ENOMEM';
  if (mm === p.mm) return [w, errno];
  // (a VMA split inside a transparent huge page splits its mapping; changed VMAs merge: vma_merge.ts)
  const [merged, mem] = mergeChanged(p.mm, settle(mm, start, pos), w.mem, start, pos);
  return [withProc(mem === w.mem ? w : { ...w, mem }, { ...p, mm: merged }), errno];
}

/**
 * mlock(2) and mlock2(2) (do_mlock): `flags` is mlock2's (mlock is mlock2
 * with 0). The range is widened to whole pages; locking more than
 * RLIMIT_MEMLOCK allows (counting what is locked already, iommufd's MM-mode
 * charges included, but not twice what the range locks again) is ENOMEM
 * without CAP_IPC_LOCK. The pages are then faulted in: a PROT_NONE VMA or a
 * page past the end of a file stops that with ENOMEM (the EFAULT of GUP, as
 * POSIX names it), the range staying locked.
 */
export function mlock(w: World, pid: number, a: Fields): [World, Result] {
  const flags = a['flags'] === undefined ? 0 : u32(a, 'flags');
  if (flags & ~MLOCK_ONFAULT) return [w, { errno: 'EINVAL' }];
  const lock = flags & MLOCK_ONFAULT ? VM_LOCKED | VM_LOCKONFAULT : VM_LOCKED;
  const p = proc(w, pid);
  if (!canDoMlock(p)) return [w, { errno: 'EPERM' }];
  const raw = u64(a, 'va');
  const len = lockLength(raw, u64(a, 'length'));
  const start = raw & ~PAGE_MASK;
  const limit = p.memlockPages ?? RLIM_INFINITY_PAGES;
  if (!p.capIpcLock) {
    let locked = BigInt.asUintN(64, (len >> PAGE_SHIFT) + lockedVmOf(p));
    if (locked > limit) locked = BigInt.asUintN(64, locked - lockedIn(p, start, len));
    if (locked > limit) return [w, { errno: 'ENOMEM' }];
  }
  const [locked, errno] = applyLockFlags(w, pid, start, len, lock);
  if (errno) return [locked, { errno }];
  // (faulting it all in would be too much for one event: refused with nothing changed)
  const big = lock & VM_LOCKONFAULT ? undefined : tooMuchToFaultIn(proc(locked, pid).mm, start, start + len);
  if (big) return [w, big];
  const [populated, r] = populate(locked, pid, start, start + len, false);
  // (__mlock_posix_error_return: GUP's EFAULT is ENOMEM)
  return [populated, r === undefined ? { errno: 0 } : r.unmodelled ? r : { errno: 'ENOMEM' }];
}

/** count_mm_mlocked_page_nr: the pages of [start, start + len) already in VM_LOCKED VMAs. */
function lockedIn(p: Proc, start: bigint, len: bigint): bigint {
  const end = U64_MAX - len < start ? U64_MAX : start + len;
  let n = 0n;
  for (const v of vmasIn(p.mm, start, end)) {
    if (!((v.flags ?? 0) & VM_LOCKED)) continue;
    n += (v.end < end ? v.end : end) - (v.start > start ? v.start : start);
  }
  return n >> PAGE_SHIFT;
}

/** munlock(2): the lock flags cleared over the range, VMA by VMA as mlock sets them (the same errors, no limit). */
export function munlock(w: World, pid: number, a: Fields): [World, Result] {
  const raw = u64(a, 'va');
  const [w2, errno] = applyLockFlags(w, pid, raw & ~PAGE_MASK, lockLength(raw, u64(a, 'length')), 0);
  return [w2, { errno }];
}

/** Every VMA given the lock flags `lock` (apply_mlockall_flags: mlock_fixup on each, errors ignored). */
function lockAll(w: World, pid: number, lock: number): World {
  const p = proc(w, pid);
  const first = p.mm.vmas.min();
  const last = p.mm.vmas.max();
  if (!first || !last) return w;
  let mm = p.mm;
  p.mm.vmas.each((_s, v) => {
    const flags = v.flags ?? 0;
    const next = (flags & ~VM_LOCKED_MASK) | lock;
    if (next !== flags && supportsMlock(w.mem, v)) mm = mapVma(mm, withFlags(v, next));
    return true;
  });
  if (mm === p.mm) return w;
  const [merged, mem] = mergeChanged(p.mm, mm, w.mem, first[1].start, last[1].end);
  return withProc(mem === w.mem ? w : { ...w, mem }, { ...p, mm: merged });
}

/** The process's def_flags lock bits, set (a new Proc) or cleared. */
function withDefLocked(p: Proc, lock: number): Proc {
  if ((p.defLocked ?? 0) === lock) return p;
  if (lock) return { ...p, defLocked: lock };
  const { defLocked: _drop, ...rest } = p;
  return rest;
}

/**
 * mlockall(2): MCL_FUTURE makes every later mapping locked (def_flags;
 * mmap then checks the limit with EAGAIN and faults the mapping in),
 * MCL_CURRENT locks every VMA now and faults them in. A VMA of the
 * process the trace does not describe (its code, stack, libraries: every
 * real process has them) is locked too, and its pages count in
 * mm->locked_vm and against the limit: with MCL_CURRENT the answer is
 * marked not modelled.
 */
export function mlockall(w: World, pid: number, a: Fields): [World, Result] {
  const flags = u32(a, 'flags');
  if (!flags || flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags === MCL_ONFAULT) return [w, { errno: 'EINVAL' }];
  const p = proc(w, pid);
  if (!canDoMlock(p)) return [w, { errno: 'EPERM' }];
  const onFault = flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0;
  if (!(flags & MCL_CURRENT)) return [withProc(w, withDefLocked(p, VM_LOCKED | onFault)), { errno: 0 }];
  const unknown = 'mlockall(MCL_CURRENT) locks the memory of the process the trace does not describe too (its code, stack, libraries): mm->locked_vm, and the limit check on total_vm, count it';
  // (mm->total_vm <= the limit, or CAP_IPC_LOCK: the model knows only part of total_vm)
  if (p.memlockPages !== null && !p.capIpcLock) return [w, { errno: 'ENOMEM', unmodelled: unknown }];
  // (faulting every VMA in would be too much for one event: refused with nothing changed)
  const big = onFault ? undefined : tooMuchToFaultIn(p.mm, 0n, TASK_SIZE, (v) => supportsMlock(w.mem, v) || isHugetlbVma(w.mem, v));
  if (big) return [w, big];
  const locked = lockAll(withProc(w, withDefLocked(p, flags & MCL_FUTURE ? VM_LOCKED | onFault : 0)), pid, VM_LOCKED | onFault);
  const [populated, r] = populate(locked, pid, 0n, TASK_SIZE, true);
  return [populated, { errno: 0, unmodelled: r?.unmodelled ?? unknown }];
}

/** munlockall(2): nothing locked any more, now or later. */
export function munlockall(w: World, pid: number): [World, Result] {
  const p = proc(w, pid);
  return [lockAll(withProc(w, withDefLocked(p, 0)), pid, 0), { errno: 0 }];
}
