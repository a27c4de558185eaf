/**
 * vfio_compat.c: IOMMU_VFIO_IOAS and the VFIO type1 container ioctls on an
 * iommufd (kernel-semantics §11.3-11.4). The container ioctls themselves are
 * not modelled yet: they answer with a distinct `unmodelled` result.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { u32 } from './args.js';
import type { Tx } from './object.js';
import type { World } from './state.js';

/** iommufd_vfio_ioas (IOMMU_VFIO_IOAS) */
export function vfioIoas(tx: Tx, a: Fields): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  switch (u32(a, 'op')) {
    case 0: // GET
      if (!tx.ctx.vfioIoas) return { errno: 'ENODEV' };
      return { errno: 0, out: { ioas_id: tx.ctx.vfioIoas } };
    case 1: {
      const id = u32(a, 'ioas_id');
      if (!tx.get(id, 'ioas')) return { errno: 'ENOENT' };
      tx.ctx = { ...tx.ctx, vfioIoas: id };
      return { errno: 0 };
    }
    case 2:
      tx.ctx = { ...tx.ctx, vfioIoas: 0 };
      return { errno: 0 };
    default:
      return { errno: 'EOPNOTSUPP' };
  }
}

export const isVfioContainerOp = (op: string): boolean => op.startsWith('VFIO_');

export function vfioIoctl(tx: Tx, ev: Event): [World, Result] {
  return [tx.w, { errno: 'ENOTTY', unmodelled: ev.op }];
}
