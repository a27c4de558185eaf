/**
 * Dirty tracking (hw_pagetable.c: iommufd_hwpt_set_dirty_tracking,
 * iommufd_hwpt_get_dirty_bitmap; selftest.c: mock read_and_clear_dirty and
 * IOMMU_TEST_OP_DIRTY), kernel-semantics §7 and §12.3.
 *
 * Dirty state is a persistent set of dirty 2 KiB IOPTE slots per domain, so
 * reading a huge range with few dirty pages costs what is dirty, not what is
 * mapped. Slots of 1 MiB IOPTEs (HUGE_IOVA domains over contiguous memory,
 * iopte.ts) are read and cleared, and reported, 1 MiB at a time; a VT-d or
 * SMMUv3 domain's, a page-table entry (its page size) at a time.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { sub, u32, u64, userBuf } from './args.js';
import { addOverflows, getIoas } from './io_pagetable.js';
import { MOCK_IO_PAGE_SIZE } from './drivers/mock.js';
import type { Tx } from './object.js';
import { mockReadAndClearDirty, pteReadAndClearDirty } from './iopte.js';
import { MAX_EVENT_BYTES, overLimit } from './limits.js';

const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;
const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

/** IOMMU_HWPT_SET_DIRTY_TRACKING */
export function setDirtyTracking(tx: Tx, a: Fields): Result {
  const flags = u32(a, 'flags');
  if (flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) return { errno: 'EOPNOTSUPP' };
  const h = tx.get(u32(a, 'hwpt_id'), 'hwpt_paging');
  if (!h) return { errno: 'ENOENT' };
  if (!h.domain.dirtyOps) return { errno: 'EOPNOTSUPP' };
  const enable = !!(flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE);
  // Enabling first clears the dirty state of every mapped area.
  const dirty = enable ? PMap.emptyBigint<true>() : h.domain.dirty;
  tx.put({ ...h, domain: { ...h.domain, dirtyEnabled: enable, dirty } });
  return { errno: 0 };
}

/** IOMMU_HWPT_GET_DIRTY_BITMAP: only sets bits; stops silently at the first gap. */
export function getDirtyBitmap(tx: Tx, a: Fields, ev: Event): Result {
  const flags = u32(a, 'flags');
  if (flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR || u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const h = tx.get(u32(a, 'hwpt_id'), 'hwpt_paging');
  if (!h) return { errno: 'ENOENT' };
  const iova = u64(a, 'iova');
  const length = u64(a, 'length');
  const pageSize = u64(a, 'page_size');
  const iopt = getIoas(tx, h.ioas)!.iopt;
  if (tx.kernel === '6.12' && length === 0n) return { errno: 'EINVAL' };
  if (addOverflows(iova, length - 1n) || (length === 0n && iova !== 0n)) return { errno: 'EOVERFLOW' };
  if (iova % iopt.iovaAlignment || (iova + length) % iopt.iovaAlignment) return { errno: 'EINVAL' };
  if (pageSize === 0n) return { errno: 'EINVAL' };
  if (iova & (pageSize - 1n) || (iova + length) & (pageSize - 1n)) return { errno: 'EINVAL' };
  if (!h.domain.dirtyOps) return { errno: 'EOPNOTSUPP' };
  const nbits = length / pageSize;
  const before = userBuf(ev, a, 'data');
  const shift = BigInt(lowestBitIndex(pageSize));
  let dirty = h.domain.dirty;
  // Bit ranges to set, gathered first: the result is the caller's buffer with
  // these bits set, so its size follows what is dirty (or the buffer the trace
  // gave), never the size of the IOVA range (a 2^63-byte range is legal).
  const set: [bigint, bigint][] = [];
  if (h.domain.dirtyEnabled) {
    const last = iova + length - 1n;
    // iova_bitmap_set: bits of [addr, addr + len); the ones past the buffer land in memory the model does not return.
    const record = (addr: bigint, len: bigint) => {
      const lastBit = (addr + len - 1n - iova) >> shift;
      const first = (addr - iova) >> shift;
      const maxBit = ((nbits + 7n) / 8n) * 8n - 1n; // the last bit of the caller's buffer
      if (first <= maxBit) set.push([first, lastBit < maxBit ? lastBit : maxBit]);
    };
    let cur = iova;
    // Walk back-to-back areas only; a gap ends the walk (and the ioctl still succeeds).
    iopt.areas.eachOverlapping(iova, last, (s, l) => {
      if (s > cur) return false;
      const end = l < last ? l : last;
      const noClear = !!(flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
      // (the mock's 2 KiB and 1 MiB IOPTEs; another driver's leaf entries of its page size)
      dirty = h.domain.driver === 'mock' ? mockReadAndClearDirty({ dirty, hugeMapped: h.domain.hugeMapped }, cur, end, noClear, record) : pteReadAndClearDirty(dirty, cur, end, h.domain.pgsize, noClear, record);
      cur = end + 1n;
      return end !== last;
    });
  }
  const nbytes = (nbits + 7n) / 8n;
  let len = before ? BigInt(before.length) : 0n;
  if (len > nbytes) len = nbytes;
  for (const [, l] of set) if ((l >> 3n) + 1n > len) len = (l >> 3n) + 1n;
  const big = overLimit('IOMMU_HWPT_GET_DIRTY_BITMAP bitmap', len, MAX_EVENT_BYTES, 'bytes');
  if (big) return big;
  const bitmap = new Uint8Array(Number(len));
  if (before) bitmap.set(before.subarray(0, bitmap.length));
  for (const [f, l] of set) setBits(bitmap, f, l);
  if (dirty !== h.domain.dirty) tx.put({ ...h, domain: { ...h.domain, dirty } });
  return { errno: 0, bufs: { data: bitmap } };
}

/** Sets bits [first, last] of `bitmap`: whole bytes at once (a 1 MiB slot read with a 1-byte page_size is 2^20 bits). */
function setBits(bitmap: Uint8Array, first: bigint, last: bigint): void {
  let bit = first;
  for (; bit <= last && bit & 7n; bit++) bitmap[Number(bit >> 3n)]! |= 1 << Number(bit & 7n);
  const fullEnd = ((last + 1n) >> 3n) << 3n; // first bit past the last whole byte
  if (bit < fullEnd) {
    bitmap.fill(0xff, Number(bit >> 3n), Number(fullEnd >> 3n));
    bit = fullEnd;
  }
  for (; bit <= last; bit++) bitmap[Number(bit >> 3n)]! |= 1 << Number(bit & 7n);
}

function lowestBitIndex(v: bigint): number {
  let i = 0;
  while (!((v >> BigInt(i)) & 1n)) i++;
  return i;
}

/** IOMMU_TEST_OP_DIRTY: a device wrote the pages whose bits are set in `uptr`. */
export function mockDirty(tx: Tx, a: Fields, ev: Event): Result {
  const m = sub(a, 'dirty');
  const iova = u64(m, 'iova');
  const length = u64(m, 'length');
  const pageSize = u64(m, 'page_size');
  if (!pageSize || !length || iova % pageSize || length % pageSize || !u64(m, 'uptr')) return { errno: 'EINVAL' };
  const n = length / pageSize;
  if (tx.kernel === '6.12' && (length / pageSize > 1n << 27n)) return { errno: 'EOVERFLOW' };
  const h = tx.get(u32(a, 'id'), 'hwpt_paging');
  if (!h) return { errno: 'ENOENT' };
  if (!h.domain.dirtyOps || !h.domain.dirtyEnabled) return { errno: 'EINVAL' };
  const bits = ev.bufs?.['uptr'] ?? userBuf(ev, m, 'uptr');
  const need = Number((n + 7n) / 8n);
  if (!bits || bits.length < need) return { errno: 'EFAULT' };
  const iopt = getIoas(tx, h.ioas)!.iopt;
  let dirty = h.domain.dirty;
  let count = 0;
  for (let i = 0n; i < n; i++) {
    if (!(bits[Number(i >> 3n)]! & (1 << Number(i & 7n)))) continue;
    // The kernel divides by page_size, not by the 2 KiB IOPTE size (§12.3).
    const slot = (iova + i * pageSize) / pageSize;
    if (!iopt.areas.find(slot * MOCK_IO_PAGE_SIZE)) continue;
    dirty = dirty.set(slot, true);
    count++;
  }
  tx.put({ ...h, domain: { ...h.domain, dirty } });
  return { errno: 0, out: { dirty: { out_nr_dirty: count } } };
}
