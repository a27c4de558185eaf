/**
 * ARM SMMUv3 (drivers/iommu/arm/arm-smmu-v3/) as far as the iommufd uAPI
 * shows it: GET_HW_INFO type IOMMU_HW_INFO_TYPE_ARM_SMMUV3 (struct
 * iommu_hw_info_arm_smmuv3, 40 bytes) [6.14; 6.12 has no hw_info op],
 * paging domains bound to their SMMU instance, nesting only through a
 * vIOMMU of type IOMMU_VIOMMU_TYPE_ARM_SMMUV3 [6.14] with the vSTE checks
 * of arm_smmu_validate_vste (kernel-semantics §6.4), the software MSI
 * window as reserved region, and the vIOMMU invalidation commands of §8
 * (`smmuv3CacheInvalidate`).
 *
 * Sources: arm-smmu-v3.c arm_smmu_domain_alloc_user (6.12) /
 * arm_smmu_domain_alloc_paging_flags (6.14), arm_smmu_attach_prepare,
 * arm_smmu_get_resv_regions (MSI_IOVA_BASE, MSI_IOVA_LENGTH);
 * arm-smmu-v3-iommufd.c (6.14) arm_smmu_hw_info, arm_vsmmu_alloc,
 * arm_vsmmu_alloc_domain_nested, arm_smmu_validate_vste,
 * arm_smmu_attach_dev_nested, arm_vsmmu_cache_invalidate.
 */
import type { PMap } from '../../ds/pmap.js';
import { apertureLastOf, copyStructFromUser, DEV_STALL, KMALLOC_MAX_SIZE, leU64, minPgsize, newDomain, putLeU32, readFullUserArray, type Profile } from './profile.js';

export const IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2;
export const IOMMU_HWPT_DATA_ARM_SMMUV3 = 2;
export const IOMMU_VIOMMU_TYPE_ARM_SMMUV3 = 1;
export const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1;
/** MSI_IOVA_BASE, MSI_IOVA_LENGTH: IOMMU_RESV_SW_MSI. */
const SW_MSI = { start: 0x8000000n, last: 0x80fffffn, type: 'sw_msi' as const };

/** STRTAB_STE_0_V | CFG | S1FMT | S1CTXPTR_MASK | S1CDMAX */
export const STRTAB_STE_0_NESTING_ALLOWED = 0xf80fffffffffffffn;
/** STRTAB_STE_1_S1DSS | S1CIR | S1COR | S1CSH | S1STALLD | EATS */
export const STRTAB_STE_1_NESTING_ALLOWED = 0x380000ffn;
const STRTAB_STE_0_V = 1n;
const STE_0_CFG = (w0: bigint): bigint => (w0 >> 1n) & 7n;
const STRTAB_STE_0_CFG_ABORT = 0n;
const STRTAB_STE_0_CFG_BYPASS = 4n;
const STRTAB_STE_0_CFG_S1_TRANS = 5n;
const STRTAB_STE_1_EATS_SHIFT = 28n;
const STRTAB_STE_1_EATS = 3n << STRTAB_STE_1_EATS_SHIFT;
const STRTAB_STE_1_EATS_ABT = 0n;
const STRTAB_STE_1_EATS_TRANS = 1n;

/**
 * arm_smmu_validate_vste: a vSTE with V=0 becomes all-zero (abort); any bit
 * outside the allowed word-0/word-1 fields, a Config other than abort,
 * bypass or S1, or an EATS other than ABT/TRANS is EIO. EATS is cleared
 * from the stored word 1 (the kernel sets it itself).
 */
export function smmuValidateVste(ste0: bigint, ste1: bigint): [bigint, bigint] | 'EIO' {
  if (!(ste0 & STRTAB_STE_0_V)) return [0n, 0n];
  if (ste0 & ~STRTAB_STE_0_NESTING_ALLOWED || ste1 & ~STRTAB_STE_1_NESTING_ALLOWED) return 'EIO';
  const cfg = STE_0_CFG(ste0);
  if (cfg !== STRTAB_STE_0_CFG_ABORT && cfg !== STRTAB_STE_0_CFG_BYPASS && cfg !== STRTAB_STE_0_CFG_S1_TRANS) return 'EIO';
  const eats = (ste1 & STRTAB_STE_1_EATS) >> STRTAB_STE_1_EATS_SHIFT;
  if (eats !== STRTAB_STE_1_EATS_ABT && eats !== STRTAB_STE_1_EATS_TRANS) return 'EIO';
  return [ste0, ste1 & ~STRTAB_STE_1_EATS];
}

export const smmuv3Profile: Profile = {
  name: 'arm_smmuv3',
  iommuDefaults: {
    dirty: false,
    nesting: true,
    // arm_smmu_master_canwbs: only fully coherent masters; off unless iommu_add says so.
    enforceCC: false,
    msiIsolated: true,
    addrWidth: 48,
    pgsizes: 0x1000n | 0x200000n | 0x40000000n,
    // IDR0..IDR5, IIDR, AIDR as the instance's registers read (iommu_add `regs`).
    regs: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    infoFlags: 0,
    features: ['s2fwb'],
  },
  defaultResv: [SW_MSI],
  hwInfo(dev, kernel) {
    if (kernel === '6.12') return undefined;
    // struct iommu_hw_info_arm_smmuv3 { u32 flags; u32 __reserved; u32 idr[6]; u32 iidr; u32 aidr; }
    const data = new Uint8Array(40);
    for (let i = 0; i < 8; i++) putLeU32(data, 8 + 4 * i, Number((dev.iommu.regs[i] ?? 0n) & 0xffffffffn));
    return { type: IOMMU_HW_INFO_TYPE_ARM_SMMUV3, data };
  },
  // arm_smmu_capable: IOMMU_CAP_DIRTY_TRACKING = arm_smmu_dbm_capable (HTTU with DBM).
  dirtyCapable: (dev) => dev.iommu.dirty,
  // (IOMMU_CAP_ENFORCE_CACHE_COHERENCY from the device's CANWBS came in 6.13: 6.12's arm_smmu_capable has no such case)
  enforceCC: (dev, kernel) => kernel !== '6.12' && dev.iommu.enforceCC,
  allocPaging(dev, flags, hasData, kernel) {
    const iommu = dev.iommu;
    if (hasData) return 'EOPNOTSUPP';
    // 6.12 arm_smmu_domain_alloc_user takes DIRTY_TRACKING only: no SMMUv3 domain is a nesting parent.
    if (kernel === '6.12' && flags & ~2) return 'EOPNOTSUPP';
    // 6.14 switch (flags): NEST_PARENT needs FEAT_NESTING (an S2 domain); DIRTY_TRACKING needs DBM (an S1
    // domain); both at once is no case of the switch: EOPNOTSUPP.
    if (flags === 3) return 'EOPNOTSUPP';
    if (flags & 1 && !iommu.nesting) return 'EOPNOTSUPP';
    if (flags & 2 && !iommu.dirty) return 'EOPNOTSUPP';
    return newDomain({
      driver: 'arm_smmuv3',
      iommu: iommu.id,
      addrWidth: iommu.addrWidth,
      enforceCC: false,
      pgsize: minPgsize(iommu.pgsizes),
      huge: false,
      apertureStart: 0n,
      apertureLast: apertureLastOf(iommu.addrWidth),
      dirtyOps: !!(flags & 2),
    });
  },
  // arm_smmu_attach_prepare: a domain belongs to the SMMU it was finalised on.
  attachPaging: (d, dev) => (d.iommu !== dev.iommu.id ? 'EINVAL' : 0),
  // 6.12: arm_smmu_domain_alloc_user refuses a parent; 6.14: no domain_alloc_nested op at all.
  nestedAlloc: (kernel) => (kernel === '6.12' ? () => 'EOPNOTSUPP' : undefined),
  // arm_smmu_attach_dev_nested: the vIOMMU's SMMU must be the device's.
  attachNested: (_n, _parent, viommu, dev) => (viommu && viommu.iommu !== dev.iommu.id ? 'EINVAL' : 0),
  viommuAlloc(dev, parent, type) {
    // arm_vsmmu_alloc
    if (type !== IOMMU_VIOMMU_TYPE_ARM_SMMUV3) return 'EOPNOTSUPP';
    if (!dev.iommu.nesting) return 'EOPNOTSUPP';
    if (parent.domain.driver !== 'arm_smmuv3' || parent.domain.iommu !== dev.iommu.id) return 'EINVAL';
    if (!dev.iommu.enforceCC && !dev.iommu.features.includes('s2fwb')) return 'EOPNOTSUPP';
    return 0;
  },
  viommuNestedAlloc(_viommu, flags, data) {
    // arm_vsmmu_alloc_domain_nested
    if (flags) return 'EOPNOTSUPP';
    const arg = copyStructFromUser(data, IOMMU_HWPT_DATA_ARM_SMMUV3, 16, 16);
    if (typeof arg === 'string') return arg;
    const ste = smmuValidateVste(leU64(arg, 0), leU64(arg, 8));
    if (ste === 'EIO') return 'EIO';
    return { iotlb: [], cfg: ste };
  },
  // arm_smmu_master_enable_iopf: only stall-capable masters (the driver has no PRI).
  iopfEnable: (dev) => (dev.flags & DEV_STALL ? 0 : 'EINVAL'),
  // (set with the vIOMMU support, 6.14)
  userPasidTable: (kernel) => kernel === '6.14',
  // 6.14's arm_smmu_dev_enable_feature(IOPF) only marks the master: iopf_queue_add_device runs with
  // SVA alone (arm_smmu_master_sva_enable_iopf), which iommufd never enables, so a stall is answered
  // INVALID by iommu_report_device_fault (WARN_ON(!iopf_param)) and never reaches the fault queue
  queuesFaults: () => false,
};

const CMDQ_OP_TLBI_NH_ALL = 0x10n;
const CMDQ_OP_TLBI_NH_ASID = 0x11n;
const CMDQ_OP_TLBI_NH_VA = 0x12n;
const CMDQ_OP_TLBI_NH_VAA = 0x13n;
const CMDQ_OP_TLBI_NSNH_ALL = 0x30n;
const CMDQ_OP_ATC_INV = 0x40n;
const CMDQ_OP_CFGI_CD = 0x05n;
const CMDQ_OP_CFGI_CD_ALL = 0x06n;

/**
 * arm-smmu-v3-iommufd.c arm_vsmmu_cache_invalidate [6.14]: IOMMU_HWPT_INVALIDATE
 * on an SMMUv3 vIOMMU (kernel-semantics §8). `buf` is the memory at data_uptr
 * (undefined when unreadable); `vdevs` the vIOMMU's virt_id -> vDEVICE map.
 *
 * The commands' array is allocated first: more than KMALLOC_MAX_SIZE is
 * ENOMEM. The whole array is read next (iommu_copy_struct_from_full_user_array):
 * data_type other than IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 (1) or
 * entry_num 0: EINVAL; entries shorter than 16 bytes are zero-extended,
 * longer ones need zero tails (E2BIG); unreadable: EFAULT (readFullUserArray);
 * nothing is processed on a read error. Then each 128-bit little-endian command:
 * an opcode (cmd[0] bits 7:0) outside TLBI_NSNH_ALL, TLBI_NH_VA,
 * TLBI_NH_VAA, TLBI_NH_ALL, TLBI_NH_ASID, ATC_INV, CFGI_CD, CFGI_CD_ALL is
 * EIO; ATC_INV and CFGI_CD* whose stream ID (cmd[0] bits 63:32) is not a
 * virt_id of a vDEVICE of this vIOMMU: EIO. Returns the entries processed
 * before the failing one.
 */
export function smmuv3CacheInvalidate(vdevs: PMap<bigint, number>, dataType: number, entryNum: number, entryLen: number, buf: Uint8Array | undefined): { errno: string | 0; done: number } {
  // (the commands' array is allocated before anything is checked: kcalloc of entry_num 16-byte commands)
  if (entryNum * 16 > KMALLOC_MAX_SIZE) return { errno: 'ENOMEM', done: 0 };
  if (dataType !== IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 || entryNum === 0) return { errno: 'EINVAL', done: 0 };
  const read = readFullUserArray(buf, entryNum, entryLen, 16);
  if (typeof read === 'string') return { errno: read, done: 0 };
  const cmds = read.map((e) => leU64(e, 0));
  for (let i = 0; i < cmds.length; i++) {
    const c0 = cmds[i]!;
    switch (c0 & 0xffn) {
      case CMDQ_OP_TLBI_NSNH_ALL:
      case CMDQ_OP_TLBI_NH_VA:
      case CMDQ_OP_TLBI_NH_VAA:
      case CMDQ_OP_TLBI_NH_ALL:
      case CMDQ_OP_TLBI_NH_ASID:
        break;
      case CMDQ_OP_ATC_INV:
      case CMDQ_OP_CFGI_CD:
      case CMDQ_OP_CFGI_CD_ALL:
        if (!vdevs.has(c0 >> 32n)) return { errno: 'EIO', done: i };
        break;
      default:
        return { errno: 'EIO', done: i };
    }
  }
  return { errno: 0, done: cmds.length };
}
