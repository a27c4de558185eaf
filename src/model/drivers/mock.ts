/**
 * The selftest mock IOMMU driver as a hardware profile (selftest.c,
 * kernel-semantics §12.1): one IOMMU instance, every device its own group,
 * 2 KiB IOPTEs (optionally 1 MiB), aperture [0x1000000, 0x7fffffff].
 */
import type { Domain } from '../state.js';
import type { IommuInst } from '../hardware.js';
import { newDomain, type DevHw, type NestedDomain, type Profile, type UserData } from './profile.js';

export const MOCK_FLAGS_DEVICE_NO_DIRTY = 1;
export const MOCK_FLAGS_DEVICE_HUGE_IOVA = 2;
export const MOCK_IO_PAGE_SIZE = 2048n;
export const MOCK_HUGE_PAGE_SIZE = 512n * MOCK_IO_PAGE_SIZE;
export const MOCK_APERTURE_START = 0x1000000n;
export const MOCK_APERTURE_LAST = 0x7fffffffn;
export const IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeef;
export const IOMMU_TEST_DEV_CACHE_DEFAULT = 0xbaddad;

export const IOMMU_HWPT_DATA_SELFTEST = 0xdead;
export const IOMMU_VIOMMU_TYPE_SELFTEST = 0xdeadbeef;

/** mock_domain_alloc_paging (+ dirty ops when asked). */
export function mockDomain(devFlags: number, dirty: boolean): Domain {
  return newDomain({
    driver: 'mock',
    iommu: 0,
    addrWidth: 31,
    enforceCC: false,
    pgsize: MOCK_IO_PAGE_SIZE,
    huge: !!(devFlags & MOCK_FLAGS_DEVICE_HUGE_IOVA),
    apertureStart: MOCK_APERTURE_START,
    apertureLast: MOCK_APERTURE_LAST,
    dirtyOps: dirty,
  });
}

/** mock_domain_alloc_user checks for a paging domain. */
export function mockDomainAllocChecks(flags: number, hasData: boolean, devFlags: number): string | 0 {
  if (flags & ~3) return 'EOPNOTSUPP';
  if (hasData || (flags & 2 && devFlags & MOCK_FLAGS_DEVICE_NO_DIRTY)) return 'EOPNOTSUPP';
  return 0;
}

/** mock_domain_nop_attach */
export function mockAttachCheck(d: Domain | undefined, devFlags: number): string | 0 {
  if (d?.dirtyOps && devFlags & MOCK_FLAGS_DEVICE_NO_DIRTY) return 'EINVAL';
  return 0;
}

/**
 * __mock_domain_alloc_nested: four IOTLB words from iommu_hwpt_selftest
 * (data type IOMMU_HWPT_DATA_SELFTEST, exactly 4 bytes: shorter and longer
 * are both EINVAL).
 */
export function mockNestedAlloc(flags: number, data: UserData): NestedDomain | string {
  if (flags) return 'EOPNOTSUPP';
  if (data.type !== IOMMU_HWPT_DATA_SELFTEST) return 'EOPNOTSUPP';
  if (data.len < 4 || data.len > 4) return 'EINVAL';
  const buf = data.bytes;
  if (!buf || buf.length < 4) return 'EFAULT';
  const iotlb = (buf[0]! | (buf[1]! << 8) | (buf[2]! << 16) | (buf[3]! << 24)) >>> 0;
  return { iotlb: [iotlb, iotlb, iotlb, iotlb], cfg: [] };
}

/** The one mock IOMMU every selftest mock device sits behind (kernel-semantics §12.1). */
export const MOCK_IOMMU: IommuInst = Object.freeze({
  id: 0,
  driver: 'mock',
  dirty: true,
  nesting: true,
  enforceCC: false,
  msiIsolated: true,
  addrWidth: 31,
  pgsizes: MOCK_IO_PAGE_SIZE | MOCK_HUGE_PAGE_SIZE,
  regs: [],
  infoFlags: 0,
  features: [],
});

/** selftest.c as a hardware profile. */
export const mockProfile: Profile = {
  name: 'mock',
  iommuDefaults: MOCK_IOMMU,
  // "No reserved regions" (mock_dev has no get_resv_regions in 6.12/6.14).
  defaultResv: [],
  hwInfo() {
    // struct iommu_test_hw_info { u32 flags = 0; u32 test_reg = 0xdeadbeef; }
    const data = new Uint8Array(8);
    data.set([0xef, 0xbe, 0xad, 0xde], 4);
    return { type: IOMMU_HW_INFO_TYPE_SELFTEST, data };
  },
  dirtyCapable: (dev: DevHw) => !(dev.mockFlags & MOCK_FLAGS_DEVICE_NO_DIRTY),
  enforceCC: () => false,
  allocPaging(dev, flags, hasData) {
    const e = mockDomainAllocChecks(flags, hasData, dev.mockFlags);
    return e || mockDomain(dev.mockFlags, !!(flags & 2));
  },
  attachPaging: (d, dev) => mockAttachCheck(d, dev.mockFlags),
  nestedAlloc: () => (_parent, _dev, flags, data) => mockNestedAlloc(flags, data),
  // mock_domain_nop_attach: a nested mock domain always attaches.
  attachNested: () => 0,
  viommuAlloc: (_dev, _parent, type) => (type === IOMMU_VIOMMU_TYPE_SELFTEST ? 0 : 'EOPNOTSUPP'),
  viommuNestedAlloc: (_viommu, flags, data) => mockNestedAlloc(flags, data),
  // The oracle's kernel has IOPF support (CONFIG_IOMMU_IOPF): mock_dev_enable_feat accepts.
  iopfEnable: () => 0,
  userPasidTable: () => true,
  queuesFaults: () => true,
};
