/**
 * `iorewind import <capture.jsonl[.gz]> [-o trace.iort] [--kernel 6.12]`:
 * decode a real-kernel capture into an iorewind trace with the recorded results.
 */
import { CaptureImporter, importCapture } from '../../src/capture/import.js';
import { writeTrace } from '../../src/trace/index.js';
import type { KernelVersion } from '../../src/model/state.js';

export const summary = 'import a real-kernel capture (.jsonl/.jsonl.gz) as a trace';

export async function run(argv: string[]): Promise<number> {
  const oi = argv.indexOf('-o');
  const ki = argv.indexOf('--kernel');
  const kernel = (ki >= 0 ? argv[ki + 1] : '6.12') as KernelVersion;
  const input = argv.find((a, i) => !a.startsWith('-') && !(oi >= 0 && i === oi + 1) && !(ki >= 0 && i === ki + 1));
  if (!input) {
    console.error('usage: iorewind import <capture.jsonl[.gz]> [-o out.iort] [--kernel 6.12|6.14]');
    return 2;
  }
  const out = oi >= 0 ? argv[oi + 1]! : input.replace(/\.jsonl(\.gz)?$/, '') + '.iort';
  const importer = new CaptureImporter(kernel);
  const tty = process.stderr.isTTY;
  let n = 0;
  async function* counted() {
    for await (const ev of importCapture(input!, importer)) {
      if (tty && ++n % 50000 === 0) process.stderr.write(`\rimported ${n} events`);
      yield ev;
    }
  }
  await writeTrace(out, { kernel, meta: { source: 'capture', capture: input } }, counted());
  if (tty) process.stderr.write('\r');
  console.log(`${input}: ${importer.stats.records} records -> ${importer.stats.events} events -> ${out}`);
  return 0;
}
