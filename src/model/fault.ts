/**
 * fault.c and io-pgfault.c: fault queue objects, their fd, delivery of I/O
 * page faults, responses and automatic responses (kernel-semantics §9).
 *
 * Each group moves through the lifecycle of machines/fault_group.machine.ts
 * by its derived table; the end of every group (and every page request
 * dropped for want of a handler) is written to the journal (journal.ts).
 *
 * Checked against 6.12 fault.c / device.c / io-pgfault.c (and the 6.14
 * eventq-era fault.c where they differ, Appendix A):
 * - Partial (non-LAST_PAGE) requests live on the *device's* iopf param, not
 *   on a fault object: they survive a replace between two fault-capable
 *   HWPTs (IOPF stays enabled; a later LAST_PAGE on the new HWPT collects
 *   them) and are freed when IOPF is disabled — detach from a fault HWPT,
 *   replace onto a HWPT without a fault (iopf_queue_remove_device frees the
 *   partial list). The model parks them on the fault object of the HWPT the
 *   device is attached to and moves or drops them accordingly.
 * - Detach / replace away from a fault HWPT answers INVALID every group that
 *   device raised through that attachment, queued or read; the fault object's
 *   destroy answers everything left. Closing the fault fd answers nothing.
 * - Cookies: xa_alloc in an XA_FLAGS_ALLOC1 xarray, xa_limit_32b: the lowest
 *   integer >= 1 not held by a read-but-unanswered group; an answered cookie
 *   is reusable at once.
 * - read: 6.12 returns EINVAL when the first queued group does not fit
 *   (including count 0 with a queued group); 6.14 returns 0.
 * - write of an unreadable record: 6.12 EFAULT (the stable fix); 6.14
 *   returns the positive number of bytes copy_from_user could not copy.
 */
import type { Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { le, u32 } from './args.js';
import type { Tx } from './object.js';
import type { FaultGroup, FaultGroupState, FaultObj, FaultRecord } from './state.js';
import { openFile } from './files.js';
import { devHw } from './hardware.js';
import { PROFILES } from './drivers/index.js';
import { logFault, logGroupEnd, logGroupRaised } from './journal.js';
import type { FaultGroupEventType } from '../../machines/fault_group.machine.js';
import { faultGroupNext } from '../../machines/fault_group.table.js';

export const IOMMU_PGFAULT_FLAGS_PASID_VALID = 1;
export const IOMMU_PGFAULT_FLAGS_LAST_PAGE = 2;
export const IOMMUFD_PAGE_RESP_SUCCESS = 0;
export const IOMMUFD_PAGE_RESP_INVALID = 1;
export const PGFAULT_SIZE = 40;
export const RESPONSE_SIZE = 8;

/** The lifecycle table's next state; a transition the machine does not allow is a model bug. */
function next(g: FaultGroup, ev: FaultGroupEventType): FaultGroupState {
  const s = faultGroupNext(g.state, ev);
  if (!s) throw new Error(`model bug: fault group ${g.gid} in state ${g.state} cannot take ${ev}`);
  return s;
}

/** iommufd_fault_alloc (IOMMU_FAULT_QUEUE_ALLOC) */
export function faultAlloc(tx: Tx, a: Fields): Result {
  if (u32(a, 'flags')) return { errno: 'EOPNOTSUPP' };
  const f = tx.alloc(
    (id): FaultObj => ({ type: 'fault', id, users: 1, file: 0, fdOpen: true, queue: [], awaiting: PMap.emptyNumber<FaultGroup>(), partial: [], answered: 0 }),
  );
  if (!f) return { errno: 'EBUSY' };
  const opened = openFile(tx, { kind: 'fault', ctx: tx.ctx.id, obj: f.id });
  tx.put({ ...tx.get(f.id, 'fault')!, users: 2, file: opened.file });
  return { errno: 0, out: { out_fault_id: f.id, out_fault_fd: opened.fd } };
}

export type ReportOutcome = 'queued' | 'partial' | 'dropped';

/**
 * iommu_report_device_fault for a page request from device `devId` (§9.3).
 * A request with no handler is answered INVALID by the core and dropped;
 * the journal records it.
 */
export function reportFault(tx: Tx, devId: number, rec: FaultRecord): ReportOutcome {
  const dev = tx.get(devId, 'device')!;
  const h = dev.hwpt ? tx.any(dev.hwpt) : undefined;
  const hwpt = h && (h.type === 'hwpt_nested' || h.type === 'hwpt_paging') ? h : undefined;
  // find_fault_handler: with PASID_VALID (iommufd makes no PASID attachments in 6.12/6.14) only a
  // nested no-PASID attachment takes it, and only with a driver whose guest keeps the PASID table
  // (ops->user_pasid_table: the mock, 6.14's SMMUv3; not VT-d).
  const prof = PROFILES[devHw(tx.w, dev).iommu.driver];
  const pasidOk = (): boolean => hwpt!.type === 'hwpt_nested' && prof.userPasidTable(tx.kernel);
  // (and only a driver that put the device on an iopf queue gets it that far: 6.14's SMMUv3 does not)
  const handled = hwpt && hwpt.fault && !(rec.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID && !pasidOk()) && prof.queuesFaults(tx.kernel);
  if (!hwpt || !handled) {
    logFault(tx, { dev: devId, hwpt: hwpt?.id ?? 0, kind: 'prq_dropped', iova: rec.addr, last: rec.addr, write: !!(rec.perm & 2), pasid: rec.pasid });
    return 'dropped';
  }
  const f = tx.get(hwpt.fault, 'fault')!;
  if (!(rec.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
    tx.put({ ...f, partial: [...f.partial, rec] });
    return 'partial';
  }
  // iopf_group_alloc: the device's partials with this grpid, in the order raised, then this request.
  const mine = f.partial.filter((p) => p.dev_id === rec.dev_id && p.grpid === rec.grpid);
  const rest = mine.length ? f.partial.filter((p) => !(p.dev_id === rec.dev_id && p.grpid === rec.grpid)) : f.partial;
  const gid = logGroupRaised(tx);
  const group: FaultGroup = { dev: devId, hwpt: hwpt.id, group: dev.group, faults: [...mine, rec], gid, state: 'raised' };
  tx.put({ ...f, partial: rest, queue: [...f.queue, group] });
  return 'queued';
}

/** read(2) on a fault fd (§9.4). */
export function faultRead(tx: Tx, faultId: number, count: number, pos: number): Result {
  let f = tx.get(faultId, 'fault')!;
  if (pos !== 0 || count % PGFAULT_SIZE) return { errno: 'ESPIPE' };
  const chunks: Uint8Array[] = [];
  let done = 0;
  while (f.queue.length) {
    const g = f.queue[0]!;
    if (done + g.faults.length * PGFAULT_SIZE > count) break;
    const cookie = f.awaiting.lowestFreeKey(f.zeroFree ? 0 : 1);
    for (const r of g.faults) chunks.push(encodePgfault(r, cookie));
    done += g.faults.length * PGFAULT_SIZE;
    f = { ...f, queue: f.queue.slice(1), awaiting: f.awaiting.set(cookie, { ...g, state: next(g, 'READ') }) };
  }
  if (!done && f.queue.length && tx.kernel === '6.12') return { errno: 'EINVAL' };
  tx.put(f);
  const data = new Uint8Array(done);
  let off = 0;
  for (const c of chunks) {
    data.set(c, off);
    off += c.length;
  }
  return { errno: 0, ret: done, bufs: { data } };
}

export function encodePgfault(r: FaultRecord, cookie: number): Uint8Array {
  const b = new Uint8Array(PGFAULT_SIZE);
  le.putU32(b, 0, r.flags);
  le.putU32(b, 4, r.dev_id);
  le.putU32(b, 8, r.pasid);
  le.putU32(b, 12, r.grpid);
  le.putU32(b, 16, r.perm);
  le.putU64(b, 24, r.addr);
  le.putU32(b, 32, 0);
  le.putU32(b, 36, cookie);
  return b;
}

/**
 * write(2) of struct iommu_hwpt_page_response records (§9.4). `data` holds
 * the readable bytes of the caller's buffer (undefined: none readable);
 * `count` the length passed to write (default: all of `data`).
 */
export function faultWrite(tx: Tx, faultId: number, data: Uint8Array | undefined, pos: number, count: number = data?.length ?? 0): Result {
  let f = tx.get(faultId, 'fault')!;
  if (pos !== 0 || count % RESPONSE_SIZE) return { errno: 'ESPIPE' };
  const readable = data?.length ?? 0;
  let done = 0;
  let errno: string | 0 = 0;
  let notCopied = 0;
  while (count > done) {
    if (readable < done + RESPONSE_SIZE) {
      // copy_from_user of one record failed.
      if (tx.kernel === '6.12') errno = 'EFAULT';
      else notCopied = Math.min(RESPONSE_SIZE, done + RESPONSE_SIZE - readable);
      break;
    }
    const cookie = le.u32(data!, done);
    const code = le.u32(data!, done + 4);
    if (code !== IOMMUFD_PAGE_RESP_SUCCESS && code !== IOMMUFD_PAGE_RESP_INVALID) {
      errno = 'EINVAL';
      break;
    }
    const g = f.awaiting.get(cookie);
    if (!g) {
      // xa_erase(&fault->response, 0) of an ALLOC1 xarray with entries: slot 0 holds the
      // XA_ZERO_ENTRY that keeps 0 reserved, and erasing it marks index 0 free (xas_store ->
      // xas_init_marks). The answer still fails (xa_erase returns NULL for a zero entry), but
      // later reads hand out cookie 0, also after the xarray empties (its root stays marked
      // free). With no entries (no node) there is nothing at index 0 to erase. Kernel-checked:
      // test/unit/model/fault_cookie.test.ts.
      if (cookie === 0 && !f.zeroFree && f.awaiting.size) {
        f = { ...f, zeroFree: true };
        tx.keepOnError = true;
      }
      errno = 'EINVAL';
      break;
    }
    f = { ...f, awaiting: f.awaiting.delete(cookie), answered: f.answered + 1 };
    logGroupEnd(tx, { gid: g.gid, fault: f.id, dev: g.dev, hwpt: g.hwpt, state: next(g, 'RESPOND') as 'responded', code, cookie, nfaults: g.faults.length });
    done += RESPONSE_SIZE;
  }
  if (done || tx.keepOnError) tx.put(f);
  if (done) return { errno: 0, ret: done };
  // 6.14: "return done == 0 ? rc : done" with rc the positive count copy_from_user left.
  if (notCopied) return { errno: 0, ret: notCopied };
  return { errno, ret: 0 };
}

/**
 * iommufd_auto_response_faults: every group raised through the attach
 * handle of `devId`'s iommu group on `hwptId` (by any device of the group;
 * queued or awaiting a response) is answered INVALID and freed.
 * Called on detach (the device still names `hwptId`) and after a replace
 * (the device names its new HWPT): the device's partial requests follow it
 * to the new HWPT's fault object when IOPF stays enabled, else they are freed.
 */
export function autoRespondFaults(tx: Tx, faultId: number, hwptId: number, devId: number): void {
  let f = tx.get(faultId, 'fault');
  if (!f) return;
  const igroup = tx.get(devId, 'device')?.group;
  const match = (g: FaultGroup) => g.hwpt === hwptId && (g.group === igroup || g.dev === devId);
  let awaiting = f.awaiting;
  let n = 0;
  const end = (g: FaultGroup, cookie: number) => {
    logGroupEnd(tx, { gid: g.gid, fault: faultId, dev: g.dev, hwpt: g.hwpt, state: next(g, 'AUTO_RESPOND') as 'auto_responded', code: IOMMUFD_PAGE_RESP_INVALID, cookie, nfaults: g.faults.length });
    n++;
  };
  // The kernel answers the delivery list first, then the response xarray in cookie order.
  const queue = f.queue.filter((g) => {
    if (!match(g)) return true;
    end(g, 0);
    return false;
  });
  f.awaiting.each((cookie, g) => {
    if (match(g)) {
      awaiting = awaiting.delete(cookie);
      end(g, cookie);
    }
    return true;
  });
  if (n) f = { ...f, queue, awaiting, answered: f.answered + n };
  // The device's parked partial requests.
  const mine = f.partial.filter((p) => p.dev_id === devId);
  if (mine.length) {
    f = { ...f, partial: f.partial.filter((p) => p.dev_id !== devId) };
    const dev = tx.get(devId, 'device');
    const now = dev && dev.hwpt && dev.hwpt !== hwptId ? tx.any(dev.hwpt) : undefined;
    const newFault = now && (now.type === 'hwpt_paging' || now.type === 'hwpt_nested') ? now.fault : 0;
    if (newFault === faultId) f = { ...f, partial: [...f.partial, ...mine] };
    else if (newFault) {
      tx.put(f);
      const g = tx.get(newFault, 'fault')!;
      tx.put({ ...g, partial: [...g.partial, ...mine] });
      return;
    }
  }
  if (f !== tx.get(faultId, 'fault')) tx.put(f);
}

/** iommufd_fault_destroy: everything still queued or awaiting a response is answered INVALID. */
export function faultDestroy(tx: Tx, id: number): void {
  const f = tx.get(id, 'fault')!;
  for (const g of f.queue) logGroupEnd(tx, { gid: g.gid, fault: id, dev: g.dev, hwpt: g.hwpt, state: next(g, 'AUTO_RESPOND') as 'auto_responded', code: IOMMUFD_PAGE_RESP_INVALID, cookie: 0, nfaults: g.faults.length });
  f.awaiting.each((cookie, g) => {
    logGroupEnd(tx, { gid: g.gid, fault: id, dev: g.dev, hwpt: g.hwpt, state: next(g, 'AUTO_RESPOND') as 'auto_responded', code: IOMMUFD_PAGE_RESP_INVALID, cookie, nfaults: g.faults.length });
    return true;
  });
  tx.remove(id);
}
