/**
 * The machine under iommufd: IOMMU instances, the devices behind them and
 * their iommu groups (drivers/iommu/iommu.c: groups and DMA ownership;
 * drivers/vfio: which device has which cdev), changed only by environment
 * events (kernel-semantics §13 item 14 "hardware profile data"):
 *
 *   iommu_add      an IOMMU instance and its hardware profile (driver)
 *   device_add     a device appears behind an instance, in a group, with
 *                  its reserved regions and flags, and a VFIO cdev
 *   device_remove  it goes away (only while no file of its cdev is open)
 *   set_module_param  iommufd's allow_unsafe_interrupts
 *
 * README "Describing a device in a trace" gives the event format. Mock
 * devices of the selftest (IOMMU_TEST_OP_MOCK_DOMAIN) are not listed here:
 * they sit behind MOCK_IOMMU (instance 0), each its own group.
 */
import type { Event, Fields, Result, Value } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { DEV_FLAG_NAMES, DRIVER_NAMES, PROFILES, type DevHw, type DriverName } from './drivers/index.js';
import { MOCK_IOMMU } from './drivers/mock.js';
import { vtdDefaultRegs } from './drivers/intel_vtd.js';
import { DEVICE_TABLE, type DeviceState } from '../../machines/tables.js';
import type { DeviceObj, OpenFile, World } from './state.js';

/** iommu_resv_type: DIRECT (RMRR), DIRECT_RELAXABLE (skipped by iommufd), RESERVED, MSI (hardware window), SW_MSI. */
export type ResvType = 'direct' | 'direct_relaxable' | 'reserved' | 'msi' | 'sw_msi';
export const RESV_TYPES: readonly ResvType[] = ['direct', 'direct_relaxable', 'reserved', 'msi', 'sw_msi'];

export interface ResvRegion {
  readonly start: bigint;
  readonly last: bigint;
  readonly type: ResvType;
}

/** One IOMMU instance (struct iommu_device) and the facts its driver reads from the hardware. */
export interface IommuInst {
  readonly id: number;
  readonly driver: DriverName;
  /** IOMMU_CAP_DIRTY_TRACKING (VT-d SSADS, SMMUv3 HTTU+DBM). */
  readonly dirty: boolean;
  /** Nested translation (VT-d ECAP.NEST, SMMUv3 FEAT_NESTING). */
  readonly nesting: boolean;
  /** IOMMU_CAP_ENFORCE_CACHE_COHERENCY (VT-d ECAP.SC, SMMUv3 canwbs). */
  readonly enforceCC: boolean;
  /** Interrupt remapping / ITS: its groups can isolate MSIs (else bind is EPERM unless allow_unsafe_interrupts). */
  readonly msiIsolated: boolean;
  /** Input address bits of its paging domains: aperture [0, 2^addrWidth - 1]. */
  readonly addrWidth: number;
  /** Page-size bitmap; the smallest size is the IOAS iova alignment its domains impose. */
  readonly pgsizes: bigint;
  /** Registers GET_HW_INFO reports (VT-d: cap_reg, ecap_reg; SMMUv3: IDR0-5, IIDR, AIDR). */
  readonly regs: readonly bigint[];
  /** VT-d: iommu_hw_info_vtd.flags. */
  readonly infoFlags: number;
  /** Driver-specific features: VT-d 'fl5lp', 'srs', 'eafs'; SMMUv3 's2fwb'. */
  readonly features: readonly string[];
}

/**
 * How a device was bound: VFIO_DEVICE_BIND_IOMMUFD through its cdev file
 * `file` into context `ctx`, or (`file` 0, no file's ID) through the legacy
 * group: the first VFIO_GROUP_GET_DEVICE_FD binds and attaches it to the
 * compat IOAS, the last of those files to close unbinds it (vfio_group.ts).
 */
export interface Binding {
  readonly file: number;
  readonly ctx: number;
  /** The DEVICE object (physical) or ACCESS object (emulated) ID: out_devid. */
  readonly obj: number;
  /** vdev->iommufd_attached */
  readonly attached: boolean;
}

/** A device with a VFIO cdev (/dev/vfio/devices/<cdev>). */
export interface PhysDev {
  readonly id: number;
  readonly name: string;
  readonly cdev: string;
  /** 'physical': iommufd_device_bind; 'emulated' (mdev): an in-kernel ACCESS object. */
  readonly kind: 'physical' | 'emulated';
  /** IOMMU instance (physical devices). */
  readonly iommu: number;
  readonly group: number;
  /** What the IOMMU driver reports for it (iommu_get_resv_regions). */
  readonly resv: readonly ResvRegion[];
  /** DEV_* bits. */
  readonly flags: number;
  readonly maxPasidLog2: number;
  /** Lifecycle (machines/device.machine.ts) as seen from the bound file, or from any file when unbound. */
  readonly state: DeviceState;
  /** Its open VFIO files: of its cdev, or from VFIO_GROUP_GET_DEVICE_FD. */
  readonly opens: number;
  /** device->open_count through the group: its files from VFIO_GROUP_GET_DEVICE_FD. */
  readonly groupOpens: number;
  readonly bound: Binding | null;
}

/** An iommu group and its VFIO group. */
export interface IommuGroup {
  /** The group's number; below 0 a VFIO group whose devices are all gone while its file stays open, minus that file's ID (deviceRemove). */
  readonly id: number;
  /** DMA owner (iommu_device_claim_dma_owner): the iommufd context, 0 when unowned. */
  readonly owner: number;
  readonly ownerCnt: number;
  /** A kernel user keeps the group on a non-default domain: claiming DMA ownership is EBUSY. */
  readonly kernelDomain: boolean;
  readonly msiIsolated: boolean;
  /** The legacy group file /dev/vfio/<id> is open (group->opened_file). */
  readonly legacyOpen: boolean;
  /** Devices of the group bound through their cdev (group->cdev_device_open_cnt). */
  readonly cdevOpenCnt: number;
  /** group->iommufd: the context VFIO_GROUP_SET_CONTAINER gave the group (it holds a reference to its file), 0 when none. */
  readonly iommufd: number;
}

export interface Hardware {
  readonly iommus: PMap<number, IommuInst>;
  readonly devs: PMap<number, PhysDev>;
  readonly groups: PMap<number, IommuGroup>;
  /** iommufd module parameter allow_unsafe_interrupts. */
  readonly allowUnsafeInterrupts: boolean;
}

const EMPTY: Hardware = Object.freeze({
  iommus: PMap.emptyNumber<IommuInst>(),
  devs: PMap.emptyNumber<PhysDev>(),
  groups: PMap.emptyNumber<IommuGroup>(),
  allowUnsafeInterrupts: false,
});
export const emptyHardware = (): Hardware => EMPTY;

/** Default group of a device_add without `group`: its own, numbered apart from listed ones. */
export const OWN_GROUP_BASE = 0x100000;

// ---- what the profile hooks see ------------------------------------------------

/** The hardware facts of a DEVICE object, for the profile hooks. */
export function devHw(w: World, dev: DeviceObj): DevHw {
  // A selftest mock device: behind the mock IOMMU, described by its MOCK_FLAGS_DEVICE_*.
  if (!dev.pdev) return { iommu: MOCK_IOMMU, mockFlags: dev.devFlags, flags: 0, maxPasidLog2: 0 };
  const p = w.hw.devs.get(dev.pdev);
  if (!p) throw new Error(`model bug: DEVICE ${dev.id} names missing device ${dev.pdev}`);
  const iommu = w.hw.iommus.get(p.iommu);
  if (!iommu) throw new Error(`model bug: device ${p.id} behind missing IOMMU ${p.iommu}`);
  return { iommu, mockFlags: 0, flags: p.flags, maxPasidLog2: p.maxPasidLog2 };
}

/** The reserved regions of a DEVICE object (mock devices have none). */
export function devResv(w: World, dev: DeviceObj): readonly ResvRegion[] {
  return dev.pdev ? (w.hw.devs.get(dev.pdev)?.resv ?? []) : [];
}

export function putDev(w: World, d: PhysDev): World {
  return { ...w, hw: { ...w.hw, devs: w.hw.devs.set(d.id, d) } };
}

export function putGroup(w: World, g: IommuGroup): World {
  return { ...w, hw: { ...w.hw, groups: w.hw.groups.set(g.id, g) } };
}

/** The device whose cdev is /dev/vfio/devices/<cdev>. */
export function devByCdev(w: World, cdev: string): PhysDev | undefined {
  let found: PhysDev | undefined;
  w.hw.devs.each((_id, d) => {
    if (d.cdev !== cdev) return true;
    found = d;
    return false;
  });
  return found;
}

/** A lifecycle step of a device, checked against machines/tables.ts; undefined = refused. */
export function deviceStep(state: DeviceState, ev: keyof (typeof DEVICE_TABLE)[DeviceState]): DeviceState | undefined {
  return DEVICE_TABLE[state][ev];
}

// ---- environment events --------------------------------------------------------

const fail = (w: World, errno: string): [World, Result] => [w, { errno }];

function big(v: Value | undefined, dflt: bigint): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return BigInt(v);
  return dflt;
}
const num = (v: Value | undefined, dflt: number): number => (v === undefined || v === null ? dflt : Number(big(v, BigInt(dflt))));
const bool = (v: Value | undefined, dflt: boolean): boolean => (typeof v === 'boolean' ? v : v === undefined || v === null ? dflt : !!num(v, 0));
const strs = (v: Value | undefined): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);

function isDriver(s: string): s is DriverName {
  return (DRIVER_NAMES as readonly string[]).includes(s);
}

/** An IOMMU instance from iommu_add (or from device_add naming only a driver): the profile's defaults, overridden field by field. */
function makeIommu(id: number, driver: DriverName, a: Fields): IommuInst {
  const d = PROFILES[driver].iommuDefaults;
  const inst = {
    id,
    driver,
    dirty: bool(a['dirty'], d.dirty),
    nesting: bool(a['nesting'], d.nesting),
    enforceCC: bool(a['enforce_cc'], d.enforceCC),
    msiIsolated: bool(a['msi_isolated'], d.msiIsolated),
    addrWidth: num(a['addr_width'], d.addrWidth),
    pgsizes: big(a['pgsizes'], d.pgsizes),
    infoFlags: num(a['info_flags'], d.infoFlags),
    features: strs(a['features']) ?? d.features,
  };
  const regs = Array.isArray(a['regs']) ? a['regs'].map((r) => big(r, 0n)) : driver === 'intel_vtd' ? vtdDefaultRegs(inst) : d.regs;
  return { ...inst, regs };
}

/** iommu_add { iommu, driver, dirty?, nesting?, enforce_cc?, msi_isolated?, addr_width?, pgsizes?, regs?, info_flags?, features? } */
function iommuAdd(w: World, _pid: number, a: Fields): [World, Result] {
  const id = num(a['iommu'], 0);
  const driver = String(a['driver'] ?? '');
  if (id <= 0 || !isDriver(driver) || driver === 'mock') return fail(w, 'EINVAL');
  if (w.hw.iommus.has(id)) return fail(w, 'EEXIST');
  const pg = big(a['pgsizes'], 1n);
  const aw = num(a['addr_width'], 48);
  if (pg === 0n || aw < 12 || aw > 64) return fail(w, 'EINVAL');
  return [{ ...w, hw: { ...w.hw, iommus: w.hw.iommus.set(id, makeIommu(id, driver, a)) } }, { errno: 0 }];
}

function parseResv(v: Value | undefined): ResvRegion[] | string {
  if (!Array.isArray(v)) return 'EINVAL';
  const out: ResvRegion[] = [];
  for (const r of v) {
    if (!r || typeof r !== 'object' || Array.isArray(r) || r instanceof Uint8Array) return 'EINVAL';
    const o = r as Fields;
    const type = String(o['type'] ?? 'reserved');
    if (!(RESV_TYPES as readonly string[]).includes(type)) return 'EINVAL';
    const start = big(o['start'], -1n);
    const last = o['last'] !== undefined ? big(o['last'], -1n) : start + big(o['length'], 0n) - 1n;
    if (start < 0n || last < start || last > 0xffffffffffffffffn) return 'EINVAL';
    out.push({ start, last, type: type as ResvType });
  }
  return out;
}

/**
 * device_add { dev, name?, cdev?, kind?, iommu?, driver?, group?, resv?,
 * flags?, max_pasid_log2?, msi_isolated?, kernel_domain? }: see README.
 */
function deviceAdd(w: World, _pid: number, a: Fields): [World, Result] {
  const id = num(a['dev'], 0);
  if (id <= 0) return fail(w, 'EINVAL');
  if (w.hw.devs.has(id)) return fail(w, 'EEXIST');
  const kind = String(a['kind'] ?? 'physical');
  if (kind !== 'physical' && kind !== 'emulated') return fail(w, 'EINVAL');
  let flags = 0;
  for (const f of strs(a['flags']) ?? []) {
    const bit = DEV_FLAG_NAMES[f];
    if (bit === undefined) return fail(w, 'EINVAL');
    flags |= bit;
  }
  let hw = w.hw;
  let iommuId = 0;
  let resv: ResvRegion[] = [];
  if (kind === 'physical') {
    iommuId = num(a['iommu'], 0);
    const driver = a['driver'] === undefined ? undefined : String(a['driver']);
    let inst = hw.iommus.get(iommuId);
    if (!inst) {
      // Naming a driver brings up an instance with that profile's defaults.
      if (iommuId <= 0 || driver === undefined || !isDriver(driver) || driver === 'mock') return fail(w, 'ENODEV');
      inst = makeIommu(iommuId, driver, {});
      hw = { ...hw, iommus: hw.iommus.set(iommuId, inst) };
    } else if (driver !== undefined && driver !== inst.driver) return fail(w, 'EINVAL');
    if (a['resv'] !== undefined) {
      const r = parseResv(a['resv']);
      if (typeof r === 'string') return fail(w, r);
      resv = r;
    } else resv = [...PROFILES[inst.driver].defaultResv];
  }
  const cdev = String(a['cdev'] ?? `vfio${id}`);
  if (devByCdev(w, cdev)) return fail(w, 'EEXIST');
  const groupId = num(a['group'], OWN_GROUP_BASE + id);
  // (an IOMMU group's number is an ida's: not negative; the model keys orphaned groups below 0)
  if (!Number.isSafeInteger(groupId) || groupId < 0) return fail(w, 'EINVAL');
  if (!hw.groups.has(groupId)) {
    const inst = hw.iommus.get(iommuId);
    const g: IommuGroup = {
      id: groupId,
      owner: 0,
      ownerCnt: 0,
      kernelDomain: bool(a['kernel_domain'], false),
      msiIsolated: bool(a['msi_isolated'], inst ? inst.msiIsolated : true),
      legacyOpen: false,
      cdevOpenCnt: 0,
      iommufd: 0,
    };
    hw = { ...hw, groups: hw.groups.set(groupId, g) };
  }
  const dev: PhysDev = {
    id,
    name: String(a['name'] ?? cdev),
    cdev,
    kind,
    iommu: iommuId,
    group: groupId,
    resv,
    flags,
    maxPasidLog2: num(a['max_pasid_log2'], 0),
    state: 'appeared',
    opens: 0,
    groupOpens: 0,
    bound: null,
  };
  return [{ ...w, hw: { ...hw, devs: hw.devs.set(id, dev) } }, { errno: 0 }];
}

/**
 * device_remove { dev }: vfio_unregister_group_dev waits until every file
 * of the device is closed; the model answers EBUSY instead of waiting.
 * The group goes with its last device.
 */
function deviceRemove(w: World, _pid: number, a: Fields): [World, Result] {
  const d = w.hw.devs.get(num(a['dev'], 0));
  if (!d) return fail(w, 'ENODEV');
  if (d.opens || !deviceStep(d.state, 'device_remove')) return fail(w, 'EBUSY');
  let hw = { ...w.hw, devs: w.hw.devs.delete(d.id) };
  let others = false;
  hw.devs.each((_id, o) => {
    others = o.group === d.group;
    return !others;
  });
  const g = hw.groups.get(d.group);
  if (others || !g) return [{ ...w, hw }, { errno: 0 }];
  hw = { ...hw, groups: hw.groups.delete(d.group) };
  if (!g.legacyOpen) return [{ ...w, hw }, { errno: 0 }];
  // vfio_device_remove_group: the group leaves vfio.group_list (a device added to the same IOMMU
  // group number later makes a new one) but lives on for its open file, with no iommu_group (the
  // file's calls: ENODEV) and the context it was given, until the file closes. It moves to a key of
  // its own, minus its file's ID (group numbers are not negative: device_add).
  let file: OpenFile | undefined;
  w.files.each((_id, f) => {
    if (f.kind === 'vfio_group' && f.group === d.group) file = f;
    return file === undefined;
  });
  if (!file) throw new Error(`model bug: group ${d.group} is open (legacyOpen) but no VFIO group file names it`);
  const key = -file.id;
  hw = { ...hw, groups: hw.groups.set(key, { ...g, id: key }) };
  return [{ ...w, hw, files: w.files.set(file.id, { ...file, group: key }) }, { errno: 0 }];
}

/** set_module_param { name: 'allow_unsafe_interrupts', value } */
function setModuleParam(w: World, _pid: number, a: Fields): [World, Result] {
  if (a['name'] !== 'allow_unsafe_interrupts') return fail(w, 'EINVAL');
  return [{ ...w, hw: { ...w.hw, allowUnsafeInterrupts: bool(a['value'], false) } }, { errno: 0 }];
}

export const hardwareOps: Record<string, (w: World, pid: number, a: Fields, ev: Event) => [World, Result]> = {
  iommu_add: iommuAdd,
  device_add: deviceAdd,
  device_remove: deviceRemove,
  set_module_param: setModuleParam,
};
