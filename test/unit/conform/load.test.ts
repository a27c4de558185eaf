/**
 * A scenario file that is not what iommufd-scenario/1 describes is refused
 * when it is loaded, with what is wrong and where, not with whatever
 * TypeError a step would meet on the way.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../../src/conform/scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'iorewind-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string): string => {
  const f = join(dir, `s${n++}.json`);
  writeFileSync(f, text);
  return f;
};
const base = { format: 'iommufd-scenario/1', name: 'x', source: 'Linux 6.12 test', env: { page_size: 4096, driver: 'mock', memlock_limit_pages: null } };
const scenario = (over: object): string => file(JSON.stringify({ ...base, steps: [], ...over }));

describe('loadScenario', () => {
  it('takes a well-formed one', () => {
    const s = loadScenario(scenario({ steps: [{ op: 'IOMMU_IOAS_ALLOC', args: { flags: 0 }, expect: { errno: 0, out: { out_ioas_id: 1 } } }] }));
    expect(runScenario(s).passed).toBe(true);
  });

  it.each([
    ['{"format": ', /not JSON/],
    ['[1, 2]', /not a JSON object/],
    [JSON.stringify({ ...base, format: 'x' }), /not an iommufd-scenario\/1 file \(format "x"\)/],
    [JSON.stringify({ ...base, name: 3, steps: [] }), /'name' must be a string/],
    [JSON.stringify({ ...base, env: {}, steps: [] }), /'env.memlock_limit_pages' must be null or a number of pages/],
    [JSON.stringify({ ...base, env: { memlock_limit_pages: -1 }, steps: [] }), /memlock_limit_pages/],
    [JSON.stringify({ ...base, steps: { length: 1e9 } }), /'steps' must be an array/],
    [JSON.stringify({ ...base, steps: [7] }), /step 0: not an object/],
    [JSON.stringify({ ...base, steps: [{ op: 'IOMMU_IOAS_ALLOC' }, { args: {} }] }), /step 1: 'op' must be a string/],
    [JSON.stringify({ ...base, steps: [{ op: 'IOMMU_IOAS_ALLOC', args: [1] }] }), /step 0 \(IOMMU_IOAS_ALLOC\): 'args' must be an object or null/],
    [JSON.stringify({ ...base, steps: [{ op: 'IOMMU_IOAS_ALLOC', expect: 'zzz' }] }), /'expect' must be an object/],
    [JSON.stringify({ ...base, steps: [{ op: 'IOMMU_IOAS_ALLOC', expect_by_version: { '6.14': 0 } }] }), /'expect_by_version' must map/],
  ])('%s', (text, why) => {
    const f = file(text);
    expect(() => loadScenario(f)).toThrow(why);
    expect(() => loadScenario(f)).toThrow(f);
  });

  it('a value that is neither a number nor a $variable fails its step, saying so', () => {
    const r = runScenario(loadScenario(scenario({ steps: [{ op: 'IOMMU_IOAS_ALLOC', args: { flags: 'lots' } }] })));
    expect(r.failure?.reason).toBe('cannot build event: expected a number or a $variable, got "lots"');
  });
});
