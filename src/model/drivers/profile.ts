/**
 * Hardware profiles: what one IOMMU driver contributes to iommufd, as data
 * plus a few hooks (kernel-semantics §5.2, §5.4, §6.2-§6.4, §11.1, §12.1).
 * A device picks its profile through the IOMMU instance it sits behind
 * (World.hw, hardware.ts); mock devices made by IOMMU_TEST_OP_MOCK_DOMAIN
 * sit behind the one mock IOMMU (instance 0).
 *
 * Hooks are the driver entry points iommufd reaches: hw_info, capable,
 * domain_alloc_user / domain_alloc_paging_flags (paging and nested),
 * attach_dev, the vIOMMU allocators [6.14], IOPF enablement. The core
 * checks around them stay in hw_pagetable.ts / device.ts / viommu.ts, in the
 * kernel's order; a hook answers only what its driver decides.
 */
import { PMap } from '../../ds/pmap.js';
import type { Domain, HwptNestedObj, HwptPagingObj, KernelVersion, ViommuObj } from '../state.js';
import type { IommuInst, ResvRegion } from '../hardware.js';

export type DriverName = 'mock' | 'intel_vtd' | 'arm_smmuv3';
export const DRIVER_NAMES: readonly DriverName[] = ['mock', 'intel_vtd', 'arm_smmuv3'];

/** Device facts a profile hook looks at (hardware.ts builds it). */
export interface DevHw {
  readonly iommu: IommuInst;
  /** MOCK_FLAGS_DEVICE_* of a selftest mock device; 0 otherwise. */
  readonly mockFlags: number;
  /** DEV_* bits. */
  readonly flags: number;
  /** 6.12 out_max_pasid_log2 of GET_HW_INFO: log2 of the PASIDs the device has enabled (0 = none). */
  readonly maxPasidLog2: number;
}

/** Device flags (device_add `flags`). */
export const DEV_PCI = 1;
/** A PCI virtual function: IOPF cannot be enabled on it (fault.c: iommufd_fault_iopf_enable; from 6.13 only if it has PRI, its PF's). */
export const DEV_VF = 2;
/** PCI PRI (page requests): VT-d needs it to enable IOPF. */
export const DEV_PRI = 4;
/** PCI PASID control bits reported by 6.12 GET_HW_INFO. */
export const DEV_PASID_EXEC = 8;
export const DEV_PASID_PRIV = 16;
/** SMMUv3 stall model (enables IOPF without PRI). */
export const DEV_STALL = 32;
/** The IOMMU cannot keep this device's DMA cache coherent: bind is EINVAL (no IOMMU_CAP_CACHE_COHERENCY). */
export const DEV_NONCOHERENT = 64;
export const DEV_FLAG_NAMES: Readonly<Record<string, number>> = {
  pci: DEV_PCI,
  vf: DEV_VF,
  pri: DEV_PRI,
  pasid_exec: DEV_PASID_EXEC,
  pasid_priv: DEV_PASID_PRIV,
  stall: DEV_STALL,
  noncoherent: DEV_NONCOHERENT,
};

/** Result of a nested allocation: the mock's four IOTLB words, the driver's stage-1 configuration. */
export interface NestedDomain {
  readonly iotlb: readonly number[];
  readonly cfg: readonly bigint[];
}

/** HWPT_ALLOC driver data: its type, length, and bytes (undefined = unreadable pointer). */
export interface UserData {
  readonly type: number;
  readonly len: number;
  readonly bytes: Uint8Array | undefined;
}

export interface Profile {
  readonly name: DriverName;
  /** An IOMMU instance of this kind when iommu_add / device_add name only the driver. */
  readonly iommuDefaults: Omit<IommuInst, 'id' | 'driver'>;
  /** iommu_get_resv_regions() of a device unless its device_add lists its own. */
  readonly defaultResv: readonly ResvRegion[];
  /** ops->hw_info: data type and bytes; undefined when the driver has none in this kernel (type NONE, 0 bytes). */
  hwInfo(dev: DevHw, kernel: KernelVersion): { type: number; data: Uint8Array } | undefined;
  /** device_iommu_capable(dev, IOMMU_CAP_DIRTY_TRACKING) */
  dirtyCapable(dev: DevHw): boolean;
  /** device_iommu_capable(dev, IOMMU_CAP_ENFORCE_CACHE_COHERENCY) */
  enforceCC(dev: DevHw, kernel: KernelVersion): boolean;
  /** The driver's paging-domain allocator, with the user flags (FAULT_ID_VALID removed) and whether driver data was given. */
  allocPaging(dev: DevHw, flags: number, hasData: boolean, kernel: KernelVersion): Domain | string;
  /** attach_dev of a paging domain the core found to be of this driver. */
  attachPaging(d: Domain, dev: DevHw, kernel: KernelVersion): string | 0;
  /**
   * Nested allocation on a HWPT_PAGING parent, after the core's checks;
   * `undefined` from `nestedAlloc(kernel)` means the driver has no such
   * allocator in that kernel (EOPNOTSUPP before the parent checks).
   */
  nestedAlloc(kernel: KernelVersion): ((parent: HwptPagingObj, dev: DevHw, flags: number, data: UserData) => NestedDomain | string) | undefined;
  /** attach_dev of a nested domain (parent: its paging parent's domain). */
  attachNested(n: HwptNestedObj, parent: Domain, viommu: ViommuObj | undefined, dev: DevHw, kernel: KernelVersion): string | 0;
  /** ops->viommu_alloc [6.14]; undefined = no vIOMMU support (EOPNOTSUPP). Returns 0 when the driver accepts. */
  viommuAlloc?(dev: DevHw, parent: HwptPagingObj, type: number): string | 0;
  /** viommu->ops->alloc_domain_nested [6.14]. */
  viommuNestedAlloc?(viommu: ViommuObj, flags: number, data: UserData): NestedDomain | string;
  /**
   * iommu_dev_enable_feature(dev, IOMMU_DEV_FEAT_IOPF); `onPaging`: the
   * device is attached to a paging domain now (not blocked, not nested),
   * which VT-d needs for ATS to be on.
   */
  iopfEnable(dev: DevHw, onPaging: boolean): string | 0;
  /**
   * ops->user_pasid_table: the guest owns the PASID table, so a page request
   * with a PASID that has no attachment of its own goes to the nested domain
   * attached without PASID (find_fault_handler); without it such a request
   * has no handler and is dropped.
   */
  userPasidTable(kernel: KernelVersion): boolean;
  /**
   * Whether the driver puts a device with IOPF enabled on an iopf queue
   * (iopf_queue_add_device), without which iommu_report_device_fault finds
   * no fault parameter (a WARN) and drops the request.
   */
  queuesFaults(kernel: KernelVersion): boolean;
  /** log2 of the PASIDs the IOMMU instance supports (iommu_dev->max_pasids), or undefined when it sets no limit of its own. */
  maxPasidLog2?(iommu: IommuInst): number;
}

export const U64_MAX = 0xffffffffffffffffn;

/** A fresh paging domain with nothing mapped. */
export function newDomain(d: { driver: DriverName; iommu: number; addrWidth: number; enforceCC: boolean; pgsize: bigint; huge: boolean; apertureStart: bigint; apertureLast: bigint; dirtyOps: boolean }): Domain {
  return {
    driver: d.driver,
    iommu: d.iommu,
    addrWidth: d.addrWidth,
    enforceCC: d.enforceCC,
    pgsize: d.pgsize,
    huge: d.huge,
    apertureStart: d.apertureStart,
    apertureLast: d.apertureLast,
    dirtyOps: d.dirtyOps,
    dirtyEnabled: false,
    dirty: PMap.emptyBigint<true>(),
    mapped: PMap.emptyBigint<bigint>(),
    hugeMapped: PMap.emptyBigint<bigint>(),
  };
}

/** The smallest page size of a bitmap. */
export const minPgsize = (bitmap: bigint): bigint => bitmap & -bitmap;

/** Aperture end for an input address width. */
export const apertureLastOf = (bits: number): bigint => (bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n);

/**
 * iommu_copy_struct_from_user: the type must match (EINVAL), the length
 * must lie in [min, size] (EINVAL), the bytes must be readable (EFAULT);
 * bytes beyond the user's length read as zero.
 */
export function copyStructFromUser(data: UserData, type: number, size: number, min: number): Uint8Array | string {
  if (data.type !== type) return 'EINVAL';
  if (data.len < min || size < data.len) return 'EINVAL';
  if (!data.bytes || data.bytes.length < data.len) return 'EFAULT';
  const out = new Uint8Array(size);
  out.set(data.bytes.subarray(0, data.len));
  return out;
}

/** KMALLOC_MAX_SIZE with 4 KiB pages (order-10 pages, x86-64 and arm64 alike): a larger kcalloc fails (ENOMEM). */
export const KMALLOC_MAX_SIZE = 4 * 1024 * 1024;

/**
 * iommu_copy_struct_from_full_user_array after its type and count checks:
 * each of `num` entries of `len` bytes from `buf` (the readable bytes at
 * the pointer, which end where memory does) into a `ksize`-byte kernel
 * struct by copy_struct_from_user. A shorter entry is zero-extended. A
 * longer one has its tail checked first (check_zeroed_user, word by word
 * in address order): a non-zero byte is E2BIG, unless an unreadable word
 * comes before it (EFAULT); then its head is copied (EFAULT if unreadable).
 */
export function readFullUserArray(buf: Uint8Array | undefined, num: number, len: number, ksize: number): Uint8Array[] | string {
  const have = buf?.length ?? 0;
  const out: Uint8Array[] = [];
  for (let i = 0; i < num; i++) {
    const off = i * len;
    if (len > ksize) {
      // (readable memory ends on a page, so on a word: the first unreadable byte starts an unreadable word)
      const tail = buf ? buf.subarray(Math.min(off + ksize, have), Math.min(off + len, have)) : new Uint8Array(0);
      if (tail.some((b) => b !== 0)) return 'E2BIG';
      if (off + len > have) return 'EFAULT';
    }
    const head = Math.min(len, ksize);
    if (!buf || off + head > have) return 'EFAULT';
    const e = new Uint8Array(ksize);
    e.set(buf.subarray(off, off + head));
    out.push(e);
  }
  return out;
}

export const leU64 = (b: Uint8Array, off: number): bigint => {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i]!);
  return v;
};
export const leU32 = (b: Uint8Array, off: number): number => (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
export function putLeU64(b: Uint8Array, off: number, v: bigint): void {
  for (let i = 0; i < 8; i++) b[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}
export function putLeU32(b: Uint8Array, off: number, v: number): void {
  for (let i = 0; i < 4; i++) b[off + i] = (v >>> (8 * i)) & 0xff;
}
