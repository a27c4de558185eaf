/**
 * ioas.c: the IOMMU_IOAS_* ioctls. Each handler checks in the kernel's order
 * (the order decides which errno wins), looks objects up, acts through
 * io_pagetable.ts, and says what it writes back.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { le, u32, u64, userBuf, userPtrOk } from './args.js';
import {
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  ULONG_MAX,
  U64_MAX,
  addOverflows,
  emptyIopt,
  getIoas,
  mapPages,
  mergedReserved,
  holesOf,
  putIopt,
  recalcAlignment,
  unmapIovaRange,
  type PagesPiece,
} from './io_pagetable.js';
import { OPAQUE_FILE, PAGE_SIZE, RLIM_INFINITY_PAGES, mlockedPages, newMobj } from './mm.js';
import { fileAt, opaque } from './files.js';
import type { Tx } from './object.js';
import { lastNpinned, newFilePages, newUserPages, uncharge, withLast } from './pages.js';
import type { Pages, Range } from './state.js';

export const IOMMU_IOAS_MAP_FIXED_IOVA = 1;
export const IOMMU_IOAS_MAP_WRITEABLE = 2;
export const IOMMU_IOAS_MAP_READABLE = 4;
const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
/** Test kernels: IOAS_COPY flag that makes src_iova an {nth area, offset} pair (§12.5). */
export const MOCK_FLAGS_ACCESS_SYZ = 1 << 16;

const SIZE_MAX = U64_MAX;

/** ioas.c: conv_iommu_prot */
export function convIommuProt(flags: number): number {
  let prot = IOMMU_CACHE;
  if (flags & IOMMU_IOAS_MAP_WRITEABLE) prot |= IOMMU_WRITE;
  if (flags & IOMMU_IOAS_MAP_READABLE) prot |= IOMMU_READ;
  return prot;
}

/** iommufd_ioas_alloc: a new, empty IOAS in the Tx's context (undefined when the ID space is full). */
export function newIoas(tx: Tx) {
  return tx.alloc((id) => ({ type: 'ioas' as const, id, users: 1, iopt: emptyIopt(), hwpts: [] }));
}

/** iommufd_ioas_alloc_ioctl */
export function ioasAlloc(tx: Tx, a: Fields): Result {
  if (u32(a, 'flags')) return { errno: 'EOPNOTSUPP' };
  const ioas = newIoas(tx);
  if (!ioas) return { errno: 'EBUSY' };
  return { errno: 0, out: { out_ioas_id: ioas.id } };
}

/** iopt_alloc_pages / iopt_alloc_user_pages length checks, in each version's order. */
function userPagesLengthCheck(tx: Tx, uptr: bigint, length: bigint): string | 0 {
  const einval = length > SIZE_MAX - PAGE_SIZE || length === 0n;
  const eoverflow = addOverflows(uptr, length);
  if (tx.kernel === '6.14') return eoverflow ? 'EOVERFLOW' : einval ? 'EINVAL' : 0;
  return einval ? 'EINVAL' : eoverflow ? 'EOVERFLOW' : 0;
}

/** iommufd_ioas_map */
export function ioasMap(tx: Tx, a: Fields): Result {
  const flags = u32(a, 'flags');
  if (flags & ~MAP_FLAGS || u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const iova = u64(a, 'iova');
  const length = u64(a, 'length');
  if (iova >= ULONG_MAX || length >= ULONG_MAX) return { errno: 'EOVERFLOW' };
  if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) return { errno: 'EINVAL' };
  const ioasId = u32(a, 'ioas_id');
  if (!getIoas(tx, ioasId)) return { errno: 'ENOENT' };
  return mapUser(tx, ioasId, u64(a, 'user_va'), length, iova, flags);
}

/** iopt_map_user_pages, shared with the VFIO compat MAP_DMA. */
export function mapUser(tx: Tx, ioasId: number, uptr: bigint, length: bigint, iova: bigint, flags: number): Result {
  const e = userPagesLengthCheck(tx, uptr, length);
  if (e) return { errno: e };
  const pages = newUserPages(tx, uptr, length, !!(flags & IOMMU_IOAS_MAP_WRITEABLE));
  tx.putPages(pages);
  const piece: PagesPiece = { pages: pages.id, startByte: uptr - pages.base, length };
  const r = mapPages(tx, ioasId, [piece], length, iova, convIommuProt(flags), !(flags & IOMMU_IOAS_MAP_FIXED_IOVA), uptr);
  if (typeof r === 'string') return { errno: r };
  return { errno: 0, out: { iova: r } };
}

/** iommufd_ioas_map_file (6.14) */
export function ioasMapFile(tx: Tx, a: Fields): Result {
  const flags = u32(a, 'flags');
  if (flags & ~MAP_FLAGS) return { errno: 'EOPNOTSUPP' };
  const iova = u64(a, 'iova');
  const length = u64(a, 'length');
  if (iova >= ULONG_MAX || length >= ULONG_MAX) return { errno: 'EOVERFLOW' };
  if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) return { errno: 'EINVAL' };
  const ioasId = u32(a, 'ioas_id');
  const ioas = getIoas(tx, ioasId);
  if (!ioas) return { errno: 'ENOENT' };
  // (an __s32, as fget takes it: the low 32 bits)
  const file = fileAt(tx.w, tx.pid, u32(a, 'fd'));
  if (!file) {
    // 6.14 bug (§2.3): the IOAS reference taken by the lookup is never dropped.
    tx.keepOnError = true;
    tx.users(ioasId, 1);
    return { errno: 'EBADF' };
  }
  const start = u64(a, 'start');
  if (length !== 0n && addOverflows(start, length - 1n)) return { errno: 'EOVERFLOW' };
  if (length === 0n || length > SIZE_MAX - PAGE_SIZE) return { errno: 'EINVAL' };
  // Any file is taken here (iopt_alloc_file_pages checks nothing of it); a file without pages of its
  // own (an iommufd, a fault or access fd, a device) gets an object that is neither shmem nor hugetlbfs,
  // so pinning it is EINVAL (memfd_pin_folios), when a domain or an access first needs its pages.
  // A file the process had before the trace may be a memfd or a tmpfs file as well as anything else:
  // its object is marked so that a pin of it is answered as not modelled (pages.ts resolveRuns).
  let mobj = file.mobj;
  if (mobj === undefined) {
    let mem: typeof tx.w.mem;
    [mem, mobj] = newMobj(tx.w.mem, 'file', 0n, opaque(file) ? OPAQUE_FILE : 'a file without pages');
    tx.setWorld({ ...tx.w, mem });
  }
  const pages = newFilePages(tx, mobj, start, length, !!(flags & IOMMU_IOAS_MAP_WRITEABLE));
  tx.putPages(pages);
  const piece: PagesPiece = { pages: pages.id, startByte: start - pages.base, length };
  const r = mapPages(tx, ioasId, [piece], length, iova, convIommuProt(flags), !(flags & IOMMU_IOAS_MAP_FIXED_IOVA), start);
  if (typeof r === 'string') return { errno: r };
  return { errno: 0, out: { iova: r } };
}

/**
 * __iommufd_test_syz_conv_iova: {u32 nth_area; u32 offset} -> start of the
 * nth area + offset (0 past the last area). The access path
 * (iommufd_test_syz_conv_iova) also answers 0 for an access without an IOAS.
 */
export function syzConvIova(tx: Tx, ioasId: number, iova: bigint): bigint {
  const ioas = getIoas(tx, ioasId);
  if (!ioas) return 0n;
  const nth = Number(iova & 0xffffffffn);
  const offset = iova >> 32n;
  let i = 0;
  let res = 0n;
  ioas.iopt.areas.eachOverlapping(0n, U64_MAX, (s) => {
    if (i++ === nth) {
      res = (s + offset) & U64_MAX; // unsigned long: an area at the top wraps
      return false;
    }
    return true;
  });
  return res;
}

/** iommufd_ioas_copy */
export function ioasCopy(tx: Tx, a: Fields): Result {
  let flags = u32(a, 'flags');
  let srcIova = u64(a, 'src_iova');
  const srcId = u32(a, 'src_ioas_id');
  const echo: Fields = {};
  if (flags & MOCK_FLAGS_ACCESS_SYZ) {
    // iommufd_test_syz_conv_iova_id: no such IOAS leaves the IOVA as it was
    // (the copy then fails on it: EOVERFLOW for a u64 past ULONG_MAX, else ENOENT).
    flags &= ~MOCK_FLAGS_ACCESS_SYZ;
    if (getIoas(tx, srcId)) srcIova = syzConvIova(tx, srcId, srcIova);
    echo['flags'] = flags;
    echo['src_iova'] = srcIova;
  }
  if (flags & ~MAP_FLAGS) return { errno: 'EOPNOTSUPP' };
  const length = u64(a, 'length');
  if (length >= ULONG_MAX || srcIova >= ULONG_MAX || u64(a, 'dst_iova') >= ULONG_MAX) return { errno: 'EOVERFLOW' };
  if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) return { errno: 'EINVAL' };
  const src = getIoas(tx, srcId);
  if (!src) return { errno: 'ENOENT' };
  const pieces = getPages(src.iopt, srcIova, length);
  if (typeof pieces === 'string') return { errno: pieces };
  const dstId = u32(a, 'dst_ioas_id');
  if (!getIoas(tx, dstId)) return { errno: 'ENOENT' };
  const hint = tx.pages(pieces[0]!.pages).base + pieces[0]!.startByte;
  const r = mapPages(tx, dstId, pieces, length, u64(a, 'dst_iova'), convIommuProt(flags), !(flags & IOMMU_IOAS_MAP_FIXED_IOVA), hint);
  if (typeof r === 'string') return { errno: r };
  return { errno: 0, out: { ...echo, dst_iova: r } };
}

/** iopt_get_pages: the source must be covered by back-to-back areas. */
export function getPages(iopt: ReturnType<typeof emptyIopt>, iova: bigint, length: bigint): PagesPiece[] | string {
  if (length === 0n) return 'EINVAL';
  if (addOverflows(iova, length - 1n)) return 'EOVERFLOW';
  const last = iova + length - 1n;
  const pieces: PagesPiece[] = [];
  let cur = iova;
  let done = false;
  iopt.areas.eachOverlapping(iova, last, (s, l, area) => {
    if (s > cur) return false; // gap
    const end = l < last ? l : last;
    pieces.push({ pages: area.pages, startByte: area.startByte + (cur - s), length: end - cur + 1n });
    if (end === last) {
      done = true;
      return false;
    }
    cur = end + 1n;
    return true;
  });
  return done ? pieces : 'ENOENT';
}

/** iommufd_ioas_unmap */
export function ioasUnmap(tx: Tx, a: Fields): Result {
  const ioasId = u32(a, 'ioas_id');
  if (!getIoas(tx, ioasId)) return { errno: 'ENOENT' };
  const iova = u64(a, 'iova');
  const length = u64(a, 'length');
  // Areas removed before an error stay removed (iopt_unmap_iova_range).
  tx.keepOnError = true;
  let r: { errno: string | 0; unmapped: bigint };
  if (iova === 0n && length === U64_MAX) {
    r = unmapIovaRange(tx, ioasId, 0n, ULONG_MAX);
    if (r.errno) return { errno: r.errno };
  } else {
    if (iova >= ULONG_MAX || length >= ULONG_MAX) return { errno: 'EOVERFLOW' };
    if (length === 0n) return { errno: 'EINVAL' };
    if (addOverflows(iova, length - 1n)) return { errno: 'EOVERFLOW' };
    r = unmapIovaRange(tx, ioasId, iova, iova + length - 1n);
    if (r.errno) return { errno: r.errno };
    if (!r.unmapped) return { errno: 'ENOENT' };
  }
  return { errno: 0, out: { length: r.unmapped } };
}

/** The holes of the reserved set over the whole IOVA space (IOVA_RANGES, VFIO GET_INFO). */
export function iovaRanges(tx: Tx, ioasId: number): Range[] {
  return holesOf(mergedReserved(getIoas(tx, ioasId)!.iopt), 0n, U64_MAX);
}

/** iommufd_ioas_iova_ranges: responds, then EMSGSIZE if the caller's array was too small. */
export function ioasIovaRanges(tx: Tx, a: Fields, ev: Event): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const ioasId = u32(a, 'ioas_id');
  const ioas = getIoas(tx, ioasId);
  if (!ioas) return { errno: 'ENOENT' };
  const cap = u32(a, 'num_iovas');
  const ranges = iovaRanges(tx, ioasId);
  const n = Math.min(cap, ranges.length);
  const buf = new Uint8Array(n * 16);
  if (n > 0 && !userPtrOk(ev, a, 'allowed_iovas')) return { errno: 'EFAULT' };
  for (let i = 0; i < n; i++) {
    le.putU64(buf, i * 16, ranges[i]!.start);
    le.putU64(buf, i * 16 + 8, ranges[i]!.last);
  }
  const out = { num_iovas: ranges.length, out_iova_alignment: ioas.iopt.iovaAlignment };
  const res: Result = { errno: ranges.length > cap ? 'EMSGSIZE' : 0, out };
  if (n > 0) res.bufs = { allowed_iovas: buf };
  return res;
}

/** iommufd_ioas_allow_iovas */
export function ioasAllowIovas(tx: Tx, a: Fields, ev: Event): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const ioasId = u32(a, 'ioas_id');
  const ioas = getIoas(tx, ioasId);
  if (!ioas) return { errno: 'ENOENT' };
  const num = u32(a, 'num_iovas');
  const buf = num ? userBuf(ev, a, 'allowed_iovas') : new Uint8Array(0);
  const ranges: Range[] = [];
  for (let i = 0; i < num; i++) {
    if (!buf || buf.length < (i + 1) * 16) return { errno: 'EFAULT' };
    const start = le.u64(buf, i * 16);
    const last = le.u64(buf, i * 16 + 8);
    if (start >= last) return { errno: 'EINVAL' };
    if (ranges.some((r) => r.start <= last && start <= r.last)) return { errno: 'EINVAL' };
    ranges.push({ start, last });
  }
  const iopt = ioas.iopt;
  for (const r of ranges) if (iopt.reserved.some((x) => x.start <= r.last && r.start <= x.last)) return { errno: 'EADDRINUSE' };
  ranges.sort((x, y) => (x.start < y.start ? -1 : 1));
  putIopt(tx, ioasId, { ...iopt, allowed: ranges });
  return { errno: 0 };
}

/** iommufd_ioas_option_huge_pages (IOMMU_OPTION_HUGE_PAGES) */
export function ioasOptionHugePages(tx: Tx, op: number, objectId: number, val64: bigint): Result {
  const ioas = getIoas(tx, objectId);
  if (!ioas) return { errno: 'ENOENT' };
  if (op === 1 /* GET */) return { errno: 0, out: { val64: ioas.iopt.disableLargePages ? 0n : 1n } };
  if (op !== 0 /* SET */) return { errno: 'EOPNOTSUPP' };
  if (val64 === 0n) {
    const iopt = ioas.iopt;
    if (iopt.disableLargePages) return { errno: 0 };
    if (iopt.domains.length && iopt.areas.size) return { errno: 'EINVAL' };
    putIopt(tx, objectId, { ...iopt, disableLargePages: true });
    const e = recalcAlignment(tx, objectId);
    if (e) return { errno: e };
    return { errno: 0 };
  }
  if (val64 === 1n) {
    putIopt(tx, objectId, { ...ioas.iopt, disableLargePages: false });
    const e = recalcAlignment(tx, objectId);
    if (e) return { errno: e };
    return { errno: 0 };
  }
  return { errno: 'EINVAL' };
}

/** iommufd_ioas_destroy: unmap everything (the IOAS has no users left, so no access or domain). */
export function ioasDestroy(tx: Tx, id: number): void {
  const r = unmapIovaRange(tx, id, 0n, ULONG_MAX);
  if (r.errno) throw new Error(`model bug: IOAS ${id} destroy left areas (${r.errno})`);
}

/** The kernel's WARN when CHANGE_PROCESS cannot uncharge an exited owner. */
export const DEAD_OWNER_WARN = 'WARN in iommufd_ioas_change_process: an MM-mode pages object of an exited owner could not be uncharged (update_mm_locked_vm: EINVAL)';

/** iommufd_ioas_change_process (6.14) */
export function ioasChangeProcess(tx: Tx, a: Fields): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  let nonFile = false;
  tx.ctx.objs.each((_id, o) => {
    if (o.type !== 'ioas') return true;
    o.iopt.areas.eachOverlapping(0n, U64_MAX, (_s, _l, area) => {
      if (tx.pages(area.pages).fileMobj === undefined) nonFile = true;
      return !nonFile;
    });
    return !nonFile;
  });
  if (nonFile) return { errno: 'EINVAL' };
  // Step 4: what must move to the caller, per accounting mode: each object's last_npinned (what
  // was last charged for it, normally npinned). The caller is charged first (its RLIMIT_MEMLOCK).
  const me = tx.proc;
  const moves = (p: Pages): boolean =>
    p.account === 'user' ? p.ownerUid !== me.uid || p.ownerPid !== me.pid : p.account === 'mm' ? p.ownerPid !== me.pid : false;
  let needUser = 0n;
  let needMm = 0n;
  const all: Pages[] = [];
  tx.ctx.pages.each((_id, p) => {
    all.push(p);
    if (moves(p)) {
      if (p.account === 'user') needUser += BigInt(lastNpinned(p));
      else needMm += BigInt(lastNpinned(p));
    }
    return true;
  });
  const limit = me.memlockPages;
  const curUser = tx.w.userLockedVm.get(me.uid) ?? 0n;
  if ((limit !== null && needUser && curUser + needUser > limit) || (needMm && BigInt.asUintN(64, me.lockedVm + mlockedPages(me.mm) + needMm) > (limit ?? RLIM_INFINITY_PAGES))) {
    // "Charge failed. Fix last_npinned and bail": every object's last_npinned is npinned again,
    // which settles (uncharged) what an earlier CHANGE_PROCESS left behind
    let fixed = false;
    for (const p of all)
      if (p.lastNpinned !== undefined) {
        tx.putPages(withLast(p, p.npinned));
        fixed = true;
      }
    if (fixed) tx.keepOnError = true;
    return { errno: 'ENOMEM' };
  }
  // Step 5: charge the caller, uncharge each old owner its npinned, and make the caller the owner
  // of every pages object. An MM-mode owner that has exited cannot be uncharged
  // (update_mm_locked_vm: mmget_not_zero fails, EINVAL): the kernel WARNs, leaves that object's
  // last_npinned at 0 (the count above zeroed it), moves it all the same and returns EINVAL.
  // (charge_current: the caller's counters take what it is charged, mm->locked_vm an unsigned long)
  if (needUser || needMm) {
    let w = tx.w;
    if (needUser) w = { ...w, userLockedVm: w.userLockedVm.set(me.uid, curUser + needUser) };
    const q = w.procs.get(me.pid)!;
    tx.setWorld({ ...w, procs: w.procs.set(me.pid, { ...q, lockedVm: BigInt.asUintN(64, q.lockedVm + needMm), pinnedVm: q.pinnedVm + needUser + needMm }) });
  }
  let deadOwner = false;
  for (const p of all) {
    let last = lastNpinned(p);
    if (moves(p)) {
      if (p.account === 'mm' && !tx.w.procs.get(p.ownerPid)?.alive) {
        deadOwner = true;
        last = 0;
      } else {
        // iopt_pages_update_pinned(pages, npinned, false): the old owner's uncharge
        uncharge(tx, p, BigInt(p.npinned));
        last = p.npinned;
      }
    }
    tx.putPages(withLast({ ...p, ownerPid: me.pid, ownerUid: me.uid }, last));
  }
  if (deadOwner) {
    if (tx.w.taint === undefined) tx.setWorld({ ...tx.w, taint: DEAD_OWNER_WARN });
    tx.keepOnError = true;
    return { errno: 'EINVAL' };
  }
  return { errno: 0 };
}
