/**
 * Traces found by `iorewind oracle --fuzz`, saved with the real kernel's
 * answers (test/oracle/regressions/*.iort.jsonl): replayed against the
 * model, no QEMU needed. Each agrees with the model, or diverges exactly as
 * known_divergent.ts says (a model bug reported, not yet fixed); a known one
 * that starts agreeing must leave that list.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSource } from '../../src/engine/source.js';
import { replay } from '../../src/engine/replay.js';
import { KNOWN_DIVERGENT } from './known_divergent.js';

const dir = join(import.meta.dirname, 'regressions');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.iort.jsonl') || f.endsWith('.iort')).sort() : [];

describe('oracle regressions (real-kernel answers)', () => {
  it('has traces', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const f of files) {
    it(f, async () => {
      const src = await openSource(join(dir, f));
      const s = await replay(src.events, { kernel: '6.12' });
      const known = KNOWN_DIVERGENT[f];
      if (!known) {
        expect(s.first_divergence && { index: s.first_divergence.index, op: s.first_divergence.op, what: s.first_divergence.what, expected: s.first_divergence.expected, actual: s.first_divergence.actual }).toBeNull();
        expect(s.verified).toBeGreaterThan(0);
      } else {
        expect(s.first_divergence, `${f} now agrees with the kernel: remove it from known_divergent.ts`).not.toBeNull();
        expect({ op: s.first_divergence!.op, what: s.first_divergence!.what }).toEqual({ op: known.op, what: known.what });
      }
    });
  }
});
