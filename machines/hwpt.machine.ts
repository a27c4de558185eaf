/**
 * The lifecycle of a HW pagetable object (HWPT_PAGING or HWPT_NESTED),
 * drivers/iommu/iommufd/hw_pagetable.c and device.c (kernel-semantics §2.6,
 * §5.3-§5.6, §6).
 *
 * Two kinds, two sub-machines:
 * - `manual`: made by IOMMU_HWPT_ALLOC (paging or nested). It lives until
 *   IOMMU_DESTROY, which is only possible while no device is attached.
 * - `auto`: made by attaching a device to an IOAS (iommufd_device_auto_get_domain).
 *   It exists only while a device is attached: the last detach (or replace
 *   away) destroys it (iommufd_hw_pagetable_put), and no IOMMU_DESTROY can
 *   reach it while attached (the device's reference makes it EBUSY).
 *
 * `attach` / `detach` are one device joining or leaving; `detach_last` is the
 * last device leaving. IOMMU_DESTROY stands for every destroy of the object
 * through its ID (the ioctl, and context release).
 * A missing transition is a model bug: the reducers check every lifecycle
 * step they take against machines/tables.ts and throw if it is not there.
 * Paste this file into https://stately.ai/viz to see it.
 */
import { setup } from 'xstate';

export const HWPT_EVENTS = ['IOMMU_HWPT_ALLOC', 'auto_alloc', 'attach', 'detach', 'detach_last', 'IOMMU_DESTROY'] as const;
export type HwptEventType = (typeof HWPT_EVENTS)[number];
export type HwptEvent = { type: HwptEventType };
export const HWPT_STATES = ['unallocated', 'manual.detached', 'manual.attached', 'auto.attached', 'destroyed'] as const;
export type HwptState = (typeof HWPT_STATES)[number];

export const hwptMachine = setup({
  types: { events: {} as HwptEvent },
}).createMachine({
  id: 'hwpt',
  initial: 'unallocated',
  states: {
    unallocated: {
      // auto_alloc: the device that caused it is attached when it is published.
      on: { IOMMU_HWPT_ALLOC: 'manual', auto_alloc: 'auto' },
    },
    manual: {
      initial: 'detached',
      states: {
        detached: {
          on: { attach: 'attached', IOMMU_DESTROY: '#hwpt.destroyed' },
        },
        attached: {
          on: { attach: 'attached', detach: 'attached', detach_last: 'detached' },
        },
      },
    },
    auto: {
      initial: 'attached',
      states: {
        attached: {
          on: { attach: 'attached', detach: 'attached', detach_last: '#hwpt.destroyed' },
        },
      },
    },
    destroyed: { type: 'final' },
  },
});
