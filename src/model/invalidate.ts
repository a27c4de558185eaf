/**
 * hw_pagetable.c: iommufd_hwpt_invalidate (IOMMU_HWPT_INVALIDATE)
 * (kernel-semantics §8) and the driver that answers it: the mock nested
 * domain (here), the mock vIOMMU (viommu.ts), VT-d stage-1 nested domains
 * (drivers/intel_vtd.ts), SMMUv3 vIOMMUs (drivers/arm_smmuv3.ts). An SMMUv3
 * nested domain has no cache_invalidate_user: EOPNOTSUPP (its caches are
 * invalidated through its vIOMMU). The struct is written back on every path
 * with entry_num = entries completely processed.
 *
 * What each processed entry covered goes to the object's TLB ledger
 * (tlb.ts), read off the entry by the per-profile validators
 * (drivers/vtd_invalidate.ts, drivers/smmuv3_invalidate.ts) for VT-d and
 * SMMUv3; for SMMUv3 only the commands that reached the hardware (whole
 * batches before a failing command, smmuv3IssuedOnFailure).
 */
import type { Event, Fields, Result } from '../events/event.js';
import { le, u32, u64, userBuf } from './args.js';
import type { Tx } from './object.js';
import type { HwptNestedObj, ViommuObj } from './state.js';
import { recordInvalidation } from './tlb.js';
import { MOCK_IOMMU } from './drivers/mock.js';
import { viommuInvalidate } from './viommu.js';
import { vtdCacheInvalidateUser } from './drivers/intel_vtd.js';
import { IOMMU_VIOMMU_TYPE_ARM_SMMUV3, smmuv3CacheInvalidate } from './drivers/arm_smmuv3.js';
import { IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, validateVtdS1Inv } from './drivers/vtd_invalidate.js';
import { IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, SMMUV3_CMD_SIZE, smmuv3IssuedOnFailure, validateSmmuv3Cmd } from './drivers/smmuv3_invalidate.js';

const MOCK_NESTED_IOTLB_TAGS = ['iotlb:0', 'iotlb:1', 'iotlb:2', 'iotlb:3'];

const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
const IOMMU_TEST_INVALIDATE_FLAG_ALL = 1;

/** The driver of IOMMU instance `id` (the selftest's mock IOMMU is instance 0). */
function instanceDriver(tx: Tx, id: number): string {
  return id === MOCK_IOMMU.id ? MOCK_IOMMU.driver : (tx.w.hw.iommus.get(id)?.driver ?? MOCK_IOMMU.driver);
}

/**
 * The driver whose ops a nested HWPT's domain has: the vIOMMU's (its
 * instance's) for one made through a vIOMMU, else the device's, which the
 * parent's owner check made the parent's driver.
 */
export function nestedDriver(tx: Tx, h: HwptNestedObj): string {
  return h.viommu ? instanceDriver(tx, tx.get(h.viommu, 'viommu')!.iommu) : (tx.get(h.parent, 'hwpt_paging')?.domain.driver ?? 'mock');
}

export function hwptInvalidate(tx: Tx, a: Fields, ev: Event): Result {
  const done = (errno: string | 0, n: number): Result => ({ errno, out: { entry_num: n } });
  if (u32(a, '__reserved')) return done('EOPNOTSUPP', 0);
  const entryNum = u32(a, 'entry_num');
  const entryLen = u32(a, 'entry_len');
  // (6.12 also bounds entry_len and entry_num, in the same test: an empty array is never refused)
  if (entryNum && (!u64(a, 'data_uptr') || !entryLen || (tx.kernel === '6.12' && (entryLen > 4096 || entryNum > 1 << 19)))) return done('EINVAL', 0);
  const id = u32(a, 'hwpt_id');
  const o = tx.any(id);
  if (!o) return done('ENOENT', 0);
  if (o.type !== 'hwpt_nested') {
    if (tx.kernel === '6.12') return done('ENOENT', 0);
    if (o.type === 'viommu') {
      const r = o.viommuType === IOMMU_VIOMMU_TYPE_ARM_SMMUV3 ? smmuv3Invalidate(tx, o, a, ev) : viommuInvalidate(tx, o, a, ev);
      // Entries processed before a failing one keep their effect.
      tx.keepOnError = true;
      return done(r.errno, r.done);
    }
    return done('EINVAL', 0);
  }
  // the nested domain's own ops decide (nestedDriver)
  const driver = nestedDriver(tx, o);
  if (driver === 'arm_smmuv3') return done('EOPNOTSUPP', 0);
  if (driver === 'intel_vtd') {
    const r = vtdInvalidate(tx, o, a, ev);
    tx.keepOnError = true;
    return done(r.errno, r.done);
  }
  if (u32(a, 'data_type') !== IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) return done('EINVAL', 0);
  const buf = entryNum ? userBuf(ev, a, 'data_uptr') : undefined;
  const iotlb = o.iotlb.slice();
  let hwpt: HwptNestedObj = o;
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
    // mock_domain_cache_invalidate_user checks iotlb_id before looking at FLAG_ALL.
    if (iotlbId > 3) {
      errno = 'EINVAL';
      break;
    }
    const all = !!(flags & IOMMU_TEST_INVALIDATE_FLAG_ALL);
    if (all) iotlb.fill(0);
    else iotlb[iotlbId] = 0;
    // The mock's IOTLB words carry no IOVA meaning: a single word covers that tag only.
    hwpt = recordInvalidation(tx, hwpt, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, n, { all, scope: '', tags: all ? MOCK_NESTED_IOTLB_TAGS : [MOCK_NESTED_IOTLB_TAGS[iotlbId]!] });
  }
  tx.put({ ...hwpt, iotlb });
  // Entries processed before a failing one keep their effect.
  tx.keepOnError = true;
  return done(errno, n);
}

/** intel_nested_cache_invalidate_user, and what each processed entry covered. */
function vtdInvalidate(tx: Tx, o: HwptNestedObj, a: Fields, ev: Event): { errno: string | 0; done: number } {
  const entryNum = u32(a, 'entry_num');
  const entryLen = u32(a, 'entry_len');
  const buf = entryNum ? userBuf(ev, a, 'data_uptr') : undefined;
  const r = vtdCacheInvalidateUser(u32(a, 'data_type'), entryNum, entryLen, buf);
  let h = o;
  for (let i = 0; i < r.done; i++) {
    const v = validateVtdS1Inv(buf!.subarray(i * entryLen, (i + 1) * entryLen));
    if (v.errno !== 0) throw new Error(`model bug: VT-d entry ${i} processed but ${v.errno}`);
    h = recordInvalidation(tx, h, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, i, v.cover);
  }
  return r;
}

/** arm_vsmmu_cache_invalidate, and what each command that reached the hardware covered. */
function smmuv3Invalidate(tx: Tx, v: ViommuObj, a: Fields, ev: Event): { errno: string | 0; done: number } {
  const entryNum = u32(a, 'entry_num');
  const entryLen = u32(a, 'entry_len');
  const buf = entryNum ? userBuf(ev, a, 'data_uptr') : undefined;
  const r = smmuv3CacheInvalidate(v.vdevs, u32(a, 'data_type'), entryNum, entryLen, buf);
  const issued = r.errno ? smmuv3IssuedOnFailure(r.done) : r.done;
  let o = v;
  for (let i = 0; i < issued; i++) {
    const cmd = buf!.subarray(i * entryLen, i * entryLen + Math.min(entryLen, SMMUV3_CMD_SIZE));
    const c = validateSmmuv3Cmd(cmd, v.vdevs);
    if (c.errno !== 0) throw new Error(`model bug: SMMUv3 command ${i} processed but ${c.errno}`);
    o = recordInvalidation(tx, o, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, i, c.cover);
  }
  return r;
}
