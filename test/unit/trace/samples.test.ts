/**
 * The hand-written sample traces of traces/ (tools/gen_samples.ts): each
 * committed file is what the generator writes (deterministic), and replays
 * with zero divergence, every event with a recorded result verified.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replay } from '../../../src/engine/replay.js';
import { decodeTrace } from '../../../src/trace/index.js';
import { encodeSample, SAMPLES } from '../../../tools/gen_samples.js';

const TRACES = join(import.meta.dirname, '../../../traces');

describe('sample traces', () => {
  for (const { file, build, what } of SAMPLES) {
    it(file, async () => {
      const bytes = new Uint8Array(readFileSync(join(TRACES, file)));
      const s = build();
      expect(Buffer.compare(Buffer.from(encodeSample(file, s, what)), Buffer.from(bytes)), 'regenerate with node dist/tools/gen_samples.js').toBe(0);
      const t = decodeTrace(bytes);
      const r = await replay(t.events, { kernel: t.header.kernel });
      expect(r.first_divergence).toBeNull();
      expect(r.verified).toBe(t.events.filter((e) => e.rec).length);
    });
  }
});
