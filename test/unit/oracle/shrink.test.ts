/**
 * The oracle campaign's shrink rounds (src/oracle/fuzz.ts): every candidate
 * of a sequence (it without one chunk: halves, quarters, ..., single
 * templates) is tried once, coarsest first, and a round takes only as many as
 * its template budget allows. A 2,000-step divergence used to send all ~4,000
 * candidates of ~2,000 templates to one round (hours of guest time, 5 GB on
 * the host); a short one still goes in one round, as before.
 */
import { describe, expect, it } from 'vitest';
import type { Divergence } from '../../../src/engine/replay.js';
import type { Event } from '../../../src/events/event.js';
import type { Template } from '../../../src/fuzz/index.js';
import type { TraceResult } from '../../../src/oracle/check.js';
import { generate, oracleKinds, realize, resumeAt, roundCandidates, shrinkAll, signature, tailPastDivergence, type ShrinkJob, type ShrinkRunner } from '../../../src/oracle/fuzz.js';

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

/**
 * shrinkAll against a stand-in kernel that "diverges" exactly when two given
 * templates of a generated sequence are both still in it, at the later one.
 */
describe('shrinkAll', () => {
  const seq = generate(11, 1, 200, oracleKinds(), 0).seqs[0]!;
  const divergence = (index: number, ev: Event): Divergence => ({ index, op: 'IOMMU_IOAS_MAP', what: 'errno', expected: 'EINVAL', actual: 0, event: ev, context: [] });

  /** The stand-in kernel's verdicts: a divergence exactly where every `needed` template is still in the sequence. */
  const standIn = (needed: readonly Template[]): ShrinkRunner => async (seqs) => {
    const out = new Map<string, TraceResult>();
    for (const s of seqs) {
      const at = needed.map((t) => s.templates.indexOf(t));
      // (the later template's own event: the last of those it expanded to)
      const index = s.owner.lastIndexOf(Math.max(...at));
      const diverges = at.every((i) => i >= 0);
      out.set(s.name, { name: s.name, verdict: diverges ? 'diverge' : 'agree', events: s.events.length, kernelIoctls: 0, verified: 0, divergences: diverges ? 1 : 0, firstDivergence: diverges ? divergence(index, s.events[index]!) : null, skipped: [] });
    }
    return out;
  };

  /** The whole sequence's job, as the campaign hands it to shrinkAll. */
  async function wholeJob(run: ShrinkRunner): Promise<ShrinkJob> {
    const r = realize(seq.templates)!;
    const first = (await run([{ name: 'whole', ...r, templates: seq.templates }])).get('whole')!;
    return { signature: signature(first.firstDivergence!), templates: seq.templates, best: { events: r.events, owner: r.owner, result: first }, done: false };
  }

  async function shrink(needed: readonly Template[]) {
    const rounds: number[] = [];
    const verdicts = standIn(needed);
    const job = await wholeJob(verdicts);
    await shrinkAll(
      [job],
      async (seqs) => {
        rounds.push(seqs.length);
        return verdicts(seqs);
      },
      () => {},
    );
    return { job, rounds };
  }

  it('ends with exactly the templates the divergence needs, in few rounds', async () => {
    expect(seq.templates.length).toBeGreaterThan(150);
    const needed = [seq.templates[37]!, seq.templates[131]!];
    const { job, rounds } = await shrink(needed);
    expect(job.templates).toEqual(needed);
    expect(job.done).toBe(true);
    expect(job.best.result.firstDivergence!.index).toBe(job.best.events.length - 1);
    // The tail past template 131 goes in the first round, the chunks that could
    // each go are tried together in the next, and after each success the job
    // stays at the granularity it reached.
    // Restarting from the halves after each success, without tail or unions, took 13 rounds here.
    expect(rounds.length).toBeLessThanOrEqual(4);
  });

  it('a round whose boot fails ends the shrinking, each job keeping the smallest sequence it had reached', async () => {
    const needed = [seq.templates[37]!, seq.templates[131]!];
    const whole = realize(seq.templates)!.events.length;
    const verdicts = standIn(needed);
    const job = await wholeJob(verdicts);
    const logs: string[] = [];
    const wins: (readonly Template[])[] = [];
    let calls = 0;
    const boots = await shrinkAll(
      [job],
      async (seqs) => {
        if (++calls === 2) throw new Error('the oracle run timed out after 501s\n--- console (last lines) ---\n...');
        const res = await verdicts(seqs);
        for (const q of seqs) if (res.get(q.name)!.verdict === 'diverge') wins.push(q.templates);
        return res;
      },
      (m) => logs.push(m),
    );
    expect(boots).toBe(1);
    expect(job.done).toBe(true);
    expect(job.stopped).toBe('the oracle run timed out after 501s');
    // the first round's gain is kept: one of its diverging candidates, shorter than the whole
    expect(job.templates.length).toBeLessThan(seq.templates.length);
    expect(wins).toContain(job.templates);
    expect(job.best.events.length).toBeLessThan(whole);
    expect(job.templates).toEqual(expect.arrayContaining(needed));
    expect(logs.at(-1)).toMatch(/^shrink round 2 failed \(the oracle run timed out after 501s\): shrinking stops/);
  });

  it('the tail past the divergence: the templates after the one that diverged', () => {
    const r = realize(seq.templates)!;
    const n = seq.templates.length;
    const at = (index: number) => ({ templates: seq.templates, best: { events: r.events, owner: r.owner, result: { firstDivergence: divergence(index, r.events[index]!) } as TraceResult } });
    const setup = r.owner.lastIndexOf(-1) + 1;
    expect(tailPastDivergence(at(r.owner.indexOf(5)))).toEqual([6, n]);
    expect(tailPastDivergence(at(r.owner.lastIndexOf(5)))).toEqual([6, n]); // at a constructor of template 5, or at it
    expect(tailPastDivergence(at(r.events.length - 1))).toBeNull(); // at the last template
    expect(tailPastDivergence(at(setup - 1))).toBeNull(); // in the setup
  });
});

describe('signature', () => {
  it('names both answers; for an unmodelled event the kernel errno, not its whole record', () => {
    const ev: Event = { op: 'read_fault_fd', args: { fd: 0, count: 40, pos: 0 } };
    const d = (what: string, expected: unknown, actual: unknown): Divergence => ({ index: 5, op: ev.op, what, expected, actual, event: ev, context: [] });
    expect(signature(d('errno', 'ESPIPE', 'EINVAL'))).toBe('read_fault_fd errno kernel=ESPIPE model=EINVAL');
    expect(signature(d('unmodelled', { errno: 0, bufs: {} }, 'read of a regular file'))).toBe('read_fault_fd unmodelled kernel=0 model=read of a regular file');
    expect(signature(d('out.length', 0x1000n, 0n))).toBe('read_fault_fd out.length');
  });
});

describe('resumeAt', () => {
  it('the first candidate of the first pass with chunks no larger', () => {
    const all = roundCandidates(100, 0, Infinity);
    expect(resumeAt(100, 50)).toBe(0);
    expect(all.level[resumeAt(100, 13)]).toBe(13);
    expect(all.level[resumeAt(100, 12)]).toBe(7);
    expect(all.cands[resumeAt(100, 1)]).toEqual([0, 1]);
    expect(all.level[resumeAt(100, 1) - 1]).toBeGreaterThan(1);
  });
});
