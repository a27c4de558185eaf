/**
 * hw_pagetable.c: HWPT objects (paging and nested) and IOMMU_HWPT_ALLOC.
 * Dirty tracking and invalidation live in dirty.ts / invalidate.ts.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { u32, userBuf, le } from './args.js';
import { addDomain, getIoas, removeDomain } from './io_pagetable.js';
import type { Tx } from './object.js';
import type { Domain, HwptNestedObj, HwptPagingObj, ViommuObj } from './state.js';
import { mockDomain, mockDomainAllocChecks, MOCK_FLAGS_DEVICE_NO_DIRTY } from './drivers/mock.js';
import { hwptAttach, hwptDetach } from './device.js';
// Registers the domain hooks that decide the mock's 1 MiB IOPTEs.
import './iopte.js';

export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 2;
export const IOMMU_HWPT_FAULT_ID_VALID = 4;
export const IOMMU_HWPT_DATA_NONE = 0;
export const IOMMU_HWPT_DATA_SELFTEST = 0xdead;
export const IOMMU_TEST_IOTLB_DEFAULT = 0xbadbeef;

/**
 * iommufd_hwpt_paging_alloc. With `attachDev` (immediate_attach) the device
 * is attached before the domain joins the IOAS, as the kernel does for
 * automatic domains.
 */
export function hwptPagingAlloc(tx: Tx, ioasId: number, devId: number, flags: number, hasData: boolean, auto: boolean, attachDev: boolean): HwptPagingObj | string {
  const valid = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | (tx.kernel === '6.14' ? IOMMU_HWPT_FAULT_ID_VALID : 0);
  const dev = tx.get(devId, 'device')!;
  if (flags & ~valid) return 'EOPNOTSUPP';
  if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING && dev.devFlags & MOCK_FLAGS_DEVICE_NO_DIRTY) return 'EOPNOTSUPP';
  if (flags & IOMMU_HWPT_FAULT_ID_VALID && flags & IOMMU_HWPT_ALLOC_NEST_PARENT) return 'EOPNOTSUPP';
  const hwpt = tx.alloc(
    (id): HwptPagingObj => ({
      type: 'hwpt_paging',
      id,
      users: 1,
      ioas: ioasId,
      auto,
      nestParent: !!(flags & IOMMU_HWPT_ALLOC_NEST_PARENT),
      fault: 0,
      domain: mockDomain(dev.devFlags, !!(flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)),
      devFlags: dev.devFlags,
    }),
  );
  if (!hwpt) return 'EBUSY';
  tx.users(ioasId, 1);
  const e = mockDomainAllocChecks(flags & ~IOMMU_HWPT_FAULT_ID_VALID, hasData, dev.devFlags);
  if (e) return e;
  if (attachDev) {
    const a = hwptAttach(tx, hwpt.id, devId);
    if (a) return a;
  }
  const d = hwpt.domain;
  const r = addDomain(tx, ioasId, hwpt.id, d.pgsize, d.apertureStart, d.apertureLast);
  if (r) return r;
  const ioas = getIoas(tx, ioasId)!;
  tx.put({ ...ioas, hwpts: [...ioas.hwpts, hwpt.id] });
  return tx.get(hwpt.id, 'hwpt_paging')!;
}

/** iommufd_hwpt_alloc (IOMMU_HWPT_ALLOC) */
export function hwptAllocIoctl(tx: Tx, a: Fields, ev: Event): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const dataType = u32(a, 'data_type');
  const dataLen = u32(a, 'data_len');
  if ((dataType === IOMMU_HWPT_DATA_NONE && dataLen) || (dataType !== IOMMU_HWPT_DATA_NONE && !dataLen)) return { errno: 'EINVAL' };
  const devId = u32(a, 'dev_id');
  if (!tx.get(devId, 'device')) return { errno: 'ENOENT' };
  const ptId = u32(a, 'pt_id');
  const pt = tx.any(ptId);
  if (!pt) return { errno: 'EINVAL' };
  const flags = u32(a, 'flags');
  let id: number;
  if (pt.type === 'ioas') {
    const h = hwptPagingAlloc(tx, ptId, devId, flags, dataLen !== 0, false, false);
    if (typeof h === 'string') return { errno: h };
    id = h.id;
  } else if (pt.type === 'hwpt_paging') {
    const h = hwptNestedAlloc(tx, pt, devId, flags, dataType, dataLen, a, ev);
    if (typeof h === 'string') return { errno: h };
    id = h.id;
  } else if (pt.type === 'viommu') {
    const h = hwptViommuNestedAlloc(tx, pt, flags, dataType, dataLen, a, ev);
    if (typeof h === 'string') return { errno: h };
    id = h.id;
  } else return { errno: 'EINVAL' };
  if (flags & IOMMU_HWPT_FAULT_ID_VALID) {
    const faultId = u32(a, 'fault_id');
    if (!tx.get(faultId, 'fault')) return { errno: 'ENOENT' };
    const h = tx.any(id) as HwptPagingObj | HwptNestedObj;
    tx.put({ ...h, fault: faultId });
    tx.users(faultId, 1);
  }
  return { errno: 0, out: { out_hwpt_id: id } };
}

/** iommufd_hwpt_nested_alloc on a HWPT_PAGING parent (§6.3). */
function hwptNestedAlloc(tx: Tx, parent: HwptPagingObj, devId: number, flags: number, dataType: number, dataLen: number, a: Fields, ev: Event): HwptNestedObj | string {
  if (flags & ~IOMMU_HWPT_FAULT_ID_VALID || dataLen === 0) return 'EOPNOTSUPP';
  if (parent.auto || !parent.nestParent) return 'EINVAL';
  const h = tx.alloc((id): HwptNestedObj => ({ type: 'hwpt_nested', id, users: 1, parent: parent.id, viommu: 0, fault: 0, iotlb: [] }));
  if (!h) return 'EBUSY';
  tx.users(parent.id, 1);
  void devId;
  const iotlb = mockNestedAlloc(flags, dataType, dataLen, a, ev);
  if (typeof iotlb === 'string') return iotlb;
  const nested: HwptNestedObj = { ...h, users: 1, iotlb };
  tx.put(nested);
  return nested;
}

/**
 * iommufd_viommu_alloc_hwpt_nested [6.14] (§6.3): the parent is the vIOMMU's
 * HWPT, the reference is taken on the vIOMMU. Every device is behind the
 * vIOMMU's (single mock) IOMMU instance.
 */
function hwptViommuNestedAlloc(tx: Tx, viommu: ViommuObj, flags: number, dataType: number, dataLen: number, a: Fields, ev: Event): HwptNestedObj | string {
  if (flags & ~IOMMU_HWPT_FAULT_ID_VALID || dataLen === 0) return 'EOPNOTSUPP';
  const h = tx.alloc((id): HwptNestedObj => ({ type: 'hwpt_nested', id, users: 1, parent: viommu.hwpt, viommu: viommu.id, fault: 0, iotlb: [] }));
  if (!h) return 'EBUSY';
  tx.users(viommu.id, 1);
  // mock_viommu_alloc_domain_nested -> __mock_domain_alloc_nested.
  const iotlb = mockNestedAlloc(flags, dataType, dataLen, a, ev);
  if (typeof iotlb === 'string') return iotlb;
  const nested: HwptNestedObj = { ...h, iotlb };
  tx.put(nested);
  return nested;
}

/** The mock driver's nested domain (__mock_domain_alloc_nested): four IOTLB words from iommu_hwpt_selftest. */
function mockNestedAlloc(flags: number, dataType: number, dataLen: number, a: Fields, ev: Event): number[] | string {
  if (flags & ~IOMMU_HWPT_FAULT_ID_VALID) return 'EOPNOTSUPP';
  if (dataType !== IOMMU_HWPT_DATA_SELFTEST) return 'EOPNOTSUPP';
  if (dataLen < 4 || dataLen > 4) return 'EINVAL';
  const buf = userBuf(ev, a, 'data_uptr');
  if (!buf || buf.length < 4) return 'EFAULT';
  const iotlb = le.u32(buf, 0);
  return [iotlb, iotlb, iotlb, iotlb];
}

/** Destroy of a HWPT once its users reached 1 (hw_pagetable.c destroy functions). */
export function hwptDestroy(tx: Tx, id: number): void {
  const h = tx.any(id);
  if (h?.type === 'hwpt_paging') {
    removeDomain(tx, h.ioas, id);
    const ioas = getIoas(tx, h.ioas)!;
    tx.put({ ...ioas, hwpts: ioas.hwpts.filter((x) => x !== id) });
    tx.remove(id);
    if (h.fault) tx.users(h.fault, -1);
    tx.users(h.ioas, -1);
  } else if (h?.type === 'hwpt_nested') {
    tx.remove(id);
    if (h.fault) tx.users(h.fault, -1);
    if (h.viommu) tx.users(h.viommu, -1);
    else tx.users(h.parent, -1);
  }
}

/** The IOAS a paging or nested HWPT maps through. */
export function hwptIoas(tx: Tx, hwptId: number): number {
  const h = tx.any(hwptId);
  if (h?.type === 'hwpt_paging') return h.ioas;
  if (h?.type === 'hwpt_nested') return tx.get(h.parent, 'hwpt_paging')!.ioas;
  throw new Error(`model bug: ${hwptId} is not a HWPT`);
}

export { hwptDetach };
export type { Domain };
export const emptyDirty = (): PMap<bigint, true> => PMap.emptyBigint<true>();
