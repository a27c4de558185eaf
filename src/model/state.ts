/**
 * The whole modelled machine: processes and their file descriptors, the
 * iommufd contexts with their object tables, user memory.
 *
 * Everything here is immutable. Large collections are persistent structures
 * from src/ds (structurally shared, O(log n) updates); the small object graph
 * around them is updated with spreads. A reducer that fails returns the very
 * same World object, except where the kernel keeps partial effects
 * (kernel-semantics §3.7 IOAS_UNMAP, §1.4 write-back failures).
 */
import { PMap } from '../ds/pmap.js';
import type { IntervalMap } from '../ds/interval_map.js';
import type { DriverName } from './drivers/profile.js';
import { emptyMemory, type Memory, type Mm } from './mm.js';
import { emptyHardware, type Hardware } from './hardware.js';

export type KernelVersion = '6.12' | '6.14';
export const KERNEL_VERSIONS: readonly KernelVersion[] = ['6.12', '6.14'];

export interface Proc {
  readonly pid: number;
  readonly alive: boolean;
  readonly mm: Mm;
  /** fd number -> open file id. */
  readonly fds: PMap<number, number>;
  readonly capIpcLock: boolean;
  readonly capSysResource: boolean;
  /** RLIMIT_MEMLOCK in pages; null = unlimited. */
  readonly memlockPages: bigint | null;
  readonly uid: number;
  /** What iommufd charged to mm->locked_vm (pages) in MM accounting mode; the rest of locked_vm is mlock's (the VM_LOCKED VMAs: mm.ts mlockedPages). */
  readonly lockedVm: bigint;
  /** mm->pinned_vm (pages), adjusted in every mode. */
  readonly pinnedVm: bigint;
  /** mm->def_flags' VM_LOCKED / VM_LOCKONFAULT (mlockall MCL_FUTURE: every new mapping locked; mlock.ts); absent: none. A child starts without. */
  readonly defLocked?: number;
}

/**
 * 'path': opened with O_PATH, a descriptor of the path only (fget refuses it: EBADF for every call but close).
 * 'dir': a directory opened for reading (read EISDIR, mmap ENODEV, ioctl ENOTTY).
 */
export type FileKind = 'iommufd' | 'fault' | 'access' | 'memfd' | 'file' | 'vfio' | 'vfio_group' | 'path' | 'dir';

/** An open file description (shared by dup'ed / inherited fds). */
export interface OpenFile {
  readonly id: number;
  readonly kind: FileKind;
  /** Number of references: fds in any process, plus kernel holders (access/fault fds hold their iommufd). */
  readonly refs: number;
  /** iommufd context this file belongs to (iommufd, fault, access). */
  readonly ctx?: number;
  /** Object ID inside the context (fault, access). */
  readonly obj?: number;
  /** Memory object (memfd, file). */
  readonly mobj?: number;
  /** The device behind a VFIO device file ('vfio'): its number in World.hw.devs. */
  readonly dev?: number;
  /** A VFIO device file from VFIO_GROUP_GET_DEVICE_FD (df->group), not from the device's cdev. */
  readonly viaGroup?: true;
  /** The VFIO group of a legacy group file ('vfio_group'). */
  readonly group?: number;
  /** The file offset read(2) and write(2) use and advance (memfd); absent = 0. */
  readonly pos?: bigint;
  /** A regular file or the iommufd opened O_RDONLY (no FMODE_WRITE) or O_WRONLY (no FMODE_READ). */
  readonly readOnly?: true;
  readonly writeOnly?: true;
  /** A regular file opened O_APPEND: write(2) and pwrite(2) alike write at its end (generic_write_checks). */
  readonly append?: true;
}

export type AccountMode = 'none' | 'user' | 'mm';

export interface Range {
  readonly start: bigint;
  readonly last: bigint;
}

/** A reserved IOVA interval and who reserved it (kernel-semantics §3.10). */
export interface Reserved extends Range {
  /** 'hwpt:<id>' for a domain aperture, 'dev:<id>' for device regions, 'test' for ADD_RESERVED. */
  readonly owner: string;
}

/** One IOVA area: `[start, last]` of an IOAS, a slice of a pages object. */
export interface Area {
  readonly pages: number;
  /** Byte offset of the area's first byte from the pages object's (page-aligned) base. */
  readonly startByte: bigint;
  /** IOMMU_READ=1 | IOMMU_WRITE=2 | IOMMU_CACHE=4. */
  readonly prot: number;
  /** In-kernel access pins on this area. */
  readonly numAccesses: number;
}

/** struct io_pagetable. */
export interface Iopt {
  readonly areas: IntervalMap<Area>;
  readonly reserved: readonly Reserved[];
  readonly allowed: readonly Range[];
  /** HWPT_PAGING ids whose domains are on this IOAS, in the order they were added. */
  readonly domains: readonly number[];
  /** ACCESS ids attached. */
  readonly accesses: readonly number[];
  readonly iovaAlignment: bigint;
  readonly disableLargePages: boolean;
}

/** A run of pinned pages of a pages object: indices [start, last], `count` holders, backed by consecutive pages of one memory object. */
export interface PinRun {
  readonly last: number;
  readonly count: number;
  readonly mobj: number;
  /** Page index inside `mobj` of the run's first page. */
  readonly mobjIndex: number;
}

/** struct iopt_pages: the pinnable view of a user VA range or a file range. */
export interface Pages {
  readonly id: number;
  /** Page-aligned user VA (or file offset for file pages) of page index 0. */
  readonly base: bigint;
  readonly npages: number;
  readonly writable: boolean;
  readonly account: AccountMode;
  readonly ownerPid: number;
  readonly ownerUid: number;
  /** File-backed pages (IOAS_MAP_FILE): the memory object. */
  readonly fileMobj?: number;
  /** Pinned index set S(P) with holder counts (kernel-semantics §4.1). */
  readonly pinned: PMap<number, PinRun>;
  /** |S(P)|: pages currently pinned (and charged). */
  readonly npinned: number;
  /**
   * pages->last_npinned, the count the accounting last charged, where it is
   * not npinned: only after 6.14's CHANGE_PROCESS failed to uncharge an
   * MM-mode object of an exited owner (0 then, while npinned pages stay
   * pinned). Fills and unfills then charge and uncharge against it as the
   * kernel's update_pinned does (pages.ts). Absent: equal to npinned.
   */
  readonly lastNpinned?: number;
  /** Areas referring to this pages object; it is freed with the last one. */
  readonly areaRefs: number;
}

interface ObjBase {
  readonly id: number;
  /** iommufd_object::users, including the table's own reference. */
  readonly users: number;
}

export interface IoasObj extends ObjBase {
  readonly type: 'ioas';
  readonly iopt: Iopt;
  /** HWPT_PAGING ids on this IOAS in creation order (ioas->hwpt_list): automatic domain selection walks it. */
  readonly hwpts: readonly number[];
}

/** A VT-d domain's page-table shape (dmar_domain: agaw, use_first_level, iommu_coherency, iommu_superpage). */
export interface VtdDomain {
  readonly agaw: number;
  readonly firstStage: boolean;
  readonly coherent: boolean;
  readonly superpage: number;
}

/**
 * A paging domain made by an IOMMU driver (a hardware profile,
 * src/model/drivers/): the mock's (kernel-semantics §12.1), Intel VT-d's or
 * ARM SMMUv3's.
 */
export interface Domain {
  readonly driver: DriverName;
  /** The IOMMU instance whose device allocated it (World.hw.iommus; the mock's is 0). */
  readonly iommu: number;
  /** Input address bits: the aperture is [apertureStart, apertureLast]. VT-d refuses attach through a narrower IOMMU. */
  readonly addrWidth: number;
  /** hwpt_paging->enforce_cache_coherency: set at allocation for a device with IOMMU_CAP_ENFORCE_CACHE_COHERENCY. */
  readonly enforceCC: boolean;
  /** Smallest IOPTE size. */
  readonly pgsize: bigint;
  /** 1 MiB IOPTEs allowed (MOCK_FLAGS_DEVICE_HUGE_IOVA). */
  readonly huge: boolean;
  /** VT-d: what the domain was made with on its IOMMU (drivers/intel_vtd.ts vtdGeometry), which attach compares. */
  readonly vtd?: VtdDomain;
  readonly apertureStart: bigint;
  readonly apertureLast: bigint;
  /** Domain has dirty-tracking ops (allocated with DIRTY_TRACKING). */
  readonly dirtyOps: boolean;
  readonly dirtyEnabled: boolean;
  /** Dirty 2 KiB slots (IOVA / 2048). */
  readonly dirty: PMap<bigint, true>;
  /**
   * Only kept when `huge`: the IOVA ranges this domain has mapped (start ->
   * last, disjoint), so that an area already in the domain is never
   * re-decided when another domain joins the IOAS.
   */
  readonly mapped: PMap<bigint, bigint>;
  /** IOVA runs mapped with 1 MiB IOPTEs (start -> last, disjoint, 1 MiB aligned); see iopte.ts. */
  readonly hugeMapped: PMap<bigint, bigint>;
}

export interface HwptPagingObj extends ObjBase {
  readonly type: 'hwpt_paging';
  readonly ioas: number;
  readonly auto: boolean;
  readonly nestParent: boolean;
  readonly fault: number;
  readonly domain: Domain;
  /** Mock device flags of the device that allocated it (MOCK_FLAGS_DEVICE_*; 0 for other drivers). */
  readonly devFlags: number;
}

export interface HwptNestedObj extends ObjBase {
  readonly type: 'hwpt_nested';
  /** Parent HWPT_PAGING id. */
  readonly parent: number;
  /** vIOMMU id when allocated through one (6.14), else 0. */
  readonly viommu: number;
  readonly fault: number;
  readonly iotlb: readonly number[];
  /**
   * The driver's stage-1 configuration as its nested allocator kept it
   * (VT-d: flags, pgtbl_addr, addr_width of iommu_hwpt_vtd_s1; SMMUv3: the
   * two vSTE words); empty for the mock.
   */
  readonly cfg: readonly bigint[];
  /** What invalidations covered and what the guest changed (tlb.ts); absent until the first of either. */
  readonly tlb?: TlbLedger;
}

export interface DeviceObj extends ObjBase {
  readonly type: 'device';
  /** Mock device flags (MOCK_FLAGS_DEVICE_*). */
  readonly devFlags: number;
  /** The selftest object that owns this mock device, 0 for VFIO devices. */
  readonly stdev: number;
  /** The physical device (World.hw.devs) bound through its VFIO cdev; 0 for a mock device. */
  readonly pdev: number;
  /**
   * The iommu group (iommufd_group): devices of one group share one
   * attachment. A mock device is its own group, keyed -(its object ID).
   */
  readonly group: number;
  /** Attached HWPT id (the group's HWPT while this device is on the group's device list), 0 when detached. */
  readonly hwpt: number;
  /** Per-device mock cache words (vIOMMU invalidation, 6.14). */
  readonly cache: readonly number[];
  /** Pending page-fault partials / groups are kept on the fault objects. */
  readonly iopfEnabled: boolean;
}

export interface AccessItem {
  readonly iova: bigint;
  readonly length: bigint;
  /** Pinned pieces: area start, pages id, first and last page index. */
  readonly pieces: readonly { readonly area: bigint; readonly pages: number; readonly first: number; readonly last: number }[];
}

export interface AccessObj extends ObjBase {
  readonly type: 'access';
  readonly ioas: number;
  readonly needsPin: boolean;
  readonly items: PMap<number, AccessItem>;
  readonly nextItem: number;
  /** The open file (access fd). */
  readonly file: number;
}

export interface FaultRecord {
  readonly flags: number;
  readonly dev_id: number;
  readonly pasid: number;
  readonly grpid: number;
  readonly perm: number;
  readonly addr: bigint;
}

/**
 * Lifecycle of one I/O page-fault group (machines/fault_group.machine.ts):
 * 'raised' while on the delivery queue, 'delivered' once read (awaiting a
 * response), then 'responded' (the user wrote a response) or
 * 'auto_responded' (answered INVALID by the kernel on detach, replace or
 * destroy of the fault object).
 */
export type FaultGroupState = 'raised' | 'delivered' | 'responded' | 'auto_responded';

export interface FaultGroup {
  readonly dev: number;
  readonly hwpt: number;
  readonly faults: readonly FaultRecord[];
  /** The device's iommu group (DeviceObj.group) when raised: the kernel's attach handle is per group and HWPT. */
  readonly group: number;
  /** World-wide unique group id: the journal seq at which the group was raised. */
  readonly gid: number;
  readonly state: FaultGroupState;
}

export interface FaultObj extends ObjBase {
  readonly type: 'fault';
  readonly file: number;
  readonly fdOpen: boolean;
  /** Delivery queue (FIFO). */
  readonly queue: readonly FaultGroup[];
  /** Read but unanswered groups by cookie. */
  readonly awaiting: PMap<number, FaultGroup>;
  /**
   * Whether cookie 0 can be handed out. The kernel's cookie xarray is ALLOC1
   * (0 reserved), but an answer naming cookie 0 while other cookies are out
   * erases the reservation itself; from then on 0 is a free index (fault.ts).
   */
  readonly zeroFree?: boolean;
  /** Partial (non-LAST_PAGE) faults parked per device. */
  readonly partial: readonly FaultRecord[];
  /** Groups answered so far (by the user or automatically), for the debugger and invariants. */
  readonly answered: number;
}

export interface ViommuObj extends ObjBase {
  readonly type: 'viommu';
  readonly hwpt: number;
  readonly viommuType: number;
  /** The physical IOMMU instance of the device it was allocated for (vDEVICE and nested HWPT instance checks). */
  readonly iommu: number;
  /** virt_id -> vdevice id (unique per vIOMMU). */
  readonly vdevs: PMap<bigint, number>;
  /** What invalidations through this vIOMMU covered (tlb.ts); absent until the first. */
  readonly tlb?: TlbLedger;
}

export interface VdeviceObj extends ObjBase {
  readonly type: 'vdevice';
  readonly viommu: number;
  /** DEVICE id; 0 once that device was unbound (the vDEVICE holds the struct device, not the object). */
  readonly dev: number;
  readonly virtId: bigint;
}

/** The mock driver's "stdev": owns one mock device. */
export interface SelftestObj extends ObjBase {
  readonly type: 'selftest';
  readonly idev: number;
}

export type Obj = IoasObj | HwptPagingObj | HwptNestedObj | DeviceObj | AccessObj | FaultObj | ViommuObj | VdeviceObj | SelftestObj;
export type ObjType = Obj['type'];

/** One open of /dev/iommu (struct iommufd_ctx). */
export interface Ctx {
  readonly id: number;
  /** The open file of /dev/iommu. */
  readonly file: number;
  readonly objs: PMap<number, Obj>;
  readonly pages: PMap<number, Pages>;
  readonly nextPages: number;
  readonly accountMode: 'user' | 'mm';
  /** Compat IOAS for the VFIO container ioctls; 0 = none. Holds no reference. */
  readonly vfioIoas: number;
}

export interface World {
  readonly kernel: KernelVersion;
  readonly procs: PMap<number, Proc>;
  readonly files: PMap<number, OpenFile>;
  readonly nextFile: number;
  readonly ctxs: PMap<number, Ctx>;
  readonly nextCtx: number;
  readonly mem: Memory;
  /** user->locked_vm by uid (USER accounting). */
  readonly userLockedVm: PMap<number, bigint>;
  /** Mock driver's global temporary memory limit (IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT). */
  readonly testMemoryLimit: number;
  /** The machine's IOMMUs, devices and iommu groups (environment events; hardware.ts). */
  readonly hw: Hardware;
  /** IOMMU faults and page-fault group history (journal.ts). */
  readonly journal: Journal;
  /**
   * The first kernel WARN the trace met (the kernel is tainted, TAINT_WARN):
   * after it the kernel's own pin accounting no longer adds up, and the
   * invariants stop checking the locked_vm counters. Absent: none.
   */
  readonly taint?: string;
}

/** A disjoint IOVA span of a TLB ledger: start (the map key) to `last`, stamped with a journal seq. */
export interface TlbSpan {
  readonly last: bigint;
  readonly seq: number;
}

/** The IOVA spans of one translation scope (a nested HWPT's stage 1, an ASID of a vIOMMU). */
export interface TlbScope {
  /** Spans the guest changed, with the seq of the latest change. */
  readonly changed: PMap<bigint, TlbSpan>;
  /** Spans with the seq of the latest invalidation that covered them. */
  readonly invalidated: PMap<bigint, TlbSpan>;
}

/** One processed invalidation entry: what it covered (kernel-semantics §8). */
export interface InvRecord {
  readonly seq: number;
  /** IOMMU_HWPT_INVALIDATE data_type. */
  readonly dataType: number;
  /** Index of the entry in its request array. */
  readonly index: number;
  /** Every IOVA of every scope. */
  readonly all: boolean;
  /** Scope of `span` ('' = the HWPT's own IOVA space, 'asid:N', '*' = every scope). */
  readonly scope: string;
  readonly span?: Range;
  /** Cache tags invalidated ('iotlb:2', 'vdev:0x99:cache:1', 'cd:5:0', ...). */
  readonly tags: readonly string[];
}

/** Persistent record of what a nested HWPT's or a vIOMMU's caches were told (tlb.ts). */
export interface TlbLedger {
  readonly scopes: PMap<string, TlbScope>;
  /** Cache tag -> seq of its latest invalidation. */
  readonly tags: PMap<string, number>;
  /** The latest LEDGER_LOG entries, by seq. */
  readonly log: PMap<number, InvRecord>;
}

/** A fault of device DMA the IOMMU reported, or a page request nobody handles (kernel-semantics §9.3). */
export interface IommuFault {
  readonly seq: number;
  readonly ctx: number;
  readonly dev: number;
  /** HWPT the device was attached to; 0 when it was not attached (DMA blocked). */
  readonly hwpt: number;
  /**
   * 'unmapped': DMA to an IOVA with no mapping; 'readonly': a write to a
   * read-only mapping; 'blocked': DMA from a device attached to nothing;
   * 'stale_tlb': DMA through a nested HWPT to an IOVA the guest changed
   * after the last invalidation covering it (the device may have used a
   * stale translation); 'prq_dropped': a page request with no fault handler,
   * answered INVALID by the core and dropped.
   */
  readonly kind: 'unmapped' | 'readonly' | 'blocked' | 'stale_tlb' | 'prq_dropped';
  readonly iova: bigint;
  readonly last: bigint;
  readonly write: boolean;
  readonly pasid?: number;
}

/** How a page-fault group ended. */
export interface FaultGroupEnd {
  readonly gid: number;
  /** Journal seq of the answer. */
  readonly seq: number;
  readonly ctx: number;
  readonly fault: number;
  readonly dev: number;
  readonly hwpt: number;
  readonly state: 'responded' | 'auto_responded';
  /** Response code given to the device (0 SUCCESS, 1 INVALID). */
  readonly code: number;
  /** Cookie it had while delivered; 0 if it was never read. */
  readonly cookie: number;
  readonly nfaults: number;
}

/**
 * Bounded, persistent history the debugger shows and properties check:
 * IOMMU faults and ended page-fault groups (the last JOURNAL_KEEP of each),
 * totals, and a logical clock. `seq` never decreases, so the event at which
 * a record was made is found by binary search over a Timeline.
 */
export interface Journal {
  readonly seq: number;
  readonly faults: PMap<number, IommuFault>;
  readonly faultCount: number;
  /** Ended groups by gid. */
  readonly groupsEnded: PMap<number, FaultGroupEnd>;
  readonly groupsRaised: number;
  readonly groupsAnswered: number;
}

export const emptyJournal = (): Journal => ({
  seq: 0,
  faults: PMap.emptyNumber<IommuFault>(),
  faultCount: 0,
  groupsEnded: PMap.emptyNumber<FaultGroupEnd>(),
  groupsRaised: 0,
  groupsAnswered: 0,
});

export interface WorldOptions {
  kernel?: KernelVersion;
}

export function emptyWorld(opts: WorldOptions = {}): World {
  return {
    kernel: opts.kernel ?? '6.12',
    procs: PMap.emptyNumber<Proc>(),
    files: PMap.emptyNumber<OpenFile>(),
    nextFile: 1,
    ctxs: PMap.emptyNumber<Ctx>(),
    nextCtx: 1,
    mem: emptyMemory(),
    userLockedVm: PMap.emptyNumber<bigint>(),
    testMemoryLimit: 65536,
    hw: emptyHardware(),
    journal: emptyJournal(),
  };
}
