/**
 * device.c: iommufd_get_hw_info (IOMMU_GET_HW_INFO), kernel-semantics §11.1.
 * The data and its type come from the device's hardware profile
 * (drivers/: mock 0xfeedbeef, VT-d 1, SMMUv3 2 [6.14]).
 */
import type { Event, Fields, Result } from '../events/event.js';
import { u32, userPtrOk } from './args.js';
import { profileOf } from './device.js';
import { DEV_PASID_EXEC, DEV_PASID_PRIV } from './drivers/index.js';
import type { Tx } from './object.js';
import { MAX_EVENT_BYTES, overLimit } from './limits.js';

const IOMMU_HW_CAP_DIRTY_TRACKING = 1n;
const IOMMU_HW_CAP_PCI_PASID_EXEC = 2n;
const IOMMU_HW_CAP_PCI_PASID_PRIV = 4n;
const IOMMU_HW_INFO_TYPE_NONE = 0;
const NO_DATA = new Uint8Array(0);

export function getHwInfo(tx: Tx, a: Fields, ev: Event): Result {
  if (u32(a, 'flags')) return { errno: 'EOPNOTSUPP' };
  // 6.14: u32 __reserved at 28; 6.12: u8 out_max_pasid_log2 at 28 and __reserved[3].
  const reserved = a['__reserved'];
  if (reserved instanceof Uint8Array ? reserved.some((b) => b) : Array.isArray(reserved) ? reserved.some((b) => b) : u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const dev = tx.get(u32(a, 'dev_id'), 'device');
  if (!dev) return { errno: 'ENOENT' };
  const [prof, hw] = profileOf(tx, dev);
  // A driver without a hw_info op reports type NONE and no data.
  const info = prof.hwInfo(hw, tx.kernel) ?? { type: IOMMU_HW_INFO_TYPE_NONE, data: NO_DATA };
  const kernelData = info.data;
  const dataLen = u32(a, 'data_len');
  const res: Result = { errno: 0 };
  if (dataLen) {
    if (!userPtrOk(ev, a, 'data_uptr')) return { errno: 'EFAULT' };
    // (the model returns the caller's whole buffer: the kernel data, then the cleared rest)
    const big = overLimit('IOMMU_GET_HW_INFO data_len', dataLen, MAX_EVENT_BYTES, 'bytes');
    if (big) return big;
    // min(data_len, kernel length) bytes copied, the rest of the user's buffer cleared.
    const out = new Uint8Array(dataLen);
    out.set(kernelData.subarray(0, Math.min(dataLen, kernelData.length)));
    res.bufs = { data_uptr: out };
  }
  let caps = prof.dirtyCapable(hw) ? IOMMU_HW_CAP_DIRTY_TRACKING : 0n;
  const out: Fields = { data_len: kernelData.length, out_data_type: info.type };
  if (tx.kernel === '6.12') {
    // PASID support is reported only when the device has PASIDs (dev->iommu->max_pasids: the fewer of
    // the device's and its IOMMU's, dev_iommu_get_max_pasids; VT-d's is none without scalable-mode PASIDs)
    const iommuLog2 = prof.maxPasidLog2?.(hw.iommu);
    const log2 = iommuLog2 === undefined ? hw.maxPasidLog2 : hw.maxPasidLog2 && iommuLog2 ? Math.min(hw.maxPasidLog2, iommuLog2) : 0;
    out['out_max_pasid_log2'] = log2;
    if (log2) {
      if (hw.flags & DEV_PASID_EXEC) caps |= IOMMU_HW_CAP_PCI_PASID_EXEC;
      if (hw.flags & DEV_PASID_PRIV) caps |= IOMMU_HW_CAP_PCI_PASID_PRIV;
    }
  }
  out['out_capabilities'] = caps;
  res.out = out;
  return res;
}
