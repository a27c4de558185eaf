/**
 * Importer for real-kernel captures (../shared/captures/README.md): one JSON
 * record per line, raw struct bytes before and after each ioctl. Every record
 * becomes events carrying the recorded answer (`rec`), decoded through the
 * ABI layer. Streaming: records are read line by line from a (gzipped) file,
 * so memory does not grow with the capture.
 *
 * Records that cannot be decoded become explicit `undecodable` events that
 * replay reports; kinds the importer does not know become `unknown_record`
 * events. Nothing is dropped silently.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Buffers, Event, Fields, Recorded } from '../events/event.js';
import { decodeStruct, decodeTestCmd, hexToBytes } from '../uapi/codec.js';
import { ioctlByCmd } from '../uapi/ioctls.js';
import { errnoName } from '../uapi/errno.js';
import { structLayout, type KernelVersion } from '../uapi/versions.js';

/** mmap flags an import turns into the event's `kind` and address: MAP_SHARED, MAP_PRIVATE (MAP_SHARED_VALIDATE), MAP_FIXED, MAP_ANONYMOUS, MAP_HUGETLB. */
const MAP_HUGETLB = 0x40000;
const MAP_KIND_BITS = 0x3 | 0x10 | 0x20 | MAP_HUGETLB;

export class CaptureFormatError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    /** The capture file, when the error comes from reading one (importCapture). */
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}capture line ${line}: ${reason}`);
    this.name = 'CaptureFormatError';
  }
}

type Rec = { [k: string]: unknown };

/** Pointer side buffers: capture field -> event buffer name (before the call / after it). */
const BUF_IN: { readonly [k: string]: string } = Object.freeze(
  Object.assign(Object.create(null) as { [k: string]: string }, {
    allowed_iovas_in: 'allowed_iovas',
    data_in: 'data_uptr',
    bitmap_in: 'data',
    entries_in: 'data_uptr',
    rw_buf_in: 'uptr',
  }),
);
const BUF_OUT: { readonly [k: string]: string } = Object.freeze(
  Object.assign(Object.create(null) as { [k: string]: string }, {
    allowed_iovas_out: 'allowed_iovas',
    data_out: 'data_uptr',
    bitmap_out: 'data',
    entries_out: 'data_uptr',
    rw_buf_out: 'uptr',
  }),
);

/** The longest line accepted; a longer one is refused before it is buffered whole. */
export const MAX_LINE = 64 * 1024 * 1024;
/** The recorder caps an argument struct at this many bytes (then `"trunc": size`). */
const MAX_STRUCT = 4096;
/** Linux never hands out an fd at or above fs.nr_open (1 << 20 by default). */
const MAX_FD = 1 << 20;
/** Open fds the importer may have to track across all processes (external ones and fork copies). */
const MAX_TRACKED_FDS = 1 << 22;
/** read(2) never transfers more than MAX_RW_COUNT (INT_MAX & PAGE_MASK). */
const MAX_RW = 0x7ffff000;
/** What a record's `kind` may look like. */
const KIND_RE = /^[a-z][a-z0-9_]{0,63}$/;

export interface ImportStats {
  records: number;
  events: number;
  byKind: { [k: string]: number };
}

/**
 * Per-process fd bookkeeping, to tell the model which fds were open before
 * the recording began (or were opened by code the recorder does not see),
 * and which of those must have been closed unseen when the kernel hands
 * their number out again. Work is bounded: below the highest fd seen only
 * the holes that closes left are rescanned, and the total tracked is capped.
 */
class FdTracker {
  private procs = new Map<number, { open: Map<number, boolean>; seen: number; holes: Set<number> }>();
  private tracked = 0;

  private proc(pid: number) {
    let p = this.procs.get(pid);
    if (!p) this.procs.set(pid, (p = { open: new Map(), seen: 0, holes: new Set() }));
    return p;
  }
  private budget(n: number, line: number): void {
    this.tracked += n;
    if (this.tracked > MAX_TRACKED_FDS) throw new CaptureFormatError(line, `more than ${MAX_TRACKED_FDS} open file descriptors to track: refusing the capture`);
  }
  fork(parent: number, child: number, line: number): void {
    const p = this.proc(parent);
    this.budget(p.open.size + p.holes.size, line);
    this.procs.set(child, { open: new Map(p.open), seen: p.seen, holes: new Set(p.holes) });
  }
  /**
   * The kernel gave `fd` to the trace. Returns the fds below it that the
   * trace never opened (files outside it: the kernel hands out the lowest
   * free fd, so they were all taken), and whether `fd` itself was still
   * believed open, i.e. closed without a record.
   */
  allocated(pid: number, fd: number, line: number): { external: number[]; reused: boolean } {
    if (fd >= MAX_FD) throw new CaptureFormatError(line, `fd ${fd} is beyond any fd Linux hands out (${MAX_FD})`);
    const p = this.proc(pid);
    const external: number[] = [];
    for (const h of p.holes) if (h < fd) external.push(h);
    for (let i = p.seen; i < fd; i++) external.push(i);
    this.budget(external.length + 1, line);
    for (const i of external) {
      p.holes.delete(i);
      p.open.set(i, false);
    }
    p.holes.delete(fd);
    const reused = p.open.has(fd);
    p.open.set(fd, true);
    if (fd >= p.seen) p.seen = fd + 1;
    return { external: external.sort((a, b) => a - b), reused };
  }
  close(pid: number, fd: number): void {
    const p = this.proc(pid);
    if (p.open.delete(fd)) this.tracked--;
    if (fd >= 0 && fd < p.seen) p.holes.add(fd);
  }
}

export class CaptureImporter {
  readonly stats: ImportStats = { records: 0, events: 0, byKind: Object.create(null) as { [k: string]: number } };
  private fds = new FdTracker();
  private lastSeq = -1;
  constructor(readonly kernel: KernelVersion = '6.12') {}

  /**
   * Convert one parsed record to events. Anything wrong with the record is a
   * CaptureFormatError naming the line, whatever part of the decoding notices.
   */
  convert(r: Rec, line: number): Event[] {
    try {
      return this.convertRecord(r, line);
    } catch (e) {
      if (e instanceof CaptureFormatError) throw e;
      throw new CaptureFormatError(line, `cannot decode the record: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  private convertRecord(r: Rec, line: number): Event[] {
    this.stats.records++;
    const kind = str(r, 'kind', line);
    if (!KIND_RE.test(kind)) throw new CaptureFormatError(line, `bad kind ${JSON.stringify(kind.slice(0, 40))}`);
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
    const pid = int(r, 'pid', line);
    const seq = int(r, 'seq', line);
    if (seq <= this.lastSeq) throw new CaptureFormatError(line, `seq ${seq} does not follow ${this.lastSeq}: lines out of order or repeated`);
    this.lastSeq = seq;
    const src = `line ${line} seq ${seq}`;
    const out: Event[] = [];
    const fdAllocated = (fd: number) => {
      const { external, reused } = this.fds.allocated(pid, fd, line);
      if (external.length) out.push({ op: 'external_fds', pid, args: { fds: external }, src });
      // The kernel handed out an fd the trace still had open: it was closed unseen (close_range, dup2, exec).
      if (reused) out.push({ op: 'close', pid, args: { fd }, src: `${src} (closed without a record)` });
    };
    switch (kind) {
      case 'test':
        out.push({ op: 'note', pid, args: { test: String(r['test'] ?? '') }, src });
        break;
      case 'maps':
        // The recorder could not read /proc/self/maps (`"maps": null, "errno"`): no snapshot.
        if (r['maps'] === null) out.push({ op: 'noop', pid, args: { what: 'maps unreadable' }, src });
        else out.push({ op: 'maps', pid, args: { maps: parseMaps(r, line) }, src });
        break;
      case 'fork':
        this.fds.fork(int(r, 'parent', line), int(r, 'child', line), line);
        out.push({ op: 'fork', pid: int(r, 'parent', line), args: { child: int(r, 'child', line) }, src });
        break;
      case 'exit':
        out.push({ op: 'exit', pid, args: {}, src });
        break;
      case 'open': {
        const ret = int(r, 'ret', line);
        const path = str(r, 'path', line);
        const rec = recOf(r, line, ret >= 0 ? ret : undefined);
        // Why an open failed (ENOENT, EACCES, ENXIO) is the file system's business, not the model's.
        if (ret < 0) {
          out.push({ op: 'noop', pid, args: { what: 'failed open', path }, src });
          break;
        }
        fdAllocated(ret);
        out.push({ op: 'open', pid, args: { path }, rec, src });
        break;
      }
      case 'close': {
        const fd = int(r, 'fd', line);
        this.fds.close(pid, fd);
        out.push({ op: 'close', pid, args: { fd }, rec: recOf(r, line), src });
        break;
      }
      case 'mmap': {
        if (r['ret'] === null || int(r, 'errno', line)) {
          out.push({ op: 'noop', pid, args: { what: 'failed mmap' }, src });
          break;
        }
        const names = strList(r, 'flag_names', line);
        const fd = int(r, 'fd', line);
        // (MAP_HUGETLB is the kind anon_hugetlb only with MAP_SHARED | MAP_ANONYMOUS; otherwise it stays a flag)
        const hugeKind = names.includes('HUGETLB') && names.includes('ANONYMOUS') && names.includes('SHARED');
        const kind2 = hugeKind
          ? 'anon_hugetlb'
          : names.includes('ANONYMOUS')
            ? names.includes('SHARED')
              ? 'anon'
              : 'private_anon'
            : names.includes('SHARED')
              ? 'file_shared'
              : 'file_private';
        // The program's own stores into this memory are not recorded: its contents are unknown.
        const args: Fields = { va: u64(r, 'ret', line), length: u64(r, 'len', line), kind: kind2, prot: int(r, 'prot', line), content: 'unknown' };
        if (fd >= 0) {
          args['fd'] = fd;
          args['offset'] = u64(r, 'offset', line);
        }
        // The call's other flags (MAP_POPULATE, MAP_LOCKED, ...: the type, MAP_FIXED, MAP_ANONYMOUS and
        // MAP_HUGETLB are in `kind` and the address); the model answers for those it does not know.
        const other = (r['flags'] === undefined ? 0 : int(r, 'flags', line)) & ~(hugeKind ? MAP_KIND_BITS : MAP_KIND_BITS & ~MAP_HUGETLB);
        if (other) args['flags'] = other >>> 0;
        out.push({ op: 'mmap', pid, args, rec: { errno: 0 }, src });
        break;
      }
      case 'munmap':
        out.push({ op: 'munmap', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line) }, rec: recOf(r, line), src });
        break;
      case 'mremap': {
        // Where the kernel moved the mapping (its answer) goes with the event: the model does not choose addresses.
        const failed = r['ret'] === null;
        const args: Fields = { va: u64(r, 'old_addr', line), old_length: u64(r, 'old_len', line), new_length: u64(r, 'new_len', line), flags: int(r, 'flags', line) };
        if (r['new_addr'] !== undefined) args['new_va'] = u64(r, 'new_addr', line);
        if (!failed) args['placed'] = u64(r, 'ret', line);
        const e = int(r, 'errno', line);
        const name = e ? errnoName(e) : 0;
        if (name === undefined) throw new CaptureFormatError(line, `unknown errno ${e}`);
        if (failed === !name) throw new CaptureFormatError(line, 'mremap: a null ret goes with an errno, an address without one');
        out.push({ op: 'mremap', pid, args, rec: name ? { errno: name } : { errno: 0, ret: Number(args['placed']) }, src });
        break;
      }
      case 'mprotect':
        out.push({ op: 'mprotect', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line), prot: int(r, 'prot', line) }, rec: recOf(r, line), src });
        break;
      case 'madvise':
        out.push({ op: 'madvise', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line), advice: typeof r['advice_name'] === 'string' ? r['advice_name'] : int(r, 'advice', line) }, rec: recOf(r, line), src });
        break;
      case 'mlock':
        // (mlock(2) is mlock2(2) with flags 0)
        out.push({ op: 'mlock', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line), flags: r['flags'] === undefined ? 0 : int(r, 'flags', line) }, rec: recOf(r, line), src });
        break;
      case 'munlock':
        out.push({ op: 'munlock', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line) }, rec: recOf(r, line), src });
        break;
      case 'mlockall':
        out.push({ op: 'mlockall', pid, args: { flags: int(r, 'flags', line) }, rec: recOf(r, line), src });
        break;
      case 'munlockall':
        out.push({ op: 'munlockall', pid, args: {}, rec: recOf(r, line), src });
        break;
      case 'memfd_create': {
        const ret = int(r, 'ret', line);
        if (ret >= 0) fdAllocated(ret);
        out.push({ op: 'memfd_create', pid, args: { name: String(r['name'] ?? ''), ...(r['flags'] !== undefined ? { flags: int(r, 'flags', line) } : {}), content: 'unknown' }, rec: recOf(r, line, ret >= 0 ? ret : undefined), src });
        break;
      }
      case 'ftruncate':
        out.push({ op: 'ftruncate', pid, args: { fd: int(r, 'fd', line), length: s64(r, 'len', line) }, rec: recOf(r, line), src });
        break;
      case 'fallocate':
        out.push({ op: 'fallocate', pid, args: { fd: int(r, 'fd', line), mode: int(r, 'mode', line), offset: s64(r, 'offset', line), length: s64(r, 'len', line) }, rec: recOf(r, line), src });
        break;
      case 'alloc':
      case 'free':
        // Heap calls: their effect on the address space arrives as the `maps` snapshot that follows.
        out.push({ op: 'noop', pid, args: { what: kind }, src });
        break;
      case 'read':
      case 'write': {
        const data = r['data'] ? hex(r, 'data', line) : new Uint8Array(0);
        const ret = int(r, 'ret', line);
        const len = int(r, 'len', line);
        if (len < 0 || len > MAX_RW) throw new CaptureFormatError(line, `field 'len' is not a read/write length: ${len}`);
        if (ret > len) throw new CaptureFormatError(line, `${kind} of ${len} bytes cannot return ${ret}`);
        if (kind === 'read')
          out.push({ op: 'read_fault_fd', pid, args: { fd: int(r, 'fd', line), count: len }, rec: { ...recOf(r, line, Math.max(ret, 0)), bufs: { data } }, src });
        else out.push({ op: 'write_fault_fd', pid, args: { fd: int(r, 'fd', line) }, bufs: { data }, rec: recOf(r, line, Math.max(ret, 0)), src });
        break;
      }
      case 'ioctl':
        out.push(this.ioctl(r, line, pid, src, fdAllocated));
        break;
      default:
        out.push({ op: 'unknown_record', pid, args: { kind }, src });
    }
    this.stats.events += out.length;
    return out;
  }

  private ioctl(r: Rec, line: number, pid: number, src: string, fdAllocated: (fd: number) => void): Event {
    const fd = int(r, 'fd', line);
    const cmdText = str(r, 'cmd', line);
    if (!/^0x[0-9a-fA-F]{1,8}$/.test(cmdText)) throw new CaptureFormatError(line, `bad cmd ${JSON.stringify(cmdText.slice(0, 40))}: a request number is a 32-bit hex value`);
    const cmd = parseInt(cmdText, 16);
    const def = ioctlByCmd(cmd, this.kernel) ?? ioctlByCmd(cmd, '6.14');
    const base = { pid, fd, src };
    if ('arg' in r) {
      // VFIO integer-argument ioctls and numbers without a struct.
      if ('in' in r) throw new CaptureFormatError(line, `an ioctl record has either 'arg' or 'in', not both`);
      const arg = r['arg'];
      // The argument is a register: a number, or a hex string when above 2^53 (a pointer).
      const value = typeof arg === 'string' ? u64(r, 'arg', line) : int(r, 'arg', line);
      const rec = recOf(r, line, Math.max(int(r, 'ret', line), 0));
      if (!def) return { ...base, op: 'RAW_IOCTL', args: { request: cmd, payload: null }, rec };
      return { ...base, op: def.name, args: { arg: value }, rec };
    }
    if (!('in' in r)) throw new CaptureFormatError(line, `an ioctl record needs 'in' (the struct) or 'arg'`);
    if (r['in'] === null) {
      const rec = recOf(r, line);
      if (!def) return { ...base, op: 'RAW_IOCTL', args: { request: cmd, payload: null }, rec };
      return { ...base, op: def.name === 'IOMMU_TEST_CMD' ? 'IOMMU_TEST_OP_ADD_RESERVED' : def.name, args: null, rec };
    }
    const inB = hex(r, 'in', line);
    const outB = r['out'] === undefined || r['out'] === null ? inB : hex(r, 'out', line);
    checkStructBytes(r, inB, outB, line);
    if (r['trunc'] !== undefined) return { ...base, op: 'undecodable', args: { cmd, reason: 'argument struct truncated by the recorder' } };
    for (const k of [...Object.keys(BUF_IN), ...Object.keys(BUF_OUT)])
      if (r[`${k}_trunc`] !== undefined) return { ...base, op: 'undecodable', args: { cmd, reason: `buffer ${k} truncated by the recorder` } };
    const bufs: Buffers = {};
    const recBufs: Buffers = {};
    const isTest = def?.name === 'IOMMU_TEST_CMD';
    const inName = (k: string) => (isTest && k === 'bitmap_in' ? 'uptr' : BUF_IN[k]!);
    for (const k of Object.keys(BUF_IN)) if (r[k] !== undefined && r[k] !== null) bufs[inName(k)] = hex(r, k, line);
    for (const k of Object.keys(BUF_OUT)) if (r[k] !== undefined && r[k] !== null) recBufs[BUF_OUT[k]!] = hex(r, k, line);
    // `<buffer>_fault`: the pointer could not be read before the call (after it: nothing to compare).
    for (const k of Object.keys(BUF_IN)) if (r[`${k}_fault`]) bufs[inName(k)] = null;
    const rec = recOf(r, line);
    if (!def) return { ...base, op: 'RAW_IOCTL', args: { request: cmd, bytes: inB }, rec };
    void isTest;
    if (def.name === 'IOMMU_TEST_CMD') {
      const t = decodeTestCmd(inB, this.kernel);
      const after = decodeTestCmd(outB, this.kernel);
      const ev: Event = { ...base, op: t.op, args: stripSize(t.args), rec: { ...rec, out: stripSize(after.args), bufs: recBufs } };
      if (t.size !== undefined) ev.size = t.size;
      if (Object.keys(bufs).length) ev.bufs = bufs;
      if (t.op === 'IOMMU_TEST_OP_CREATE_ACCESS' && !rec.errno) {
        const m = after.args['create_access'] as Fields | undefined;
        if (m) fdAllocated(Number(m['out_access_fd']));
      }
      return ev;
    }
    if (!def.struct) return { ...base, op: def.name, args: {}, rec };
    const layout = structLayout(def.struct, this.kernel === '6.12' && def.versions.includes('6.12') ? '6.12' : '6.14');
    const size = def.convention === 'size' || def.convention === 'argsz' ? inB.length : layout.size;
    // A VFIO struct has no `size` length word: its `size` member is data (MAP_DMA, UNMAP_DMA).
    const fields = def.convention === 'argsz' ? (f: Fields) => f : stripSize;
    const args = fields(decodeStruct(layout, inB.subarray(0, Math.min(size, layout.size))));
    // VFIO_IOMMU_GET_INFO's capability chain: the buffer past the struct, before and after.
    if (def.name === 'VFIO_IOMMU_GET_INFO' && size > layout.size) {
      bufs['caps'] = inB.slice(layout.size);
      recBufs['caps'] = outB.slice(layout.size);
    }
    const ev: Event = { ...base, op: def.name, args, rec: { ...rec, out: fields(decodeStruct(layout, outB.subarray(0, Math.min(size, layout.size)))), bufs: recBufs } };
    if (def.convention === 'argsz') ev.args = { ...args, argsz: inB.length };
    if (def.convention === 'size' && size !== layout.size) ev.size = size;
    if (size > layout.size) ev.tail = inB.slice(layout.size);
    if (Object.keys(bufs).length) ev.bufs = bufs;
    if (def.name === 'IOMMU_FAULT_QUEUE_ALLOC' && !rec.errno) fdAllocated(Number(ev.rec!.out!['out_fault_fd']));
    return ev;
  }
}

/**
 * The recorder dumps as many bytes as the struct's leading u32 `size` (or
 * `argsz`) announces, at most MAX_STRUCT (then `"trunc": size`), before and
 * after the call: bytes that disagree with that are a damaged record.
 */
function checkStructBytes(r: Rec, inB: Uint8Array, outB: Uint8Array, line: number): void {
  let lead = 0;
  for (let i = Math.min(4, inB.length) - 1; i >= 0; i--) lead = lead * 256 + inB[i]!;
  if (r['trunc'] !== undefined) {
    const t = int(r, 'trunc', line);
    if (t <= MAX_STRUCT || t !== lead || inB.length !== MAX_STRUCT) throw new CaptureFormatError(line, `'trunc': ${t} does not match a struct of ${lead} bytes recorded as ${inB.length}`);
  } else if (lead !== inB.length) {
    throw new CaptureFormatError(line, `'in' has ${inB.length} bytes but the struct's leading size says ${lead}${lead > MAX_STRUCT ? ' (and there is no \'trunc\')' : ''}`);
  }
  if (outB.length !== inB.length) throw new CaptureFormatError(line, `'out' has ${outB.length} bytes, 'in' ${inB.length}: the same struct before and after the call`);
}

function stripSize(f: Fields): Fields {
  const { size: _s, ...rest } = f;
  return rest;
}

function recOf(r: Rec, line: number, ret?: number): Recorded {
  int(r, 'ret', line);
  const e = int(r, 'errno', line);
  const name = e ? errnoName(e) : 0;
  if (name === undefined) throw new CaptureFormatError(line, `unknown errno ${e}`);
  const rec: Recorded = { errno: name };
  if (ret !== undefined && ret > 0) rec.ret = ret;
  return rec;
}

function str(r: Rec, k: string, line: number): string {
  const v = r[k];
  if (typeof v !== 'string') throw new CaptureFormatError(line, `field '${k}' must be a string`);
  return v;
}

/** An optional array of strings (flag names). */
function strList(r: Rec, k: string, line: number): string[] {
  const v = r[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new CaptureFormatError(line, `field '${k}' must be an array of strings`);
  return v as string[];
}

function int(r: Rec, k: string, line: number): number {
  const v = r[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new CaptureFormatError(line, `field '${k}' must be an integer`);
  return v;
}

function u64(r: Rec, k: string, line: number): bigint {
  const v = r[k];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,16}$/.test(v)) return BigInt(v);
  throw new CaptureFormatError(line, `field '${k}' must be a 64-bit unsigned value, got ${JSON.stringify(v)?.slice(0, 40)}`);
}

/** An off_t / loff_t (the shim prints it signed): as the 64 bits the event carries. */
function s64(r: Rec, k: string, line: number): bigint {
  const v = r[k];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt.asUintN(64, BigInt(v));
  return u64(r, k, line);
}

function hex(r: Rec, k: string, line: number): Uint8Array {
  const v = r[k];
  if (typeof v !== 'string') throw new CaptureFormatError(line, `field '${k}' must be a hex string`);
  if (v.length > 2 * 1024 * 1024) throw new CaptureFormatError(line, `field '${k}' is absurdly long (${v.length} hex digits)`);
  try {
    return hexToBytes(v);
  } catch (e) {
    throw new CaptureFormatError(line, `field '${k}': ${(e as Error).message}`);
  }
}

function parseMaps(r: Rec, line: number): Fields[] {
  const maps = r['maps'];
  if (!Array.isArray(maps)) throw new CaptureFormatError(line, `'maps' must be an array`);
  return maps.map((m: unknown) => {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw new CaptureFormatError(line, `'maps' entries must be objects`);
    return mapEntry(m as Rec, line);
  });
}

function mapEntry(m: Rec, line: number): Fields {
  const start = u64(m, 'start', line);
  const end = u64(m, 'end', line);
  if (end <= start) throw new CaptureFormatError(line, `'maps' region ${m['start']}-${m['end']} is empty or reversed`);
  return {
    start,
    end,
    perms: str(m, 'perms', line),
    path: str(m, 'path', line),
    offset: u64(m, 'offset', line),
  };
}

/** Parse one JSONL line of a capture into a plain record, refusing prototype keys. */
export function parseCaptureLine(text: string, line: number): Rec {
  if (text.length > MAX_LINE) throw new CaptureFormatError(line, `line longer than ${MAX_LINE} bytes`);
  let r: unknown;
  try {
    r = JSON.parse(text, (k, v) => {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw new CaptureFormatError(line, `forbidden key '${k}'`);
      return v;
    });
  } catch (e) {
    if (e instanceof CaptureFormatError) throw e;
    throw new CaptureFormatError(line, `not JSON: ${(e as Error).message}`);
  }
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new CaptureFormatError(line, 'a record must be a JSON object');
  return r as Rec;
}

/**
 * The lines of a byte stream, without ever holding more than MAX_LINE bytes
 * of one line: a longer line is refused as soon as it is seen. A last line
 * without its newline is reported as truncated; stream errors (a damaged
 * gzip) name the line they stopped at.
 */
export async function* captureLines(input: AsyncIterable<Buffer | string>, maxLine = MAX_LINE): AsyncGenerator<{ text: string; line: number }> {
  let parts: Buffer[] = [];
  let held = 0;
  let line = 1;
  const take = (tail: Buffer): string => {
    const b = parts.length ? Buffer.concat([...parts, tail]) : tail;
    parts = [];
    held = 0;
    const end = b.length && b[b.length - 1] === 0x0d ? b.length - 1 : b.length;
    return b.toString('utf8', 0, end);
  };
  try {
    for await (const chunk of input) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let from = 0;
      for (let nl = buf.indexOf(0x0a, from); nl >= 0; nl = buf.indexOf(0x0a, from)) {
        if (held + nl - from > maxLine) throw new CaptureFormatError(line, `line longer than ${maxLine} bytes`);
        const text = take(buf.subarray(from, nl));
        yield { text, line };
        line++;
        from = nl + 1;
      }
      if (from < buf.length) {
        held += buf.length - from;
        if (held > maxLine) throw new CaptureFormatError(line, `line longer than ${maxLine} bytes`);
        parts.push(Buffer.from(buf.subarray(from)));
      }
    }
  } catch (e) {
    // A damaged gzip stream is a damaged capture; other I/O errors (a missing file) stay what they are.
    const z = e as { code?: unknown; message?: unknown };
    if (!(e instanceof CaptureFormatError) && ((typeof z.code === 'string' && z.code.startsWith('Z_')) || /unexpected end of file|incorrect header check/.test(String(z.message))))
      throw new CaptureFormatError(line, `damaged gzip stream: ${String(z.message)}`);
    throw e;
  }
  if (held) {
    const text = take(Buffer.alloc(0));
    if (text.trim()) {
      try {
        JSON.parse(text);
      } catch {
        throw new CaptureFormatError(line, `truncated line: the file ends in the middle of a record`);
      }
      yield { text, line };
    }
  }
}

/** The events of a capture read from a byte stream (blank lines are skipped). */
export async function* importStream(input: AsyncIterable<Buffer | string>, importer = new CaptureImporter()): AsyncGenerator<Event> {
  for await (const { text, line } of captureLines(input)) {
    if (!text.trim()) continue;
    yield* importer.convert(parseCaptureLine(text, line), line);
  }
}

/**
 * A file's bytes, gunzipped when its name ends in .gz. pipe() does not
 * forward the file stream's errors (a missing file) and they would be
 * thrown as unhandled: they are handed to the gunzip stream.
 */
export function readMaybeGzip(path: string, opts: { end?: number } = {}): Readable {
  const raw = createReadStream(path, opts);
  if (!path.endsWith('.gz')) return raw;
  const gunzip = createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  gunzip.on('close', () => raw.destroy());
  return raw.pipe(gunzip);
}

/** Stream the events of a capture file (.jsonl or .jsonl.gz). */
export async function* importCapture(path: string, importer = new CaptureImporter()): AsyncGenerator<Event> {
  const input = readMaybeGzip(path);
  try {
    yield* importStream(input, importer);
  } catch (e) {
    throw e instanceof CaptureFormatError && !e.file ? new CaptureFormatError(e.line, e.reason, path) : e;
  } finally {
    input.destroy();
  }
}
