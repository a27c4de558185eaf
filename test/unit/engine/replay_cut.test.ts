/**
 * Replaying an input that fails part-way (a trace cut short, a capture of a
 * run that crashed): with `keepGoing` the summary covers the events before
 * the bad one and says why it stopped; without, the error propagates. An
 * early stop closes the input either way.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { replay } from '../../../src/engine/replay.js';
import { readTraceSync } from '../../../src/trace/index.js';
import { ROOT, SAMPLE, writeCutSample } from '../debug/fixtures.js';

const sample = readTraceSync(SAMPLE);

function* failingAfter(n: number, closed: { yes: boolean }): Generator<Event> {
  try {
    for (let k = 0; k < n; k++) yield sample.events[k]!;
    throw new Error('bad record');
  } finally {
    closed.yes = true;
  }
}

describe('replay of an input that fails part-way', () => {
  it('keepGoing: the summary of the events before the bad one, and the error', async () => {
    const s = await replay(failingAfter(120, { yes: false }), { kernel: sample.header.kernel, keepGoing: true });
    expect(s.events).toBe(120);
    expect(s.stopped?.error.message).toBe('bad record');
    expect(s.divergences).toBe(0);
    expect(s.verified).toBeGreaterThan(100);
    const whole = await replay(sample.events.slice(0, 120), { kernel: sample.header.kernel });
    expect(whole.stopped).toBeUndefined();
    expect(s.errno_histogram).toEqual(whole.errno_histogram);
  });

  it('without keepGoing the error propagates', async () => {
    await expect(replay(failingAfter(10, { yes: false }), { kernel: sample.header.kernel })).rejects.toThrow('bad record');
  });

  it('stopping at the first divergence closes the input', async () => {
    const closed = { yes: false };
    const events = [...sample.events.slice(0, 50)];
    const k = events.findIndex((e) => e.rec);
    events[k] = { ...events[k]!, rec: { ...events[k]!.rec!, errno: 'ENOSPC' } };
    function* gen(): Generator<Event> {
      try {
        yield* events;
      } finally {
        closed.yes = true;
      }
    }
    const s = await replay(gen(), { kernel: sample.header.kernel, stopAtFirst: true });
    expect(s.first_divergence?.index).toBe(k);
    expect(closed.yes).toBe(true);
  });

  const cli = join(ROOT, 'dist/tools/cli.js');
  it.skipIf(!existsSync(cli))('iorewind replay and fuzz --check on a trace cut short: the report up to the bad block, then the error (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iorewind-cut-'));
    try {
      const cut = writeCutSample(dir);
      const r = spawnSync(process.execPath, [cli, 'replay', cut], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stdout).toMatch(/events: 800 +verified: \d+ +divergences: 0/);
      expect(r.stderr).toMatch(/iorewind replay: stopped after 800 events: .*truncated file/);
      const j = spawnSync(process.execPath, [cli, 'replay', '--json', cut], { encoding: 'utf8', timeout: 60_000 });
      expect(j.status).toBe(2);
      expect(JSON.parse(j.stdout)).toMatchObject({ events: 800, divergences: 0, stopped: expect.stringMatching(/truncated file/) });
      // the invariant check of a trace does the same
      const f = spawnSync(process.execPath, [cli, 'fuzz', '--check', cut], { encoding: 'utf8', timeout: 60_000 });
      expect(f.status).toBe(2);
      expect(f.stdout).toContain('800 events, every invariant holds');
      expect(f.stderr).toMatch(/stopped after 800 events: .*truncated file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
