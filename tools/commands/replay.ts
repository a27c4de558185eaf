/**
 * `iorewind replay [trace|capture] [--json] [--kernel 6.12|6.14]`:
 * apply every event, check it against the recorded results, report the
 * first divergence. With no argument: the bundled sample trace. An input
 * that fails part-way is reported up to the bad record, then the error
 * (exit status 2).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { openSource } from '../../src/engine/source.js';
import { replay, type Divergence } from '../../src/engine/replay.js';
import { kernelOption, parseOptions } from './options.js';
import { formatValue } from '../../src/trace/index.js';
import { describeErrno } from '../../src/uapi/errno.js';

export const summary = 'replay a trace or capture, verifying recorded results';

export const SAMPLE_TRACE = join(fileURLToPath(new URL('.', import.meta.url)), '../../../traces/selftest-mock-domain.iort');

const USAGE = 'usage: iorewind replay [trace|capture] [--json] [--kernel 6.12|6.14]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('replay', argv, { json: { type: 'boolean' }, kernel: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values['help']) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`replay: one trace at a time, got ${positionals.length}\n${USAGE}`);
  const json = values['json'] === true;
  const kernel = kernelOption('replay', values['kernel']);
  const path = positionals[0] ?? SAMPLE_TRACE;
  const src = await openSource(path, kernel);
  const s = await replay(src.events, {
    kernel: src.kernel,
    keepGoing: true,
    onProgress: json || !process.stderr.isTTY ? undefined : (n) => process.stderr.write(`\r${n} events`),
  });
  if (!json && process.stderr.isTTY) process.stderr.write('\r');
  if (json) {
    const d = s.first_divergence;
    console.log(
      JSON.stringify(
        { file: path, kernel: src.kernel, events: s.events, verified: s.verified, divergences: s.divergences, first_divergence: d ? plain(d) : null, events_per_sec: s.events_per_sec, errno_histogram: s.errno_histogram, stopped: s.stopped ? s.stopped.error.message : null },
        (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
      ),
    );
  } else {
    console.log(`${path} (${src.kind}, Linux ${src.kernel} profile)`);
    console.log(`events: ${s.events}   verified: ${s.verified}   divergences: ${s.divergences}   ${s.events_per_sec} events/s`);
    const hist = Object.entries(s.errno_histogram).sort((a, b) => b[1] - a[1]);
    console.log(`errno: ${hist.map(([e, n]) => `${e === '0' ? 'ok' : e}=${n}`).join(' ')}`);
    const bad = Object.entries(s.by_op).filter(([, o]) => o.divergences);
    if (bad.length) console.log(`divergences by op: ${bad.map(([op, o]) => `${op}=${o.divergences}`).join(' ')}`);
    if (s.first_divergence) console.log(report(s.first_divergence));
  }
  // a trace cut short: what came before the bad record is reported above, the input error decides the status
  if (s.stopped) {
    console.error(`iorewind replay: stopped after ${s.events} events: ${s.stopped.error.message}`);
    return 2;
  }
  return s.divergences ? 1 : 0;
}

function plain(d: Divergence): unknown {
  return { index: d.index, op: d.op, src: d.src, what: d.what, expected: d.expected, actual: d.actual, event: d.event, context: d.context };
}

/** A divergence as a kernel engineer reads it: the call, what differs, errno names, what came before. */
export function report(d: Divergence): string {
  const lines = [`first divergence at event #${d.index}${d.src ? ` (${d.src})` : ''}: ${d.op}`];
  lines.push(`  event:    ${formatValue(d.event.args as never)}`);
  const show = (v: unknown) => (d.what === 'errno' ? describeErrno(v as string) : formatValue(v as never));
  lines.push(`  ${d.what}: expected ${show(d.expected)}`);
  lines.push(`  ${' '.repeat(d.what.length)}  actual   ${show(d.actual)}`);
  if (d.context.length) {
    lines.push('  preceding events of the same process:');
    for (const c of d.context) lines.push(`    #${c.index} ${c.op} -> ${c.errno === 0 ? 'ok' : c.errno}`);
  }
  return lines.join('\n');
}
