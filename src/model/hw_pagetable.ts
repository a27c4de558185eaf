/**
 * hw_pagetable.c: HWPT objects (paging and nested) and IOMMU_HWPT_ALLOC.
 * Dirty tracking and invalidation live in dirty.ts / invalidate.ts.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { u32, userBuf } from './args.js';
import { addDomain, getIoas, removeDomain } from './io_pagetable.js';
import type { Tx } from './object.js';
import type { Domain, HwptNestedObj, HwptPagingObj, ViommuObj } from './state.js';
import { hwptAttach, hwptDetach, hwptStep, profileOf } from './device.js';
import { PROFILES, type Profile, type UserData } from './drivers/index.js';

// Registers the domain hooks that decide the mock's 1 MiB IOPTEs.
import './iopte.js';

export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 2;
export const IOMMU_HWPT_FAULT_ID_VALID = 4;
export const IOMMU_HWPT_DATA_NONE = 0;
export { IOMMU_HWPT_DATA_SELFTEST } from './drivers/mock.js';
export const IOMMU_TEST_IOTLB_DEFAULT = 0xbadbeef;

/**
 * iommufd_hwpt_paging_alloc. With `attachDev` (immediate_attach) the device
 * is attached before the domain joins the IOAS, as the kernel does for
 * automatic domains. The domain comes from the device's profile.
 */
export function hwptPagingAlloc(tx: Tx, ioasId: number, devId: number, flags: number, hasData: boolean, auto: boolean, attachDev: boolean): HwptPagingObj | string {
  const valid = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | (tx.kernel === '6.14' ? IOMMU_HWPT_FAULT_ID_VALID : 0);
  const dev = tx.get(devId, 'device')!;
  const [prof, hw] = profileOf(tx, dev);
  if (flags & ~valid) return 'EOPNOTSUPP';
  if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING && !prof.dirtyCapable(hw)) return 'EOPNOTSUPP';
  // (6.14.0 took FAULT_ID_VALID with NEST_PARENT; 6.14.y stable refuses it, and so does the 6.14
  // profile: the conformance scenarios give 6.14 this answer, kernel-semantics §6.2 step 4 the other)
  if (flags & IOMMU_HWPT_FAULT_ID_VALID && flags & IOMMU_HWPT_ALLOC_NEST_PARENT) return 'EOPNOTSUPP';
  // The object (its ID) comes before the driver's allocation in the kernel; only running out of
  // IDs (EBUSY) could tell the order apart, and a failure drops the transaction with the ID.
  const made = prof.allocPaging(hw, flags & ~IOMMU_HWPT_FAULT_ID_VALID, hasData, tx.kernel);
  if (typeof made === 'string') return made;
  // Cache-coherency enforcement is set before any map if the device requires it.
  const domain: Domain = prof.enforceCC(hw, tx.kernel) ? { ...made, enforceCC: true } : made;
  hwptStep(tx, 0, auto ? 'auto_alloc' : 'IOMMU_HWPT_ALLOC', 'unallocated');
  const hwpt = tx.alloc(
    (id): HwptPagingObj => ({ type: 'hwpt_paging', id, users: 1, ioas: ioasId, auto, nestParent: !!(flags & IOMMU_HWPT_ALLOC_NEST_PARENT), fault: 0, domain, devFlags: dev.devFlags }),
  );
  if (!hwpt) return 'EBUSY';
  tx.users(ioasId, 1);
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
    const h = hwptViommuNestedAlloc(tx, pt, devId, flags, dataType, dataLen, a, ev);
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

/** The driver data of IOMMU_HWPT_ALLOC (iommu_user_data). */
function userData(a: Fields, ev: Event, dataType: number, dataLen: number): UserData {
  return { type: dataType, len: dataLen, bytes: userBuf(ev, a, 'data_uptr') };
}

/** iommufd_hwpt_nested_alloc on a HWPT_PAGING parent (§6.3): the device's driver makes the nested domain. */
function hwptNestedAlloc(tx: Tx, parent: HwptPagingObj, devId: number, flags: number, dataType: number, dataLen: number, a: Fields, ev: Event): HwptNestedObj | string {
  const [prof, hw] = profileOf(tx, tx.get(devId, 'device')!);
  const alloc = prof.nestedAlloc(tx.kernel);
  if (flags & ~IOMMU_HWPT_FAULT_ID_VALID || dataLen === 0 || !alloc) return 'EOPNOTSUPP';
  if (parent.auto || !parent.nestParent || parent.domain.driver !== prof.name) return 'EINVAL';
  hwptStep(tx, 0, 'IOMMU_HWPT_ALLOC', 'unallocated');
  const h = tx.alloc((id): HwptNestedObj => ({ type: 'hwpt_nested', id, users: 1, parent: parent.id, viommu: 0, fault: 0, iotlb: [], cfg: [] }));
  if (!h) return 'EBUSY';
  tx.users(parent.id, 1);
  const nd = alloc(parent, hw, flags & ~IOMMU_HWPT_FAULT_ID_VALID, userData(a, ev, dataType, dataLen));
  if (typeof nd === 'string') return nd;
  const nested: HwptNestedObj = { ...h, iotlb: nd.iotlb, cfg: nd.cfg };
  tx.put(nested);
  return nested;
}

/**
 * iommufd_viommu_alloc_hwpt_nested [6.14] (§6.3): the vIOMMU must be on the
 * device's IOMMU instance (EINVAL); the parent is the vIOMMU's HWPT, the
 * reference is taken on the vIOMMU; the vIOMMU's driver makes the domain
 * (viommu->ops->alloc_domain_nested): past the instance check, the device's
 * driver, which need not be the nesting parent's (a mock vIOMMU may sit on
 * another driver's nest parent: nothing checks the parent's owner).
 */
function hwptViommuNestedAlloc(tx: Tx, viommu: ViommuObj, devId: number, flags: number, dataType: number, dataLen: number, a: Fields, ev: Event): HwptNestedObj | string {
  const [prof, hw] = profileOf(tx, tx.get(devId, 'device')!);
  if (viommu.iommu !== hw.iommu.id) return 'EINVAL';
  if (flags & ~IOMMU_HWPT_FAULT_ID_VALID || dataLen === 0 || !prof.viommuNestedAlloc) return 'EOPNOTSUPP';
  hwptStep(tx, 0, 'IOMMU_HWPT_ALLOC', 'unallocated');
  const h = tx.alloc((id): HwptNestedObj => ({ type: 'hwpt_nested', id, users: 1, parent: viommu.hwpt, viommu: viommu.id, fault: 0, iotlb: [], cfg: [] }));
  if (!h) return 'EBUSY';
  tx.users(viommu.id, 1);
  const nd = prof.viommuNestedAlloc(viommu, flags & ~IOMMU_HWPT_FAULT_ID_VALID, userData(a, ev, dataType, dataLen));
  if (typeof nd === 'string') return nd;
  const nested: HwptNestedObj = { ...h, iotlb: nd.iotlb, cfg: nd.cfg };
  tx.put(nested);
  return nested;
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
