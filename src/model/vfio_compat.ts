/**
 * vfio_compat.c: IOMMU_VFIO_IOAS and the VFIO type1 container ioctls on an
 * iommufd (kernel-semantics §11.3-11.4; the 6.12 source wins where they
 * differ). Everything operates on the context's compat IOAS.
 *
 * The compat IOAS is a non-owning pointer in the context (`ctx.vfioIoas`):
 * set by IOMMU_VFIO_IOAS SET, cleared by CLEAR and by destroying that IOAS
 * (object.ts: Tx.remove, as main.c:iommufd_object_remove does). No
 * container ioctl creates one: only attaching a legacy VFIO group to the
 * iommufd does (iommufd_vfio_compat_ioas_create, reached from drivers/vfio's
 * VFIO_GROUP_SET_CONTAINER: vfio_group.ts). Without a compat IOAS every container ioctl except
 * GET_API_VERSION and CHECK_EXTENSION of a plain extension answers ENODEV
 * after its own argument checks.
 *
 * How a VFIO event carries its argument:
 * - integer-argument ioctls (VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION,
 *   VFIO_SET_IOMMU): `args.arg` is the ioctl's unsigned long argument
 *   (`args: null` reads as 0); the answer is `ret`.
 * - struct ioctls (VFIO_IOMMU_GET_INFO, _MAP_DMA, _UNMAP_DMA): `args` holds
 *   the fields of the VFIO struct by member name, `argsz` included (u64
 *   members bigint, the rest number); `args: null` is an unreadable pointer
 *   (EFAULT). When an event has no `argsz` field, `ev.size` stands in for it
 *   and then sizeof(struct). Only the first minsz bytes are read (no E2BIG,
 *   unlike the iommufd `size` rule).
 * - VFIO_IOMMU_GET_INFO's capability area, the user bytes [24, argsz) of the
 *   caller's buffer, is `bufs.caps` as it was before the call (`ev.tail` is
 *   accepted in its place; `bufs.caps: null` = unwritable). The result gives
 *   the struct fields the kernel wrote (only those below argsz) in `out`
 *   and the capability area after the call in `bufs.caps`.
 */
import type { Event, Fields, Result } from '../events/event.js';
import { CONSTANTS as VFIO, IOCTLS as VFIO_NUMBERS, STRUCTS as VFIO_STRUCTS } from '../uapi/generated_vfio.js';
import { IOCTLS, isIoctlName } from '../uapi/ioctls.js';
import type { FieldLayout, StructLayout } from '../uapi/layout.js';
import { decodeStruct, encodeStruct, fitToMembers, MemberCheck } from '../uapi/struct.js';
import { le, u32, u64 } from './args.js';
import { MOCK_HUGE_PAGE_SIZE } from './drivers/mock.js';
import { ULONG_MAX, U64_MAX, addOverflows, cutIova, getIoas, maxB, unmapIovaRange } from './io_pagetable.js';
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, ioasOptionHugePages, iovaRanges, mapUser } from './ioas.js';
import { PAGE_SIZE } from './mm.js';
import type { Tx } from './object.js';
import type { HwptPagingObj, World } from './state.js';
import { table } from '../ds/table.js';

/** iommufd_vfio_ioas (IOMMU_VFIO_IOAS) */
export function vfioIoas(tx: Tx, a: Fields): Result {
  if (u32(a, '__reserved')) return { errno: 'EOPNOTSUPP' };
  switch (u32(a, 'op')) {
    case 0: {
      const id = compatIoas(tx);
      if (!id) return { errno: 'ENODEV' };
      return { errno: 0, out: { ioas_id: id } };
    }
    case 1: {
      const id = u32(a, 'ioas_id');
      if (!tx.get(id, 'ioas')) return { errno: 'ENOENT' };
      tx.ctx = { ...tx.ctx, vfioIoas: id };
      return { errno: 0 };
    }
    case 2:
      tx.ctx = { ...tx.ctx, vfioIoas: 0 };
      return { errno: 0 };
    default:
      return { errno: 'EOPNOTSUPP' };
  }
}

/** get_compat_ioas: the compat IOAS id, or 0 (ENODEV). */
export function compatIoas(tx: Tx): number {
  const id = tx.ctx.vfioIoas;
  return id && getIoas(tx, id) ? id : 0;
}

export const isVfioContainerOp = (op: string): boolean => op.startsWith('VFIO_');

type VfioHandler = (tx: Tx, ev: Event) => Result;

/**
 * iommufd_vfio_ioctl: every number outside the iommufd table lands here;
 * the kernel matches the full request, anything else (VFIO_IOMMU_DIRTY_PAGES
 * included) is ENOIOCTLCMD, i.e. ENOTTY.
 */
export function vfioIoctl(tx: Tx, ev: Event): [World, Result] {
  const before = tx.w;
  const h = handlers[ev.op];
  // (every VFIO number is below the iommufd table, a group's or a device's too: ENOTTY here)
  if (!h) return [before, isIoctlName(ev.op) || Object.hasOwn(VFIO_NUMBERS, ev.op) ? { errno: 'ENOTTY' } : { errno: 'ENOTTY', unmodelled: ev.op }];
  // (arguments no such struct holds, or an integer argument given as anything but `arg`: said so, as main.ts does)
  const check = ev.args ? CHECKS[ev.op] : undefined;
  const bad = check?.misfit(ev.args!);
  if (bad) return [before, { errno: 'EINVAL', unmodelled: `${ev.op} with arguments no ${check === ARG ? 'integer argument' : 'such struct'} holds: ${bad}` }];
  const res = h(tx, ev);
  if (tx.beyondModel) return [before, { errno: 'EOPNOTSUPP', unmodelled: tx.beyondModel }];
  if (res.errno && !tx.keepOnError) return [tx.failed(before), res];
  return [tx.commit(), res];
}

const handlers: Record<string, VfioHandler> = table({
  VFIO_GET_API_VERSION: () => ({ errno: 0, ret: VFIO.VFIO_API_VERSION }),
  VFIO_CHECK_EXTENSION: (tx, ev) => checkExtension(tx, intArg(ev)),
  VFIO_SET_IOMMU: (tx, ev) => setIommu(tx, intArg(ev)),
  VFIO_IOMMU_GET_INFO: getInfo,
  VFIO_IOMMU_MAP_DMA: mapDma,
  VFIO_IOMMU_UNMAP_DMA: unmapDma,
});

/** The members an event of each op may name: its struct's, or an integer-argument ioctl's `arg`. */
const ARG = new MemberCheck([[{ name: 'arg', type: 'u64', offset: 0, size: 8 } satisfies FieldLayout]], 'arg');
const CHECKS: Record<string, MemberCheck> = table({
  VFIO_GET_API_VERSION: ARG,
  VFIO_CHECK_EXTENSION: ARG,
  VFIO_SET_IOMMU: ARG,
  VFIO_IOMMU_GET_INFO: new MemberCheck([VFIO_STRUCTS.vfio_iommu_type1_info.fields], 'vfio_iommu_type1_info'),
  VFIO_IOMMU_MAP_DMA: new MemberCheck([VFIO_STRUCTS.vfio_iommu_type1_dma_map.fields], 'vfio_iommu_type1_dma_map'),
  VFIO_IOMMU_UNMAP_DMA: new MemberCheck([VFIO_STRUCTS.vfio_iommu_type1_dma_unmap.fields], 'vfio_iommu_type1_dma_unmap'),
});

/** The unsigned long argument of an integer-argument ioctl. */
const intArg = (ev: Event): bigint => (ev.args ? u64(ev.args, 'arg') & U64_MAX : 0n);

/** `argsz` of a struct ioctl (see the header comment). */
function argszOf(ev: Event, l: StructLayout): number {
  const a = ev.args!;
  if (a['argsz'] !== undefined) return u32(a, 'argsz');
  return ev.size ?? l.size;
}

/** iommufd_vfio_check_extension */
function checkExtension(tx: Tx, type: bigint): Result {
  switch (type) {
    case BigInt(VFIO.VFIO_TYPE1_IOMMU):
    case BigInt(VFIO.VFIO_TYPE1v2_IOMMU):
    case BigInt(VFIO.VFIO_UNMAP_ALL):
      // !ictx->no_iommu_mode; no modelled event enters no-iommu mode.
      return { errno: 0, ret: 1 };
    case BigInt(VFIO.VFIO_NOIOMMU_IOMMU):
      // IS_ENABLED(CONFIG_VFIO_NOIOMMU): not set in the oracle's config.
      return { errno: 0, ret: 0 };
    case BigInt(VFIO.VFIO_DMA_CC_IOMMU):
      return ccIommu(tx);
    default:
      // TYPE1_NESTING (obsolete), UPDATE_VADDR (refused), SPAPR, EEH, unknown.
      return { errno: 0, ret: 0 };
  }
}

/** iommufd_vfio_cc_iommu: 1 iff every HWPT_PAGING on the compat IOAS enforces cache coherency. */
function ccIommu(tx: Tx): Result {
  const id = compatIoas(tx);
  if (!id) return { errno: 'ENODEV' };
  const all = getIoas(tx, id)!.hwpts.every((h) => enforcesCacheCoherency(tx.get(h, 'hwpt_paging')!));
  return { errno: 0, ret: all ? 1 : 0 };
}

/**
 * hwpt_paging->enforce_cache_coherency: set at allocation only for a device
 * with IOMMU_CAP_ENFORCE_CACHE_COHERENCY (the profile's enforceCC hook). The
 * mock driver reports just IOMMU_CAP_CACHE_COHERENCY
 * (selftest.c:mock_domain_capable), so mock HWPTs never enforce it.
 */
function enforcesCacheCoherency(h: HwptPagingObj): boolean {
  return h.domain.enforceCC;
}

/** iommufd_vfio_set_iommu */
function setIommu(tx: Tx, type: bigint): Result {
  // VFIO_NOIOMMU_IOMMU needs CONFIG_VFIO_NOIOMMU and no-iommu mode: EINVAL here.
  if (type !== BigInt(VFIO.VFIO_TYPE1_IOMMU) && type !== BigInt(VFIO.VFIO_TYPE1v2_IOMMU)) return { errno: 'EINVAL' };
  const id = compatIoas(tx);
  if (!id) return { errno: 'ENODEV' };
  // TYPE1 cannot unmap inside large IOPTEs: iopt_disable_large_pages.
  if (type === BigInt(VFIO.VFIO_TYPE1_IOMMU)) {
    const r = ioasOptionHugePages(tx, 0, id, 0n);
    if (r.errno) return { errno: r.errno };
  }
  return { errno: 0 };
}

/** iommufd_vfio_map_dma: a fixed-IOVA map like IOAS_MAP, without its EOVERFLOW and "READ or WRITE" checks. */
function mapDma(tx: Tx, ev: Event): Result {
  if (ev.args === null) return { errno: 'EFAULT' };
  const a = ev.args;
  const minsz = IOCTLS.VFIO_IOMMU_MAP_DMA.minSize;
  const flags = u32(a, 'flags');
  const supported = VFIO.VFIO_DMA_MAP_FLAG_READ | VFIO.VFIO_DMA_MAP_FLAG_WRITE;
  if (argszOf(ev, VFIO_STRUCTS.vfio_iommu_type1_dma_map) < minsz || flags & ~supported) return { errno: 'EINVAL' };
  const id = compatIoas(tx);
  if (!id) return { errno: 'ENODEV' };
  let mapFlags = IOMMU_IOAS_MAP_FIXED_IOVA;
  if (flags & VFIO.VFIO_DMA_MAP_FLAG_READ) mapFlags |= IOMMU_IOAS_MAP_READABLE;
  if (flags & VFIO.VFIO_DMA_MAP_FLAG_WRITE) mapFlags |= IOMMU_IOAS_MAP_WRITEABLE;
  const r = mapUser(tx, id, u64(a, 'vaddr'), u64(a, 'size'), u64(a, 'iova'), mapFlags);
  return { errno: r.errno };
}

/**
 * iommufd_vfio_unmap_dma. With large pages disabled (TYPE1) the range is
 * first cut at iova+size-1 and, unless iova is 0, at iova-1 (unsigned
 * arithmetic, before any length check); a refused cut fails the call with
 * nothing written back, earlier cuts staying. Then the unmap, which unlike
 * IOAS_UNMAP succeeds with 0 bytes when nothing is mapped; `size` is written
 * back with the bytes unmapped whatever that unmap answered, and areas
 * removed before an error stay removed.
 */
function unmapDma(tx: Tx, ev: Event): Result {
  if (ev.args === null) return { errno: 'EFAULT' };
  const a = ev.args;
  const minsz = IOCTLS.VFIO_IOMMU_UNMAP_DMA.minSize;
  const flags = u32(a, 'flags');
  if (argszOf(ev, VFIO_STRUCTS.vfio_iommu_type1_dma_unmap) < minsz || flags & ~VFIO.VFIO_DMA_UNMAP_FLAG_ALL) return { errno: 'EINVAL' };
  const id = compatIoas(tx);
  if (!id) return { errno: 'ENODEV' };
  const iova = u64(a, 'iova');
  const size = u64(a, 'size');
  tx.keepOnError = true;
  let r: { errno: string | 0; unmapped: bigint };
  if (flags & VFIO.VFIO_DMA_UNMAP_FLAG_ALL) {
    if (iova !== 0n || size !== 0n) return { errno: 'EINVAL' };
    r = unmapIovaRange(tx, id, 0n, ULONG_MAX);
  } else {
    if (getIoas(tx, id)!.iopt.disableLargePages) {
      const iovas = [(iova + size - 1n) & U64_MAX, (iova - 1n) & U64_MAX];
      const e = cutIova(tx, id, iova ? iovas : iovas.slice(0, 1));
      if (e) return { errno: e };
    }
    // iopt_unmap_iova
    if (size === 0n) r = { errno: 'EINVAL', unmapped: 0n };
    else if (addOverflows(iova, size - 1n)) r = { errno: 'EOVERFLOW', unmapped: 0n };
    else r = unmapIovaRange(tx, id, iova, iova + size - 1n);
    // 6.14's iopt_unmap_iova_range starts from ENOENT and only an unmapped area makes it 0: a range
    // with nothing in it is ENOENT (size 0 written back all the same). "iommufd: Make vfio_compat's
    // unmap succeed if the range is already empty" (November 2025) came after 6.14.y had ended;
    // 6.12.117 has it as a stable backport (success, which the conformance scenario expects).
    if (tx.kernel === '6.14' && r.errno === 0 && r.unmapped === 0n) r = { errno: 'ENOENT', unmapped: 0n };
  }
  return { errno: r.errno, out: { size: r.unmapped } };
}

// ------------------------------------------------------------ VFIO_IOMMU_GET_INFO

const INFO = VFIO_STRUCTS.vfio_iommu_type1_info;
const CAP_IOVA = VFIO_STRUCTS.vfio_iommu_type1_info_cap_iova_range;
const CAP_DMA_AVAIL = VFIO_STRUCTS.vfio_iommu_type1_info_dma_avail;
const IOVA_RANGE_SIZE = VFIO_STRUCTS.vfio_iova_range.size;
const U32_MAX = 0xffffffff;

/**
 * The caller's buffer from offset sizeof(info) up to argsz, as the kernel's
 * copy_to_user calls reach it. Writes land in a copy of the bytes the event
 * brought; bytes it did not bring read as zero. `null` = unwritable.
 */
class CapArea {
  bytes: Uint8Array;
  constructor(
    private readonly base: number,
    initial: Uint8Array | null,
  ) {
    this.bytes = initial ? initial.slice() : new Uint8Array(0);
    this.writable = initial !== null;
  }
  readonly writable: boolean;

  /** copy_to_user(base + off...): false on a fault. */
  put(at: number, data: Uint8Array): boolean {
    if (!this.writable) return false;
    const off = at - this.base;
    if (off + data.length > this.bytes.length) {
      const grown = new Uint8Array(off + data.length);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(data, off);
    return true;
  }

  putU32(at: number, v: number): boolean {
    const b = new Uint8Array(4);
    le.putU32(b, 0, v);
    return this.put(at, b);
  }
}

type FillCap = (tx: Tx, ioasId: number, user: CapArea, at: number, avail: number) => number | string;

/** iommufd_fill_cap_dma_avail: the DMA_AVAIL cap, avail = U32_MAX. */
const fillCapDmaAvail: FillCap = (_tx, _id, user, at, avail) => {
  const cap = { header: { id: VFIO.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 0 }, avail: U32_MAX };
  if (avail >= CAP_DMA_AVAIL.size && !user.put(at, encodeStruct(CAP_DMA_AVAIL, cap))) return 'EFAULT';
  return CAP_DMA_AVAIL.size;
};

/**
 * iommufd_fill_cap_iova: each range is written when it fits, then the
 * 16-byte header when every counted range fits; the size needed is returned
 * either way.
 */
const fillCapIova: FillCap = (tx, ioasId, user, at, avail) => {
  const ranges = iovaRanges(tx, ioasId);
  const structSize = (n: number) => CAP_IOVA.size + n * IOVA_RANGE_SIZE;
  for (let i = 0; i < ranges.length; i++) {
    if (avail >= structSize(i + 1)) {
      const r = new Uint8Array(IOVA_RANGE_SIZE);
      le.putU64(r, 0, ranges[i]!.start);
      le.putU64(r, 8, ranges[i]!.last);
      if (!user.put(at + structSize(i), r)) return 'EFAULT';
    }
  }
  const n = ranges.length;
  const header = { header: { id: VFIO.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 }, nr_iovas: n, reserved: 0 };
  if (avail >= structSize(n) && !user.put(at, encodeStruct(CAP_IOVA, header, CAP_IOVA.size))) return 'EFAULT';
  return structSize(n);
};

const FILL_FNS: readonly FillCap[] = [fillCapDmaAvail, fillCapIova];

/**
 * iommufd_get_pagesizes: the AND of the domains' page-size bitmaps, sub-page
 * sizes folded into PAGE_SIZE (vfio_update_pgsize_bitmap), at least the IOVA
 * alignment.
 */
export function compatPageSizes(tx: Tx, ioasId: number): bigint {
  const iopt = getIoas(tx, ioasId)!.iopt;
  const pageMask = ~(PAGE_SIZE - 1n) & U64_MAX;
  let bitmap = ULONG_MAX;
  for (const h of iopt.domains) {
    const d = tx.get(h, 'hwpt_paging')!.domain;
    // mock_domain_alloc_paging: MOCK_IO_PAGE_SIZE, | MOCK_HUGE_PAGE_SIZE for a HUGE_IOVA device.
    bitmap &= d.pgsize | (d.huge ? MOCK_HUGE_PAGE_SIZE : 0n);
  }
  if (bitmap & ~pageMask) bitmap = (bitmap & pageMask) | PAGE_SIZE;
  return maxB(bitmap, iopt.iovaAlignment);
}

/**
 * iommufd_vfio_iommu_get_info: the argsz protocol. The caps are laid out
 * from offset sizeof(info), each 8-byte aligned, in the order DMA_AVAIL,
 * IOVA_RANGE; a cap is written only where it fits below argsz and the
 * previous cap's `next` only when argsz reaches the offset it points to.
 * `argsz` comes back as the size needed for every cap, `cap_offset` as
 * sizeof(info) only when they all fit, `flags` PGSIZES|CAPS; of the struct
 * only the first min(argsz, sizeof) bytes are written.
 */
function getInfo(tx: Tx, ev: Event): Result {
  if (ev.args === null) return { errno: 'EFAULT' };
  const argsz = argszOf(ev, INFO);
  if (argsz < IOCTLS.VFIO_IOMMU_GET_INFO.minSize) return { errno: 'EINVAL' };
  const minsz = Math.min(argsz, INFO.size);
  const id = compatIoas(tx);
  if (!id) return { errno: 'ENODEV' };
  const info = { argsz, flags: VFIO.VFIO_IOMMU_INFO_PGSIZES, iova_pgsizes: compatPageSizes(tx, id), cap_offset: 0, pad: 0 };

  const given = ev.bufs && 'caps' in ev.bufs ? ev.bufs['caps']! : (ev.tail ?? new Uint8Array(0));
  const user = new CapArea(INFO.size, given === null ? null : given.subarray(0, Math.max(0, argsz - INFO.size)));
  let total = INFO.size;
  let lastCap: number | undefined;
  for (const fill of FILL_FNS) {
    const size = argsz > total ? fill(tx, id, user, total, argsz - total) : fill(tx, id, user, total, 0);
    if (typeof size === 'string') return { errno: size };
    if (lastCap !== undefined && argsz >= total && !user.putU32(lastCap + 4, total)) return { errno: 'EFAULT' };
    lastCap = total;
    total += (size + 7) & ~7;
  }
  if (argsz >= total) info.cap_offset = INFO.size;
  info.argsz = total;
  info.flags |= VFIO.VFIO_IOMMU_INFO_CAPS;

  const res: Result = { errno: 0, out: writtenFields(INFO, ev.args, info, minsz) };
  if (argsz > INFO.size) res.bufs = { caps: user.bytes };
  return res;
}

/**
 * copy_to_user(arg, &kernel_struct, n): the fields the caller sees after the
 * call that the first n bytes reach; a member cut by n keeps its caller's
 * bytes above n.
 */
function writtenFields(l: StructLayout, callerFields: Fields, kernelFields: Fields, n: number): Fields {
  const known = new Set(l.fields.map((f) => f.name));
  // An untrusted trace may name values no struct holds: a member given no integer reads as zero
  // (as everywhere in the model), a wider one is cut to its width.
  const callerOwn = fitToMembers(l.fields, Object.fromEntries(Object.entries(callerFields).filter(([k, v]) => known.has(k) && (typeof v === 'number' || typeof v === 'bigint'))));
  const bytes = encodeStruct(l, callerOwn, l.size);
  bytes.set(encodeStruct(l, kernelFields, l.size).subarray(0, n));
  const all = decodeStruct(l, bytes);
  const out: Fields = {};
  for (const f of l.fields) if (f.offset < n && f.name in all) out[f.name] = all[f.name]!;
  return out;
}
