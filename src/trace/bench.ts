/**
 * Trace codec speed: encode and decode rates of both formats over N small
 * events (default 1M), through the real file writer and streaming reader.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event } from '../events/event.js';
import { makeHeader } from './header.js';
import { openTrace, openTraceWriter, type TraceFormat } from './io.js';

/** A small, varied event; `i` spreads values so nothing is trivially repeated. */
export function sampleEvent(i: number): Event {
  const iova = BigInt(i) << 12n;
  switch (i % 4) {
    case 0:
      return {
        op: 'IOMMU_IOAS_MAP',
        pid: 1,
        fd: 3,
        args: { flags: 7, ioas_id: 2, user_va: 0x7f00_0000_0000n + iova, length: 0x1000n, iova },
        rec: { errno: 0, out: { iova } },
      };
    case 1:
      return { op: 'IOMMU_IOAS_ALLOC', args: { flags: 0 }, rec: { errno: 0, out: { out_ioas_id: i & 0xffff } } };
    case 2:
      return { op: 'mmap', pid: 2, args: { addr: 0x7f00_0000_0000n + iova, length: 0x20_0000n, prot: 3 } };
    default:
      return { op: 'IOMMU_IOAS_UNMAP', fd: 3, args: { ioas_id: 2, iova, length: 0x1000n }, rec: { errno: 'ENOENT' } };
  }
}

export interface BenchOptions {
  /** Events per run (default 1,000,000). */
  events?: number;
  /** Scratch directory (default: a fresh one under os.tmpdir(), removed afterwards). */
  dir?: string;
}

/**
 * Returns rates in events/s (`<format>.encode_ev_per_s`, `<format>.decode_ev_per_s`)
 * and sizes (`<format>.bytes_per_event`).
 */
export async function benchTrace(opts: BenchOptions = {}): Promise<Record<string, number>> {
  const n = opts.events ?? 1_000_000;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'iorewind-trace-bench-'));
  const pool = Array.from({ length: 4096 }, (_, i) => sampleEvent(i));
  const out: Record<string, number> = {};
  try {
    for (const format of ['iort', 'jsonl'] as TraceFormat[]) {
      const path = join(dir, format === 'iort' ? 'bench.iort' : 'bench.iort.jsonl');
      let t = performance.now();
      const w = openTraceWriter(path, makeHeader('6.12'), { format });
      for (let i = 0; i < n; i++) w.write(pool[i & 4095] as Event);
      await w.close();
      const enc = (performance.now() - t) / 1000;
      const size = statSync(path).size;
      t = performance.now();
      const r = await openTrace(path);
      let count = 0;
      let sink = 0;
      for await (const batch of r.batches()) {
        count += batch.length;
        sink += (batch[batch.length - 1] as Event).op.length;
      }
      await r.close();
      const dec = (performance.now() - t) / 1000;
      if (count !== n || sink === 0) throw new Error(`bench: read ${count} of ${n} events`);
      out[`${format}.encode_ev_per_s`] = Math.round(n / enc);
      out[`${format}.decode_ev_per_s`] = Math.round(n / dec);
      out[`${format}.bytes_per_event`] = Math.round((size / n) * 10) / 10;
    }
  } finally {
    if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
