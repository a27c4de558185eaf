/**
 * The event store's encoder thread (store.ts): receives the bytes of trace
 * blocks in order, decodes them and cuts their events into the store's
 * chunks, carrying a partial chunk from one block to the next, so the chunks
 * are the very bytes the store would have encoded itself.
 */
import { parentPort } from 'node:worker_threads';
import type { Event } from '../events/event.js';
import { unpackChecked } from '../trace/msgpack.js';
import { CHUNK, encodeChunk, type EncoderReply, type EncoderRequest } from './store.js';

const port = parentPort!;
let pending: Event[] = [];

function send(type: 'chunks' | 'flushed', chunks: Uint8Array[], counts: number[]): void {
  port.postMessage({ type, chunks, counts } satisfies EncoderReply, chunks.map((c) => c.buffer as ArrayBuffer));
}

port.on('message', (m: EncoderRequest) => {
  try {
    const chunks: Uint8Array[] = [];
    const counts: number[] = [];
    if (m.type === 'block') {
      // The store's own copy of bytes the trace reader has checked (msgpack.ts scanBlock): no second scan.
      const evs = unpackChecked(m.bytes, 0, 0) as Event[];
      if (!Array.isArray(evs) || evs.length !== m.count) throw new Error(`a block of ${m.count} events decoded to ${Array.isArray(evs) ? evs.length : 'no array'}`);
      for (const ev of evs) {
        pending.push(ev);
        if (pending.length === CHUNK) {
          chunks.push(encodeChunk(pending));
          counts.push(CHUNK);
          pending = [];
        }
      }
      send('chunks', chunks, counts);
    } else {
      if (pending.length) {
        chunks.push(encodeChunk(pending));
        counts.push(pending.length);
        pending = [];
      }
      send('flushed', chunks, counts);
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies EncoderReply);
  }
});
