/**
 * device.c: binding devices, attaching, replacing and detaching them
 * (kernel-semantics §5.2-§5.7), with iommu groups: all devices of a group
 * share one attachment (the group's HWPT); every device still attaches
 * individually, which is when its reserved regions enter the IOAS. A mock
 * device is its own group. Driver decisions go through the device's
 * hardware profile (drivers/).
 *
 * Every lifecycle step a HWPT takes here is checked against the table
 * derived from machines/hwpt.machine.ts (`hwptStep`): a step the machine
 * does not have is a model bug.
 */
import type { Tx } from './object.js';
import { hwptDestroy, hwptPagingAlloc } from './hw_pagetable.js';
import type { DeviceObj, HwptNestedObj, HwptPagingObj, Obj } from './state.js';
import type { PMap } from '../ds/pmap.js';
import { autoRespondFaults } from './fault.js';
import { DEV_NONCOHERENT, DEV_PCI, DEV_PRI, DEV_VF, PROFILES, type DevHw, type Profile } from './drivers/index.js';
import { devHw, devResv, putGroup } from './hardware.js';
import { removeReserved, reserveIova } from './io_pagetable.js';
import { HWPT_TABLE, type HwptEventType, type HwptState } from '../../machines/tables.js';

type Hwpt = HwptPagingObj | HwptNestedObj;

function hwptOf(tx: Tx, id: number): Hwpt | undefined {
  const o = tx.any(id);
  return o && (o.type === 'hwpt_paging' || o.type === 'hwpt_nested') ? o : undefined;
}

/** find_hwpt_paging: the paging HWPT a HWPT translates through (its own, or a nested HWPT's parent). */
export function pagingOf(tx: Tx, h: Hwpt): HwptPagingObj {
  return h.type === 'hwpt_paging' ? h : tx.get(h.parent, 'hwpt_paging')!;
}

/** The device's profile and the facts its hooks see. */
export function profileOf(tx: Tx, dev: DeviceObj): [Profile, DevHw] {
  const hw = devHw(tx.w, dev);
  return [PROFILES[hw.iommu.driver], hw];
}

// ---- lifecycle --------------------------------------------------------------

/** Whether some device other than `except` is attached to HWPT `id`. */
function hasDevices(objs: PMap<number, Obj>, id: number, except = 0): boolean {
  let found = false;
  objs.each((_k, o) => {
    found = o.type === 'device' && o.hwpt === id && o.id !== except;
    return !found;
  });
  return found;
}

/** The lifecycle state (machines/hwpt.machine.ts) of object `id` of a context's table. */
export function hwptLifecycleState(objs: PMap<number, Obj>, id: number): HwptState | undefined {
  const h = objs.get(id);
  if (!h || (h.type !== 'hwpt_paging' && h.type !== 'hwpt_nested')) return undefined;
  if (h.type === 'hwpt_paging' && h.auto) return 'auto.attached';
  return hasDevices(objs, id) ? 'manual.attached' : 'manual.detached';
}

/** Check one lifecycle step of a HWPT against HWPT_TABLE; `from` defaults to its current state. */
export function hwptStep(tx: Tx, id: number, ev: HwptEventType, from: HwptState | undefined = hwptLifecycleState(tx.ctx.objs, id)): HwptState {
  const s = from;
  const next = s && HWPT_TABLE[s][ev];
  if (!next) throw new Error(`model bug: HWPT ${id} cannot take '${ev}' in state ${s ?? 'none'} (machines/hwpt.machine.ts)`);
  return next;
}

// ---- groups -----------------------------------------------------------------

/** The devices of `dev`'s group on the group's device list (attached), in ID order. */
function groupMembers(tx: Tx, dev: DeviceObj): DeviceObj[] {
  if (dev.group < 0) return dev.hwpt ? [dev] : [];
  const out: DeviceObj[] = [];
  tx.ctx.objs.each((_k, o) => {
    if (o.type === 'device' && o.group === dev.group && o.hwpt) out.push(o);
    return true;
  });
  return out;
}

/** igroup->hwpt: the group's HWPT, 0 when no device of the group is attached. */
function groupHwpt(tx: Tx, dev: DeviceObj): number {
  if (dev.hwpt || dev.group < 0) return dev.hwpt;
  return groupMembers(tx, dev)[0]?.hwpt ?? 0;
}

const resvOwner = (devId: number): string => `dev:${devId}`;

/**
 * iopt_table_enforce_dev_resv_regions: every region the driver reports for
 * the device except DIRECT_RELAXABLE becomes reserved in the IOAS, owned by
 * the device; EADDRINUSE (an area or an allowed range is there) removes
 * what it added.
 */
function enforceDevResv(tx: Tx, ioasId: number, dev: DeviceObj, msi: boolean): string | 0 {
  const regions = devResv(tx.w, dev);
  for (const r of regions) {
    if (r.type === 'direct_relaxable') continue;
    const e = reserveIova(tx, ioasId, r.start, r.last, resvOwner(dev.id));
    if (e) {
      removeReserved(tx, ioasId, resvOwner(dev.id));
      return e;
    }
  }
  // (`msi`: an attach, which asks for the software MSI window; more than one, or one beside a hardware
  // MSI region, is an insane driver: WARN, EINVAL, the regions removed again)
  const sw = regions.filter((r) => r.type === 'sw_msi').length;
  if (msi && ((sw && regions.some((r) => r.type === 'msi')) || sw > 1)) {
    removeReserved(tx, ioasId, resvOwner(dev.id));
    return 'EINVAL';
  }
  return 0;
}

/** iommufd_group_remove_reserved_iova */
function removeGroupResv(tx: Tx, ioasId: number, members: readonly DeviceObj[]): void {
  for (const m of members) removeReserved(tx, ioasId, resvOwner(m.id));
}

/**
 * The driver side of attaching the group to a HWPT (iommufd_hwpt_attach_device /
 * the domain switch of iommufd_hwpt_replace_device): IOPF enablement when the
 * HWPT has a fault object (a PCI VF, from 6.13 one with PRI: EINVAL; the driver may refuse, and
 * VT-d's looks at what the device is attached to now, `from`: undefined when blocked), then
 * __iommu_attach_group (a domain of another driver: EINVAL) and attach_dev.
 */
function driverAttach(tx: Tx, h: Hwpt, dev: DeviceObj, enableIopf: boolean, from?: Hwpt): string | 0 {
  const [prof, hw] = profileOf(tx, dev);
  if (enableIopf) {
    // iommufd_fault_iopf_enable: 6.12 refuses every PCI VF; 6.13 on only one whose PRI, shared with
    // its PF, is there (pci_pri_supported: the PF's), so a VF without PRI (an SMMUv3 stall model,
    // or nothing: the driver decides) goes on to the driver
    const vf = (hw.flags & (DEV_PCI | DEV_VF)) === (DEV_PCI | DEV_VF);
    if (vf && (tx.kernel === '6.12' || hw.flags & DEV_PRI)) return 'EINVAL';
    const e = prof.iopfEnable(hw, from?.type === 'hwpt_paging');
    if (e) return e;
  }
  const paging = pagingOf(tx, h);
  if (paging.domain.driver !== prof.name) return 'EINVAL';
  if (h.type === 'hwpt_paging') return prof.attachPaging(h.domain, hw, tx.kernel);
  return prof.attachNested(h, paging.domain, h.viommu ? tx.get(h.viommu, 'viommu') : undefined, hw, tx.kernel);
}

// ---- bind / unbind ----------------------------------------------------------

/**
 * iommufd_device_bind for a device with a cdev (a non-mock device): cache
 * coherency (EINVAL), MSI isolation of the group unless allow_unsafe_interrupts
 * (EPERM), DMA ownership of the group (another owner: EPERM; a group a kernel
 * user keeps on another domain: EBUSY; devices of one group may be bound to
 * the same context), then the DEVICE object with users 2 (the table and the
 * driver). The caller holds the context (files.ts) on success.
 */
export function deviceBind(tx: Tx, pdevId: number): DeviceObj | string {
  const p = tx.w.hw.devs.get(pdevId)!;
  const g = tx.w.hw.groups.get(p.group)!;
  if (p.flags & DEV_NONCOHERENT) return 'EINVAL';
  if (!g.msiIsolated && !tx.w.hw.allowUnsafeInterrupts) return 'EPERM';
  // iommu_device_claim_dma_owner
  if (g.ownerCnt && g.owner !== tx.ctx.id) return 'EPERM';
  if (!g.ownerCnt && g.kernelDomain) return 'EBUSY';
  const dev = tx.alloc((id): DeviceObj => ({ type: 'device', id, users: 2, devFlags: 0, stdev: 0, pdev: pdevId, group: p.group, hwpt: 0, cache: [], iopfEnabled: false }));
  if (!dev) return 'EBUSY';
  tx.setWorld(putGroup(tx.w, { ...g, owner: tx.ctx.id, ownerCnt: g.ownerCnt + 1 }));
  return dev;
}

/** iommufd_device_destroy's release of the group's DMA ownership (the DEVICE object is gone). */
export function deviceReleaseOwner(tx: Tx, dev: DeviceObj): void {
  if (!dev.pdev) return;
  const g = tx.w.hw.groups.get(dev.group);
  if (!g) return;
  const ownerCnt = g.ownerCnt - 1;
  tx.setWorld(putGroup(tx.w, { ...g, ownerCnt, owner: ownerCnt ? g.owner : 0 }));
}

// ---- attach / detach ----------------------------------------------------------

/** iommufd_hw_pagetable_attach (§5.4). */
export function hwptAttach(tx: Tx, hwptId: number, devId: number): string | 0 {
  const dev = tx.get(devId, 'device')!;
  const h = hwptOf(tx, hwptId)!;
  const cur = groupHwpt(tx, dev);
  if (cur && cur !== hwptId) return 'EINVAL';
  const ioasId = pagingOf(tx, h).ioas;
  let e = enforceDevResv(tx, ioasId, dev, true);
  if (e) return e;
  // Only the first device of the group attaches the group to the domain.
  if (!cur) {
    e = driverAttach(tx, h, dev, !!h.fault);
    if (e) {
      removeReserved(tx, ioasId, resvOwner(devId));
      return e;
    }
  }
  hwptStep(tx, hwptId, 'attach');
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
  const from = hwptLifecycleState(tx.ctx.objs, hwptId);
  const last = dev.group < 0 || !groupMembers(tx, dev).some((m) => m.id !== devId);
  // The last device of the group detaches the group from the domain: pending faults are answered.
  if (last && h.fault) autoRespondFaults(tx, h.fault, hwptId, devId);
  tx.put({ ...tx.get(devId, 'device')!, hwpt: 0 });
  removeReserved(tx, pagingOf(tx, h).ioas, resvOwner(devId));
  hwptPut(tx, hwptId, hasDevices(tx.ctx.objs, hwptId) ? 'detach' : 'detach_last', from);
}

/** Drop one device reference; an automatic domain is destroyed with its last device (§2.6). */
function hwptPut(tx: Tx, hwptId: number, ev: 'detach' | 'detach_last', from: HwptState | undefined): void {
  const next = hwptStep(tx, hwptId, ev, from);
  tx.users(hwptId, -1);
  const h = hwptOf(tx, hwptId)!;
  if (h.type === 'hwpt_paging' && h.auto && h.users === 1) hwptDestroy(tx, hwptId);
  else if (next === 'destroyed') throw new Error(`model bug: auto HWPT ${hwptId} outlived its last device (users ${h.users})`);
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

/**
 * iommufd_device_do_replace (§5.5): the whole group moves to the new HWPT.
 * Reserved regions of every device of the group enter the new IOAS when it
 * differs from the old one and leave the old one after the switch.
 *
 * Kernel quirk kept on purpose (device.c, 6.12 and 6.14): when the driver
 * refuses the switch, the error path removes the group's device regions
 * from the *new* HWPT's IOAS even when that is the IOAS the group stays
 * attached to, so a refused replace within one IOAS drops the attached
 * devices' reserved regions.
 */
function doReplace(tx: Tx, devId: number, hwptId: number): string | 0 {
  const dev = tx.get(devId, 'device')!;
  const cur = groupHwpt(tx, dev);
  if (!cur) return 'EINVAL';
  if (!dev.hwpt) return 'EINVAL';
  if (cur === hwptId) return 0;
  const h = hwptOf(tx, hwptId)!;
  const old = hwptOf(tx, cur)!;
  const newIoas = pagingOf(tx, h).ioas;
  const oldIoas = pagingOf(tx, old).ioas;
  const members = groupMembers(tx, dev);
  if (newIoas !== oldIoas) {
    for (const m of members) {
      const e = enforceDevResv(tx, newIoas, m, false);
      if (e) {
        removeGroupResv(tx, newIoas, members);
        return e;
      }
    }
  }
  const e = driverAttach(tx, h, dev, !!h.fault && !old.fault, old);
  if (e) {
    removeGroupResv(tx, newIoas, members);
    // (within one IOAS that removal is of regions the group still needs, and it stays: a partial effect)
    if (newIoas === oldIoas) tx.keepOnError = true;
    return e;
  }
  hwptStep(tx, hwptId, 'attach');
  const oldFrom = hwptLifecycleState(tx.ctx.objs, cur);
  for (const m of members) tx.put({ ...tx.get(m.id, 'device')!, hwpt: hwptId });
  if (old.fault) autoRespondFaults(tx, old.fault, cur, devId);
  if (newIoas !== oldIoas) removeGroupResv(tx, oldIoas, members);
  // The device list's references move; the caller's put drops the last one of the old HWPT.
  tx.users(hwptId, members.length);
  if (members.length > 1) tx.users(cur, -(members.length - 1));
  hwptPut(tx, cur, hasDevices(tx.ctx.objs, cur) ? 'detach' : 'detach_last', oldFrom);
  return 0;
}
