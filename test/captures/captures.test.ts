import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCapture } from '../../src/capture/import.js';
import { replay } from '../../src/engine/replay.js';
import { KNOWN_DIVERGENT } from './known_divergent.js';

const DIR = join(import.meta.dirname, '../../../shared/captures/selftest');
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.jsonl.gz')).sort() : [];

describe('real-kernel captures replay with zero divergence (../shared/captures/selftest)', () => {
  it('finds the shared captures', () => {
    expect(files.length).toBeGreaterThan(100);
  });
  for (const f of files) {
    const name = f.replace(/\.jsonl\.gz$/, '');
    const known = KNOWN_DIVERGENT[name];
    it(known ? `${name} still diverges (known: ${known})` : name, async () => {
      const s = await replay(importCapture(join(DIR, f)), { kernel: '6.12', stopAtFirst: true });
      if (known) expect(s.divergences, `${name} replays cleanly now: remove it from test/captures/known_divergent.ts`).toBeGreaterThan(0);
      else {
        expect(s.first_divergence && { index: s.first_divergence.index, op: s.first_divergence.op, what: s.first_divergence.what, src: s.first_divergence.src }).toBeNull();
        expect(s.verified).toBeGreaterThan(0);
      }
    });
  }
  it('lists no capture that does not exist', () => {
    for (const name of Object.keys(KNOWN_DIVERGENT)) expect(files).toContain(`${name}.jsonl.gz`);
  });
});
