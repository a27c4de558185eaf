/**
 * `iorewind trace convert|cat|stats`: trace file utilities.
 *
 *   iorewind trace convert <in> <out> [--format iort|jsonl]
 *   iorewind trace cat <file> [--from I] [--limit N] [--header]
 *   iorewind trace stats <file> [--json]
 *
 * Exit status: 0 on success, 2 on bad usage or bad input (with a one-line
 * message, never a stack trace).
 */
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { replaceFile, sameFile } from '../../src/trace/output.js';
import { resolve } from 'node:path';
import type { Event, Value } from '../../src/events/event.js';
import {
  formatEvent,
  formatFromPath,
  formatValue,
  openTrace,
  openTraceWriter,
  TraceFormatError,
  type TraceFormat,
  type TraceReader,
} from '../../src/trace/index.js';
import { jsonValue } from '../../src/trace/jsonl.js';

export const summary = 'convert, print (cat) and summarise (stats) trace files (.iort, .iort.jsonl)';

const USAGE = `usage:
  iorewind trace convert <in> <out> [--format iort|jsonl]
      convert between binary (.iort) and JSONL (.iort.jsonl, .jsonl); output format by extension
  iorewind trace cat <file> [--from I] [--limit N] [--header]
      print events one per line (u64 values in hex)
  iorewind trace stats <file> [--json]
      event count, counts by op and by pid, file size, decode rate`;

/** Where the command writes. `out` may return a promise to ask the caller to wait (backpressure). */
export interface CommandIO {
  out(text: string): void | Promise<void>;
  err(text: string): void;
}

class UsageError extends Error {}

let stdoutBroken = false;
let stdoutWatched = false;

export async function run(argv: string[]): Promise<number> {
  if (!stdoutWatched) {
    // `iorewind trace cat big.iort | head`: stop quietly when the reader goes away.
    stdoutWatched = true;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') stdoutBroken = true;
    });
  }
  return runWith(argv, {
    out(text) {
      if (stdoutBroken) throw new BrokenPipe();
      if (!process.stdout.write(text))
        return once(process.stdout, 'drain').then(
          () => undefined,
          (e: NodeJS.ErrnoException) => {
            throw e.code === 'EPIPE' ? new BrokenPipe() : e;
          },
        );
    },
    err(text) {
      process.stderr.write(text);
    },
  });
}

class BrokenPipe extends Error {}

export async function runWith(argv: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'convert':
        return await convert(rest, io);
      case 'cat':
        return await cat(rest, io);
      case 'stats':
        return await stats(rest, io);
      case 'help':
      case '--help':
      case '-h':
        await io.out(USAGE + '\n');
        return 0;
      case undefined:
        io.err(USAGE + '\n');
        return 2;
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  } catch (e) {
    if (e instanceof BrokenPipe) return 0;
    if (e instanceof UsageError) {
      io.err(`iorewind trace: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    io.err(`iorewind trace: ${describe(e)}\n`);
    return 2;
  }
}

function describe(e: unknown): string {
  if (e instanceof TraceFormatError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && typeof err.syscall === 'string') {
    const what = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.code;
    return err.path ? `${err.path}: ${what}` : err.message;
  }
  return e instanceof Error ? e.message : String(e);
}

interface Parsed {
  pos: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[], valued: string[], bare: string[]): Parsed {
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      if (valued.includes(name)) {
        const v = eq === -1 ? argv[++i] : a.slice(eq + 1);
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else if (bare.includes(name) && eq === -1) flags.set(name, true);
      else throw new UsageError(`unknown option ${a}`);
    } else pos.push(a);
  }
  return { pos, flags };
}

function count(p: Parsed, name: string): number | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new UsageError(`--${name} needs a non-negative integer, got '${String(v)}'`);
  return Number(v);
}

function positionals(p: Parsed, n: number, what: string): string[] {
  if (p.pos.length !== n) throw new UsageError(`expected ${what}`);
  return p.pos;
}

async function convert(argv: string[], io: CommandIO): Promise<number> {
  const p = parseArgs(argv, ['format'], []);
  const [inPath, outPath] = positionals(p, 2, '<in> <out>') as [string, string];
  const f = p.flags.get('format');
  let format: TraceFormat | null;
  if (f !== undefined) {
    if (f !== 'iort' && f !== 'jsonl') throw new UsageError(`--format must be iort or jsonl`);
    format = f;
  } else format = formatFromPath(outPath);
  if (format === null) throw new UsageError(`cannot tell the output format of '${outPath}': use a .iort or .iort.jsonl name, or --format`);
  if (resolve(inPath) === resolve(outPath) || sameFile(inPath, outPath)) throw new UsageError('input and output are the same file');
  const r = await openTrace(inPath);
  try {
    // (a failure leaves no half-written output: output.ts)
    const count = await replaceFile(outPath, async (target) => {
      const w = openTraceWriter(target, r.header, { format });
      try {
        for await (const batch of r.batches()) for (const ev of batch) w.write(ev);
        await w.close();
        return w.count;
      } catch (e) {
        w.abort();
        throw e;
      }
    });
    await io.out(`${inPath} (${r.format}) -> ${outPath} (${format}): ${count} events\n`);
    return 0;
  } finally {
    await r.close();
  }
}

async function cat(argv: string[], io: CommandIO): Promise<number> {
  const p = parseArgs(argv, ['from', 'limit'], ['header']);
  const [path] = positionals(p, 1, '<file>') as [string];
  const from = count(p, 'from') ?? 0;
  const limit = count(p, 'limit');
  const r = await openTrace(path);
  try {
    if (p.flags.has('header')) await io.out(`# ${headerText(r)}\n`);
    let buf = '';
    let i = from;
    for await (const batch of r.batches({ from, ...(limit !== undefined ? { limit } : {}) })) {
      for (const ev of batch) {
        buf += formatEvent(ev, i++) + '\n';
        if (buf.length >= 1 << 16) {
          await io.out(buf);
          buf = '';
        }
      }
    }
    if (buf) await io.out(buf);
    return 0;
  } finally {
    await r.close();
  }
}

function headerText(r: TraceReader): string {
  const h = r.header;
  return `${h.format} v${h.version} kernel ${h.kernel} event_schema ${h.event_schema} meta ${formatValue(h.meta)}`;
}

async function stats(argv: string[], io: CommandIO): Promise<number> {
  const p = parseArgs(argv, [], ['json']);
  const [path] = positionals(p, 1, '<file>') as [string];
  const size = statSync(path).size;
  const t0 = performance.now();
  const r = await openTrace(path);
  const byOp = new Map<string, number>();
  const byPid = new Map<number, number>();
  let events = 0;
  let batches = 0;
  try {
    for await (const batch of r.batches()) {
      batches++;
      events += batch.length;
      for (const ev of batch as Event[]) {
        byOp.set(ev.op, (byOp.get(ev.op) ?? 0) + 1);
        const pid = ev.pid ?? 1;
        byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
      }
    }
  } finally {
    await r.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const rate = seconds > 0 ? Math.round(events / seconds) : 0;
  const ops = [...byOp].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const pids = [...byPid].sort((a, b) => a[0] - b[0]);
  if (p.flags.has('json')) {
    const o = {
      file: path,
      format: r.format,
      size_bytes: size,
      header: { format: r.header.format, version: r.header.version, event_schema: r.header.event_schema, kernel: r.header.kernel, meta: JSON.parse(jsonValue(r.header.meta as Value)) as unknown },
      events,
      ...(r.format === 'iort' ? { blocks: batches } : {}),
      by_op: Object.fromEntries(ops),
      by_pid: Object.fromEntries(pids.map(([k, v]) => [String(k), v])),
      decode_seconds: Math.round(seconds * 1e6) / 1e6,
      events_per_second: rate,
    };
    await io.out(JSON.stringify(o, null, 2) + '\n');
    return 0;
  }
  const w = Math.max(8, ...ops.map(([k]) => k.length));
  const lines = [
    `file      ${path}`,
    `format    ${r.format === 'iort' ? 'iort (binary)' : 'jsonl'}`,
    `size      ${size} bytes`,
    `header    ${headerText(r)}`,
    `events    ${events}${r.format === 'iort' ? ` in ${batches} blocks` : ''}`,
    `decode    ${seconds.toFixed(3)} s (${rate} events/s)`,
    `by op:`,
    ...ops.map(([k, v]) => `  ${k.padEnd(w)} ${v}`),
    `by pid (absent = 1):`,
    ...pids.map(([k, v]) => `  ${String(k).padEnd(w)} ${v}`),
  ];
  await io.out(lines.join('\n') + '\n');
  return 0;
}
