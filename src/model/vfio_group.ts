/**
 * The legacy VFIO group file, /dev/vfio/<group> (drivers/vfio/group.c,
 * drivers/vfio/iommufd.c, vfio_main.c), with an iommufd as its container:
 * how programs written against the VFIO container API (older QEMU, DPDK,
 * SPDK) get a device onto an iommufd. Read from the Linux 6.12 source; the
 * oracle's kernel has no VFIO device to check it against.
 *
 *   VFIO_GROUP_SET_CONTAINER {fd}       the int the argument points at: an
 *       iommufd's fd (a VFIO container is the same file when
 *       CONFIG_IOMMUFD_VFIO_CONTAINER makes /dev/vfio/vfio the iommufd; a
 *       trace names it /dev/iommu, since the model cannot tell which
 *       container /dev/vfio/vfio was: env.ts open). The group keeps a reference to the
 *       context, which gets a compat IOAS if it has none
 *       (iommufd_vfio_compat_ioas_create: an ordinary IOAS, its ID the lowest
 *       free one, IOMMU_VFIO_IOAS GET tells it).
 *   VFIO_GROUP_UNSET_CONTAINER {}       drops that reference (the devices
 *       opened through the group stay bound).
 *   VFIO_GROUP_GET_STATUS {argsz}       -> flags: CONTAINER_SET | VIABLE once
 *       a container is set, else VIABLE while nothing owns the group's DMA.
 *   VFIO_GROUP_GET_DEVICE_FD {name}     the string the argument points at, the
 *       device's name (device_add's `name`, its dev_name) -> ret: a new fd of
 *       the device. The first such file binds the device into the group's
 *       context (a DEVICE object, or an ACCESS object for an emulated device)
 *       and attaches it to the compat IOAS; more files of it change nothing,
 *       and the last one to close unbinds it. Its out_devid is nowhere to be
 *       read, but it takes an object ID all the same.
 *
 * `args: null` is an unreadable argument (EFAULT). The checks come in the
 * kernel's order; a refused call changes nothing (a failed attach unbinds
 * again, freeing the ID it took). Not modelled: noiommu groups (the model has
 * none), a VFIO type1 container proper, and device names with options
 * (vfio-pci's " vf_token=<uuid>") or of a VF, whose token check depends on
 * its PF's driver.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { CONSTANTS as VFIO, IOCTLS as VFIO_NUMBERS, STRUCTS as VFIO_STRUCTS } from '../uapi/generated_vfio.js';
import type { FieldLayout } from '../uapi/layout.js';
import { MemberCheck } from '../uapi/struct.js';
import { IOCTLS } from '../uapi/ioctls.js';
import { u32 } from './args.js';
import { accessChangeIoas } from './access.js';
import { deviceAttach } from './device.js';
import { DEV_PCI, DEV_VF } from './drivers/index.js';
import { fileAt, holdFile, installFile, putFile } from './files.js';
import { newIoas } from './ioas.js';
import { deviceStep, putDev, putGroup, type IommuGroup, type PhysDev } from './hardware.js';
import { PAGE_SIZE } from './mm.js';
import { Tx } from './object.js';
import { table } from '../ds/table.js';
import { compatIoas } from './vfio_compat.js';
import { bindIommufd, unbindIommufd } from './vfio_device.js';
import type { OpenFile, World } from './state.js';

const fail = (w: World, errno: string): [World, Result] => [w, { errno }];

const GROUP_OPS: Record<number, string> = {
  [VFIO_NUMBERS.VFIO_GROUP_GET_STATUS]: 'VFIO_GROUP_GET_STATUS',
  [VFIO_NUMBERS.VFIO_GROUP_SET_CONTAINER]: 'VFIO_GROUP_SET_CONTAINER',
  [VFIO_NUMBERS.VFIO_GROUP_UNSET_CONTAINER]: 'VFIO_GROUP_UNSET_CONTAINER',
  [VFIO_NUMBERS.VFIO_GROUP_GET_DEVICE_FD]: 'VFIO_GROUP_GET_DEVICE_FD',
};

/**
 * group->iommu_group is NULL: the group's last device went while its file
 * stayed open (vfio_device_remove_group); hardware.ts deviceRemove keys such
 * a group apart, below 0, and /dev/vfio/<its number> is gone.
 */
export const detached = (g: IommuGroup): boolean => g.id < 0;

/** vfio_group_fops_unl_ioctl for one event on a group file. */
export function vfioGroupIoctl(w: World, fileId: number, pid: number, ev: Event): [World, Result] {
  const f = w.files.get(fileId)!;
  const g = w.hw.groups.get(f.group!);
  if (!g) throw new Error(`model bug: VFIO group file ${fileId} of missing group ${f.group}`);
  let op = ev.op;
  if (op === 'RAW_IOCTL') {
    op = GROUP_OPS[Number(ev.args?.['request'] ?? 0)] ?? 'RAW_IOCTL';
    // A record with the argument's fields (`payload`) is the named event. The int and the string
    // the other three point at are not in a raw record's bytes: such a call is not answered.
    const payload = ev.args?.['payload'] as Fields | null | undefined;
    if (op !== 'RAW_IOCTL' && payload === undefined && op !== 'VFIO_GROUP_UNSET_CONTAINER')
      return [w, { errno: 'ENOTTY', unmodelled: `${op} as a raw record: what its argument points at is not in it` }];
    if (op !== 'RAW_IOCTL') ev = { ...ev, op, args: payload === undefined ? {} : payload };
  }
  // (arguments the op's argument cannot hold: said so, as main.ts does for the iommufd's ioctls)
  const bad = ev.args ? argMisfit(op, ev.args) : undefined;
  if (bad) return [w, { errno: 'EINVAL', unmodelled: `${op} with arguments its argument cannot hold: ${bad}` }];
  switch (op) {
    case 'VFIO_GROUP_GET_DEVICE_FD':
      return getDeviceFd(w, g, pid, ev);
    case 'VFIO_GROUP_GET_STATUS':
      return getStatus(w, g, ev);
    case 'VFIO_GROUP_SET_CONTAINER':
      return setContainer(w, g, pid, ev);
    case 'VFIO_GROUP_UNSET_CONTAINER':
      // vfio_group_ioctl_unset_container: only 1 -> 0 (a VFIO container's other users do not arise here).
      if (!g.iommufd) return fail(w, 'EINVAL');
      return [putCtxRef(putGroup(w, { ...g, iommufd: 0 }), g.iommufd), { errno: 0 }];
    default:
      return fail(w, 'ENOTTY');
  }
}

/**
 * What each op's argument can hold: GET_STATUS a struct vfio_group_status,
 * SET_CONTAINER the int it points at (`fd`), UNSET_CONTAINER nothing (its
 * argument is unused), GET_DEVICE_FD the string it points at (`name`).
 */
const CHECKS: Record<string, MemberCheck> = table({
  VFIO_GROUP_GET_STATUS: new MemberCheck([VFIO_STRUCTS.vfio_group_status.fields], 'vfio_group_status'),
  VFIO_GROUP_SET_CONTAINER: new MemberCheck([[{ name: 'fd', type: 's32', offset: 0, size: 4 } satisfies FieldLayout]], 'the int'),
  VFIO_GROUP_UNSET_CONTAINER: new MemberCheck([[]], 'no argument'),
});

function argMisfit(op: string, args: Fields): string | undefined {
  if (op === 'VFIO_GROUP_GET_DEVICE_FD') {
    for (const k in args) if (k !== 'name') return `the string has no member '${k}'`;
    return args['name'] === undefined || typeof args['name'] === 'string' ? undefined : 'name is a string';
  }
  return CHECKS[op]?.misfit(args);
}

/** iommufd_ctx_put of the group's context: one reference to its file. */
function putCtxRef(w: World, ctxId: number): World {
  return putFile(w, w.ctxs.get(ctxId)!.file);
}

/** vfio_group_ioctl_get_status */
function getStatus(w: World, g: IommuGroup, ev: Event): [World, Result] {
  if (ev.args === null) return fail(w, 'EFAULT');
  const minsz = IOCTLS.VFIO_GROUP_GET_STATUS.minSize;
  const argsz = ev.args['argsz'] !== undefined ? u32(ev.args, 'argsz') : (ev.size ?? minsz);
  if (argsz < minsz) return fail(w, 'EINVAL');
  if (detached(g)) return fail(w, 'ENODEV');
  // With an iommufd, DMA ownership is claimed at GET_DEVICE_FD, so VIABLE may be set where that
  // then fails (the kernel's own comment); without a container, viable while nobody owns the group.
  const flags = g.iommufd ? VFIO.VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO.VFIO_GROUP_FLAGS_VIABLE : g.ownerCnt === 0 ? VFIO.VFIO_GROUP_FLAGS_VIABLE : 0;
  return [w, { errno: 0, out: { argsz, flags } }];
}

/** vfio_group_ioctl_set_container with an iommufd */
function setContainer(w: World, g: IommuGroup, pid: number, ev: Event): [World, Result] {
  if (ev.args === null) return fail(w, 'EFAULT');
  const f = fileAt(w, pid, u32(ev.args, 'fd') | 0);
  if (!f) return fail(w, 'EBADF');
  if (g.iommufd) return fail(w, 'EINVAL');
  if (detached(g)) return fail(w, 'ENODEV');
  // iommufd_ctx_from_file: only the iommufd itself (not its fault or access fds).
  if (f.kind !== 'iommufd' || f.ctx === undefined) return fail(w, 'EBADFD');
  const ctx = w.ctxs.get(f.ctx)!;
  const tx = new Tx(w, ctx, pid);
  // iommufd_vfio_compat_ioas_create: a new IOAS unless one is set (its ID then allocated and freed).
  if (!compatIoas(tx)) {
    const ioas = newIoas(tx);
    if (!ioas) return fail(w, 'EBUSY');
    tx.ctx = { ...tx.ctx, vfioIoas: ioas.id };
  }
  // the reference iommufd_ctx_from_file took, kept as group->iommufd
  return [holdFile(putGroup(tx.commit(), { ...g, iommufd: ctx.id }), ctx.file), { errno: 0 }];
}

/** vfio_group_ioctl_get_device_fd -> vfio_device_open_file -> vfio_df_group_open */
function getDeviceFd(w: World, g: IommuGroup, pid: number, ev: Event): [World, Result] {
  // strndup_user(arg, PAGE_SIZE): unreadable EFAULT; the string up to its NUL, which must come
  // within a page (EINVAL).
  const raw = ev.args?.['name'];
  if (ev.args === null || typeof raw !== 'string') return fail(w, 'EFAULT');
  const nul = raw.indexOf('\0');
  const name = nul < 0 ? raw : raw.slice(0, nul);
  if (Buffer.byteLength(name) + 1 > Number(PAGE_SIZE)) return fail(w, 'EINVAL');
  // vfio_device_get_from_name: strcmp of dev_name, or the driver's match (vfio-pci: the name, then options).
  let p: PhysDev | undefined;
  let optioned = false;
  w.hw.devs.each((_id, d) => {
    if (d.group !== g.id) return true;
    if (d.name === name) p = d;
    else if (d.kind === 'physical' && d.flags & DEV_PCI && name.startsWith(d.name + ' ')) optioned = true;
    return p === undefined;
  });
  if (!p && optioned) return [w, { errno: 'EINVAL', unmodelled: `VFIO_GROUP_GET_DEVICE_FD of "${name}": vfio-pci's name options (vf_token) are not modelled` }];
  if (!p) return fail(w, 'ENODEV');
  if (p.kind === 'physical' && p.flags & DEV_VF)
    return [w, { errno: 'EACCES', unmodelled: `VFIO_GROUP_GET_DEVICE_FD of VF "${name}": its VF token check depends on its PF's driver, which the model does not know` }];
  // vfio_df_group_open
  if (!g.iommufd) return fail(w, 'EINVAL');
  const next = deviceStep(p.state, 'VFIO_GROUP_GET_DEVICE_FD');
  // (a device bound through its cdev keeps the group file from opening: vfio_group_fops_open)
  if (!next) throw new Error(`model bug: VFIO_GROUP_GET_DEVICE_FD of device ${p.id} in state ${p.state}`);
  let bound = p.bound;
  if (p.groupOpens === 0) {
    // vfio_df_open -> first open: bind_iommufd into the group's context, then the compat attach.
    const ctx = w.ctxs.get(g.iommufd)!;
    const tx = new Tx(w, ctx, pid);
    const obj = bindIommufd(tx, p);
    if (typeof obj === 'string') return fail(w, obj);
    // vfio_iommufd_compat_attach_ioas: the compat IOAS (ENODEV without one), then attach_ioas.
    const ioasId = compatIoas(tx);
    if (!ioasId) return fail(w, 'ENODEV');
    if (p.kind === 'physical') {
      const r = deviceAttach(tx, obj, ioasId);
      if (tx.beyondModel) return [w, { errno: 'EOPNOTSUPP', unmodelled: tx.beyondModel }];
      // (a failed attach closes the device again: unbind, the DEVICE and its ID gone)
      if (typeof r === 'string') return fail(w, r);
    } else {
      const e = accessChangeIoas(tx, obj, ioasId);
      if (e) return fail(w, e);
    }
    bound = { file: 0, ctx: ctx.id, obj, attached: true };
    // the DEVICE's (ACCESS's) iommufd_ctx_get; the group path's file holds no reference of its own
    w = holdFile(tx.commit(), ctx.file);
  }
  const [w2, fd] = installFile(w, pid, { kind: 'vfio', dev: p.id, viaGroup: true });
  const cur = w2.hw.devs.get(p.id)!;
  return [putDev(w2, { ...cur, opens: cur.opens + 1, groupOpens: cur.groupOpens + 1, bound, state: next }), { errno: 0, ret: fd }];
}

/** vfio_group_fops_release: the group lets go of its context. */
export function vfioGroupRelease(w: World, f: OpenFile): World {
  const g = w.hw.groups.get(f.group!);
  if (!g) return w;
  // A group whose last device went while this file was open goes with it (vfio_group_release).
  w = !detached(g) ? putGroup(w, { ...g, legacyOpen: false, iommufd: 0 }) : { ...w, hw: { ...w.hw, groups: w.hw.groups.delete(g.id) } };
  return g.iommufd ? putCtxRef(w, g.iommufd) : w;
}

/** vfio_df_group_close: the last of the device's group files closes it (unbind: detach, destroy the object, its context reference). */
export function vfioGroupDeviceRelease(w: World, p: PhysDev): World {
  p = { ...p, opens: p.opens - 1, groupOpens: p.groupOpens - 1 };
  const b = p.bound;
  if (p.groupOpens > 0 || !b || b.file !== 0) return putDev(w, p);
  return unbindIommufd(w, p);
}
