/**
 * fast-check arbitraries for every event kind, biased the way
 * syzkaller-style fuzzers are: mostly valid calls (IDs that exist, IOVAs
 * that are mapped, page-aligned lengths, a VM-like memory layout: guest RAM
 * regions mapped at fixed guest-physical IOVAs inside the mock aperture)
 * plus a controlled share of hostile ones (wrong IDs and types, destroyed
 * IDs, ranges near 2^64, non-zero reserved fields, short or oversized
 * `size` with trailing garbage, stale fault cookies, unreadable arguments).
 *
 * Each arbitrary yields a Template (template.ts): symbolic IDs and addresses
 * resolved against the state when the event is applied, so that commands
 * keep meaning something when shrinking removes others. They are choice
 * arbitraries (choice.ts): cheap to generate, and they shrink towards the
 * first alternative of every choice, which is always the typical one.
 *
 * `eventTemplates(kernel)` is the weighted union; `templateArbitraries()`
 * gives one arbitrary per event kind, for users who fuzz their own VMM logic
 * with a subset.
 */
import type { KernelVersion } from '../model/state.js';
import { choice, type Builder, type ChoiceArbitrary, type Draw } from './choice.js';
import { GUEST_REGION, GUEST_STRIDE, GUEST_VA, HUGETLBFS_FILE, O_TRUNC_RW, SCRATCH_FILE, type IdKind, type Sym, type SymBuf, type SymFields, type SymValue, type Template } from './template.js';
import { MOCK_FLAGS_ACCESS_SYZ } from '../model/ioas.js';

const U64_MAX = 0xffffffffffffffffn;
const PAGE = 0x1000n;
/** Mock aperture start (kernel-semantics §12.1). */
const APERTURE = 0x1000000n;
/** Guest RAM regions: VA of the first, stride between them, size of each. */
export { GUEST_VA, GUEST_STRIDE, GUEST_REGION } from './template.js';
const FAKE_PTR = 0x10000n;
const O_APPEND = 0o2000;
/** O_TMPFILE (__O_TMPFILE | O_DIRECTORY) */
const O_TMPFILE = 0o20200000;

/** How hostile: weight of each hostile alternative against ~100 for the valid one (default 4). */
export interface Bias {
  hostile: number;
  /**
   * Whether the kernel has a pool of 1 GiB hugetlb pages (MAP_HUGE_1GB, MFD_HUGE_1GB): the model's
   * does, so model-only fuzzing asks for them (absent: true); the oracle kit's kernel only when
   * booted with `--gigantic N`, so the oracle's campaigns say false otherwise.
   */
  gigantic?: boolean;
}

type D = Draw;

/** An object reference: mostly the k-th live object of the type; sometimes any object, a destroyed ID, or a raw number. */
function id(d: D, t: IdKind, h: number): Sym | number {
  switch (d.w([100, h, h, h])) {
    case 0:
      return { $: 'id', t, k: d.int(7) };
    case 1:
      return { $: 'id', t: 'any', k: d.int(7) };
    case 2:
      return { $: 'stale', k: d.int(7) };
    default:
      return d.of(0, 1, 2, 3, 64, 0x7fffffff, 0xffffffff);
  }
}

const fd = (kind: Extract<Sym, { $: 'fd' }>['kind'], k = 0): Sym => ({ $: 'fd', kind, k });

function iommufd(d: D, h: number): Sym | number {
  switch (d.w([85, 15 + h / 2, h / 3, h / 3])) {
    case 0:
      return fd('iommufd');
    case 1:
      // Another context when the process has opened one (objects, pins and accounting in two
      // contexts at once: the user's locked_vm is shared between them, MM mode is per context):
      // the second or the newest (where RLIMIT_MODE is set).
      return fd('iommufd', d.of(1, -1));
    case 2:
      return fd('any', d.int(7));
    default:
      return d.of(77, 1000);
  }
}

const reserved = (d: D, h: number): number => (d.w([100, h]) ? d.of(1, 0x8000, 0x80000000) : 0);

const U64_EDGES = [0n, 1n, 0x800n, 0xfffn, 0x1000n, 0x7fffffffn, 0x80000000n, 1n << 63n, U64_MAX - 0xfffn, U64_MAX - 1n, U64_MAX];
const u64Edge = (d: D): bigint => d.of(...U64_EDGES);

/** A guest-physical address inside the mock aperture (FIXED_IOVA maps, QEMU-style GPA = IOVA). */
const gpa = (d: D): bigint => APERTURE + BigInt(d.int(7)) * GUEST_STRIDE + BigInt(d.int(255)) * PAGE;

/** Mapping lengths: pages mostly, sometimes huge, sometimes sub-page or absurd. */
function length(d: D, h: number): bigint {
  switch (d.w([80, 8, h, h])) {
    case 0:
      return BigInt(1 + d.int(15)) * PAGE;
    case 1:
      // (256 MiB: more than some allowed-IOVA sets hold, so an allocated IOVA can fail with ENOSPC)
      return d.of(0x100000n, 0x200000n, 0x400000n, 0x10000000n);
    case 2:
      return d.of(0x800n, 0x1001n, 1n);
    default:
      return d.of(0n, U64_MAX, 1n << 63n, U64_MAX - 0xfffn);
  }
}

// mmap(2)'s flags the generator adds to a mapping's kind
const MAP_LOCKED = 0x2000;
const MAP_NORESERVE = 0x4000;
const MAP_POPULATE = 0x8000;
const MAP_NONBLOCK = 0x10000;
const MAP_STACK = 0x20000;
const MAP_FIXED_NOREPLACE = 0x100000;
/** MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB: private huge pages. */
const MAP_HUGETLB = 0x40000;
/** memfd_create's MFD_HUGETLB, and its 2 MiB page size (log2 21 in bits 26-31). */
const MFD_HUGETLB = 0x4;
const MFD_HUGE_2MB = 21 << 26;
/** MAP_HUGE_1GB and MFD_HUGE_1GB (log2 30 in the same bits): QEMU's hugetlbsize=1G. */
const HUGE_1GB = 30 << 26;

/** A user address inside one of the process's mappings, page aligned mostly. */
function userVa(d: D, h: number): Sym | bigint {
  switch (d.w([90, h, h])) {
    case 0:
      return { $: 'va', k: d.int(2), off: BigInt(d.int(255)) * PAGE };
    case 1:
      return { $: 'va', k: d.int(2), off: BigInt(d.int(255)) * PAGE + 0x800n };
    default:
      return d.of(0n, 0x80000000n, U64_MAX - 0xfffn);
  }
}

/**
 * A length for munmap, mprotect, madvise, mlock and munlock: one of `usual`, or (hostile) none at
 * all or one off a page (the calls round it up). Not one that reaches the end of the address
 * space: from userVa's low addresses that would cover the executor's own code and stack (a
 * DONTNEED of it all kills the process); userVa's top address makes the end wrap.
 */
function memLength(d: D, h: number, ...usual: bigint[]): bigint {
  return d.w([100, h]) ? d.of(0n, PAGE + 0x800n, 0x10000n - 1n) : d.of(...usual);
}

/**
 * Model bugs found with the fuzzer and the invariants that are not fixed
 * yet; the generators steer around the ones they reach, so that campaigns
 * keep running (the event sequences reproduce them). (Found and since fixed in the model: an unaligned
 * mprotect/madvise split VMAs inside a page and the next pin over them never
 * ended.)
 */
/** Model bugs the fuzzer found that are not fixed yet, with a minimal event sequence each (none open now). */
export const KNOWN_MODEL_BUGS: readonly { what: string; events: string }[] = [];

/** An IOVA for a fixed map: a guest-physical slot, just past an area, on an area (EEXIST), or an edge. */
function mapIova(d: D, of: string, h: number): Sym | bigint {
  switch (d.w([70, 10, 5, h, h])) {
    case 0:
      return gpa(d);
    case 1:
      return { $: 'iova', of, k: d.int(7), off: 0n, end: true };
    case 2:
      return { $: 'iova', of, k: d.int(7), off: 0n };
    case 3:
      return gpa(d) + 0x800n;
    default:
      return u64Edge(d);
  }
}

/** An IOVA mapped in the IOAS behind `of`: the start of an area, or inside one. */
function mappedIova(d: D, of: string, h: number): Sym | bigint {
  switch (d.w([80, 10, h, h])) {
    case 0:
      return { $: 'iova', of, k: d.int(7), off: 0n };
    case 1:
      return { $: 'iova', of, k: d.int(7), off: BigInt(d.int(3)) * PAGE };
    case 2:
      return gpa(d);
    default:
      return u64Edge(d);
  }
}

/** The selftest's syzkaller flag: the IOVA is read as {u32 nth_area; u32 offset} (selftest.c). */
const SYZ_FLAG = MOCK_FLAGS_ACCESS_SYZ;

/**
 * The IOVA of an op that may carry the syzkaller flag: with it, half the time
 * the {nth area, offset} form that the kernel turns into an area's IOVA (a
 * real IOVA read that way names an area far past the last one).
 */
function syzOrMappedIova(d: D, flags: number, of: string, h: number): Sym | bigint {
  if (flags & SYZ_FLAG && d.w([50, 50])) return (BigInt(d.int(3)) * PAGE) << 32n | BigInt(d.int(3));
  return mappedIova(d, of, h);
}

/** A length covering whole areas of the IOAS behind `of` (one or a few), or something else. */
function areaLength(d: D, of: string, h: number): Sym | bigint {
  switch (d.w([70, 10, 10, h, h])) {
    case 0:
      return { $: 'alen', of, k: d.int(7), n: 1, add: 0n };
    case 1:
      return { $: 'alen', of, k: d.int(7), n: 2 + d.int(2), add: 0n };
    case 2:
      return BigInt(1 + d.int(3)) * PAGE;
    case 3:
      return { $: 'alen', of, k: d.int(7), n: 1, add: PAGE };
    default:
      return d.of(0n, 0x800n, U64_MAX, 1n << 63n);
  }
}

const pid = (d: D): number => (d.w([95, 5]) ? 1 + d.int(2) : 0);

const AB = Symbol('fields+bufs');
/** Fields together with the bytes behind their pointers. */
interface WithBufs {
  [AB]: true;
  args: SymFields;
  bufs?: Template['bufs'];
}
const ab = (args: SymFields, bufs?: Template['bufs']): WithBufs => (bufs ? { [AB]: true, args, bufs } : { [AB]: true, args });
const isAB = (x: object): x is WithBufs => AB in x;

/**
 * Whether this event is one of the hostile ones: about one in eight. Only then
 * do its fields draw hostile alternatives (weight `h` each against ~100), so
 * most events are valid in every field, as syzkaller's are.
 */
function hostility(d: D, h: number): void {
  d.h = h > 0 && d.w([88, 12]) ? h : 0;
}

/**
 * A quarter of the events go without their constructors. That is choice 0 of
 * its draw, which shrinking tries first: a shrunk counterexample keeps a
 * command's constructors only where the failure needs them.
 */
const bare = (d: D): boolean => d.w([25, 75]) === 0;

/** An ioctl on an iommufd, with the hostile framings (short / long / long with garbage / unreadable). */
function ioctl(op: string, h: number, body: (d: D) => WithBufs | SymFields): Builder<Template> {
  return (d) => {
    hostility(d, h);
    const p = pid(d);
    const f = iommufd(d, d.h);
    const b = body(d);
    const t: Template = isAB(b) ? { op, pid: p, fd: f, args: b.args, ...(b.bufs ? { bufs: b.bufs } : {}) } : { op, pid: p, fd: f, args: b };
    const fr = d.w([100, d.h, d.h, d.h, d.h]);
    if (fr === 4) t.args = null;
    else if (fr) t.frame = (['short', 'long0', 'longjunk'] as const)[fr - 1]!;
    if (bare(d)) t.noConstruct = true;
    return t;
  };
}

/**
 * Setting RLIMIT_MODE goes mostly to the newest context: the setup's has IOAS 1
 * already (EBUSY), and the constructor opens a new one when the newest has objects.
 */
function rlimitModeOnNewest(b: Builder<Template>): Builder<Template> {
  return (d) => {
    const t = b(d);
    if (t.args?.['option_id'] === 0 && t.args['op'] === 0 && !d.h && d.w([80, 20])) t.fd = fd('iommufd', -1);
    return t;
  };
}

/** An IOMMU_TEST_CMD op: `{ id, <member>: {...} }`; `ab(fields, bufs)` when pointers carry bytes. */
function testOp(op: string, h: number, idOf: (d: D) => Sym | number, mem: string, body: (d: D) => WithBufs | SymFields): Builder<Template> {
  return ioctl(op, h, (d) => {
    const i = idOf(d);
    const b = body(d);
    return isAB(b) ? ab({ id: i, [mem]: b.args }, b.bufs) : { id: i, [mem]: b };
  });
}

/** An ioctl on a VFIO device file (the process's k-th device fd), or with `kind` 'vfio_group' on a legacy group file. */
function vfioDev(op: string, body: (d: D) => SymFields, kind: 'vfio' | 'vfio_group' = 'vfio'): Builder<Template> {
  return (d) => {
    hostility(d, d.bias);
    const t: Template = { op, pid: pid(d), fd: d.w([95, d.h]) ? fd('any', d.int(7)) : fd(kind, d.int(2)), args: body(d) };
    if (d.w([100, d.h])) t.args = null;
    if (bare(d)) t.noConstruct = true;
    return t;
  };
}
/** An ioctl on a legacy VFIO group file. */
const vfioGroup = (op: string, body: (d: D) => SymFields): Builder<Template> => vfioDev(op, body, 'vfio_group');

function env(op: string, body: (d: D) => SymFields, bufs?: (d: D) => Template['bufs']): Builder<Template> {
  return (d) => {
    hostility(d, d.bias);
    const t: Template = { op, pid: pid(d), args: body(d) };
    if (bare(d)) t.noConstruct = true;
    const b = bufs?.(d);
    if (b) t.bufs = b;
    return t;
  };
}

const bytes = (d: D, n: number): SymBuf => ({ $: 'bytes', n, seed: d.int(0x7fffffff) });

function le32(...vals: number[]): Uint8Array {
  const out = new Uint8Array(vals.length * 4);
  const dv = new DataView(out.buffer);
  vals.forEach((v, i) => dv.setUint32(i * 4, v >>> 0, true));
  return out;
}

function ranges(rs: readonly (readonly [bigint, bigint])[]): Uint8Array {
  const out = new Uint8Array(rs.length * 16);
  const dv = new DataView(out.buffer);
  rs.forEach(([s, l], i) => {
    dv.setBigUint64(i * 16, s, true);
    dv.setBigUint64(i * 16 + 8, l, true);
  });
  return out;
}

const ALLOWED_SETS: readonly (readonly (readonly [bigint, bigint])[])[] = [
  [],
  [[APERTURE, APERTURE + 0x3ffffffn]],
  [
    [APERTURE, APERTURE + 0xffffffn],
    [0x40000000n, 0x4fffffffn],
  ],
  [[0x1000n, 0xffffffffn]],
  [
    [APERTURE, APERTURE],
    [0x20000000n, 0x1fffffffn],
    [1n, U64_MAX],
  ],
  [
    [APERTURE, 0x3000000n],
    [0x2000000n, 0x5000000n],
  ],
];

const IOTLB = le32(0xbadbeef);
/** IOAS_MAP / COPY flags: fixed read-write mostly, automatic, read-only or write-only, and invalid ones when hostile. */
function mapFlags(d: D): number {
  switch (d.w([50, 25, 10, 10, d.h * 4])) {
    case 0:
      return 7;
    case 1:
      return 6;
    case 2:
      return d.of(5, 3);
    case 3:
      return d.of(4, 2);
    default:
      return d.of(1, 0, 8, 0x10007);
  }
}

export interface OpArbitrary {
  weight: number;
  /** Only meaningful on this kernel (generated rarely on the other, where it answers ENOTTY / EOPNOTSUPP). */
  since?: KernelVersion;
  build: Builder<Template>;
  arbitrary: ChoiceArbitrary<Template>;
}

/** The builders of every event kind with their weight in the default mix. */
function builders(b: Bias): Record<string, { weight: number; since?: KernelVersion; build: Builder<Template> }> {
  const h = b.hostile;
  const ioas = (d: D) => id(d, 'ioas', d.h);
  const paging = (d: D) => id(d, 'hwpt_paging', d.h);
  const device = (d: D) => id(d, 'device', d.h);
  /** A paging HWPT, usually one with dirty tracking (dirty ops on others answer EOPNOTSUPP). */
  // (now and then one of 1 MiB IOPTEs over huge-page guest RAM: template.ts hugeDirtyConstructor)
  const dirtyHwpt = (d: D) => {
    const c = d.w([72, 18, 10]);
    return c === 0 ? paging(d) : id(d, c === 1 ? 'hwpt_dirty' : 'hwpt_dirty_huge', d.h);
  };
  const accessFd = (d: D): Sym | number => (d.w([95, d.h]) ? d.of(0, 77) : fd('access', d.int(2)));
  // (sometimes a memfd: read(2)/write(2) of its page cache, which mappings, pins and DMA share)
  const faultFd = (d: D): Sym | number => {
    const c = d.w([90, 6, d.h]);
    return c === 0 ? fd('fault', d.int(2)) : c === 1 ? fd('memfd', d.int(1)) : d.of(0, 77);
  };
  const memfd = (d: D): Sym | number => (d.w([90, d.h]) ? d.of(0, 77) : fd('memfd', d.int(2)));
  return {
    // ------------------------------------------------------------ objects
    IOMMU_IOAS_ALLOC: { weight: 3, build: ioctl('IOMMU_IOAS_ALLOC', h, (d) => ({ flags: reserved(d, d.h) })) },
    IOMMU_DESTROY: {
      weight: 3,
      build: ioctl('IOMMU_DESTROY', h, (d) => {
        const c = d.w([60, 30, d.h]);
        return { id: c === 0 ? { $: 'id', t: 'free', k: d.int(7) } : c === 1 ? { $: 'id', t: 'any', k: d.int(7) } : id(d, 'any', d.h) };
      }),
    },
    // ------------------------------------------------------------ IOAS
    IOMMU_IOAS_MAP: {
      weight: 14,
      build: ioctl('IOMMU_IOAS_MAP', h, (d) => {
        // (now and then a VMM's map of guest RAM: 2 MiB of a region at a 2 MiB-aligned IOVA, where
        // transparent or hugetlb huge pages meet the domain's large IOPTEs)
        if (d.w([92, 8])) return { flags: 7, ioas_id: ioas(d), __reserved: 0, user_va: GUEST_VA + BigInt(d.int(2)) * GUEST_STRIDE + BigInt(d.int(1)) * 0x200000n, length: 0x200000n, iova: APERTURE + BigInt(d.int(7)) * GUEST_STRIDE + BigInt(d.int(3)) * 0x200000n };
        return { flags: mapFlags(d), ioas_id: ioas(d), __reserved: reserved(d, d.h), user_va: userVa(d, d.h), length: length(d, d.h), iova: mapIova(d, 'ioas_id', d.h) };
      }),
    },
    IOMMU_IOAS_UNMAP: {
      weight: 9,
      build: ioctl('IOMMU_IOAS_UNMAP', h, (d) => {
        const c = d.w([85, 10, d.h]);
        if (c === 1) return { ioas_id: ioas(d), iova: 0n, length: U64_MAX };
        if (c === 2) return { ioas_id: ioas(d), iova: u64Edge(d), length: u64Edge(d) };
        return { ioas_id: ioas(d), iova: mappedIova(d, 'ioas_id', d.h), length: areaLength(d, 'ioas_id', d.h) };
      }),
    },
    IOMMU_IOAS_COPY: {
      weight: 4,
      build: ioctl('IOMMU_IOAS_COPY', h, (d) => {
        const flags = d.w([90, d.h]) ? d.of(0, 8, 0x10006, 0x10007) : d.of(6, 7, 6, 4, 2, 5);
        return {
          flags,
          dst_ioas_id: ioas(d),
          src_ioas_id: ioas(d),
          length: areaLength(d, 'src_ioas_id', d.h),
          dst_iova: mapIova(d, 'dst_ioas_id', d.h),
          src_iova: syzOrMappedIova(d, flags, 'src_ioas_id', d.h),
        };
      }),
    },
    IOMMU_IOAS_IOVA_RANGES: {
      weight: 1,
      build: ioctl('IOMMU_IOAS_IOVA_RANGES', h, (d) => ({ ioas_id: ioas(d), num_iovas: d.int(4), __reserved: reserved(d, d.h), allowed_iovas: d.w([95, d.h]) ? 0n : FAKE_PTR })),
    },
    IOMMU_IOAS_ALLOW_IOVAS: {
      weight: 2,
      build: ioctl('IOMMU_IOAS_ALLOW_IOVAS', h, (d) => {
        const list = ALLOWED_SETS[d.int(ALLOWED_SETS.length - 1)]!;
        const ptr = list.length && !d.w([100, d.h]) ? FAKE_PTR : 0n;
        const args: SymFields = { ioas_id: ioas(d), num_iovas: list.length, __reserved: reserved(d, d.h), allowed_iovas: ptr };
        return ptr ? ab(args, { allowed_iovas: ranges(list) }) : args;
      }),
    },
    IOMMU_OPTION: {
      weight: 3,
      build: rlimitModeOnNewest(ioctl('IOMMU_OPTION', h, (d) => {
        const option = d.of(1, 0, 1, 0, 2);
        const op = d.of(0, 1, 0, 2);
        // RLIMIT_MODE is a context option (object_id 0), set while the context has no objects:
        // mostly the value that turns MM accounting on (the constructor gives it a fresh context).
        if (option === 0) return { option_id: 0, op, __reserved: reserved(d, d.h), object_id: d.w([100, d.h]) ? ioas(d) : 0, val64: d.h ? d.of(0n, 1n, 2n, U64_MAX) : d.of(1n, 1n, 0n) };
        return { option_id: option, op, __reserved: reserved(d, d.h), object_id: ioas(d), val64: d.of(0n, 1n, 0n, 2n, U64_MAX) };
      })),
    },
    IOMMU_VFIO_IOAS: { weight: 2, build: ioctl('IOMMU_VFIO_IOAS', h, (d) => ({ ioas_id: ioas(d), op: d.of(1, 0, 2, 3), __reserved: reserved(d, d.h) })) },
    IOMMU_IOAS_MAP_FILE: {
      weight: 3,
      since: '6.14',
      build: ioctl('IOMMU_IOAS_MAP_FILE', h, (d) => ({
        flags: mapFlags(d),
        ioas_id: ioas(d),
        fd: memfd(d),
        start: d.w([90, d.h]) ? u64Edge(d) : BigInt(d.int(255)) * PAGE,
        length: length(d, d.h),
        iova: mapIova(d, 'ioas_id', d.h),
      })),
    },
    IOMMU_IOAS_CHANGE_PROCESS: {
      weight: 1,
      since: '6.14',
      // mostly from a child (the pages move to it) rather than the usual 5%
      build: (d) => {
        const t = ioctl('IOMMU_IOAS_CHANGE_PROCESS', h, (d) => ({ __reserved: reserved(d, d.h) }))(d);
        if (t.pid === 0 && d.w([30, 70])) t.pid = 1 + d.int(2);
        return t;
      },
    },
    // ------------------------------------------------------------ HWPT
    IOMMU_HWPT_ALLOC: {
      weight: 5,
      build: ioctl('IOMMU_HWPT_ALLOC', h, (d) => {
        if (!d.w([60, 40])) {
          // Paging HWPT on an IOAS: plain, dirty tracking, nesting parent, with a fault queue (6.14).
          // (sometimes by a device of 1 MiB IOPTEs, MOCK_FLAGS_DEVICE_HUGE_IOVA: the domain takes its page sizes)
          const dev = d.w([88, 12]) ? device(d) : id(d, 'dev_huge', d.h);
          return { flags: d.of(0, 2, 1, 2, 4, 3, 8), dev_id: dev, pt_id: ioas(d), __reserved: reserved(d, d.h), data_type: 0, data_len: 0, data_uptr: 0n, fault_id: id(d, 'fault', d.h) };
        }
        // Nested HWPT on a paging parent or a vIOMMU.
        const args: SymFields = {
          flags: d.of(0, 4, 1),
          dev_id: device(d),
          pt_id: d.w([70, 30]) ? id(d, 'viommu', d.h) : paging(d),
          __reserved: 0,
          data_type: d.of(0xdead, 0xdead, 0, 1),
          data_len: d.of(4, 4, 4, 0, 8),
          data_uptr: FAKE_PTR,
          fault_id: id(d, 'fault', d.h),
        };
        return ab(args, { data_uptr: IOTLB });
      }),
    },
    IOMMU_GET_HW_INFO: {
      weight: 1,
      build: ioctl('IOMMU_GET_HW_INFO', h, (d) => ({ flags: reserved(d, d.h), dev_id: device(d), data_len: d.of(8, 0, 16, 4), data_uptr: d.w([95, d.h]) ? 0n : FAKE_PTR })),
    },
    IOMMU_HWPT_SET_DIRTY_TRACKING: { weight: 3, build: ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', h, (d) => ({ flags: d.of(1, 0, 1, 2), hwpt_id: dirtyHwpt(d), __reserved: reserved(d, d.h) })) },
    IOMMU_HWPT_GET_DIRTY_BITMAP: {
      weight: 3,
      build: ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', h, (d) => ({
        hwpt_id: dirtyHwpt(d),
        flags: d.of(0, 1, 0, 2),
        __reserved: reserved(d, d.h),
        iova: mappedIova(d, 'hwpt_id', d.h),
        length: d.w([9, 1]) ? u64Edge(d) : areaLength(d, 'hwpt_id', 0),
        page_size: d.of(4096n, 2048n, 4096n, 0n, 3n, 0x200000n),
        data: FAKE_PTR,
      })),
    },
    IOMMU_HWPT_INVALIDATE: {
      weight: 2,
      build: ioctl('IOMMU_HWPT_INVALIDATE', h, (d) => {
        const c = d.w([60, 30, 10]);
        const t = c === 0 ? 'hwpt_nested' : c === 1 ? 'viommu' : 'hwpt_paging';
        const n = d.int(3);
        const entryLen = d.of(0, 0, 4, 16) || (t === 'viommu' ? 12 : 8);
        const out = new Uint8Array(n * entryLen);
        const dv = new DataView(out.buffer);
        for (let i = 0; i < n; i++) {
          const vals = [d.of(0, 1, 0, 2), d.of(0, 1, 2, 3, 4, 0x99), d.of(0, 1, 3, 4)];
          for (let j = 0; j < 3 && (j + 1) * 4 <= entryLen; j++) dv.setUint32(i * entryLen + j * 4, vals[j]!, true);
        }
        const args: SymFields = { hwpt_id: { $: 'id', t, k: d.int(7) }, data_uptr: n ? FAKE_PTR : 0n, data_type: d.of(0xdeadbeef, 0xdeadbeef, 0), entry_len: entryLen, entry_num: n, __reserved: reserved(d, d.h) };
        return n ? ab(args, { data_uptr: out }) : args;
      }),
    },
    // ------------------------------------------------------------ faults, vIOMMU
    IOMMU_FAULT_QUEUE_ALLOC: { weight: 3, build: ioctl('IOMMU_FAULT_QUEUE_ALLOC', h, (d) => ({ flags: reserved(d, d.h) })) },
    IOMMU_VIOMMU_ALLOC: {
      weight: 2,
      since: '6.14',
      build: ioctl('IOMMU_VIOMMU_ALLOC', h, (d) => ({ flags: reserved(d, d.h), type: d.of(0xdeadbeef, 0xdeadbeef, 0, 1), dev_id: device(d), hwpt_id: paging(d) })),
    },
    IOMMU_VDEVICE_ALLOC: {
      weight: 2,
      since: '6.14',
      build: ioctl('IOMMU_VDEVICE_ALLOC', h, (d) => ({ viommu_id: id(d, 'viommu', d.h), dev_id: device(d), virt_id: d.of(0n, 1n, 2n, 3n, 0x99n, U64_MAX) })),
    },
    // ------------------------------------------------------------ mock driver test ops
    IOMMU_TEST_OP_MOCK_DOMAIN: { weight: 6, build: testOp('IOMMU_TEST_OP_MOCK_DOMAIN', h, (d) => (d.w([85, 15]) ? paging(d) : ioas(d)), 'mock_domain', () => ({})) },
    IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: {
      weight: 2,
      build: testOp('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', h, (d) => (d.w([80, 20]) ? paging(d) : ioas(d)), 'mock_domain_flags', (d) => ({ dev_flags: d.of(2, 1, 0, 3, 4) })),
    },
    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: {
      weight: 2,
      build: testOp('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', h, (d) => id(d, 'selftest', d.h), 'mock_domain_replace', (d) => {
        const c = d.w([40, 40, 20]);
        return { pt_id: c === 0 ? ioas(d) : c === 1 ? paging(d) : id(d, 'hwpt_nested', d.h) };
      }),
    },
    IOMMU_TEST_OP_ADD_RESERVED: {
      weight: 1,
      build: testOp('IOMMU_TEST_OP_ADD_RESERVED', h, ioas, 'add_reserved', (d) => (d.w([80, d.h]) ? { start: u64Edge(d), length: u64Edge(d) } : { start: gpa(d), length: BigInt(1 + d.int(15)) * PAGE })),
    },
    IOMMU_TEST_OP_MD_CHECK_MAP: {
      weight: 1,
      build: testOp('IOMMU_TEST_OP_MD_CHECK_MAP', h, paging, 'check_map', (d) => ({
        iova: mappedIova(d, 'id', d.h),
        length: d.of(0x800n, 0x1000n, 0x2000n, 0x4000n),
        uptr: d.w([80, 20]) ? userVa(d, d.h) : { $: 'uva', of: 'id', k: d.int(7), off: 0n },
      })),
    },
    IOMMU_TEST_OP_MD_CHECK_REFS: {
      weight: 1,
      build: testOp('IOMMU_TEST_OP_MD_CHECK_REFS', h, () => 0, 'check_refs', (d) => ({ length: d.of(0x1000n, 0x2000n, 0x800n), uptr: userVa(d, d.h), refs: d.of(1, 0, 2) })),
    },
    IOMMU_TEST_OP_MD_CHECK_IOTLB: {
      weight: 1,
      build: testOp('IOMMU_TEST_OP_MD_CHECK_IOTLB', h, (d) => id(d, 'hwpt_nested', d.h), 'check_iotlb', (d) => ({ id: d.int(4), iotlb: d.of(0xbadbeef, 0) })),
    },
    IOMMU_TEST_OP_DEV_CHECK_CACHE: {
      weight: 1,
      since: '6.14',
      build: testOp('IOMMU_TEST_OP_DEV_CHECK_CACHE', h, device, 'check_dev_cache', (d) => ({ id: d.int(4), cache: d.of(0xbaddad, 0) })),
    },
    IOMMU_TEST_OP_CREATE_ACCESS: {
      weight: 3,
      build: testOp('IOMMU_TEST_OP_CREATE_ACCESS', h, ioas, 'create_access', (d) => ({ flags: d.w([100, d.h]) ? 2 : d.of(1, 0) })),
    },
    IOMMU_TEST_OP_ACCESS_PAGES: {
      weight: 4,
      build: testOp('IOMMU_TEST_OP_ACCESS_PAGES', h, accessFd, 'access_pages', (d) => {
        const c = d.w([60, 30, d.h]);
        const flags = d.of(0, 1, SYZ_FLAG);
        return {
          flags,
          iova: syzOrMappedIova(d, flags, 'id@access', d.h),
          length: c === 0 ? d.of(0x1000n, 0x2000n, 0x4000n) : c === 1 ? { $: 'alen', of: 'id@access', k: d.int(7), n: 1, add: 0n } : d.of(0n, 0x800n, 0x2000000n),
          uptr: d.w([70, 30]) ? { $: 'uva', of: 'id@access', k: d.int(7), off: 0n } : 0n,
        };
      }),
    },
    IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: {
      weight: 2,
      build: testOp('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', h, accessFd, 'destroy_access_pages', (d) => ({ access_pages_id: d.int(4) })),
    },
    IOMMU_TEST_OP_ACCESS_RW: {
      weight: 3,
      build: testOp('IOMMU_TEST_OP_ACCESS_RW', h, accessFd, 'access_rw', (d) => {
        const flags = d.of(0, 1, 4, 5, SYZ_FLAG, 8);
        const iova = syzOrMappedIova(d, flags, 'id@access', d.h);
        const len = d.w([80, d.h]) ? d.of(0n, 0x2000000n) : d.of(0x10n, 0x1000n, 0x1800n, 1n);
        const uptr = d.w([90, 10]) ? 0n : userVa(d, d.h);
        const fields: SymFields = { iova, length: len, uptr, flags };
        const n = len <= 0x2000n ? Number(len) : 0;
        return flags & 1 && n ? ab(fields, { uptr: bytes(d, n) }) : fields;
      }),
    },
    IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: {
      weight: 1,
      build: testOp('IOMMU_TEST_OP_ACCESS_REPLACE_IOAS', h, accessFd, 'access_replace_ioas', (d) => ({ ioas_id: ioas(d) })),
    },
    IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: {
      weight: 1,
      build: testOp('IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT', h, () => 0, 'memory_limit', (d) => ({ limit: d.of(65536, 12, 11, 0) })),
    },
    IOMMU_TEST_OP_DIRTY: {
      weight: 4,
      build: testOp('IOMMU_TEST_OP_DIRTY', h, (d) => (d.w([80, 20]) ? dirtyHwpt(d) : id(d, 'hwpt_tracking', d.h)), 'dirty', (d) =>
        ab(
          {
            flags: 0,
            iova: mappedIova(d, 'id', d.h),
            length: d.w([90, d.h]) ? d.of(0n, 0x801n) : BigInt(2 + 2 * d.int(15)) * 0x800n,
            page_size: d.w([85, 15, d.h]) ? d.of(4096n, 0n) : 2048n,
            uptr: FAKE_PTR,
          },
          { uptr: bytes(d, 4) },
        ),
      ),
    },
    IOMMU_TEST_OP_TRIGGER_IOPF: {
      weight: 5,
      build: testOp('IOMMU_TEST_OP_TRIGGER_IOPF', h, () => 0, 'trigger_iopf', (d) => ({
        dev_id: d.w([70, 30]) ? device(d) : id(d, 'dev_fault', d.h),
        pasid: d.of(0, 0, 1),
        grpid: d.int(3),
        perm: d.of(3, 1, 2),
        addr: d.of(APERTURE, 0x2000000n, 0xdead000n),
      })),
    },
    // ------------------------------------------------------------ VFIO container compat
    VFIO_GET_API_VERSION: { weight: 0.5, build: ioctl('VFIO_GET_API_VERSION', h, () => ({})) },
    VFIO_CHECK_EXTENSION: { weight: 0.5, build: ioctl('VFIO_CHECK_EXTENSION', h, (d) => ({ arg: d.of(1n, 3n, 4n, 5n, 8n, 9n, 10n, 0n) })) },
    VFIO_SET_IOMMU: { weight: 1, build: ioctl('VFIO_SET_IOMMU', h, (d) => ({ arg: d.of(3n, 1n, 8n) })) },
    VFIO_IOMMU_GET_INFO: {
      weight: 0.5,
      build: ioctl('VFIO_IOMMU_GET_INFO', h, (d) => {
        const argsz = d.of(16, 24, 64, 120);
        const args: SymFields = { argsz, flags: 0, iova_pgsizes: 0n, cap_offset: 0 };
        return argsz > 24 ? ab(args, { caps: new Uint8Array(argsz - 24) }) : args;
      }),
    },
    VFIO_IOMMU_MAP_DMA: {
      weight: 2,
      build: ioctl('VFIO_IOMMU_MAP_DMA', h, (d) => ({ argsz: d.of(32, 32, 8), flags: d.of(3, 1, 2, 4), vaddr: userVa(d, d.h), iova: gpa(d), size: length(d, d.h) })),
    },
    VFIO_IOMMU_UNMAP_DMA: {
      weight: 2,
      build: ioctl('VFIO_IOMMU_UNMAP_DMA', h, (d) => {
        const c = d.w([70, 10, 10, d.h]);
        if (c === 1) return { argsz: 24, flags: 2, iova: 0n, size: 0n };
        if (c === 2) {
          // All of an area but its first or last page: a type1 cut (template.ts type1Constructor makes the container type1).
          const k = d.int(7);
          const off = d.of(0n, PAGE);
          return { argsz: 24, flags: 0, iova: { $: 'iova', of: '@vfio', k, off }, size: { $: 'alen', of: '@vfio', k, n: 1, add: -PAGE } };
        }
        if (c === 3) return { argsz: d.of(24, 4), flags: d.of(0, 2, 4), iova: u64Edge(d), size: u64Edge(d) };
        return { argsz: 24, flags: 0, iova: mappedIova(d, '@vfio', d.h), size: BigInt(1 + d.int(7)) * PAGE };
      }),
    },
    RAW_IOCTL: {
      weight: 0.5,
      build: ioctl('RAW_IOCTL', h, (d) =>
        d.of<SymFields>(
          { request: 0x3b81, payload: { flags: 0 } },
          { request: 0x3b7f, payload: {} },
          { request: 0x3ba1, payload: {} },
          { request: 0x3c81, payload: { flags: 0 } },
          { request: 0x3b8f, payload: { flags: 7, ioas_id: 1, fd: 55, start: 0n, length: PAGE, iova: APERTURE } },
          { request: 0x3b81, payload: null },
        ),
      ),
    },
    // ------------------------------------------------------------ hardware, VFIO device files, device DMA
    iommu_add: {
      weight: 0.5,
      build: env('iommu_add', (d) => {
        const k = d.int(1);
        const a: SymFields = { iommu: 1 + k, driver: k ? 'arm_smmuv3' : 'intel_vtd' };
        if (d.w([60, 40])) (a['dirty'] = d.of(true, false), (a['nesting'] = d.of(true, false)), (a['msi_isolated'] = d.of(true, false)));
        if (d.h && d.w([50, 50])) a['driver'] = d.of('mock', 'nope');
        return a;
      }),
    },
    device_add: {
      weight: 1,
      build: env('device_add', (d) => {
        const k = d.int(1);
        const a: SymFields = { dev: 1 + d.int(3), iommu: 1 + k, driver: k ? 'arm_smmuv3' : 'intel_vtd' };
        switch (d.w([60, 15, 10, 10, d.h])) {
          case 1:
            a['kind'] = 'emulated';
            break;
          case 2:
            a['group'] = 7;
            break;
          case 3:
            a['flags'] = d.of(['pci'], ['pci', 'pri'], ['noncoherent']);
            break;
          case 4:
            a['resv'] = [{ start: APERTURE, length: 0x10000n, type: d.of('reserved', 'msi', 'bogus') }];
        }
        return a;
      }),
    },
    device_remove: { weight: 0.5, build: env('device_remove', (d) => ({ dev: 1 + d.int(3) })) },
    set_module_param: { weight: 0.3, build: env('set_module_param', (d) => ({ name: d.w([95, d.h]) ? 'bogus' : 'allow_unsafe_interrupts', value: d.of(true, false) })) },
    VFIO_DEVICE_BIND_IOMMUFD: {
      weight: 2,
      build: vfioDev('VFIO_DEVICE_BIND_IOMMUFD', (d) => ({ argsz: d.w([95, d.h]) ? d.of(8, 12, 64) : 16, flags: reserved(d, d.h), iommufd: d.w([95, d.h]) ? d.of(77, 0) : fd('iommufd') })),
    },
    VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
      weight: 2,
      build: vfioDev('VFIO_DEVICE_ATTACH_IOMMUFD_PT', (d) => {
        const c = d.w([50, 25, 15, d.h]);
        return { argsz: 12, flags: reserved(d, d.h), pt_id: c === 0 ? id(d, 'ioas', d.h) : c === 1 ? id(d, 'hwpt_paging', d.h) : c === 2 ? id(d, 'hwpt_nested', d.h) : id(d, 'any', d.h) };
      }),
    },
    VFIO_DEVICE_DETACH_IOMMUFD_PT: { weight: 1, build: vfioDev('VFIO_DEVICE_DETACH_IOMMUFD_PT', (d) => ({ argsz: d.w([95, d.h]) ? 4 : 8, flags: reserved(d, d.h) })) },
    VFIO_GROUP_SET_CONTAINER: {
      weight: 1,
      build: vfioGroup('VFIO_GROUP_SET_CONTAINER', (d) => ({ fd: d.w([90, d.h]) ? fd('iommufd') : d.of<SymValue>(77, -1, fd('vfio_group'), fd('fault'), fd('vfio')) })),
    },
    VFIO_GROUP_UNSET_CONTAINER: { weight: 0.5, build: vfioGroup('VFIO_GROUP_UNSET_CONTAINER', () => ({})) },
    VFIO_GROUP_GET_STATUS: { weight: 0.5, build: vfioGroup('VFIO_GROUP_GET_STATUS', (d) => ({ argsz: d.w([95, d.h]) ? 8 : d.of(4, 64), flags: 0 })) },
    VFIO_GROUP_GET_DEVICE_FD: {
      weight: 1.5,
      // (device_add names a device after its cdev unless told otherwise: vfio<dev>)
      build: vfioGroup('VFIO_GROUP_GET_DEVICE_FD', (d) => ({ name: d.w([90, d.h]) ? `vfio${1 + d.int(3)}` : d.of('', 'nosuch', 'x'.repeat(4096)) })),
    },
    dma_write: {
      weight: 2,
      build: env(
        'dma_write',
        (d) => ({ fd: fd('iommufd'), dev_id: id(d, 'device', d.h), iova: mappedIova(d, 'dev_id', d.h), length: d.of(0x10n, 0x1000n, 0x3000n, 0x800n) }),
        (d) => (d.w([50, 50]) ? { data: bytes(d, 16) } : undefined),
      ),
    },
    iopf: {
      weight: 1,
      build: env('iopf', (d) => {
        const a: SymFields = { fd: fd('iommufd'), dev_id: d.w([60, 40]) ? device(d) : id(d, 'dev_fault', d.h), grpid: d.int(3), perm: d.of(3, 1, 2), addr: d.of(APERTURE, 0x2000000n) };
        if (d.w([80, 20])) a['pasid'] = d.int(1);
        if (d.w([85, 15])) a['last_page'] = false;
        return a;
      }),
    },
    guest_s1_change: {
      weight: 1,
      build: env('guest_s1_change', (d) => {
        const v = d.w([70, 30]);
        const a: SymFields = { fd: fd('iommufd'), hwpt_id: id(d, v ? 'viommu' : 'hwpt_nested', d.h), iova: d.w([80, 20]) ? gpa(d) : APERTURE, length: d.w([90, d.h]) ? d.of(0n, U64_MAX) : BigInt(1 + d.int(15)) * PAGE };
        if (v || d.w([90, 10])) a['scope'] = `asid:${d.int(3)}`;
        return a;
      }),
    },
    // ------------------------------------------------------------ environment
    open: {
      weight: 1.5,
      build: env('open', (d) => {
        const c = d.w([40, 40, 10, 10, 4, 3]);
        // (the scratch file now and then read-only or write-only: which mappings of it the kernel refuses;
        // or O_APPEND: where its writes go)
        if (c === 3) return { path: SCRATCH_FILE, flags: d.of(O_TRUNC_RW, O_TRUNC_RW, O_TRUNC_RW & ~3, (O_TRUNC_RW & ~3) | 1, O_TRUNC_RW | O_APPEND) };
        // (a file on the hugetlbfs mount: QEMU's -mem-path /dev/hugepages guest RAM)
        if (c === 4) return { path: HUGETLBFS_FILE, flags: d.of(O_TRUNC_RW, O_TRUNC_RW, O_TRUNC_RW & ~3) };
        // (a directory, read-only or not, or a new unnamed file in one: O_TMPFILE, on tmpfs or hugetlbfs)
        if (c === 5) return { path: d.of('/tmp', '/dev/hugepages', '/'), flags: d.of(0, 2, O_TMPFILE | 2, O_TMPFILE | 2, O_TMPFILE) };
        return { path: c === 0 ? '/dev/iommu' : c === 1 ? { $: 'vfiopath', k: d.int(3) } : { $: 'vfiopath', k: d.int(3), group: true } };
      }),
    },
    close: {
      weight: 2,
      build: env('close', (d) => {
        // (a VFIO device or group file closed unbinds a device, lets go of a group's container)
        const c = d.w([40, 40, 10, 3, 4, 3, d.h]);
        return { fd: c === 6 ? 77 : fd((['access', 'fault', 'memfd', 'any', 'vfio', 'vfio_group'] as const)[c]!, d.int(7)) };
      }),
    },
    mmap: {
      weight: 2,
      build: env('mmap', (d) => {
        // (file_shared: guest RAM in a shared mapping of a file, as a VMM's memory-backend-file)
        const kind = d.of('anon', 'anon_hugetlb', 'private_anon', 'memfd', 'file_private', 'anon', 'file_shared');
        // (now and then right after a region: the kernel merges neighbouring anonymous mappings, vma_merge.ts)
        const a: SymFields = { va: GUEST_VA + BigInt(d.int(5)) * GUEST_STRIDE + (d.w([85, 15]) ? GUEST_REGION : 0n), length: GUEST_REGION, kind, prot: d.w([85, 15]) ? d.of(7, 5) : d.of(3, 3, 1) };
        // (a file mapped from its start, or now and then further in, as a VMM maps one file for
        // several RAM blocks: a page in, a huge page in; hostile: an offset off a page, EINVAL, and
        // one whose end passes the largest file, EOVERFLOW)
        const offset = (): bigint => (d.w([85, 15, d.h]) === 0 ? 0n : d.w([100, d.h]) ? d.of(0x800n, 0x7fffffffffe00000n) : d.of(PAGE, 0x200000n));
        if (kind === 'memfd' || kind === 'file_shared') {
          a['fd'] = kind === 'memfd' ? memfd(d) : fd('file');
          a['offset'] = offset();
        }
        // A private mapping of a file the trace holds (copy-on-write over a memfd or the scratch
        // file, which ftruncate can then cut under it), else of one it does not name.
        if (kind === 'file_private') {
          const c = d.w([50, 30, 20]);
          if (c > 0) {
            a['fd'] = c === 1 ? memfd(d) : fd('file');
            a['offset'] = offset();
          }
        }
        // Now and then mmap's other flags: locked or populated (QEMU's mem-lock, cloud-hypervisor's
        // prefault), not committed, a stack, not replacing. Private anonymous memory is not populated
        // here: advised HUGEPAGE later, khugepaged could collapse it at any moment (seed 102).
        if (d.w([80, 20]) === 1)
          a['flags'] =
            kind === 'private_anon'
              ? d.of(MAP_NORESERVE, MAP_STACK, MAP_FIXED_NOREPLACE, MAP_POPULATE | MAP_NONBLOCK, MAP_HUGETLB, MAP_HUGETLB | MAP_POPULATE)
              : d.of(MAP_LOCKED, MAP_POPULATE, MAP_LOCKED | MAP_POPULATE, MAP_POPULATE | MAP_NONBLOCK, MAP_NORESERVE, MAP_FIXED_NOREPLACE, MAP_STACK);
        // (hostile: MAP_HUGETLB with a file, EINVAL unless it is a hugetlbfs one)
        else if (a['fd'] !== undefined && d.w([100, d.h])) a['flags'] = MAP_HUGETLB;
        // Now and then hugetlb memory of 1 GiB pages (where the kernel has them), mostly at the first
        // region, which is on a 1 GiB boundary (elsewhere: EINVAL); its length rounds up to 1 GiB,
        // over the regions after it.
        const hugetlb = kind === 'anon_hugetlb' || (kind === 'private_anon' && typeof a['flags'] === 'number' && (a['flags'] & MAP_HUGETLB) !== 0);
        if (b.gigantic !== false && hugetlb && d.w([75, 25]) === 1) {
          a['flags'] = (typeof a['flags'] === 'number' ? a['flags'] : 0) | HUGE_1GB;
          if (d.w([80, 20]) === 0) a['va'] = GUEST_VA;
        }
        return a;
      }),
    },
    // (a buffer grown or moved under its pins, as glibc's realloc does; with MAYMOVE alone, or
    // DONTUNMAP without FIXED, the kernel chooses where, and its answer tells the model: oracle/results.ts)
    mremap: {
      weight: 0.7,
      build: env('mremap', (d) => {
        // (hostile: flags the call refuses, DONTUNMAP without MAYMOVE or with a resize, lengths of
        // 0 (an old length of 0 duplicates a shared mapping) or off a page, a target off a page)
        const hostile = d.w([100, d.h]) === 1;
        const flags = hostile ? d.of(8, 2, 6, 4, 5, 1, 1) : d.of(0, 0, 1, 1, 3, 3, 5, 7);
        const oldLength = hostile ? d.of(0n, PAGE + 0x800n, PAGE, GUEST_REGION) : d.of(PAGE, 0x10000n, GUEST_REGION);
        // (DONTUNMAP moves without resizing)
        const newLength = flags & 4 && !hostile ? oldLength : hostile ? d.of(0n, PAGE + 0x800n, oldLength, GUEST_REGION) : d.of(PAGE, 0x10000n, GUEST_REGION, 2n * GUEST_REGION);
        // (half the ones without FIXED at a mapping's tail, where a growth can stay in place, as realloc's does)
        const va = flags <= 1 && d.w([50, 50]) === 0 ? { $: 'va' as const, k: d.int(2), off: -oldLength, end: true } : userVa(d, d.h);
        const a: SymFields = { va, old_length: oldLength, new_length: newLength, flags };
        if (flags & 2 || flags === 7) a['new_va'] = GUEST_VA + BigInt(d.int(5)) * GUEST_STRIDE + d.of(0n, GUEST_REGION) + (hostile ? d.of(0n, 0x800n) : 0n);
        // (a move the kernel places: where, the model is told; the kernel's answer on the oracle)
        else if (flags & 1) a['placed'] = { $: 'gap', len: newLength };
        return a;
      }),
    },
    munmap: { weight: 1, build: env('munmap', (d) => ({ va: userVa(d, d.h), length: memLength(d, d.h, PAGE, 0x10000n, GUEST_REGION) })) },
    // (PROT_EXEC is a VMA flag of its own; PROT_SEM is taken and ignored, the GROWS bits refused, other bits EINVAL.
    // Not write-only or exec-only memory, whose reads hang on page tables and the CPU: mm.ts readNeedsPtes, execOnly)
    mprotect: {
      weight: 1,
      build: env('mprotect', (d) => {
        const c = d.w([80, 20, d.h]);
        return { va: userVa(d, d.h), length: memLength(d, d.h, PAGE, 0x10000n), prot: c === 0 ? d.of(1, 0, 3) : c === 1 ? d.of(7, 5) : d.of(0xb, 0x13, 0x01000003, 0x02000001, 0x03000000) };
      }),
    },
    madvise: {
      weight: 0.5,
      // (what a VMM does to guest RAM: DONTFORK it, give it back with DONTNEED or REMOVE, ask for
      // transparent huge pages with HUGEPAGE over the whole region and preallocate it with
      // POPULATE_WRITE, as QEMU does; not the advice whose answer hangs on the kernel's configuration
      // or on memory pressure)
      build: env('madvise', (d) => {
        const advice = d.w([100, d.h]) ? 5 : d.of('DONTNEED', 'DONTNEED', 'REMOVE', 'REMOVE', 'DONTFORK', 'DOFORK', 'WIPEONFORK', 'KEEPONFORK', 'NORMAL', 'NOHUGEPAGE', 'COLD', 'PAGEOUT', 'DONTDUMP', 'HUGEPAGE', 'HUGEPAGE', 'POPULATE_READ', 'POPULATE_WRITE');
        // (the whole of one of mmap's low regions, where userVa's pick of a VMA lands most; mapped
        // private first if it is not there: template.ts constructorFor)
        if ((advice === 'HUGEPAGE' || advice === 'POPULATE_WRITE') && d.w([60, 40]) === 0) return { va: GUEST_VA + BigInt(1 + d.int(1)) * GUEST_STRIDE, length: GUEST_REGION, advice };
        return { va: userVa(d, d.h), length: memLength(d, d.h, PAGE, 0x10000n, 0x200000n), advice };
      }),
    },
    // (a VMM that locks guest RAM, as QEMU's -overcommit mem-lock=on does, which MM-mode accounting then
    // counts twice; mlockall only for later mappings: MCL_CURRENT locks the program's own code and stack
    // too, which no trace describes, and the oracle's executor with them. And on fault: a plain
    // MCL_FUTURE faults each new mapping in before the generator's MADV_HUGEPAGE of it, and khugepaged
    // then collapses those pages into huge ones at a time no trace shows: seed 102)
    mlock: {
      weight: 0.5,
      build: env('mlock', (d) => ({ va: userVa(d, d.h), length: memLength(d, d.h, PAGE, 0x10000n, GUEST_REGION), flags: d.w([100, d.h]) ? d.of(2, 0xffffffff) : d.of(0, 0, 1) })),
    },
    munlock: { weight: 0.3, build: env('munlock', (d) => ({ va: userVa(d, d.h), length: memLength(d, d.h, PAGE, 0x10000n, GUEST_REGION) })) },
    mlockall: { weight: 0.2, build: env('mlockall', (d) => ({ flags: d.w([100, d.h]) ? d.of(0, 4, 8, 0xffffffff) : 6 })) },
    munlockall: { weight: 0.15, build: env('munlockall', () => ({})) },
    memset: { weight: 0.5, build: env('memset', (d) => ({ va: userVa(d, d.h), length: d.of(0x10n, PAGE), byte: d.int(255) })) },
    fill_memory: { weight: 0.3, build: env('fill_memory', (d) => ({ va: userVa(d, d.h), length: d.of(0x40n, 0x100n, 0x1000n), pattern: { seed: d.int(0x7fffffff) } })) },
    write_memory: {
      weight: 0.5,
      build: env('write_memory', (d) => {
        const data = new Uint8Array(1 + d.int(15));
        for (let i = 0; i < data.length; i++) data[i] = d.int(255);
        return { va: userVa(d, d.h), data };
      }),
    },
    read_memory: { weight: 0.5, build: env('read_memory', (d) => ({ va: userVa(d, d.h), length: d.of(0x10n, PAGE) })) },
    // (now and then with flags, as QEMU's memory-backend-memfd passes MFD_CLOEXEC | MFD_ALLOW_SEALING, and
    // MFD_HUGETLB with hugetlb=on: a hugetlbfs file of 2 MiB pages; hostile: ones the kernel refuses)
    memfd_create: {
      weight: 1.5,
      build: env('memfd_create', (d) => {
        const c = d.w([60, 25, 15, d.h]);
        if (c === 2) return { name: 'guest-ram', flags: b.gigantic !== false ? d.of(MFD_HUGETLB, MFD_HUGETLB | MFD_HUGE_2MB | 3, MFD_HUGETLB | HUGE_1GB | 3) : d.of(MFD_HUGETLB, MFD_HUGETLB | MFD_HUGE_2MB | 3) };
        // (hostile: also a name past MFD_NAME_MAX_LEN, 249 bytes: EINVAL)
        if (c === 3 && d.w([50, 50])) return { name: 'r'.repeat(250) };
        return c === 0 ? { name: 'guest-ram' } : { name: 'guest-ram', flags: c === 1 ? d.of(1, 3, 8, 0x10, 0xb) : d.of(0x18, 0x20, MFD_HUGE_2MB) };
      }),
    },
    // (a hole punched in guest RAM, as QEMU discards memory of a memfd or file backend; allocation;
    // modes tmpfs refuses, on a memfd only: on a regular file they hang on the filesystem)
    fallocate: {
      weight: 0.7,
      build: env('fallocate', (d) => {
        const file = d.w([75, 25]) === 1;
        return {
          fd: file ? fd('file') : memfd(d),
          // (hostile on a memfd: COLLAPSE_RANGE, INSERT_RANGE, an unknown bit; an offset negative as
          // loff_t, EINVAL, or one whose end passes the largest file, EFBIG. Not one that ends within
          // a huge page below it: on a hugetlbfs file that allocates until the pool runs out, and a
          // campaign drawing it met a kernel BUG: fallocate.ts)
          mode: file ? d.of(3, 3, 0, 1, 2) : d.w([100, d.h]) ? d.of(0x8, 0x40, 0x100, 0x9) : d.of(3, 3, 0, 1, 2, 0x10, 0x20),
          offset: d.w([100, d.h]) ? d.of(0xffffffffffff0000n, 0x7ffffffffffffff0n) : d.of(0n, 0x1000n, 0x1800n, 0x200000n),
          length: d.of(0x1000n, 0x2000n, 0x10n, GUEST_REGION),
        };
      }),
    },
    ftruncate: {
      weight: 1,
      // (hostile: a size past the largest file, negative as the kernel's loff_t: EINVAL)
      build: env('ftruncate', (d) => ({ fd: d.w([80, 20]) ? fd('file') : memfd(d), length: d.w([100, d.h]) ? 1n << 63n : d.of(GUEST_REGION, 0x1000n, 0n, 0x1800n) })),
    },
    read_fault_fd: { weight: 3, build: env('read_fault_fd', (d) => ({ fd: faultFd(d), count: d.of(40, 80, 160, 0, 17), pos: d.w([100, d.h]) })) },
    write_fault_fd: {
      weight: 3,
      build: (d) => {
        hostility(d, d.bias);
        const items = Array.from({ length: 1 + d.int(1) }, () => ({ cookie: d.w([90, d.h]) ? d.of(0, 77) : ({ $: 'cookie', k: d.int(2) } as Sym), code: d.w([100, d.h]) ? 2 : d.of(0, 1) }));
        const f = faultFd(d);
        const data: SymBuf = { $: 'resp', items };
        // (hostile, on a fault fd: a count one record past the bytes given, which the executor puts
        // right before a guard page, or an unreadable buffer: copy_from_user fails at that record.
        // On any other file such a count is not modelled, so it is drawn for fault fds only.)
        const past = typeof f === 'object' && f.$ === 'fd' && f.kind === 'fault' ? d.w([100, d.h, d.h / 2]) : 0;
        const args: SymFields = { fd: f, pos: d.w([100, d.h]) ? 8 : 0 };
        if (past) args['count'] = items.length * 8 + (past === 1 ? 8 : 0);
        return { op: 'write_fault_fd', pid: pid(d), args, bufs: { data: past === 2 ? null : data } };
      },
    },
    // (CAP_IPC_LOCK the most: a VMM usually runs without it, and only then are pins charged)
    drop_capability: { weight: 1, build: env('drop_capability', (d) => ({ cap: d.of('CAP_IPC_LOCK', 'CAP_IPC_LOCK', 'CAP_SYS_RESOURCE', 'CAP_NET_ADMIN') })) },
    set_rlimit_memlock: { weight: 0.5, build: env('set_rlimit_memlock', (d) => ({ pages: d.of<bigint | null>(16n, 0n, 1024n, null) })) },
    fork: { weight: 1, build: env('fork', () => ({ child: { $: 'newpid' } })) },
    exit: { weight: 0.5, build: (d) => ({ op: 'exit', pid: -1 - d.int(2), args: {} }) },
    external_fds: { weight: 0.2, build: env('external_fds', () => ({ fds: [40, 41] })) },
    maps: { weight: 0.2, build: env('maps', () => ({ maps: [{ start: GUEST_VA, end: GUEST_VA + GUEST_REGION, perms: 'rw-s', path: '/dev/zero (deleted)' }] })) },
    note: { weight: 0.2, build: env('note', () => ({ text: 'fuzz' })) },
  };
}

/** One arbitrary per event kind, with its weight in the default mix. */
export function templateArbitraries(b: Bias = { hostile: 4 }): Record<string, OpArbitrary> {
  const out: Record<string, OpArbitrary> = {};
  for (const [op, x] of Object.entries(builders(b)))
    out[op] = {
      ...x,
      arbitrary: choice((d) => {
        d.bias = b.hostile;
        return x.build(d);
      }),
    };
  return out;
}

/**
 * The weighted union of the event kinds for a kernel profile (ops of the
 * other kernel stay, at a tenth of their weight). Shrinking keeps each
 * command's kind and simplifies its fields.
 */
export function eventTemplates(kernel: KernelVersion = '6.12', b: Bias = { hostile: 4 }, only?: readonly string[]): ChoiceArbitrary<Template> {
  const all = Object.entries(builders(b)).filter(([op]) => !only || only.includes(op));
  if (!all.length) throw new Error(`no event kind selected (known: ${EVENT_KINDS.join(', ')})`);
  const weights = all.map(([, o]) => Math.max(1, Math.round((o.since && o.since !== kernel ? o.weight / 10 : o.weight) * 10)));
  const builds = all.map(([, o]) => o.build);
  return choice((d) => {
    d.bias = b.hostile;
    return builds[d.w(weights)]!(d);
  }, 1);
}

/** Names of every event kind the generators cover. */
export const EVENT_KINDS: readonly string[] = Object.keys(builders({ hostile: 4 }));
