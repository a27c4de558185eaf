import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkEvents } from '../../src/fuzz/run.js';
import { replay } from '../../src/engine/replay.js';
import { readTraceSync } from '../../src/trace/index.js';

const DIR = join(import.meta.dirname, '../../traces');

describe('bundled sample traces', () => {
  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.iort')).sort()) {
    it(`${f} replays with zero divergence and holds every invariant`, async () => {
      const t = readTraceSync(join(DIR, f));
      const s = await replay(t.events, { kernel: t.header.kernel });
      expect(s.first_divergence).toBeNull();
      expect(s.verified).toBeGreaterThan(0);
      expect(checkEvents(t.events, t.header.kernel)).toBeNull();
    });
  }
});
