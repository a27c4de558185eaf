/**
 * Traces -> the oracle executor's input (tools/oracle/executor.c; the form
 * is documented in docs/oracle.md, "Executor input").
 *
 * Every event becomes one op carrying its index in the trace (`ev`), so
 * that the executor's records pair with the events again. Ioctls travel as
 * their exact argument bytes (the struct the trace's program would have
 * passed, `size` / `argsz`, tail and all), plus the pointer fields that the
 * model treats as buffers: the executor points those at buffers of its own
 * holding the event's bytes, placed so that exactly those bytes are
 * readable. Pointers that name the trace's user memory (IOAS_MAP user_va,
 * MD_CHECK_MAP uptr, ACCESS_PAGES uptr, VFIO vaddr, ACCESS_RW without
 * buffer bytes) keep the trace's own value: the executor maps that memory
 * at the trace's own addresses.
 *
 * What the 6.12 oracle cannot run is refused here, with the reason
 * (`notCheckable`), rather than run and misreported.
 */
import type { Event, Fields, Value } from '../events/event.js';
import { encodeStruct, encodeTestCmd, RAW_TEST_CMD } from '../uapi/codec.js';
import { fitToMembers } from '../uapi/struct.js';
import { IOCTL_TABLE, IOCTLS, isIoctlName, isTestOpName, testOpByName } from '../uapi/ioctls.js';
import { structLayout, type KernelVersion } from '../uapi/versions.js';
import type { StructLayout } from '../uapi/layout.js';
import { table } from '../ds/table.js';
import { adviceOf } from '../model/madvise.js';

export const INPUT_MAGIC = 'IORWEXE1';
export const INPUT_VERSION = 1;
export const TRACE_MAGIC = 0x31435254; // 'TRC1'
export const PAYLOAD_MAGIC = 'IORWPAY1';

/** Op kinds (executor.c `enum`). */
export const OP = {
  IOCTL: 1,
  OPEN: 2,
  CLOSE: 3,
  MMAP: 4,
  MUNMAP: 5,
  MPROTECT: 6,
  MADVISE: 7,
  MEMWRITE: 8,
  MEMREAD: 9,
  MEMFD: 10,
  FTRUNCATE: 11,
  READFD: 12,
  WRITEFD: 13,
  CAPDROP: 14,
  RLIMIT: 15,
  FORK: 16,
  EXIT: 17,
  EXTFDS: 18,
  MAPS: 19,
  NOTE: 20,
  FALLOCATE: 21,
  MREMAP: 22,
  MLOCK: 23,
  MUNLOCK: 24,
  MLOCKALL: 25,
  MUNLOCKALL: 26,
} as const;

export const ARG = { STRUCT: 0, INT: 1, BAD: 2 } as const;
/** Pointer patch modes: bytes the kernel reads, writes, both; or an unreadable pointer. */
export const PTR = { IN: 1, OUT: 2, INOUT: 3, BAD: 4 } as const;
export const MMAP_KIND = { anon: 0, private_anon: 1, anon_hugetlb: 2, memfd: 3, file_shared: 3, file_private: 4 } as const;

/** The executor's scratch slots are this big: a buffer beyond it is cut (the kernel then faults past it). */
export const MAX_BUFFER = 4 << 20;
/** The most bytes of memory one memwrite / memread moves. */
export const MAX_MEMOP = 256 * 1024;

const DEFAULT_PID = 1;
const U64_MAX = 0xffffffffffffffffn;
const CAP = { CAP_IPC_LOCK: 14, CAP_SYS_RESOURCE: 24 } as const;

/** What the 6.12 oracle kernel lacks, by event op. */
const MISSING_612: Record<string, string> = table({
  IOMMU_IOAS_MAP_FILE: 'IOMMU_IOAS_MAP_FILE (6.14)',
  IOMMU_VIOMMU_ALLOC: 'vIOMMU (IOMMU_VIOMMU_ALLOC, 6.13)',
  IOMMU_VDEVICE_ALLOC: 'vDEVICE (IOMMU_VDEVICE_ALLOC, 6.13)',
  IOMMU_IOAS_CHANGE_PROCESS: 'IOMMU_IOAS_CHANGE_PROCESS (6.14)',
});
/** Events that stand for hardware or files the oracle has no equivalent of. */
const NO_EQUIVALENT: Record<string, string> = table({
  dma_write: 'device DMA of a hardware model (the mock driver has no such device)',
  iopf: 'a hardware page fault (the mock driver triggers them with IOMMU_TEST_OP_TRIGGER_IOPF)',
  guest_s1_change: 'a guest stage-1 table change of a hardware model',
  unknown_record: 'an unknown capture record',
  undecodable: 'an undecodable capture record',
  VFIO_DEVICE_BIND_IOMMUFD: 'a VFIO device cdev (the oracle has no VFIO device)',
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: 'a VFIO device cdev (the oracle has no VFIO device)',
  VFIO_DEVICE_DETACH_IOMMUFD_PT: 'a VFIO device cdev (the oracle has no VFIO device)',
  VFIO_GROUP_GET_STATUS: 'a VFIO group file (the oracle has no VFIO device)',
  VFIO_GROUP_SET_CONTAINER: 'a VFIO group file (the oracle has no VFIO device)',
  VFIO_GROUP_UNSET_CONTAINER: 'a VFIO group file (the oracle has no VFIO device)',
  VFIO_GROUP_GET_DEVICE_FD: 'a VFIO group file (the oracle has no VFIO device)',
});
/** Events of the model's own bookkeeping: nothing to run. */
const NOTHING_TO_RUN = new Set(['note', 'noop']);

function adviceNumber(a: Fields, index: number): number {
  const v = adviceOf(a);
  if (typeof v !== 'number') throw new Error(`event #${index} (madvise): ${v}`);
  return v;
}

/** Why the 6.12 oracle cannot check this event, or undefined when it can. */
export function notCheckable(ev: Event): string | undefined {
  const m = MISSING_612[ev.op];
  if (m) return `uses ${m}, which Linux 6.12 lacks`;
  const n = NO_EQUIVALENT[ev.op];
  if (n) return `uses ${n}`;
  if (ev.op.startsWith('IOMMU_TEST_OP_') && !isTestOpName(ev.op) && ev.op !== RAW_TEST_CMD) return `unknown test op ${ev.op}`;
  if (ev.op.startsWith('IOMMU_') || ev.op.startsWith('VFIO_') || ev.op === 'RAW_IOCTL') {
    if (ev.op === 'RAW_IOCTL' || isTestOpName(ev.op) || ev.op === RAW_TEST_CMD || isIoctlName(ev.op)) return undefined;
    return `unknown ioctl ${ev.op}`;
  }
  // (an event without its advice is the op itself, asked about by oracleKinds)
  if (ev.op === 'madvise' && ev.args?.['advice'] !== undefined && typeof adviceOf(ev.args) === 'string') return 'an advice name madvise(2) does not have';
  // (valid flags with MCL_CURRENT lock every mapping of the process: the executor's own too)
  if (ev.op === 'mlockall' && mclCurrent(ev.args?.['flags'])) return "mlockall(MCL_CURRENT), which would lock the oracle executor's own memory";
  // (the executor moves at most MAX_MEMOP bytes per memory op: a longer one would be cut short in the
  // guest, whose memory would then differ from what the trace says was written or read)
  if (MEM_OPS.has(ev.op) && memOpLength(ev) > BigInt(MAX_MEMOP)) return `a ${ev.op} of more than ${MAX_MEMOP} bytes, more than the executor moves in one op`;
  if (NOTHING_TO_RUN.has(ev.op) || ENV_OPS.has(ev.op)) return undefined;
  return `unknown event ${ev.op}`;
}

const MEM_OPS = new Set(['memset', 'fill_memory', 'write_memory', 'read_memory']);
const memOpLength = (ev: Event): bigint => {
  const a = ev.args ?? {};
  if (ev.op !== 'write_memory') return big(a['length']);
  return a['data'] instanceof Uint8Array ? BigInt(a['data'].length) : 0n;
};

const ENV_OPS = new Set([
  'maps', 'external_fds', 'open', 'close', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'memset', 'fill_memory', 'write_memory', 'read_memory',
  'memfd_create', 'ftruncate', 'fallocate', 'read_fault_fd', 'write_fault_fd', 'drop_capability', 'set_rlimit_memlock', 'fork', 'exit',
  'mlock', 'munlock', 'mlockall', 'munlockall',
]);

/** mlockall flags that the kernel takes (no unknown bit, not MCL_ONFAULT alone) and that include MCL_CURRENT. */
function mclCurrent(v: unknown): boolean {
  const f = typeof v === 'number' ? v >>> 0 : typeof v === 'bigint' ? Number(v & 0xffffffffn) : 0;
  return (f & 1) !== 0 && (f & ~7) === 0;
}

/** The first event the oracle cannot check, with the reason. */
export function traceNotCheckable(events: readonly Event[]): { index: number; op: string; reason: string } | undefined {
  for (let i = 0; i < events.length; i++) {
    const r = notCheckable(events[i]!);
    if (r) return { index: i, op: events[i]!.op, reason: r };
  }
  return undefined;
}

// --------------------------------------------------------------- byte writer

class Out {
  private buf = Buffer.alloc(1 << 16);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.alloc(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.buf.writeInt32LE(v | 0, this.len);
    this.len += 4;
  }
  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16LE(v & 0xffff, this.len);
    this.len += 2;
  }
  u64(v: bigint): void {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.len);
    this.len += 8;
  }
  /** Bytes, padded to a multiple of 4. */
  bytes(b: Uint8Array): void {
    const n = (b.length + 3) & ~3;
    this.room(n);
    this.buf.set(b, this.len);
    this.buf.fill(0, this.len + b.length, this.len + n);
    this.len += n;
  }
  /** Length-prefixed bytes. */
  lbytes(b: Uint8Array): void {
    this.u32(b.length);
    this.bytes(b);
  }
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at);
  }
  take(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

// --------------------------------------------------------------- field helpers

const num = (v: Value | undefined): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(BigInt.asUintN(32, v)) : 0);
const big = (v: Value | undefined): bigint => (typeof v === 'bigint' ? BigInt.asUintN(64, v) : typeof v === 'number' ? BigInt.asUintN(64, BigInt(v)) : 0n);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function sub(a: Fields, k: string): Fields {
  const v = a[k];
  return v && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v) ? (v as Fields) : {};
}

function layoutOf(tag: string, kernel: KernelVersion): StructLayout {
  try {
    return structLayout(tag, kernel);
  } catch {
    return structLayout(tag, '6.14');
  }
}

/** The fill_memory pattern of the scenario format (env.ts fillMemory). */
export function fillPattern(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  const s = BigInt(seed >>> 0);
  for (let k = 0; k < n; k++) b[k] = Number(((((s + BigInt(k)) & 0xffffffffn) * 0x9e3779b1n) & 0xffffffffn) >> 24n);
  return b;
}

// --------------------------------------------------------------- ioctl arguments

/** A pointer field of an argument struct pointed at an executor buffer. */
export interface Patch {
  /** Byte offset of the u64 pointer in the argument struct. */
  offset: number;
  mode: (typeof PTR)[keyof typeof PTR];
  /** Bytes of buffer the kernel may use (the buffer ends there). */
  length: number;
  /** Initial contents (the rest of `length` is zero). */
  data: Uint8Array;
}

export interface IoctlArg {
  request: number;
  mode: (typeof ARG)[keyof typeof ARG];
  /** The integer argument (mode INT). */
  intArg: bigint;
  /** The struct as the trace's program would pass it (mode STRUCT). */
  bytes: Uint8Array;
  patches: Patch[];
  /** How the executor's records decode: the struct's layout and convention. */
  decode?: { kind: 'iommufd' | 'test' | 'vfio'; layout: StructLayout };
}

const clampLen = (n: bigint | number): number => {
  const b = BigInt(n);
  return b < 0n ? 0 : b > BigInt(MAX_BUFFER) ? MAX_BUFFER : Number(b);
};

/** A u32 `size` / `argsz` word written at offset 0. */
function withSize(bytes: Uint8Array, size: number): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(0, size >>> 0, true);
  return bytes;
}

/** sizeof bytes, then the caller's tail, zero-padded up to `size` (never shorter than sizeof). */
function frame(full: Uint8Array, size: number, tail: Uint8Array | undefined): Uint8Array {
  const extra = size > full.length ? size - full.length : 0;
  const t = tail && size > full.length ? tail : undefined;
  const n = full.length + Math.max(extra, t?.length ?? 0);
  if (n === full.length) return full;
  const out = new Uint8Array(n);
  out.set(full);
  if (t) out.set(t, full.length);
  return out;
}

/**
 * The bytes a pointer field's buffer starts with, and how long it is, per
 * the model's reading of `ev.bufs` (src/model/args.ts): present bytes are
 * readable exactly; `null` is unreadable; absent is an empty buffer for
 * inputs and a buffer as big as the kernel writes for outputs.
 */
function bufPatch(ev: Event, field: string, offset: number, ptr: bigint, mode: 'in' | 'out' | 'inout', need: bigint | number): Patch | undefined {
  if (ptr === 0n) return undefined;
  const b = ev.bufs?.[field];
  if (b === null) return { offset, mode: PTR.BAD, length: 0, data: new Uint8Array(0) };
  const data = b ?? new Uint8Array(0);
  if (mode === 'in') return { offset, mode: PTR.IN, length: clampLen(data.length), data: data.subarray(0, MAX_BUFFER) };
  const length = clampLen(BigInt(Math.max(data.length, 0)) > BigInt(need) ? data.length : need);
  return { offset, mode: mode === 'out' ? PTR.OUT : PTR.INOUT, length, data: data.subarray(0, length) };
}

const roundUp8 = (n: bigint) => (n + 7n) & ~7n;
function bitmapBytes(length: bigint, pageSize: bigint): bigint {
  if (pageSize === 0n) return 0n;
  return (length / pageSize + 7n) / 8n;
}

/** The known iommufd ioctl a raw request number names (main.c's table lookup by nr). */
function rawStruct(request: number, kernel: KernelVersion): StructLayout | undefined {
  const nr = request & 0xff;
  const def = IOCTL_TABLE.find((d) => d.file === 'iommufd' && d.convention === 'size' && d.nr === nr && d.struct);
  return def?.struct ? layoutOf(def.struct, kernel) : undefined;
}

const argCache = new WeakMap<Event, IoctlArg>();

/** The argument of an ioctl event, as bytes and pointer patches (events are immutable: computed once per event). */
export function ioctlArg(ev: Event, kernel: KernelVersion = '6.12'): IoctlArg {
  if (kernel !== '6.12') return computeIoctlArg(ev, kernel);
  let a = argCache.get(ev);
  if (!a) argCache.set(ev, (a = computeIoctlArg(ev, kernel)));
  return a;
}

function computeIoctlArg(ev: Event, kernel: KernelVersion): IoctlArg {
  const a = ev.args;
  const none: IoctlArg = { request: 0, mode: ARG.BAD, intArg: 0n, bytes: new Uint8Array(0), patches: [] };
  if (ev.op === 'RAW_IOCTL') {
    const request = num(a?.['request']);
    if (!a) return { ...none, request };
    const raw = a['bytes'];
    if (raw instanceof Uint8Array) return { ...none, request, mode: ARG.STRUCT, bytes: raw };
    const payload = a['payload'];
    if (payload === null || payload === undefined) return { ...none, request };
    const l = rawStruct(request, kernel);
    if (!l) return { ...none, request, mode: ARG.STRUCT, bytes: new Uint8Array(8) };
    return { ...none, request, mode: ARG.STRUCT, bytes: encodeStruct(l, { ...(payload as Fields), size: l.size }), decode: { kind: 'iommufd', layout: l } };
  }
  if (ev.op.startsWith('IOMMU_TEST_OP_') || ev.op === RAW_TEST_CMD) {
    const request = IOCTLS.IOMMU_TEST_CMD.cmd;
    if (!a) return { ...none, request };
    const ver: KernelVersion = ev.op === RAW_TEST_CMD || testOpByName(ev.op, kernel) ? kernel : '6.14';
    const l = layoutOf('iommu_test_cmd', ver);
    const size = ev.size ?? l.size;
    const full = withSize(encodeTestCmd({ op: ev.op, args: a }, ver), size);
    const bytes = frame(full, size, ev.tail);
    const patches: Patch[] = [];
    if (ev.op === 'IOMMU_TEST_OP_ACCESS_RW') {
      const m = sub(a, 'access_rw');
      const ptr = big(m['uptr']);
      // Only bytes given with the event make it a buffer; else uptr is the trace's user memory.
      if (ev.bufs && 'uptr' in ev.bufs && ptr !== 0n) {
        const write = (num(m['flags']) & 1) !== 0;
        const p = bufPatch(ev, 'uptr', 32, ptr, write ? 'in' : 'inout', big(m['length']));
        if (p) patches.push(p);
      }
    } else if (ev.op === 'IOMMU_TEST_OP_DIRTY') {
      const m = sub(a, 'dirty');
      const p = bufPatch(ev, 'uptr', 48, big(m['uptr']), 'in', 0);
      if (p) patches.push(p);
    }
    // A pointer the caller's `size` cuts is not a whole pointer the kernel reads: leave it alone.
    return { request, mode: ARG.STRUCT, intArg: 0n, bytes, patches: patches.filter((p) => p.offset + 8 <= size), decode: { kind: 'test', layout: l } };
  }
  if (!isIoctlName(ev.op)) return none;
  const def = IOCTLS[ev.op];
  const request = def.cmd;
  if (def.convention === 'int') return { ...none, request, mode: ARG.INT, intArg: a ? big(a['arg']) : 0n };
  if (!a) return { ...none, request };
  const l = layoutOf(def.struct!, kernel);
  if (def.convention === 'argsz') {
    const argsz = num(a['argsz']);
    const full = encodeStruct(l, a);
    let bytes = full;
    if (ev.op === 'VFIO_IOMMU_GET_INFO') {
      const caps = ev.bufs && 'caps' in ev.bufs ? (ev.bufs['caps'] ?? new Uint8Array(0)) : (ev.tail ?? new Uint8Array(0));
      bytes = new Uint8Array(Math.max(full.length + caps.length, argsz));
      bytes.set(full);
      bytes.set(caps, full.length);
    } else if (argsz > full.length) {
      bytes = new Uint8Array(argsz);
      bytes.set(full);
    }
    return { request, mode: ARG.STRUCT, intArg: 0n, bytes, patches: [], decode: { kind: 'vfio', layout: l } };
  }
  const size = ev.size ?? l.size;
  const bytes = frame(encodeStruct(l, { ...a, size }), size, ev.tail);
  const patches: Patch[] = [];
  const add = (p: Patch | undefined) => p && patches.push(p);
  switch (ev.op) {
    case 'IOMMU_IOAS_ALLOW_IOVAS':
      add(bufPatch(ev, 'allowed_iovas', 16, big(a['allowed_iovas']), 'in', 0));
      break;
    case 'IOMMU_IOAS_IOVA_RANGES':
      add(bufPatch(ev, 'allowed_iovas', 16, big(a['allowed_iovas']), 'out', BigInt(num(a['num_iovas'])) * 16n));
      break;
    case 'IOMMU_HWPT_ALLOC':
      add(bufPatch(ev, 'data_uptr', 32, big(a['data_uptr']), 'in', 0));
      break;
    case 'IOMMU_GET_HW_INFO':
      add(bufPatch(ev, 'data_uptr', 16, big(a['data_uptr']), 'out', num(a['data_len'])));
      break;
    case 'IOMMU_HWPT_GET_DIRTY_BITMAP':
      add(bufPatch(ev, 'data', 40, big(a['data']), 'inout', roundUp8(bitmapBytes(big(a['length']), big(a['page_size'])))));
      break;
    case 'IOMMU_HWPT_INVALIDATE':
      add(bufPatch(ev, 'data_uptr', 8, big(a['data_uptr']), 'in', 0));
      break;
  }
  return { request, mode: ARG.STRUCT, intArg: 0n, bytes, patches: patches.filter((p) => p.offset + 8 <= size), decode: { kind: 'iommufd', layout: l } };
}

// --------------------------------------------------------------- ops

export interface EncodedTrace {
  name: string;
  /** Ops sent (events the executor runs). */
  ops: number;
  /** Of which ioctls. */
  ioctls: number;
}

export interface TraceInput {
  name: string;
  events: readonly Event[];
}

function opHeader(o: Out, kind: number, ev: Event, index: number, fd: number): number {
  const at = o.len;
  o.u32(0); // length, patched
  o.u16(kind);
  o.u16(0);
  o.u32(ev.pid ?? DEFAULT_PID);
  o.i32(fd);
  o.u32(index);
  o.u32(0);
  return at;
}

function endOp(o: Out, at: number): void {
  o.patchU32(at, o.len - at);
}

/** Writes one event as an op; false when there is nothing to run for it. */
function encodeEvent(o: Out, ev: Event, index: number, kernel: KernelVersion): 'ioctl' | 'env' | false {
  const a: Fields = ev.args ?? {};
  if (NOTHING_TO_RUN.has(ev.op)) return false;
  const reason = notCheckable(ev);
  if (reason) throw new Error(`event #${index} (${ev.op}): ${reason}`);
  const isIoctl = ev.op.startsWith('IOMMU_') || ev.op.startsWith('VFIO_') || ev.op === 'RAW_IOCTL';
  if (isIoctl) {
    const arg = ioctlArg(ev, kernel);
    const at = opHeader(o, OP.IOCTL, ev, index, ev.fd ?? -1);
    o.u32(arg.request);
    o.u32(arg.mode);
    o.u64(arg.intArg);
    o.u32(arg.bytes.length);
    o.u32(arg.patches.length);
    o.bytes(arg.bytes);
    for (const p of arg.patches) {
      o.u32(p.offset);
      o.u32(p.mode);
      o.u32(p.length);
      o.lbytes(p.data);
    }
    endOp(o, at);
    return 'ioctl';
  }
  let at: number;
  switch (ev.op) {
    case 'open':
      at = opHeader(o, OP.OPEN, ev, index, -1);
      // open(2) flags when the event has them, else the executor's rule (docs/oracle.md).
      o.u32(typeof a['flags'] === 'number' ? a['flags'] : 0xffffffff);
      o.lbytes(text(String(a['path'] ?? '')));
      break;
    case 'close':
      at = opHeader(o, OP.CLOSE, ev, index, num(a['fd']));
      break;
    case 'mmap': {
      const kind = String(a['kind'] ?? 'anon') as keyof typeof MMAP_KIND;
      const k = Object.hasOwn(MMAP_KIND, kind) ? MMAP_KIND[kind] : MMAP_KIND.anon;
      const fd = k >= MMAP_KIND.memfd ? (a['fd'] === undefined ? (kind === 'file_private' ? -1 : 0) : num(a['fd'])) : -1;
      at = opHeader(o, OP.MMAP, ev, index, fd);
      o.u64(big(a['va']));
      o.u64(big(a['length']));
      // (the kind in the low byte; mmap's other flags, MAP_LOCKED and up, above it: the executor adds them)
      o.u32((k | ((a['flags'] === undefined ? 0 : num(a['flags'])) & ~0xff)) >>> 0);
      o.u32(a['prot'] === undefined ? 3 : num(a['prot']));
      o.u64(big(a['offset']));
      break;
    }
    case 'munmap':
    case 'mprotect':
    case 'madvise':
    case 'mlock':
    case 'munlock': {
      // (a range and one u32: the protection, the advice, mlock2's flags)
      const kind = { munmap: OP.MUNMAP, mprotect: OP.MPROTECT, madvise: OP.MADVISE, mlock: OP.MLOCK, munlock: OP.MUNLOCK }[ev.op];
      at = opHeader(o, kind, ev, index, -1);
      o.u64(big(a['va']));
      o.u64(big(a['length']));
      o.u32(ev.op === 'mprotect' ? num(a['prot']) : ev.op === 'madvise' ? adviceNumber(a, index) : ev.op === 'mlock' ? num(a['flags']) : 0);
      break;
    }
    case 'mlockall':
      at = opHeader(o, OP.MLOCKALL, ev, index, -1);
      o.u32(num(a['flags']));
      break;
    case 'munlockall':
      at = opHeader(o, OP.MUNLOCKALL, ev, index, -1);
      break;
    case 'memset':
    case 'fill_memory':
    case 'write_memory': {
      let data: Uint8Array;
      if (ev.op === 'write_memory') data = a['data'] instanceof Uint8Array ? a['data'] : new Uint8Array(0);
      else {
        const n = Math.min(Number(big(a['length'])), MAX_MEMOP);
        data = ev.op === 'memset' ? new Uint8Array(n).fill(num(a['byte'])) : fillPattern(num(sub(a, 'pattern')['seed']), n);
      }
      at = opHeader(o, OP.MEMWRITE, ev, index, -1);
      o.u64(big(a['va']));
      o.lbytes(data.subarray(0, MAX_MEMOP));
      break;
    }
    case 'read_memory':
      at = opHeader(o, OP.MEMREAD, ev, index, -1);
      o.u64(big(a['va']));
      o.u32(Math.min(Number(big(a['length'])), MAX_MEMOP));
      break;
    case 'memfd_create':
      at = opHeader(o, OP.MEMFD, ev, index, -1);
      o.lbytes(text(String(a['name'] ?? '')));
      o.u32(a['flags'] === undefined ? 0 : num(a['flags']));
      break;
    case 'ftruncate':
      at = opHeader(o, OP.FTRUNCATE, ev, index, num(a['fd']));
      o.u64(big(a['length']));
      break;
    case 'mremap':
      // (where the kernel places a mapping it moves on its own is its choice: the executor just makes
      // the call, and the judge hands the model the kernel's answer, results.ts withKernelAnswers)
      at = opHeader(o, OP.MREMAP, ev, index, -1);
      o.u64(big(a['va']));
      o.u64(big(a['old_length']));
      o.u64(big(a['new_length']));
      o.u32(num(a['flags']));
      o.u64(a['new_va'] === undefined ? 0n : big(a['new_va']));
      break;
    case 'fallocate':
      at = opHeader(o, OP.FALLOCATE, ev, index, num(a['fd']));
      o.u32(num(a['mode']));
      o.u64(big(a['offset']));
      o.u64(big(a['length']));
      break;
    case 'read_fault_fd':
      at = opHeader(o, OP.READFD, ev, index, num(a['fd']));
      o.u32(num(a['count']));
      o.u64(big(a['pos']));
      break;
    case 'write_fault_fd': {
      const raw = ev.bufs && 'data' in ev.bufs ? ev.bufs['data'] : a['data'] instanceof Uint8Array ? a['data'] : new Uint8Array(0);
      const data = raw ?? new Uint8Array(0);
      at = opHeader(o, OP.WRITEFD, ev, index, num(a['fd']));
      o.u32(a['count'] === undefined ? data.length : num(a['count']));
      o.u64(big(a['pos']));
      o.u32(raw === null ? 1 : 0);
      o.lbytes(data.subarray(0, MAX_BUFFER));
      break;
    }
    case 'drop_capability': {
      const name = String(a['cap'] ?? '');
      const cap = Object.hasOwn(CAP, name) ? CAP[name as keyof typeof CAP] : undefined;
      // The model refuses other capabilities (EINVAL) without any effect: nothing to run.
      if (cap === undefined) return false;
      at = opHeader(o, OP.CAPDROP, ev, index, -1);
      o.u32(cap);
      break;
    }
    case 'set_rlimit_memlock': {
      const pages = a['pages'];
      at = opHeader(o, OP.RLIMIT, ev, index, -1);
      o.u64(pages === null || pages === undefined ? U64_MAX : big(pages) * 4096n > U64_MAX ? U64_MAX : big(pages) * 4096n);
      break;
    }
    case 'fork':
      at = opHeader(o, OP.FORK, ev, index, -1);
      o.u32(num(a['child']));
      break;
    case 'exit':
      at = opHeader(o, OP.EXIT, ev, index, -1);
      break;
    case 'external_fds': {
      const fds = Array.isArray(a['fds']) ? (a['fds'] as Value[]).map((x) => num(x)) : [];
      at = opHeader(o, OP.EXTFDS, ev, index, -1);
      o.u32(fds.length);
      for (const fd of fds) o.i32(fd);
      break;
    }
    case 'maps': {
      const regions = Array.isArray(a['maps']) ? (a['maps'] as Fields[]) : [];
      at = opHeader(o, OP.MAPS, ev, index, -1);
      o.u32(regions.length);
      for (const r of regions) {
        const perms = String(r['perms'] ?? '---p');
        const path = String(r['path'] ?? '');
        o.u64(big(r['start']));
        o.u64(big(r['end']));
        o.u32(path.startsWith('/anon_hugepage') ? 2 : perms[3] === 's' ? 1 : 0);
        o.u32((perms[0] === 'r' ? 1 : 0) | (perms[1] === 'w' ? 2 : 0) | (perms[2] === 'x' ? 4 : 0));
      }
      break;
    }
    default:
      throw new Error(`event #${index} (${ev.op}): the oracle cannot run it`);
  }
  endOp(o, at);
  return 'env';
}

/**
 * The executor input for a batch of traces (each run in fresh processes).
 * `timeoutMs`: the most one trace may go without progress.
 */
export function encodeInput(traces: readonly TraceInput[], opts: { kernel?: KernelVersion; timeoutMs?: number } = {}): { input: Buffer; traces: EncodedTrace[] } {
  const kernel = opts.kernel ?? '6.12';
  const o = new Out();
  o.bytes(text(INPUT_MAGIC));
  o.u32(INPUT_VERSION);
  o.u32(traces.length);
  o.u32(opts.timeoutMs ?? 60_000);
  o.u32(0);
  const info: EncodedTrace[] = [];
  for (const t of traces) {
    o.u32(TRACE_MAGIC);
    o.u32(info.length);
    const countAt = o.len;
    o.u32(0);
    o.lbytes(text(t.name));
    let ops = 0;
    let ioctls = 0;
    t.events.forEach((ev, i) => {
      const r = encodeEvent(o, ev, i, kernel);
      if (r) ops++;
      if (r === 'ioctl') ioctls++;
    });
    o.patchU32(countAt, ops);
    info.push({ name: t.name, ops, ioctls });
  }
  return { input: Buffer.from(o.take()), traces: info };
}

/**
 * The executor binary with an input appended: the binary padded to a page,
 * the input, then the trailer `IORWPAY1`, u64 offset, u64 length.
 */
export function appendPayload(executor: Uint8Array, input: Uint8Array): Buffer {
  const off = Math.ceil(executor.length / 4096) * 4096;
  const out = Buffer.alloc(off + input.length + 24);
  out.set(executor, 0);
  out.set(input, off);
  const t = off + input.length;
  out.write(PAYLOAD_MAGIC, t, 'latin1');
  out.writeBigUInt64LE(BigInt(off), t + 8);
  out.writeBigUInt64LE(BigInt(input.length), t + 16);
  return out;
}

// --------------------------------------------------------------- reading it back (tests, debugging)

export interface DecodedOp {
  kind: number;
  pid: number;
  fd: number;
  ev: number;
  /** The op's payload bytes (after its 24-byte header). */
  payload: Buffer;
}

/** Parses an executor input the way executor.c does (every length checked). */
export function decodeInput(buf: Buffer): { timeoutMs: number; traces: { name: string; ops: DecodedOp[] }[] } {
  let p = 0;
  const need = (n: number) => {
    if (p + n > buf.length) throw new Error(`executor input truncated at byte ${p}`);
  };
  const u32 = () => (need(4), (p += 4), buf.readUInt32LE(p - 4));
  if (buf.subarray(0, 8).toString('latin1') !== INPUT_MAGIC) throw new Error('not an executor input');
  p = 8;
  if (u32() !== INPUT_VERSION) throw new Error('unsupported executor input version');
  const n = u32();
  const timeoutMs = u32();
  u32();
  const traces: { name: string; ops: DecodedOp[] }[] = [];
  for (let t = 0; t < n; t++) {
    if (u32() !== TRACE_MAGIC) throw new Error(`trace ${t}: bad magic`);
    u32();
    const nops = u32();
    const nl = u32();
    need(nl);
    const name = buf.subarray(p, p + nl).toString('utf8');
    p += (nl + 3) & ~3;
    const ops: DecodedOp[] = [];
    for (let k = 0; k < nops; k++) {
      need(24);
      const len = buf.readUInt32LE(p);
      if (len < 24 || len % 4 || p + len > buf.length) throw new Error(`trace ${t} op ${k}: bad length ${len}`);
      ops.push({ kind: buf.readUInt16LE(p + 4), pid: buf.readUInt32LE(p + 8), fd: buf.readInt32LE(p + 12), ev: buf.readUInt32LE(p + 16), payload: buf.subarray(p + 24, p + len) });
      p += len;
    }
    traces.push({ name, ops });
  }
  if (p !== buf.length) throw new Error(`executor input: ${buf.length - p} bytes after the last trace`);
  return { timeoutMs, traces };
}

// --------------------------------------------------------------- representable events


/**
 * The event as a C program can express it: integer values that do not fit
 * their struct member cut to its width (the fuzzer's hostile values are
 * drawn without regard to the member's width). The same event object when
 * nothing needed cutting.
 */
export function representable(ev: Event, kernel: KernelVersion = '6.12'): Event {
  const a = ev.args;
  if (!a) return ev;
  let l: StructLayout | undefined;
  if (ev.op.startsWith('IOMMU_TEST_OP_')) l = layoutOf('iommu_test_cmd', kernel);
  else if (ev.op === 'RAW_IOCTL') {
    const payload = a['payload'];
    const rl = payload && typeof payload === 'object' && !(payload instanceof Uint8Array) && !Array.isArray(payload) ? rawStruct(num(a['request']), kernel) : undefined;
    if (!rl) return ev;
    const fitted = fitToMembers(rl.fields, payload as Fields);
    return fitted === payload ? ev : { ...ev, args: { ...a, payload: fitted } };
  } else if (isIoctlName(ev.op) && IOCTLS[ev.op].struct) l = layoutOf(IOCTLS[ev.op].struct!, kernel);
  if (!l) return ev;
  const fitted = fitToMembers(l.fields, a);
  return fitted === a ? ev : { ...ev, args: fitted };
}
