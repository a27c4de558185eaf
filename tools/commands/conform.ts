/**
 * `iorewind conform <file|dir>... [--json] [--kernel 6.12|6.14]`: run
 * iommufd-scenario/1 files; exit 0 iff every scenario passes.
 */
import { loadScenario, runScenario, type Failure } from '../../src/conform/scenario.js';
import { filesUnder } from './files.js';
import { kernelOption, parseOptions } from './options.js';

export const summary = 'run iommufd-scenario/1 conformance scenarios';

/** The scenario files named, and the `.json` files under the directories named (files.ts). */
export function scenarioFiles(paths: string[]): string[] {
  return filesUnder(paths, (p) => p.endsWith('.json'));
}

const USAGE = 'usage: iorewind conform <file|dir>... [--json] [--kernel 6.12|6.14]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals: paths } = parseOptions('conform', argv, { json: { type: 'boolean' }, kernel: { type: 'string' } }, USAGE);
  const json = values['json'] === true;
  const kernel = kernelOption('conform', values['kernel']);
  if (!paths.length) {
    console.error(USAGE);
    return 2;
  }
  const failures: Failure[] = [];
  let passed = 0;
  const files = scenarioFiles(paths);
  // (a directory without scenarios is a wrong path, not a pass)
  if (!files.length) {
    console.error(`iorewind: conform: no scenario files (*.json) in ${paths.join(', ')}`);
    return 2;
  }
  for (const f of files) {
    let r;
    try {
      r = runScenario(loadScenario(f), kernel);
    } catch (e) {
      failures.push({ name: f, step: -1, op: '', expected: null, actual: null, reason: (e as Error).message });
      if (!json) console.log(`FAIL ${f}  ${(e as Error).message}`);
      continue;
    }
    if (r.passed) passed++;
    else failures.push(r.failure!);
    if (!json) console.log(`${r.passed ? 'PASS' : 'FAIL'} ${r.name}${r.failure ? `  step ${r.failure.step} ${r.failure.op}: ${r.failure.reason}` : ''}`);
  }
  if (json) console.log(JSON.stringify({ scenarios: files.length, passed, failed: files.length - passed, failures }));
  else console.log(`${passed} passed, ${files.length - passed} failed`);
  return passed === files.length ? 0 : 1;
}
