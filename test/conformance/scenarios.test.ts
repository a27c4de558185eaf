import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario, scenarioKernel } from '../../src/conform/scenario.js';
import { KNOWN_GAPS } from './known_gaps.js';

/**
 * 6.14 answers the 6.12 scenarios do not carry (no expect_by_version), each
 * read from the kernel: (scenario, step) -> what 6.14 answers there. The
 * scenarios come from 6.12.117's selftests, which gained a step with a fix
 * backported to 6.12.y after 6.14.y had ended: "iommufd: Make vfio_compat's
 * unmap succeed if the range is already empty" (November 2025), so 6.14's
 * unmap of an empty range is ENOENT, size 0 written back.
 */
const SIX_14: Record<string, Record<number, { errno: string; out?: Record<string, string> }>> = {
  'vfio_compat_mock_domain.Ver1v0.map': { 7: { errno: 'ENOENT', out: { size: '0x0' } } },
  'vfio_compat_mock_domain.Ver1v2.map': { 7: { errno: 'ENOENT', out: { size: '0x0' } } },
};

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
        for (const [i, e] of Object.entries(SIX_14[name] ?? {})) {
          const step = s.steps[Number(i)]!;
          expect(step.expect_by_version?.['6.14'], `${name} step ${i} now carries its 6.14 answer: drop it from SIX_14`).toBeUndefined();
          step.expect_by_version = { ...step.expect_by_version, '6.14': e as (typeof step)['expect'] };
        }
        expect(runScenario(s, '6.14').failure ?? null).toBeNull();
      });
    }
  });
  it('lists no scenario that does not exist', () => {
    for (const name of [...Object.keys(KNOWN_GAPS), ...Object.keys(SIX_14)]) expect(files).toContain(`${name}.json`);
  });
});
