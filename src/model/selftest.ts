/**
 * selftest.c: IOMMU_TEST_CMD, the mock driver's test ops (kernel-semantics
 * §12). Each op is an event named IOMMU_TEST_OP_*; its args are
 * `{ id, <union member>: {...} }` as in struct iommu_test_cmd.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { sub, u32, u64, userBuf } from './args.js';
import { unpinPieces, accessCreate, accessChangeIoas, accessItemPages, accessPinPages, accessRw, IOMMUFD_ACCESS_RW_WRITE } from './access.js';
import { deviceAttach, deviceReplace } from './device.js';
import { MOCK_FLAGS_DEVICE_HUGE_IOVA, MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_IO_PAGE_SIZE, IOMMU_TEST_DEV_CACHE_DEFAULT } from './drivers/mock.js';
import { fileAt, openFile } from './files.js';
import { addOverflows, getIoas, reserveIova, U64_MAX } from './io_pagetable.js';
import { syzConvIova, MOCK_FLAGS_ACCESS_SYZ } from './ioas.js';
import { EXEC_ONLY_READ, PAGE_SIZE, execOnlyIn, gupFastOverflows, peekPage, physOf, readNeedsPtes, readUser, copyToUser, READ_NEEDS_PTES } from './mm.js';
import { isCompoundPage } from './huge_memory.js';
import { Tx, type ObjOf } from './object.js';
import { eachPinRun, pinnedPage } from './pages.js';
import type { DeviceObj, HwptPagingObj, SelftestObj } from './state.js';
import { nestedDriver } from './invalidate.js';
import { reportFault, IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID } from './fault.js';
import { mockDirty } from './dirty.js';
import { table } from '../ds/table.js';
import { MAX_EVENT_STEPS, overLimit } from './limits.js';

export type TestHandler = (tx: Tx, a: Fields, ev: Event) => Result;

const MOCK_FLAGS_ACCESS_WRITE = 1;
const MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1;
const MOCK_ACCESS_RW_WRITE = 1;
const MOCK_ACCESS_RW_SLOW_PATH = 4;

/** IOMMU_TEST_OP_ADD_RESERVED */
function addReserved(tx: Tx, a: Fields): Result {
  const m = sub(a, 'add_reserved');
  const start = u64(m, 'start');
  const length = u64(m, 'length');
  if (tx.kernel === '6.12') {
    if (length === 0n) return { errno: 'EINVAL' };
    if (addOverflows(start, length - 1n)) return { errno: 'EOVERFLOW' };
  }
  const ioasId = u32(a, 'id');
  if (!getIoas(tx, ioasId)) return { errno: 'ENOENT' };
  const e = reserveIova(tx, ioasId, start, (start + length - 1n) & U64_MAX, 'test');
  return e ? { errno: e } : { errno: 0 };
}

/** get_user_pages_fast of one page that found it unmapped or not readable (EFAULT; not modelled where page-table state decides). */
function readFault(tx: Tx, r: ReturnType<typeof peekPage>): Result {
  if (r.ok && readNeedsPtes(r.vma)) tx.beyondModel = READ_NEEDS_PTES;
  return { errno: 'EFAULT' };
}

/** IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS): stdev, then DEVICE, then maybe an automatic HWPT. */
function mockDomainOp(member: 'mock_domain' | 'mock_domain_flags'): TestHandler {
  return (tx, a) => {
    const m = sub(a, member);
    const devFlags = member === 'mock_domain_flags' ? u32(m, 'dev_flags') : 0;
    const st = tx.alloc((id): SelftestObj => ({ type: 'selftest', id, users: 1, idev: 0 }));
    if (!st) return { errno: 'EBUSY' };
    if (devFlags & ~(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA)) return { errno: 'EINVAL' };
    const dev = tx.alloc(
      // Every mock device is its own iommu group (generic_device_group).
      (id): DeviceObj => ({ type: 'device', id, users: 2, devFlags, stdev: st.id, pdev: 0, group: -id, hwpt: 0, cache: [0, 1, 2, 3].map(() => IOMMU_TEST_DEV_CACHE_DEFAULT), iopfEnabled: false }),
    );
    if (!dev) return { errno: 'EBUSY' };
    tx.put({ ...st, idev: dev.id });
    // The selftest object is finalized only once the op succeeds: until then a lookup of its ID finds nothing.
    if (u32(a, 'id') === st.id) return { errno: 'ENOENT' };
    const hwpt = deviceAttach(tx, dev.id, u32(a, 'id'));
    if (typeof hwpt === 'string') return { errno: hwpt };
    return { errno: 0, out: { [member]: { out_stdev_id: st.id, out_hwpt_id: hwpt, out_idev_id: dev.id } } };
  };
}

/** IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE */
function mockDomainReplace(tx: Tx, a: Fields): Result {
  const st = tx.get(u32(a, 'id'), 'selftest');
  if (!st) return { errno: 'ENOENT' };
  const r = deviceReplace(tx, st.idev, u32(sub(a, 'mock_domain_replace'), 'pt_id'));
  if (typeof r === 'string') return { errno: r };
  return { errno: 0, out: { mock_domain_replace: { pt_id: r } } };
}

/** get_md_pagetable: a mock paging HWPT. */
function mdPagetable(tx: Tx, id: number): HwptPagingObj | 'ENOENT' | 'EINVAL' {
  const h = tx.get(id, 'hwpt_paging');
  // (get_md_pagetable: a paging HWPT of another driver's domain is EINVAL)
  return !h ? 'ENOENT' : h.domain.driver !== 'mock' ? 'EINVAL' : h;
}

/** IOMMU_TEST_OP_MD_CHECK_MAP: the domain maps each 2 KiB of iova to the memory now at uptr. */
function mdCheckMap(tx: Tx, a: Fields): Result {
  const m = sub(a, 'check_map');
  let iova = u64(m, 'iova');
  let length = u64(m, 'length');
  let uptr = u64(m, 'uptr');
  if (iova % MOCK_IO_PAGE_SIZE || length % MOCK_IO_PAGE_SIZE || uptr % MOCK_IO_PAGE_SIZE || addOverflows(uptr, length)) return { errno: 'EINVAL' };
  const h = mdPagetable(tx, u32(a, 'id'));
  if (typeof h === 'string') return { errno: h };
  const big = overLimit('IOMMU_TEST_OP_MD_CHECK_MAP', length / MOCK_IO_PAGE_SIZE, MAX_EVENT_STEPS, '2 KiB slots');
  if (big) return big;
  const iopt = getIoas(tx, h.ioas)!.iopt;
  for (; length; length -= MOCK_IO_PAGE_SIZE) {
    // get_user_pages_fast of the one page: only the last page of the u64 range overflows
    // (the uptr + length check above catches the rest).
    const pageVa = uptr & ~(PAGE_SIZE - 1n);
    if (gupFastOverflows(pageVa, 1)) return { errno: 'EOVERFLOW' };
    const r = peekPage(tx.proc.mm, tx.w.mem, pageVa);
    if (!r.ok || !r.vma.read) return readFault(tx, r);
    lookupFault(tx, pageVa);
    const want = physOf(tx.w.mem.mobjs.get(r.page.mobj)!, BigInt(r.page.index) * PAGE_SIZE) + (uptr % PAGE_SIZE);
    const area = iopt.areas.find(iova);
    if (!area) return { errno: 'EINVAL' };
    const byte = area.value.startByte + (iova - area.start);
    const page = pinnedPage(tx.pages(area.value.pages), Number(byte / PAGE_SIZE));
    if (!page) return { errno: 'EINVAL' };
    const have = physOf(tx.w.mem.mobjs.get(page.mobj)!, BigInt(page.index) * PAGE_SIZE) + (byte % PAGE_SIZE);
    if (have !== want) return { errno: 'EINVAL' };
    iova += MOCK_IO_PAGE_SIZE;
    uptr += MOCK_IO_PAGE_SIZE;
  }
  return { errno: 0 };
}

/**
 * The check ops look a page up with get_user_pages_fast (not long-term, not
 * for writing): a read fault, which may map the huge zero page
 * (huge_memory.ts). The kernel keeps it whatever the check then answers.
 */
function lookupFault(tx: Tx, va: bigint): void {
  tx.fault(tx.pid, va, va + PAGE_SIZE, 'read');
}

/** Long-term pins held on one physical page, over every context (one per pages object). */
function pinsOn(tx: Tx, mobj: number, index: number): number {
  let n = 0;
  const own = tx.ctx;
  eachPinRun(
    tx.w.ctxs,
    (s, r) => {
      if (r.mobj === mobj && index >= r.mobjIndex && index <= r.mobjIndex + (r.last - s)) n++;
      return true;
    },
    (c) => (c.id === own.id ? own.pages : c.pages),
  );
  return n;
}

/** IOMMU_TEST_OP_MD_CHECK_REFS */
function mdCheckRefs(tx: Tx, a: Fields): Result {
  const m = sub(a, 'check_refs');
  let length = u64(m, 'length');
  let uptr = u64(m, 'uptr');
  const refs = u32(m, 'refs');
  if (length % PAGE_SIZE || uptr % PAGE_SIZE || addOverflows(uptr, length)) return { errno: 'EINVAL' };
  const big = overLimit('IOMMU_TEST_OP_MD_CHECK_REFS', length / PAGE_SIZE, MAX_EVENT_STEPS, 'pages');
  if (big) return big;
  for (; length; length -= PAGE_SIZE) {
    const r = peekPage(tx.proc.mm, tx.w.mem, uptr);
    if (!r.ok || !r.vma.read) return readFault(tx, r);
    lookupFault(tx, uptr);
    // (a compound page, hugetlb or transparent or the huge zero page, is not counted: PageCompound)
    if (!isCompoundPage(tx.proc.mm, tx.w.mem, uptr, r.page) && pinsOn(tx, r.page.mobj, r.page.index) !== refs) return { errno: 'EIO' };
    uptr += PAGE_SIZE;
  }
  return { errno: 0 };
}

/** IOMMU_TEST_OP_MD_CHECK_IOTLB */
function mdCheckIotlb(tx: Tx, a: Fields): Result {
  const h = tx.get(u32(a, 'id'), 'hwpt_nested');
  if (!h) return { errno: 'ENOENT' };
  // (get_md_pagetable_nested: a nested domain of another driver is EINVAL)
  if (nestedDriver(tx, h) !== 'mock') return { errno: 'EINVAL' };
  const m = sub(a, 'check_iotlb');
  const idx = u32(m, 'id');
  if (idx > 3 || h.iotlb[idx] !== u32(m, 'iotlb')) return { errno: 'EINVAL' };
  return { errno: 0 };
}

/**
 * selftest.c iommufd_access_get: the access fd is looked up in the caller's
 * fd table and only its file type is checked (EBADFD otherwise), so an
 * access works through any iommufd, and after its own iommufd fd was closed
 * (the access holds that context). The op then runs on the access's own
 * context: its IOAS, its pages. `fn` gets a transaction on that context;
 * what it changes there is written back into the caller's transaction.
 */
function withAccess(tx: Tx, fd: number, fn: (t: Tx, acc: ObjOf<'access'>) => Result): Result {
  const f = fileAt(tx.w, tx.pid, fd);
  if (!f || f.kind !== 'access' || f.ctx === undefined || f.obj === undefined) return { errno: 'EBADFD' };
  if (f.ctx === tx.ctx.id) {
    const acc = tx.get(f.obj, 'access');
    return acc ? fn(tx, acc) : { errno: 'EBADFD' };
  }
  const ctx = tx.w.ctxs.get(f.ctx);
  const t = ctx && new Tx(tx.commit(), ctx, tx.pid);
  const acc = t?.get(f.obj, 'access');
  if (!t || !acc) return { errno: 'EBADFD' };
  const r = fn(t, acc);
  tx.keepOnError ||= t.keepOnError;
  tx.beyondModel ??= t.beyondModel;
  tx.adoptFaults(t);
  tx.setWorld(t.commit());
  return r;
}
/** IOMMU_TEST_OP_CREATE_ACCESS */
function createAccess(tx: Tx, a: Fields): Result {
  const flags = u32(sub(a, 'create_access'), 'flags');
  if (flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) return { errno: 'EOPNOTSUPP' };
  const ioasId = u32(a, 'id');
  const acc = accessCreate(tx, ioasId, !!(flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES), 0);
  if (typeof acc === 'string') return { errno: acc };
  const opened = openFile(tx, { kind: 'access', ctx: tx.ctx.id, obj: acc.id });
  tx.put({ ...tx.get(acc.id, 'access')!, file: opened.file });
  return { errno: 0, out: { create_access: { out_access_fd: opened.fd } } };
}

/** IOMMU_TEST_OP_ACCESS_PAGES */
function accessPages(tx: Tx, a: Fields): Result {
  const m = sub(a, 'access_pages');
  const flags = u32(m, 'flags');
  let iova = u64(m, 'iova');
  const length = u64(m, 'length');
  const uptr = u64(m, 'uptr');
  if (length > 16n * 1024n * 1024n) return { errno: 'ENOMEM' };
  if (flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) return { errno: 'EOPNOTSUPP' };
  return withAccess(tx, u32(a, 'id'), (t, acc) => {
    if (!acc.needsPin) return { errno: 'EOPNOTSUPP' };
    if (flags & MOCK_FLAGS_ACCESS_SYZ) iova = syzConvIova(t, acc.ioas, iova);
    const item = accessPinPages(t, acc.id, iova, length, flags & MOCK_FLAGS_ACCESS_WRITE ? IOMMUFD_ACCESS_RW_WRITE : 0);
    if (typeof item === 'string') return { errno: item };
    if (uptr) {
      // Each pinned page must be the page mapped at uptr now (else EBADE); get_user_pages_fast of nothing readable: EFAULT.
      // (its lookup, page by page, is a read fault: it may map the huge zero page, which stays whatever the check answers)
      const pages = accessItemPages(t, item);
      const base = uptr - (iova % PAGE_SIZE);
      for (let k = 0; k < pages.length; k++) {
        const va = base + BigInt(k) * PAGE_SIZE;
        t.fault(t.pid, va, va + PAGE_SIZE, 'read');
        const r = peekPage(t.proc.mm, t.w.mem, va);
        if (!r.ok || !r.vma.read) return readFault(t, r);
        if (r.page.mobj !== pages[k]!.mobj || r.page.index !== pages[k]!.index) return { errno: 'EBADE' };
      }
    }
    const cur = t.get(acc.id, 'access')!;
    const itemId = cur.nextItem;
    t.put({ ...cur, items: cur.items.set(itemId, item), nextItem: itemId + 1 });
    return { errno: 0, out: { access_pages: { out_access_pages_id: itemId } } };
  });
}

/** IOMMU_TEST_OP_DESTROY_ACCESS_PAGES */
function destroyAccessPages(tx: Tx, a: Fields): Result {
  return withAccess(tx, u32(a, 'id'), (t, acc) => {
    const itemId = u32(sub(a, 'destroy_access_pages'), 'access_pages_id');
    const it = acc.items.get(itemId);
    if (!it) return { errno: 'ENOENT' };
    unpinPieces(t, acc.ioas, it);
    const cur = t.get(acc.id, 'access')!;
    t.put({ ...cur, items: cur.items.delete(itemId) });
    return { errno: 0 };
  });
}

/** How much of a buffer the recorder reads around a call (MAX_ARRAY in tools/oracle/executor.c). */
const RECORDER_READ = 256n * 1024n;

/**
 * The range of user memory the recorder (the capture shim, the oracle's
 * executor) reads before an ACCESS_RW (rw_buf_in, with process_vm_readv):
 * the caller's buffer, up to RECORDER_READ bytes, of the fields the struct's
 * `size` covers (uptr at byte 32, length at 24); none when the event brings
 * the bytes itself. Its read faults stay whatever the call then answers: a
 * size refusal (oracle fuzz seed 120), a closed fd or a file that is no
 * iommufd (seed 136). main.ts recorderReads makes the read.
 */
export function recorderRwRange(ev: Event, size: number): [bigint, bigint] | undefined {
  const m = sub(ev.args ?? {}, 'access_rw');
  const uptr = size >= 40 ? u64(m, 'uptr') : 0n;
  const length = size >= 32 ? u64(m, 'length') : 0n;
  return uptr && !(ev.bufs && 'uptr' in ev.bufs) ? [uptr, uptr + (length < RECORDER_READ ? length : RECORDER_READ)] : undefined;
}

/** IOMMU_TEST_OP_ACCESS_RW (the recorder's read of the buffer came first: main.ts recorderReads, from engine/apply.ts) */
function accessRwOp(tx: Tx, a: Fields, ev: Event): Result {
  const m = sub(a, 'access_rw');
  const flags = u32(m, 'flags');
  let iova = u64(m, 'iova');
  const length = u64(m, 'length');
  if (length > 16n * 1024n * 1024n) return { errno: 'ENOMEM' };
  if (flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) return { errno: 'EOPNOTSUPP' };
  return withAccess(tx, u32(a, 'id'), (t, acc) => {
    const write = !!(flags & MOCK_ACCESS_RW_WRITE);
    let data = new Uint8Array(Number(length));
    if (write) {
      // copy_from_user(tmp, uptr, length): a NULL or unreadable uptr faults, whatever bytes the event carries; 0 bytes never fault.
      const ptr = u64(m, 'uptr');
      const buf = !ptr || ev.bufs?.['uptr'] === null ? undefined : (ev.bufs?.['uptr'] ?? readUser(t.proc.mm, t.w.mem, ptr, Number(length), undefined, true));
      if (data.length && (!buf || buf.length < data.length)) {
        if (ptr && !ev.bufs?.['uptr'] && execOnlyIn(t.proc.mm, ptr, length)) t.beyondModel = EXEC_ONLY_READ;
        return { errno: 'EFAULT' };
      }
      if (ptr && !ev.bufs?.['uptr']) t.fault(t.pid, ptr, ptr + length, 'read');
      if (buf) data = buf.slice(0, data.length);
    }
    if (flags & MOCK_FLAGS_ACCESS_SYZ) iova = syzConvIova(t, acc.ioas, iova);
    const seen = { unknown: false };
    const r = accessRw(t, acc.id, iova, data, (write ? IOMMUFD_ACCESS_RW_WRITE : 0) | (flags & MOCK_ACCESS_RW_SLOW_PATH), seen);
    // Pieces copied before a failure stay copied.
    if (write) t.keepOnError = true;
    if (r.errno) return { errno: r.errno };
    if (!write) {
      if (!u64(m, 'uptr') || ev.bufs?.['uptr'] === null) return { errno: 'EFAULT' };
      if (!(ev.bufs && 'uptr' in ev.bufs)) {
        // No buffer with the event: uptr is the caller's memory, and copy_to_user writes it, up to
        // a page it cannot write (what it wrote before stays: EFAULT with a partial effect).
        const c = copyToUser(t.proc.mm, t.w.mem, u64(m, 'uptr'), r.read!);
        if (c.mem !== t.w.mem) t.setWorld({ ...t.w, mem: c.mem });
        t.fault(t.pid, u64(m, 'uptr'), u64(m, 'uptr') + BigInt(c.done), 'write');
        if (c.done < r.read!.length) {
          t.keepOnError = true;
          return { errno: 'EFAULT' };
        }
      }
      return { errno: 0, bufs: { uptr: r.read! }, ...(seen.unknown ? { unknown: ['uptr'] } : {}) };
    }
    return { errno: 0 };
  });
}

/** IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: the IOAS ID is looked up in the access's context. */
function accessReplaceIoas(tx: Tx, a: Fields): Result {
  return withAccess(tx, u32(a, 'id'), (t, acc) => {
    const ioasId = u32(sub(a, 'access_replace_ioas'), 'ioas_id');
    if (!acc.ioas) return { errno: 'ENOENT' };
    if (!getIoas(t, ioasId)) return { errno: 'ENOENT' };
    if (ioasId === acc.ioas) return { errno: 0 };
    const e = accessChangeIoas(t, acc.id, ioasId);
    return e ? { errno: e } : { errno: 0 };
  });
}

/** IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: the size of the kernel's temporary arrays (a pin's page chunk, an access's batch: pages.ts, access.ts). */
function setTempMemoryLimit(tx: Tx, a: Fields): Result {
  const limit = u32(sub(a, 'memory_limit'), 'limit');
  if (limit < 12) return { errno: 'EINVAL' };
  tx.setWorld({ ...tx.w, testMemoryLimit: limit });
  return { errno: 0 };
}

/** IOMMU_TEST_OP_TRIGGER_IOPF */
function triggerIopf(tx: Tx, a: Fields): Result {
  const m = sub(a, 'trigger_iopf');
  const devId = u32(m, 'dev_id');
  const dev = tx.get(devId, 'device');
  if (!dev) return { errno: 'ENOENT' };
  // Appendix A: 6.12 refuses a device that is not a mock device; 6.14 accepts it.
  if (tx.kernel === '6.12' && !dev.stdev) return { errno: 'EINVAL' };
  const pasid = u32(m, 'pasid');
  reportFault(tx, devId, {
    flags: IOMMU_PGFAULT_FLAGS_LAST_PAGE | (pasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0),
    dev_id: devId,
    pasid,
    grpid: u32(m, 'grpid'),
    perm: u32(m, 'perm'),
    addr: u64(m, 'addr'),
  });
  return { errno: 0 };
}

/** IOMMU_TEST_OP_DEV_CHECK_CACHE (6.14) */
function devCheckCache(tx: Tx, a: Fields): Result {
  const dev = tx.get(u32(a, 'id'), 'device');
  if (!dev) return { errno: 'ENOENT' };
  const m = sub(a, 'check_dev_cache');
  const idx = u32(m, 'id');
  if (idx > 3 || dev.cache[idx] !== u32(m, 'cache')) return { errno: 'EINVAL' };
  return { errno: 0 };
}

/** Test ops by name, with the kernels that have them. */
export const testOps: Record<string, { handler: TestHandler; since?: '6.14' }> = table({
  IOMMU_TEST_OP_ADD_RESERVED: { handler: addReserved },
  IOMMU_TEST_OP_MOCK_DOMAIN: { handler: mockDomainOp('mock_domain') },
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: { handler: mockDomainOp('mock_domain_flags') },
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: { handler: mockDomainReplace },
  IOMMU_TEST_OP_MD_CHECK_MAP: { handler: mdCheckMap },
  IOMMU_TEST_OP_MD_CHECK_REFS: { handler: mdCheckRefs },
  IOMMU_TEST_OP_MD_CHECK_IOTLB: { handler: mdCheckIotlb },
  IOMMU_TEST_OP_CREATE_ACCESS: { handler: createAccess },
  IOMMU_TEST_OP_ACCESS_PAGES: { handler: accessPages },
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: { handler: destroyAccessPages },
  IOMMU_TEST_OP_ACCESS_RW: { handler: accessRwOp },
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: { handler: accessReplaceIoas },
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: { handler: setTempMemoryLimit },
  IOMMU_TEST_OP_DIRTY: { handler: mockDirty },
  IOMMU_TEST_OP_TRIGGER_IOPF: { handler: triggerIopf },
  IOMMU_TEST_OP_DEV_CHECK_CACHE: { handler: devCheckCache, since: '6.14' },
});

export { userBuf };
