/**
 * viommu.c [6.14]: vIOMMU and vDEVICE objects (kernel-semantics §10), and
 * the selftest mock driver's vIOMMU pieces: type IOMMU_VIOMMU_TYPE_SELFTEST,
 * cache invalidation of the per-device 4-word caches (§8 "Mock vIOMMU",
 * selftest.c: mock_viommu_alloc, mock_viommu_cache_invalidate).
 *
 * References: a vIOMMU holds its nesting-parent HWPT (+1); a vDEVICE holds
 * its vIOMMU (+1) and the *struct device*, not the DEVICE object, so a
 * device can be unbound while vDEVICEs still name it (then `dev` is 0 here).
 */
import type { Event, Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { le, u32, u64, userBuf } from './args.js';
import type { Tx } from './object.js';
import type { VdeviceObj, ViommuObj } from './state.js';
import { U64_MAX } from './io_pagetable.js';
import { profileOf } from './device.js';
import { recordInvalidation } from './tlb.js';
import { KMALLOC_MAX_SIZE, readFullUserArray } from './drivers/profile.js';

export const IOMMU_VIOMMU_TYPE_DEFAULT = 0;
export const IOMMU_VIOMMU_TYPE_SELFTEST = 0xdeadbeef;
export const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
const IOMMU_TEST_INVALIDATE_FLAG_ALL = 1;
/** sizeof(struct iommu_viommu_invalidate_selftest): {u32 flags; u32 vdev_id; u32 cache_id;} */
const VIOMMU_INV_ENTRY_SIZE = 12;
const MOCK_DEV_CACHE_ID_MAX = 3;

/** iommufd_viommu_alloc_ioctl (IOMMU_VIOMMU_ALLOC) with the mock driver's viommu_alloc. */
export function viommuAlloc(tx: Tx, a: Fields): Result {
  const type = u32(a, 'type');
  if (u32(a, 'flags') || type === IOMMU_VIOMMU_TYPE_DEFAULT) return { errno: 'EOPNOTSUPP' };
  const devId = u32(a, 'dev_id');
  const dev = tx.get(devId, 'device');
  if (!dev) return { errno: 'ENOENT' };
  const [prof, hw] = profileOf(tx, dev);
  if (!prof.viommuAlloc) return { errno: 'EOPNOTSUPP' };
  const hwptId = u32(a, 'hwpt_id');
  const hwpt = tx.get(hwptId, 'hwpt_paging');
  if (!hwpt) return { errno: 'ENOENT' };
  if (!hwpt.nestParent) return { errno: 'EINVAL' };
  // The driver's viommu_alloc (mock: only the selftest type; SMMUv3: arm_vsmmu_alloc), before the object exists.
  const e = prof.viommuAlloc(hw, hwpt, type);
  if (e) return { errno: e };
  const v = tx.alloc((id): ViommuObj => ({ type: 'viommu', id, users: 1, hwpt: hwptId, viommuType: type, iommu: hw.iommu.id, vdevs: PMap.emptyBigint<number>() }));
  if (!v) return { errno: 'EBUSY' };
  tx.users(hwptId, 1);
  return { errno: 0, out: { out_viommu_id: v.id } };
}

/** iommufd_vdevice_alloc_ioctl (IOMMU_VDEVICE_ALLOC) */
export function vdeviceAlloc(tx: Tx, a: Fields): Result {
  const virtId = u64(a, 'virt_id');
  if (virtId > U64_MAX) return { errno: 'EINVAL' }; // virt_id > ULONG_MAX: never on 64-bit
  const viommuId = u32(a, 'viommu_id');
  const viommu = tx.get(viommuId, 'viommu');
  if (!viommu) return { errno: 'ENOENT' };
  const devId = u32(a, 'dev_id');
  const dev = tx.get(devId, 'device');
  if (!dev) return { errno: 'ENOENT' };
  // The device must sit behind the vIOMMU's physical IOMMU instance.
  if (profileOf(tx, dev)[1].iommu.id !== viommu.iommu) return { errno: 'EINVAL' };
  const vd = tx.alloc((id): VdeviceObj => ({ type: 'vdevice', id, users: 1, viommu: viommuId, dev: devId, virtId }));
  if (!vd) return { errno: 'EBUSY' };
  // xa_cmpxchg on the vIOMMU's vdevs: the virt_id is unique per vIOMMU.
  if (viommu.vdevs.has(virtId)) return { errno: 'EEXIST' };
  tx.put({ ...viommu, users: viommu.users + 1, vdevs: viommu.vdevs.set(virtId, vd.id) });
  return { errno: 0, out: { out_vdevice_id: vd.id } };
}

/** iommufd_vdevice_destroy: the virt_id leaves the vIOMMU, whose reference is dropped. */
export function vdeviceDestroy(tx: Tx, id: number): void {
  const vd = tx.get(id, 'vdevice')!;
  tx.remove(id);
  const v = tx.get(vd.viommu, 'viommu');
  if (v) tx.put({ ...v, users: v.users - 1, vdevs: v.vdevs.get(vd.virtId) === id ? v.vdevs.delete(vd.virtId) : v.vdevs });
}

/** iommufd_viommu_destroy: drop the parent HWPT reference. */
export function viommuDestroy(tx: Tx, id: number): void {
  const v = tx.get(id, 'viommu')!;
  tx.remove(id);
  tx.users(v.hwpt, -1);
}

/**
 * A DEVICE object went away (unbind, stdev destroy): vDEVICEs that name it
 * keep their struct device, which no iommufd ID reaches any more.
 */
export function forgetDevice(tx: Tx, devId: number): void {
  if (tx.kernel !== '6.14') return; // no vDEVICEs before 6.14
  const stale: VdeviceObj[] = [];
  tx.ctx.objs.each((_id, o) => {
    if (o.type === 'vdevice' && o.dev === devId) stale.push(o);
    return true;
  });
  for (const vd of stale) tx.put({ ...vd, dev: 0 });
}

/**
 * IOMMU_HWPT_INVALIDATE on a vIOMMU (mock_viommu_cache_invalidate). Returns
 * the errno and the number of entries completely processed; effects of
 * processed entries stay.
 */
export function viommuInvalidate(tx: Tx, viommu: ViommuObj, a: Fields, ev: Event): { errno: string | 0; done: number } {
  const dataType = u32(a, 'data_type');
  const entryNum = u32(a, 'entry_num');
  const entryLen = u32(a, 'entry_len');
  // A zero-length array validates the data type only.
  if (entryNum === 0 && dataType === IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST) return { errno: 0, done: 0 };
  if (entryNum * VIOMMU_INV_ENTRY_SIZE > KMALLOC_MAX_SIZE) return { errno: 'ENOMEM', done: 0 };
  // iommu_copy_struct_from_full_user_array: the whole array is read before any entry is used.
  if (dataType !== IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST || entryNum === 0) return { errno: 'EINVAL', done: 0 };
  const cmds = readFullUserArray(userBuf(ev, a, 'data_uptr'), entryNum, entryLen, VIOMMU_INV_ENTRY_SIZE);
  if (typeof cmds === 'string') return { errno: cmds, done: 0 };
  let n = 0;
  let v = viommu;
  for (; n < entryNum; n++) {
    const e = cmds[n]!;
    const flags = le.u32(e, 0);
    const vdevId = BigInt(le.u32(e, 4));
    const cacheId = le.u32(e, 8);
    if (flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) return { errno: 'EOPNOTSUPP', done: n };
    if (cacheId > MOCK_DEV_CACHE_ID_MAX) return { errno: 'EINVAL', done: n };
    const vdId = viommu.vdevs.get(vdevId);
    if (vdId === undefined) return { errno: 'EINVAL', done: n };
    const vd = tx.get(vdId, 'vdevice')!;
    const all = !!(flags & IOMMU_TEST_INVALIDATE_FLAG_ALL);
    const words = all ? [0, 1, 2, 3] : [cacheId];
    v = recordInvalidation(tx, v, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, n, { all: false, scope: '', tags: words.map((w) => `vdev:0x${vdevId.toString(16)}:cache:${w}`) });
    const dev = vd.dev ? tx.get(vd.dev, 'device') : undefined;
    if (!dev) continue; // an unbound device's cache is no longer observable
    const cache = flags & IOMMU_TEST_INVALIDATE_FLAG_ALL ? dev.cache.map(() => 0) : dev.cache.map((w, i) => (i === cacheId ? 0 : w));
    tx.put({ ...dev, cache });
  }
  return { errno: 0, done: n };
}

