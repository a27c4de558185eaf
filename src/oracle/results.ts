/**
 * The executor's records -> the kernel's answers, as events.
 *
 * The executor writes one capture-format record per op (src/capture's
 * format, plus `"ev"`: the event's index in its trace), between a `test`
 * record and an `oracle_end` record per trace. Ioctl, fault-fd, open, close,
 * memfd and munmap-like records are imported by the capture importer
 * (src/capture/import.ts), exactly as a real program's capture would be;
 * the answer it finds becomes the trace event's `rec`, replacing whatever
 * answer the trace carried. Nothing else of the event changes: the model
 * then replays the trace's own events against the kernel's answers.
 */
import type { Event, Fields, Recorded } from '../events/event.js';
import { CaptureImporter, parseCaptureLine } from '../capture/import.js';
import { decodeStruct, decodeTestCmd, hexToBytes } from '../uapi/codec.js';
import { errnoName } from '../uapi/errno.js';
import { ioctlArg } from './encode.js';
import type { KernelVersion } from '../uapi/versions.js';

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

/** Splits the executor's output into traces (by the `test` record's name). */
export function splitRecords(text: string): Map<string, TraceRecords> {
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
  const arg = ioctlArg(ev, kernel);
  if (!arg.decode) return undefined;
  const after = hexToBytes(r['out']);
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
    case 'ftruncate': {
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
}

/** The trace's events with the kernel's answers in place of their own. */
export function withKernelAnswers(events: readonly Event[], recs: TraceRecords, kernel: KernelVersion = '6.12'): KernelTrace {
  const out: Event[] = [];
  const skippedList: KernelTrace['skipped'] = [];
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
      else {
        const rec = kernelAnswer(ev, r, kernel, i + 1, importer);
        if (rec) e.rec = rec;
      }
    }
    out.push(e);
  });
  return { events: out, skipped: skippedList };
}
