/**
 * The executor's records -> the kernel's answers, as events.
 *
 * The executor writes one compact binary record per op (docs/oracle.md,
 * "Records": what the kernel decided, nothing the host already knows),
 * between a start and an end record per trace. decodeRecords() puts the
 * host's own input bytes back in and gives each op its capture-format
 * record (src/capture's format, plus `"ev"`: the event's index in its
 * trace), as the executor's earlier JSON records had it; splitRecords()
 * still reads such JSON lines. Ioctl, fault-fd, open, close, memfd and
 * munmap-like records are imported by the capture importer
 * (src/capture/import.ts), exactly as a real program's capture would be;
 * the answer it finds becomes the trace event's `rec`, replacing whatever
 * answer the trace carried. (An ioctl whose struct the kernel returned
 * whole, the common case, takes a shortcut with the same result, see
 * fastIoctlAnswer.) Nothing else of the event changes: the model then
 * replays the trace's own events against the kernel's answers.
 */
import type { Event, Fields, Recorded } from '../events/event.js';
import { CaptureImporter, parseCaptureLine } from '../capture/import.js';
import { decodeStruct, decodeTestCmd, hexToBytes } from '../uapi/codec.js';
import { errnoName } from '../uapi/errno.js';
import { ioctlByCmd } from '../uapi/ioctls.js';
import { ARG, decodeInput, OP, ioctlArg, type DecodedOp } from './encode.js';
import type { KernelVersion } from '../uapi/versions.js';
import { adviceName } from '../model/madvise.js';

export type Rec = { [k: string]: unknown };

export type TraceStatus = 'ok' | 'timeout' | 'crash' | 'missing';

export interface TraceRecords {
  name: string;
  status: TraceStatus;
  /** Signal or exit status (crash), timeout in ms (timeout). */
  detail?: number;
  /** Ops done before the end. */
  done: number;
  /** Records by event index. */
  byEvent: Map<number, Rec[]>;
  /** Ioctls the kernel answered. */
  ioctls: number;
}

/**
 * Splits the executor's output into traces: its binary records (with the
 * input they answer, decodeRecords), or capture-format JSON lines (by the
 * `test` record's name).
 */
export function splitRecords(records: string | Uint8Array, input?: Uint8Array): Map<string, TraceRecords> {
  if (typeof records !== 'string') {
    if (!input) throw new Error('splitRecords: binary records need the executor input they answer');
    return decodeRecords(records, input);
  }
  const text = records;
  const out = new Map<string, TraceRecords>();
  let cur: TraceRecords | undefined;
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    if (!raw.trim()) continue;
    const r = parseCaptureLine(raw, line);
    const kind = r['kind'];
    if (kind === 'test') {
      const name = String(r['test'] ?? '');
      cur = { name, status: 'missing', done: 0, byEvent: new Map(), ioctls: 0 };
      out.set(name, cur);
      continue;
    }
    if (!cur) continue;
    if (kind === 'oracle_end') {
      const s = String(r['status']);
      cur.status = s === 'ok' || s === 'timeout' || s === 'crash' ? s : 'crash';
      cur.done = Number(r['done'] ?? 0);
      if (typeof r['detail'] === 'number') cur.detail = r['detail'];
      cur = undefined;
      continue;
    }
    const ev = r['ev'];
    if (typeof ev !== 'number') continue;
    if (kind === 'ioctl') cur.ioctls++;
    const l = cur.byEvent.get(ev);
    if (l) l.push(r);
    else cur.byEvent.set(ev, [r]);
  }
  return out;
}

const errnoOf = (r: Rec): 0 | string => {
  const e = Number(r['errno'] ?? 0);
  return e ? (errnoName(e) ?? `errno ${e}`) : 0;
};

/** What the executor did not run for an event (its own memory in the way, a dead process), or undefined. */
export function skipped(r: Rec): string | undefined {
  if (r['kind'] === 'oracle_skip') return String(r['why'] ?? 'skipped');
  if (typeof r['oracle_skip'] === 'string') return r['oracle_skip'];
  return undefined;
}

/**
 * The struct after the call, decoded: the bytes the kernel left (the
 * record's `out`, `size` bytes) over the rest of the caller's buffer,
 * which the kernel never touched.
 */
function outFields(ev: Event, r: Rec, kernel: KernelVersion): Fields | undefined {
  if (typeof r['out'] !== 'string') return undefined;
  const bin = binOf.get(r);
  return outFieldsOf(ev, bin ? bin.after : hexToBytes(r['out']), kernel);
}

function outFieldsOf(ev: Event, after: Uint8Array, kernel: KernelVersion): Fields | undefined {
  const arg = ioctlArg(ev, kernel);
  if (!arg.decode) return undefined;
  const full = new Uint8Array(Math.max(arg.bytes.length, after.length));
  full.set(arg.bytes);
  full.set(after);
  const { kind, layout } = arg.decode;
  let f: Fields;
  if (kind === 'test') f = decodeTestCmd(full, kernel).args;
  else f = decodeStruct(layout, full.subarray(0, kind === 'vfio' && ev.op === 'VFIO_IOMMU_GET_INFO' ? layout.size : full.length));
  if (kind !== 'vfio') delete f['size'];
  return dropUnsaid(f, ev.args ?? {});
}

const isFields = (v: unknown): v is Fields => !!v && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v);

/**
 * Byte-array members the event does not mention and the kernel left all
 * zero (a `__u8 __reserved[3]`, an empty flexible array): an event names
 * only the members it sets, and a zero array is what it would encode.
 */
function dropUnsaid(out: Fields, args: Fields): Fields {
  for (const [k, v] of Object.entries(out)) {
    if (isFields(v)) {
      const inner = args[k];
      out[k] = dropUnsaid(v, isFields(inner) ? inner : {});
    } else if ((v instanceof Uint8Array || Array.isArray(v)) && args[k] === undefined && Array.from(v as ArrayLike<unknown>).every((x) => x === 0 || x === 0n)) {
      delete out[k];
    }
  }
  return out;
}

/**
 * The kernel's answer to one event from its record, or undefined when the
 * record holds nothing to compare (bookkeeping ops, skipped ops).
 */
export function kernelAnswer(ev: Event, r: Rec, kernel: KernelVersion = '6.12', line = 1, importer = new CaptureImporter(kernel)): Recorded | undefined {
  if (skipped(r)) return undefined;
  const kind = String(r['kind']);
  switch (kind) {
    case 'ioctl': {
      const fast = fastIoctlAnswer(ev, r, kernel);
      if (fast) return fast;
      const imported = importer.convert(r, line);
      const iev = imported[imported.length - 1]!;
      const rec: Recorded = { ...(iev.rec ?? { errno: errnoOf(r) }) };
      // The trace's struct (its own pointer values, fields beyond a short size) under the kernel's bytes.
      if (typeof r['out'] === 'string' && ev.op !== 'RAW_IOCTL') {
        const out = outFields(ev, r, kernel);
        if (out) rec.out = out;
      } else if (ev.op === 'RAW_IOCTL') {
        delete rec.out;
      }
      if (rec.bufs && !Object.keys(rec.bufs).length) delete rec.bufs;
      return rec;
    }
    case 'read':
    case 'write':
    case 'close':
    case 'open':
    case 'memfd_create':
    case 'munmap':
    case 'mprotect':
    case 'madvise':
    case 'ftruncate':
    case 'fallocate':
    case 'mremap':
    case 'mlock':
    case 'munlock':
    case 'mlockall':
    case 'munlockall': {
      const imported = importer.convert(r, line);
      const iev = imported[imported.length - 1]!;
      return iev.rec ? { ...iev.rec } : { errno: errnoOf(r) };
    }
    case 'mmap':
    case 'memwrite':
    case 'fork':
      return { errno: errnoOf(r) };
    case 'memread': {
      const errno = errnoOf(r);
      return errno ? { errno } : { errno, bufs: { data: hexToBytes(String(r['data'] ?? '')) } };
    }
    default:
      // exit, env (capabilities, rlimits, external fds, maps): the model's bookkeeping.
      return undefined;
  }
}

export interface KernelTrace {
  /** The trace's events, each with the kernel's answer as `rec` (none where nothing was asked). */
  events: Event[];
  /** Events the executor could not run, with why (they keep no answer). */
  skipped: { index: number; op: string; why: string }[];
  /** Of those, the environment events the guest refused (a capability, a limit, a snapshot's mapping): from there on the kernel's process is not the trace's. */
  envFailures: number[];
}

/** The trace's events with the kernel's answers in place of their own. */
export function withKernelAnswers(events: readonly Event[], recs: TraceRecords, kernel: KernelVersion = '6.12'): KernelTrace {
  const out: Event[] = [];
  const skippedList: KernelTrace['skipped'] = [];
  const envFailures: number[] = [];
  // One importer per trace, fed its records in order (as it would read the trace's capture).
  const importer = new CaptureImporter(kernel);
  events.forEach((ev, i) => {
    const { rec: _old, ...bare } = ev;
    const rs = recs.byEvent.get(i);
    const r = rs?.[rs.length - 1];
    const e: Event = { ...bare };
    if (r) {
      const why = skipped(r);
      if (why) skippedList.push({ index: i, op: ev.op, why });
      else if (r['kind'] === 'env' && Number(r['errno'] ?? 0)) {
        // The executor could not put the process into the state the event says
        // (it has no answer to compare): said, because what follows may differ for that reason.
        skippedList.push({ index: i, op: ev.op, why: `${String(r['what'] ?? 'env')} failed in the guest (${errnoOf(r)})` });
        envFailures.push(i);
      } else if (r['kind'] === 'env' && Number(r['failed'] ?? 0)) {
        skippedList.push({ index: i, op: ev.op, why: `the kernel refused ${Number(r['failed'])} of the snapshot's mappings, unmappings or protections in the guest` });
        envFailures.push(i);
      } else {
        const rec = kernelAnswer(ev, r, kernel, i + 1, importer);
        if (rec) e.rec = rec;
        // Where the kernel put a mapping mremap moved (its answer) goes with the event, as a capture's
        // does (capture/import.ts), in place of the generator's stand-in: the model does not choose addresses.
        if (ev.op === 'mremap' && rec?.errno === 0 && typeof r['ret'] === 'string') e.args = { ...ev.args, placed: BigInt(r['ret']) };
      }
    }
    out.push(e);
  });
  return { events: out, skipped: skippedList, envFailures };
}

// --------------------------------------------------------------- binary records (executor.c)

/** Record tags. */
const R = { TRACE: 1, END: 2, SKIP: 3, RESULT: 4, IOCTL: 5 } as const;
/** Ioctl record flags: the struct unreadable, longer than the recorder keeps, an integer argument. */
const F = { IN_FAULT: 1, TRUNC: 2, ARG: 4 } as const;
const B_OUT = 8;
const B_FAULT = 0x40;
const B_TRUNC = 0x80;
/** Buffer ids -> the capture's field stem, and the event buffer the importer files an `_out` under. */
const BUF_STEM = ['', 'allowed_iovas', 'data', 'bitmap', 'entries', 'rw_buf'] as const;
const BUF_EVENT = ['', 'allowed_iovas', 'data_uptr', 'data', 'data_uptr', 'uptr'] as const;
/** executor.c's MAX_STRUCT, MAX_ARRAY and scratch slots (an ioctl's `arg` shows the slot's address, as before). */
const MAX_STRUCT = 4096;
const MAX_ARRAY = 256 * 1024;
const SLOT_BASE = 0x130000000000n;
const SLOT_SIZE = 4 << 20;
const BAD_PTR = SLOT_BASE + BigInt(SLOT_SIZE);
const STATUS: TraceStatus[] = ['ok', 'timeout', 'crash'];

/** What a decoded ioctl record holds beyond its capture-format fields, for fastIoctlAnswer. */
interface BinIoctl {
  cmd: number;
  errno: number;
  before: Uint8Array;
  after: Uint8Array;
  /** Buffers written by the kernel, as the importer names them in `rec.bufs`. */
  outBufs: [string, Uint8Array][];
  /** A readable struct of at most MAX_STRUCT bytes, no buffer cut: what the shortcut covers. */
  fast: boolean;
}
const binOf = new WeakMap<Rec, BinIoctl>();

const INCOMPLETE = Symbol('incomplete record');

class Reader {
  p = 0;
  constructor(readonly b: Uint8Array) {}
  u8(): number {
    if (this.p >= this.b.length) throw INCOMPLETE;
    return this.b[this.p++]!;
  }
  /** LEB128 (values up to 2^53: lengths, indexes, errnos, return values, addresses). */
  v(): number {
    let x = 0;
    let mul = 1;
    for (;;) {
      const c = this.u8();
      x += (c & 0x7f) * mul;
      if (!(c & 0x80)) return x;
      mul *= 128;
      if (mul > 2 ** 63) throw new Error('oracle records: varint too long');
    }
  }
  /** zigzag LEB128 */
  z(): number {
    const u = this.v();
    return u % 2 ? -(u + 1) / 2 : u / 2;
  }
  bytes(n: number): Uint8Array {
    if (this.p + n > this.b.length) throw INCOMPLETE;
    this.p += n;
    return this.b.subarray(this.p - n, this.p);
  }
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const hexAddr = (v: bigint | number): string => `0x${v.toString(16)}`;
/** A u64 as the captures write it: a number when exact, else hex. */
const u64Field = (v: bigint): number | string => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : hexAddr(v));

interface InputTrace {
  name: string;
  ops: DecodedOp[];
  /** ops by event index (built when the trace starts) */
  byEv?: Map<number, DecodedOp[]>;
}

/**
 * Reads the executor's binary records, as one buffer or as chunks while
 * they stream in (push), against the input they answer: every op's record
 * becomes the capture-format record the executor's JSON output had
 * (`kind`, `pid`, `test`, `ev`, `in`/`out` hex, buffers, `ret`, `errno`),
 * and each trace's records are handed over complete, at its end record.
 */
export class RecordDecoder {
  private readonly traces: InputTrace[];
  private pending: Uint8Array = new Uint8Array(0);
  private seq = 0;
  private cur: { tr: TraceRecords; input: InputTrace; seq0: number } | undefined;
  /** Every trace started so far (an unfinished one has status `missing`). */
  readonly all = new Map<string, TraceRecords>();

  constructor(input: Uint8Array) {
    this.traces = decodeInput(Buffer.from(input.buffer, input.byteOffset, input.byteLength)).traces;
  }

  /** Takes the next bytes; returns the traces whose end record they complete. */
  push(chunk: Uint8Array): TraceRecords[] {
    let b = chunk;
    if (this.pending.length) {
      b = new Uint8Array(this.pending.length + chunk.length);
      b.set(this.pending);
      b.set(chunk, this.pending.length);
    }
    const r = new Reader(b);
    const done: TraceRecords[] = [];
    let start = 0;
    try {
      while (r.p < b.length) {
        start = r.p;
        const t = this.record(r);
        if (t) done.push(t);
      }
      start = r.p;
    } catch (e) {
      if (e !== INCOMPLETE) throw e;
    }
    // Keep an unfinished record for the next chunk (a copy: the caller may reuse its buffer).
    this.pending = b.slice(start);
    return done;
  }

  /** Bytes left over: a record cut short (the guest stopped in the middle of one). */
  get leftover(): number {
    return this.pending.length;
  }

  private record(r: Reader): TraceRecords | undefined {
    const tag = r.u8();
    if (tag === R.TRACE) {
      const pos = r.v();
      const input = this.traces[pos];
      if (!input) throw new Error(`oracle records: trace #${pos} is not in the input`);
      if (!input.byEv) {
        input.byEv = new Map();
        for (const o of input.ops) {
          const l = input.byEv.get(o.ev);
          if (l) l.push(o);
          else input.byEv.set(o.ev, [o]);
        }
      }
      const tr: TraceRecords = { name: input.name, status: 'missing', done: 0, byEvent: new Map(), ioctls: 0 };
      this.cur = { tr, input, seq0: this.seq++ };
      this.all.set(input.name, tr);
      return undefined;
    }
    const cur = this.cur;
    if (!cur) throw new Error(`oracle records: a record (tag ${tag}) before any trace started`);
    if (tag === R.END) {
      const status = r.u8();
      const done = r.v();
      const detail = r.z();
      this.seq++;
      cur.tr.status = STATUS[status] ?? 'crash';
      cur.tr.done = done;
      if (status !== 0) cur.tr.detail = detail;
      this.cur = undefined;
      return cur.tr;
    }
    const ev = r.v();
    const op = cur.input.byEv!.get(ev)?.[cur.tr.byEvent.get(ev)?.length ?? 0];
    if (!op) throw new Error(`oracle records: trace ${cur.input.name} has no op for event #${ev}`);
    const seq = this.seq++;
    // (no object spreads below: they cost more than everything else here)
    const rec: Rec = { seq, kind: '', pid: op.pid, test: cur.input.name, tseq: seq - cur.seq0, ev };
    if (tag === R.SKIP) {
      const n = r.v();
      rec['kind'] = 'oracle_skip';
      rec['why'] = Buffer.from(r.bytes(n)).toString('utf8');
    } else if (tag === R.RESULT) {
      const ret = r.z();
      const errno = r.v();
      const data = r.bytes(r.v());
      resultRecord(rec, op, ret, errno, data);
    } else if (tag === R.IOCTL) {
      ioctlRecord(rec, op, r);
      cur.tr.ioctls++;
    } else {
      throw new Error(`oracle records: unknown record tag ${tag}`);
    }
    const l = cur.tr.byEvent.get(ev);
    if (l) l.push(rec);
    else cur.tr.byEvent.set(ev, [rec]);
    return undefined;
  }
}

/** Binary records -> per-trace records, as splitRecords gives them (a trace cut short has status `missing`). */
export function decodeRecords(records: Uint8Array, input: Uint8Array): Map<string, TraceRecords> {
  const d = new RecordDecoder(input);
  d.push(records);
  return d.all;
}

/** Fills in a result record (every op but an ioctl) the way the executor's JSON records had it. */
function resultRecord(rec: Rec, op: DecodedOp, ret: number, errno: number, data: Uint8Array): void {
  const p = op.payload;
  const u32 = (o: number) => p.readUInt32LE(o);
  const u64 = (o: number) => p.readBigUInt64LE(o);
  const set = (fields: Rec) => Object.assign(rec, fields);
  switch (op.kind) {
    case OP.OPEN: {
      const given = u32(0);
      const path = p.subarray(8, 8 + u32(4)).toString('utf8');
      const flags = given !== 0xffffffff ? given : path.startsWith('/tmp/') ? 0o102 : path.startsWith('/dev/') ? 2 : 0;
      set({ kind: 'open', path, flags, ret, errno });
      return;
    }
    case OP.CLOSE:
      set({ kind: 'close', fd: op.fd, ret, errno });
      return;
    case OP.MMAP:
      // (the kind is the low byte of its u32, mmap's other flags above it)
      set({ kind: 'mmap', addr: hexAddr(u64(0)), len: u64Field(u64(8)), prot: u32(20), fd: (u32(16) & 0xff) >= 3 ? op.fd : -1, offset: u64Field(u64(24)), ret: ret < 0 ? null : hexAddr(ret), errno });
      return;
    case OP.MUNMAP:
      set({ kind: 'munmap', addr: hexAddr(u64(0)), len: u64Field(u64(8)), ret, errno });
      return;
    case OP.MPROTECT:
      set({ kind: 'mprotect', addr: hexAddr(u64(0)), len: u64Field(u64(8)), prot: u32(16), ret, errno });
      return;
    case OP.MADVISE:
      set({ kind: 'madvise', addr: hexAddr(u64(0)), len: u64Field(u64(8)), advice: u32(16), advice_name: adviceName(u32(16)) ?? 'OTHER', ret, errno });
      return;
    case OP.MLOCK:
      set({ kind: 'mlock', addr: hexAddr(u64(0)), len: u64Field(u64(8)), flags: u32(16), ret, errno });
      return;
    case OP.MUNLOCK:
      set({ kind: 'munlock', addr: hexAddr(u64(0)), len: u64Field(u64(8)), ret, errno });
      return;
    case OP.MLOCKALL:
      set({ kind: 'mlockall', flags: u32(0), ret, errno });
      return;
    case OP.MUNLOCKALL:
      set({ kind: 'munlockall', ret, errno });
      return;
    case OP.MEMWRITE:
      set({ kind: 'memwrite', addr: hexAddr(u64(0)), len: u32(8), ret, errno });
      return;
    case OP.MEMREAD:
      set({ kind: 'memread', addr: hexAddr(u64(0)), len: Math.min(u32(8), MAX_ARRAY), ret, errno });
      if (ret >= 0) rec['data'] = hexOf(data);
      return;
    case OP.MEMFD:
      set({ kind: 'memfd_create', name: p.subarray(4, 4 + u32(0)).toString('utf8'), flags: 0, flag_names: [], ret, errno });
      return;
    case OP.FTRUNCATE:
      set({ kind: 'ftruncate', fd: op.fd, len: u64Field(u64(0)), ret, errno });
      return;
    case OP.MREMAP:
      set({ kind: 'mremap', old_addr: hexAddr(u64(0)), old_len: u64Field(u64(8)), new_len: u64Field(u64(16)), flags: u32(24), new_addr: hexAddr(u64(28)), ret: ret < 0 ? null : hexAddr(ret), errno });
      return;
    case OP.FALLOCATE:
      set({ kind: 'fallocate', fd: op.fd, mode: u32(0), offset: u64Field(u64(4)), len: u64Field(u64(12)), ret, errno });
      return;
    case OP.READFD:
      set({ kind: 'read', fd: op.fd, len: Math.min(u32(0), MAX_ARRAY), ret, errno });
      if (ret > 0) rec['data'] = hexOf(data);
      return;
    case OP.WRITEFD: {
      const count = u32(0);
      set({ kind: 'write', fd: op.fd, len: count, ret, errno });
      if (!u32(12)) rec['data'] = hexOf(p.subarray(20, 20 + Math.min(u32(16), count)));
      return;
    }
    case OP.FORK:
      set({ kind: 'fork', parent: op.pid, child: ret < 0 ? -1 : u32(0), ret, errno });
      return;
    case OP.EXIT:
      set({ kind: 'exit', fn: '_exit', status: 0 });
      return;
    case OP.MAPS: {
      // (the executor's counts: regions, gaps unmapped, pages skipped as its own, mappings the kernel refused)
      const failed = data.length >= 16 ? new DataView(data.buffer, data.byteOffset, data.length).getUint32(12, true) : 0;
      set({ kind: 'env', what: 'maps', ret, errno, ...(failed ? { failed } : {}) });
      return;
    }
    default: {
      const what = op.kind === OP.CAPDROP ? 'capdrop' : op.kind === OP.RLIMIT ? 'rlimit_memlock' : op.kind === OP.EXTFDS ? 'external_fds' : 'note';
      set({ kind: 'env', what, ret, errno });
    }
  }
}

/** Fills in an ioctl record: the struct before (the host's bytes) and after (the kernel's changed runs), buffers, ret, errno. */
function ioctlRecord(rec: Rec, op: DecodedOp, r: Reader): void {
  const p = op.payload;
  const req = p.readUInt32LE(0);
  const mode = p.readUInt32LE(4);
  const blen = Math.min(p.readUInt32LE(16), SLOT_SIZE);
  const bytes = p.subarray(24, 24 + blen);
  const ret = r.z();
  const errno = r.v();
  const flags = r.u8();
  rec['kind'] = 'ioctl';
  rec['fd'] = op.fd;
  rec['cmd'] = hexAddr(req);
  rec['nr'] = hexAddr(req & 0xff);
  let before: Uint8Array | undefined;
  let after: Uint8Array | undefined;
  if (flags & F.ARG) {
    rec['arg'] = mode === ARG.INT ? u64Field(p.readBigUInt64LE(8)) : mode === ARG.BAD ? u64Field(BAD_PTR) : u64Field(SLOT_BASE + BigInt(SLOT_SIZE - ((blen + 7) & ~7)));
  } else if (flags & F.IN_FAULT) {
    rec['in'] = null;
    rec['fault'] = 1;
  } else {
    const size = blen >= 4 ? bytes.readUInt32LE(0) : 0;
    const nb = Math.min(size, MAX_STRUCT, blen);
    before = bytes.subarray(0, nb);
    rec['in'] = hexOf(before);
    if (flags & F.TRUNC) rec['trunc'] = size;
    after = before;
    let at = 0;
    for (let n = r.v(); n > 0; n--) {
      at += r.v();
      const run = r.bytes(r.v());
      if (at + run.length > nb) throw new Error(`oracle records: a changed-bytes run past the struct (event #${rec['ev']})`);
      if (after === before) after = before.slice();
      after.set(run, at);
      at += run.length;
    }
  }
  let outBufs: [string, Uint8Array][] | undefined;
  let post: Rec | undefined;
  let cut = false;
  for (let id = r.u8(); id; id = r.u8()) {
    const stem = BUF_STEM[id & 7];
    if (!stem) throw new Error(`oracle records: unknown buffer id ${id}`);
    const len = r.v();
    const isOut = (id & B_OUT) !== 0;
    const name = `${stem}${isOut ? '_out' : '_in'}`;
    const into = isOut ? (post ??= {}) : rec;
    if (id & B_FAULT) {
      into[name] = null;
      into[`${name}_fault`] = 1;
    } else {
      // Bytes read before the call are the host's own: only a cut one is said (it makes the record undecodable).
      const data = isOut ? r.bytes(Math.min(len, MAX_ARRAY)) : new Uint8Array(0);
      into[name] = hexOf(data);
      if (isOut) (outBufs ??= []).push([BUF_EVENT[id & 7]!, data.slice()]);
    }
    if (id & B_TRUNC) {
      into[`${name}_trunc`] = len;
      cut = true;
    }
  }
  if (after) rec['out'] = after === before ? rec['in'] : hexOf(after);
  rec['ret'] = ret;
  rec['errno'] = errno;
  if (post) Object.assign(rec, post);
  if (before && after) binOf.set(rec, { cmd: req, errno, before, after, outBufs: outBufs ?? [], fast: flags === 0 && !cut });
}

/**
 * The answer kernelAnswer would import for an ioctl record the executor
 * wrote in binary, computed without the capture importer where the
 * importer's answer is just errno, the struct after the call and the
 * buffers the kernel wrote (a known iommufd ioctl, its struct readable and
 * whole, no buffer cut); undefined otherwise. Covered by results.test.ts
 * against the importer's answer.
 */
function fastIoctlAnswer(ev: Event, r: Rec, kernel: KernelVersion): Recorded | undefined {
  const b = binOf.get(r);
  if (!b || !b.fast || ev.op === 'RAW_IOCTL') return undefined;
  const def = ioctlByCmd(b.cmd, kernel) ?? ioctlByCmd(b.cmd, '6.14');
  if (!def?.struct || def.convention === 'argsz') return undefined;
  let lead = 0;
  for (let i = Math.min(4, b.before.length) - 1; i >= 0; i--) lead = lead * 256 + b.before[i]!;
  if (lead !== b.before.length) return undefined;
  const errno = b.errno ? errnoName(b.errno) : 0;
  if (errno === undefined) return undefined;
  let out: Fields | undefined;
  try {
    out = outFieldsOf(ev, b.after, kernel);
  } catch {
    return undefined;
  }
  if (!out) return undefined;
  const rec: Recorded = { errno, out };
  if (b.outBufs.length) {
    const bufs: { [k: string]: Uint8Array } = {};
    for (const [k, v] of b.outBufs) bufs[k] = v;
    rec.bufs = bufs;
  }
  return rec;
}

