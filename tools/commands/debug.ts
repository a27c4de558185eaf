/**
 * `iorewind debug [trace|capture] [--port P] [--repl] [--kernel 6.12|6.14] [--memory MiB]`:
 * the time-travel debugger. Default: a web UI on http://127.0.0.1:P/ (the
 * trace is indexed in the background; the part indexed so far is usable at
 * once). `--repl`: text commands from the terminal or from stdin.
 */
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import { openSource } from '../../src/engine/source.js';
import { kernelOption, parseOptions } from './options.js';
import { DebugIndex } from '../../src/debug/history.js';
import { Session } from '../../src/debug/session.js';
import { runRepl } from '../../src/debug/repl.js';

export const summary = 'time-travel debugger: web UI (default) or --repl, over a trace or capture';

const SAMPLE_TRACE = join(fileURLToPath(new URL('.', import.meta.url)), '../../../traces/selftest-mock-domain.iort');

const USAGE = `usage: iorewind debug [trace|capture] [--port P] [--repl] [--kernel 6.12|6.14] [--memory MiB]
  (no trace: the bundled sample ${SAMPLE_TRACE})
  --port P        web UI port on 127.0.0.1 (default 7300; 0 = any free port)
  --repl          text commands from the terminal / stdin instead of the web UI ('help' lists them)
  --memory MiB    memory the index may hold (default: half of Node's heap limit, at most 2048):
                  past it checkpoints are thinned, so seeks on a long trace whose state is large
                  (hundreds of thousands of mappings) replay further instead`;

/** What the memory budget cost, when it was reached: seeks replay up to the wider spacing. */
const thinned = (ix: DebugIndex): string =>
  ix.thinnings ? `, thinned ${ix.thinnings} times to keep within --memory ${Math.round(ix.memoryBudget / 1048576)} MiB: a first seek into a stretch replays up to ${ix.checkpointSpacing} times further (and keeps states on its way for the next ones)` : '';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('debug', argv, { port: { type: 'string' }, repl: { type: 'boolean' }, kernel: { type: 'string' }, memory: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values['help']) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`debug: one trace at a time, got ${positionals.length}\n${USAGE}`);
  const kernel = kernelOption('debug', values['kernel']);
  const portArg = values['port'] as string | undefined;
  const port = portArg === undefined ? 7300 : Number(portArg);
  if (portArg === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`iorewind debug: bad --port '${portArg}'`);
    return 2;
  }
  const memArg = values['memory'] as string | undefined;
  const memoryMb = memArg === undefined ? undefined : Number(memArg);
  if (memoryMb !== undefined && (memArg === '' || !Number.isFinite(memoryMb) || memoryMb < 64 || memoryMb > 1 << 20)) {
    console.error(`iorewind debug: bad --memory '${memArg}' (MiB, 64 or more)`);
    return 2;
  }
  const limitMb = Math.floor(getHeapStatistics().heap_size_limit / 1048576);
  if (memoryMb !== undefined && memoryMb > limitMb * 0.75) {
    // V8 would run out of heap before the budget is reached: the process dies instead of thinning
    console.error(`iorewind debug: --memory ${memoryMb} is more than 3/4 of Node's heap limit (${limitMb} MiB): raise the limit too, e.g. NODE_OPTIONS=--max-old-space-size=${Math.ceil((memoryMb * 1.5) / 1024) * 1024}`);
    return 2;
  }
  const path = positionals[0] ?? SAMPLE_TRACE;
  const src = await openSource(path, kernel);
  const ix = new DebugIndex({ kernel: src.kernel, memoryMb });
  const session = new Session(ix);

  if (values['repl']) {
    const tty = Boolean(process.stderr.isTTY);
    let stopped: unknown = null;
    try {
      await ix.ingestSource(src, tty ? (n) => process.stderr.write(`\rindexing: ${n} events`) : undefined);
    } catch (e) {
      // A trace cut short (a capture of a crashed run, a file still being written) is still worth
      // debugging up to the bad record, as the web UI does: say where indexing stopped and go on.
      stopped = e;
    }
    if (tty) process.stderr.write('\r');
    if (stopped !== null) {
      const why = stopped instanceof Error ? stopped.message : String(stopped);
      if (ix.length === 0) throw stopped;
      console.error(`iorewind debug: indexing stopped at event ${ix.length}: ${why}`);
    }
    if (ix.length === 0) {
      console.error('iorewind debug: the trace has no events');
      return 1;
    }
    if (!process.stdin.isTTY) console.log(`${path}: ${ix.length} events (Linux ${ix.kernel} profile)`);
    if (ix.thinnings) console.error(`iorewind debug: ${ix.checkpoints} checkpoints${thinned(ix)}`);
    const failures = await runRepl(session, process.stdin, process.stdout);
    return failures ? 1 : 0;
  }

  const { ensureUi } = await import('../../src/debug/ui_build.js');
  const { startServer } = await import('../../src/debug/server.js');
  const uiDir = await ensureUi({ log: (s) => console.error(s) });
  const srv = await startServer({ session, uiDir, file: path, port }).catch((e: NodeJS.ErrnoException) => {
    // a second debugger on the default port is the usual cause: say what to do
    if (e.code === 'EADDRINUSE') throw new Error(`debug: port ${port} on 127.0.0.1 is in use (another iorewind debug?): choose one with --port P, or --port 0 for any free port`);
    throw e;
  });
  console.log(`iorewind debug: ${path}`);
  console.log(`  open ${srv.url}   (Ctrl-C to stop)`);
  const t0 = performance.now();
  ix.ingestSource(src).then(
    () => console.log(`  indexed ${ix.length} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (${ix.checkpoints} checkpoints${thinned(ix)})`),
    (e: unknown) => console.error(`  indexing stopped at event ${ix.length}: ${e instanceof Error ? e.message : String(e)}`),
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      void srv.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
