/**
 * Compact in-memory storage of a trace's events for the debugger: events
 * are msgpack-encoded in chunks of CHUNK events (one record-structure table
 * per chunk, like a trace block), deflated (fastest level), and decoded on
 * demand, with a small cache of decoded chunks. A 1M-event VM trace takes
 * ~1/15 of the memory of the same events as objects, and decoding a chunk
 * costs well under a millisecond.
 *
 * Encoding costs about 1.8 µs an event, a tenth of the index build. When the
 * events come from a binary trace file, the blocks' own bytes already encode
 * them: those go to a worker thread (store_worker.ts) that cuts them into the
 * same chunks on the other core, while the decoded events wait here until
 * their chunks are back. Without a worker (none can be started, the events
 * come one by one, or the trace's first block) the chunks are encoded here.
 * Either way the chunks are the same bytes.
 */
import { Packr } from 'msgpackr';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Event } from '../events/event.js';
import { packValue } from '../trace/msgpack.js';

export const CHUNK = 256;

/** Blocks handed to the worker and not yet fully back before `settle` waits: bounds the decoded events held for it. */
const MAX_INFLIGHT = 4;

const packr = new Packr({
  useRecords: true,
  maxSharedStructures: 0,
  sequential: false,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  useFloat32: 0,
  mapsAsObjects: true,
  copyBuffers: true,
  int64AsType: 'bigint',
  largeBigIntToFloat: false,
  useBigIntExtension: false,
});

/** One chunk's bytes, in its own ArrayBuffer (zlib's result is a view into a larger buffer; a worker transfers it). */
export function encodeChunk(evs: readonly Event[]): Uint8Array {
  return new Uint8Array(deflateRawSync(packr.pack(evs), { level: constants.Z_BEST_SPEED }));
}

function decodeChunk(bytes: Uint8Array): Event[] {
  // msgpackr copies bins with the source's own slice(): from a Buffer they would come back as
  // Buffers, so it reads a plain Uint8Array view and the events' buffers are Uint8Arrays again.
  const raw = inflateRawSync(bytes);
  return packr.unpack(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)) as Event[];
}

/** What the worker sends back. */
export type EncoderReply =
  | { type: 'chunks'; chunks: Uint8Array[]; counts: number[] }
  | { type: 'flushed'; chunks: Uint8Array[]; counts: number[] }
  | { type: 'error'; message: string };
/** What it is sent: a block's bytes (the msgpack array of its events), or the end of the input. */
export type EncoderRequest = { type: 'block'; bytes: Uint8Array; count: number } | { type: 'flush' };

const WORKER_URL = new URL('./store_worker.js', import.meta.url);
/** Run from the TypeScript sources (vitest) there is no compiled worker next to this file. */
const workerAvailable = (): boolean => existsSync(fileURLToPath(WORKER_URL));

export class EventStore {
  private readonly chunks: Uint8Array[] = [];
  /** First event of each chunk (ascending; chunk c holds events [chunkFirst[c], chunkFirst[c + 1])). */
  private readonly chunkFirst: number[] = [];
  /** Events in chunks. */
  private encoded = 0;
  /** Events encoded here, not yet a whole chunk: events [encoded, encoded + pending.length). */
  private pending: Event[] = [];
  /** Blocks with the worker, oldest first; dropped once their events are all in chunks. */
  private inflight: { first: number; events: readonly Event[] }[] = [];
  private count = 0;
  // The decoded chunks, a few, in a ring of arrays. A seek replays ~5 chunks once each and a step
  // stays within one or two, so few are needed; and more, or a Map, get the decoded events promoted
  // to V8's old generation, where only a full collection frees them: a chunk kept for 24 decodes
  // outlives two young collections of a run of seeks, and even a 2-entry Map promoted as much
  // (measured; probably its replaced hash tables, from the old generation, keeping their entries
  // alive). Either way ~200 KB a seek on the VM trace, and one seek in ~450 met a full
  // collection's 100-200 ms pause (docs/performance.md).
  private readonly ringChunk: Int32Array;
  private readonly ringEvents: (Event[] | null)[];
  private ringNext = 0;
  private bytes = 0;
  private readonly useWorker: boolean;
  private worker: Worker | null = null;
  private failure: Error | null = null;
  private waiting: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private flushed = false;

  constructor(opts: { cacheChunks?: number; worker?: boolean } = {}) {
    const n = opts.cacheChunks ?? 4;
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`EventStore: cacheChunks must be an integer >= 1, got ${n}`);
    this.ringChunk = new Int32Array(n).fill(-1);
    this.ringEvents = new Array<Event[] | null>(n).fill(null);
    this.useWorker = opts.worker ?? true;
  }

  get length(): number {
    return this.count;
  }

  /** Encoded bytes held (pending events not counted). */
  get encodedBytes(): number {
    return this.bytes;
  }

  /** Appends one event (encoded here). */
  push(ev: Event): void {
    if (this.failure) throw this.failure;
    if (this.worker) throw new Error('EventStore.push while blocks are with the worker: call finish() first');
    this.pending.push(ev);
    this.count++;
    if (this.pending.length === CHUNK) this.encodePending();
  }

  /**
   * Appends a block's events with the bytes they were decoded from (one
   * msgpack array of exactly these events). Bytes that fill their own
   * ArrayBuffer are transferred away (EncodedBatch's are); a view into a
   * larger buffer is copied first. Call `settle` before each block.
   */
  pushEncoded(events: readonly Event[], bytes: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (events.length === 0) return;
    // (a transferred-away buffer reads as empty, and postMessage would drop the message without a word)
    if (bytes.byteLength === 0) throw new Error('EventStore.pushEncoded: no bytes for a block of events (a buffer already transferred?)');
    // The first block is encoded here: starting a worker costs about 100 ms, more than a
    // trace of one block (a few thousand events) takes to encode.
    if (!this.worker) {
      if (this.count === 0 || !this.startWorker()) {
        for (const ev of events) this.push(ev);
        return;
      }
      // Events still short of a chunk here go to the worker first, so that it cuts the
      // chunks where this store would have (at multiples of CHUNK from where it began).
      if (this.pending.length) {
        const lead = this.pending;
        this.pending = [];
        this.send(this.encoded, lead, Uint8Array.prototype.slice.call(packValue(lead))); // (packValue's bytes are msgpackr's own buffer)
      }
    }
    this.send(this.count, events, bytes);
    this.count += events.length;
  }

  /** Hands events [first, first + events.length) to the worker. */
  private send(first: number, events: readonly Event[], bytes: Uint8Array): void {
    this.inflight.push({ first, events });
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
    this.worker!.postMessage({ type: 'block', bytes: own, count: events.length } satisfies EncoderRequest, [own.buffer as ArrayBuffer]);
  }

  /** Waits while more than a few blocks are with the worker (so a slow worker cannot make the events pile up here). */
  async settle(): Promise<void> {
    while (this.worker && this.inflight.length > MAX_INFLIGHT) await this.reply();
    if (this.failure) throw this.failure;
  }

  /**
   * Encodes everything still pending and stops the worker (called when the
   * input ends). Throws if the worker failed; the events it did not encode
   * are still held (as objects), but the store takes no more.
   */
  async finish(): Promise<void> {
    if (this.worker) {
      this.flushed = false;
      this.worker.postMessage({ type: 'flush' } satisfies EncoderRequest);
      try {
        while (!this.flushed) await this.reply();
      } finally {
        void this.worker?.terminate();
        this.worker = null;
      }
    }
    if (this.failure) throw this.failure;
    this.encodePending();
  }

  private startWorker(): boolean {
    if (!this.useWorker || !workerAvailable()) return false;
    const w = new Worker(WORKER_URL);
    w.on('message', (m: EncoderReply) => {
      if (m.type === 'error') return this.fail(new Error(`event store worker: ${m.message}`));
      this.add(m.chunks, m.counts);
      if (m.type === 'flushed') {
        if (this.encoded !== this.count) return this.fail(new Error(`event store worker: ${this.count - this.encoded} events were not encoded`));
        this.flushed = true;
      }
      this.wake();
    });
    w.on('error', (e) => this.fail(e));
    w.on('exit', (code) => {
      if (this.worker === w) this.fail(new Error(`event store worker exited (code ${code})`));
    });
    this.worker = w;
    return true;
  }

  private reply(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.resolve();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    void this.worker?.terminate();
    this.worker = null;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.failure);
  }

  private add(chunks: readonly Uint8Array[], counts: readonly number[]): void {
    for (let k = 0; k < chunks.length; k++) {
      this.chunks.push(chunks[k]!);
      this.chunkFirst.push(this.encoded);
      this.encoded += counts[k]!;
      this.bytes += chunks[k]!.length;
    }
    while (this.inflight.length && this.inflight[0]!.first + this.inflight[0]!.events.length <= this.encoded) this.inflight.shift();
  }

  private encodePending(): void {
    if (this.pending.length === 0) return;
    const evs = this.pending;
    this.pending = [];
    this.add([encodeChunk(evs)], [evs.length]);
  }

  /** The chunk holding event `i` (i < this.encoded). */
  private chunkOf(i: number): number {
    const f = this.chunkFirst;
    // chunks are CHUNK events long except where an input ended: start from that guess
    let c = Math.min(Math.floor(i / CHUNK), f.length - 1);
    if (f[c]! <= i && (c + 1 === f.length || f[c + 1]! > i)) return c;
    let lo = 0;
    let hi = f.length - 1;
    while (lo < hi) {
      c = (lo + hi + 1) >> 1;
      if (f[c]! <= i) lo = c;
      else hi = c - 1;
    }
    return lo;
  }

  private chunk(c: number): Event[] {
    const at = this.ringChunk.indexOf(c);
    if (at >= 0) return this.ringEvents[at]!;
    const evs = decodeChunk(this.chunks[c]!);
    const k = this.ringNext;
    this.ringNext = (k + 1) % this.ringChunk.length;
    this.ringChunk[k] = c;
    this.ringEvents[k] = evs;
    return evs;
  }

  get(i: number): Event {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`event #${i} outside 0..${this.count - 1}`);
    if (i < this.encoded) {
      const c = this.chunkOf(i);
      return this.chunk(c)[i - this.chunkFirst[c]!]!;
    }
    for (const b of this.inflight) if (i < b.first + b.events.length) return b.events[i - b.first]!;
    return this.pending[i - this.encoded]!;
  }

  /** Events [from, to) in order. */
  *range(from: number, to: number): Generator<Event> {
    for (let i = Math.max(0, from); i < Math.min(to, this.count); i++) yield this.get(i);
  }
}
