import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario, scenarioKernel } from '../../src/conform/scenario.js';
import { KNOWN_GAPS } from './known_gaps.js';

const DIR = join(import.meta.dirname, '../../../shared/conformance/selftest');
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];

describe('conformance scenarios (../shared/conformance/selftest)', () => {
  it('finds the shared scenarios', () => {
    expect(files.length).toBeGreaterThan(100);
  });
  for (const f of files) {
    const name = f.replace(/\.json$/, '');
    const gap = KNOWN_GAPS[name];
    it(gap ? `${name} still fails (known gap: ${gap})` : name, () => {
      const r = runScenario(loadScenario(join(DIR, f)));
      if (gap) expect(r.passed, `${name} passes now: remove it from test/conformance/known_gaps.ts`).toBe(false);
      else expect(r.failure ?? null).toBeNull();
    });
  }
  // The 6.12 scenarios also run under the 6.14 profile, taking expect_by_version where given.
  describe('6.12 scenarios under the 6.14 profile', () => {
    for (const f of files) {
      const name = f.replace(/\.json$/, '');
      if (KNOWN_GAPS[name]) continue;
      it(name, () => {
        const s = loadScenario(join(DIR, f));
        if (scenarioKernel(s.source) !== '6.12') return;
        expect(runScenario(s, '6.14').failure ?? null).toBeNull();
      });
    }
  });
  it('lists no scenario that does not exist', () => {
    for (const name of Object.keys(KNOWN_GAPS)) expect(files).toContain(`${name}.json`);
  });
});
