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

/** How much of a file's first line tells a capture from a trace. */
const SNIFF_BYTES = 64 * 1024;

/** A capture's first line is a JSON record with a `kind` field. */
async function looksLikeCapture(path: string): Promise<boolean> {
  if (path.endsWith('.gz')) {
    const first = await new Promise<string>((resolve, reject) => {
      // At most SNIFF_BYTES of the first line, however far the compressed bytes unpack: 64 KiB of
      // gzip can hold 64 MiB without a line break, which a test of the whole text gathered so far
      // at every chunk took 90 seconds to go through.
      const s = readMaybeGzip(path, { end: SNIFF_BYTES });
      const parts: Buffer[] = [];
      let held = 0;
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        resolve(Buffer.concat(parts).toString('utf8'));
      };
      s.on('data', (d: Buffer) => {
        if (settled) return;
        const nl = d.indexOf(0x0a);
        const part = d.subarray(0, Math.min(nl < 0 ? d.length : nl, SNIFF_BYTES - held));
        parts.push(part);
        held += part.length;
        if (nl >= 0 || held >= SNIFF_BYTES) {
          done();
          s.destroy();
        }
      });
      s.on('close', done);
      s.on('end', done);
      // zlib's own words ("incorrect header check") do not say which file
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (held) return done();
        settled = true;
        reject(e.code?.startsWith('Z_') ? new Error(`${path}: not a gzip file (${e.message})`) : e);
      });
    });
    return /^\s*\{"seq"|"kind"\s*:/.test(first);
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
