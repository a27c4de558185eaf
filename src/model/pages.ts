/**
 * pages.c: pinned pages and their accounting.
 *
 * A pages object P keeps exactly the page indices S(P) pinned (one pin per
 * page per P): the union of its areas that sit in an IOAS with a domain and
 * of in-kernel access pins (kernel-semantics §4.1). The model stores S(P) as
 * runs with a holder count; a page is pinned (and charged) when its count goes
 * 0 -> 1 and unpinned when it returns to 0. Which physical page a new pin
 * gets is resolved from the owner process's memory map at that moment.
 */
import { PMap } from '../ds/pmap.js';
import { cacheHuge, HPAGE_NR, HPAGE_SIZE, hugeNr, hugeSize, hugetlbfsFault, VM_HUGETLB, PAGE_SHIFT, PAGE_SIZE, writableCopy, eofVa, findVma, folioPieces, gupFastOverflows, mlockedPages, newMobj, OPAQUE_FILE, pinPage, RLIM_INFINITY_PAGES, pinnableFile, privatelyMapped, readNeedsPtes, READ_NEEDS_PTES, UNKNOWN_FILE_SIZE, withPageSet, type PageRef } from './mm.js';
import type { Tx } from './object.js';
import type { AccountMode, Ctx, Pages, PinRun, World } from './state.js';
import { fault, faultIn, foliosIn, mappedElsewhere } from './huge_memory.js';
import { MAX_FAULT_UNITS } from './limits.js';
import { cowFaultPastEof, withAnonVma } from './vma_merge.js';

/**
 * Only a pages object based at or past 2^63 can meet the EOVERFLOW below: one based lower that
 * reaches 2^64 spans more than a chunk (at most TEMP_MEMORY_LIMIT / 8 pages), and a chunk between
 * TASK_SIZE and the last one fails first with EFAULT. A cheap test on the MAP hot path.
 */
const HIGH_HALF = 1n << 63n;

export type PinErrno = 'EFAULT' | 'ENOMEM' | 'EINVAL' | 'EPERM' | 'EOVERFLOW';

/** New pages object for a user VA range (pages.c: iopt_alloc_pages). */
export function newUserPages(tx: Tx, userVa: bigint, length: bigint, writable: boolean): Pages {
  const base = userVa & ~(PAGE_SIZE - 1n);
  const npages = Number((userVa + length - base + PAGE_SIZE - 1n) >> PAGE_SHIFT);
  return {
    id: tx.newPagesId(),
    base,
    npages,
    writable,
    account: accountModeFor(tx),
    ownerPid: tx.pid,
    ownerUid: tx.proc.uid,
    pinned: PMap.emptyNumber<PinRun>(),
    npinned: 0,
    areaRefs: 0,
  };
}

/** A pin run, built in one shape (hot path). */
const run = (last: number, count: number, mobj: number, mobjIndex: number): PinRun => ({ last, count, mobj, mobjIndex });

/**
 * The same pages object with other pin state and area count. Built field by
 * field, not spread: MAP and UNMAP rebuild their pages object several times
 * and object spread is several times slower in V8. File pages keep their
 * memory object as the last field, as newFilePages makes them.
 */
export function pagesWith(p: Pages, pinned: Pages['pinned'], npinned: number, areaRefs: number): Pages {
  if (p.lastNpinned !== undefined) return withLast({ ...p, pinned, npinned, areaRefs }, p.lastNpinned);
  if (p.fileMobj === undefined)
    return { id: p.id, base: p.base, npages: p.npages, writable: p.writable, account: p.account, ownerPid: p.ownerPid, ownerUid: p.ownerUid, pinned, npinned, areaRefs };
  return { id: p.id, base: p.base, npages: p.npages, writable: p.writable, account: p.account, ownerPid: p.ownerPid, ownerUid: p.ownerUid, pinned, npinned, areaRefs, fileMobj: p.fileMobj };
}

/** New pages object for a file range (IOAS_MAP_FILE, 6.14). */
export function newFilePages(tx: Tx, mobj: number, start: bigint, length: bigint, writable: boolean): Pages {
  const base = start & ~(PAGE_SIZE - 1n);
  const npages = Number((start + length - base + PAGE_SIZE - 1n) >> PAGE_SHIFT);
  return { ...newUserPages(tx, start, length, writable), base, npages, fileMobj: mobj };
}

/** The kernel's pages->last_npinned: what the accounting last charged for the object. */
export const lastNpinned = (p: Pages): number => p.lastNpinned ?? p.npinned;

/** The object with last_npinned `last` (kept as a field only where it is not npinned). */
export function withLast(p: Pages, last: number): Pages {
  if (last !== p.npinned) return p.lastNpinned === last ? p : { ...p, lastNpinned: last };
  if (p.lastNpinned === undefined) return p;
  const { lastNpinned: _, ...rest } = p;
  return rest;
}

/**
 * The accounting at the end of a fill (pfn_reader_user_update_pinned):
 * npinned against last_npinned, charged or uncharged, then last_npinned =
 * npinned. Normally that is just the pages the fill pinned; after 6.14's
 * CHANGE_PROCESS failed to uncharge an exited owner (last_npinned 0) it
 * charges every pinned page again. A failure charges nothing and leaves
 * last_npinned as it was.
 */
function updatePinned(tx: Tx, p: Pages, npinned: number): PinErrno | 0 {
  const last = lastNpinned(p);
  if (npinned > last) return charge(tx, p, BigInt(npinned - last));
  if (npinned < last) uncharge(tx, p, BigInt(last - npinned));
  return 0;
}

/** NONE with CAP_IPC_LOCK, else USER, upgraded to MM in an MM-mode context (§4.2). */
function accountModeFor(tx: Tx): AccountMode {
  if (tx.proc.capIpcLock) return 'none';
  return tx.ctx.accountMode === 'mm' ? 'mm' : 'user';
}

/**
 * Add one holder to indices [first, last] of pages `id`; pins and charges
 * the pages that were not pinned yet. On error the Tx is left half-done:
 * callers fail the whole ioctl, which discards it. `fill`: the kernel reads
 * the range through a pfn_reader and settles the accounting at its end
 * (a domain fill, an access's xarray fill); a split's extra holder on its
 * shared page is no fill, nor an access reusing an exact access range.
 */
export function pagesAddRange(tx: Tx, id: number, first: number, last: number, fill = true, beforeCharge?: () => PinErrno | 0): PinErrno | 0 {
  let p = tx.pages(id);
  let runs = p.pinned;
  const gaps: [number, number][] = [];
  const hit: [number, PinRun][] = [];
  const before = runs.lower(first);
  if (before && before[1].last >= first) hit.push(before);
  runs.each(
    (k, r) => {
      hit.push([k, r]);
      return true;
    },
    first,
    last,
  );
  let pos = first;
  for (const [s, r] of hit) {
    if (s > pos) gaps.push([pos, s - 1]);
    runs = runs.delete(s);
    if (s < first) runs = runs.set(s, run(first - 1, r.count, r.mobj, r.mobjIndex));
    const lo = Math.max(s, first);
    const hi = Math.min(r.last, last);
    runs = runs.set(lo, run(hi, r.count + 1, r.mobj, r.mobjIndex + (lo - s)));
    if (r.last > last) runs = runs.set(last + 1, run(r.last, r.count, r.mobj, r.mobjIndex + (last + 1 - s)));
    pos = hi + 1;
  }
  if (pos <= last) gaps.push([pos, last]);
  let added = 0;
  for (const [a, b] of gaps) {
    const res = resolveRuns(tx, p, a, b);
    if (typeof res === 'string') return res;
    for (const [s, r] of res) runs = runs.set(s, r);
    added += b - a + 1;
  }
  // (what fails between the pins and the accounting: a fill maps the pinned pages into its domain
  // before pfn_reader_update_pinned charges them)
  const refused = beforeCharge?.();
  if (refused) return refused;
  const npinned = p.npinned + added;
  // A fill settles the accounting against last_npinned (normally: charges what it pinned). Where a
  // CHANGE_PROCESS or an exited owner left last_npinned off npinned, a failed settle is undone as the
  // dropped transaction has it (the kernel unpins what the fill pinned, last_npinned stays), but one
  // that went through is not when the ioctl fails later (Tx.skewSettled). A split's or a reused
  // access's extra holder pins nothing and settles nothing.
  const skewed = p.lastNpinned !== undefined;
  if (fill || !skewed) {
    if (skewed && !added && p.account === 'mm') return hangs(tx);
    const e = updatePinned(tx, p, npinned);
    if (e) return e;
    if (skewed) tx.skewSettled = true;
  }
  const cur = tx.pages(id);
  const q = pagesWith(cur, runs, npinned, cur.areaRefs);
  tx.putPages(fill ? withLast(q, npinned) : q);
  return 0;
}

/**
 * An MM-mode fill that pinned nothing itself (every page came from a domain
 * or an access) while last_npinned is off npinned: its pfn_reader_user never
 * pinned, so `user->locked` is still -1, and update_mm_locked_vm takes that
 * for a held mmap lock: it releases a lock it does not hold and then waits
 * for the write lock for good. The ioctl hangs; not modelled.
 */
function hangs(tx: Tx): PinErrno {
  tx.beyondModel = 'a fill that pins nothing while the pin accounting is off (an exited owner, CHANGE_PROCESS): update_mm_locked_vm releases an mmap lock it does not hold (user->locked is -1), and the ioctl hangs';
  return 'EINVAL';
}

/**
 * A fill over pages already pinned (a second domain's, iopt_fill_domain):
 * nothing pinned, but the accounting is settled at its end all the same,
 * which matters only where last_npinned fell behind.
 */
export function pagesRefill(tx: Tx, id: number): PinErrno | 0 {
  const p = tx.pages(id);
  if (p.lastNpinned === undefined) return 0;
  if (p.account === 'mm') return hangs(tx);
  const e = updatePinned(tx, p, p.npinned);
  if (e) return e;
  tx.skewSettled = true;
  tx.putPages(withLast(tx.pages(id), p.npinned));
  return 0;
}

/** Drop one holder from indices [first, last]; unpins and uncharges pages left without holders. */
export function pagesRemoveRange(tx: Tx, id: number, first: number, last: number): void {
  const p = tx.pages(id);
  let runs = p.pinned;
  const hit: [number, PinRun][] = [];
  const before = runs.lower(first);
  if (before && before[1].last >= first) hit.push(before);
  runs.each(
    (k, r) => {
      hit.push([k, r]);
      return true;
    },
    first,
    last,
  );
  let removed = 0;
  let covered = 0;
  for (const [s, r] of hit) {
    runs = runs.delete(s);
    if (s < first) runs = runs.set(s, run(first - 1, r.count, r.mobj, r.mobjIndex));
    const lo = Math.max(s, first);
    const hi = Math.min(r.last, last);
    covered += hi - lo + 1;
    if (r.count > 1) runs = runs.set(lo, run(hi, r.count - 1, r.mobj, r.mobjIndex + (lo - s)));
    else removed += hi - lo + 1;
    if (r.last > last) runs = runs.set(last + 1, run(r.last, r.count, r.mobj, r.mobjIndex + (last + 1 - s)));
  }
  if (covered !== last - first + 1) throw new Error(`model bug: unpin of unpinned pages ${first}..${last} of pages ${id}`);
  unpinned(tx, p, runs, p.npinned - removed);
}

/** Unpin and uncharge everything a pages object holds (its last area is going away). */
export function dropAllPins(tx: Tx, id: number): void {
  const p = tx.pages(id);
  if (!p.npinned) return;
  unpinned(tx, p, PMap.emptyNumber<PinRun>(), 0);
}

/**
 * The accounting after an unfill (update_unpinned): what last_npinned holds
 * beyond npinned is uncharged. Where last_npinned fell behind npinned
 * (CHANGE_PROCESS's failed uncharge) the kernel WARNs and uncharges
 * nothing, and last_npinned stays. So it does where an MM-mode owner has
 * exited: update_mm_locked_vm's mmget_not_zero of its mm fails (EINVAL,
 * which update_unpinned ignores), and last_npinned stays above npinned
 * (a later CHANGE_PROCESS charges it, a fill settles it).
 */
function unpinned(tx: Tx, p: Pages, runs: Pages['pinned'], npinned: number): void {
  const last = lastNpinned(p);
  const q = pagesWith(p, runs, npinned, p.areaRefs);
  if (npinned < last && !(p.account === 'mm' && !tx.w.procs.get(p.ownerPid)?.alive)) {
    tx.putPages(withLast(q, npinned));
    uncharge(tx, p, BigInt(last - npinned));
  } else tx.putPages(withLast(q, last));
}

/** The physical page behind pinned index `idx` of a pages object, if pinned. */
export function pinnedPage(p: Pages, idx: number): PageRef | undefined {
  const e = p.pinned.floor(idx);
  if (!e || e[1].last < idx) return undefined;
  return { mobj: e[1].mobj, index: e[1].mobjIndex + (idx - e[0]) };
}

/**
 * Resolve indices [a, b] to physical pages as GUP (or memfd_pin_folios) would
 * at this moment: EFAULT when the owner process is gone or a page is not
 * mapped / not writable for a writable pages object.
 */
function resolveRuns(tx: Tx, p: Pages, a: number, b: number): [number, PinRun][] | PinErrno {
  const out: [number, PinRun][] = [];
  if (p.fileMobj !== undefined) {
    const m = tx.w.mem.mobjs.get(p.fileMobj)!;
    // mm/gup.c:memfd_pin_folios: shmem or hugetlbfs only; the range must lie inside i_size.
    if (m.name === OPAQUE_FILE) {
      tx.beyondModel = `a pin of ${OPAQUE_FILE} (shmem or hugetlbfs pins, anything else is EINVAL)`;
      return 'EINVAL';
    }
    if (!pinnableFile(m)) return 'EINVAL';
    if (m.size === UNKNOWN_FILE_SIZE) {
      tx.beyondModel = `a pin of ${m.name ?? 'a file'}, whose size before the trace is not known (its end decides EINVAL)`;
      return 'EINVAL';
    }
    const endByte = p.base + BigInt(b + 1) * PAGE_SIZE - 1n;
    if (endByte >= m.size) return 'EINVAL';
    // (memfd_pin_folios puts a hugetlbfs file's pages in its cache, which a private mapping of it
    // shares from: the model follows the cache of a file the trace made, mm.ts Mobj.hugetlbfs; the
    // pages stay there when the ioctl then fails, as faults do)
    if (m.hugetlbfs) {
      const hs = hugeSize(m);
      const first = Number((p.base + BigInt(a) * PAGE_SIZE) / hs);
      const last = Number(endByte / hs);
      const cache = (w: World): World => {
        const f = w.mem.mobjs.get(m.id)!;
        const n = cacheHuge(f, first, last);
        return n === f ? w : { ...w, mem: { ...w.mem, mobjs: w.mem.mobjs.set(m.id, n) } };
      };
      const next = cache(tx.w);
      if (next !== tx.w) {
        tx.setWorld(next);
        tx.noteFault(cache);
      }
    } else if (m.kind === 'hugetlb' && !m.mayCache) {
      if (privatelyMapped(tx.w.procs, m.id)) {
        tx.beyondModel = 'a pin of a hugetlbfs file that is mapped privately (which pages the private mapping shares with it hangs on the cache)';
        return 'EINVAL';
      }
      const cached = (w: World): World => ({ ...w, mem: { ...w.mem, mobjs: w.mem.mobjs.set(m.id, { ...w.mem.mobjs.get(m.id)!, mayCache: true }) } });
      tx.setWorld(cached(tx.w));
      tx.noteFault(cached);
    }
    out.push([a, { last: b, count: 1, mobj: m.id, mobjIndex: Number(p.base >> PAGE_SHIFT) + a }]);
    return out;
  }
  const owner = tx.w.procs.get(p.ownerPid);
  if (!owner || !owner.alive) return 'EFAULT';
  // pfn_reader_user_pin: the owner itself pins with pin_user_pages_fast, in chunks of as many
  // pages as its buffer holds (the span, at most TEMP_MEMORY_LIMIT / 8). gup_fast_fallback
  // refuses a chunk whose end passes 2^64 with EOVERFLOW before its TASK_SIZE check (EFAULT).
  // Another process pins remotely (pin_user_pages_remote), which has no such check: EFAULT on
  // the missing VMA. Only a pages object ending at 2^64 gets here, its chunk in the first one.
  if (p.base >= HIGH_HALF && tx.pid === p.ownerPid) {
    const chunk = Math.min(b - a + 1, Math.max(1, Math.floor(tx.w.testMemoryLimit / 8)));
    if (gupFastOverflows(p.base + BigInt(a) * PAGE_SIZE, chunk)) return 'EOVERFLOW';
  }
  let mm = owner.mm;
  let mem = tx.w.mem;
  let err: PinErrno | undefined;
  let idx = a;
  // 2 MiB units of private memory this pin faults in: past limits.ts MAX_FAULT_UNITS the model does
  // not follow it (the kernel would allocate terabytes, and fail somewhere on the way)
  let units = 0n;
  while (idx <= b) {
    const va = p.base + BigInt(idx) * PAGE_SIZE;
    const vma = findVma(mm, va);
    if (!vma || (p.writable ? !vma.write : !vma.read)) {
      // (the owner's own pin goes by pin_user_pages_fast first; another process's is remote, the slow path)
      if (vma && !p.writable && tx.pid === p.ownerPid && readNeedsPtes(vma)) tx.beyondModel = READ_NEEDS_PTES;
      // The fast path takes the writable entries of a forked child's copies of pinned huge pages
      // (mm.ts VM_WRITABLE_COPIES), up to the first page without one, where the slow path refuses.
      let k = idx;
      if (vma && p.writable && tx.pid === p.ownerPid) while (k <= b && p.base + BigInt(k) * PAGE_SIZE < vma.end && writableCopy(mem, vma, p.base + BigInt(k) * PAGE_SIZE)) k++;
      if (vma && k > idx) {
        out.push([idx, { last: k - 1, count: 1, mobj: vma.cow ?? vma.mobj, mobjIndex: Number((vma.offset + (va - vma.start)) >> PAGE_SHIFT) }]);
        idx = k;
        continue;
      }
      err = 'EFAULT';
      break;
    }
    const inVma = Number((vma.end - va) >> PAGE_SHIFT);
    const end = Math.min(b, idx + inVma - 1);
    if (vma.cow !== undefined) {
      // MAP_PRIVATE file: every long-term pin unshares its page (§13.5).
      const mem0 = mem;
      let i = idx;
      for (; i <= end; i++) {
        const r = pinPage(mm, mem, p.base + BigInt(i) * PAGE_SIZE, p.writable);
        if (!r) break;
        mem = r.mem;
        out.push([i, { last: i, count: 1, mobj: r.page.mobj, mobjIndex: r.page.index }]);
      }
      if (mem !== mem0) {
        // (a copy made: the VMA has an anon_vma from now on, vma_merge.ts)
        [mm, mem] = withAnonVma(mm, mem, vma);
        tx.noteFault(unshareAgain(owner.pid, va, p.base + BigInt(i) * PAGE_SIZE, p.writable));
      }
      if (i <= end) {
        // (a write pin that met the file's end prepared the anon_vma all the same)
        const stop = p.base + BigInt(i) * PAGE_SIZE;
        const [mm1, mem1] = p.writable ? cowFaultPastEof(mm, mem, stop) : [mm, mem];
        if (mm1 !== mm) {
          mm = mm1;
          mem = mem1;
          tx.noteFault(anonAgain(owner.pid, stop));
        }
        err = 'EFAULT';
        break;
      }
    } else {
      // No page at or past the file's end (GUP fails: EFAULT). (A hugetlbfs file may have pages
      // past it, fallocated, with a gap before them: mm.ts eofVa finds the first one missing.)
      if (eofVa(mem, vma, va, p.base + BigInt(end + 1) * PAGE_SIZE) !== undefined) {
        err = 'EFAULT';
        break;
      }
      // Private anonymous memory faults in here, maybe as transparent huge pages (huge_memory.ts).
      if (!vma.shared) {
        const kind = p.writable ? 'write' : 'pin-read';
        const endVa = p.base + BigInt(end + 1) * PAGE_SIZE;
        units += (endVa - va + HPAGE_SIZE - 1n) / HPAGE_SIZE;
        if (units > BigInt(MAX_FAULT_UNITS)) {
          tx.beyondModel = `a pin faulting in more than ${MAX_FAULT_UNITS} 2 MiB units of memory: past the model's limit for one event`;
          err = 'ENOMEM';
          break;
        }
        const mm0 = mm;
        const mem0 = mem;
        // (the pages are looked up after the fault: it may move an empty piece onto an object of its own)
        [mm, mem] = fault(mm, mem, va, endVa, kind, (phys) => mappedElsewhere(tx.w, owner.pid, phys), true);
        if (mm !== mm0 || mem !== mem0) tx.noteFault((w) => faultIn(w, owner.pid, va, endVa, kind, true));
      } else if ((vma.flags ?? 0) & VM_HUGETLB) {
        // (a shared mapping of a hugetlbfs file: the pin's fault puts the huge pages in the file's cache)
        const endVa = p.base + BigInt(end + 1) * PAGE_SIZE;
        const cache = (w: World): World => {
          const v = findVma(w.procs.get(owner.pid)!.mm, va);
          const m = v ? hugetlbfsFault(w.mem, v, va, endVa) : w.mem;
          return m === w.mem ? w : { ...w, mem: m };
        };
        const mem0 = mem;
        mem = hugetlbfsFault(mem, vma, va, endVa);
        if (mem !== mem0) tx.noteFault(cache);
      }
      const now = findVma(mm, va)!;
      const mobjIndex = Number((now.offset + (va - now.start)) >> PAGE_SHIFT);
      out.push([idx, { last: end, count: 1, mobj: now.mobj, mobjIndex }]);
    }
    idx = end + 1;
  }
  // The faults taken stay in the Tx's World even when a later page failed (and the ioctl fails with it: Tx.failed).
  if (mm !== owner.mm) tx.setWorld({ ...tx.w, mem, procs: tx.w.procs.set(owner.pid, { ...owner, mm }) });
  else if (mem !== tx.w.mem) tx.setWorld({ ...tx.w, mem });
  return err ?? out;
}

/** The unshare faults of pins of a private file mapping's pages [from, to) (pinPage), taken again on another World: their private copies. */
export function unshareAgain(pid: number, from: bigint, to: bigint, write: boolean): (w: World) => World {
  return (w) => {
    const owner = w.procs.get(pid)!;
    let mem = w.mem;
    for (let va = from; va < to; va += PAGE_SIZE) mem = pinPage(owner.mm, mem, va, write)?.mem ?? mem;
    if (mem === w.mem) return w;
    const v = findVma(owner.mm, from);
    let mm = owner.mm;
    if (v) [mm, mem] = withAnonVma(owner.mm, mem, v);
    return { ...w, mem, procs: mm === owner.mm ? w.procs : w.procs.set(pid, { ...owner, mm }) };
  };
}

/** The anon_vma a failed write fault at `va` past a private file mapping's end prepared (cowFaultPastEof), taken again on another World. */
export function anonAgain(pid: number, va: bigint): (w: World) => World {
  return (w) => {
    const owner = w.procs.get(pid)!;
    const [mm, mem] = cowFaultPastEof(owner.mm, w.mem, va);
    return mm === owner.mm ? w : { ...w, mem, procs: w.procs.set(pid, { ...owner, mm }) };
  };
}

/** Charge `n` newly pinned pages to the pages object's owner (§4.2). */
function charge(tx: Tx, p: Pages, n: bigint): PinErrno | 0 {
  // CAP_IPC_LOCK holders are never charged; mm->pinned_vm is not visible
  // through iommufd, so the model leaves it alone for them (hot path).
  if (p.account === 'none') return 0;
  let w: World = tx.w;
  const owner = w.procs.get(p.ownerPid);
  const limit = owner?.memlockPages ?? null;
  if (p.account === 'user') {
    const cur = w.userLockedVm.get(p.ownerUid) ?? 0n;
    if (limit !== null && cur + n > limit) return 'ENOMEM';
    w = { ...w, userLockedVm: w.userLockedVm.set(p.ownerUid, cur + n) };
  } else if (p.account === 'mm' && owner) {
    // (locked_vm counts mlock's pages too: locked memory a device then pins is charged twice)
    // (an unsigned long: a counter an uncharge took below 0 wraps, see uncharge)
    if (BigInt.asUintN(64, owner.lockedVm + mlockedPages(owner.mm) + n) > (limit ?? RLIM_INFINITY_PAGES)) return 'ENOMEM';
    w = { ...w, procs: w.procs.set(owner.pid, { ...owner, lockedVm: BigInt.asUintN(64, owner.lockedVm + n) }) };
  }
  const o = w.procs.get(p.ownerPid);
  if (o) w = { ...w, procs: w.procs.set(o.pid, { ...o, pinnedVm: o.pinnedVm + n }) };
  tx.setWorld(w);
  return 0;
}

/** Uncharge `n` pinned pages from the pages object's owner (iopt_pages_update_pinned, dec). */
export function uncharge(tx: Tx, p: Pages, n: bigint): void {
  if (p.account === 'none') return;
  let w: World = tx.w;
  // Uncharging more than the counter holds happens only once a CHANGE_PROCESS left the books off
  // (World.taint): decr_user_locked_vm then WARNs and subtracts nothing, __account_locked_vm WARNs
  // and subtracts all the same (mm->locked_vm, an unsigned long, wraps); mm->pinned_vm takes the
  // whole amount either way.
  if (p.account === 'user') {
    const cur = w.userLockedVm.get(p.ownerUid) ?? 0n;
    if (cur >= n) w = { ...w, userLockedVm: cur - n ? w.userLockedVm.set(p.ownerUid, cur - n) : w.userLockedVm.delete(p.ownerUid) };
  }
  const o = w.procs.get(p.ownerPid);
  if (o) {
    const lockedVm = p.account === 'mm' ? BigInt.asUintN(64, o.lockedVm - n) : o.lockedVm;
    w = { ...w, procs: w.procs.set(o.pid, { ...o, lockedVm, pinnedVm: o.pinnedVm - n }) };
  }
  tx.setWorld(w);
}

/**
 * Every pin run (its first index in its pages object, the run) of every
 * pages object of contexts `ctxs`, until `fn` returns false. `pagesOf`: a
 * context's pages objects as the caller sees them (a transaction's own).
 */
export function eachPinRun(ctxs: World['ctxs'], fn: (start: number, r: PinRun) => boolean, pagesOf: (c: Ctx) => Ctx['pages'] = (c) => c.pages): void {
  let go = true;
  ctxs.each((_id, c) => {
    pagesOf(c).each((_p, p) => {
      p.pinned.each((s, r) => (go = fn(s, r)));
      return go;
    });
    return go;
  });
}

/** Whether a page of memory object `mobj`'s pages [first, first + n) is pinned by any pages object (a folio's pin count). */
export function anyPinned(w: World, mobj: number, first: number, n: number): boolean {
  let hit = false;
  eachPinRun(w.ctxs, (s, r) => !(hit = r.mobj === mobj && r.mobjIndex <= first + n - 1 && r.mobjIndex + (r.last - s) >= first));
  return hit;
}

/**
 * Whether the huge page at index `first` of memory object `mobj` is pinned
 * (folio_maybe_dma_pinned): a pin on one of its own pages. A page copied out
 * of it (a 4 KiB page of its own at that index since a write or pin broke
 * copy-on-write: Mobj.thpCopied) is another folio, and its pins are not the
 * huge page's (oracle fuzz seed 132: such a folio, shared by fork once, is
 * shared again by the next fork).
 */
export function folioPinned(w: World, mobj: number, first: number, nr = HPAGE_NR): boolean {
  const m = w.mem.mobjs.get(mobj);
  return !!m && folioPieces(m, first, first + nr - 1).some(([a, z]) => anyPinned(w, mobj, a, z - a + 1));
}

/**
 * Whether a page of huge page `phys` is pinned (folio_maybe_dma_pinned: the folio's own pin count),
 * in whichever object holds that page: a piece of the folio the model keeps in another object, and
 * one no VMA maps any more, a pin holding a page a DONTNEED zapped (exhaustive.py layout 4, six calls,
 * seed 6: MADV_COLD then split the rest, where the kernel's split fails). A page copied out of it
 * is a folio of its own (folioPieces).
 */
export function physPinned(w: World, phys: bigint): boolean {
  let hit = false;
  eachPinRun(w.ctxs, (s, r) => {
    const m = w.mem.mobjs.get(r.mobj);
    if (m?.thp === undefined) return true;
    const a = r.mobjIndex;
    const z = a + (r.last - s);
    for (const [first, f] of foliosIn(m.thp, a, z + 1)) if (f === phys && folioPieces(m, Math.max(a, first), Math.min(z, first + HPAGE_NR - 1)).length) hit = true;
    return !hit;
  });
  return hit;
}

export { HPAGE_SIZE };

/**
 * Pages `from` up to (not including) `to` of memory object `mobjId` leave it
 * (a truncation: truncate_inode_pages_range takes them out of the page
 * cache, and unmap_mapping_range zaps them, private copies included, from
 * every mapping; a punched hole: the same over a range). A page still pinned
 * stays alive, and what is pinned is that old page: the pins move to a new
 * memory object holding the old pages (same indices, their bytes, other
 * physical addresses), so that the object's own pages there, met again
 * later, are new ones. Returns the World with the pins moved and the pages
 * gone from `mobjId`.
 */
export function takeOutPages(w: World, mobjId: number, from: number, to = Infinity): World {
  const m = w.mem.mobjs.get(mobjId)!;
  let mem = w.mem;
  let orphan: number | undefined;
  let ctxs = w.ctxs;
  w.ctxs.each((ctxId, c) => {
    let pagesMap = c.pages;
    c.pages.each((pid, p) => {
      let pinned = p.pinned;
      p.pinned.each((s, r) => {
        const lastIndex = r.mobjIndex + (r.last - s);
        if (r.mobj !== mobjId || lastIndex < from || r.mobjIndex >= to) return true;
        if (orphan === undefined) [mem, orphan] = newMobj(mem, m.kind, m.size, `${m.name ?? 'pages'} (taken out, still pinned)`, m.data, m.unknown, false, m.hugeShift);
        // The run in up to three pieces: below `from` and from `to` on, its pages stay in the object.
        const a = Math.max(from, r.mobjIndex);
        const b = Math.min(to - 1, lastIndex);
        const sa = s + (a - r.mobjIndex);
        const sb = s + (b - r.mobjIndex);
        if (sa > s) pinned = pinned.set(s, { ...r, last: sa - 1 });
        pinned = pinned.set(sa, { last: sb, count: r.count, mobj: orphan, mobjIndex: a });
        if (sb < r.last) pinned = pinned.set(sb + 1, { last: r.last, count: r.count, mobj: r.mobj, mobjIndex: b + 1 });
        return true;
      });
      if (pinned !== p.pinned) pagesMap = pagesMap.set(pid, pagesWith(p, pinned, p.npinned, p.areaRefs));
      return true;
    });
    if (pagesMap !== c.pages) ctxs = ctxs.set(ctxId, { ...c, pages: pagesMap });
    return true;
  });
  let data = m.data;
  m.data.each((idx) => {
    if (idx >= to) return false;
    data = data.delete(idx);
    return true;
  }, from);
  // (a forked child's writable copies among them go too: the pages there later are new ones; and
  // so do a private copy's 1 GiB pages: the file's pages show there again)
  const nr = hugeNr(m);
  const without = (set: PMap<number, true> | undefined): PMap<number, true> | undefined => {
    let out = set;
    set?.each((h) => {
      if (h >= to) return false;
      if (h + nr > from) out = out!.delete(h);
      return true;
    }, from - (from % nr));
    return out;
  };
  const next = withPageSet(withPageSet({ ...m, data }, 'writableCopies', without(m.writableCopies)), 'hugeCopied', without(m.hugeCopied));
  return { ...w, ctxs, mem: { ...mem, mobjs: mem.mobjs.set(mobjId, next) } };
}
