/**
 * The selftest mock IOMMU driver as a hardware profile (selftest.c,
 * kernel-semantics §12.1): one IOMMU instance, every device its own group,
 * 2 KiB IOPTEs (optionally 1 MiB), aperture [0x1000000, 0x7fffffff].
 */
import { PMap } from '../../ds/pmap.js';
import type { Domain } from '../state.js';

export const MOCK_FLAGS_DEVICE_NO_DIRTY = 1;
export const MOCK_FLAGS_DEVICE_HUGE_IOVA = 2;
export const MOCK_IO_PAGE_SIZE = 2048n;
export const MOCK_HUGE_PAGE_SIZE = 512n * MOCK_IO_PAGE_SIZE;
export const MOCK_APERTURE_START = 0x1000000n;
export const MOCK_APERTURE_LAST = 0x7fffffffn;
export const IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeef;
export const IOMMU_TEST_DEV_CACHE_DEFAULT = 0xbaddad;

/** mock_domain_alloc_paging (+ dirty ops when asked). */
export function mockDomain(devFlags: number, dirty: boolean): Domain {
  return {
    driver: 'mock',
    pgsize: MOCK_IO_PAGE_SIZE,
    huge: !!(devFlags & MOCK_FLAGS_DEVICE_HUGE_IOVA),
    apertureStart: MOCK_APERTURE_START,
    apertureLast: MOCK_APERTURE_LAST,
    dirtyOps: dirty,
    dirtyEnabled: false,
    dirty: PMap.emptyBigint<true>(),
    mapped: PMap.emptyBigint<bigint>(),
    hugeMapped: PMap.emptyBigint<bigint>(),
  };
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
