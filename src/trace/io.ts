/**
 * Trace files: format detection, streaming readers and writers, in-memory
 * encode/decode. See binary.ts and jsonl.ts for the two formats.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { EVENT_SCHEMA_VERSION, type Event } from '../events/event.js';
import {
  checkEnd,
  decodeBinary,
  decodeBlock,
  decodeHeader,
  DEFAULT_BLOCK_EVENTS,
  DEFAULT_BLOCK_TARGET_BYTES,
  encodeBlocks,
  encodeEnd,
  encodePreamble,
  FRAME_HEADER_BYTES,
  IORT_MAGIC,
  parseFrameHeader,
  parsePreamble,
  PREAMBLE_BYTES,
  type DecodeContext,
  type FrameInfo,
} from './binary.js';
import { TraceFormatError } from './errors.js';
import { normalizeHeader, type TraceHeader, type TraceHeaderInit } from './header.js';
import { decodeJsonl, eventLine, headerLine, lineText, parseEventLine, parseHeaderLine } from './jsonl.js';
import { resolveLimits, type TraceLimits } from './limits.js';
import { upcast as defaultUpcast, type Upcaster } from './upcast.js';
import { EncodeProblem, prepareEvent } from './validate.js';

/** `iort`: binary (`.iort`); `jsonl`: the readable twin (`.iort.jsonl`, `.jsonl`). */
export type TraceFormat = 'iort' | 'jsonl';

export interface ReadOptions {
  limits?: Partial<TraceLimits>;
  /** Replaces the built-in upcaster for traces whose event_schema is not the current one. */
  upcast?: Upcaster;
  /** Skip detection and read as this format. */
  format?: TraceFormat;
}

export interface WriteOptions {
  /** Default: from the path's extension (`.iort` unless it ends in `.jsonl`). */
  format?: TraceFormat;
  limits?: Partial<TraceLimits>;
  /** Binary: events per block (default 4096). */
  blockEvents?: number;
  /** Binary: close a block once its events' estimated size reaches this (default 4 MiB). */
  blockBytes?: number;
  /** Streams only: end the stream on close (default true, except for process.stdout/stderr). */
  end?: boolean;
}

export interface DecodedTrace {
  format: TraceFormat;
  header: TraceHeader;
  events: Event[];
}

function context(opts?: ReadOptions): DecodeContext {
  return { limits: resolveLimits(opts?.limits), upcast: opts?.upcast ?? defaultUpcast, customUpcast: opts?.upcast !== undefined };
}

function withPath<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof TraceFormatError ? e.withPath(path) : e;
  }
}

// ---------------------------------------------------------------- detection

/** Format of trace bytes by their first bytes, or null if neither. */
export function detectFormat(bytes: Uint8Array): TraceFormat | null {
  if (bytes.length > 0 && bytes[0] === IORT_MAGIC[0]) {
    for (let i = 1; i < Math.min(bytes.length, IORT_MAGIC.length); i++) if (bytes[i] !== IORT_MAGIC[i]) return null;
    return 'iort';
  }
  if (bytes.length > 0 && bytes[0] === 0x7b) return 'jsonl';
  return null;
}

/** Format implied by a file name, or null. */
export function formatFromPath(path: string): TraceFormat | null {
  const p = path.toLowerCase();
  if (p.endsWith('.jsonl')) return 'jsonl';
  if (p.endsWith('.iort')) return 'iort';
  return null;
}

/** Format of a trace file: by its first bytes, else by its extension. */
export async function detectTraceFile(path: string): Promise<TraceFormat> {
  const fh = await open(path, 'r');
  try {
    const b = new Uint8Array(IORT_MAGIC.length);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return pickFormat(path, b.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function pickFormat(path: string, first: Uint8Array): TraceFormat {
  const byMagic = detectFormat(first);
  if (byMagic) return byMagic;
  const byName = formatFromPath(path);
  if (byName) return byName; // the reader reports what is wrong with the content
  throw new TraceFormatError('not an iorewind trace (neither the binary magic nor a JSONL header object)', { path, offset: 0, record: 'header' });
}

// ---------------------------------------------------------------- in memory

/** Encodes a whole trace into memory. */
export function encodeTrace(header: TraceHeaderInit, events: Iterable<Event>, opts: Omit<WriteOptions, 'end'> = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  const w = new Encoder(normalizeHeader(header), opts.format ?? 'iort', opts, (c) => {
    chunks.push(c);
  });
  for (const ev of events) w.add(ev);
  w.finish();
  return Buffer.concat(chunks);
}

/** Decodes a whole trace held in memory (format by magic unless given). */
export function decodeTrace(bytes: Uint8Array, opts?: ReadOptions): DecodedTrace {
  const ctx = context(opts);
  const format = opts?.format ?? detectFormat(bytes.subarray(0, IORT_MAGIC.length));
  if (format === 'iort') return { format, ...decodeBinary(bytes, ctx) };
  if (format === 'jsonl') return { format, ...decodeJsonl(bytes, ctx) };
  throw new TraceFormatError(
    bytes.length === 0 ? 'empty input (no header)' : 'not an iorewind trace (neither the binary magic nor a JSONL header object)',
    { offset: 0, record: 'header' },
  );
}

/** Reads a whole (small) trace file synchronously. */
export function readTraceSync(path: string, opts?: ReadOptions): DecodedTrace {
  const bytes = readFileSync(path);
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return withPath(path, () => decodeTrace(view, { ...opts, format: opts?.format ?? pickFormat(path, view.subarray(0, IORT_MAGIC.length)) }));
}

/** Alias of readTraceSync. */
export const readTraceFile = readTraceSync;

// ---------------------------------------------------------------- streaming read

export interface EventsOptions {
  /** Index of the first event to yield (binary: whole blocks before it are skipped unread). */
  from?: number;
  /** Most events to yield. */
  limit?: number;
}

export interface TraceReader {
  readonly path: string;
  readonly format: TraceFormat;
  readonly header: TraceHeader;
  /** File size in bytes when opened. */
  readonly size: number;
  /** Events in order, decoded incrementally (one block / a bounded chunk at a time). */
  events(opts?: EventsOptions): AsyncIterableIterator<Event>;
  /** The same, a decoded block at a time (binary: a block; JSONL: up to 4096 lines). Faster for bulk work. */
  batches(opts?: EventsOptions): AsyncIterableIterator<Event[]>;
  /** The same batches, each with the bytes it was decoded from where there are such bytes (see EncodedBatch). */
  encodedBatches(opts?: EventsOptions): AsyncIterableIterator<EncodedBatch>;
  /** Ends iterations still running and refuses new ones. Optional: an idle reader holds no file handle. */
  close(): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterableIterator<Event>;
}

/**
 * A batch of events and, for a whole block of a binary trace whose events
 * needed no upcast, a copy of the block's payload: one msgpack array of
 * exactly these events, already checked (msgpack.ts) and decodable on its
 * own. A consumer that keeps the events encoded (the debugger's store) can
 * take these bytes instead of encoding the events again. `encoded` is its
 * own ArrayBuffer, so it can be transferred to a worker. null for JSONL
 * batches and for partial or upcast blocks.
 */
export interface EncodedBatch {
  events: Event[];
  encoded: Uint8Array | null;
}

async function readAt(fh: FileHandle, buf: Uint8Array, pos: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Opens a trace file and reads its header; events are read on demand. No
 * file handle is held between iterations: each events()/batches() iteration
 * opens the file and closes it when it ends (or is broken off), so a reader
 * that is never closed leaks nothing.
 */
export async function openTrace(path: string, opts?: ReadOptions): Promise<TraceReader> {
  const ctx = context(opts);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const first = new Uint8Array(IORT_MAGIC.length);
    const n = await readAt(fh, first, 0);
    const format = opts?.format ?? pickFormat(path, first.subarray(0, n));
    return format === 'iort' ? await BinaryReader.open(path, fh, size, ctx) : await JsonlReader.open(path, fh, size, ctx);
  } catch (e) {
    throw e instanceof TraceFormatError ? e.withPath(path) : e;
  } finally {
    await fh.close();
  }
}

/** Events of a trace file, streamed; the file is closed when iteration ends. Use openTrace for the header. */
export async function* readTrace(path: string, opts?: ReadOptions & EventsOptions): AsyncGenerator<Event> {
  const r = await openTrace(path, opts);
  try {
    yield* r.events(opts);
  } finally {
    await r.close();
  }
}

abstract class ReaderBase implements TraceReader {
  abstract readonly format: TraceFormat;
  private readonly handles = new Set<FileHandle>();
  private closed = false;

  constructor(
    readonly path: string,
    readonly size: number,
    readonly header: TraceHeader,
    protected readonly ctx: DecodeContext,
  ) {}

  /**
   * Decoded batches from event index `from` on, read through `fh` (a file of
   * `size` bytes); with `keep`, whole blocks come with a copy of their bytes.
   */
  abstract batchesRaw(fh: FileHandle, size: number, from: number, keep: boolean): AsyncGenerator<EncodedBatch>;

  async *batches(opts: EventsOptions = {}): AsyncIterableIterator<Event[]> {
    for await (const b of this.read(opts, false)) yield b.events;
  }

  encodedBatches(opts: EventsOptions = {}): AsyncIterableIterator<EncodedBatch> {
    return this.read(opts, true);
  }

  private async *read(opts: EventsOptions, keep: boolean): AsyncIterableIterator<EncodedBatch> {
    if (this.closed) throw new Error('trace reader is closed');
    const from = Math.max(0, opts.from ?? 0);
    let left = opts.limit ?? Infinity;
    if (left <= 0) return;
    const fh = await open(this.path, 'r');
    this.handles.add(fh);
    try {
      const size = (await fh.stat()).size;
      for await (const b of this.batchesRaw(fh, size, from, keep)) {
        if (b.events.length > left) {
          yield { events: b.events.slice(0, left), encoded: null };
          return;
        }
        left -= b.events.length;
        yield b;
        if (left === 0) return;
      }
    } catch (e) {
      throw e instanceof TraceFormatError ? e.withPath(this.path) : e;
    } finally {
      this.handles.delete(fh);
      await fh.close().catch(() => undefined);
    }
  }

  events(opts: EventsOptions = {}): AsyncIterableIterator<Event> {
    return new EventIterator(this.batches(opts));
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this.events();
  }

  /** Ends any iteration still running (its next read fails) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    const hs = [...this.handles];
    this.handles.clear();
    await Promise.all(hs.map((h) => h.close().catch(() => undefined)));
  }
}

/**
 * Event-at-a-time view of a batch iterator. Hand-written rather than an async
 * generator: an event already decoded costs one resolved promise, not a
 * generator resumption.
 */
class EventIterator implements AsyncIterableIterator<Event> {
  private batch: Event[] = [];
  private i = 0;
  private done = false;
  constructor(private readonly src: AsyncIterator<Event[]>) {}

  private filling: Promise<IteratorResult<Event>> | null = null;

  next(): Promise<IteratorResult<Event>> {
    if (this.filling !== null) return this.filling.then(() => this.next()); // a caller that does not await each step
    if (this.i < this.batch.length) return Promise.resolve({ done: false, value: this.batch[this.i++] as Event });
    const p = this.fill();
    this.filling = p;
    const clear = (): void => {
      if (this.filling === p) this.filling = null;
    };
    p.then(clear, clear);
    return p;
  }

  private async fill(): Promise<IteratorResult<Event>> {
    while (!this.done) {
      const r = await this.src.next();
      if (r.done) {
        this.done = true;
        break;
      }
      this.batch = r.value;
      this.i = 0;
      if (this.batch.length > 0) return { done: false, value: this.batch[this.i++] as Event };
    }
    this.batch = [];
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<Event>> {
    this.done = true;
    this.batch = [];
    await this.src.return?.();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }
}

class BinaryReader extends ReaderBase {
  readonly format = 'iort' as const;
  private constructor(
    path: string,
    size: number,
    header: TraceHeader,
    ctx: DecodeContext,
    private readonly firstFrame: number,
  ) {
    super(path, size, header, ctx);
  }

  static async open(path: string, fh: FileHandle, size: number, ctx: DecodeContext): Promise<BinaryReader> {
    const pre = new Uint8Array(PREAMBLE_BYTES);
    const n = await readAt(fh, pre, 0);
    const h = parsePreamble(pre.subarray(0, n), size, ctx.limits);
    const rec = new Uint8Array(h);
    const m = await readAt(fh, rec, PREAMBLE_BYTES);
    if (m < h) throw new TraceFormatError(`truncated file: header record needs ${h} bytes, ${m} present`, { offset: PREAMBLE_BYTES + m, record: 'header' });
    const header = decodeHeader(pre, rec, ctx);
    return new BinaryReader(path, size, header, ctx, PREAMBLE_BYTES + h);
  }

  async *batchesRaw(fh: FileHandle, size: number, from: number, keep: boolean): AsyncGenerator<EncodedBatch> {
    let off = this.firstFrame;
    let next = 0; // index of the next event in the file
    const head = new Uint8Array(FRAME_HEADER_BYTES);
    let buf = new Uint8Array(0);
    for (;;) {
      const hn = await readAt(fh, head, off);
      const f: FrameInfo = parseFrameHeader(head.subarray(0, hn), off, next, this.ctx.limits);
      const start = off + FRAME_HEADER_BYTES;
      if (start + f.length > size) {
        // cut short: say so without allocating for a length the file cannot back
        const have = Math.max(0, size - start);
        throw new TraceFormatError(`truncated file: frame payload needs ${f.length} bytes, ${have} present`, { offset: start + have, record: next });
      }
      if (f.kind === 'block' && next + f.count <= from) {
        // skip without reading (so without checking) the payload
        next += f.count;
        off = start + f.length;
        continue;
      }
      if (buf.length < f.length) buf = new Uint8Array(Math.max(f.length, Math.min(buf.length * 2, this.ctx.limits.maxBlockBytes)));
      const payload = buf.subarray(0, f.length);
      const got = await readAt(fh, payload, start);
      if (f.kind === 'end') {
        checkEnd(f, payload.subarray(0, got), next);
        off = start + f.length;
        const tail = await readAt(fh, head.subarray(0, 1), off);
        if (tail !== 0) throw new TraceFormatError('unexpected bytes after the end frame', { offset: off, record: next });
        return;
      }
      const evs = decodeBlock(f, payload.subarray(0, got), next, this.header.event_schema, this.ctx);
      const skip = from > next ? from - next : 0;
      next += f.count;
      off = start + f.length;
      // The bytes stand for these events only when no upcast rewrote them.
      const whole = keep && skip === 0 && this.header.event_schema === EVENT_SCHEMA_VERSION;
      yield { events: skip > 0 ? evs.slice(skip) : evs, encoded: whole ? payload.slice(0, got) : null };
    }
  }
}

const JSONL_CHUNK = 1 << 20;
const JSONL_BATCH = 4096;

class JsonlReader extends ReaderBase {
  readonly format = 'jsonl' as const;
  private constructor(
    path: string,
    size: number,
    header: TraceHeader,
    ctx: DecodeContext,
    private readonly bodyStart: number,
  ) {
    super(path, size, header, ctx);
  }

  static async open(path: string, fh: FileHandle, size: number, ctx: DecodeContext): Promise<JsonlReader> {
    // line 1, read up to the header cap
    const cap = ctx.limits.maxHeaderBytes;
    const chunk = new Uint8Array(Math.min(cap + 2, Math.max(size, 1)));
    const n = await readAt(fh, chunk, 0);
    let nl = chunk.subarray(0, n).indexOf(0x0a);
    if (nl === -1) {
      if (n === 0) throw new TraceFormatError('empty file (no header line)', { line: 1, record: 'header' });
      if (n > cap) throw new TraceFormatError(`line longer than ${cap} bytes`, { line: 1, record: 'header' });
      // Parse what there is first: a non-trace file is reported as such, not as truncated.
      parseHeaderLine(lineText(chunk.subarray(0, n), 1, 'header'), ctx);
      throw new TraceFormatError('truncated file: header line has no line break', { line: 1, record: 'header' });
    }
    if (nl > cap) throw new TraceFormatError(`line longer than ${cap} bytes`, { line: 1, record: 'header' });
    const header = parseHeaderLine(lineText(chunk.subarray(0, nl), 1, 'header'), ctx);
    return new JsonlReader(path, size, header, ctx, nl + 1);
  }

  async *batchesRaw(fh: FileHandle, _size: number, from: number): AsyncGenerator<EncodedBatch> {
    const cap = this.ctx.limits.maxEventBytes;
    const schema = this.header.event_schema;
    let pos = this.bodyStart;
    let line = 2;
    const chunk = new Uint8Array(JSONL_CHUNK);
    let carry: Uint8Array[] = [];
    let carryLen = 0;
    let batch: Event[] = [];
    const take = (b: Uint8Array): void => {
      const record = line - 2;
      if (record >= from) {
        batch.push(parseEventLine(lineText(b, line, record), line, record, schema, this.ctx));
      }
      line++;
    };
    for (;;) {
      const n = await readAt(fh, chunk, pos);
      if (n === 0) {
        if (carryLen > 0) throw new TraceFormatError('truncated file: last line has no line break', { line, record: line - 2 });
        break;
      }
      pos += n;
      const data = chunk.subarray(0, n);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        if (nl === -1) {
          if (start < n) {
            carryLen += n - start;
            if (carryLen > cap) throw new TraceFormatError(`line longer than ${cap} bytes`, { line, record: line - 2 });
            carry.push(data.slice(start));
          }
          break;
        }
        if (carryLen > 0) {
          if (carryLen + (nl - start) > cap) throw new TraceFormatError(`line longer than ${cap} bytes`, { line, record: line - 2 });
          carry.push(data.subarray(start, nl));
          take(Buffer.concat(carry));
          carry = [];
          carryLen = 0;
        } else {
          if (nl - start > cap) throw new TraceFormatError(`line longer than ${cap} bytes`, { line, record: line - 2 });
          take(data.subarray(start, nl));
        }
        start = nl + 1;
        if (batch.length >= JSONL_BATCH) {
          yield { events: batch, encoded: null };
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield { events: batch, encoded: null };
  }
}

// ---------------------------------------------------------------- writing

type ChunkSink = (chunk: Uint8Array) => void;

/** Format-specific encoding of a stream of events into chunks. */
class Encoder {
  private readonly limits: TraceLimits;
  private readonly blockEvents: number;
  private readonly blockBytes: number;
  private pending: Event[] = [];
  private pendingBytes = 0;
  private lines: string[] = [];
  private linesLen = 0;
  private broken: Error | null = null;
  count = 0;

  constructor(
    readonly header: TraceHeader,
    readonly format: TraceFormat,
    opts: Omit<WriteOptions, 'end'>,
    private readonly sink: ChunkSink,
  ) {
    this.limits = resolveLimits(opts.limits);
    this.blockEvents = Math.max(1, Math.min(opts.blockEvents ?? DEFAULT_BLOCK_EVENTS, this.limits.maxBlockEvents));
    this.blockBytes = Math.max(1, opts.blockBytes ?? DEFAULT_BLOCK_TARGET_BYTES);
    if (format === 'iort') sink(encodePreamble(header, this.limits));
    else {
      const line = headerLine(header);
      if (Buffer.byteLength(line) - 1 > this.limits.maxHeaderBytes)
        throw new TraceFormatError(`header line exceeds the limit of ${this.limits.maxHeaderBytes} bytes`, { line: 1, record: 'header' });
      sink(Buffer.from(line));
    }
  }

  /** Checks and buffers one event; may emit chunks. Throws TraceFormatError (nothing written) for a bad event. */
  add(ev: Event): void {
    if (this.broken) throw this.broken;
    let prepared;
    try {
      prepared = prepareEvent(ev, this.limits);
    } catch (e) {
      if (e instanceof EncodeProblem) throw new TraceFormatError(`cannot write event: ${e.describe()}`, { record: this.count });
      throw e;
    }
    if (this.format === 'iort') {
      this.pending.push(prepared.ev);
      this.pendingBytes += prepared.approxBytes;
      this.count++;
      if (this.pending.length >= this.blockEvents || this.pendingBytes >= this.blockBytes) this.flushBlock();
    } else {
      const line = eventLine(prepared.ev);
      if (line.length - 1 > this.limits.maxEventBytes || Buffer.byteLength(line) - 1 > this.limits.maxEventBytes)
        throw new TraceFormatError(`cannot write event: line exceeds the limit of ${this.limits.maxEventBytes} bytes`, { record: this.count });
      this.lines.push(line);
      this.linesLen += line.length;
      this.count++;
      if (this.linesLen >= 1 << 20) this.flushLines();
    }
  }

  private flushBlock(): void {
    if (this.pending.length === 0) return;
    const evs = this.pending;
    const first = this.count - evs.length;
    this.pending = [];
    this.pendingBytes = 0;
    let frames: Uint8Array[];
    try {
      frames = encodeBlocks(evs, first, this.limits);
    } catch (e) {
      // events of this block are lost: refuse to go on rather than write a trace with a hole
      this.broken = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
    for (const f of frames) this.sink(f);
  }

  private flushLines(): void {
    if (this.lines.length === 0) return;
    this.sink(Buffer.from(this.lines.join('')));
    this.lines = [];
    this.linesLen = 0;
  }

  /** Emits everything buffered (a partial block). */
  flush(): void {
    if (this.format === 'iort') this.flushBlock();
    else this.flushLines();
  }

  /** Flushes and emits the end frame (binary). */
  finish(): void {
    if (this.broken) throw this.broken;
    this.flush();
    if (this.format === 'iort') this.sink(encodeEnd(this.count));
  }
}

export interface TraceWriter {
  readonly format: TraceFormat;
  readonly header: TraceHeader;
  /** Events written so far. */
  readonly count: number;
  /**
   * Appends one event. Throws a TraceFormatError (and writes nothing) for an
   * event that is not a valid trace value. Returns a promise only when a
   * stream target asks to wait (backpressure); awaiting it is optional but
   * bounds memory.
   */
  write(ev: Event): void | Promise<void>;
  /** Writes out buffered events (binary: closes the current block early). */
  flush(): Promise<void>;
  /** Flushes, writes the end frame (binary) and closes the file / ends the stream. */
  close(): Promise<void>;
  /** Closes without flushing or writing the end frame: a binary result reads as truncated. */
  abort(): void;
}

/**
 * Opens a writer on a file path (created/truncated; written synchronously in
 * blocks) or on a Writable stream.
 */
export function openTraceWriter(target: string | Writable, header: TraceHeaderInit, opts: WriteOptions = {}): TraceWriter {
  const format = opts.format ?? (typeof target === 'string' ? (formatFromPath(target) ?? 'iort') : 'iort');
  const h = normalizeHeader(header);
  if (typeof target === 'string') {
    const fd = openSync(target, 'w');
    let closed = false;
    try {
      const enc = new Encoder(h, format, opts, (c) => {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      });
      return {
        format,
        header: h,
        get count() {
          return enc.count;
        },
        write(ev) {
          if (closed) throw new Error('trace writer is closed');
          enc.add(ev);
        },
        async flush() {
          enc.flush();
        },
        async close() {
          if (closed) return;
          closed = true;
          try {
            enc.finish();
          } finally {
            closeSync(fd);
          }
        },
        abort() {
          if (closed) return;
          closed = true;
          closeSync(fd);
        },
      };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }
  const stream = target;
  const isStd = (stream as unknown) === process.stdout || (stream as unknown) === process.stderr;
  const end = opts.end ?? !isStd;
  let needDrain = false;
  let closed = false;
  let failure: Error | null = null;
  stream.on('error', (e: Error) => {
    failure ??= e;
  });
  const enc = new Encoder(h, format, opts, (c) => {
    // msgpackr/encoder output may be a view into a reused buffer: copy before queueing
    if (!stream.write(Buffer.from(c))) needDrain = true;
  });
  const drain = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const done = (): void => {
        stream.off('drain', done);
        stream.off('error', done);
        if (failure) reject(failure);
        else resolve();
      };
      stream.on('drain', done);
      stream.on('error', done);
    });
  return {
    format,
    header: h,
    get count() {
      return enc.count;
    },
    write(ev) {
      if (closed) throw new Error('trace writer is closed');
      if (failure) throw failure;
      enc.add(ev);
      if (needDrain) {
        needDrain = false;
        return drain();
      }
    },
    async flush() {
      enc.flush();
      if (needDrain) {
        needDrain = false;
        await drain();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      enc.finish();
      if (failure) throw failure;
      if (end)
        await new Promise<void>((resolve, reject) => {
          stream.end((e?: Error | null) => (e ? reject(e) : resolve()));
        });
      else if (needDrain) await drain();
    },
    abort() {
      if (closed) return;
      closed = true;
      if (end) stream.end();
    },
  };
}

/** Writes a whole trace; returns the number of events. On error the partial file is left as is (without an end frame, so readers report it truncated). */
export async function writeTrace(
  target: string | Writable,
  header: TraceHeaderInit,
  events: Iterable<Event> | AsyncIterable<Event>,
  opts?: WriteOptions,
): Promise<number> {
  const w = openTraceWriter(target, header, opts);
  let ok = false;
  try {
    if (Symbol.asyncIterator in events) {
      for await (const ev of events as AsyncIterable<Event>) {
        const p = w.write(ev);
        if (p) await p;
      }
    } else {
      for (const ev of events as Iterable<Event>) {
        const p = w.write(ev);
        if (p) await p;
      }
    }
    ok = true;
  } finally {
    if (ok) await w.close();
    else w.abort();
  }
  return w.count;
}
