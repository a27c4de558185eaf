/**
 * The oracle campaign's shrink rounds (src/oracle/fuzz.ts): every candidate
 * of a sequence (it without one chunk: halves, quarters, ..., single
 * templates) is tried once, coarsest first, and a round takes only as many as
 * its template budget allows. A 2,000-step divergence used to send all ~4,000
 * candidates of ~2,000 templates to one round (hours of guest time, 5 GB on
 * the host); a short one still goes in one round, as before.
 */
import { describe, expect, it } from 'vitest';
import { roundCandidates } from '../../../src/oracle/fuzz.js';

/** Every round's candidates, from the first to the last. */
function rounds(n: number, budget?: number): [number, number][][] {
  const out: [number, number][][] = [];
  for (let from = 0; ; ) {
    const r = roundCandidates(n, from, budget);
    out.push(r.cands);
    if (r.next >= r.all) return out;
    from = r.next;
  }
}

describe('shrink rounds', () => {
  it('a short sequence: every candidate in one round, coarsest first, each once', () => {
    const [only, ...rest] = rounds(40);
    expect(rest).toEqual([]);
    expect(only!.slice(0, 2)).toEqual([
      [0, 20],
      [20, 40],
    ]);
    const keys = new Set(only!.map((c) => c.join(':')));
    expect(keys.size).toBe(only!.length);
    for (let k = 0; k < 40; k++) expect(keys.has(`${k}:${k + 1}`)).toBe(true);
  });

  it('a long one: rounds within the budget, together every candidate exactly once, halves first', () => {
    const budget = 60_000;
    const rs = rounds(2000, budget);
    expect(rs.length).toBeGreaterThan(1);
    for (const r of rs) expect(r.reduce((t, [s, e]) => t + 2000 - (e - s), 0)).toBeLessThan(budget + 2000);
    const all = rs.flat();
    expect(all).toEqual(roundCandidates(2000, 0, Infinity).cands);
    expect(rs[0]!.slice(0, 2)).toEqual([
      [0, 1000],
      [1000, 2000],
    ]);
  });

  it('a round always takes at least one candidate, even past the budget', () => {
    expect(roundCandidates(10, 0, 1).cands).toEqual([[0, 5]]);
    expect(rounds(10, 1).flat()).toEqual(roundCandidates(10, 0, Infinity).cands);
  });
});
