/**
 * Object destruction (main.c: iommufd_object_remove and the per-type
 * destroy functions of iommufd_object_ops[]), and IOMMU_DESTROY.
 */
import type { Fields, Result } from '../events/event.js';
import { u32 } from './args.js';
import type { Tx } from './object.js';
import { ioasDestroy } from './ioas.js';
import { hwptDestroy } from './hw_pagetable.js';
import { deviceDetach, deviceReleaseOwner, hwptStep } from './device.js';
import { accessDestroy } from './access.js';
import { faultDestroy } from './fault.js';
import { forgetDevice, vdeviceDestroy, viommuDestroy } from './viommu.js';

/** Run the type's destroy function; the object is removed from the table. */
export function destroyObject(tx: Tx, id: number): void {
  const o = tx.any(id)!;
  switch (o.type) {
    case 'ioas':
      ioasDestroy(tx, id);
      tx.remove(id);
      return;
    case 'hwpt_paging':
    case 'hwpt_nested':
      hwptStep(tx, id, 'IOMMU_DESTROY');
      hwptDestroy(tx, id);
      return;
    case 'selftest': {
      // iommufd_selftest_destroy: detach the mock device, unbind it (DEVICE gone), delete it.
      tx.remove(id);
      if (tx.get(o.idev, 'device')) {
        deviceDetach(tx, o.idev);
        tx.remove(o.idev);
        forgetDevice(tx, o.idev);
      }
      return;
    }
    case 'device':
      // iommufd_device_unbind (the VFIO driver detached first) -> iommufd_device_destroy.
      deviceDetach(tx, id);
      tx.remove(id);
      forgetDevice(tx, id);
      deviceReleaseOwner(tx, o);
      return;
    case 'access':
      accessDestroy(tx, id);
      return;
    case 'fault':
      faultDestroy(tx, id);
      return;
    case 'viommu':
      viommuDestroy(tx, id);
      return;
    case 'vdevice':
      vdeviceDestroy(tx, id);
      return;
  }
}

/** iommufd_destroy (IOMMU_DESTROY): ENOENT, then EBUSY unless only the table holds it. */
export function destroyIoctl(tx: Tx, a: Fields): Result {
  const id = u32(a, 'id');
  const o = tx.any(id);
  if (!o) return { errno: 'ENOENT' };
  if (o.users !== 1) return { errno: 'EBUSY' };
  destroyObject(tx, id);
  return { errno: 0 };
}
