/**
 * Environment events: what happens outside the ioctls that the model must
 * know to answer them exactly — processes, file descriptors, user memory,
 * capabilities, fault-fd reads and writes.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { u32, u64 } from './args.js';
import { closeFd, fileAt, installFile, LOFF_MAX, opaque } from './files.js';
import { faultRead, faultWrite } from './fault.js';
import { dmaWrite, guestS1Change, iopf } from './dma.js';
import { HPAGE_SIZE, HUGE_SHIFTS, hugeNr, hugeSize, PAGE_SIZE, TASK_SIZE, U64_MAX, VM_WRITABLE_COPIES, isHugetlbVma, VM_ACCOUNT, VM_EXEC, VM_HUGETLB, VM_LOCKED, VM_NO_MAYWRITE, VM_LOCKONFAULT, VM_NOHUGEPAGE, VM_NORESERVE, cutsHugetlb, pageAlign, emptyMm, findVma, forkMm, mapVma, newMobj, protectionChanges, protectRange, privateCopiesOf, privatelyMapped, readMobj, readUser, roundUp, uncacheHuge, UNKNOWN_FILE_SIZE, unmapRange, vmasIn, withPageSet, withVmas, copyToUser, writeMobj, type Memory, type Mm, type Mobj, type MobjKind, type Vma } from './mm.js';
import { fault, forkPmds, mappedElsewhere, munmapFreeing, refusedCut, settle } from './huge_memory.js';
import { Tx } from './object.js';
import type { OpenFile, Proc, World } from './state.js';
import { hardwareOps } from './hardware.js';
import { accessGranted, vfioNodeExists, vfioOpen } from './vfio_device.js';
import { table } from '../ds/table.js';
import { MAX_EVENT_BYTES, MAX_EVENT_STEPS, overLimit } from './limits.js';
import { folioPinned, physPinned, takeOutPages } from './pages.js';
import { madvise } from './madvise.js';
import { fallocate } from './fallocate.js';
import { mremap } from './mremap.js';
import { cowFaultPastEof, keepForkedApart, kernelVmaPieces, mergeChanged, mergeNew, sameKernelVma, splitKernelVma } from './vma_merge.js';
import { canDoMlock, faultInVma, mlock, mlockall, mlockFutureOk, munlock, munlockall, populate, populated, tooMuchToFault, tooMuchToFaultIn } from './mlock.js';

export type EnvHandler = (w: World, pid: number, a: Fields, ev: Event) => [World, Result];

export function newProc(pid: number): Proc {
  return {
    pid,
    alive: true,
    mm: emptyMm(),
    fds: PMap.emptyNumber<number>(),
    capIpcLock: true,
    capSysResource: true,
    memlockPages: null,
    uid: 0,
    lockedVm: 0n,
    pinnedVm: 0n,
  };
}

const fail = (w: World, errno: string): [World, Result] => [w, { errno }];

function proc(w: World, pid: number): Proc {
  return w.procs.get(pid)!;
}

function setProc(w: World, p: Proc): World {
  return { ...w, procs: w.procs.set(p.pid, p) };
}

/**
 * open(2): /dev/iommu creates a new context, a VFIO node opens its device or
 * group, a directory a descriptor of it, O_TMPFILE a new unnamed file, any
 * other path a regular file. The checks come in the kernel's order:
 * build_open_how / build_open_flags on the flags alone, then the lookup
 * (a trailing slash, O_DIRECTORY), then do_open and may_open on what was
 * found. Which paths exist is known only for the directories every Linux has
 * (KNOWN_DIRS) and the files the trace opened: any other path is taken to be
 * what the flags ask for (a directory for O_DIRECTORY, O_TMPFILE or a
 * trailing slash, else a regular file), as the recorded answers show.
 */
function open(w: World, pid: number, a: Fields): [World, Result] {
  // (getname: the string up to its NUL)
  const whole = String(a['path'] ?? '');
  const raw = whole.includes('\0') ? whole.slice(0, whole.indexOf('\0')) : whole;
  // One file by any spelling of its path that needs no lookup to resolve ("//" and "/./" are "/";
  // ".." is left alone, as it depends on symlinks). A trailing slash or "/." names a directory:
  // "/tmp/" is "/tmp", "/tmp/x/" a directory x or nothing.
  let spelt = raw.replace(/\/+/g, '/');
  while (spelt.includes('/./')) spelt = spelt.replace('/./', '/');
  // (a last component "." is the directory itself, found by walking into it: no O_CREAT EISDIR)
  const dotEnd = spelt.length > 1 && spelt.endsWith('/.');
  const slash = spelt.length > 1 && spelt.endsWith('/');
  const path = slash || dotEnd ? spelt.replace(/\/\.?$/, '') || '/' : spelt;
  const given = a['flags'] !== undefined;
  const flags = given ? u32(a, 'flags') : 0;
  const isDir = KNOWN_DIRS.has(path);
  const fileAtPath = (p: string) => p === '/dev/iommu' || p === VFIO_CONTAINER || w.mem.paths?.get(p) !== undefined || vfioNodeExists(w, p);
  const isFile = !isDir && fileAtPath(path);

  // O_ACCMODE; a trace that gives no flags opens as the oracle's executor does: /tmp and /dev
  // read-write, anything else read-only. 3 gives neither FMODE_READ nor FMODE_WRITE (OPEN_FMODE).
  const acc = given ? flags & 3 : raw.startsWith('/tmp/') || raw.startsWith('/dev/') ? 2 : 0;
  // build_open_flags (O_PATH beats everything else: build_open_how keeps only O_DIRECTORY,
  // O_NOFOLLOW and O_CLOEXEC beside it): O_DIRECTORY | O_CREAT (O_TMPFILE | O_CREAT too), then
  // O_TMPFILE without O_DIRECTORY or without write access; then getname's empty path.
  if (!(flags & O_PATH)) {
    if ((flags & (O_DIRECTORY | O_CREAT)) === (O_DIRECTORY | O_CREAT)) return fail(w, 'EINVAL');
    if (flags & O_TMPFILE_BIT && (!(flags & O_DIRECTORY) || acc === 0)) return fail(w, 'EINVAL');
  }
  if (raw === '') return fail(w, 'ENOENT');
  if (Buffer.byteLength(raw) >= PATH_MAX) return fail(w, 'ENAMETOOLONG');
  const walked = walkErrno(spelt, fileAtPath);
  if (walked) return fail(w, walked);
  // O_PATH: no device's open, no truncation, a descriptor of the path.
  if (flags & O_PATH) {
    if (isFile && (slash || flags & O_DIRECTORY)) return fail(w, 'ENOTDIR');
    const [w2, fd] = installFile(w, pid, { kind: 'path' });
    return [w2, { errno: 0, ret: fd }];
  }
  const mode = acc === 0 ? { readOnly: true as const } : acc === 1 ? { writeOnly: true as const } : acc === 3 ? { readOnly: true as const, writeOnly: true as const } : {};
  if (flags & O_TMPFILE_BIT) return tmpfile(w, pid, path, isFile, flags, mode);
  // open_last_lookups: O_CREAT with a trailing slash is EISDIR whatever is there.
  if (slash && flags & O_CREAT) return fail(w, 'EISDIR');
  // do_open: O_CREAT | O_EXCL of a path that exists is EEXIST, then O_CREAT of a directory EISDIR;
  // then a lookup that wanted a directory (O_DIRECTORY, a trailing slash) and found none, ENOTDIR.
  if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL) && (isDir || isFile)) return fail(w, 'EEXIST');
  if (isFile && (slash || flags & O_DIRECTORY)) return fail(w, 'ENOTDIR');
  if (isDir || slash || dotEnd || flags & O_DIRECTORY) {
    if (flags & O_CREAT) return fail(w, 'EISDIR');
    // may_open: a directory opens for reading only (O_TRUNC asks for writing too)
    if (acc !== 0 || flags & O_TRUNC) return fail(w, 'EISDIR');
    const [w2, fd] = installFile(w, pid, { kind: 'dir', readOnly: true });
    return [w2, { errno: 0, ret: fd }];
  }
  // /dev/vfio/vfio is the iommufd with CONFIG_IOMMUFD_VFIO_CONTAINER, else the legacy VFIO
  // container (drivers/vfio/container.c, the oracle's kernel has it), which is not iommufd: which one
  // a trace met, it does not say. (iommufd's compat ioctls answer on /dev/iommu as well.)
  if (path === VFIO_CONTAINER) return [w, { errno: 'ENODEV', unmodelled: `open of ${VFIO_CONTAINER}: the iommufd (CONFIG_IOMMUFD_VFIO_CONTAINER) or the legacy VFIO container by the kernel's config; name /dev/iommu for iommufd's compat container` }];
  const vfio = path.startsWith('/dev/vfio/') ? vfioOpen(w, pid, path) : undefined;
  if (vfio) return vfio;
  if (path === '/dev/iommu') {
    const ctxId = w.nextCtx;
    // (its ioctls take any mode; read, write and mmap look at it: EBADF, EACCES)
    const [w2, fd, fileId] = installFile(w, pid, { kind: 'iommufd', ctx: ctxId, ...mode });
    const ctx = { id: ctxId, file: fileId, objs: PMap.emptyNumber<never>(), pages: PMap.emptyNumber<never>(), nextPages: 1, accountMode: 'user' as const, vfioIoas: 0 };
    return [{ ...w2, nextCtx: ctxId + 1, ctxs: w2.ctxs.set(ctxId, ctx) }, { errno: 0, ret: fd }];
  }
  // A regular file: the one every earlier open of the path found, else one whose size and
  // contents are those it had before the trace (unknown) — unless O_TRUNC empties it, or
  // O_CREAT | O_EXCL made it (a path the trace had not opened: new, and empty).
  let mem = w.mem;
  let mobj = mem.paths?.get(path);
  if (mobj === undefined) {
    const fresh = (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
    const size = fresh ? 0n : UNKNOWN_FILE_SIZE;
    // (a file on the hugetlbfs mount, as QEMU's -mem-path /dev/hugepages makes one, goes by huge
    // pages; one from before the trace may have pages in its cache, a new or emptied one has none)
    [mem, mobj] = onHugetlbfs(path) ? newMobj(mem, 'hugetlb', size, path, undefined, !fresh, true) : newMobj(mem, 'file', size, path, undefined, !fresh);
    if (onHugetlbfs(path)) {
      const known = fresh || (flags & O_TRUNC) !== 0;
      mem = { ...mem, mobjs: mem.mobjs.set(mobj, { ...mem.mobjs.get(mobj)!, ...(known ? { hugetlbfs: true as const } : { mayCache: true as const }) }) };
    }
    mem = { ...mem, paths: (mem.paths ?? NO_PATHS).set(path, mobj) };
  }
  let [w2, fd] = installFile({ ...w, mem }, pid, { kind: 'file', mobj, ...mode, ...(flags & O_APPEND ? { append: true as const } : {}) });
  if (flags & O_TRUNC) w2 = truncateFile(w2, mobj, 0n);
  return [w2, { errno: 0, ret: fd }];
}

/**
 * link_path_walk and the last component's lookup: every component but the
 * last (and the last before a ".") must be a directory (ENOTDIR at a file
 * the trace knows), and no name is longer than NAME_MAX: ENAMETOOLONG from a
 * filesystem's lookup (tmpfs, devtmpfs, hugetlbfs: simple_lookup), ENOENT
 * from procfs and sysfs, which look names up in their own tables.
 */
function walkErrno(spelt: string, fileAtPath: (p: string) => boolean): string | undefined {
  const abs = spelt.startsWith('/');
  let dir = '';
  let k = 0;
  for (const name of spelt.split('/')) {
    if (name === '') continue;
    if (abs && k > 0 && fileAtPath(dir)) return 'ENOTDIR';
    if (name !== '.' && Buffer.byteLength(name) > NAME_MAX) {
      const kernfs = abs && (dir === '/proc' || dir.startsWith('/proc/') || dir === '/sys' || dir.startsWith('/sys/'));
      return kernfs ? 'ENOENT' : 'ENAMETOOLONG';
    }
    dir = `${dir}/${name}`;
    k++;
  }
  return undefined;
}
const PATH_MAX = 4096;
const NAME_MAX = 255;

/**
 * O_TMPFILE in directory `dir` (do_tmpfile, vfs_tmpfile): a new, empty file
 * that no path names. A path the trace opened as a file is ENOTDIR; procfs
 * and sysfs have no tmpfile method (EOPNOTSUPP); the hugetlbfs mount makes a
 * hugetlbfs file. O_EXCL (no linkat later) and O_TRUNC change nothing here.
 */
function tmpfile(w: World, pid: number, dir: string, isFile: boolean, flags: number, mode: Partial<Pick<OpenFile, 'readOnly' | 'writeOnly'>>): [World, Result] {
  if (isFile) return fail(w, 'ENOTDIR');
  const under = (mount: string) => dir === mount || dir.startsWith(mount + '/');
  if (under('/proc') || under('/sys')) return fail(w, 'EOPNOTSUPP');
  const name = `${dir === '/' ? '' : dir}/(O_TMPFILE)`;
  let [mem, mobj] = under('/dev/hugepages') ? newMobj(w.mem, 'hugetlb', 0n, name, undefined, false, true) : newMobj(w.mem, 'file', 0n, name);
  if (under('/dev/hugepages')) mem = { ...mem, mobjs: mem.mobjs.set(mobj, { ...mem.mobjs.get(mobj)!, hugetlbfs: true as const }) };
  const [w2, fd] = installFile({ ...w, mem }, pid, { kind: 'file', mobj, ...mode, ...(flags & O_APPEND ? { append: true as const } : {}) });
  return [w2, { errno: 0, ret: fd }];
}

/**
 * Directories every Linux system has (and the oracle's guest: its root, tmpfs
 * /tmp, devtmpfs /dev with /dev/vfio, the hugetlbfs mount). /dev/shm is not
 * among them: the oracle's guest has none.
 */
const KNOWN_DIRS: ReadonlySet<string> = new Set(['/', '/tmp', '/dev', '/dev/hugepages', '/dev/vfio', '/proc', '/sys']);
const O_DIRECTORY = 0o200000;
const VFIO_CONTAINER = '/dev/vfio/vfio';
/** __O_TMPFILE (O_TMPFILE is it with O_DIRECTORY) */
const O_TMPFILE_BIT = 0o20000000;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
/** The hugetlbfs mount (the oracle's guest has it there, as most distributions do). */
const onHugetlbfs = (path: string): boolean => path.startsWith('/dev/hugepages/');
const O_PATH = 0o10000000;
const NO_PATHS = PMap.empty<string, number>((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function close(w: World, pid: number, a: Fields): [World, Result] {
  const w2 = closeFd(w, pid, u32(a, 'fd'));
  return w2 ? [w2, { errno: 0 }] : fail(w, 'EBADF');
}

// mmap(2)'s flags besides the mapping's type, which the event's `kind` gives (MAP_SHARED or
// MAP_PRIVATE, MAP_ANONYMOUS, MAP_HUGETLB; the address is always fixed, MAP_FIXED).
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_DENYWRITE = 0x800;
const MAP_EXECUTABLE = 0x1000;
const MAP_LOCKED = 0x2000;
const MAP_NORESERVE = 0x4000;
const MAP_POPULATE = 0x8000;
const MAP_NONBLOCK = 0x10000;
const MAP_STACK = 0x20000;
const MAP_HUGETLB = 0x40000;
const MAP_FIXED_NOREPLACE = 0x100000;
const MAP_UNINITIALIZED = 0x4000000;
const MAP_HUGE_SHIFT = 26;
const MAP_HUGE_MASK = 0x3f;
/** The protection bits of mmap and mprotect (asm-generic/mman-common.h). */
const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const PROT_EXEC = 0x4;
const PROT_SEM = 0x8;
const PROT_GROWSDOWN = 0x01000000;
const PROT_GROWSUP = 0x02000000;
/** The flags modelled: what they do below; DENYWRITE, EXECUTABLE and UNINITIALIZED the kernel ignores. */
const MAP_MODELLED = MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_FIXED_NOREPLACE | MAP_UNINITIALIZED;

/** Why mmap's `flags` are past the model, if they are. */
function unmodelledMapFlags(flags: number, kind: string): string | undefined {
  if (flags & 3) return 'mmap flags: the mapping type (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE) is the event\'s kind, not a flag';
  const rest = flags & ~MAP_MODELLED & ~(MAP_HUGE_MASK << MAP_HUGE_SHIFT);
  if (rest) return `mmap flags 0x${rest.toString(16)} (MAP_GROWSDOWN, MAP_SYNC, MAP_32BIT, ...) are not modelled`;
  return undefined;
}

/**
 * mmap(2) at a fixed address. kind: anon (shared anonymous), private_anon,
 * anon_hugetlb, file_private, file_shared, memfd. `flags` (optional) are the
 * call's other MAP_* flags: MAP_LOCKED (VM_LOCKED, as after
 * mlockall(MCL_FUTURE)), MAP_POPULATE (faulted in, unless MAP_NONBLOCK too),
 * MAP_NORESERVE (VM_NORESERVE: not committed, so never VM_ACCOUNT),
 * MAP_STACK (VM_NOHUGEPAGE), MAP_FIXED_NOREPLACE (EEXIST over a mapping).
 */
function mmap(w: World, pid: number, a: Fields): [World, Result] {
  const va = u64(a, 'va');
  let length = u64(a, 'length');
  let kind = String(a['kind'] ?? 'anon');
  const prot = a['prot'] === undefined ? 3 : u32(a, 'prot');
  const mapFlags = a['flags'] === undefined ? 0 : u32(a, 'flags');
  const notModelled = unmodelledMapFlags(mapFlags, kind);
  if (notModelled) return [w, { errno: 'EINVAL', unmodelled: notModelled }];
  // ksys_mmap_pgoff, first of all: anonymous hugetlb memory of a page size the kernel has no pool
  // of (hstate_sizelog) is EINVAL; x86-64 has 2 MiB (log2 21, also 0: the default) and 1 GiB (30,
  // on a CPU with GBPAGES). For a file mapping the bits are ignored (its file has its page size).
  const sizeLog = (mapFlags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
  const anonHuge = kind === 'anon_hugetlb' || ((kind === 'anon' || kind === 'private_anon') && (mapFlags & MAP_HUGETLB) !== 0);
  if (anonHuge && sizeLog !== 0 && !HUGE_SHIFTS.includes(sizeLog)) return fail(w, 'EINVAL');
  const anonHugeShift = anonHuge && sizeLog !== 0 ? sizeLog : undefined;
  let hugePage = anonHugeShift === undefined ? HPAGE_SIZE : 1n << BigInt(anonHugeShift);
  const p = proc(w, pid);
  // (MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB is what the kind anon_hugetlb stands for)
  if (kind === 'anon' && mapFlags & MAP_HUGETLB) kind = 'anon_hugetlb';
  // (ksys_mmap_pgoff aligns a hugetlb mapping's length to its huge page first, in an unsigned long:
  // it may wrap to 0; do_mmap's PAGE_ALIGN of a length that wraps is ENOMEM, held here as past TASK_SIZE)
  const rawLength = length;
  const lengthOf = (huge: boolean) => roundUp(huge ? BigInt.asUintN(64, roundUp(rawLength, hugePage)) : rawLength, PAGE_SIZE);
  // do_mmap and __get_unmapped_area, after the fd lookup (EBADF) of a file mapping: a length of 0 is
  // EINVAL; one that wraps or reaches past TASK_SIZE ENOMEM; a hugetlb mapping at an address off a
  // huge page EINVAL (hugetlbfs's placement, prepare_hugepage_range); an address whose end is past
  // TASK_SIZE ENOMEM; then an unaligned address EINVAL.
  const rangeErrOf = (length: bigint, huge: boolean): string | 0 =>
    length === 0n ? 'EINVAL' : length > TASK_SIZE ? 'ENOMEM' : huge && va % hugePage ? 'EINVAL' : va > TASK_SIZE - length ? 'ENOMEM' : va % PAGE_SIZE ? 'EINVAL' : 0;
  // (the file's offset, page-aligned: x86's mmap refuses any other before even looking at the fd)
  const offset0 = a['offset'] === undefined ? 0n : u64(a, 'offset');
  if (offset0 % PAGE_SIZE) return fail(w, 'EINVAL');
  // (MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB: private hugetlb memory, an unnamed hugetlbfs file's private mapping)
  const privateHuge = kind === 'private_anon' && (mapFlags & MAP_HUGETLB) !== 0;
  length = lengthOf(kind === 'anon_hugetlb' || privateHuge);
  let rangeErr = rangeErrOf(length, kind === 'anon_hugetlb' || privateHuge);
  const fileKind = kind === 'memfd' || kind === 'file_private' || kind === 'file_shared';
  if (rangeErr && !(fileKind && a['fd'] !== undefined)) return fail(w, rangeErr);
  // (MAP_LOCKED, or mlockall(MCL_FUTURE) before, locks the mapping)
  const lock = (p.defLocked ?? 0) | (mapFlags & MAP_LOCKED ? VM_LOCKED : 0);
  // do_mmap, after __get_unmapped_area and before the file's checks: MAP_FIXED_NOREPLACE over a
  // mapping is EEXIST; MAP_LOCKED without the right to lock EPERM (can_do_mlock); locking more
  // than RLIMIT_MEMLOCK allows EAGAIN (mlock_future_ok).
  const placeErr = (): string | 0 =>
    mapFlags & MAP_FIXED_NOREPLACE && vmasIn(p.mm, va, va + length).length ? 'EEXIST' : mapFlags & MAP_LOCKED && !canDoMlock(p) ? 'EPERM' : !mlockFutureOk(p, lock, length) ? 'EAGAIN' : 0;
  if (!(fileKind && a['fd'] !== undefined)) {
    const e = placeErr();
    if (e) return fail(w, e);
  }
  // A file's mmap method that refuses (EINVAL) does so after mmap_region unmapped what was there:
  // a gap is left (vms_abort_munmap_vmas), unless that unmapping itself refused a cut.
  const fileMmapRefused = (): [World, Result] => {
    const refused = refusedCut(p.mm, w.mem, va, va + length);
    const mm = refused ? refused.mm : settle(unmapRange(p.mm, va, va + length), va, va + length);
    return [mm === p.mm ? w : setProc({ ...w, mem: refused?.mem ?? w.mem }, { ...p, mm }), { errno: 'EINVAL' }];
  };
  let mem = w.mem;
  let mobj: number;
  let offset = 0n;
  let shared = true;
  let cow: number | undefined;
  let noMayWrite = 0;
  let hugeFile = false;
  if (fileKind) {
    if (a['fd'] === undefined && kind === 'file_private') {
      // A private mapping of some regular file that the trace does not name (as long as the mapping reaches).
      [mem, mobj] = newMobj(mem, 'file', u64(a, 'offset') + length, 'file');
    } else {
      const f = fileAt(w, pid, u32(a, 'fd'));
      if (!f) return fail(w, 'EBADF');
      // (a hugetlbfs file is mapped by huge pages: is_file_hugepages)
      hugeFile = f.mobj !== undefined && w.mem.mobjs.get(f.mobj)!.kind === 'hugetlb';
      // (MAP_HUGETLB asks a file for nothing more when it is hugetlbfs's, and is refused otherwise)
      if (!hugeFile && mapFlags & MAP_HUGETLB) return fail(w, 'EINVAL');
      if (hugeFile) {
        hugePage = hugeSize(w.mem.mobjs.get(f.mobj!)!);
        length = lengthOf(true);
        rangeErr = rangeErrOf(length, true);
      }
      if (rangeErr) return fail(w, rangeErr);
      const e = placeErr();
      if (e) return fail(w, e);
      if (opaque(f)) return [w, { errno: 'ENODEV', unmodelled: 'mmap of a file the process had before the trace (what it is is not known)' }];
      // file_mmap_ok: the mapping must end inside the largest file offset, MAX_LFS_FILESIZE for a
      // regular file (a memfd too), ULONG_MAX for a device or an anonymous inode (EOVERFLOW).
      if (offset0 + length > (f.mobj !== undefined ? LOFF_MAX : U64_MAX)) return fail(w, 'EOVERFLOW');
      // A VFIO device file has an mmap method (vfio_device_fops_mmap): not the bound file, EINVAL;
      // the bound one maps the driver's regions (a BAR), which the model does not have.
      if (f.kind === 'vfio') {
        if (accessGranted(w, f)) return [w, { errno: 'ENODEV', unmodelled: "mmap of a VFIO device file (the driver's regions are not modelled)" }];
        return fileMmapRefused();
      }
      // The file's access mode (do_mmap): a shared writable mapping needs FMODE_WRITE, any mapping
      // FMODE_READ (EACCES, before the ENODEV of a file that has no mmap method).
      if ((kind !== 'file_private' && prot & PROT_WRITE && f.readOnly) || f.writeOnly) return fail(w, 'EACCES');
      // A file without an mmap method (the iommufd, a fault or access fd, a group): ENODEV.
      if (f.mobj === undefined) return fail(w, 'ENODEV');
      // (a shared mapping of a file opened read-only has no VM_MAYWRITE: mprotect may not add PROT_WRITE)
      if (kind !== 'file_private' && f.readOnly) noMayWrite = VM_NO_MAYWRITE;
      mobj = f.mobj;
    }
    offset = offset0;
    if (hugeFile) {
      // A private mapping of a hugetlbfs file reads the huge pages the file's cache has, until it
      // writes or pins them, and gets its own where the cache has none (hugetlb_no_page): the model
      // follows the cache of a file the trace made (mm.ts hugetlbfsFault). Of one from before the
      // trace, or a memfd a capture's program touched unseen, it does not know what the cache holds.
      const hm = mem.mobjs.get(mobj)!;
      if (kind === 'file_private' && hm.mayCache) return [w, { errno: 'EOPNOTSUPP', unmodelled: 'a private mapping of a hugetlbfs file whose page cache may hold pages (which of them it shares hangs on the cache)' }];
      // ...and the other way round: a shared mapping of such a file, which fills the cache unseen, beside a private one.
      if (kind !== 'file_private' && !hm.hugetlbfs && !hm.mayCache && privatelyMapped(w.procs, mobj))
        return [w, { errno: 'EOPNOTSUPP', unmodelled: 'a shared mapping of a hugetlbfs file that is also mapped privately (which pages the private mapping shares with it hangs on the cache)' }];
      // hugetlbfs_file_mmap, once mmap_region has unmapped the range (a gap is left when it refuses):
      // the offset must be on a huge page.
      if (offset % hugePage) return fileMmapRefused();
      // (a writable mapping, private too, reaching past the end grows the file to cover it; a shared
      // one fills the cache as it is touched: of a file whose cache the model does not follow, the
      // cache may hold pages from then on)
      const grown = prot & PROT_WRITE && hm.size < offset + length ? offset + length : hm.size;
      const cache = kind !== 'file_private' && !hm.hugetlbfs && !hm.mayCache;
      if (grown !== hm.size || cache) mem = { ...mem, mobjs: mem.mobjs.set(mobj, { ...hm, size: grown, ...(cache ? { mayCache: true as const } : {}) }) };
    }
    if (kind === 'file_private') {
      shared = false;
      // (a capture's program writes there unseen: its private copies are of unknown contents)
      // (a hugetlbfs file's are huge pages, of its own from the first touch on: mm.ts pinPage)
      const fileObj = mem.mobjs.get(mobj)!;
      [mem, cow] = newMobj(mem, hugeFile ? 'hugetlb' : 'anon', fileObj.size, undefined, undefined, a['content'] === 'unknown', hugeFile, hugeFile ? fileObj.hugeShift : undefined);
    }
  } else {
    const mk: MobjKind = kind === 'anon_hugetlb' || privateHuge ? 'hugetlb' : kind === 'private_anon' ? 'anon' : 'shmem';
    shared = kind !== 'private_anon';
    [mem, mobj] = newMobj(mem, mk, length, undefined, undefined, a['content'] === 'unknown', false, anonHugeShift);
  }
  // (accountable_mapping: a private writable mapping is committed memory, VM_ACCOUNT, unless MAP_NORESERVE)
  const noreserve = mapFlags & MAP_NORESERVE ? VM_NORESERVE : 0;
  // (accountable_mapping: never hugetlb memory)
  const account = !shared && !!(prot & PROT_WRITE) && !noreserve && !privateHuge && !hugeFile;
  // (the old mappings go first, and with them the page tables nothing else overlaps)
  // (a private anonymous VMA's page offset is its address: do_mmap)
  const anonPgoff = kind === 'private_anon' && !privateHuge ? { pgoffDelta: va } : {};
  // (mmap_region unmaps what was there first, which may refuse its cuts: EINVAL, maybe a split kept)
  const refused = refusedCut(p.mm, w.mem, va, va + length);
  if (refused) return [refused.mm === p.mm ? w : setProc({ ...w, mem: refused.mem }, { ...p, mm: refused.mm }), { errno: 'EINVAL' }];
  // (mmap_region: a hugetlb mapping is not locked, nor counted)
  // (calc_vm_prot_bits: PROT_EXEC is VM_EXEC; mmap ignores prot bits it does not know)
  const flags = (account ? VM_ACCOUNT : 0) | noreserve | noMayWrite | (prot & PROT_EXEC ? VM_EXEC : 0) | (mapFlags & MAP_STACK ? VM_NOHUGEPAGE : 0) | (kind === 'anon_hugetlb' || hugeFile || privateHuge ? VM_HUGETLB : lock);
  // A locked mapping, or one asked for with MAP_POPULATE (not MAP_NONBLOCK), is faulted in below
  // (do_mmap's *populate); populate_vma_page_range leaves one locked on fault alone. That is
  // refused at once, with nothing changed, when it is too much for one event.
  const populates = !!(lock & VM_LOCKED) || (mapFlags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE;
  const faultsIn = populates && !(flags & VM_LOCKONFAULT);
  const tooBig = faultsIn ? (tooMuchToFault(length) ?? (cow !== undefined && prot & PROT_WRITE ? overLimit('populating private file mappings for writing', length / PAGE_SIZE, MAX_EVENT_STEPS, 'pages') : undefined)) : undefined;
  if (tooBig) return [w, tooBig];
  const v: Vma = { start: va, end: va + length, read: !!(prot & PROT_READ), write: !!(prot & PROT_WRITE), shared, mobj, offset, ...(cow !== undefined ? { cow } : {}), ...(flags ? { flags } : {}), ...anonPgoff };
  let mm = mapVma(settle(unmapRange(p.mm, va, va + length), va, va + length), v);
  // ...and it merges with its neighbours as the kernel's would (vma_merge.ts)
  [mm, mem] = mergeNew(mm, mem, [v]);
  const mapped = setProc({ ...w, mem }, { ...p, mm });
  // (vm_mmap_pgoff: mm_populate, errors ignored)
  if (!faultsIn) return [mapped, { errno: 0, ret: 0 }];
  const [populated, big] = populate(mapped, pid, va, va + length, true);
  return [populated, big ?? { errno: 0, ret: 0 }];
}

/** Whether cutting the VMAs at `addr` would split a hugetlb VMA off a huge-page boundary (hugetlb_vm_op_split: EINVAL). */
function splitsHugetlb(w: World, pid: number, addr: bigint): boolean {
  return cutsHugetlb(proc(w, pid).mm, w.mem, addr);
}

/** munmap(2) (huge_memory.ts munmapFreeing). */
function munmap(w: World, pid: number, a: Fields): [World, Result] {
  const p = proc(w, pid);
  const u = munmapFreeing(p.mm, w.mem, u64(a, 'va'), u64(a, 'length'));
  // (a refused unmapping may still have split the VMA at its start: refusedCut)
  return u.mm === p.mm ? [w, { errno: u.errno }] : [setProc({ ...w, mem: u.mem }, { ...p, mm: u.mm }), { errno: u.errno }];
}

/**
 * mprotect(2), do_mprotect_pkey's checks in order: EINVAL for both GROWSDOWN and GROWSUP, an
 * unaligned start, or a bit x86's arch_validate_prot does not know (PROT_SEM it takes and
 * ignores); ENOMEM for a wrapping range, or no VMA at the start; then GROWSDOWN (a VMA anywhere in
 * the range) and GROWSUP are EINVAL, as no VMA of the model grows (MAP_GROWSDOWN is not modelled,
 * x86 has no VM_GROWSUP). Then VMA by VMA: ENOMEM at a hole, EACCES at a VMA that may not be
 * made writable (VM_NO_MAYWRITE), EINVAL for a split of a hugetlb VMA off a huge page. PROT_EXEC
 * is VM_EXEC; every file is taken for one on a mount that allows it (a noexec mount's refuses it).
 */
function mprotect(w: World, pid: number, a: Fields): [World, Result] {
  const va = u64(a, 'va');
  const raw = u64(a, 'length');
  const rawProt = u32(a, 'prot');
  const grows = rawProt & (PROT_GROWSDOWN | PROT_GROWSUP);
  const prot = rawProt & ~grows;
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return fail(w, 'EINVAL');
  if (va % PAGE_SIZE) return fail(w, 'EINVAL');
  if (raw === 0n) return [w, { errno: 0 }];
  const length = pageAlign(raw);
  if (length === 0n || va + length > U64_MAX) return fail(w, 'ENOMEM');
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return fail(w, 'EINVAL');
  const p = proc(w, pid);
  const end = va + length;
  if (grows & PROT_GROWSDOWN) return fail(w, vmasIn(p.mm, va, end).length ? 'EINVAL' : 'ENOMEM');
  // the start must lie in a VMA (else ENOMEM, nothing done)
  if (!findVma(p.mm, va)) return fail(w, 'ENOMEM');
  if (grows & PROT_GROWSUP) return fail(w, 'EINVAL');
  const read = !!(prot & PROT_READ);
  const write = !!(prot & PROT_WRITE);
  const exec = !!(prot & PROT_EXEC);
  // A VMA is split only where its protection changes (mprotect_fixup keeps an unchanged one whole).
  const changes = (addr: bigint) => {
    const v = p.mm.vmas.floor(addr)?.[1];
    return !!v && protectionChanges(v, read, write, exec);
  };
  // (the first VMA's may-write check comes before mprotect_fixup splits it: EACCES first, below)
  const first = findVma(p.mm, va)!;
  if (splitsHugetlb(w, pid, va) && changes(va) && !(write && (first.flags ?? 0) & VM_NO_MAYWRITE)) return fail(w, 'EINVAL');
  // Then VMA by VMA, each changed as it comes: a hole (or the range running past the last VMA)
  // stops it with ENOMEM, and a hugetlb VMA split at `end` off a huge page with EINVAL, both
  // keeping what the VMAs before got (kernel partial effects).
  // (a VMA split inside a transparent huge page splits the page's mapping: settle)
  // (each VMA changed merges with neighbours it now agrees with: vma_merge.ts mergeChanged)
  // (a locked private VMA made writable is faulted in below: refused at once when that is too much)
  const madeWritable = (v: Vma) => populated(v) && !v.write && !v.shared;
  const big = write ? tooMuchToFaultIn(p.mm, va, end, madeWritable, () => true) : undefined;
  if (big) return [w, big];
  const done = (mm: Mm, errno: string | 0, split = w.mem): [World, Result] => {
    const [merged, mem] = mergeChanged(p.mm, settle(mm, va, end), split, va, end);
    return withMm(mem === w.mem ? w : { ...w, mem }, p, merged, errno);
  };
  // mprotect_fixup: a locked private VMA made writable is faulted in for writing (COW broken now,
  // not at the first store), unless it locks on fault; what that meets is not the call's concern.
  // Where that happens the VMAs go one by one, as the kernel walks them: each merges when the walk
  // reaches it, after the fault of the one before it, which may take an anon_vma that keeps it from
  // merging with the one after it (aimed vma_merges 1405/0852), or that it takes from that very
  // neighbour, which then merges into it (vma_merges 953/0416); then it is faulted in itself.
  const walk = (limit: bigint, errno: string | 0): [World, Result] => {
    let cur = w;
    let pos = va;
    while (pos < limit) {
      const at = findVma(p.mm, pos) ?? p.mm.vmas.ceil(pos)?.[1];
      if (!at || at.start >= limit) break;
      const pieces = kernelVmaPieces(p.mm, at);
      const from = pieces[0]!.start > pos ? pieces[0]!.start : pos;
      const last = pieces[pieces.length - 1]!.end;
      const to = last < limit ? last : limit;
      const q = proc(cur, pid);
      const changed = protectRange(q.mm, cur.mem, from, to, read, write, exec).mm;
      const [merged, mem] = mergeChanged(q.mm, settle(changed, from, to), cur.mem, from, to);
      if (merged !== q.mm || mem !== cur.mem) cur = setProc({ ...cur, mem }, { ...q, mm: merged });
      if (write && madeWritable(at)) {
        const now = findVma(proc(cur, pid).mm, from);
        if (now?.write) {
          const [faulted, failed] = faultInVma(cur, pid, now, from, to, true);
          if (failed && failed !== 'eof') return [w, failed];
          cur = faulted;
        }
      }
      pos = to;
    }
    return [cur, { errno }];
  };
  const whole = protectRange(p.mm, w.mem, va, end, read, write, exec);
  const faults = write && vmasIn(p.mm, va, whole.reached).some(madeWritable);
  if (whole.refused) return faults ? walk(whole.reached, whole.refused) : done(whole.mm, whole.refused);
  if (whole.reached < end) return faults ? walk(whole.reached, 'ENOMEM') : done(whole.mm, 'ENOMEM');
  if (splitsHugetlb(w, pid, end) && changes(end - 1n)) {
    // (the VMAs before it change; or, the range starting inside it, it is split at the range's
    // start first, and that split stays)
    const last = p.mm.vmas.floor(end - 1n)![1];
    if (last.start >= va) return faults ? walk(last.start, 'EINVAL') : done(protectRange(p.mm, w.mem, va, last.start, read, write, exec).mm, 'EINVAL');
    const [split, mem] = splitKernelVma(p.mm, w.mem, va);
    return done(split, 'EINVAL', mem);
  }
  return faults ? walk(end, 0) : done(whole.mm, 0);
}

/** The call's answer with the process's new memory map (the very same World when the map did not change). */
function withMm(w: World, p: Proc, mm: Mm, errno: string | 0): [World, Result] {
  return [mm === p.mm ? w : setProc(w, { ...p, mm }), { errno }];
}

/**
 * A program's stores, in address order (the oracle's executor copies byte by
 * byte): a page it cannot write stops them (EFAULT), the bytes before stay
 * written and their pages faulted in (maybe as transparent huge pages:
 * huge_memory.ts).
 */
function writeMemory(w: World, pid: number, va: bigint, bytes: Uint8Array): [World, Result] {
  const p = proc(w, pid);
  const r = copyToUser(p.mm, w.mem, va, bytes);
  let [mm, mem] = fault(p.mm, r.mem, va, va + BigInt(r.done), 'write', (phys) => mappedElsewhere(w, pid, phys));
  const errno = r.done === bytes.length ? 0 : 'EFAULT';
  // (a store that met a private file mapping's end prepared its anon_vma all the same)
  if (errno) [mm, mem] = cowFaultPastEof(mm, mem, va + BigInt(r.done));
  return [mm === p.mm && mem === w.mem ? w : setProc({ ...w, mem }, { ...p, mm }), { errno }];
}

function memset(w: World, pid: number, a: Fields): [World, Result] {
  const big = overLimit('memset', u64(a, 'length'), MAX_EVENT_BYTES, 'bytes');
  if (big) return [w, big];
  return writeMemory(w, pid, u64(a, 'va'), new Uint8Array(Number(u64(a, 'length'))).fill(u32(a, 'byte')));
}

/** fill_memory with the scenario format's mix32 pattern. */
function fillMemory(w: World, pid: number, a: Fields): [World, Result] {
  const big = overLimit('fill_memory', u64(a, 'length'), MAX_EVENT_BYTES, 'bytes');
  if (big) return [w, big];
  const n = Number(u64(a, 'length'));
  const pat = a['pattern'];
  // (a malformed event gets a clear answer, not a crash: an untrusted trace)
  if (!pat || typeof pat !== 'object' || Array.isArray(pat) || pat instanceof Uint8Array) return [w, { errno: 'EINVAL', unmodelled: 'fill_memory: pattern must be an object {seed}' }];
  const seed = BigInt(u32(pat as Fields, 'seed'));
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = Number(((((seed + BigInt(k)) & 0xffffffffn) * 0x9e3779b1n) & 0xffffffffn) >> 24n);
  return writeMemory(w, pid, u64(a, 'va'), b);
}

function readMemory(w: World, pid: number, a: Fields): [World, Result] {
  const big = overLimit('read_memory', u64(a, 'length'), MAX_EVENT_BYTES, 'bytes');
  if (big) return [w, big];
  const p = proc(w, pid);
  const flags = { unknown: false };
  const va = u64(a, 'va');
  const length = Number(u64(a, 'length'));
  const data = readUser(p.mm, w.mem, va, length, flags);
  if (!data) return fail(w, 'EFAULT');
  // The read (process_vm_readv, as the executor and a recorder make it: GUP with FOLL_PIN) faults
  // the pages in (the huge zero page, where a huge page could come: huge_memory.ts), and unshares
  // the copy-on-write pages fork left.
  const [mm, mem] = fault(p.mm, w.mem, va, va + BigInt(length), 'gup-read', (phys) => mappedElsewhere(w, pid, phys));
  return [mm === p.mm && mem === w.mem ? w : setProc(mem === w.mem ? w : { ...w, mem }, { ...p, mm }), { errno: 0, bufs: { data }, ...(flags.unknown ? { unknown: ['data'] } : {}) }];
}

/** memfd_create's flags (uapi/linux/memfd.h); with MFD_HUGETLB, the huge page size goes in bits 26-31. */
const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const MFD_HUGETLB = 0x4;
const MFD_NOEXEC_SEAL = 0x8;
const MFD_EXEC = 0x10;
const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
const MFD_HUGE_BITS = MAP_HUGE_MASK << MAP_HUGE_SHIFT; // (MFD_HUGE_* and MAP_HUGE_* both encode as hugetlb_encode.h does)
/** The longest name memfd_create takes (MFD_NAME_MAX_LEN; a byte count, without the terminating zero). */
const MFD_NAME_MAX_LEN = 249;

/**
 * memfd_create(2), mm/memfd.c: EINVAL for a flag it does not know (the huge page size bits only with
 * MFD_HUGETLB), for MFD_EXEC with MFD_NOEXEC_SEAL, then for a name longer than 249 bytes. The
 * sealing flags change nothing the model has (seals are fcntl's, which no trace carries; the
 * vm.memfd_noexec sysctl is taken at its default, 0). MFD_HUGETLB (QEMU's memory-backend-memfd
 * with hugetlb=on) makes a hugetlbfs file: a hugetlb memory object whose size is the file's
 * (ftruncate only to whole huge pages, no write(2), holes and mappings by huge page), of the
 * default 2 MiB pages or 1 GiB ones (MFD_HUGE_1GB); another size is ENODEV. The pool of huge pages is taken to
 * be large enough (as for MAP_HUGETLB).
 */
function memfdCreate(w: World, pid: number, a: Fields): [World, Result] {
  const flags = a['flags'] === undefined ? 0 : u32(a, 'flags');
  if (flags & ~(MFD_ALL_FLAGS | (flags & MFD_HUGETLB ? MFD_HUGE_BITS : 0))) return fail(w, 'EINVAL');
  if (flags & MFD_EXEC && flags & MFD_NOEXEC_SEAL) return fail(w, 'EINVAL');
  // (strnlen_user: the name up to its NUL)
  const whole = String(a['name'] ?? '');
  const name = whole.includes('\0') ? whole.slice(0, whole.indexOf('\0')) : whole;
  if (Buffer.byteLength(name) > MFD_NAME_MAX_LEN) return fail(w, 'EINVAL');
  // (hugetlb_file_setup: a page size the kernel has no pool of is ENODEV; x86-64 has 2 MiB and 1 GiB)
  const sizeLog = (flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
  if (flags & MFD_HUGETLB && sizeLog !== 0 && !HUGE_SHIFTS.includes(sizeLog)) return fail(w, 'ENODEV');
  let mem = w.mem;
  let mobj: number;
  // (MFD_HUGETLB: a hugetlbfs file of 2 MiB or 1 GiB pages, whose size, mappings and holes go by them)
  const huge = (flags & MFD_HUGETLB) !== 0;
  [mem, mobj] = newMobj(mem, huge ? 'hugetlb' : 'memfd', 0n, name, undefined, a['content'] === 'unknown', huge, huge && sizeLog !== 0 ? sizeLog : undefined);
  // (its page cache is the model's to follow unless a capture's program touches it unseen: Mobj.hugetlbfs)
  if (huge && a['content'] !== 'unknown') mem = { ...mem, mobjs: mem.mobjs.set(mobj, { ...mem.mobjs.get(mobj)!, hugetlbfs: true }) };
  const [w2, fd] = installFile({ ...w, mem }, pid, { kind: 'memfd', mobj });
  return [w2, { errno: 0, ret: fd }];
}

/** ftruncate(2): do_sys_ftruncate (a negative length, then the fd) and do_ftruncate. */
function ftruncate(w: World, pid: number, a: Fields): [World, Result] {
  const length = u64(a, 'length');
  if (length > LOFF_MAX) return fail(w, 'EINVAL');
  const f = fileAt(w, pid, u32(a, 'fd'));
  if (!f) return fail(w, 'EBADF');
  if (opaque(f)) return [w, { errno: 'EINVAL', unmodelled: 'ftruncate of a file the process had before the trace (what it is is not known)' }];
  // Not a regular file or memfd (the iommufd, a fault or access fd, a device), or not open for writing: EINVAL.
  if (f.mobj === undefined || f.readOnly) return fail(w, 'EINVAL');
  // (hugetlbfs_setattr: a hugetlbfs file's size is whole huge pages)
  const fm = w.mem.mobjs.get(f.mobj)!;
  if (fm.kind === 'hugetlb' && length % hugeSize(fm)) return fail(w, 'EINVAL');
  return [truncateFile(w, f.mobj, length), { errno: 0 }];
}

/**
 * A file's new size (ftruncate, open with O_TRUNC). Truncated to 0, a regular
 * file's contents are known from then on: nothing, then what the trace writes.
 */
function truncateFile(w: World, mobjId: number, size: bigint): World {
  const m = w.mem.mobjs.get(mobjId)!;
  let data = m.data;
  // (hugetlbfs truncates to the new size whether it shrinks or not, hugetlb_vmtruncate: pages
  // fallocate put past the old end go even when the file grows or keeps its size)
  const huge = m.kind === 'hugetlb';
  if (size <= m.size || huge) {
    // Shrinking (truncate_pagecache): the pages wholly past the new size leave the file, and
    // every mapping's private copies of them go too; pinned ones live on (takeOutPages).
    // The page the new size cuts stays, its tail zeroed. The same size truncates too
    // (shmem_setattr, truncate_setsize): the tail of the last page is zeroed again, and pages
    // past the end go (none of them mapped privately: a private fault past the end is SIGBUS).
    // Linux 6.12.117: a store past the end of a memfd's last page, then ftruncate to its size,
    // reads back zeros there.
    const keep = Number((size + PAGE_SIZE - 1n) / PAGE_SIZE);
    const cows = privateCopiesOf(w.procs, m.id);
    w = takeOutPages(w, m.id, keep);
    for (const cow of cows) w = takeOutPages(w, cow, keep);
    const cut = Number(size % PAGE_SIZE);
    data = w.mem.mobjs.get(m.id)!.data;
    const partial = cut ? data.get(keep - 1) : undefined;
    if (partial) data = data.set(keep - 1, Uint8Array.prototype.slice.call(partial).fill(0, cut));
  }
  // (a hugetlbfs file loses the huge pages past the new size from its cache too: remove_inode_hugepages)
  const { unknown, ...rest } = size < m.size || huge ? uncacheHuge(w.mem.mobjs.get(m.id)!, Number(size / hugeSize(m))) : w.mem.mobjs.get(m.id)!;
  const next = { ...rest, size, data, ...(unknown && size !== 0n ? { unknown } : {}) };
  return { ...w, mem: { ...w.mem, mobjs: w.mem.mobjs.set(m.id, next) } };
}

/** The fault object behind a fault fd's file. */
function faultOf(f: OpenFile | undefined) {
  if (!f || f.kind !== 'fault' || f.ctx === undefined || f.obj === undefined) return undefined;
  return { ctx: f.ctx, obj: f.obj };
}

/**
 * read(2)/write(2) on an fd that is neither a fault queue nor a file of known
 * size: EBADF when nothing is open there; EINVAL (vfs_read/vfs_write: no
 * FMODE_CAN_READ/WRITE) where the file has no such method: the iommufd, an
 * access fd, a VFIO group. A regular file whose size the trace never set
 * answers by its size and contents before the trace began, and a VFIO device
 * by its regions: not modelled, and said so rather than guessed.
 */
function notFaultResult(w: World, f: OpenFile | undefined, what: 'read' | 'write'): [World, Result] {
  if (!f) return fail(w, 'EBADF');
  if (f.kind === 'iommufd' || f.kind === 'access' || f.kind === 'vfio_group') return fail(w, 'EINVAL');
  // (vfio_device_fops_read/write: not the bound file, EINVAL before the driver is asked)
  if (f.kind === 'vfio' && !accessGranted(w, f)) return fail(w, 'EINVAL');
  const file = f.kind === 'vfio' ? 'a VFIO device file (its regions are not modelled)' : 'a regular file (its size and contents before the trace are not known)';
  return [w, { errno: 'EOPNOTSUPP', unmodelled: `${what} of ${file}` }];
}

/**
 * The page-cache file an fd is, if its size is known: a memfd (shmem or
 * hugetlbfs), or a regular file (on a disk, tmpfs or hugetlbfs) the trace
 * truncated (ftruncate, open with O_TRUNC). Bytes from before the trace read
 * back as unknown.
 */
function sizedFileOf(w: World, file: OpenFile | undefined): { file: OpenFile; m: Mobj } | undefined {
  const m = (file?.kind === 'memfd' || file?.kind === 'file') && file.mobj !== undefined ? w.mem.mobjs.get(file.mobj) : undefined;
  if (!file || !m) return undefined;
  // (a memfd is made empty by the trace; a regular file's size is known once the trace set it)
  return file.kind === 'memfd' || m.size !== UNKNOWN_FILE_SIZE ? { file, m } : undefined;
}

/**
 * read(2) (pos 0: at the file offset, which moves on) or pread(2) (at pos) of
 * a memfd or a regular file, which is what the fault-fd events do on one:
 * shmem_file_read_iter (generic_file_read_iter), nothing at or past i_size.
 */
function fileRead(w: World, file: OpenFile, m: Mobj, c: { whole: bigint; count: number }, pos: bigint): [World, Result] {
  const at = pos ? pos : (file.pos ?? 0n);
  // rw_verify_area: a negative loff_t, or one that the count (before its cut to MAX_RW_COUNT) would carry past LLONG_MAX
  if (at + c.whole > LOFF_MAX) return fail(w, 'EINVAL');
  const count = c.count;
  const n = at >= m.size ? 0 : Number(m.size - at < BigInt(count) ? m.size - at : BigInt(count));
  const big = overLimit('read of a file', n, MAX_EVENT_BYTES, 'bytes');
  if (big) return [w, big];
  const flags = { unknown: false };
  const data = readMobj(w.mem, m.id, at, n, flags);
  const w2 = pos || n === 0 ? w : { ...w, files: w.files.set(file.id, { ...file, pos: at + BigInt(n) }) };
  return [w2, { errno: 0, ret: n, bufs: { data }, ...(flags.unknown ? { unknown: ['data'] } : {}) }];
}

/** write(2) / pwrite(2) of a memfd or a regular file: i_size grows to cover what was written. */
function fileWrite(w: World, file: OpenFile, m: Mobj, bytes: Uint8Array, pos: bigint): [World, Result] {
  const given = pos ? pos : (file.pos ?? 0n);
  if (given + BigInt(bytes.length) > LOFF_MAX) return fail(w, 'EINVAL'); // rw_verify_area, as for a read
  // (O_APPEND: at the end, for pwrite(2) too, whose offset was checked and is then not used)
  const at = file.append ? m.size : given;
  let mem = writeMobj(w.mem, m.id, at, bytes);
  const end = at + BigInt(bytes.length);
  const cur = mem.mobjs.get(m.id)!;
  if (end > cur.size) mem = { ...mem, mobjs: mem.mobjs.set(m.id, { ...cur, size: end }) };
  const files = pos || bytes.length === 0 ? w.files : w.files.set(file.id, { ...file, pos: end });
  return [{ ...w, mem, files }, { errno: 0, ret: bytes.length }];
}

/**
 * What pread64/pwrite64 check before the file's own method (ksys_pread64,
 * ksys_pwrite64); `pos` 0 is a plain read/write, which checks neither. A
 * negative position is EINVAL whatever the fd, even a closed one; then a
 * closed fd is EBADF; a file without FMODE_PREAD/PWRITE is ESPIPE: an anon
 * inode's (an access or a fault fd). /dev/iommu, VFIO files and memfds have them.
 */
function positionedErrno(f: OpenFile | undefined, pos: bigint): string | undefined {
  if (pos === 0n) return undefined;
  if (pos > LOFF_MAX) return 'EINVAL';
  if (!f) return 'EBADF';
  return f.kind === 'access' || f.kind === 'fault' ? 'ESPIPE' : undefined;
}

/** MAX_RW_COUNT (INT_MAX & PAGE_MASK): vfs_read and vfs_write cut a longer count to it. */
const MAX_RW_COUNT = 0x7ffff000;

/**
 * read(2)'s and write(2)'s `count` (a size_t) as vfs_read / vfs_write take
 * it: rw_verify_area refuses one that is negative as an ssize_t (EINVAL),
 * then it is cut to MAX_RW_COUNT before the file's own method sees it.
 * `whole` is the count rw_verify_area checks the position against.
 */
function rwCount(a: Fields): { whole: bigint; count: number } | 'EINVAL' {
  const whole = u64(a, 'count');
  if (whole > LOFF_MAX) return 'EINVAL';
  return { whole, count: whole > BigInt(MAX_RW_COUNT) ? MAX_RW_COUNT : Number(whole) };
}

function readFaultFd(w: World, pid: number, a: Fields): [World, Result] {
  const file = fileAt(w, pid, u32(a, 'fd'));
  const pos = u64(a, 'pos');
  const e = positionedErrno(file, pos);
  if (e) return fail(w, e);
  if (file?.writeOnly) return fail(w, 'EBADF'); // vfs_read: no FMODE_READ
  const f = faultOf(file);
  const sized = f ? undefined : sizedFileOf(w, file);
  const c = rwCount(a);
  if (sized) return c === 'EINVAL' ? fail(w, c) : fileRead(w, sized.file, sized.m, c, pos);
  // (a directory's read method, generic_read_dir, after rw_verify_area)
  if (file?.kind === 'dir') return fail(w, c === 'EINVAL' ? c : 'EISDIR');
  if (!f) return notFaultResult(w, file, 'read');
  if (c === 'EINVAL') return fail(w, c);
  const tx = new Tx(w, w.ctxs.get(f.ctx)!, pid);
  const r = faultRead(tx, f.obj, c.count, u32(a, 'pos'));
  return r.errno ? [w, r] : [tx.commit(), r];
}

function writeFaultFd(w: World, pid: number, a: Fields, ev: Event): [World, Result] {
  const file = fileAt(w, pid, u32(a, 'fd'));
  const pos = u64(a, 'pos');
  const e = positionedErrno(file, pos);
  if (e) return fail(w, e);
  if (file?.readOnly) return fail(w, 'EBADF'); // vfs_write: no FMODE_WRITE
  const f = faultOf(file);
  const data = ev.bufs?.['data'] ?? (a['data'] instanceof Uint8Array ? a['data'] : undefined);
  // (hugetlbfs has no write method: vfs_write's missing FMODE_CAN_WRITE, whatever the count or the file's size)
  if (file?.mobj !== undefined && w.mem.mobjs.get(file.mobj)?.kind === 'hugetlb') return fail(w, 'EINVAL');
  const sized = f ? undefined : sizedFileOf(w, file);
  // `count`: the length passed to write(2) when the readable bytes are fewer (default: all of them)
  const c = a['count'] === undefined ? undefined : rwCount(a);
  if (sized) {
    const bytes = data ?? new Uint8Array(0);
    if (c === 'EINVAL') return fail(w, c);
    // A `count` past the bytes given makes the kernel copy from unreadable memory (a short write or
    // EFAULT, by where the page boundaries fall): not modelled, and said so.
    if (c !== undefined && c.whole !== BigInt(bytes.length)) return [w, { errno: 'EFAULT', unmodelled: 'write_fault_fd on a file with count past the bytes given' }];
    return fileWrite(w, sized.file, sized.m, bytes, pos);
  }
  if (!f) return notFaultResult(w, file, 'write');
  if (c === 'EINVAL') return fail(w, c);
  const tx = new Tx(w, w.ctxs.get(f.ctx)!, pid);
  const r = faultWrite(tx, f.obj, data ?? undefined, u32(a, 'pos'), c?.count);
  return r.errno && !tx.keepOnError ? [w, r] : [tx.commit(), r];
}

function dropCapability(w: World, pid: number, a: Fields): [World, Result] {
  const cap = String(a['cap'] ?? '');
  const p = proc(w, pid);
  if (cap === 'CAP_IPC_LOCK') return [setProc(w, { ...p, capIpcLock: false }), { errno: 0 }];
  if (cap === 'CAP_SYS_RESOURCE') return [setProc(w, { ...p, capSysResource: false }), { errno: 0 }];
  return fail(w, 'EINVAL');
}

function setRlimitMemlock(w: World, pid: number, a: Fields): [World, Result] {
  const p = proc(w, pid);
  const v = a['pages'];
  return [setProc(w, { ...p, memlockPages: v === null || v === undefined ? null : u64(a, 'pages') }), { errno: 0 }];
}

/** fork(2): the child gets a copy of the address space and shares every open file. */
function fork(w: World, pid: number, a: Fields): [World, Result] {
  const child = u32(a, 'child');
  // A pid the trace knows already: alive, no kernel hands it out; exited, the kernel may reuse it,
  // but the model names an mm by its pid (a pages object's owner, a process's charges)
  const known = w.procs.get(child);
  if (known) return [w, { errno: 'EINVAL', unmodelled: `fork to pid ${child}, a process the trace ${known.alive ? 'has alive' : 'saw exit (pid reuse)'}` }];
  const p = proc(w, pid);
  const [copy0, copied0] = forkMm(p.mm, w.mem, sameKernelVma);
  const [copy, copied] = markWritableCopies(w, p.mm, copy0, copied0);
  // The page tables go along, and a transparent huge page is shared or copied (huge_memory.ts).
  const forked = forkPmds(p.mm, copy, copied, (phys) => physPinned(w, phys));
  const parent = forked.parent;
  // (the child's VMAs lose their lock flags, not their boundaries)
  const [mm, mem] = keepForkedApart(p.mm, forked.child, forked.mem);
  if (parent !== p.mm) w = setProc(w, { ...p, mm: parent });
  let files = w.files;
  p.fds.each((_fd, id) => {
    const f = files.get(id)!;
    files = files.set(id, { ...f, refs: f.refs + 1 });
    return true;
  });
  // (mm_init: the child's locked_vm and pinned_vm start at 0, and its def_flags lose VM_LOCKED)
  const { defLocked: _unlocked, ...rest } = p;
  const c: Proc = { ...rest, pid: child, mm, lockedVm: 0n, pinnedVm: 0n };
  return [{ ...w, mem, files, procs: w.procs.set(child, c) }, { errno: 0, ret: child }];
}

/**
 * Fork and private hugetlb memory without VM_WRITE (mm.ts VM_WRITABLE_COPIES):
 * copy_hugetlb_page_range copies a pinned anonymous huge page for the child at
 * once (folio_needs_cow_for_dma), and 6.12 maps the copy writable (the child's
 * VMA gets the mark, its object Mobj.writableCopies); it shares every other one
 * copy-on-write, write-protecting the parent's entry, so a writable copy the
 * parent had from a fork of its own parent is one no longer unless pinned.
 * A VMA fork does not copy (MADV_DONTFORK) is left as it is.
 */
function markWritableCopies(w: World, parent: Mm, child: Mm, mem: Memory): [Mm, Memory] {
  // (6.14 maps the copies as the VMA allows: David Hildenbrand's "mm/hugetlb: don't map folios
  // writable without VM_WRITE when copying during fork()", posted in December 2024 for its merge window)
  if (w.kernel !== '6.12') return [child, mem];
  let vmas = child.vmas;
  const mark = (id: number, add: readonly number[], drop: readonly number[]): void => {
    const m = mem.mobjs.get(id)!;
    let copies = m.writableCopies ?? PMap.emptyNumber<true>();
    for (const h of add) copies = copies.set(h, true);
    for (const h of drop) copies = copies.delete(h);
    const next = withPageSet(m, 'writableCopies', copies);
    if (next !== m) mem = { ...mem, mobjs: mem.mobjs.set(id, next) };
  };
  parent.vmas.each((_s, v) => {
    const c = vmas.get(v.start);
    if (v.shared || v.write || !c || !isHugetlbVma(mem, v)) return true;
    const obj = v.cow ?? v.mobj;
    const copies: number[] = [];
    const shared: number[] = [];
    const om = mem.mobjs.get(obj)!;
    const nr = hugeNr(om);
    for (let h = Number(v.offset / hugeSize(om)) * nr; BigInt(h) * PAGE_SIZE < v.offset + (v.end - v.start); h += nr) {
      if (folioPinned(w, obj, h, nr)) copies.push(h);
      else if (mem.mobjs.get(obj)?.writableCopies?.has(h)) shared.push(h);
    }
    if (shared.length) mark(obj, [], shared);
    if (copies.length) {
      mark(c.cow ?? c.mobj, copies, []);
      vmas = vmas.set(v.start, { ...c, flags: (c.flags ?? 0) | VM_WRITABLE_COPIES });
    }
    return true;
  });
  return [vmas === child.vmas ? child : withVmas(child, vmas), mem];
}

/** exit: every fd is closed and the address space is gone (later pins of its pages fail EFAULT). */
function exit(w: World, pid: number): [World, Result] {
  const p = proc(w, pid);
  const fds: number[] = [];
  p.fds.each((fd) => {
    fds.push(fd);
    return true;
  });
  for (const fd of fds) w = closeFd(w, pid, fd)!;
  const q = proc(w, pid);
  return [setProc(w, { ...q, alive: false, mm: emptyMm() }), { errno: 0 }];
}

/** Files the process had open before the trace began (stdio, harness files): opaque, never closed by the trace. */
function externalFds(w: World, pid: number, a: Fields): [World, Result] {
  const fds = a['fds'] ?? [];
  if (!Array.isArray(fds) || !fds.every((fd) => typeof fd === 'number' && Number.isSafeInteger(fd) && fd >= 0))
    return [w, { errno: 'EINVAL', unmodelled: 'external_fds: fds must be an array of file descriptor numbers' }];
  for (const fd of fds as number[]) {
    const p = proc(w, pid);
    if (p.fds.has(fd)) continue;
    const id = w.nextFile;
    w = { ...w, nextFile: id + 1, files: w.files.set(id, { id, kind: 'file', refs: 1 }), procs: w.procs.set(pid, { ...p, fds: p.fds.set(fd, id) }) };
  }
  return [w, { errno: 0 }];
}

/** What is wrong with a maps snapshot's regions, if anything: /proc/self/maps lists page-aligned, ascending, disjoint regions. */
function mapsProblem(regions: unknown): string | undefined {
  if (!Array.isArray(regions)) return 'maps must be an array of regions';
  let prev = 0n;
  for (const [i, r] of regions.entries()) {
    if (!r || typeof r !== 'object' || Array.isArray(r) || r instanceof Uint8Array) return `region ${i} must be an object`;
    const { start, end, perms, path } = r as Fields;
    if (typeof start !== 'bigint' || typeof end !== 'bigint') return `region ${i}: start and end must be u64 values`;
    if (start % PAGE_SIZE || end % PAGE_SIZE || end <= start || end > 1n << 64n) return `region ${i}: [${start}, ${end}) is not a page-aligned, non-empty range`;
    if (start < prev) return `region ${i} overlaps or precedes the one before`;
    if (typeof perms !== 'string' || perms.length < 4 || (path !== undefined && typeof path !== 'string')) return `region ${i}: perms (rwxp/s) and path must be strings`;
    prev = end;
  }
  return undefined;
}

/**
 * A /proc/self/maps snapshot: the address space is exactly these regions.
 * Memory the model already knows keeps its identity; regions it has never
 * seen (heap, stack, glibc's own mappings) get new memory objects; VMAs
 * outside every region are gone.
 */
function maps(w: World, pid: number, a: Fields): [World, Result] {
  const bad = mapsProblem(a['maps'] ?? []);
  if (bad) return [w, { errno: 'EINVAL', unmodelled: `a malformed maps snapshot: ${bad}` }];
  const regions = (a['maps'] as Fields[] | undefined) ?? [];
  const p = proc(w, pid);
  let mem = w.mem;
  let vmas = emptyMm().vmas;
  for (const r of regions) {
    const start = r['start'] as bigint;
    const end = r['end'] as bigint;
    const perms = String(r['perms']);
    const read = perms[0] === 'r';
    const write = perms[1] === 'w';
    const shared = perms[3] === 's';
    const path = String(r['path'] ?? '');
    let pos = start;
    const fill = (to: bigint) => {
      if (to <= pos) return;
      const kind: MobjKind = path.startsWith('/anon_hugepage') ? 'hugetlb' : shared ? 'shmem' : 'anon';
      let id: number;
      // A snapshot only comes from real captures: the contents are the program's, unknown here.
      [mem, id] = newMobj(mem, kind, to - pos, path || undefined, undefined, true);
      // (mmap made it: locked after mlockall(MCL_FUTURE), unless hugetlb; its pages, unknown here, need no faulting in)
      const flags = (write && !shared ? VM_ACCOUNT : 0) | (perms[2] === 'x' ? VM_EXEC : 0) | (kind === 'hugetlb' ? VM_HUGETLB : (p.defLocked ?? 0));
      vmas = vmas.set(pos, { start: pos, end: to, read, write, shared, mobj: id, offset: 0n, ...(flags ? { flags } : {}) });
    };
    for (const v of vmasIn(p.mm, start, end)) {
      const s = v.start > start ? v.start : start;
      const e = v.end < end ? v.end : end;
      fill(s);
      vmas = vmas.set(s, { ...v, start: s, end: e, offset: v.offset + (s - v.start) });
      pos = e;
    }
    fill(end);
  }
  // What the process had there now has the snapshot's protection, as an mprotect the trace did not
  // see would give it (so the oracle's executor does): VM_ACCOUNT as mprotect_fixup sets it, and
  // the VMAs that changed merge with neighbours that now agree.
  let mm = withVmas(p.mm, vmas);
  for (const r of regions) {
    const perms = String(r['perms']);
    const before = mm;
    mm = protectRange(mm, mem, r['start'] as bigint, r['end'] as bigint, perms[0] === 'r', perms[1] === 'w', perms[2] === 'x').mm;
    [mm, mem] = mergeChanged(before, mm, mem, r['start'] as bigint, r['end'] as bigint);
  }
  return [setProc({ ...w, mem }, { ...p, mm }), { errno: 0 }];
}

const noop: EnvHandler = (w) => [w, { errno: 0 }];
const unmodelledRecord: EnvHandler = (w, _pid, a, ev) => [w, { errno: 0, unmodelled: `${ev.op}: ${JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}` }];

/**
 * The arguments each event kind names (README, "Describing a device in a
 * trace" and the event kinds): a trace naming another, a misspelt `lenght`
 * or a `pid` inside `args` (the event's own `pid` says whose it is), would
 * have it read as absent; it is told so instead (apply.ts). Notes and the
 * capture's unmodelled records carry what they like.
 */
const ENV_ARGS: Record<string, ReadonlySet<string>> = table(
  Object.fromEntries(
    Object.entries({
      iommu_add: 'iommu driver dirty nesting enforce_cc msi_isolated addr_width pgsizes regs info_flags features',
      device_add: 'dev name cdev kind iommu driver group resv flags max_pasid_log2 msi_isolated kernel_domain',
      device_remove: 'dev',
      set_module_param: 'name value',
      maps: 'maps',
      external_fds: 'fds',
      open: 'path flags',
      close: 'fd',
      mmap: 'va length kind prot flags fd offset content',
      munmap: 'va length',
      mremap: 'va old_length new_length flags new_va placed',
      mprotect: 'va length prot',
      madvise: 'va length advice',
      memset: 'va length byte',
      fill_memory: 'va length pattern',
      write_memory: 'va data',
      read_memory: 'va length',
      memfd_create: 'name flags content',
      ftruncate: 'fd length',
      fallocate: 'fd mode offset length',
      read_fault_fd: 'fd count pos',
      write_fault_fd: 'fd data count pos',
      dma_write: 'fd dev_id pasid iova length data',
      iopf: 'fd dev_id pasid addr grpid perm last_page',
      guest_s1_change: 'fd hwpt_id iova length scope',
      mlock: 'va length flags',
      munlock: 'va length',
      mlockall: 'flags',
      munlockall: '',
      drop_capability: 'cap',
      set_rlimit_memlock: 'pages',
      fork: 'child',
      exit: '',
    }).map(([op, names]) => [op, new Set(names.split(' ').filter(Boolean))]),
  ),
);

/** An argument event `op` does not take, if `args` names one. */
export function envArgMisfit(op: string, args: Fields): string | undefined {
  const known = ENV_ARGS[op];
  if (known === undefined) return undefined;
  for (const k in args) if (!known.has(k)) return `${op} takes no argument '${k}' (${known.size ? [...known].join(', ') : 'none'})`;
  return undefined;
}

export const envOps: Record<string, EnvHandler> = table({
  // iommu_add, device_add, device_remove, set_module_param (hardware.ts).
  ...hardwareOps,
  note: noop,
  noop,
  maps,
  external_fds: externalFds,
  unknown_record: unmodelledRecord,
  undecodable: unmodelledRecord,
  open,
  close,
  mmap,
  munmap,
  mremap,
  mprotect,
  madvise,
  memset,
  fill_memory: fillMemory,
  // (data that is not bytes, from an untrusted trace, is a malformed event: EINVAL, nothing stored)
  write_memory: (w, pid, a) => (a['data'] === undefined || a['data'] instanceof Uint8Array ? writeMemory(w, pid, u64(a, 'va'), a['data'] ?? new Uint8Array(0)) : fail(w, 'EINVAL')),
  read_memory: readMemory,
  memfd_create: memfdCreate,
  ftruncate,
  fallocate,
  read_fault_fd: readFaultFd,
  write_fault_fd: writeFaultFd,
  dma_write: dmaWrite,
  iopf: (w, pid, a) => iopf(w, pid, a),
  guest_s1_change: (w, pid, a) => guestS1Change(w, pid, a),
  mlock,
  munlock,
  mlockall,
  munlockall: (w, pid) => munlockall(w, pid),
  drop_capability: dropCapability,
  set_rlimit_memlock: setRlimitMemlock,
  fork,
  exit: (w, pid) => exit(w, pid),
});
