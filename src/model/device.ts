/**
 * device.c: attaching, replacing and detaching devices (kernel-semantics §5).
 * Every mock device is its own iommu group, so the group's HWPT is the
 * device's HWPT.
 */
import type { Tx } from './object.js';
import { hwptDestroy, hwptPagingAlloc } from './hw_pagetable.js';
import { mockAttachCheck } from './drivers/mock.js';
import type { HwptNestedObj, HwptPagingObj } from './state.js';
import { autoRespondFaults } from './fault.js';

type Hwpt = HwptPagingObj | HwptNestedObj;

function hwptOf(tx: Tx, id: number): Hwpt | undefined {
  const o = tx.any(id);
  return o && (o.type === 'hwpt_paging' || o.type === 'hwpt_nested') ? o : undefined;
}

/** The paging domain a HWPT translates through (its own, or a nested HWPT's parent's). */
function pagingOf(tx: Tx, h: Hwpt): HwptPagingObj {
  return h.type === 'hwpt_paging' ? h : tx.get(h.parent, 'hwpt_paging')!;
}

/** iommufd_hw_pagetable_attach (§5.4). */
export function hwptAttach(tx: Tx, hwptId: number, devId: number): string | 0 {
  const dev = tx.get(devId, 'device')!;
  const h = hwptOf(tx, hwptId)!;
  if (dev.hwpt && dev.hwpt !== hwptId) return 'EINVAL';
  // Mock devices report no reserved regions; the driver attach is the only check.
  const e = mockAttachCheck(h.type === 'hwpt_paging' ? h.domain : undefined, dev.devFlags);
  if (e) return e;
  tx.users(hwptId, 1);
  tx.put({ ...tx.get(devId, 'device')!, hwpt: hwptId });
  return 0;
}

/** iommufd_hw_pagetable_detach + iommufd_hw_pagetable_put. */
export function hwptDetach(tx: Tx, devId: number): void {
  const dev = tx.get(devId, 'device')!;
  const hwptId = dev.hwpt;
  if (!hwptId) return;
  const h = hwptOf(tx, hwptId)!;
  if (h.fault) autoRespondFaults(tx, h.fault, hwptId, devId);
  tx.put({ ...dev, hwpt: 0 });
  hwptPut(tx, hwptId);
}

/** Drop one device reference; an automatic domain is destroyed with its last device (§2.6). */
export function hwptPut(tx: Tx, hwptId: number): void {
  tx.users(hwptId, -1);
  const h = hwptOf(tx, hwptId)!;
  if (h.type === 'hwpt_paging' && h.auto && h.users === 1) hwptDestroy(tx, hwptId);
}

/** iommufd_device_auto_get_domain (§5.3): reuse an automatic HWPT of the IOAS, else make one. */
function autoGetDomain(tx: Tx, devId: number, ioasId: number, replace: boolean): number | string {
  const ioas = tx.get(ioasId, 'ioas')!;
  for (const hid of ioas.hwpts) {
    const h = tx.get(hid, 'hwpt_paging')!;
    if (!h.auto) continue;
    const e = replace ? doReplace(tx, devId, hid) : hwptAttach(tx, hid, devId);
    if (e === 0) return hid;
    if (e !== 'EINVAL') return e;
  }
  const h = hwptPagingAlloc(tx, ioasId, devId, 0, false, true, !replace);
  if (typeof h === 'string') return h;
  if (replace) {
    const e = doReplace(tx, devId, h.id);
    if (e) return e;
  }
  return h.id;
}

/** iommufd_device_change_pt: attach (or replace) to an IOAS or HWPT id; returns the HWPT used. */
export function deviceChangePt(tx: Tx, devId: number, ptId: number, replace: boolean): number | string {
  const pt = tx.any(ptId);
  if (!pt) return 'ENOENT';
  if (pt.type === 'hwpt_paging' || pt.type === 'hwpt_nested') {
    const e = replace ? doReplace(tx, devId, ptId) : hwptAttach(tx, ptId, devId);
    return e || ptId;
  }
  if (pt.type === 'ioas') return autoGetDomain(tx, devId, ptId, replace);
  return 'EINVAL';
}

/** iommufd_device_attach: the device holds one more reference while attached. */
export function deviceAttach(tx: Tx, devId: number, ptId: number): number | string {
  const r = deviceChangePt(tx, devId, ptId, false);
  if (typeof r === 'number') tx.users(devId, 1);
  return r;
}

export function deviceReplace(tx: Tx, devId: number, ptId: number): number | string {
  return deviceChangePt(tx, devId, ptId, true);
}

/** iommufd_device_detach */
export function deviceDetach(tx: Tx, devId: number): void {
  const dev = tx.get(devId, 'device')!;
  if (!dev.hwpt) return;
  hwptDetach(tx, devId);
  tx.users(devId, -1);
}

/** iommufd_device_do_replace (§5.5). */
function doReplace(tx: Tx, devId: number, hwptId: number): string | 0 {
  const dev = tx.get(devId, 'device')!;
  const old = dev.hwpt;
  if (!old) return 'EINVAL';
  if (old === hwptId) return 0;
  const h = hwptOf(tx, hwptId)!;
  const e = mockAttachCheck(h.type === 'hwpt_paging' ? h.domain : undefined, dev.devFlags);
  if (e) return e;
  const oldH = hwptOf(tx, old)!;
  void pagingOf;
  tx.users(hwptId, 1);
  tx.put({ ...dev, hwpt: hwptId });
  if (oldH.fault) autoRespondFaults(tx, oldH.fault, old, devId);
  hwptPut(tx, old);
  return 0;
}
