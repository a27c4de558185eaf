/**
 * The journal (state.ts `Journal`): a bounded, persistent history of what
 * the debugger shows and properties check but no ioctl answers from —
 * IOMMU faults of device DMA, page requests nobody handles, and how each
 * page-fault group ended — plus the logical clock `seq` that stamps them
 * and the TLB ledgers (tlb.ts).
 *
 * Bounded: each map keeps its newest JOURNAL_KEEP entries (the oldest is
 * dropped, O(log n)); the totals are never bounded. Persistent: a step that
 * logs one record shares everything else with the previous state.
 *
 * "At which event": `seq` never decreases along a trace, so the event that
 * made a record is the first whose state has `journal.seq >= record.seq`
 * (`eventOfSeq`, a binary search over any `stateAt`, e.g. a Timeline's).
 */
import type { FaultGroupEnd, IommuFault, Journal, World } from './state.js';
import type { Tx } from './object.js';

export const JOURNAL_KEEP = 1024;

function setJournal(tx: Tx, j: Journal): void {
  tx.setWorld({ ...tx.w, journal: j });
}

/** Advance the clock; returns the new seq. */
export function nextSeq(tx: Tx): number {
  const j = tx.w.journal;
  const seq = j.seq + 1;
  setJournal(tx, { ...j, seq });
  return seq;
}

/** Record an IOMMU fault (stamped with a new seq). */
export function logFault(tx: Tx, f: Omit<IommuFault, 'seq' | 'ctx'>): IommuFault {
  const j = tx.w.journal;
  const rec: IommuFault = { seq: j.seq + 1, ctx: tx.ctx.id, ...f };
  let faults = j.faults.set(rec.seq, rec);
  if (faults.size > JOURNAL_KEEP) faults = faults.delete(faults.min()![0]);
  setJournal(tx, { ...j, seq: rec.seq, faults, faultCount: j.faultCount + 1 });
  return rec;
}

/** A page-fault group was formed and queued: count it; its gid is the new seq. */
export function logGroupRaised(tx: Tx): number {
  const j = tx.w.journal;
  const seq = j.seq + 1;
  setJournal(tx, { ...j, seq, groupsRaised: j.groupsRaised + 1 });
  return seq;
}

/** A page-fault group was answered (by the user or automatically). */
export function logGroupEnd(tx: Tx, e: Omit<FaultGroupEnd, 'seq' | 'ctx'>): void {
  const j = tx.w.journal;
  const rec: FaultGroupEnd = { seq: j.seq + 1, ctx: tx.ctx.id, ...e };
  let ended = j.groupsEnded.set(rec.gid, rec);
  if (ended.size > JOURNAL_KEEP) ended = ended.delete(ended.min()![0]);
  setJournal(tx, { ...j, seq: rec.seq, groupsEnded: ended, groupsAnswered: j.groupsAnswered + 1 });
}

/** IOMMU faults recorded after `sinceSeq` (oldest first), of the kept ones. */
export function faultsSince(w: World, sinceSeq = 0): IommuFault[] {
  const out: IommuFault[] = [];
  w.journal.faults.each((_s, f) => {
    out.push(f);
    return true;
  }, sinceSeq + 1);
  return out;
}

/**
 * The index of the event that made the journal record stamped `seq`: the
 * smallest i such that the state after events [0, i] has `journal.seq >=
 * seq`; -1 if no state of the trace reaches it. `stateAt(k)` is the state
 * after the first k events (Timeline.stateAt), `n` the number of events.
 */
export function eventOfSeq(stateAt: (k: number) => World, n: number, seq: number): number {
  let lo = 1;
  let hi = n;
  if (n === 0 || stateAt(n).journal.seq < seq) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (stateAt(mid).journal.seq >= seq) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}
