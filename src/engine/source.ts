/**
 * Opening anything replayable: an iorewind trace (.iort or its JSONL twin)
 * or a raw real-kernel capture (.jsonl / .jsonl.gz, imported on the fly).
 */
import { open } from 'node:fs/promises';
import type { Event } from '../events/event.js';
import { CaptureImporter, importCapture, readMaybeGzip } from '../capture/import.js';
import { openTrace, type EncodedBatch } from '../trace/index.js';
import type { KernelVersion } from '../model/state.js';

export interface Source {
  kind: 'trace' | 'capture';
  kernel: KernelVersion;
  events: AsyncIterable<Event>;
  /** The same events a decoded block at a time, when the source has blocks (a trace file): cheaper for bulk work. */
  batches?: AsyncIterable<Event[]>;
  /** The same blocks with their encoded bytes (a binary trace file; see EncodedBatch). */
  encodedBatches?: AsyncIterable<EncodedBatch>;
  meta: { [k: string]: unknown };
}

/** A capture's first line is a JSON record with a `kind` field. */
async function looksLikeCapture(path: string): Promise<boolean> {
  if (path.endsWith('.gz')) {
    const first = await new Promise<string>((resolve, reject) => {
      const s = readMaybeGzip(path, { end: 64 * 1024 });
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        if (buf.includes('\n')) s.destroy();
      });
      s.on('close', () => resolve(buf));
      s.on('end', () => resolve(buf));
      // zlib's own words ("incorrect header check") do not say which file
      s.on('error', (e: NodeJS.ErrnoException) => (buf ? resolve(buf) : reject(e.code?.startsWith('Z_') ? new Error(`${path}: not a gzip file (${e.message})`) : e)));
    });
    return /^\s*\{"seq"|"kind"\s*:/.test(first.split('\n')[0] ?? '');
  }
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    const line = b.subarray(0, bytesRead).toString('utf8').split('\n')[0] ?? '';
    return line.startsWith('{') && /"kind"\s*:/.test(line) && !/"format"\s*:\s*"iorewind-trace"/.test(line);
  } finally {
    await fh.close();
  }
}

export async function openSource(path: string, kernel?: KernelVersion): Promise<Source> {
  if (await looksLikeCapture(path)) {
    const importer = new CaptureImporter(kernel ?? '6.12');
    return { kind: 'capture', kernel: kernel ?? '6.12', events: importCapture(path, importer), meta: { capture: path } };
  }
  const r = await openTrace(path);
  return {
    kind: 'trace',
    kernel: kernel ?? r.header.kernel,
    get events() {
      return r.events();
    },
    get batches() {
      return r.batches();
    },
    get encodedBatches() {
      return r.encodedBatches();
    },
    meta: { ...r.header.meta },
  };
}
