/**
 * TLB ledgers: what a user-managed cache was told, so that a debugger (and a
 * fuzzer's property) can answer "was this IOVA invalidated after it was
 * changed?" (kernel-semantics §8).
 *
 * Who owns what. The kernel flushes its own stage-2 changes synchronously
 * (IOAS unmap: iommu_unmap -> iotlb_sync; a nesting parent's flush reaches
 * the nested caches built on it), so stage-2 translations are never stale
 * and are not tracked. What user space must invalidate is what it manages:
 * a nested HWPT's stage-1 table (IOMMU_HWPT_INVALIDATE on the nested HWPT)
 * and, through a vIOMMU, per-ASID TLBs and per-device caches (ATC, context
 * descriptors, the mock's device cache words). A guest's stage-1 edits are
 * invisible to the kernel: the environment event `guest_s1_change` states
 * them (env.ts).
 *
 * A ledger hangs off the nested HWPT or vIOMMU object (`tlb`, absent until
 * first used) and dies with it. Per translation scope ('' = the nested HWPT's
 * own IOVA space; 'asid:N' for a vIOMMU) it keeps two disjoint span maps,
 * "last changed at seq" and "last invalidated at seq", assigned with
 * overwrite semantics (O(k log n) per update, k = spans overlapped; equal
 * neighbours merge, so an invalidate-all collapses a scope to one span); plus
 * cache tags -> seq of their last invalidation, and the latest LEDGER_LOG
 * invalidation records (which entry of which request covered what). Stamps
 * are journal seqs (journal.ts), so `eventOfSeq` finds the event of any of
 * them.
 *
 * Coverage of the mock drivers' entries: the mock nested domain's four IOTLB
 * words carry no IOVA meaning, so a single-word entry covers that tag only;
 * IOMMU_TEST_INVALIDATE_FLAG_ALL covers every IOVA and all four words. The
 * mock vIOMMU's entries cover device cache words only. VT-d stage-1 and
 * SMMUv3 coverage is computed by drivers/vtd_invalidate.ts and
 * drivers/smmuv3_invalidate.ts.
 */
import { PMap } from '../ds/pmap.js';
import { U64_MAX } from './io_pagetable.js';
import type { HwptNestedObj, InvRecord, TlbLedger, TlbScope, TlbSpan, ViommuObj } from './state.js';
import type { InvCoverage } from './drivers/inv_coverage.js';
import type { Tx } from './object.js';
import { nextSeq } from './journal.js';

export const LEDGER_LOG = 64;

const cmpStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const EMPTY_SCOPE: TlbScope = { changed: PMap.emptyBigint<TlbSpan>(), invalidated: PMap.emptyBigint<TlbSpan>() };

export function emptyLedger(): TlbLedger {
  return { scopes: PMap.empty<string, TlbScope>(cmpStrings), tags: PMap.empty<string, number>(cmpStrings), log: PMap.emptyNumber<InvRecord>() };
}

type Spans = PMap<bigint, TlbSpan>;

/** Assign [start, last] -> seq, overwriting what was there; neighbours with the same seq merge. */
export function spansAssign(m: Spans, start: bigint, last: bigint, seq: number): Spans {
  const hit: [bigint, TlbSpan][] = [];
  const prev = m.lower(start);
  if (prev && prev[1].last >= start) hit.push(prev);
  m.each((s, v) => {
    hit.push([s, v]);
    return true;
  }, start, last);
  for (const [s, v] of hit) {
    m = m.delete(s);
    if (s < start) m = m.set(s, { last: start - 1n, seq: v.seq });
    if (v.last > last) m = m.set(last + 1n, { last: v.last, seq: v.seq });
  }
  // Merge with touching neighbours stamped the same.
  const before = start > 0n ? m.floor(start - 1n) : undefined;
  if (before && before[1].last === start - 1n && before[1].seq === seq) {
    m = m.delete(before[0]);
    start = before[0];
  }
  const after = last < U64_MAX ? m.get(last + 1n) : undefined;
  if (after && after.seq === seq) {
    m = m.delete(last + 1n);
    last = after.last;
  }
  return m.set(start, { last, seq });
}

/** Seq stamped at `iova`, 0 if none. */
export function spansAt(m: Spans, iova: bigint): number {
  const e = m.floor(iova);
  return e && e[1].last >= iova ? e[1].seq : 0;
}

function scopeOf(l: TlbLedger, scope: string): TlbScope {
  return l.scopes.get(scope) ?? EMPTY_SCOPE;
}

/** The guest changed its translation of [start, last] in `scope` at `seq`. */
export function ledgerChange(l: TlbLedger | undefined, scope: string, start: bigint, last: bigint, seq: number): TlbLedger {
  const led = l ?? emptyLedger();
  const sc = scopeOf(led, scope);
  return { ...led, scopes: led.scopes.set(scope, { ...sc, changed: spansAssign(sc.changed, start, last, seq) }) };
}

/** Apply what one processed invalidation entry covered. */
export function ledgerInvalidate(l: TlbLedger | undefined, rec: InvRecord): TlbLedger {
  const led = l ?? emptyLedger();
  let scopes = led.scopes;
  const cover = (scope: string, start: bigint, last: bigint) => {
    const sc = scopes.get(scope) ?? EMPTY_SCOPE;
    scopes = scopes.set(scope, { ...sc, invalidated: spansAssign(sc.invalidated, start, last, rec.seq) });
  };
  // `all` and scope '*' reach every scope the ledger knows, '' and the entry's own.
  const everyScope = (start: bigint, last: bigint) => {
    const names = new Set<string>(['']);
    scopes.each((k) => {
      names.add(k);
      return true;
    });
    if (rec.scope !== '*') names.add(rec.scope);
    for (const k of names) cover(k, start, last);
  };
  if (rec.all) everyScope(0n, U64_MAX);
  else if (rec.span) {
    if (rec.scope === '*') everyScope(rec.span.start, rec.span.last);
    else cover(rec.scope, rec.span.start, rec.span.last);
  }
  let tags = led.tags;
  for (const t of rec.tags) tags = tags.set(t, rec.seq);
  let log = led.log.set(rec.seq, rec);
  if (log.size > LEDGER_LOG) log = log.delete(log.min()![0]);
  return { scopes, tags, log };
}

/** Seq of the latest change and of the latest invalidation of `iova` in `scope` (0: never). */
export function ledgerAt(l: TlbLedger | undefined, scope: string, iova: bigint): { changed: number; invalidated: number; stale: boolean } {
  if (!l) return { changed: 0, invalidated: 0, stale: false };
  const sc = scopeOf(l, scope);
  const changed = spansAt(sc.changed, iova);
  const invalidated = spansAt(sc.invalidated, iova);
  return { changed, invalidated, stale: changed > invalidated };
}

export interface StaleSpan {
  scope: string;
  start: bigint;
  last: bigint;
  changed: number;
  invalidated: number;
}

/**
 * Every IOVA span whose latest change came after its latest invalidation
 * (optionally only those meeting [start, last] of one scope). Cost follows
 * the changed spans and the invalidated spans overlapping them.
 */
export function staleSpans(l: TlbLedger | undefined, only?: { scope: string; start: bigint; last: bigint }): StaleSpan[] {
  const out: StaleSpan[] = [];
  if (!l) return out;
  l.scopes.each((scope, sc) => {
    if (only && scope !== only.scope) return true;
    const visit = (cs: bigint, cv: TlbSpan) => {
      let s = cs;
      let e = cv.last;
      if (only) {
        if (e < only.start || s > only.last) return;
        if (s < only.start) s = only.start;
        if (e > only.last) e = only.last;
      }
      const emit = (x: bigint, y: bigint, inv: number) => {
        if (cv.seq > inv) out.push({ scope, start: x, last: y, changed: cv.seq, invalidated: inv });
      };
      // The invalidated spans overlapping [s, e], in order; the gaps between them were never invalidated.
      const ov: [bigint, TlbSpan][] = [];
      const f = sc.invalidated.floor(s);
      if (f && f[1].last >= s) ov.push(f);
      sc.invalidated.each((k, v) => {
        if (k > s) ov.push([k, v]);
        return true;
      }, s, e);
      let p = s;
      for (const [k, v] of ov) {
        const x = k > p ? k : p;
        if (x > p) emit(p, x - 1n, 0);
        const y = v.last < e ? v.last : e;
        emit(x, y, v.seq);
        p = y + 1n;
      }
      if (p <= e) emit(p, e, 0);
    };
    const before = only ? sc.changed.floor(only.start) : undefined;
    if (before && before[1].last >= only!.start) visit(before[0], before[1]);
    sc.changed.each((k, v) => {
      if (!before || k !== before[0]) visit(k, v);
      return true;
    }, only?.start, only?.last);
    return true;
  });
  return out;
}

/**
 * Record in the object's TLB ledger what one processed entry of an
 * invalidation request covered, stamped with a new journal seq; returns the
 * object with its new ledger (also stored).
 */
export function recordInvalidation<O extends HwptNestedObj | ViommuObj>(tx: Tx, o: O, dataType: number, index: number, cover: InvCoverage): O {
  const seq = nextSeq(tx);
  const rec: InvRecord = { seq, dataType, index, all: cover.all, scope: cover.scope, ...(cover.span ? { span: cover.span } : {}), tags: cover.tags };
  const tlb: TlbLedger = ledgerInvalidate(o.tlb, rec);
  const next = { ...o, tlb };
  tx.put(next);
  return next;
}

/** The guest changed its stage-1 translation of [start, last] of a nested HWPT (or an ASID of a vIOMMU): stamp it. */
export function recordGuestChange<O extends HwptNestedObj | ViommuObj>(tx: Tx, o: O, scope: string, start: bigint, last: bigint): O {
  const seq = nextSeq(tx);
  const next = { ...o, tlb: ledgerChange(o.tlb, scope, start, last, seq) };
  tx.put(next);
  return next;
}
