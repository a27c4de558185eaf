/**
 * `iorewind import <capture.jsonl[.gz]> [-o|--out trace.iort] [--kernel 6.12|6.14]`:
 * decode a real-kernel capture into an iorewind trace with the recorded results.
 */
import { CaptureImporter, importCapture } from '../../src/capture/import.js';
import { writeTrace } from '../../src/trace/index.js';
import { replaceFile, sameFile } from '../../src/trace/output.js';
import { kernelOption, parseOptions } from './options.js';

export const summary = 'import a real-kernel capture (.jsonl/.jsonl.gz) as a trace';

const USAGE = 'usage: iorewind import <capture.jsonl[.gz]> [-o|--out out.iort] [--kernel 6.12|6.14]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('import', argv, { out: { type: 'string', short: 'o' }, kernel: { type: 'string' } }, USAGE);
  const kernel = kernelOption('import', values['kernel']) ?? '6.12';
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const input = positionals[0]!;
  const out = (values['out'] as string | undefined) ?? input.replace(/\.jsonl(\.gz)?$/, '') + '.iort';
  const importer = new CaptureImporter(kernel);
  const tty = process.stderr.isTTY;
  let n = 0;
  async function* counted() {
    for await (const ev of importCapture(input!, importer)) {
      if (tty && ++n % 50000 === 0) process.stderr.write(`\rimported ${n} events`);
      yield ev;
    }
  }
  // (the capture is read while the trace is written: never into the capture itself, and a failure
  // leaves no half-written trace: output.ts)
  if (sameFile(input, out)) {
    console.error(`iorewind: import: the output ${out} is the capture itself`);
    return 2;
  }
  await replaceFile(out, (target) => writeTrace(target, { kernel, meta: { source: 'capture', capture: input } }, counted()));
  if (tty) process.stderr.write('\r');
  console.log(`${input}: ${importer.stats.records} records -> ${importer.stats.events} events -> ${out}`);
  return 0;
}
