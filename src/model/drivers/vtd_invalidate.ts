/**
 * Intel VT-d stage-1 cache invalidation entries
 * (intel/nested.c:intel_nested_cache_invalidate_user; kernel-semantics §8),
 * as a pure validator for the VT-d hardware profile's nested HWPTs:
 * `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1` (0), `struct
 * iommu_hwpt_vtd_s1_invalidate {u64 addr; u64 npages; u32 flags; u32
 * __reserved;}`, 24 bytes.
 *
 * Per entry, in the kernel's order:
 * 1. iommu_copy_struct_from_user_array with min_last = __reserved: an entry
 *    length other than 24 -> EINVAL (shorter than offsetofend(__reserved), or
 *    longer than the kernel struct); unreadable -> EFAULT (the caller's).
 * 2. flags & ~IOMMU_VTD_INV_FLAGS_LEAF, or __reserved != 0 -> EOPNOTSUPP.
 * 3. addr not 4 KiB aligned, or npages == U64_MAX with addr != 0 -> EINVAL.
 * 4. cache_tag_flush_range(addr, addr + npages * 4 KiB - 1, leaf): addr 0 with
 *    npages U64_MAX is "everything". The hardware's page-selective
 *    invalidation may round the range up to an aligned power of two; the
 *    coverage reported is what was asked for, which is what a guest may rely
 *    on. npages 0 covers nothing. Without LEAF the paging-structure caches are
 *    flushed too (tag 'pwc').
 * The entry count reported back is the number of entries that passed.
 */
import type { Validated } from './inv_coverage.js';

export const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
export const IOMMU_VTD_INV_FLAGS_LEAF = 1;
export const VTD_S1_INV_ENTRY_SIZE = 24;
const VTD_PAGE_SIZE = 4096n;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

function u64le(b: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i]!);
  return v;
}

function u32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** One entry of a VT-d stage-1 invalidation array (its `entry_len` bytes as the user passed them). */
export function validateVtdS1Inv(entry: Uint8Array): Validated {
  if (entry.length !== VTD_S1_INV_ENTRY_SIZE) return { errno: 'EINVAL' };
  const addr = u64le(entry, 0);
  const npages = u64le(entry, 8);
  const flags = u32le(entry, 16);
  const reserved = u32le(entry, 20);
  if (flags & ~IOMMU_VTD_INV_FLAGS_LEAF || reserved) return { errno: 'EOPNOTSUPP' };
  if (addr % VTD_PAGE_SIZE || (npages === U64_MAX && addr !== 0n)) return { errno: 'EINVAL' };
  const tags = flags & IOMMU_VTD_INV_FLAGS_LEAF ? [] : ['pwc'];
  if (addr === 0n && npages === U64_MAX) return { errno: 0, cover: { all: true, scope: '', tags } };
  if (npages === 0n) return { errno: 0, cover: { all: false, scope: '', tags } };
  const end = addr + npages * VTD_PAGE_SIZE - 1n;
  return { errno: 0, cover: { all: false, scope: '', span: { start: addr, last: end > U64_MAX ? U64_MAX : end }, tags } };
}
