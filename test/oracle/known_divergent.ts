/**
 * Oracle regression traces (regressions/) on which the model still differs
 * from the real kernel: model bugs reported, not fixed yet. The test checks
 * that each still diverges exactly here; once fixed, take it off this list.
 * docs/oracle.md lists every divergence found and what became of it.
 */
export const KNOWN_DIVERGENT: Record<string, { op: string; what: string; why: string }> = {};
