/**
 * The lifecycle of a VFIO device as iommufd sees it through the device's
 * cdev (drivers/vfio/device_cdev.c, drivers/vfio/iommufd.c,
 * drivers/iommu/iommufd/device.c; kernel-semantics §5.1, §5.6).
 *
 *   appeared --BIND--> bound --ATTACH--> attached --DETACH--> detached
 *        \                \                 |  ^ ATTACH (replace)  |
 *         \                `----close-------+--+---------close-----+--> closed
 *          `--device_remove--> removed        closed --BIND--> bound
 *
 * The state is the device's as seen from one open file of its cdev: the
 * file that bound it sees bound / attached / detached; any other file sees
 * appeared (or closed, once a binding was closed), so that ATTACH on a file
 * that did not BIND is refused like the kernel's `access_granted` check.
 *
 * Through the legacy group file (drivers/vfio/group.c) there is one more way
 * in: VFIO_GROUP_GET_DEVICE_FD opens a device file that is bound and attached
 * to the compat IOAS at once (the first one; later ones, while it is open,
 * change nothing), and the last such file to close unbinds it:
 *
 *   appeared / closed --VFIO_GROUP_GET_DEVICE_FD--> attached --close--> closed
 *
 * Events are named after what causes them: the three VFIO cdev ioctls and
 * the group's GET_DEVICE_FD by their uAPI macro, `open` (another open(2) of
 * the cdev: it changes nothing), `close` (the last reference to the bound
 * file goes, or the last of the group's files: unbind),
 * `device_remove` (the device goes away; only possible while no file of it
 * is open). A missing transition is a refusal: the reducer answers it with
 * the kernel's errno (EINVAL for "not bound", EBUSY for removal while open).
 *
 * No context, no guards, no actions, no timers: the transition function is
 * a pure function of (state, event type), which is what lets
 * machines/tables.ts turn it into a plain lookup table.
 * Paste this file into https://stately.ai/viz to see it.
 */
import { setup } from 'xstate';

export const DEVICE_EVENTS = ['open', 'VFIO_DEVICE_BIND_IOMMUFD', 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'VFIO_DEVICE_DETACH_IOMMUFD_PT', 'VFIO_GROUP_GET_DEVICE_FD', 'close', 'device_remove'] as const;
export type DeviceEventType = (typeof DEVICE_EVENTS)[number];
export type DeviceEvent = { type: DeviceEventType };
export const DEVICE_STATES = ['appeared', 'bound', 'attached', 'detached', 'closed', 'removed'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

export const deviceMachine = setup({
  types: { events: {} as DeviceEvent },
}).createMachine({
  id: 'device',
  initial: 'appeared',
  states: {
    appeared: {
      on: { open: 'appeared', VFIO_DEVICE_BIND_IOMMUFD: 'bound', VFIO_GROUP_GET_DEVICE_FD: 'attached', device_remove: 'removed' },
    },
    bound: {
      on: { open: 'bound', VFIO_DEVICE_ATTACH_IOMMUFD_PT: 'attached', VFIO_DEVICE_DETACH_IOMMUFD_PT: 'bound', close: 'closed' },
    },
    attached: {
      // ATTACH while attached is iommufd_device_replace (vfio_iommufd_physical_attach_ioas).
      // (VFIO_GROUP_GET_DEVICE_FD here is another file of a device the group path opened: open_count + 1.)
      on: { open: 'attached', VFIO_DEVICE_ATTACH_IOMMUFD_PT: 'attached', VFIO_DEVICE_DETACH_IOMMUFD_PT: 'detached', VFIO_GROUP_GET_DEVICE_FD: 'attached', close: 'closed' },
    },
    detached: {
      on: { open: 'detached', VFIO_DEVICE_ATTACH_IOMMUFD_PT: 'attached', VFIO_DEVICE_DETACH_IOMMUFD_PT: 'detached', close: 'closed' },
    },
    closed: {
      on: { open: 'closed', VFIO_DEVICE_BIND_IOMMUFD: 'bound', VFIO_GROUP_GET_DEVICE_FD: 'attached', device_remove: 'removed' },
    },
    removed: { type: 'final' },
  },
});
