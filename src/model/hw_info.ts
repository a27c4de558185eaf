/**
 * device.c: iommufd_get_hw_info (IOMMU_GET_HW_INFO), kernel-semantics §11.1.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { le, u32, userPtrOk } from './args.js';
import { IOMMU_HW_INFO_TYPE_SELFTEST, MOCK_FLAGS_DEVICE_NO_DIRTY } from './drivers/mock.js';
import type { Tx } from './object.js';

const IOMMU_HW_CAP_DIRTY_TRACKING = 1n;

export function getHwInfo(tx: Tx, a: Fields, ev: Event): Result {
  if (u32(a, 'flags')) return { errno: 'EOPNOTSUPP' };
  // 6.14: u32 __reserved at 28; 6.12: u8 out_max_pasid_log2 at 28 and __reserved[3].
  const reserved = a['__reserved'];
  if (reserved instanceof Uint8Array ? reserved.some((b) => b) : Array.isArray(reserved) ? reserved.some((b) => b) : u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const dev = tx.get(u32(a, 'dev_id'), 'device');
  if (!dev) return { errno: 'ENOENT' };
  // Mock driver: struct iommu_test_hw_info { u32 flags; u32 test_reg; }.
  const kernelData = new Uint8Array(8);
  le.putU32(kernelData, 4, 0xdeadbeef);
  const dataLen = u32(a, 'data_len');
  const res: Result = { errno: 0 };
  if (dataLen) {
    if (!userPtrOk(ev, a, 'data_uptr')) return { errno: 'EFAULT' };
    const out = new Uint8Array(dataLen);
    out.set(kernelData.subarray(0, Math.min(dataLen, kernelData.length)));
    res.bufs = { data_uptr: out };
  }
  const out: Fields = {
    data_len: kernelData.length,
    out_data_type: IOMMU_HW_INFO_TYPE_SELFTEST,
    out_capabilities: dev.devFlags & MOCK_FLAGS_DEVICE_NO_DIRTY ? 0n : IOMMU_HW_CAP_DIRTY_TRACKING,
  };
  if (tx.kernel === '6.12') out['out_max_pasid_log2'] = 0;
  res.out = out;
  return res;
}
