/**
 * Intel VT-d (drivers/iommu/intel/) as far as the iommufd uAPI shows it:
 * GET_HW_INFO type IOMMU_HW_INFO_TYPE_INTEL_VTD (struct iommu_hw_info_vtd,
 * 24 bytes), paging domains (4 KiB granule, address width and stage from
 * the registers: vtdGeometry; dirty tracking with second-stage A/D support), nested stage-1
 * domains from struct iommu_hwpt_vtd_s1 (kernel-semantics §6.4) and their
 * attach-time checks, the IOAPIC MSI window as reserved region, and the
 * stage-1 invalidation entries of §8 (`vtdCacheInvalidateUser`).
 *
 * Sources (6.12): intel/iommu.c intel_iommu_hw_info,
 * intel_iommu_domain_alloc_user, paging_domain_alloc,
 * __iommu_calculate_agaw, prepare_domain_attach_device,
 * intel_iommu_enable_iopf; intel/nested.c intel_nested_domain_alloc,
 * intel_nested_attach_dev, intel_nested_cache_invalidate_user;
 * intel/pasid.c intel_pasid_setup_nested. (6.14, from a 6.15-era copy of
 * the 6.13 rework: intel_iommu_domain_alloc_paging_flags,
 * paging_domain_compatible.)
 */
import type { IommuInst } from '../hardware.js';
import type { Domain, KernelVersion } from '../state.js';
import { apertureLastOf, copyStructFromUser, DEV_PCI, DEV_PRI, leU32, leU64, minPgsize, newDomain, putLeU32, putLeU64, U64_MAX, type DevHw, type Profile } from './profile.js';

export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
export const IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1;
export const IOMMU_HWPT_DATA_VTD_S1 = 1;
export const IOMMU_VTD_S1_SRE = 1n;
export const IOMMU_VTD_S1_EAFE = 2n;
export const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
export const IOMMU_VTD_INV_FLAGS_LEAF = 1;
/** sizeof(struct iommu_hwpt_vtd_s1) = offsetofend(__reserved). */
const VTD_S1_SIZE = 24;
/** sizeof(struct iommu_hwpt_vtd_s1_invalidate) = offsetofend(__reserved). */
const VTD_S1_INV_SIZE = 24;
const VTD_PAGE_SIZE = 4096n;
const ADDR_WIDTH_4LEVEL = 48n;
const ADDR_WIDTH_5LEVEL = 57n;
/** IOAPIC_RANGE_START..END: reported as IOMMU_RESV_MSI (intel_iommu_get_resv_regions). */
const IOAPIC_RANGE = { start: 0xfee00000n, last: 0xfeefffffn, type: 'msi' as const };

const bit = (b: boolean, n: number): bigint => (b ? 1n << BigInt(n) : 0n);

/**
 * Capability and extended capability registers (VT-d spec 11.4.2, 11.4.3)
 * composed from the modelled facts, for instances whose iommu_add gives no
 * `regs`: MGAW (bits 21:16) from the address width, SAGAW 4-level, FL1GP,
 * FL5LP; ECAP coherency, SC, NEST, SRS, EAFS, PASID, SMTS, SLADS, SLTS,
 * FLTS, SMPWC.
 */
export function vtdDefaultRegs(i: Pick<IommuInst, 'addrWidth' | 'dirty' | 'nesting' | 'enforceCC' | 'features'>): bigint[] {
  const has = (f: string) => i.features.includes(f);
  // (SAGAW: 4-level tables, and 5-level ones for an address width past 48)
  const sagaw = 0x4n | (i.addrWidth > 48 ? 0x8n : 0n);
  const cap = (BigInt(i.addrWidth - 1) << 16n) | (sagaw << 8n) | bit(true, 56) | bit(has('fl5lp'), 60);
  // (PSS 19: 20-bit PASIDs, as Intel's scalable-mode IOMMUs report; DT and PRS: device TLBs and page requests)
  const ecap = bit(true, 0) | bit(true, 2) | bit(true, 29) | bit(i.enforceCC, 7) | bit(i.nesting, 26) | bit(has('srs'), 31) | bit(has('eafs'), 34) | (19n << 35n) | bit(true, 40) | bit(true, 43) | bit(i.dirty, 45) | bit(true, 46) | bit(true, 47) | bit(true, 48);
  return [cap, ecap];
}

const field = (r: bigint, shift: bigint, mask: bigint): number => Number((r >> shift) & mask);

/**
 * What the kernel makes of an IOMMU's registers for its domains
 * (intel/iommu.c: __iommu_calculate_sagaw, __iommu_calculate_agaw with
 * DEFAULT_DOMAIN_ADDRESS_WIDTH 57, first_level_by_default,
 * iommu_superpage_capability): the adjusted guest address width (agaw, -1
 * when SAGAW offers none), the domain address width min(agaw width, MGAW),
 * which stage a domain defaults to, and the superpage levels of each stage;
 * and what it makes of them for a device: whether a PCI device with ATS and
 * PRI gets page requests (info->pri_supported: scalable mode, ECAP.DT and
 * ECAP.PRS) and how many PASID bits there are (dmar.c: 2 << ECAP.PSS PASIDs
 * with scalable mode and ECAP.PASID, else none).
 */
export function vtdGeometry(iommu: Pick<IommuInst, 'regs'>) {
  const cap = iommu.regs[0] ?? 0n;
  const ecap = iommu.regs[1] ?? 0n;
  const sm = field(ecap, 43n, 1n) === 1;
  const flts = field(ecap, 47n, 1n) === 1;
  const slts = field(ecap, 46n, 1n) === 1;
  const fl5lp = field(cap, 60n, 1n) === 1;
  const flSagaw = 0x4 | (fl5lp ? 0x8 : 0);
  const slSagaw = field(cap, 8n, 0x1fn);
  const sagaw = !sm || !flts ? slSagaw : !slts ? flSagaw : flSagaw & slSagaw;
  let agaw = 3; // width_to_agaw(57)
  while (agaw >= 0 && !(sagaw & (1 << agaw))) agaw--;
  const mgaw = field(cap, 16n, 0x3fn) + 1;
  return {
    agaw,
    width: Math.min(agaw < 0 ? 0 : Math.min(30 + 9 * agaw, 64), mgaw),
    sm,
    flts,
    slts,
    // first_level_by_default: legacy mode has only the second stage; one stage alone is used; both: the first
    firstByDefault: sm && (flts !== slts ? flts : true),
    // (iommu_paging_structure_coherency: scalable mode reads SMPWC, legacy mode C)
    coherent: field(ecap, sm ? 48n : 0n, 1n) === 1,
    superpage: (first: boolean): number => (first ? (field(cap, 56n, 1n) ? 2 : 1) : 32 - Math.clz32(field(cap, 34n, 0xfn))),
    pri: sm && field(ecap, 2n, 1n) === 1 && field(ecap, 29n, 1n) === 1,
    pasidLog2: sm && field(ecap, 40n, 1n) === 1 ? field(ecap, 35n, 0x1fn) + 1 : 0,
  };
}

/** 6.12 prepare_domain_attach_device; 6.14 paging_domain_compatible: a paging domain on this device's IOMMU. */
function vtdCompatible(d: Domain, dev: DevHw, kernel: KernelVersion): string | 0 {
  const iommu = dev.iommu;
  if (d.enforceCC && !iommu.enforceCC) return 'EINVAL';
  if (d.dirtyOps && !iommu.dirty) return 'EINVAL';
  const g = vtdGeometry(iommu);
  const v = d.vtd;
  if (kernel === '6.14' && v) {
    if (v.coherent !== g.coherent || v.superpage !== g.superpage(v.firstStage)) return 'EINVAL';
    if (v.firstStage && (!g.sm || !g.flts)) return 'EINVAL';
    if (v.agaw > g.agaw) return 'EINVAL';
  }
  // (6.12 compares the domain's highest address, 2^width - 1 when made, with 2^width of this IOMMU)
  if (d.addrWidth > g.width) return 'EINVAL';
  return 0;
}

const VTD_DEFAULTS = {
  dirty: true,
  nesting: true,
  enforceCC: true,
  msiIsolated: true,
  addrWidth: 48,
  pgsizes: 0x1000n | 0x200000n | 0x40000000n,
  infoFlags: IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
  features: ['srs', 'eafs'],
};

export const vtdProfile: Profile = {
  name: 'intel_vtd',
  iommuDefaults: { ...VTD_DEFAULTS, regs: vtdDefaultRegs(VTD_DEFAULTS) },
  defaultResv: [IOAPIC_RANGE],
  hwInfo(dev) {
    // intel_iommu_hw_info: the errata flag is set unconditionally (the kernel cannot tell affected parts).
    const data = new Uint8Array(24);
    putLeU32(data, 0, dev.iommu.infoFlags);
    putLeU64(data, 8, dev.iommu.regs[0] ?? 0n);
    putLeU64(data, 16, dev.iommu.regs[1] ?? 0n);
    return { type: IOMMU_HW_INFO_TYPE_INTEL_VTD, data };
  },
  // intel_iommu_capable: ssads_supported(iommu), ecap_sc_support(iommu->ecap).
  dirtyCapable: (dev) => dev.iommu.dirty,
  enforceCC: (dev) => dev.iommu.enforceCC,
  allocPaging(dev, flags, hasData, kernel) {
    const iommu = dev.iommu;
    if (flags & 1 /* NEST_PARENT */ && !iommu.nesting) return 'EOPNOTSUPP';
    if (hasData || (flags & 2 /* DIRTY_TRACKING */ && !iommu.dirty)) return 'EOPNOTSUPP';
    const g = vtdGeometry(iommu);
    // 6.12 intel_iommu_domain_alloc_user: always the second stage. 6.14
    // intel_iommu_domain_alloc_paging_flags: the second stage for a nesting parent or dirty
    // tracking (which need it: EOPNOTSUPP without), else the stage the IOMMU defaults to.
    let firstStage = false;
    if (kernel === '6.14') {
      if (flags & 3) {
        if (!g.sm || !g.slts) return 'EOPNOTSUPP';
      } else firstStage = g.firstByDefault;
    }
    return {
      ...newDomain({
        driver: 'intel_vtd',
        iommu: iommu.id,
        addrWidth: g.width,
        enforceCC: false,
        pgsize: minPgsize(iommu.pgsizes),
        huge: false,
        apertureStart: 0n,
        // (paging_domain_alloc: a first-stage table takes canonical addresses only, so one bit less)
        apertureLast: apertureLastOf(firstStage ? g.width - 1 : g.width),
        dirtyOps: !!(flags & 2),
      }),
      vtd: { agaw: g.agaw, firstStage, coherent: g.coherent, superpage: g.superpage(firstStage) },
    };
  },
  attachPaging(d, dev, kernel) {
    const e = vtdCompatible(d, dev, kernel);
    if (e) return e;
    // 6.12 builds every paging domain on the second stage, and in scalable mode its attach sets up a
    // second-level PASID entry: intel_pasid_setup_second_level refuses an IOMMU without ECAP.SLTS
    if (kernel === '6.12' && d.vtd && !d.vtd.firstStage) {
      const g = vtdGeometry(dev.iommu);
      if (g.sm && !g.slts) return 'EINVAL';
    }
    return 0;
  },

  // intel_iommu_domain_alloc_user with a parent (6.12) / intel_iommu_domain_alloc_nested (6.14).
  nestedAlloc: () => (parent, dev, flags, data) => {
    if (!dev.iommu.nesting || flags) return 'EOPNOTSUPP';
    if (data.type !== IOMMU_HWPT_DATA_VTD_S1) return 'EOPNOTSUPP';
    if (parent.domain.driver !== 'intel_vtd' || !parent.nestParent) return 'EINVAL';
    const s1 = copyStructFromUser(data, IOMMU_HWPT_DATA_VTD_S1, VTD_S1_SIZE, VTD_S1_SIZE);
    if (typeof s1 === 'string') return s1;
    // struct iommu_hwpt_vtd_s1 { u64 flags; u64 pgtbl_addr; u32 addr_width; u32 __reserved; }
    return { iotlb: [], cfg: [leU64(s1, 0), leU64(s1, 8), BigInt(leU32(s1, 16))] };
  },
  attachNested(n, parent, _viommu, dev, kernel) {
    const iommu = dev.iommu;
    // intel_nested_attach_dev: the IOMMU's agaw must reach the parent's.
    if (vtdGeometry(iommu).agaw < (parent.vtd?.agaw ?? 0)) return 'ENODEV';
    const e = vtdCompatible(parent, dev, kernel);
    if (e) return e;
    // intel_pasid_setup_nested (it does not ask for nesting support: only the allocators do)
    const [flags = 0n, , addrWidth = 0n] = n.cfg;
    if (addrWidth === ADDR_WIDTH_5LEVEL) {
      if (!iommu.features.includes('fl5lp')) return 'EINVAL';
    } else if (addrWidth !== ADDR_WIDTH_4LEVEL) return 'EINVAL';
    if (flags & IOMMU_VTD_S1_SRE && !iommu.features.includes('srs')) return 'EINVAL';
    if (flags & IOMMU_VTD_S1_EAFE && !iommu.features.includes('eafs')) return 'EINVAL';
    return 0;
  },
  // intel_iommu_enable_iopf: ENODEV unless info->pri_supported (scalable mode, ECAP.DT for ATS and
  // ECAP.PRS, a PCI device with ATS and PRI: the model's `pri` flag stands for both) and
  // info->ats_enabled, which only a paging domain's attach sets (6.12-6.14: dmar_domain_attach_device;
  // bind's blocking domain and a nested attach clear it, device_block_translation). So iommufd gets
  // IOPF on VT-d only by replacing a paging domain with a HWPT that has a fault object.
  iopfEnable: (dev, onPaging) => {
    const pri = dev.flags & DEV_PCI && dev.flags & DEV_PRI && vtdGeometry(dev.iommu).pri;
    return pri && onPaging ? 0 : 'ENODEV';
  },
  // (VT-d nests per PASID: no user PASID table)
  userPasidTable: () => false,
  // (intel_iommu_enable_iopf adds the device to the IOMMU's iopf queue)
  queuesFaults: () => true,
  maxPasidLog2: (iommu) => vtdGeometry(iommu).pasidLog2,
};

/**
 * intel/nested.c intel_nested_cache_invalidate_user: IOMMU_HWPT_INVALIDATE
 * on a VT-d nested HWPT (kernel-semantics §8). `buf` is the memory at
 * data_uptr (undefined when unreadable). Returns the errno and the number
 * of entries completely processed (written back as entry_num either way).
 *
 * - data_type must be IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 (0), else EINVAL
 *   with nothing processed, also for entry_num 0;
 * - each entry is read with iommu_copy_struct_from_user_array: entry_len
 *   must be exactly 24 (EINVAL), unreadable bytes EFAULT;
 * - flags other than IOMMU_VTD_INV_FLAGS_LEAF or a non-zero __reserved:
 *   EOPNOTSUPP; addr not 4 KiB aligned, or npages == U64_MAX with addr != 0:
 *   EINVAL. (addr 0 with npages U64_MAX invalidates everything.)
 * Processing stops at the first failing entry.
 */
export function vtdCacheInvalidateUser(dataType: number, entryNum: number, entryLen: number, buf: Uint8Array | undefined): { errno: string | 0; done: number } {
  if (dataType !== IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) return { errno: 'EINVAL', done: 0 };
  let done = 0;
  for (let i = 0; i < entryNum; i++) {
    const bytes = buf && buf.length >= (i + 1) * entryLen ? buf.subarray(i * entryLen, (i + 1) * entryLen) : undefined;
    const e = copyStructFromUser({ type: dataType, len: entryLen, bytes }, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, VTD_S1_INV_SIZE, VTD_S1_INV_SIZE);
    if (typeof e === 'string') return { errno: e, done };
    // struct iommu_hwpt_vtd_s1_invalidate { u64 addr; u64 npages; u32 flags; u32 __reserved; }
    const addr = leU64(e, 0);
    const npages = leU64(e, 8);
    if (leU32(e, 16) & ~IOMMU_VTD_INV_FLAGS_LEAF || leU32(e, 20)) return { errno: 'EOPNOTSUPP', done };
    if (addr % VTD_PAGE_SIZE || (npages === U64_MAX && addr)) return { errno: 'EINVAL', done };
    done++;
  }
  return { errno: 0, done };
}
