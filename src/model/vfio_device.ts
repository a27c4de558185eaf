/**
 * A device's VFIO cdev, /dev/vfio/devices/<cdev> (drivers/vfio/device_cdev.c,
 * drivers/vfio/iommufd.c, vfio_main.c: vfio_device_fops_unl_ioctl;
 * kernel-semantics §5.1), and the legacy VFIO group file /dev/vfio/<group>
 * as far as it excludes the cdev (group.c: vfio_device_block_group); its
 * ioctls, and the device files they open, are vfio_group.ts's.
 *
 * Events on a cdev fd: VFIO_DEVICE_BIND_IOMMUFD {argsz, flags, iommufd}
 * -> out_devid; VFIO_DEVICE_ATTACH_IOMMUFD_PT {argsz, flags, pt_id} ->
 * pt_id; VFIO_DEVICE_DETACH_IOMMUFD_PT {argsz, flags}. VFIO reads only the
 * first minsz bytes (argsz below minsz: EINVAL; larger: no E2BIG); without
 * an `argsz` field `ev.size` (then sizeof) stands in for it; `args: null`
 * is an unreadable argument (EFAULT).
 *
 * The device's lifecycle state (machines/device.machine.ts) decides what a
 * file may do: a missing transition in DEVICE_TABLE is the kernel's refusal
 * (EINVAL: "not bound", "bound twice"). A physical device binds a DEVICE
 * object (device.ts: deviceBind), an emulated one (mdev) an ACCESS object.
 * A bound file holds its iommufd context twice (the file reference the bind
 * took, and the DEVICE's or ACCESS's iommufd_ctx_get); closing it unbinds:
 * detach, destroy the object, drop both.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { STRUCTS as VFIO_STRUCTS } from '../uapi/generated_vfio.js';
import { IOCTLS } from '../uapi/ioctls.js';
import { MemberCheck } from '../uapi/struct.js';
import { table } from '../ds/table.js';
import type { StructLayout } from '../uapi/layout.js';
import { u32 } from './args.js';
import { accessChangeIoas, accessCreateUnattached, accessDetach } from './access.js';
import { deviceAttach, deviceBind, deviceDetach, deviceReplace } from './device.js';
import { fileAt, holdFile, installFile, putFile } from './files.js';
import { devByCdev, deviceStep, putDev, putGroup, type PhysDev } from './hardware.js';
import { destroyObject } from './lifecycle.js';
import { vfioGroupDeviceRelease, vfioGroupRelease } from './vfio_group.js';
import { Tx } from './object.js';
import type { OpenFile, World } from './state.js';
import type { DeviceState } from '../../machines/tables.js';

const fail = (w: World, errno: string): [World, Result] => [w, { errno }];

/**
 * The lifecycle state a file of the device sees: the bound file sees the
 * device's state; any other file sees it unbound (appeared, or closed once
 * some binding was closed), so that only the bound file passes the
 * `access_granted` check.
 */
export function deviceView(p: PhysDev, fileId: number): DeviceState {
  if (p.bound?.file === fileId) return p.state;
  return p.state === 'closed' ? 'closed' : 'appeared';
}

// ---- open / release ---------------------------------------------------------------

/** Whether a VFIO node (a device's cdev, a group) is there: open's lookup finds a file. */
export function vfioNodeExists(w: World, path: string): boolean {
  const m = /^\/dev\/vfio\/(?:devices\/(.+)|(\d+))$/.exec(path);
  if (!m) return false;
  return m[1] !== undefined ? devByCdev(w, m[1]) !== undefined : w.hw.groups.has(Number(m[2]));
}

/**
 * open(2) of a path under /dev/vfio/: a device cdev (vfio_device_fops_cdev_open)
 * or a legacy group file (vfio_group_fops_open: EBUSY while open, or while a
 * device of the group is bound through its cdev). Undefined for other paths.
 */
export function vfioOpen(w: World, pid: number, path: string): [World, Result] | undefined {
  const m = /^\/dev\/vfio\/(?:devices\/(.+)|(\d+))$/.exec(path);
  if (!m) return undefined;
  if (m[1] !== undefined) {
    const p = devByCdev(w, m[1]);
    if (!p) return fail(w, 'ENOENT');
    const next = deviceStep(p.state, 'open');
    if (!next) return fail(w, 'ENODEV');
    const [w2, fd] = installFile(w, pid, { kind: 'vfio', dev: p.id });
    return [putDev(w2, { ...p, opens: p.opens + 1, state: next }), { errno: 0, ret: fd }];
  }
  // (the node goes with the group's last device, though an open file keeps the group, under
  // another key: hardware.ts deviceRemove)
  const g = w.hw.groups.get(Number(m[2]));
  if (!g) return fail(w, 'ENOENT');
  if (g.cdevOpenCnt || g.legacyOpen) return fail(w, 'EBUSY');
  const [w2, fd] = installFile(w, pid, { kind: 'vfio_group', group: g.id });
  return [putGroup(w2, { ...g, legacyOpen: true }), { errno: 0, ret: fd }];
}

/** df->access_granted: this VFIO device file is the one bound, or came from the group (its read, write and mmap reach the driver only then). */
export function accessGranted(w: World, f: OpenFile): boolean {
  return f.dev !== undefined && (f.viaGroup === true || w.hw.devs.get(f.dev)?.bound?.file === f.id);
}

/** The last reference to a VFIO file went (vfio_device_fops_release, vfio_group_fops_release). */
export function vfioRelease(w: World, f: OpenFile): World {
  if (f.kind === 'vfio_group') return vfioGroupRelease(w, f);
  if (f.viaGroup) return vfioGroupDeviceRelease(w, w.hw.devs.get(f.dev!)!);
  let p = w.hw.devs.get(f.dev!)!;
  p = { ...p, opens: p.opens - 1 };
  const b = p.bound;
  if (!b || b.file !== f.id) return putDev(w, p);
  const g = w.hw.groups.get(p.group)!;
  return unbindIommufd(putGroup(w, { ...g, cdevOpenCnt: g.cdevOpenCnt - 1 }), p);
}

/**
 * vfio_df_close -> unbind_iommufd of a bound device `p` (physical: detach,
 * then unbind): its DEVICE (ACCESS) destroyed, the device unbound and closed,
 * and the binding's context references dropped: the object's, and for a
 * cdev binding the file's own too (iommufd_ctx_put twice). The cdev's last
 * close and the group path's last device file both come here.
 */
export function unbindIommufd(w: World, p: PhysDev): World {
  const b = p.bound!;
  const tx = new Tx(w, w.ctxs.get(b.ctx)!, 0);
  destroyObject(tx, b.obj);
  w = putDev(tx.commit(), { ...p, bound: null, state: deviceStep(p.state, 'close')! });
  const ctxFile = w.ctxs.get(b.ctx)!.file;
  w = putFile(w, ctxFile);
  return b.file === 0 ? w : putFile(w, ctxFile);
}

// ---- ioctls -----------------------------------------------------------------

const CDEV_OPS: Record<number, string> = {
  [IOCTLS.VFIO_DEVICE_BIND_IOMMUFD.cmd]: 'VFIO_DEVICE_BIND_IOMMUFD',
  [IOCTLS.VFIO_DEVICE_ATTACH_IOMMUFD_PT.cmd]: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
  [IOCTLS.VFIO_DEVICE_DETACH_IOMMUFD_PT.cmd]: 'VFIO_DEVICE_DETACH_IOMMUFD_PT',
};

function argszOf(ev: Event, l: StructLayout): number {
  const a = ev.args!;
  if (a['argsz'] !== undefined) return u32(a, 'argsz');
  return ev.size ?? l.size;
}

const CHECKS: Record<string, MemberCheck> = table({
  VFIO_DEVICE_BIND_IOMMUFD: new MemberCheck([VFIO_STRUCTS.vfio_device_bind_iommufd.fields], 'vfio_device_bind_iommufd'),
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: new MemberCheck([VFIO_STRUCTS.vfio_device_attach_iommufd_pt.fields], 'vfio_device_attach_iommufd_pt'),
  VFIO_DEVICE_DETACH_IOMMUFD_PT: new MemberCheck([VFIO_STRUCTS.vfio_device_detach_iommufd_pt.fields], 'vfio_device_detach_iommufd_pt'),
});

/** vfio_device_fops_unl_ioctl for one event on a cdev file. */
export function vfioDeviceIoctl(w: World, fileId: number, pid: number, ev: Event): [World, Result] {
  const f = w.files.get(fileId)!;
  const p = w.hw.devs.get(f.dev!);
  if (!p) throw new Error(`model bug: VFIO file ${fileId} of missing device ${f.dev}`);
  let op = ev.op;
  if (op === 'RAW_IOCTL') {
    op = CDEV_OPS[Number(ev.args?.['request'] ?? 0)] ?? 'RAW_IOCTL';
    if (op !== 'RAW_IOCTL') ev = { ...ev, op, args: (ev.args?.['payload'] as Fields | null | undefined) ?? null };
  }
  // (arguments no such struct holds: said so, as main.ts does for the iommufd's ioctls)
  const check = ev.args ? CHECKS[op] : undefined;
  const bad = check?.misfit(ev.args!);
  if (bad) return [w, { errno: 'EINVAL', unmodelled: `${op} with arguments no such struct holds: ${bad}` }];
  const view = deviceView(p, fileId);
  if (op === 'VFIO_DEVICE_BIND_IOMMUFD') return bind(w, f, p, view, pid, ev);
  // A file from the group: ATTACH and DETACH are cdev-only, so they reach the driver's ioctl as well.
  if (f.viaGroup) return driverIoctl(op) ? [w, { errno: 'ENOTTY', unmodelled: op }] : fail(w, 'ENOTTY');
  // Paired with the bind's access_granted: nothing else is allowed before it.
  if (!p.bound || p.bound.file !== fileId) return fail(w, 'EINVAL');
  if (op === 'VFIO_DEVICE_ATTACH_IOMMUFD_PT') return attach(w, p, view, pid, ev);
  if (op === 'VFIO_DEVICE_DETACH_IOMMUFD_PT') return detach(w, p, view, pid, ev);
  // The driver's own ioctls (GET_INFO, regions, irqs, ...) are not modelled; an iommufd ioctl is ENOTTY there.
  if (driverIoctl(op)) return [w, { errno: 'ENOTTY', unmodelled: op }];
  return fail(w, 'ENOTTY');
}

/**
 * Whether the VFIO driver's own ioctl decides an op on a device file (not
 * modelled): VFIO numbers carry no size or direction (_IO(VFIO_TYPE,
 * VFIO_BASE + n)), so the container's VFIO_IOMMU_GET_INFO (+12) is
 * vfio-pci's GET_PCI_HOT_RESET_INFO. Only the container's and the group's
 * first seven (+0..+6, below VFIO_DEVICE_GET_INFO) are no driver's: ENOTTY
 * (vfio_pci_core_ioctl's default), as for any iommufd ioctl.
 */
function driverIoctl(op: string): boolean {
  return op === 'RAW_IOCTL' || (op.startsWith('VFIO_') && !NO_DRIVER_HAS.has(op));
}
const NO_DRIVER_HAS: ReadonlySet<string> = new Set([
  'VFIO_GET_API_VERSION',
  'VFIO_CHECK_EXTENSION',
  'VFIO_SET_IOMMU',
  'VFIO_GROUP_GET_STATUS',
  'VFIO_GROUP_SET_CONTAINER',
  'VFIO_GROUP_UNSET_CONTAINER',
  'VFIO_GROUP_GET_DEVICE_FD',
]);

/** vfio_df_ioctl_bind_iommufd (§5.1). */
function bind(w: World, f: OpenFile, p: PhysDev, view: DeviceState, pid: number, ev: Event): [World, Result] {
  if (ev.args === null) return fail(w, 'EFAULT');
  const a = ev.args;
  const minsz = IOCTLS.VFIO_DEVICE_BIND_IOMMUFD.minSize;
  const ifd = u32(a, 'iommufd') | 0;
  if (argszOf(ev, VFIO_STRUCTS.vfio_device_bind_iommufd) < minsz || u32(a, 'flags') || ifd < 0) return fail(w, 'EINVAL');
  // BIND_IOMMUFD only allowed for cdev fds
  if (f.viaGroup) return fail(w, 'EINVAL');
  // vfio_device_block_group: not while the group's legacy file is open.
  const g = w.hw.groups.get(p.group)!;
  if (g.legacyOpen) return fail(w, 'EBUSY');
  // df->access_granted: this file is bound already.
  const next = deviceStep(view, 'VFIO_DEVICE_BIND_IOMMUFD');
  if (!next) return fail(w, 'EINVAL');
  // iommufd_ctx_from_fd
  const ictx = fileAt(w, pid, ifd);
  if (!ictx) return fail(w, 'EBADF');
  if (ictx.kind !== 'iommufd' || ictx.ctx === undefined) return fail(w, 'EBADFD');
  // vfio_df_open: only the legacy group path may open a device twice.
  if (p.bound) return fail(w, 'EINVAL');
  const tx = new Tx(w, w.ctxs.get(ictx.ctx)!, pid);
  const obj = bindIommufd(tx, p);
  if (typeof obj === 'string') return fail(w, obj);
  w = tx.commit();
  const g2 = w.hw.groups.get(p.group)!;
  w = putGroup(w, { ...g2, cdevOpenCnt: g2.cdevOpenCnt + 1 });
  w = putDev(w, { ...w.hw.devs.get(p.id)!, bound: { file: f.id, ctx: ictx.ctx, obj, attached: false }, state: next });
  // The file's reference (fget in iommufd_ctx_from_fd) and the object's (iommufd_ctx_get).
  w = holdFile(w, ictx.id, 2);
  return [w, { errno: 0, out: { out_devid: obj } }];
}

/**
 * vdev->ops->bind_iommufd into the Tx's context: a physical device's DEVICE object
 * (vfio_iommufd_physical_bind), an emulated one's ACCESS (vfio_iommufd_emulated_bind).
 * The object's ID, or the errno. The cdev's BIND and the group's first GET_DEVICE_FD both come here.
 */
export function bindIommufd(tx: Tx, p: PhysDev): number | string {
  if (p.kind === 'physical') {
    const dev = deviceBind(tx, p.id);
    return typeof dev === 'string' ? dev : dev.id;
  }
  const acc = accessCreateUnattached(tx);
  return acc ? acc.id : 'EBUSY';
}

/** vfio_df_ioctl_attach_pt -> vfio_iommufd_physical_attach_ioas / _emulated_attach_ioas (§5.1). */
function attach(w: World, p: PhysDev, view: DeviceState, pid: number, ev: Event): [World, Result] {
  if (ev.args === null) return fail(w, 'EFAULT');
  const a = ev.args;
  if (argszOf(ev, VFIO_STRUCTS.vfio_device_attach_iommufd_pt) < IOCTLS.VFIO_DEVICE_ATTACH_IOMMUFD_PT.minSize || u32(a, 'flags')) return fail(w, 'EINVAL');
  const next = deviceStep(view, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT');
  if (!next) return fail(w, 'EINVAL');
  const b = p.bound!;
  const tx = new Tx(w, w.ctxs.get(b.ctx)!, pid);
  const ptId = u32(a, 'pt_id');
  let out = ptId;
  if (p.kind === 'physical') {
    // Attached already: iommufd_device_replace.
    const r = b.attached ? deviceReplace(tx, b.obj, ptId) : deviceAttach(tx, b.obj, ptId);
    if (tx.beyondModel) return [w, { errno: 'EOPNOTSUPP', unmodelled: tx.beyondModel }];
    // (a refused replace within one IOAS keeps what its error path did: device.ts doReplace)
    if (typeof r === 'string') return tx.keepOnError ? [tx.commit(), { errno: r }] : fail(w, r);
    out = r;
  } else {
    // iommufd_access_attach / _replace (iommufd_access_change_ioas_id): pt_id must be an IOAS
    // (ENOENT), the same one changes nothing; it is written back unchanged.
    if (!tx.get(ptId, 'ioas')) return fail(w, 'ENOENT');
    if (tx.get(b.obj, 'access')!.ioas !== ptId) {
      const e = accessChangeIoas(tx, b.obj, ptId);
      if (e) return fail(w, e);
    }
  }
  w = tx.commit();
  w = putDev(w, { ...w.hw.devs.get(p.id)!, bound: { ...b, attached: true }, state: next });
  return [w, { errno: 0, out: { pt_id: out } }];
}

/** vfio_df_ioctl_detach_pt: detaches if attached; never fails once the arguments pass. */
function detach(w: World, p: PhysDev, view: DeviceState, pid: number, ev: Event): [World, Result] {
  if (ev.args === null) return fail(w, 'EFAULT');
  const a = ev.args;
  if (argszOf(ev, VFIO_STRUCTS.vfio_device_detach_iommufd_pt) < IOCTLS.VFIO_DEVICE_DETACH_IOMMUFD_PT.minSize || u32(a, 'flags')) return fail(w, 'EINVAL');
  const next = deviceStep(view, 'VFIO_DEVICE_DETACH_IOMMUFD_PT');
  if (!next) return fail(w, 'EINVAL');
  const b = p.bound!;
  if (b.attached) {
    const tx = new Tx(w, w.ctxs.get(b.ctx)!, pid);
    if (p.kind === 'physical') deviceDetach(tx, b.obj);
    else accessDetach(tx, b.obj);
    w = tx.commit();
  }
  w = putDev(w, { ...w.hw.devs.get(p.id)!, bound: { ...b, attached: false }, state: next });
  return [w, { errno: 0 }];
}
