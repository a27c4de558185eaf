/**
 * fault.c and io-pgfault.c: fault queue objects, their fd, delivery of I/O
 * page faults, responses and automatic responses (kernel-semantics §9).
 */
import type { Fields, Result } from '../events/event.js';
import { PMap } from '../ds/pmap.js';
import { le, u32 } from './args.js';
import type { Tx } from './object.js';
import type { FaultGroup, FaultObj, FaultRecord } from './state.js';
import { openFile } from './files.js';

export const IOMMU_PGFAULT_FLAGS_PASID_VALID = 1;
export const IOMMU_PGFAULT_FLAGS_LAST_PAGE = 2;
const PGFAULT_SIZE = 40;
const RESPONSE_SIZE = 8;

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

/** iommu_report_device_fault for a page request from device `devId` (§9.3). */
export function reportFault(tx: Tx, devId: number, rec: FaultRecord): void {
  const dev = tx.get(devId, 'device')!;
  if (!dev.hwpt) return;
  const h = tx.any(dev.hwpt);
  if (!h || (h.type !== 'hwpt_nested' && h.type !== 'hwpt_paging')) return;
  // With PASID_VALID only a nested no-PASID attachment takes it (mock keeps user PASID tables).
  if (rec.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID && h.type !== 'hwpt_nested') return;
  if (!h.fault) return; // no handler: answered INVALID to the device and dropped
  const f = tx.get(h.fault, 'fault')!;
  if (!(rec.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
    tx.put({ ...f, partial: [...f.partial, rec] });
    return;
  }
  const mine = f.partial.filter((p) => p.dev_id === rec.dev_id && p.grpid === rec.grpid);
  const rest = f.partial.filter((p) => !(p.dev_id === rec.dev_id && p.grpid === rec.grpid));
  const group: FaultGroup = { dev: devId, hwpt: h.id, faults: [...mine, rec] };
  tx.put({ ...f, partial: rest, queue: [...f.queue, group] });
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
    const cookie = f.awaiting.lowestFreeKey(1);
    for (const r of g.faults) chunks.push(encodePgfault(r, cookie));
    done += g.faults.length * PGFAULT_SIZE;
    f = { ...f, queue: f.queue.slice(1), awaiting: f.awaiting.set(cookie, g) };
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

function encodePgfault(r: FaultRecord, cookie: number): Uint8Array {
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

/** write(2) of struct iommu_hwpt_page_response records (§9.4). */
export function faultWrite(tx: Tx, faultId: number, data: Uint8Array | undefined, pos: number): Result {
  let f = tx.get(faultId, 'fault')!;
  const count = data?.length ?? 0;
  if (pos !== 0 || count % RESPONSE_SIZE) return { errno: 'ESPIPE' };
  if (!data) return { errno: 'EFAULT' };
  let done = 0;
  let errno: string | 0 = 0;
  for (let off = 0; off < count; off += RESPONSE_SIZE) {
    const cookie = le.u32(data, off);
    const code = le.u32(data, off + 4);
    if (code > 1) {
      errno = 'EINVAL';
      break;
    }
    if (!f.awaiting.has(cookie)) {
      errno = 'EINVAL';
      break;
    }
    f = { ...f, awaiting: f.awaiting.delete(cookie), answered: f.answered + 1 };
    done += RESPONSE_SIZE;
  }
  tx.put(f);
  if (done) return { errno: 0, ret: done };
  if (errno) tx.keepOnError = false;
  return { errno: errno || 0, ret: 0 };
}

/**
 * iommufd_auto_response_faults: every group raised through `hwptId` by
 * `devId` (queued or awaiting a response) is answered INVALID and freed.
 */
export function autoRespondFaults(tx: Tx, faultId: number, hwptId: number, devId: number): void {
  const f = tx.get(faultId, 'fault');
  if (!f) return;
  const match = (g: FaultGroup) => g.hwpt === hwptId && g.dev === devId;
  let awaiting = f.awaiting;
  let n = 0;
  f.awaiting.each((cookie, g) => {
    if (match(g)) {
      awaiting = awaiting.delete(cookie);
      n++;
    }
    return true;
  });
  const queue = f.queue.filter((g) => !match(g));
  n += f.queue.length - queue.length;
  if (n) tx.put({ ...f, queue, awaiting, answered: f.answered + n });
}

/** iommufd_fault_destroy: everything pending is answered INVALID. */
export function faultDestroy(tx: Tx, id: number): void {
  tx.remove(id);
}
