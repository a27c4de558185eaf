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
import { createInterface } from 'node:readline';
import type { Buffers, Event, Fields, Recorded } from '../events/event.js';
import { decodeStruct, decodeTestCmd, hexToBytes } from '../uapi/codec.js';
import { ioctlByCmd } from '../uapi/ioctls.js';
import { errnoName } from '../uapi/errno.js';
import { structLayout, type KernelVersion } from '../uapi/versions.js';

export class CaptureFormatError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`capture line ${line}: ${message}`);
    this.name = 'CaptureFormatError';
  }
}

type Rec = { [k: string]: unknown };

/** Pointer side buffers: capture field -> event buffer name (before the call / after it). */
const BUF_IN: { [k: string]: string } = {
  allowed_iovas_in: 'allowed_iovas',
  data_in: 'data_uptr',
  bitmap_in: 'data',
  entries_in: 'data_uptr',
  rw_buf_in: 'uptr',
};
const BUF_OUT: { [k: string]: string } = {
  allowed_iovas_out: 'allowed_iovas',
  data_out: 'data_uptr',
  bitmap_out: 'data',
  entries_out: 'data_uptr',
  rw_buf_out: 'uptr',
};

const MAX_LINE = 64 * 1024 * 1024;

export interface ImportStats {
  records: number;
  events: number;
  byKind: { [k: string]: number };
}

/** Per-process fd bookkeeping, to tell the model which fds were open before the recording began. */
class FdTracker {
  private open = new Map<number, Set<number>>();
  fds(pid: number): Set<number> {
    let s = this.open.get(pid);
    if (!s) this.open.set(pid, (s = new Set()));
    return s;
  }
  fork(parent: number, child: number): void {
    this.open.set(child, new Set(this.fds(parent)));
  }
  /** fds below `fd` that the trace never opened: they belong to files outside it. */
  external(pid: number, fd: number): number[] {
    const s = this.fds(pid);
    const out: number[] = [];
    for (let i = 0; i < fd; i++) if (!s.has(i)) out.push(i);
    for (const i of out) s.add(i);
    s.add(fd);
    return out;
  }
  close(pid: number, fd: number): void {
    this.fds(pid).delete(fd);
  }
}

export class CaptureImporter {
  readonly stats: ImportStats = { records: 0, events: 0, byKind: {} };
  private fds = new FdTracker();
  constructor(readonly kernel: KernelVersion = '6.12') {}

  /** Convert one parsed record to events. */
  convert(r: Rec, line: number): Event[] {
    this.stats.records++;
    const kind = str(r, 'kind', line);
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
    const pid = int(r, 'pid', line);
    const src = `line ${line} seq ${String(r['seq'])}`;
    const out: Event[] = [];
    const fdAllocated = (fd: number) => {
      const ext = this.fds.external(pid, fd);
      if (ext.length) out.push({ op: 'external_fds', pid, args: { fds: ext }, src });
    };
    switch (kind) {
      case 'test':
        out.push({ op: 'note', pid, args: { test: String(r['test'] ?? '') }, src });
        break;
      case 'maps':
        out.push({ op: 'maps', pid, args: { maps: parseMaps(r, line) }, src });
        break;
      case 'fork':
        this.fds.fork(int(r, 'parent', line), int(r, 'child', line));
        out.push({ op: 'fork', pid: int(r, 'parent', line), args: { child: int(r, 'child', line) }, src });
        break;
      case 'exit':
        out.push({ op: 'exit', pid, args: {}, src });
        break;
      case 'open': {
        const ret = int(r, 'ret', line);
        if (ret >= 0) fdAllocated(ret);
        out.push({ op: 'open', pid, args: { path: str(r, 'path', line) }, rec: recOf(r, line, ret >= 0 ? ret : undefined), src });
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
        const names = (r['flag_names'] as string[]) ?? [];
        const fd = int(r, 'fd', line);
        const kind2 = names.includes('HUGETLB')
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
        out.push({ op: 'mmap', pid, args, rec: { errno: 0 }, src });
        break;
      }
      case 'munmap':
        out.push({ op: 'munmap', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line) }, rec: recOf(r, line), src });
        break;
      case 'mprotect':
        out.push({ op: 'mprotect', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line), prot: int(r, 'prot', line) }, rec: recOf(r, line), src });
        break;
      case 'madvise':
        out.push({ op: 'madvise', pid, args: { va: u64(r, 'addr', line), length: u64(r, 'len', line), advice: String(r['advice_name'] ?? '') }, rec: recOf(r, line), src });
        break;
      case 'memfd_create': {
        const ret = int(r, 'ret', line);
        if (ret >= 0) fdAllocated(ret);
        out.push({ op: 'memfd_create', pid, args: { name: String(r['name'] ?? ''), content: 'unknown' }, rec: recOf(r, line, ret >= 0 ? ret : undefined), src });
        break;
      }
      case 'ftruncate':
        out.push({ op: 'ftruncate', pid, args: { fd: int(r, 'fd', line), length: u64(r, 'len', line) }, rec: recOf(r, line), src });
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
        if (kind === 'read')
          out.push({ op: 'read_fault_fd', pid, args: { fd: int(r, 'fd', line), count: int(r, 'len', line) }, rec: { ...recOf(r, line, Math.max(ret, 0)), bufs: { data } }, src });
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
    const cmd = parseInt(str(r, 'cmd', line), 16);
    if (!Number.isFinite(cmd)) throw new CaptureFormatError(line, `bad cmd ${JSON.stringify(r['cmd'])}`);
    const def = ioctlByCmd(cmd, this.kernel) ?? ioctlByCmd(cmd, '6.14');
    const base = { pid, fd, src };
    if ('arg' in r) {
      // VFIO integer-argument ioctls and numbers without a struct.
      const rec = recOf(r, line, Math.max(int(r, 'ret', line), 0));
      if (!def) return { ...base, op: 'RAW_IOCTL', args: { request: cmd, payload: null }, rec };
      return { ...base, op: def.name, args: { arg: int(r, 'arg', line) }, rec };
    }
    if (r['in'] === null) {
      const rec = recOf(r, line);
      if (!def) return { ...base, op: 'RAW_IOCTL', args: { request: cmd, payload: null }, rec };
      return { ...base, op: def.name === 'IOMMU_TEST_CMD' ? 'IOMMU_TEST_OP_ADD_RESERVED' : def.name, args: null, rec };
    }
    const inB = hex(r, 'in', line);
    const outB = r['out'] ? hex(r, 'out', line) : inB;
    if (r['trunc']) return { ...base, op: 'undecodable', args: { cmd, reason: 'argument struct truncated by the recorder' } };
    const bufs: Buffers = {};
    const recBufs: Buffers = {};
    const isTest = def?.name === 'IOMMU_TEST_CMD';
    for (const [k, name] of Object.entries(BUF_IN)) if (typeof r[k] === 'string') bufs[isTest && k === 'bitmap_in' ? 'uptr' : name] = hex(r, k, line);
    for (const [k, name] of Object.entries(BUF_OUT)) if (typeof r[k] === 'string') recBufs[name] = hex(r, k, line);
    for (const k of Object.keys(r)) if (k.endsWith('_fault') && r[k]) bufs[BUF_IN[k.replace(/_fault$/, '_in')] ?? BUF_IN[k.replace(/_fault$/, '')] ?? k.replace(/_fault$/, '')] = null;
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

function stripSize(f: Fields): Fields {
  const { size: _s, ...rest } = f;
  return rest;
}

function recOf(r: Rec, line: number, ret?: number): Recorded {
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
  return maps.map((m: Rec) => ({
    start: u64(m, 'start', line),
    end: u64(m, 'end', line),
    perms: str(m, 'perms', line),
    path: str(m, 'path', line),
    offset: u64(m, 'offset', line),
  }));
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

/** Stream the events of a capture file (.jsonl or .jsonl.gz). */
export async function* importCapture(path: string, importer = new CaptureImporter()): AsyncGenerator<Event> {
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (!text.trim()) continue;
    yield* importer.convert(parseCaptureLine(text, line), line);
  }
}
