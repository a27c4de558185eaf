/**
 * main.c: the ioctl table and the generic part of every ioctl
 * (iommufd_fops_ioctl), IOMMU_OPTION, and the entry point that turns an
 * ioctl event into a handler call inside a transaction.
 */
import { intOf, type Event, type Fields, type Result } from '../events/event.js';
import { offsetofend, type FieldLayout, type StructLayout } from '../uapi/layout.js';
import { structLayout, UAPI } from '../uapi/versions.js';
import { MemberCheck } from '../uapi/struct.js';
import { u32, u64 } from './args.js';
import { hwptAllocIoctl } from './hw_pagetable.js';
import { ioasAlloc, ioasAllowIovas, ioasChangeProcess, ioasCopy, ioasIovaRanges, ioasMap, ioasMapFile, ioasOptionHugePages, ioasUnmap } from './ioas.js';
import { destroyIoctl } from './lifecycle.js';
import { Tx } from './object.js';
import { recorderRwRange, testOps } from './selftest.js';
import { faultIn } from './huge_memory.js';
import { KERNEL_VERSIONS, type World } from './state.js';
import { faultAlloc } from './fault.js';
import { getDirtyBitmap, setDirtyTracking } from './dirty.js';
import { getHwInfo } from './hw_info.js';
import { hwptInvalidate } from './invalidate.js';
import { vfioIoas, vfioIoctl, isVfioContainerOp } from './vfio_compat.js';
import { vdeviceAlloc, viommuAlloc } from './viommu.js';
import { table } from '../ds/table.js';

export type Handler = (tx: Tx, a: Fields, ev: Event) => Result;

interface IoctlOp {
  nr: number;
  struct: string;
  /** offsetofend of the last mandatory member (IOCTL_OP's last argument). */
  last: string;
  handler: Handler;
  since?: '6.14';
}

/** iommufd_ioctl_ops[] */
export const ioctlOps: Record<string, IoctlOp> = table({
  IOMMU_DESTROY: { nr: 0x80, struct: 'iommu_destroy', last: 'id', handler: destroyIoctl },
  IOMMU_IOAS_ALLOC: { nr: 0x81, struct: 'iommu_ioas_alloc', last: 'out_ioas_id', handler: ioasAlloc },
  IOMMU_IOAS_ALLOW_IOVAS: { nr: 0x82, struct: 'iommu_ioas_allow_iovas', last: 'allowed_iovas', handler: ioasAllowIovas },
  IOMMU_IOAS_COPY: { nr: 0x83, struct: 'iommu_ioas_copy', last: 'src_iova', handler: ioasCopy },
  IOMMU_IOAS_IOVA_RANGES: { nr: 0x84, struct: 'iommu_ioas_iova_ranges', last: 'out_iova_alignment', handler: ioasIovaRanges },
  IOMMU_IOAS_MAP: { nr: 0x85, struct: 'iommu_ioas_map', last: 'iova', handler: ioasMap },
  IOMMU_IOAS_UNMAP: { nr: 0x86, struct: 'iommu_ioas_unmap', last: 'length', handler: ioasUnmap },
  IOMMU_OPTION: { nr: 0x87, struct: 'iommu_option', last: 'val64', handler: option },
  IOMMU_VFIO_IOAS: { nr: 0x88, struct: 'iommu_vfio_ioas', last: '__reserved', handler: vfioIoas },
  IOMMU_HWPT_ALLOC: { nr: 0x89, struct: 'iommu_hwpt_alloc', last: '__reserved', handler: hwptAllocIoctl },
  IOMMU_GET_HW_INFO: { nr: 0x8a, struct: 'iommu_hw_info', last: '__reserved', handler: getHwInfo },
  IOMMU_HWPT_SET_DIRTY_TRACKING: { nr: 0x8b, struct: 'iommu_hwpt_set_dirty_tracking', last: '__reserved', handler: setDirtyTracking },
  IOMMU_HWPT_GET_DIRTY_BITMAP: { nr: 0x8c, struct: 'iommu_hwpt_get_dirty_bitmap', last: 'data', handler: getDirtyBitmap },
  IOMMU_HWPT_INVALIDATE: { nr: 0x8d, struct: 'iommu_hwpt_invalidate', last: '__reserved', handler: hwptInvalidate },
  IOMMU_FAULT_QUEUE_ALLOC: { nr: 0x8e, struct: 'iommu_fault_alloc', last: 'out_fault_fd', handler: faultAlloc },
  IOMMU_IOAS_MAP_FILE: { nr: 0x8f, struct: 'iommu_ioas_map_file', last: 'iova', handler: ioasMapFile, since: '6.14' },
  IOMMU_VIOMMU_ALLOC: { nr: 0x90, struct: 'iommu_viommu_alloc', last: 'out_viommu_id', handler: viommuAlloc, since: '6.14' },
  IOMMU_VDEVICE_ALLOC: { nr: 0x91, struct: 'iommu_vdevice_alloc', last: 'virt_id', handler: vdeviceAlloc, since: '6.14' },
  IOMMU_IOAS_CHANGE_PROCESS: { nr: 0x92, struct: 'iommu_ioas_change_process', last: '__reserved', handler: ioasChangeProcess, since: '6.14' },
});

/**
 * A failure after a fill settled the accounting 6.14's CHANGE_PROCESS left
 * behind: the kernel's unwinding uncharges some of that again (its unfills'
 * update_unpinned) and keeps the rest, which the model does not follow.
 */
const SKEW_UNWIND = 'an ioctl failing after its fill settled the pin accounting that IOMMU_IOAS_CHANGE_PROCESS left behind for an exited owner (the unwinding keeps part of it)';

const IOMMU_TEST_CMD_NR = 0xa0;
/** Table size of a test kernel: numbers 0x80..0xa0 are inside it (§1.3). */
const TABLE_END = 0xa1;

function unmodelled(op: string): Handler {
  return () => ({ errno: 'ENOTTY', unmodelled: op });
}

/** iommufd_option (IOMMU_OPTION): writes back only val64, only on success. */
function option(tx: Tx, a: Fields): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  const optionId = u32(a, 'option_id');
  const op = u32(a, 'op');
  if (optionId === 0 /* RLIMIT_MODE */) {
    if (u32(a, 'object_id')) return { errno: 'EOPNOTSUPP' };
    if (op === 1) return { errno: 0, out: { val64: tx.ctx.accountMode === 'mm' ? 1n : 0n } };
    if (op !== 0) return { errno: 'EOPNOTSUPP' };
    if (!tx.proc.capSysResource) return { errno: 'EPERM' };
    if (tx.ctx.objs.size) return { errno: 'EBUSY' };
    const v = u64(a, 'val64');
    if (v > 1n) return { errno: 'EINVAL' };
    tx.ctx = { ...tx.ctx, accountMode: v === 1n ? 'mm' : 'user' };
    return { errno: 0 };
  }
  if (optionId === 1 /* HUGE_PAGES */) return ioasOptionHugePages(tx, op, u32(a, 'object_id'), u64(a, 'val64'));
  return { errno: 'EOPNOTSUPP' };
}

const layoutCache: Record<string, Map<string, StructLayout>> = { '6.12': new Map(), '6.14': new Map() };
function layout(struct: string, kernel: string): StructLayout {
  const cache = layoutCache[kernel]!;
  let l = cache.get(struct);
  if (!l) {
    l = structLayout(struct, kernel as '6.12' | '6.14');
    cache.set(struct, l);
  }
  return l;
}

// (by both kernels' structs: a 6.14 trace replayed under 6.12 names 6.14's members, and a 6.14-only
// selftest op's member reaches 6.12's EOPNOTSUPP as the kernel's answer)
const checkCache = new Map<string, MemberCheck>();
function memberCheck(struct: string): MemberCheck {
  let c = checkCache.get(struct);
  if (!c) checkCache.set(struct, (c = new MemberCheck(KERNEL_VERSIONS.flatMap((k) => (UAPI[k].structs[struct] ? [UAPI[k].structs[struct]!.fields] : [])), struct)));
  return c;
}

const minSizeCache: Record<string, Map<IoctlOp, number>> = { '6.12': new Map(), '6.14': new Map() };
/** offsetofend(struct, last mandatory member), computed once per op and kernel. */
function minSizeOf(o: IoctlOp, kernel: string): number {
  const cache = minSizeCache[kernel]!;
  let m = cache.get(o);
  if (m === undefined) {
    m = offsetofend(layout(o.struct, kernel), o.last);
    cache.set(o, m);
  }
  return m;
}

/** Fields the caller's shorter `size` did not cover read as zero (copy_struct_from_user). */
function truncateFields(l: StructLayout, a: Fields, size: number): Fields {
  const out: Fields = {};
  const visit = (fields: readonly FieldLayout[], base: number, src: Fields, dst: Fields) => {
    for (const f of fields) {
      const off = base + f.offset;
      if (f.name === '' && f.fields) {
        visit(f.fields, off, src, dst);
        continue;
      }
      const v = src[f.name];
      if (v === undefined) continue;
      if (off + f.size <= size) dst[f.name] = v;
      else if (off < size && (f.type === 'struct' || f.type === 'union') && f.fields && typeof v === 'object') {
        const inner: Fields = {};
        visit(f.fields, off, v as Fields, inner);
        dst[f.name] = inner;
      } else if (off < size && (typeof v === 'bigint' || typeof v === 'number')) {
        const bits = BigInt((size - off) * 8);
        const masked = intOf(v) & ((1n << bits) - 1n);
        dst[f.name] = typeof v === 'bigint' ? masked : Number(masked);
      }
    }
  };
  visit(l.fields, 0, a, out);
  return out;
}

/**
 * Written-back fields beyond the caller's `size` are not copied out (§1.4).
 * copy_to_user copies the first `size` bytes: a member that straddles
 * `size` gets its low bytes from the kernel, the rest stay the caller's.
 */
function clipOut(l: StructLayout, out: Fields, size: number, caller: Fields): Fields {
  if (size >= l.size) return out;
  const clipped: Fields = {};
  for (const [k, v] of Object.entries(out)) {
    const f = l.fields.find((x) => x.name === k) ?? l.fields.find((x) => x.name === '')?.fields?.find((x) => x.name === k);
    const off = f ? (l.fields.includes(f) ? f.offset : 16 + f.offset) : 0;
    if (f && off + f.size <= size) clipped[k] = v;
    else if (f && off < size && f.count === undefined && (typeof v === 'bigint' || typeof v === 'number')) {
      const mask = (1n << BigInt((size - off) * 8)) - 1n;
      const was = caller[k];
      const old = typeof was === 'bigint' || typeof was === 'number' ? BigInt.asUintN(f.size * 8, intOf(was)) : 0n;
      const merged = (BigInt.asUintN(f.size * 8, intOf(v)) & mask) | (old & ~mask);
      clipped[k] = typeof v === 'bigint' ? merged : Number(merged);
    }
  }
  return clipped;
}

/**
 * The recorder's read of an ACCESS_RW buffer before the call (selftest.ts
 * recorderRwRange), whose read faults stay whatever the call then answers:
 * also when it goes to a closed fd (EBADF), to a file that is no iommufd
 * (ENOTTY), or the dispatcher refuses the struct's size (E2BIG, EINVAL).
 * engine/apply.ts makes it before dispatching any ioctl.
 */
export function recorderReads(w: World, pid: number, ev: Event): World {
  if (ev.op !== 'IOMMU_TEST_OP_ACCESS_RW' || ev.args === null) return w;
  const r = recorderRwRange(ev, ev.size ?? layout('iommu_test_cmd', w.kernel).size);
  return r ? faultIn(w, pid, r[0], r[1], 'gup-read') : w;
}

/**
 * iommufd_fops_ioctl for one event on an iommufd file: dispatch order
 * EFAULT (size read) -> ENOTTY -> EINVAL (size < min) -> E2BIG -> handler.
 * Returns the new World (the old one on failure unless the handler keeps
 * partial effects) and the result.
 */
export function iommufdIoctl(w: World, ctxId: number, pid: number, ev: Event): [World, Result] {
  const tx = new Tx(w, w.ctxs.get(ctxId)!, pid);
  let op = ev.op;
  let handler: Handler;
  let struct: string;
  let minSize: number;
  let nr: number;
  if (op === 'RAW_IOCTL') {
    const req = Number((ev.args?.['request'] as number | bigint | undefined) ?? 0);
    nr = req & 0xff;
    const known = Object.entries(ioctlOps).find(([, o]) => o.nr === nr);
    if (nr < 0x80 || nr >= TABLE_END) return [w, { errno: 'ENOTTY' }];
    if (ev.args?.['payload'] === null) return [w, { errno: 'EFAULT' }];
    if (!known || (0x3b00 | nr) !== req || (known[1].since && w.kernel !== known[1].since)) return [w, { errno: 'ENOTTY' }];
    op = known[0];
    ev = { ...ev, op, args: (ev.args?.['payload'] as Fields) ?? {} };
  }
  if (isVfioContainerOp(op)) return vfioIoctl(tx, ev);
  if (op.startsWith('IOMMU_TEST_OP_')) {
    const t = testOps[op];
    if (!t) return [w, { errno: 'EOPNOTSUPP', unmodelled: op }];
    nr = IOMMU_TEST_CMD_NR;
    struct = 'iommu_test_cmd';
    minSize = 68;
    handler = t.since && w.kernel !== t.since ? () => ({ errno: 'EOPNOTSUPP' }) : t.handler;
  } else {
    const o = ioctlOps[op];
    if (!o) return [w, { errno: 'ENOTTY', unmodelled: op }];
    nr = o.nr;
    struct = o.struct;
    handler = o.handler;
    if (ev.args === null) return [w, { errno: 'EFAULT' }];
    if (o.since && w.kernel !== o.since) return [w, { errno: 'ENOTTY' }];
    minSize = minSizeOf(o, w.kernel);
  }
  void nr;
  if (ev.args === null) return [w, { errno: 'EFAULT' }];
  const l = layout(struct, w.kernel);
  // (an event whose arguments no such struct can hold, a misspelt member or a string for an
  // integer, says nothing the kernel could answer: said so, not read as zeros)
  const bad = memberCheck(struct).misfit(ev.args);
  if (bad) return [w, { errno: 'EINVAL', unmodelled: `${op} with arguments no struct ${struct} holds: ${bad}` }];
  const size = ev.size ?? l.size;
  if (size < minSize) return [w, { errno: 'EINVAL' }];
  if (size > l.size && ev.tail && ev.tail.some((b) => b !== 0)) return [w, { errno: 'E2BIG' }];
  const a = size < l.size ? truncateFields(l, ev.args, size) : ev.args;
  const res = handler(tx, a, ev);
  if (res.unmodelled) return [w, res];
  if (tx.beyondModel) return [w, { errno: 'EOPNOTSUPP', unmodelled: tx.beyondModel }];
  if (res.out && size < l.size) res.out = clipOut(l, res.out, size, ev.args);
  if (res.errno && tx.skewSettled) return [w, { errno: 'EOPNOTSUPP', unmodelled: SKEW_UNWIND }];
  if (res.errno && !tx.keepOnError) return [tx.failed(w), res];
  return [tx.commit(), res];
}
