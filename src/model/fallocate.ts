/**
 * fallocate(2) (fs/open.c vfs_fallocate; mm/shmem.c shmem_fallocate;
 * fs/hugetlbfs/inode.c hugetlbfs_punch_hole), and MADV_REMOVE, which is a
 * PUNCH_HOLE | KEEP_SIZE of the file behind a shared mapping. QEMU gives guest
 * RAM back this way when it is a memfd or a file (virtio-mem, the balloon,
 * `ram_block_discard_range`): the pages leave the file, a page a domain still
 * pins lives on with its bytes, and the mapping meets a new zero page.
 */
import type { Fields, Result } from '../events/event.js';
import { u32, u64 } from './args.js';
import { fileAt, LOFF_MAX, opaque } from './files.js';
import { MAX_EVENT_BYTES } from './limits.js';
import { cacheHuge, hugeSize, PAGE_SIZE, UNKNOWN_FILE_SIZE, hugetlbEof, onTmpfs, privateCopiesOf, privatelyMapped, uncacheHuge, writeMobj, type Memory, type Mobj } from './mm.js';
import { takeOutPages } from './pages.js';
import type { World } from './state.js';

export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
const FALLOC_FL_COLLAPSE_RANGE = 0x08;
const FALLOC_FL_ZERO_RANGE = 0x10;
const FALLOC_FL_INSERT_RANGE = 0x20;
const FALLOC_FL_UNSHARE_RANGE = 0x40;
const FALLOC_FL_MODE_MASK = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;

/** loff_t, from the u64 an event carries. */
const signed = (v: bigint): bigint => BigInt.asIntN(64, v);

/** vfs_fallocate's refusal of the mode word itself: unknown bits, or modes that exclude each other (ALLOCATE is no bit at all). */
function modeErrno(mode: number): 'EOPNOTSUPP' | 0 {
  if (mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE)) return 'EOPNOTSUPP';
  switch (mode & FALLOC_FL_MODE_MASK) {
    case 0:
    case FALLOC_FL_UNSHARE_RANGE:
    case FALLOC_FL_ZERO_RANGE:
      return 0;
    case FALLOC_FL_PUNCH_HOLE:
      return mode & FALLOC_FL_KEEP_SIZE ? 0 : 'EOPNOTSUPP';
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
      return mode & FALLOC_FL_KEEP_SIZE ? 'EOPNOTSUPP' : 0;
    default:
      return 'EOPNOTSUPP';
  }
}

/**
 * A mode vfs_fallocate lets through whose answer on a regular file is its
 * filesystem's (ZERO_RANGE, COLLAPSE, INSERT, UNSHARE): the model knows
 * tmpfs's alone (EOPNOTSUPP), so elsewhere it answers not modelled.
 */
export const modeDependsOnFs = (mode: number): boolean => modeErrno(mode) === 0 && (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0;

/** fallocate(fd, mode, offset, length): ksys_fallocate, then vfs_fallocate's checks in its order. */
export function fallocate(w: World, pid: number, a: Fields): [World, Result] {
  const f = fileAt(w, pid, u32(a, 'fd'));
  if (!f) return [w, { errno: 'EBADF' }];
  const mode = u32(a, 'mode');
  const offset = signed(u64(a, 'offset'));
  const len = signed(u64(a, 'length'));
  if (offset < 0n || len <= 0n) return [w, { errno: 'EINVAL' }];
  const bad = modeErrno(mode);
  if (bad) return [w, { errno: bad }];
  if (opaque(f)) return [w, { errno: 'EBADF', unmodelled: 'fallocate of a file the process had before the trace (what it is is not known)' }];
  if (f.readOnly) return [w, { errno: 'EBADF' }];
  // Not a regular file: the iommufd and the fault and access fds (anonymous inodes), VFIO devices and groups.
  if (f.mobj === undefined) return [w, { errno: 'ENODEV' }];
  if (offset + len > LOFF_MAX) return [w, { errno: 'EFBIG' }];
  const m = w.mem.mobjs.get(f.mobj)!;
  // (a file on tmpfs answers as a memfd: shmem_fallocate)
  if (m.kind === 'file' && !onTmpfs(m) && modeDependsOnFs(mode))
    return [w, { errno: 'EOPNOTSUPP', unmodelled: 'fallocate modes besides allocation and PUNCH_HOLE depend on the filesystem (tmpfs: EOPNOTSUPP)' }];
  return fileFallocate(w, f.mobj, mode, offset, len);
}

/**
 * The filesystem's part (shmem_fallocate, as for a memfd; a regular file
 * as on tmpfs, where allocating and punching holes are what every Linux
 * filesystem does): a hole's pages leave the file, the bytes of the hole in
 * a page it cuts become zeros in that page; an allocation changes no bytes
 * and, without KEEP_SIZE, can grow the file.
 */
function fileFallocate(w: World, mobjId: number, mode: number, offset: bigint, len: bigint): [World, Result] {
  const m = w.mem.mobjs.get(mobjId)!;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return [w, { errno: 'EOPNOTSUPP' }];
  if (mode & FALLOC_FL_PUNCH_HOLE) return [punchHole(w, mobjId, offset, len), { errno: 0 }];
  // hugetlbfs_fallocate rounds its end up to a huge page in loff_t: within a huge page of LOFF_MAX
  // that wraps negative, and as a page index the end is then past every page, so it allocates huge
  // pages on and on, into page indices the file's eviction never looks at, until the pool runs out
  // (the oracle: ENOSPC; a campaign that drew it met a kernel BUG in clear_inode later)
  if (m.kind === 'hugetlb' && offset + len + hugeSize(m) - 1n > LOFF_MAX)
    return [w, { errno: 'ENOSPC', unmodelled: "fallocate of a hugetlbfs file within a huge page of the largest file size: the kernel's end index wraps, and it allocates huge pages until the pool runs out" }];
  // (hugetlbfs_fallocate fills the cache, which a private mapping of the file shares from: the
  // model follows the cache of a file the trace made, mm.ts Mobj.hugetlbfs, not a capture's memfd's)
  if (m.kind === 'hugetlb' && !m.hugetlbfs && !m.mayCache && privatelyMapped(w.procs, mobjId))
    return [w, { errno: 0, unmodelled: 'fallocate of a hugetlbfs file that is mapped privately (which pages the private mapping shares with it hangs on the cache)' }];
  // Whether that many pages can be had depends on the machine's memory and the mount's size; for
  // hugetlbfs on its pool, which the model takes to be large enough (as for mmap), up to 128 huge
  // pages of the file's size (1 GiB pages: 128 GiB; the cache keeps one entry per huge page).
  if (m.kind === 'hugetlb' ? len / hugeSize(m) > 128n : len > BigInt(MAX_EVENT_BYTES)) return [w, { errno: 'ENOSPC', unmodelled: `fallocate of ${len} bytes: whether the memory is there depends on the machine` }];
  const end = offset + len;
  const size = mode & FALLOC_FL_KEEP_SIZE || end <= m.size || m.size === UNKNOWN_FILE_SIZE ? m.size : end;
  let next: Mobj = size === m.size ? m : { ...m, size };
  if (m.kind === 'hugetlb') {
    // hugetlbfs_fallocate puts the huge pages of the range in the file's cache, past its end too
    // (KEEP_SIZE, or an end off a huge page): those stay reachable through a mapping. Of a file
    // whose cache the model does not follow (not Mobj.hugetlbfs) it keeps those past the end only,
    // and takes the cache to hold pages from then on (Mobj.mayCache).
    if (!m.hugetlbfs) next = { ...next, mayCache: true };
    const hs = hugeSize(m);
    const eofPage = Number(hugetlbEof(next) / hs);
    next = cacheHuge(next, m.hugetlbfs ? Number(offset / hs) : Math.max(Number(offset / hs), eofPage), Number((end - 1n) / hs));
  }
  return next === m ? [w, { errno: 0 }] : [{ ...w, mem: { ...w.mem, mobjs: w.mem.mobjs.set(mobjId, next) } }, { errno: 0 }];
}

/**
 * A hole in a memory object: its pages wholly inside leave it (zeros from
 * then on; a pinned one lives on, still pinned; unlike a truncation, a
 * MAP_PRIVATE mapping keeps its private copies), and the bytes of the hole in
 * a page it cuts become zeros in that same page. For hugetlbfs the pages are
 * the file's huge pages, 2 MiB or 1 GiB (hugetlbfs_punch_hole).
 */
export function punchHole(w: World, mobjId: number, offset: bigint, len: bigint): World {
  const hm = w.mem.mobjs.get(mobjId)!;
  const unit = hm.kind === 'hugetlb' ? hugeSize(hm) : PAGE_SIZE;
  const holeStart = ((offset + unit - 1n) / unit) * unit;
  const holeEnd = ((offset + len) / unit) * unit;
  const zero = (from: bigint, to: bigint) => {
    if (to > from) w = { ...w, mem: zeroMobj(w.mem, mobjId, from, to) };
  };
  zero(offset, offset + len < holeStart ? offset + len : holeStart);
  if (offset + len > holeEnd && offset + len > holeStart) zero(holeEnd, offset + len);
  if (holeEnd > holeStart) {
    const from = Number(holeStart / PAGE_SIZE);
    const to = Number(holeEnd / PAGE_SIZE);
    w = takeOutPages(w, mobjId, from, to);
    const m = w.mem.mobjs.get(mobjId)!;
    if (m.hugeCached !== undefined) w = { ...w, mem: { ...w.mem, mobjs: w.mem.mobjs.set(mobjId, uncacheHuge(m, Number(holeStart / unit), Number(holeEnd / unit))) } };
    // hugetlbfs unmaps the whole huge pages of the hole from every mapping of the file
    // (hugetlb_vmdelete_list), a private one's own copies too, which then go.
    if (m.kind === 'hugetlb') for (const cow of privateCopiesOf(w.procs, mobjId)) w = takeOutPages(w, cow, from, to);
  }
  return w;
}

/** Zeros over [from, to) of an object, page by page where it has contents (other pages are zeros already). */
function zeroMobj(mem: Memory, mobjId: number, from: bigint, to: bigint): Memory {
  const m = mem.mobjs.get(mobjId)!;
  const pages: number[] = [];
  m.data.each((idx) => {
    if (BigInt(idx) * PAGE_SIZE >= to) return false;
    pages.push(idx);
    return true;
  }, Number(from / PAGE_SIZE));
  for (const idx of pages) {
    const ps = BigInt(idx) * PAGE_SIZE;
    const a = from > ps ? from : ps;
    const b = to < ps + PAGE_SIZE ? to : ps + PAGE_SIZE;
    mem = writeMobj(mem, mobjId, a, new Uint8Array(Number(b - a)));
  }
  return mem;
}
