/**
 * In-kernel access users (device.c: iommufd_access_*), as the selftest's
 * emulated device uses them (kernel-semantics §4.3): pinning IOVA ranges,
 * CPU copies through the IOAS, and the unmap callback that makes them let go.
 */
import { PMap } from '../ds/pmap.js';
import { IOMMU_READ, IOMMU_WRITE, addOverflows, areaIndexRange, getIoas, putIopt, recalcAlignment, setAccessUnmapHook } from './io_pagetable.js';
import { EXEC_ONLY_READ, PAGE_SIZE, UNKNOWN_FILE_SIZE, execOnlyIn, findVma, peekPage, pinPage, pinnableFile, readNeedsPtes, readPage, READ_NEEDS_PTES, readUser, copyToUser, writePage, type Memory, type Mm, type PageRef, type ReadFlags } from './mm.js';
import type { Tx } from './object.js';
import { anonAgain, pagesAddRange, pagesRemoveRange, pinnedPage, unshareAgain } from './pages.js';
import { cowFaultPastEof } from './vma_merge.js';
import type { AccessItem, AccessObj, Area } from './state.js';

export const IOMMUFD_ACCESS_RW_WRITE = 1;
export const MOCK_ACCESS_RW_SLOW_PATH = 4;

/** iommufd_access_create + iommufd_access_attach. */
export function accessCreate(tx: Tx, ioasId: number, needsPin: boolean, file: number): AccessObj | string {
  const acc = tx.alloc((id): AccessObj => ({ type: 'access', id, users: 2, ioas: 0, needsPin, items: PMap.emptyNumber<AccessItem>(), nextItem: 0, file }));
  if (!acc) return 'EBUSY';
  const e = accessChangeIoas(tx, acc.id, ioasId);
  if (e) return e;
  return tx.get(acc.id, 'access')!;
}

/**
 * iommufd_access_create without an IOAS, as a VFIO emulated device's bind
 * makes it (drivers/vfio/iommufd.c: vfio_iommufd_emulated_bind, with
 * vfio_user_ops.needs_pin_pages): users 2 (the table and the driver).
 */
export function accessCreateUnattached(tx: Tx): AccessObj | undefined {
  return tx.alloc((id): AccessObj => ({ type: 'access', id, users: 2, ioas: 0, needsPin: true, items: PMap.emptyNumber<AccessItem>(), nextItem: 0, file: 0 }));
}

/** iommufd_access_detach: the driver drops its pins (unmap of everything), the access leaves its IOAS. */
export function accessDetach(tx: Tx, accId: number): void {
  const acc = tx.get(accId, 'access')!;
  if (!acc.ioas) return;
  accessUnmapItems(tx, accId, 0n, 0xffffffffffffffffn, acc.ioas);
  accessLeaveIoas(tx, accId, acc.ioas);
  tx.put({ ...tx.get(accId, 'access')!, ioas: 0 });
}

/** iommufd_access_change_ioas: join the new IOAS (alignment may refuse), leave the old one. */
export function accessChangeIoas(tx: Tx, accId: number, ioasId: number): string | 0 {
  const ioas = getIoas(tx, ioasId);
  if (!ioas) return 'ENOENT';
  const acc = tx.get(accId, 'access')!;
  putIopt(tx, ioasId, { ...ioas.iopt, accesses: [...ioas.iopt.accesses, accId] });
  const e = recalcAlignment(tx, ioasId);
  if (e) return e;
  tx.users(ioasId, 1);
  const old = acc.ioas;
  tx.put({ ...tx.get(accId, 'access')!, ioas: ioasId });
  if (old) {
    // The driver must drop all its pins of the old IOAS (unmap(0, ULONG_MAX)).
    accessUnmapItems(tx, accId, 0n, 0xffffffffffffffffn, old);
    accessLeaveIoas(tx, accId, old);
  }
  return 0;
}

function accessLeaveIoas(tx: Tx, accId: number, ioasId: number): void {
  const ioas = getIoas(tx, ioasId)!;
  putIopt(tx, ioasId, { ...ioas.iopt, accesses: ioas.iopt.accesses.filter((x) => x !== accId) });
  const e = recalcAlignment(tx, ioasId);
  if (e) throw new Error(`model bug: alignment after access left: ${e}`);
  tx.users(ioasId, -1);
}

/** Access destroy (fd closed): the driver unpins everything, then leaves the IOAS. */
export function accessDestroy(tx: Tx, accId: number): void {
  const acc = tx.get(accId, 'access')!;
  if (acc.ioas) {
    accessUnmapItems(tx, accId, 0n, 0xffffffffffffffffn, acc.ioas);
    accessLeaveIoas(tx, accId, acc.ioas);
  }
  tx.remove(accId);
}

/** iommufd_test_access_unmap: drop every item overlapping [iova, last]. */
function accessUnmapItems(tx: Tx, accId: number, iova: bigint, last: bigint, ioasId: number): void {
  const acc = tx.get(accId, 'access')!;
  let items = acc.items;
  acc.items.each((itemId, it) => {
    if (iova > it.iova + it.length - 1n || last < it.iova) return true;
    unpinPieces(tx, ioasId, it);
    items = items.delete(itemId);
    return true;
  });
  tx.put({ ...tx.get(accId, 'access')!, items });
}

/** iommufd_access_unpin_pages for one item: drop its pins and the areas' access counts. */
export function unpinPieces(tx: Tx, ioasId: number, it: AccessItem): void {
  for (const p of it.pieces) {
    pagesRemoveRange(tx, p.pages, p.first, p.last);
    const iopt = getIoas(tx, ioasId)!.iopt;
    const area = iopt.areas.find(p.area);
    if (area) putIopt(tx, ioasId, { ...iopt, areas: iopt.areas.replaceValue(p.area, { ...area.value, numAccesses: area.value.numAccesses - 1 }) });
  }
}

// IOAS_UNMAP of an area with accesses calls every access of the IOAS.
setAccessUnmapHook((tx, ioasId, iova, length) => {
  for (const accId of getIoas(tx, ioasId)!.iopt.accesses) accessUnmapItems(tx, accId, iova, iova + length - 1n, ioasId);
});

interface ContigPiece {
  start: bigint;
  last: bigint;
  cur: bigint;
  end: bigint;
  area: Area;
}

/** iopt_for_each_contig_area over [iova, last]: the pieces, and whether the range was fully covered. */
function contigAreas(tx: Tx, ioasId: number, iova: bigint, last: bigint): { pieces: ContigPiece[]; done: boolean } {
  const pieces: ContigPiece[] = [];
  let cur = iova;
  let done = false;
  getIoas(tx, ioasId)!.iopt.areas.eachOverlapping(iova, last, (s, l, area) => {
    if (s > cur) return false;
    const end = l < last ? l : last;
    pieces.push({ start: s, last: l, cur, end, area });
    if (end === last) {
      done = true;
      return false;
    }
    cur = end + 1n;
    return true;
  });
  return { pieces, done };
}

const checkAreaProt = (area: Area, flags: number): boolean => !!(flags & IOMMUFD_ACCESS_RW_WRITE ? area.prot & IOMMU_WRITE : area.prot & IOMMU_READ);

/** Whether an access pin (or one this pin made already) holds exactly indices [first, last] of pages `id` (iopt_pages_get_exact_access). */
function exactAccess(tx: Tx, id: number, first: number, last: number, pinning: readonly AccessItem['pieces'][number][]): boolean {
  const exact = (q: AccessItem['pieces'][number]): boolean => q.pages === id && q.first === first && q.last === last;
  let found = pinning.some(exact);
  if (!found)
    tx.ctx.objs.each((_id, o) => {
      if (o.type === 'access')
        o.items.each((_i, it) => {
          found = it.pieces.some(exact);
          return !found;
        });
      return !found;
    });
  return found;
}

/** iommufd_access_pin_pages: all or nothing. Returns the item's pieces. */
export function accessPinPages(tx: Tx, accId: number, iova: bigint, length: bigint, flags: number): AccessItem | string {
  if (!length) return 'EINVAL';
  if (addOverflows(iova, length - 1n)) return 'EOVERFLOW';
  const acc = tx.get(accId, 'access')!;
  if (!acc.ioas) return 'ENOENT';
  const last = iova + length - 1n;
  const { pieces, done } = contigAreas(tx, acc.ioas, iova, last);
  const out: AccessItem['pieces'][number][] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    const startByte = p.area.startByte + (p.cur - p.start);
    const isLast = i === pieces.length - 1 && done;
    if (startByte % PAGE_SIZE) return 'EINVAL';
    if (!isLast && (p.area.startByte + (p.last - p.start)) % PAGE_SIZE !== PAGE_SIZE - 1n) return 'EINVAL';
    if (!checkAreaProt(p.area, flags)) return 'EPERM';
    const pages = tx.pages(p.area.pages);
    if (flags & IOMMUFD_ACCESS_RW_WRITE && !pages.writable) return 'EPERM';
    const first = Number(startByte / PAGE_SIZE);
    const lastIdx = Number((p.area.startByte + (p.end - p.start)) / PAGE_SIZE);
    // iopt_area_add_access reuses an access of exactly this range (no fill); else it fills the xarray
    const e = pagesAddRange(tx, p.area.pages, first, lastIdx, pages.lastNpinned === undefined || !exactAccess(tx, p.area.pages, first, lastIdx, out));
    if (e) return e;
    const iopt = getIoas(tx, acc.ioas)!.iopt;
    const cur = iopt.areas.find(p.start)!.value;
    putIopt(tx, acc.ioas, { ...iopt, areas: iopt.areas.replaceValue(p.start, { ...cur, numAccesses: cur.numAccesses + 1 }) });
    out.push({ area: p.start, pages: p.area.pages, first, last: lastIdx });
  }
  if (!done) return 'ENOENT';
  return { iova, length, pieces: out };
}

/** The physical page behind IOVA page `idx` of a pinned access item piece. */
export function accessItemPages(tx: Tx, it: AccessItem): PageRef[] {
  const refs: PageRef[] = [];
  for (const p of it.pieces) {
    const pages = tx.pages(p.pages);
    for (let i = p.first; i <= p.last; i++) refs.push(pinnedPage(pages, i)!);
  }
  return refs;
}

/**
 * iommufd_access_rw: copy between `data` and the memory behind the IOVA
 * range. Pieces before a failure have already been copied (the kernel has
 * no rollback either), so a write's partial effect is kept by the caller.
 */
export function accessRw(tx: Tx, accId: number, iova: bigint, data: Uint8Array, flags: number, seen: ReadFlags = { unknown: false }): { errno: string | 0; read?: Uint8Array } {
  const length = BigInt(data.length);
  if (!length) return { errno: 'EINVAL' };
  if (addOverflows(iova, length - 1n)) return { errno: 'EOVERFLOW' };
  const acc = tx.get(accId, 'access')!;
  if (!acc.ioas) return { errno: 'ENOENT' };
  const last = iova + length - 1n;
  const { pieces, done } = contigAreas(tx, acc.ioas, iova, last);
  const write = !!(flags & IOMMUFD_ACCESS_RW_WRITE);
  const out = new Uint8Array(data.length);
  for (const p of pieces) {
    if (!checkAreaProt(p.area, flags)) return { errno: 'EPERM', read: out };
    const pages = tx.pages(p.area.pages);
    if (write && !pages.writable) return { errno: 'EPERM', read: out };
    const startByte = p.area.startByte + (p.cur - p.start);
    const off = Number(p.cur - iova);
    const n = Number(p.end - p.cur + 1n);
    const e = pagesRw(tx, p.area.pages, startByte, write ? data.subarray(off, off + n) : undefined, out, off, n, flags, seen);
    if (e) return { errno: e, read: out };
  }
  if (!done) return { errno: 'ENOENT', read: out };
  return { errno: 0, read: out };
}

/** The page at `va` as a read finds it, without unsharing anything; undefined when unmapped or not readable. */
function readablePage(mm: Mm, mem: Memory, va: bigint): { mem: Memory; page: PageRef } | undefined {
  const r = peekPage(mm, mem, va);
  return r.ok && r.vma.read ? { mem, page: r.page } : undefined;
}

/** iopt_pages_rw_access: through the user VA when in the owner's mm, else through (possibly temporarily pinned) pages. */
function pagesRw(tx: Tx, pagesId: number, startByte: bigint, src: Uint8Array | undefined, out: Uint8Array, outOff: number, n: number, flags: number, seen: ReadFlags): string | 0 {
  const pages = tx.pages(pagesId);
  const sameMm = tx.pid === pages.ownerPid && !(flags & MOCK_ACCESS_RW_SLOW_PATH);
  const owner = tx.w.procs.get(pages.ownerPid);
  if (sameMm && owner?.alive && pages.fileMobj === undefined) {
    const va = pages.base + startByte;
    if (src) {
      // copy_to_user at the owner's VA: the bytes before a page it cannot write stay written.
      const r = copyToUser(owner.mm, tx.w.mem, va, src);
      if (r.mem !== tx.w.mem) tx.setWorld({ ...tx.w, mem: r.mem });
      tx.fault(owner.pid, va, va + BigInt(r.done), 'write');
      if (r.done < src.length) return 'EFAULT';
    } else {
      // (copy_from_user in the owner's own mm: a write-only page reads, exec-only memory hangs on the CPU)
      const bytes = readUser(owner.mm, tx.w.mem, va, n, seen, true);
      if (!bytes) {
        if (execOnlyIn(owner.mm, va, BigInt(n))) tx.beyondModel = EXEC_ONLY_READ;
        return 'EFAULT';
      }
      tx.fault(owner.pid, va, va + BigInt(n), 'read');
      out.set(bytes, outOff);
    }
    return 0;
  }
  // iopt_pages_rw_page: an access within one page, its owner's mm still there, pins the page at the user VA
  // anew (pin_user_pages_remote), whatever is pinned already: no page there (unmapped, not writable) is EFAULT.
  const firstIdx = startByte / PAGE_SIZE;
  if (n > 0 && firstIdx === (startByte + BigInt(n) - 1n) / PAGE_SIZE && pages.fileMobj === undefined && owner?.alive) {
    // (pin_user_pages_remote without FOLL_LONGTERM: a write breaks copy-on-write, a read takes the page
    // as it is, a private file mapping's page-cache page or the huge zero page, and unshares nothing)
    const pva = pages.base + firstIdx * PAGE_SIZE;
    const r = src ? pinPage(owner.mm, tx.w.mem, pva, true) : readablePage(owner.mm, tx.w.mem, pva);
    if (!r) return src ? failedWriteFault(tx, owner.pid, pva) : 'EFAULT';
    if (r.mem !== tx.w.mem) tx.setWorld({ ...tx.w, mem: r.mem });
    tx.fault(owner.pid, pva, pva + PAGE_SIZE, src ? 'write' : 'gup-read');
    const inPage = Number(startByte % PAGE_SIZE);
    if (src) tx.setWorld({ ...tx.w, mem: writePage(tx.w.mem, r.page, inPage, src.subarray(0, n)) });
    else out.set(readPage(tx.w.mem, r.page, inPage, n, seen), outOff);
    return 0;
  }
  // File pages go by the slow path, which pins what no domain or access holds with memfd_pin_folios:
  // a file that is not shmem or hugetlbfs, or a page past its end, is EINVAL before anything is copied.
  if (pages.fileMobj !== undefined && n > 0) {
    const m = tx.w.mem.mobjs.get(pages.fileMobj)!;
    const lastIdx = Number((startByte + BigInt(n) - 1n) / PAGE_SIZE);
    for (let idx = Number(startByte / PAGE_SIZE); idx <= lastIdx; idx++) {
      if (pinnedPage(pages, idx)) continue;
      if (!pinnableFile(m)) return 'EINVAL';
      if (m.size === UNKNOWN_FILE_SIZE) {
        tx.beyondModel = `a read or write of ${m.name ?? 'a file'}'s pages, whose size before the trace is not known (its end decides EINVAL)`;
        return 'EINVAL';
      }
      if (pages.base + BigInt(idx + 1) * PAGE_SIZE - 1n >= m.size) return 'EINVAL';
    }
  }
  // iopt_pages_rw_slow: the pfn reader fills a batch of the range's pages (those no domain or access
  // holds pinned for it) before it copies any of them, so a page it cannot pin stops the batch with
  // nothing of it copied. A batch holds TEMP_MEMORY_LIMIT / 12 runs of contiguous pages: the whole
  // range unless the selftest cut the limit, and then where a batch ends hangs on how the pages lie
  // physically, which the model does not follow. The batch is taken for full only when a fill adds
  // nothing, and the fill that meets the page it cannot pin fails first, so a page with no more
  // pages before it than the batch has runs stops the first batch (oracle: access/ar_batch_limit).
  const npages = Number((startByte + BigInt(n) - 1n) / PAGE_SIZE - firstIdx) + 1;
  const batchRuns = Math.floor(Math.min(npages * 12, tx.w.testMemoryLimit) / 12);
  const refs: PageRef[] = [];
  let done = 0;
  while (done < n) {
    const byte = startByte + BigInt(done);
    const idx = Number(byte / PAGE_SIZE);
    const inPage = Number(byte % PAGE_SIZE);
    const k = Math.min(n - done, Number(PAGE_SIZE) - inPage);
    const failed = (e: string): string => {
      if (idx - Number(firstIdx) > batchRuns) tx.beyondModel = `an access's read or write across pages stopped by a page it cannot pin after the first batch (TEMP_MEMORY_LIMIT ${tx.w.testMemoryLimit}): which pages were copied before hangs on their physical layout`;
      return e;
    };
    let page = pinnedPage(pages, idx);
    if (!page) {
      if (pages.fileMobj !== undefined) page = { mobj: pages.fileMobj, index: Number(pages.base / PAGE_SIZE) + idx };
      else {
        if (!owner?.alive) return failed('EFAULT');
        const va = pages.base + BigInt(idx) * PAGE_SIZE;
        if (!findVma(owner.mm, va)) return failed('EFAULT');
        // The pfn reader pins as the pages object is mapped (FOLL_WRITE when writable), not as this access
        // goes, and long-term: it unshares a private file mapping's page, and faults the page in as a pin
        // of the area would (maybe a transparent huge page: huge_memory.ts).
        const r = pinPage(owner.mm, tx.w.mem, va, pages.writable, tx.pid === owner.pid);
        if (!r) {
          if (pages.writable) return failed(failedWriteFault(tx, owner.pid, va));
          // (the owner's own read pin goes by pin_user_pages_fast first: page-table state decides)
          const v = tx.pid === owner.pid ? findVma(owner.mm, va) : undefined;
          if (v && readNeedsPtes(v)) tx.beyondModel = READ_NEEDS_PTES;
          return failed('EFAULT');
        }
        if (r.mem !== tx.w.mem) {
          tx.setWorld({ ...tx.w, mem: r.mem });
          tx.noteFault(unshareAgain(owner.pid, va, va + PAGE_SIZE, pages.writable));
        }
        tx.fault(owner.pid, va, va + PAGE_SIZE, pages.writable ? 'write' : 'pin-read');
        page = r.page;
      }
    }
    refs.push(page);
    done += k;
  }
  // Every page there: now the copy (batch_rw).
  done = 0;
  for (const page of refs) {
    const inPage = Number((startByte + BigInt(done)) % PAGE_SIZE);
    const k = Math.min(n - done, Number(PAGE_SIZE) - inPage);
    if (src) tx.setWorld({ ...tx.w, mem: writePage(tx.w.mem, page, inPage, src.subarray(done, done + k)) });
    else out.set(readPage(tx.w.mem, page, inPage, k, seen), outOff + done);
    done += k;
  }
  return 0;
}

/** A write pin that found no page (EFAULT): past a private file mapping's end it prepared the VMA's anon_vma all the same (vma_merge.ts cowFaultPastEof), which the failed ioctl keeps. */
function failedWriteFault(tx: Tx, pid: number, va: bigint): 'EFAULT' {
  const p = tx.w.procs.get(pid)!;
  const [mm, mem] = cowFaultPastEof(p.mm, tx.w.mem, va);
  if (mm !== p.mm) {
    tx.setWorld({ ...tx.w, mem, procs: tx.w.procs.set(pid, { ...p, mm }) });
    tx.noteFault(anonAgain(pid, va));
  }
  return 'EFAULT';
}

export { areaIndexRange };
