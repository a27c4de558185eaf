/**
 * hw_pagetable.c: iommufd_hwpt_invalidate (IOMMU_HWPT_INVALIDATE) with the
 * mock nested driver (kernel-semantics §8). The struct is written back on
 * every path with entry_num = entries completely processed.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { le, u32, u64, userBuf } from './args.js';
import type { Tx } from './object.js';
import { viommuInvalidate } from './viommu.js';

const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
const IOMMU_TEST_INVALIDATE_FLAG_ALL = 1;

export function hwptInvalidate(tx: Tx, a: Fields, ev: Event): Result {
  const done = (errno: string | 0, n: number): Result => ({ errno, out: { entry_num: n } });
  if (u32(a, '__reserved')) return done('EOPNOTSUPP', 0);
  const entryNum = u32(a, 'entry_num');
  const entryLen = u32(a, 'entry_len');
  if (entryNum && (!u64(a, 'data_uptr') || !entryLen)) return done('EINVAL', 0);
  if (tx.kernel === '6.12' && (entryLen > 4096 || entryNum > 1 << 19)) return done('EINVAL', 0);
  const id = u32(a, 'hwpt_id');
  const o = tx.any(id);
  if (!o) return done('ENOENT', 0);
  if (o.type !== 'hwpt_nested') {
    if (tx.kernel === '6.12') return done('ENOENT', 0);
    if (o.type === 'viommu') {
      const r = viommuInvalidate(tx, o, a, ev);
      // Entries processed before a failing one keep their effect.
      tx.keepOnError = true;
      return done(r.errno, r.done);
    }
    return done('EINVAL', 0);
  }
  if (u32(a, 'data_type') !== IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) return done('EINVAL', 0);
  const buf = entryNum ? userBuf(ev, a, 'data_uptr') : undefined;
  const iotlb = o.iotlb.slice();
  let n = 0;
  let errno: string | 0 = 0;
  for (; n < entryNum; n++) {
    if (entryLen < 8 || entryLen > 8) {
      errno = 'EINVAL';
      break;
    }
    if (!buf || buf.length < (n + 1) * entryLen) {
      errno = 'EFAULT';
      break;
    }
    const flags = le.u32(buf, n * entryLen);
    const iotlbId = le.u32(buf, n * entryLen + 4);
    if (flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) {
      errno = 'EOPNOTSUPP';
      break;
    }
    if (flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) iotlb.fill(0);
    else if (iotlbId > 3) {
      errno = 'EINVAL';
      break;
    } else iotlb[iotlbId] = 0;
  }
  tx.put({ ...o, iotlb });
  // Entries processed before a failing one keep their effect.
  tx.keepOnError = true;
  return done(errno, n);
}
