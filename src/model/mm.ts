/**
 * User memory: processes' address spaces (VMAs), the memory objects behind
 * them and their contents, and the physical identity of every page.
 *
 * iommufd pins lazily (kernel-semantics §4.1, §13.4–13.5): whether a pin
 * succeeds, and which physical page it gets, depends on the process's memory
 * map *when the pin happens*. So the model keeps the memory map as state and
 * resolves user addresses at pin time, exactly as GUP would.
 *
 * Physical identity: a page is named by its memory object ("mobj") and its
 * page index inside it. Shared mappings of one object (MAP_SHARED anonymous
 * memory after fork, memfd mapped twice) therefore resolve to the same
 * physical page; private memory gets a new object on fork (the child's pinned
 * or written pages are its own). Physical addresses are synthetic but stable:
 * hugetlb objects are 2 MiB aligned and contiguous inside each huge page (the
 * mock driver maps 1 MiB IOPTEs only over physically contiguous, aligned
 * runs); ordinary 4 KiB pages are never contiguous with their neighbours.
 */
import { U64_MAX } from '../ds/interval_map.js';
export { U64_MAX };
import { PMap } from '../ds/pmap.js';

export const PAGE_SIZE = 4096n;
export const PAGE_SHIFT = 12n;
export const HPAGE_SIZE = 0x200000n;
/** Pages in a 2 MiB huge page. */
export const HPAGE_NR = 512;
/** log2 of the hugetlb page sizes x86-64 has: 2 MiB (the default) and 1 GiB (a CPU with GBPAGES). */
export const HUGE_SHIFTS: readonly number[] = [21, 30];

export type MobjKind =
  | 'anon' // private anonymous memory (heap, stack, MAP_PRIVATE|MAP_ANONYMOUS)
  | 'shmem' // MAP_SHARED|MAP_ANONYMOUS
  | 'hugetlb' // MAP_HUGETLB: 2 MiB compound pages, or 1 GiB ones (Mobj.hugeShift)
  | 'memfd'
  | 'file'; // a regular file's page cache

/** A memory object: the thing whose pages are physical pages. */
export interface Mobj {
  readonly id: number;
  readonly kind: MobjKind;
  /** Size in bytes (memfd: i_size; others: large enough for every mapping of it). */
  readonly size: bigint;
  /** Page contents that are not all zero, by page index. */
  readonly data: PMap<number, Uint8Array>;
  /** Synthetic physical address of page 0. */
  readonly phys: bigint;
  /** Name (memfd name, file path) for reports. */
  readonly name?: string;
  /**
   * Contents not described by the trace: a real program's CPU stores are
   * not recorded, and may happen between any two events, so the model never
   * claims to know these bytes (reads of them cannot be verified).
   */
  readonly unknown?: boolean;
  /**
   * Transparent huge pages of private anonymous memory (huge_memory.ts): the
   * first page index of each 2 MiB folio -> its physical address. Those 512
   * pages are physically contiguous; every other page stands alone.
   */
  readonly thp?: PMap<number, bigint>;
  /**
   * Pages of those folios copied out of them (first -> last page index,
   * disjoint): a write or pin of a page fork left shared copies it to a
   * 4 KiB page of its own, while the folio's other pages stay where they are.
   */
  readonly thpCopied?: PMap<number, number>;
  /**
   * Pages of those folios that fork shared (first -> last page index,
   * disjoint): the pages of the VMAs it copied, whose PageAnonExclusive it
   * cleared, so that a write or pin of one copies it (huge_memory.ts cow).
   * A page of a VMA fork did not copy (MADV_DONTFORK) stays its process's
   * own, whatever the VMA's flags become after; one a later fork copies is
   * shared from then on. Meaningful for folios in Memory.forkedFolios.
   */
  readonly thpShared?: PMap<number, number>;
  /** Those folios split into small pages (MADV_COLD / PAGEOUT: huge_memory.ts coldSplit): contiguous still, no longer compound. */
  readonly thpSmall?: PMap<number, true>;
  /**
   * A hugetlbfs file's huge pages in its page cache, by huge page index. Of a
   * file the trace made (`hugetlbfs`) all of them: a shared mapping's fault
   * puts a page there (hugetlb_no_page), and so do fallocate and a file pin
   * (6.14 MAP_FILE, memfd_pin_folios); a hole or a truncation takes them out.
   * Of a file from before the trace (`mayCache`) those fallocate put there.
   * hugetlb_no_page refuses a page past i_size only when the cache has none
   * there, so these can be there past the end (fallocate with KEEP_SIZE, or
   * to an i_size off a huge page); a private mapping maps the cached page
   * until it writes or pins it, and gets one of its own where there is none.
   */
  readonly hugeCached?: PMap<number, true>;
  /**
   * A hugetlbfs file the trace made (a memfd with MFD_HUGETLB, a file created
   * or emptied under the hugetlbfs mount): `hugeCached` is its whole page cache.
   */
  readonly hugetlbfs?: true;
  /**
   * A hugetlbfs file whose page cache the model does not follow (not
   * `hugetlbfs`: one from before the trace, or a capture's memfd whose program
   * touches it unseen) and which may hold pages: its contents are from before
   * the trace, or it was mapped shared, fallocated or pinned as a file. Which
   * pages a private mapping would share with it is not known (env.ts mmap
   * answers such a mapping as not modelled).
   */
  readonly mayCache?: true;
  /**
   * Huge pages (by first page index) of a forked child's private hugetlb
   * memory that fork copied because the parent had them pinned, and mapped
   * writable (VM_WRITABLE_COPIES): meaningful under a VMA with that mark.
   */
  readonly writableCopies?: PMap<number, true>;
  /**
   * A hugetlb object of 1 GiB pages (MAP_HUGE_1GB, MFD_HUGE_1GB): log2 of its
   * huge page size, 30. Absent: the default 2 MiB pages. Every hugetlb rule
   * (alignment of mappings, splits, truncation, holes, fork's copies) goes
   * by the object's own page size (hugeSize).
   */
  readonly hugeShift?: number;
  /**
   * A private mapping's copy object of a hugetlbfs file of 1 GiB pages: the
   * huge pages (first page index) it has copied, owned whole. A 2 MiB copy
   * holds each of its 512 pages in `data` (zero ones too); a 1 GiB one would
   * be 262,144 of them, so its pages are its own by this mark and in `data`
   * only where they are not all zero.
   */
  readonly hugeCopied?: PMap<number, true>;
}

/** A hugetlb object's huge page size in bytes (2 MiB unless it has 1 GiB pages). */
export const hugeSize = (m: Mobj): bigint => (m.hugeShift === undefined ? HPAGE_SIZE : 1n << BigInt(m.hugeShift));
/** Pages in one of a hugetlb object's huge pages. */
export const hugeNr = (m: Mobj): number => (m.hugeShift === undefined ? HPAGE_NR : 1 << (m.hugeShift - 12));
/** The huge page size of a hugetlb VMA (of its object). */
export const vmaHugeSize = (mem: Memory, v: Vma): bigint => hugeSize(mem.mobjs.get(v.mobj)!);

/** Out-parameter of reads: set when a byte read is not known to the model. */
export interface ReadFlags {
  unknown: boolean;
}

export interface Vma {
  readonly start: bigint;
  /** Exclusive end. */
  readonly end: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly shared: boolean;
  readonly mobj: number;
  /** Byte offset of `start` inside the memory object. */
  readonly offset: bigint;
  /**
   * MAP_PRIVATE of a file: pages written or long-term pinned are copied
   * into this private anonymous object (copy-on-write / unshare), same offsets.
   */
  readonly cow?: number;
  /** The vm_flags the model tracks (madvise's VM_DONTCOPY, VM_WIPEONFORK...; VM_ACCOUNT); absent when none is set. */
  readonly flags?: number;
  /**
   * Pieces of one kernel VMA the model keeps as several because their pages
   * are in different objects share this tag: a private mapping grown by
   * mremap (the growth has new pages), a DONTNEED's new pages, anonymous
   * mappings the kernel merged (vma_merge.ts).
   */
  readonly link?: number;
  /**
   * The kernel's vm_pgoff (in bytes) minus `offset`: private anonymous memory
   * has its address at mmap as page offset, which VMA merging compares
   * (vma_merge.ts); absent, 0 (a file's offset is its page offset).
   */
  readonly pgoffDelta?: bigint;
  /** The anon_vma the kernel gave this VMA at its first anonymous fault (an identity; absent: none yet; vma_merge.ts). */
  readonly anon?: string;
  /** Its anon_vma chain holds its parent's too (fork gave it): list_is_singular fails, so no new range merges into it. */
  readonly anonForked?: true;
}

/** The vm_flags bits madvise sets and clears (include/linux/mm.h); fork reads two of them, mremap's VMA merging all. */
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;
export const VM_DONTCOPY = 0x20000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
/**
 * Set on a private mapping made writable (mmap, mprotect: its pages are
 * committed), and cleared only when anonymous memory without an anon_vma
 * (never faulted) is made unwritable (mprotect_fixup): a piece mprotected
 * writable and back does not merge with its never-writable neighbours once
 * touched, which mremap shows, and merges with them while untouched.
 */
export const VM_ACCOUNT = 0x100000;
/** mmap's MAP_NORESERVE (the system overcommitting, as by default): the mapping is not committed memory, never VM_ACCOUNT. */
export const VM_NORESERVE = 0x200000;
/**
 * mlock(2)'s flags (mlock.ts): VM_LOCKED on the VMAs it locked, with
 * VM_LOCKONFAULT when their pages are only locked as they fault in
 * (MLOCK_ONFAULT, MCL_ONFAULT). The VM_LOCKED VMAs are exactly mlock's part
 * of mm->locked_vm (`mlockedPages`); a hugetlb VMA never gets them.
 */
export const VM_LOCKED = 0x2000;
/** PROT_EXEC's vm_flag: VMAs that differ in it are different VMAs (no merge, mremap may not cross). */
export const VM_EXEC = 0x4;
/**
 * A hugetlb VMA's (hugetlbfs_file_mmap sets it with VM_DONTEXPAND, which keeps it from ever
 * merging): two hugetlb pieces are one kernel VMA only when tagged so (vma_merge.ts sameKernelVma).
 */
export const VM_HUGETLB = 0x400000;
/**
 * The kernel's VM_MAYWRITE (0x20), kept inverted so that most VMAs carry no flags: set on the
 * few that lack it, a shared mapping of a file opened without write access, which mprotect may
 * then not make writable (EACCES).
 */
export const VM_NO_MAYWRITE = 0x20;
export const VM_LOCKONFAULT = 0x80000;
/**
 * The model's mark (no kernel flag) on a forked child's private hugetlb VMA
 * without VM_WRITE whose parent had pages of it pinned: fork copied those for
 * the child at once (folio_needs_cow_for_dma), and Linux 6.12 maps the copies
 * writable whatever the VMA allows (hugetlb_install_folio's make_huge_pte(...,
 * 1); 6.14 looks at VM_WRITE: env.ts markWritableCopies), so the child's
 * stores there, the kernel's copies to it in its own address space and its own writable pins
 * (get_user_pages_fast takes the entry) go through; another process's pin
 * (the slow path, which checks the VMA) does not. Which huge pages those are
 * is the object's Mobj.writableCopies. An mprotect that changes the VMA
 * rewrites its entries (the mark goes); a later fork write-protects those it
 * does not copy again.
 */
export const VM_WRITABLE_COPIES = 0x100;
/** Whether the page at `va` of VMA `v` has such a writable entry (VM_WRITABLE_COPIES, Mobj.writableCopies). */
export function writableCopy(mem: Memory, v: Vma, va: bigint): boolean {
  if (v.write || !((v.flags ?? 0) & VM_WRITABLE_COPIES)) return false;
  const idx = Number((v.offset + (va - v.start)) >> PAGE_SHIFT);
  const m = mem.mobjs.get(v.cow ?? v.mobj);
  return m?.writableCopies?.has(idx - (idx % hugeNr(m))) ?? false;
}
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;

/** `m` with its optional page set `key` as `runs` (the field absent when it is undefined or empty). */
export function withPageSet<K extends 'thpShared' | 'writableCopies' | 'hugeCopied'>(m: Mobj, key: K, runs: Mobj[K] | undefined): Mobj {
  const v = runs?.size ? runs : undefined;
  if (v === m[key]) return m;
  if (v !== undefined) return { ...m, [key]: v };
  // (rest patterns, not delete, which would turn the record into a dictionary)
  if (key === 'thpShared') {
    const { thpShared: _drop, ...rest } = m;
    return rest;
  }
  if (key === 'hugeCopied') {
    const { hugeCopied: _drop, ...rest } = m;
    return rest;
  }
  const { writableCopies: _drop, ...rest } = m;
  return rest;
}

/** `v` with vm_flags `flags` (the field absent when none is set). */
export function withFlags(v: Vma, flags: number): Vma {
  if (flags === (v.flags ?? 0)) return v;
  if (flags) return { ...v, flags };
  const { flags: _drop, ...rest } = v;
  return rest;
}

/**
 * mlock's part of mm->locked_vm, in pages: the VM_LOCKED VMAs. Every path
 * that moves the count (mlock_fixup, mmap_region, vms_complete_munmap_vmas,
 * mremap's move and growth) adds or takes exactly the pages whose VMA gains
 * or loses the flag, so the sum is the count; the rest of locked_vm is what
 * iommufd charged in MM mode (Proc.lockedVm).
 */
export function mlockedPages(mm: Mm): bigint {
  let n = 0n;
  mm.vmas.each((_s, v) => {
    if ((v.flags ?? 0) & VM_LOCKED) n += (v.end - v.start) >> PAGE_SHIFT;
    return true;
  });
  return n;
}

export interface Mm {
  readonly vmas: PMap<bigint, Vma>;
  /**
   * The page-middle-directory entries of private anonymous memory that are
   * not empty, by the 2 MiB-aligned address they cover (huge_memory.ts): a
   * page table, a huge page or the huge zero page. Absent: pmd_none, where
   * a fault may get a transparent huge page.
   */
  readonly pmds?: PMap<bigint, number>;
}

/** The same address space with other VMAs (its page-table state kept). */
export const withVmas = (mm: Mm, vmas: PMap<bigint, Vma>): Mm => (vmas === mm.vmas ? mm : mm.pmds === undefined ? { vmas } : { vmas, pmds: mm.pmds });

export const emptyMm = (): Mm => ({ vmas: PMap.emptyBigint<Vma>() });

/** Memory objects of the whole machine plus the allocator of new ones. */
export interface Memory {
  readonly mobjs: PMap<number, Mobj>;
  readonly nextMobj: number;
  /** Next free synthetic physical address (always 2 MiB aligned). */
  readonly nextPhys: bigint;
  /** Regular files by path (absent until the trace opens one): every open of a path finds its object. */
  readonly paths?: PMap<string, number>;
  /** Transparent huge pages fork left mapped by two processes, by physical address (huge_memory.ts). */
  readonly forkedFolios?: PMap<bigint, true>;
}

export const emptyMemory = (): Memory => ({ mobjs: PMap.emptyNumber<Mobj>(), nextMobj: 1, nextPhys: 0x100000000n });

/**
 * The size a regular file is taken to have while the trace has not set it (it
 * had one before the trace began): large enough for every mapping of it, and
 * one no file can have (past MAX_LFS_FILESIZE, 2^63 - 1), so that a file the
 * trace does size is never taken for one of unknown size.
 */
export const UNKNOWN_FILE_SIZE = 1n << 63n;

/**
 * Whether a regular file lives on tmpfs (is shmem), which the model knows
 * only of /dev/shm (tmpfs on every Linux distribution: shm_open's
 * directory). Any other path is taken for a disk filesystem's file.
 */
export const onTmpfs = (m: Mobj): boolean => m.kind === 'file' && (m.name?.startsWith('/dev/shm/') ?? false);

/**
 * RLIMIT_MEMLOCK's RLIM_INFINITY as the limit checks have it, in pages
 * (rlimit >> PAGE_SHIFT): an unlimited process is refused only by a
 * locked_vm that an uncharge past 0 wrapped (pages.ts uncharge).
 */
export const RLIM_INFINITY_PAGES = (1n << 52n) - 1n;

/** The name of the object MAP_FILE gives a file the process had before the trace (what it is is not known). */
export const OPAQUE_FILE = 'a file the process had before the trace';

/** Whether memfd_pin_folios (6.14 IOMMU_IOAS_MAP_FILE's pin) takes the file: shmem (a memfd, a file on tmpfs) or hugetlbfs only. */
export function pinnableFile(m: Mobj): boolean {
  return m.kind === 'memfd' || m.kind === 'hugetlb' || onTmpfs(m);
}

/** Physical addresses a file's pages may take: two pages per page of the largest file (MAX_LFS_FILESIZE, 2^63 bytes). */
const FILE_PHYS_SPAN = 1n << 64n;

/**
 * Create a memory object; returns the new memory and its id. `file`: a
 * hugetlb object that is a hugetlbfs file (a memfd made with MFD_HUGETLB, a
 * file under /dev/hugepages), which grows as a file does (memfd and regular
 * file objects always do).
 */
export function newMobj(mem: Memory, kind: MobjKind, size: bigint, name?: string, data?: PMap<number, Uint8Array>, unknown?: boolean, file = false, hugeShift?: number): [Memory, number] {
  const id = mem.nextMobj;
  // Ordinary pages are spaced two pages apart so no two are ever physically
  // contiguous; hugetlb pages are contiguous inside the object. A file (memfd
  // or regular) grows after it is made, so it gets room for the largest file
  // there can be: a page it grows into must not share its physical address
  // with a page of an object made after it (MD_CHECK_MAP compares them). (A
  // hugetlbfs file's addresses are one per byte: its pages are contiguous.)
  // (1 GiB pages start on a 1 GiB physical boundary, as the kernel's gigantic pages do)
  const huge = kind === 'hugetlb' && hugeShift !== undefined && hugeShift !== 21 ? 1n << BigInt(hugeShift) : HPAGE_SIZE;
  const span = kind === 'memfd' || kind === 'file' ? FILE_PHYS_SPAN : kind === 'hugetlb' ? (file ? FILE_PHYS_SPAN / 2n : roundUp(size, huge)) : roundUp(size, PAGE_SIZE) * 2n;
  const phys = roundUp(mem.nextPhys, huge);
  const mobj: Mobj = {
    id,
    kind,
    size,
    data: data ?? PMap.emptyNumber<Uint8Array>(),
    phys,
    ...(name !== undefined ? { name } : {}),
    ...(unknown ? { unknown: true } : {}),
    ...(huge !== HPAGE_SIZE ? { hugeShift } : {}),
  };
  return [{ ...mem, mobjs: mem.mobjs.set(id, mobj), nextMobj: id + 1, nextPhys: phys + roundUp(span, HPAGE_SIZE) + HPAGE_SIZE }, id];
}

export function roundUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

/** Physical address of byte `off` of a memory object. */
export function physOf(m: Mobj, off: bigint): bigint {
  if (m.kind === 'hugetlb') return m.phys + off;
  if (m.thp !== undefined) {
    const idx = Number(off >> PAGE_SHIFT);
    const f = m.thp.floor(idx);
    if (f && idx < f[0] + HPAGE_NR && !copiedOut(m, idx)) return f[1] + BigInt(idx - f[0]) * PAGE_SIZE + (off & (PAGE_SIZE - 1n));
  }
  return m.phys + (off >> PAGE_SHIFT) * 2n * PAGE_SIZE + (off & (PAGE_SIZE - 1n));
}

/** Whether page `idx` of `m` was copied out of its transparent huge page. */
function copiedOut(m: Mobj, idx: number): boolean {
  const c = m.thpCopied?.floor(idx);
  return c !== undefined && c[1] >= idx;
}

/** The runs of pages [a, z] of `m` that are still its huge page's (not copied out), in order. */
export function folioPieces(m: Mobj, a: number, z: number): [number, number][] {
  const out: [number, number][] = [];
  let pos = a;
  const c = m.thpCopied;
  if (c !== undefined) {
    const below = c.floor(a);
    if (below && below[1] >= a) pos = below[1] + 1;
    c.each((s, l) => {
      if (s > z) return false;
      if (s > pos) out.push([pos, s - 1]);
      if (l + 1 > pos) pos = l + 1;
      return true;
    }, a + 1);
  }
  if (pos <= z) out.push([pos, z]);
  return out;
}

/**
 * Whether byte `off` of a VMA's object lies in a page at or past the end of
 * its file: a file (a memfd, a regular file) has no page there, so a CPU
 * access gets SIGBUS and a pin EFAULT. The page holding the file's last byte
 * is there whole, its bytes past the end too (a load reads zeros there, a
 * store goes into the page: oracle, session 29, a read at 0x2800 of a file of
 * 0x2800 bytes). (A regular file the trace opened but never truncated has an
 * unknown size, held as a large one: it is taken to have the pages.)
 */
export function pastEof(mem: Memory, vma: Vma, off: bigint): boolean {
  const backing = mem.mobjs.get(vma.mobj);
  // (hugetlbfs faults by huge page, and has none from the one i_size cuts on but those in its cache: hugetlb_no_page)
  if (backing?.kind === 'hugetlb') return off >= hugetlbEof(backing) && !backing.hugeCached?.has(Number(off / hugeSize(backing)));
  // (shared anonymous memory is a shmem file as long as the mapping was made: grown by mremap, the rest faults)
  return (backing?.kind === 'memfd' || backing?.kind === 'file' || backing?.kind === 'shmem') && off >= roundUp(backing.size, PAGE_SIZE);
}

/** A hugetlbfs file with huge pages [first, last] in its cache (the same object when they all were). */
export function cacheHuge(m: Mobj, first: number, last: number): Mobj {
  let c = m.hugeCached;
  for (let h = first; h <= last; h++) if (!c?.has(h)) c = (c ?? PMap.emptyNumber<true>()).set(h, true);
  return c === m.hugeCached ? m : { ...m, hugeCached: c };
}

/** A hugetlbfs file's cached huge pages with those of [first, last) taken out (a hole, a truncation). */
export function uncacheHuge(m: Mobj, first: number, last = Infinity): Mobj {
  let c = m.hugeCached;
  if (c === undefined) return m;
  const gone: number[] = [];
  c.each((h) => {
    if (h >= last) return false;
    gone.push(h);
    return true;
  }, first);
  for (const h of gone) c = c.delete(h);
  const { hugeCached: _, ...rest } = m;
  return c.size ? { ...rest, hugeCached: c } : rest;
}

/** The private-copy objects of the VMAs (of every process) that map file `mobjId` privately, in id order. */
export function privateCopiesOf(procs: PMap<number, { readonly mm: Mm }>, mobjId: number): number[] {
  const cows = new Set<number>();
  procs.each((_pid, p) => {
    p.mm.vmas.each((_s, v) => {
      if (v.mobj === mobjId && v.cow !== undefined) cows.add(v.cow);
      return true;
    });
    return true;
  });
  return [...cows].sort((x, y) => x - y);
}

/** Whether a process maps file `mobjId` privately (has private copies over it). */
export const privatelyMapped = (procs: PMap<number, { readonly mm: Mm }>, mobjId: number): boolean => privateCopiesOf(procs, mobjId).length > 0;

/** Where a hugetlbfs file's pages end: i_size rounded down to a huge page (a file fallocate grew to 3 MiB has one). */
export const hugetlbEof = (m: Mobj): bigint => (m.size / hugeSize(m)) * hugeSize(m);

/**
 * The first page of `[from, to)` (inside VMA `vma`) that lies past the end
 * of the VMA's file (`pastEof`), if the range reaches one.
 */
export function eofVa(mem: Memory, vma: Vma, from: bigint, to: bigint): bigint | undefined {
  const at = (va: bigint) => vma.offset + (va - vma.start);
  const hm = mem.mobjs.get(vma.mobj);
  if (hm?.kind === 'hugetlb') {
    // The first huge page from the file's end on that its cache lacks (a few at most are there).
    const hs = hugeSize(hm);
    let off = at(from) > hugetlbEof(hm) ? at(from) : hugetlbEof(hm);
    while (off < at(to) && hm.hugeCached?.has(Number(off / hs))) off = (off / hs + 1n) * hs;
    return off < at(to) ? vma.start + (off - vma.offset) : undefined;
  }
  if (!pastEof(mem, vma, at(to - PAGE_SIZE))) return undefined;
  if (pastEof(mem, vma, at(from))) return from;
  // (the page holding the file's last byte is there; the one after it is not)
  return vma.start + roundUp(mem.mobjs.get(vma.mobj)!.size, PAGE_SIZE) - vma.offset;
}

/** A resolved user page: which physical page a user address reaches. */
export interface PageRef {
  readonly mobj: number;
  /** Page index inside the memory object. */
  readonly index: number;
}

export type Resolve = { ok: true; page: PageRef; vma: Vma } | { ok: false };

/** The VMA containing `va`, if any. */
export function findVma(mm: Mm, va: bigint): Vma | undefined {
  const e = mm.vmas.floor(va);
  if (!e) return undefined;
  const v = e[1];
  return va < v.end ? v : undefined;
}

/**
 * Which physical page backs `va`, without changing anything (a CPU read or
 * a non-long-term GUP). MAP_PRIVATE file pages that were never copied still
 * resolve to the page cache.
 */
export function peekPage(mm: Mm, mem: Memory, va: bigint): Resolve {
  const vma = findVma(mm, va);
  if (!vma) return { ok: false };
  const off = vma.offset + (va - vma.start);
  const index = Number(off >> PAGE_SHIFT);
  if (pastEof(mem, vma, off)) return { ok: false };
  if (vma.cow !== undefined) {
    const cow = mem.mobjs.get(vma.cow)!;
    if (cow.data.has(index) || (cowTouched(cow, index))) return { ok: true, page: { mobj: vma.cow, index }, vma };
  }
  return { ok: true, page: { mobj: vma.mobj, index }, vma };
}

/**
 * Copy-on-write objects mark pages they own with an entry (possibly all zero), or whole huge
 * pages (Mobj.hugeCopied): a 1 GiB copy, and a hugetlbfs file's huge page that a private mapping
 * faulted in where the file's cache had none (hugetlbfsFault).
 */
function cowTouched(cow: Mobj, index: number): boolean {
  return cow.data.has(index) || (cow.hugeCopied !== undefined && cow.hugeCopied.has(index - (index % hugeNr(cow))));
}

/**
 * A fault over `[s, e)` of VMA `v`, a mapping of a hugetlbfs file the trace
 * made (hugetlb_no_page). A shared mapping puts the huge pages it reaches
 * (inside the file's size) in the file's page cache. A private one maps the
 * file's page where the cache has one, until it writes or pins it (pinPage
 * copies it then), and where the cache has none it gets a zeroed huge page of
 * its own, which the file never sees: a shared mapping's later fault there
 * puts another page in the cache. The oracle's answers: the regression trace
 * mmap.hugetlb-private and test/unit/model/traces/hugetlbfs_cache.
 */
export function hugetlbfsFault(mem: Memory, v: Vma, s: bigint, e: bigint): Memory {
  const m = mem.mobjs.get(v.mobj);
  if (m === undefined || m.hugetlbfs === undefined || s >= e) return mem;
  const hs = hugeSize(m);
  const first = Number((v.offset + (s - v.start)) / hs);
  const last = Number((v.offset + (e - 1n - v.start)) / hs);
  const eof = Number(hugetlbEof(m) / hs);
  const cached = m.hugeCached;
  if (v.shared) {
    const n = cacheHuge(m, first, Math.min(last, eof - 1));
    return n === m ? mem : { ...mem, mobjs: mem.mobjs.set(m.id, n) };
  }
  if (v.cow === undefined) return mem;
  let cow = mem.mobjs.get(v.cow)!;
  const nr = hugeNr(cow);
  let own = cow.hugeCopied;
  for (let h = first; h <= last && h < eof; h++) {
    if (cached?.has(h) || cowTouched(cow, h * nr)) continue;
    own = (own ?? PMap.emptyNumber<true>()).set(h * nr, true);
  }
  if (own === cow.hugeCopied) return mem;
  cow = withPageSet(cow, 'hugeCopied', own);
  return { ...mem, mobjs: mem.mobjs.set(cow.id, cow) };
}

/**
 * Exec-only memory (PROT_EXEC alone). A CPU with protection keys (and a kernel that uses them)
 * gives it an execute-only key that no data access passes, a kernel copy, a GUP with FOLL_FORCE
 * (populating) or not; a CPU without them reads it as any accessible VMA (the oracle's: mlock of
 * it is 0). Which CPU a trace ran on it does not say: such reads are answered as not modelled.
 */
export const execOnly = (v: Vma): boolean => !v.read && !v.write && ((v.flags ?? 0) & VM_EXEC) !== 0;
export const EXEC_ONLY_READ = 'a read of exec-only memory: a CPU with protection keys gives it an execute-only key that no read passes (EFAULT), one without them reads it, and the trace does not say which CPU it ran on';
/** Whether a kernel copy over `[va, va + length)` first stops at exec-only memory (not at a hole or at PROT_NONE memory before it). */
export function execOnlyIn(mm: Mm, va: bigint, length: bigint): boolean {
  let pos = va;
  for (const v of vmasIn(mm, va, va + length)) {
    if (v.start > pos) return false;
    if (execOnly(v)) return true;
    if (!v.read && !v.write) return false;
    pos = v.end;
  }
  return false;
}

/**
 * Whether a read through get_user_pages_fast (a pin without FOLL_WRITE by the
 * memory's own process, the selftest's page lookups) of `v` hangs on page-table
 * state the model does not keep: memory that is accessible but not readable
 * (write-only, exec-only). The fast path takes a present entry whatever the
 * VMA allows (on x86 a present user entry is readable), and only a page not
 * present goes the slow path, which refuses a VMA without VM_READ (EFAULT).
 * Oracle fuzz seed 128: a writable pin, then a read-only one, of write-only
 * memory: 0. The model answers such a read as not modelled (READ_NEEDS_PTES).
 */
export const readNeedsPtes = (v: Vma): boolean => !v.read && (v.write || ((v.flags ?? 0) & VM_EXEC) !== 0);
export const READ_NEEDS_PTES =
  'a read of write-only or exec-only memory through get_user_pages_fast: a page-table entry that is present is taken whatever the VMA allows, the slow path refuses a VMA without VM_READ (EFAULT), and which entries are present the model does not keep';

/**
 * A long-term pin of the page at `va` (pin_user_pages(FOLL_LONGTERM)):
 * fails (EFAULT) when unmapped or not accessible as asked; unshares a
 * MAP_PRIVATE file page first, so the pinned page is the private copy.
 */
export function pinPage(mm: Mm, mem: Memory, va: bigint, write: boolean, fast = false): { mem: Memory; page: PageRef } | undefined {
  const r = peekPage(mm, mem, va);
  if (!r.ok) return undefined;
  const vma = r.vma;
  // (`fast`: the CPU, or get_user_pages_fast in the memory's own process, which go by the page's
  // entry, not the VMA: a forked child's writable copies, VM_WRITABLE_COPIES)
  if (write ? !vma.write && !(fast && writableCopy(mem, vma, va)) : !vma.read) return undefined;
  if (vma.cow !== undefined && r.page.mobj !== vma.cow) {
    // Unshare: copy the page-cache page into the private object; a hugetlbfs file's private
    // mapping copies the whole huge page (hugetlb_wp).
    const src = mem.mobjs.get(vma.mobj)!;
    const cow = mem.mobjs.get(vma.cow)!;
    const nr = cow.kind === 'hugetlb' ? hugeNr(cow) : 1;
    const first = r.page.index - (r.page.index % nr);
    let data = cow.data;
    let ncow: Mobj;
    if (cow.hugeShift !== undefined) {
      // (a 1 GiB page: owned whole by its mark, with the file's pages that are not zero)
      src.data.each((i, bytes) => {
        if (i >= first + nr) return false;
        if (!data.has(i)) data = data.set(i, bytes);
        return true;
      }, first);
      ncow = withPageSet({ ...cow, data }, 'hugeCopied', (cow.hugeCopied ?? PMap.emptyNumber<true>()).set(first, true));
    } else {
      for (let i = first; i < first + nr; i++) if (!data.has(i)) data = data.set(i, src.data.get(i) ?? new Uint8Array(Number(PAGE_SIZE)));
      ncow = { ...cow, data };
    }
    return { mem: { ...mem, mobjs: mem.mobjs.set(ncow.id, ncow) }, page: { mobj: vma.cow, index: r.page.index } };
  }
  return { mem, page: r.page };
}

/** Insert a VMA after removing whatever overlapped `[start, end)` (MAP_FIXED). */
export function mapVma(mm: Mm, vma: Vma): Mm {
  const cleared = unmapRange(mm, vma.start, vma.end);
  return withVmas(cleared, cleared.vmas.set(vma.start, vma));
}

/** The top of the x86-64 user address space (TASK_SIZE, 4-level paging). */
export const TASK_SIZE = 0x7ffffffff000n;
/** PAGE_ALIGN on an unsigned long: wraps to 0 near 2^64. */
export const pageAlign = (len: bigint): bigint => (len + PAGE_SIZE - 1n) & U64_MAX & ~(PAGE_SIZE - 1n);

/** Whether cutting the VMAs at `addr` would split a hugetlb VMA off a huge-page boundary (hugetlb_vm_op_split: EINVAL). */
export function cutsHugetlb(mm: Mm, mem: Memory, addr: bigint): boolean {
  // (no hugetlb page is larger than 1 GiB)
  if (addr % (1n << 30n) === 0n) return false;
  const v = mm.vmas.floor(addr)?.[1];
  return !!v && v.start < addr && addr < v.end && isHugetlbVma(mem, v) && addr % vmaHugeSize(mem, v) !== 0n;
}

/** The VMAs `[start, end)` meets, in address order, whole. */
export function vmasIn(mm: Mm, start: bigint, end: bigint): Vma[] {
  const hit: Vma[] = [];
  const first = mm.vmas.lower(start);
  if (first && first[1].end > start) hit.push(first[1]);
  mm.vmas.each((_k, v) => {
    if (v.start >= end) return false;
    hit.push(v);
    return true;
  }, start);
  return hit;
}

/** A VMA of hugetlb memory. */
export const isHugetlbVma = (mem: Memory, v: Vma): boolean => mem.mobjs.get(v.mobj)?.kind === 'hugetlb';

/**
 * vma->vm_file: every VMA but private anonymous memory has a file (shared
 * anonymous memory is a shmem file; hugetlb memory a hugetlbfs file). A VMA
 * from a /proc/self/maps snapshot is a file mapping when the snapshot named a
 * path for it.
 */
export function vmaHasFile(mem: Memory, v: Vma): boolean {
  if (v.shared || v.cow !== undefined) return true;
  const m = mem.mobjs.get(v.mobj);
  return m?.kind !== 'anon' || (m.name?.startsWith('/') ?? false);
}

/**
 * Private memory with new pages, none touched yet (DONTNEED, a DONTUNMAP
 * move's old range, a growth, WIPEONFORK's child): anonymous memory gets a new
 * object, a private file mapping a new private-copy object (it shows the
 * file's pages again). `cowGrowth`: how much the copies' object grows with it.
 * The new anonymous object keeps the VMA's offsets (it is sized to reach
 * them), as the kernel keeps the VMA's page offset.
 */
export function withNewPages(mem: Memory, v: Vma, cowGrowth = 0n): [Memory, Vma] {
  let fresh: number;
  // (private hugetlb memory's new pages are huge pages again)
  if (v.cow !== undefined) {
    const c = mem.mobjs.get(v.cow)!;
    const huge = c.kind === 'hugetlb';
    [mem, fresh] = newMobj(mem, huge ? 'hugetlb' : 'anon', c.size + cowGrowth, undefined, undefined, undefined, huge, c.hugeShift);
    return [mem, { ...v, cow: fresh }];
  }
  const o = mem.mobjs.get(v.mobj);
  [mem, fresh] = newMobj(mem, o?.kind === 'hugetlb' ? 'hugetlb' : 'anon', v.offset + (v.end - v.start), undefined, undefined, undefined, false, o?.hugeShift);
  return [mem, { ...v, mobj: fresh }];
}

/** munmap: remove `[start, end)`, splitting VMAs that stick out. */
export function unmapRange(mm: Mm, start: bigint, end: bigint): Mm {
  let vmas = mm.vmas;
  for (const v of vmasIn(mm, start, end)) {
    vmas = vmas.delete(v.start);
    if (v.start < start) vmas = vmas.set(v.start, { ...v, end: start });
    if (v.end > end) vmas = vmas.set(end, { ...v, start: end, offset: v.offset + (end - v.start) });
  }
  return withVmas(mm, vmas);
}

/** Whether mprotect to this protection changes VMA `v` (mprotect_fixup leaves an unchanged one whole: no split). */
export const protectionChanges = (v: Vma, read: boolean, write: boolean, exec: boolean): boolean =>
  v.read !== read || v.write !== write || !!((v.flags ?? 0) & VM_EXEC) !== exec;

/**
 * mprotect over `[start, end)`, VMA by VMA as do_mprotect_pkey goes, up to the
 * first hole or the first VMA that may not be made writable (`refused`): the
 * new map (the same object when nothing changed) and where it stopped (`end`
 * when it met neither; `start` when there is no VMA at start).
 */
export function protectRange(mm: Mm, mem: Memory, start: bigint, end: bigint, read: boolean, write: boolean, exec: boolean): { mm: Mm; reached: bigint; refused?: 'EACCES' } {
  const execFlag = exec ? VM_EXEC : 0;
  let vmas = mm.vmas;
  let pos = start;
  while (pos < end) {
    const v = findVma({ vmas }, pos);
    if (!v) break;
    const segEnd = v.end < end ? v.end : end;
    // (a protection the VMA may not have stops the walk: the VMAs before it keep their change)
    if (write && (v.flags ?? 0) & VM_NO_MAYWRITE) return { mm: withVmas(mm, vmas), reached: pos, refused: 'EACCES' };
    // mprotect_fixup leaves a VMA whose flags do not change alone: no split (a split of a
    // hugetlb VMA off a huge page would make a later munmap there look like a clean cut).
    if (!protectionChanges(v, read, write, exec)) {
      pos = segEnd;
      continue;
    }
    vmas = vmas.delete(v.start);
    if (v.start < pos) vmas = vmas.set(v.start, { ...v, end: pos });
    const flags = v.flags ?? 0;
    const account = write && !v.write && !v.shared && !(flags & (VM_ACCOUNT | VM_NORESERVE));
    const unaccount = !write && flags & VM_ACCOUNT && !vmaHasFile(mem, v) && v.anon === undefined;
    const { flags: _old, ...rest } = v;
    const nflags = ((account ? flags | VM_ACCOUNT : unaccount ? flags & ~VM_ACCOUNT : flags) & ~(VM_EXEC | VM_WRITABLE_COPIES)) | execFlag;
    vmas = vmas.set(pos, { ...rest, start: pos, end: segEnd, offset: v.offset + (pos - v.start), read, write, ...(nflags ? { flags: nflags } : {}) });
    if (v.end > segEnd) vmas = vmas.set(segEnd, { ...v, start: segEnd, offset: v.offset + (segEnd - v.start) });
    pos = segEnd;
  }
  return { mm: withVmas(mm, vmas), reached: pos < end ? pos : end };
}

/**
 * gup_fast_fallback's first check (get_user_pages_fast, pin_user_pages_fast):
 * `npages` pages from `start` whose end passes 2^64 are EOVERFLOW, before the
 * TASK_SIZE check and the page walk that give EFAULT.
 */
export function gupFastOverflows(start: bigint, npages: number): boolean {
  return start + BigInt(npages) * PAGE_SIZE > U64_MAX;
}

/**
 * Read `length` bytes of user memory at `va`; undefined on a fault. As a
 * remote read goes (process_vm_readv, how a recorder reads a buffer: GUP,
 * which refuses a VMA without VM_READ), or with `kernelCopy` as the kernel's
 * copy_from_user in the process itself goes, which x86 lets read write-only
 * memory too (a present entry is readable, and access_error takes a read
 * fault in any accessible VMA). Exec-only memory it does not read: that
 * hangs on the CPU (execOnlyIn).
 */
export function readUser(mm: Mm, mem: Memory, va: bigint, length: number, flags?: ReadFlags, kernelCopy = false): Uint8Array | undefined {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const cur = va + BigInt(done);
    const r = peekPage(mm, mem, cur);
    if (!r.ok || !(r.vma.read || (kernelCopy && r.vma.write))) return undefined;
    const inPage = Number(cur & (PAGE_SIZE - 1n));
    const n = Math.min(length - done, Number(PAGE_SIZE) - inPage);
    out.set(readPage(mem, r.page, inPage, n, flags), done);
    done += n;
  }
  return out;
}

/**
 * copy_to_user: writes page by page and stops at the first page it cannot
 * write (none there, or not writable), keeping what it wrote before; `done`
 * is how many bytes went in (the kernel's x86 copy stops at the faulting
 * byte, which is the start of that page).
 */
export function copyToUser(mm: Mm, mem: Memory, va: bigint, bytes: Uint8Array): { mem: Memory; done: number } {
  let done = 0;
  while (done < bytes.length) {
    const cur = va + BigInt(done);
    const pinned = pinPage(mm, mem, cur, true, true); // a CPU write breaks COW like a write pin
    if (!pinned) break;
    mem = pinned.mem;
    const inPage = Number(cur & (PAGE_SIZE - 1n));
    const n = Math.min(bytes.length - done, Number(PAGE_SIZE) - inPage);
    mem = writePage(mem, pinned.page, inPage, bytes.subarray(done, done + n));
    done += n;
  }
  return { mem, done };
}

/** Write into one physical page (device DMA or CPU after resolution). */
export function writePage(mem: Memory, page: PageRef, inPage: number, bytes: Uint8Array): Memory {
  const m = mem.mobjs.get(page.mobj)!;
  const old = m.data.get(page.index);
  const next = old ? old.slice() : new Uint8Array(Number(PAGE_SIZE));
  next.set(bytes, inPage);
  return { ...mem, mobjs: mem.mobjs.set(m.id, { ...m, data: m.data.set(page.index, next) }) };
}

export function readPage(mem: Memory, page: PageRef, inPage: number, length: number, flags?: ReadFlags): Uint8Array {
  const m = mem.mobjs.get(page.mobj)!;
  const content = m.data.get(page.index);
  if (flags && m.unknown) flags.unknown = true;
  return content ? content.slice(inPage, inPage + length) : new Uint8Array(length);
}

/** `length` bytes of memory object `mobj` from byte `off` (a file read: no mapping involved). */
export function readMobj(mem: Memory, mobj: number, off: bigint, length: number, flags?: ReadFlags): Uint8Array {
  const out = new Uint8Array(length);
  eachPagePiece(off, length, (index, inPage, done, k) => out.set(readPage(mem, { mobj, index }, inPage, k, flags), done));
  return out;
}

/** Memory object `mobj` with `bytes` written from byte `off` (its size is the caller's business). */
export function writeMobj(mem: Memory, mobj: number, off: bigint, bytes: Uint8Array): Memory {
  eachPagePiece(off, bytes.length, (index, inPage, done, k) => (mem = writePage(mem, { mobj, index }, inPage, bytes.subarray(done, done + k))));
  return mem;
}

/** `[off, off + length)` cut at page boundaries: page index, offset in it, bytes before, bytes in it. */
function eachPagePiece(off: bigint, length: number, fn: (index: number, inPage: number, done: number, k: number) => void): void {
  for (let done = 0; done < length; ) {
    const at = off + BigInt(done);
    const inPage = Number(at % PAGE_SIZE);
    const k = Math.min(length - done, Number(PAGE_SIZE) - inPage);
    fn(Number(at / PAGE_SIZE), inPage, done, k);
    done += k;
  }
}

/** A new `link` tag: an id no object or tag has (tags are objects' ids, and this one is taken from their allocator). */
export function newTag(mem: Memory): [Memory, number] {
  return [{ ...mem, nextMobj: mem.nextMobj + 1 }, mem.nextMobj];
}

/**
 * fork(): the child's address space. Shared mappings keep their objects;
 * private ones get a new object that starts with the parent's contents
 * (the child's copies are its own physical pages). A VMA marked
 * MADV_DONTFORK is not copied (dup_mmap skips VM_DONTCOPY), and one marked
 * MADV_WIPEONFORK starts out as zeros in the child.
 */
export function forkMm(mm: Mm, mem: Memory, sameKernelVma: (a: Vma, b: Vma) => boolean): [Mm, Memory] {
  let vmas = PMap.emptyBigint<Vma>();
  const remap = new Map<number, number>();
  // (anon_vma_fork gives each of the child's VMAs an anon_vma of its own: the pieces the model
  // keeps of one kernel VMA share the child's, VMAs a split made, which share the parent's, do not)
  let prev: Vma | undefined;
  let prevAnon: string | undefined;
  // (the child's previous VMA piece, if its pages were wiped: WIPEONFORK)
  let prevWiped: Vma | undefined;
  const privateCopy = (id: number): number => {
    let nid = remap.get(id);
    if (nid === undefined) {
      const src = mem.mobjs.get(id)!;
      [mem, nid] = newMobj(mem, src.kind, src.size, src.name, src.data, src.unknown, false, src.hugeShift);
      // (the child's copy of a private mapping owns the 1 GiB pages the parent's had copied)
      if (src.hugeCopied) mem = { ...mem, mobjs: mem.mobjs.set(nid, withPageSet(mem.mobjs.get(nid)!, 'hugeCopied', src.hugeCopied)) };
      remap.set(id, nid);
    }
    return nid;
  };
  mm.vmas.each((_k, parentVma) => {
    if ((parentVma.flags ?? 0) & VM_DONTCOPY) return true;
    // (dup_mmap: the child's VMAs are not locked, and its locked_vm starts at 0)
    const v = withFlags(parentVma, (parentVma.flags ?? 0) & ~VM_LOCKED_MASK);
    const flags = v.flags ?? 0;
    let nv = v;
    // (WIPEONFORK is only ever on private anonymous memory)
    const samePrev = prev !== undefined && sameKernelVma(prev, parentVma);
    if (flags & VM_WIPEONFORK) {
      [mem, nv] = withNewPages(mem, v);
      // (dup_mmap copies the VMA whole, not its pages: the pieces the model keeps of it each get new
      // pages and no anon_vma, so they are tagged one VMA, as they were in the parent (aimed vma_locks
      // 1403/0973), and apart from the next VMA, which an anon_vma of its own may have told apart
      // there (vma_locks 1406/0736): a tag of the child's own for each)
      let tag = samePrev ? prevWiped?.link : undefined;
      if (tag === undefined) [mem, tag] = newTag(mem);
      nv = { ...nv, link: tag };
    } else if (!v.shared && v.cow === undefined) nv = { ...v, mobj: privateCopy(v.mobj) };
    else if (v.cow !== undefined) nv = { ...v, cow: privateCopy(v.cow) };
    // The child's VMA gets an anon_vma of its own whose chain holds the parent's too (anon_vma_fork),
    // or none: a wiped one starts without (dup_mmap), as does one whose parent had none.
    if (nv.anon !== undefined) {
      const { anon: _parentAnon, anonForked: _f, ...rest } = nv;
      const anon = samePrev && prevAnon !== undefined ? prevAnon : `${nv.cow ?? nv.mobj}@${nv.start.toString(16)}`;
      prevAnon = anon;
      nv = flags & VM_WIPEONFORK ? rest : { ...rest, anon, anonForked: true };
    } else prevAnon = undefined;
    prev = parentVma;
    prevWiped = flags & VM_WIPEONFORK ? nv : undefined;
    vmas = vmas.set(nv.start, nv);
    return true;
  });
  return [{ vmas }, mem];
}
