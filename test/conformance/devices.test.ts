/**
 * iorewind's own iommufd-scenario/1 files for devices behind hardware
 * profiles and their VFIO cdev (test/conformance/devices/): the scenario
 * runner with the device events and step-level `fd` (README "Describing a
 * device in a trace"). Expectations come from reading the kernel code paths
 * each file's `source` names, as for the shared scenarios.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../src/conform/scenario.js';

const DIR = join(import.meta.dirname, 'devices');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('device scenarios (test/conformance/devices)', () => {
  for (const f of files) {
    it(f.replace(/\.json$/, ''), () => {
      const r = runScenario(loadScenario(join(DIR, f)));
      expect(r.failure ?? null).toBeNull();
    });
  }
});
