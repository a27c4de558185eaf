/**
 * Device happenings as environment events (kernel-semantics §7.2 "How dirty
 * bits appear", §9.3, §12.6): what a device does through the IOMMU outside
 * any ioctl. Each names the iommufd context by an fd of the calling process
 * (`fd`) and the device by its DEVICE object ID (`dev_id`).
 *
 * - `dma_write {fd, dev_id, iova, length}` (+ the bytes as `bufs.data` or
 *   `args.data`, optional): the device writes [iova, iova + length) through
 *   the HWPT it is attached to. A nested HWPT translates through its
 *   parent's stage 2 with an identity stage 1 (the mock nested domain has no
 *   stage-1 table to walk). Where a writable mapping exists the bytes reach
 *   the physical pages behind the area and, if the domain tracks dirty
 *   pages, its 2 KiB IOPTE slots become dirty; a write to an unmapped IOVA
 *   or a read-only mapping reaches nothing and is recorded as an IOMMU fault
 *   in the journal (one record per contiguous faulting run), as is a write
 *   from a device attached to nothing ('blocked'). A write through a nested
 *   HWPT to an IOVA the guest changed after the last invalidation covering
 *   it is recorded as 'stale_tlb' (tlb.ts). Without bytes, memory contents
 *   are left as they were (the event then says which pages were written,
 *   not what). Answer: errno 0, out {written, faulted} (bytes).
 * - `iopf {fd, dev_id, grpid, perm, addr, pasid?, last_page?}`: the device
 *   raises a page request (PRI) — iommu_report_device_fault (§9.3). `pasid`
 *   present means PASID_VALID (any value, 0 included, unlike the mock's
 *   TRIGGER_IOPF where pasid 0 means none); `last_page` defaults to true.
 *   Answer: errno 0, out {outcome: 'queued' | 'partial' | 'dropped'}.
 * - `guest_s1_change {fd, hwpt_id, iova, length, scope?}`: a guest edited
 *   its stage-1 table for [iova, iova + length) of nested HWPT `hwpt_id` (or
 *   of ASID scope `scope`, e.g. 'asid:3', of vIOMMU `hwpt_id`). The kernel
 *   sees nothing; cached translations are stale until an invalidation
 *   covers them (tlb.ts).
 */
import type { Event, Fields, Result } from '../events/event.js';
import { u32, u64 } from './args.js';
import { getIoas } from './io_pagetable.js';
import { logFault } from './journal.js';
import { PAGE_SIZE, writePage } from './mm.js';
import { Tx } from './object.js';
import { pinnedPage } from './pages.js';
import { IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID, reportFault } from './fault.js';
import { MOCK_IO_PAGE_SIZE } from './drivers/mock.js';
import { recordGuestChange, staleSpans } from './tlb.js';
import type { Area, HwptPagingObj, World } from './state.js';
import { MAX_EVENT_STEPS, overLimit } from './limits.js';
import { fileAt } from './files.js';

const IOMMU_WRITE = 2;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The transaction on the iommufd context behind fd `a.fd` of process `pid`. */
function ctxTx(w: World, pid: number, a: Fields): Tx | undefined {
  const f = fileAt(w, pid, u32(a, 'fd'));
  const ctx = f?.ctx === undefined ? undefined : w.ctxs.get(f.ctx);
  return ctx ? new Tx(w, ctx, pid) : undefined;
}

/** env `dma_write` */
export function dmaWrite(w: World, pid: number, a: Fields, ev: Event): [World, Result] {
  const tx = ctxTx(w, pid, a);
  if (!tx) return [w, { errno: 'EBADF' }];
  const devId = u32(a, 'dev_id');
  const dev = tx.get(devId, 'device');
  if (!dev) return [w, { errno: 'ENOENT' }];
  const iova = u64(a, 'iova');
  const length = u64(a, 'length');
  const raw = ev.bufs?.['data'] ?? a['data'];
  const data = raw instanceof Uint8Array ? raw : undefined;
  if (length === 0n || iova + length - 1n > U64_MAX || (data && BigInt(data.length) !== length)) return [w, { errno: 'EINVAL' }];
  const last = iova + length - 1n;
  if (!dev.hwpt) {
    logFault(tx, { dev: devId, hwpt: 0, kind: 'blocked', iova, last, write: true });
    return [tx.commit(), { errno: 0, out: { written: 0n, faulted: length } }];
  }
  const h = tx.any(dev.hwpt)!;
  if (h.type !== 'hwpt_paging' && h.type !== 'hwpt_nested') throw new Error(`model bug: device ${devId} attached to ${h.type}`);
  if (h.type === 'hwpt_nested') {
    for (const s of staleSpans(h.tlb, { scope: '', start: iova, last })) logFault(tx, { dev: devId, hwpt: h.id, kind: 'stale_tlb', iova: s.start, last: s.last, write: true });
  }
  const paging: HwptPagingObj = h.type === 'hwpt_paging' ? h : tx.get(h.parent, 'hwpt_paging')!;
  // Each written 2 KiB slot is marked dirty one by one.
  const big = paging.domain.dirtyEnabled ? overLimit('dma_write with dirty tracking', length / MOCK_IO_PAGE_SIZE, MAX_EVENT_STEPS, '2 KiB slots') : undefined;
  if (big) return [w, big];
  const iopt = getIoas(tx, paging.ioas)!.iopt;
  let dirty = paging.domain.dirty;
  let written = 0n;
  let faulted = 0n;
  const fault = (kind: 'unmapped' | 'readonly', s: bigint, e: bigint) => {
    logFault(tx, { dev: devId, hwpt: h.id, kind, iova: s, last: e, write: true });
    faulted += e - s + 1n;
  };
  const pieces: [bigint, bigint, Area][] = [];
  iopt.areas.eachOverlapping(iova, last, (s, l, area) => {
    pieces.push([s, l, area]);
  });
  let cur = iova;
  for (const [areaStart, areaLast, area] of pieces) {
    const s = areaStart > cur ? areaStart : cur;
    const e = areaLast < last ? areaLast : last;
    if (s > cur) fault('unmapped', cur, s - 1n);
    if (!(area.prot & IOMMU_WRITE)) fault('readonly', s, e);
    else {
      written += e - s + 1n;
      if (data) writeThrough(tx, area, areaStart, s, data.subarray(Number(s - iova), Number(e - iova) + 1));
      if (paging.domain.dirtyEnabled) for (let slot = s / MOCK_IO_PAGE_SIZE; slot <= e / MOCK_IO_PAGE_SIZE; slot++) dirty = dirty.set(slot, true);
    }
    cur = e + 1n;
  }
  if (cur <= last) fault('unmapped', cur, last);
  if (dirty !== paging.domain.dirty) tx.put({ ...tx.get(paging.id, 'hwpt_paging')!, domain: { ...paging.domain, dirty } });
  return [tx.commit(), { errno: 0, out: { written, faulted } }];
}

/** Device DMA into the physical pages pinned behind an area (the pages object's runs). */
function writeThrough(tx: Tx, area: Area, areaStart: bigint, at: bigint, bytes: Uint8Array): void {
  const pages = tx.pages(area.pages);
  let done = 0;
  while (done < bytes.length) {
    const byte = area.startByte + (at - areaStart) + BigInt(done);
    const idx = Number(byte / PAGE_SIZE);
    const inPage = Number(byte % PAGE_SIZE);
    const k = Math.min(bytes.length - done, Number(PAGE_SIZE) - inPage);
    const page = pinnedPage(pages, idx);
    if (page) tx.setWorld({ ...tx.w, mem: writePage(tx.w.mem, page, inPage, bytes.subarray(done, done + k)) });
    done += k;
  }
}

/** env `iopf` */
export function iopf(w: World, pid: number, a: Fields): [World, Result] {
  const tx = ctxTx(w, pid, a);
  if (!tx) return [w, { errno: 'EBADF' }];
  const devId = u32(a, 'dev_id');
  if (!tx.get(devId, 'device')) return [w, { errno: 'ENOENT' }];
  const hasPasid = a['pasid'] !== undefined && a['pasid'] !== null;
  const outcome = reportFault(tx, devId, {
    flags: (a['last_page'] === false ? 0 : IOMMU_PGFAULT_FLAGS_LAST_PAGE) | (hasPasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0),
    dev_id: devId,
    pasid: hasPasid ? u32(a, 'pasid') : 0,
    grpid: u32(a, 'grpid'),
    perm: u32(a, 'perm'),
    addr: u64(a, 'addr'),
  });
  return [tx.commit(), { errno: 0, out: { outcome } }];
}

/** env `guest_s1_change` */
export function guestS1Change(w: World, pid: number, a: Fields): [World, Result] {
  const tx = ctxTx(w, pid, a);
  if (!tx) return [w, { errno: 'EBADF' }];
  const o = tx.any(u32(a, 'hwpt_id'));
  const iova = u64(a, 'iova');
  const length = u64(a, 'length');
  if (!o || (o.type !== 'hwpt_nested' && o.type !== 'viommu')) return [w, { errno: 'ENOENT' }];
  if (length === 0n || iova + length - 1n > U64_MAX) return [w, { errno: 'EINVAL' }];
  const scope = typeof a['scope'] === 'string' ? a['scope'] : '';
  if (o.type === 'viommu' && !scope) return [w, { errno: 'EINVAL' }];
  recordGuestChange(tx, o, scope, iova, iova + length - 1n);
  return [tx.commit(), { errno: 0 }];
}
