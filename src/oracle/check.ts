/**
 * Differential checking: traces run on the real 6.12 kernel (in as few
 * boots as fit), the kernel's answers imported, and the model replayed
 * against them — per trace, zero divergence or the first one, exactly as
 * `replay` reports it.
 */
import type { Event } from '../events/event.js';
import { replay, type Divergence } from '../engine/replay.js';
import { encodeInput, traceNotCheckable, type TraceInput } from './encode.js';
import { splitRecords, withKernelAnswers, type TraceRecords } from './results.js';
import { bootOnce, giganticSeconds, giganticTraceSeconds, oracleGuests, PARALLEL_MIN_OPS, type BootResult, type OracleEnv } from './boot.js';
import { guestPools, poolOverrun, type GuestPool } from './hugetlb_pool.js';

export type TraceVerdict = 'agree' | 'diverge' | 'not-checkable' | 'error';

export interface TraceResult {
  name: string;
  verdict: TraceVerdict;
  /** Why not checkable, or what went wrong (a crash or timeout in the guest). */
  reason?: string;
  events: number;
  /** Ioctls the kernel answered for this trace. */
  kernelIoctls: number;
  /** Events whose model answer was compared with the kernel's and agreed. */
  verified: number;
  divergences: number;
  firstDivergence: Divergence | null;
  /** Events the executor could not run (they carry no answer). */
  skipped: { index: number; op: string; why: string }[];
  /** The trace's events with the kernel's answers (for saving). */
  kernelEvents?: Event[];
  /** Not checkable as a whole: the events before the first uncheckable one that were checked. */
  checkedPrefix?: number;
  /**
   * Diverging: the first event, at or before the divergence, after which the kernel could need
   * more huge pages of 2^shift bytes (`pages`, an upper bound) than the guest's pool has
   * (hugetlb_pool.ts), where the model takes every pool to be large enough.
   */
  poolOverrun?: { index: number; shift: number; pool: number; pages: number };
}

export interface OracleSummary {
  traces: number;
  agree: number;
  diverge: number;
  not_checkable: number;
  errors: number;
  kernel_ioctls: number;
  seconds: number;
  boots: number;
  /** Wall-clock seconds spent in boots (build, QEMU, transfer). */
  boot_seconds: number;
  first_divergence: Divergence | null;
  /** Kernel WARNING / BUG / Oops lines seen. */
  kernel_splats: string[];
  results: TraceResult[];
}

export interface CheckOptions extends OracleEnv {
  /** The most ops one boot runs (default 150,000). */
  maxOpsPerBoot?: number;
  /** The most traces one boot runs (default 20,000). */
  maxTracesPerBoot?: number;
  /** Guests booted at once (default oracleGuests(): one per core, at most two); a run of fewer than 20,000 ops uses one. */
  guests?: number;
  /** Seconds one trace may go without progress in the guest (default 60, plus giganticSeconds with 1 GiB pages). */
  traceTimeoutSec?: number;
  /** Keep the events with the kernel's answers in the results. */
  keepEvents?: boolean;
  /** Do not check the part of a not-checkable trace before its first uncheckable event. */
  noPrefix?: boolean;
  onBoot?: (b: { boot: number; traces: number; ops: number; seconds: number }) => void;
}

interface Prepared {
  index: number;
  name: string;
  events: readonly Event[];
  ops: number;
}

/** Boot-sized batches of the checkable traces. */
function batches(traces: Prepared[], maxOps: number, maxTraces: number): Prepared[][] {
  const out: Prepared[][] = [];
  let cur: Prepared[] = [];
  let ops = 0;
  for (const t of traces) {
    if (cur.length && (ops + t.ops > maxOps || cur.length >= maxTraces)) {
      out.push(cur);
      cur = [];
      ops = 0;
    }
    cur.push(t);
    ops += t.ops;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Compares one trace's kernel answers with the model. */
export async function judge(name: string, events: readonly Event[], recs: TraceRecords | undefined, keepEvents = false, pools: readonly GuestPool[] = []): Promise<TraceResult> {
  const base = { name, events: events.length, kernelIoctls: recs?.ioctls ?? 0, verified: 0, divergences: 0, firstDivergence: null, skipped: [] };
  if (!recs) return { ...base, verdict: 'error', reason: 'the executor wrote no records for this trace' };
  const k = withKernelAnswers(events, recs, '6.12');
  // Only the events the kernel answered before a crash or a timeout count.
  const upto = recs.status === 'ok' ? k.events : k.events.filter((_e, i) => i < lastIndex(recs) + 1);
  const s = await replay(upto, { kernel: '6.12' });
  const res: TraceResult = {
    ...base,
    verdict: s.divergences ? 'diverge' : 'agree',
    verified: s.verified,
    divergences: s.divergences,
    firstDivergence: s.first_divergence,
    skipped: k.skipped,
    ...(keepEvents ? { kernelEvents: k.events } : {}),
  };
  // A divergence after the guest refused an environment event (the process there is not the
  // trace's: a snapshot's mapping past a lock limit, say) says nothing of the model.
  const refused = s.first_divergence ? k.envFailures.find((i) => i < s.first_divergence!.index) : undefined;
  if (refused !== undefined) {
    res.verdict = 'error';
    res.reason = `the guest refused event ${refused} (${events[refused]!.op}: ${k.skipped.find((x) => x.index === refused)?.why ?? 'refused'}), and what follows it diverges (event ${s.first_divergence!.index})`;
  }
  // A divergence where the guest's pool could have run out may be just that (hugetlb_pool.ts): said with it.
  if (res.verdict === 'diverge' && pools.length) {
    const o = poolOverrun(events, pools, '6.12', s.first_divergence!.index);
    if (o) res.poolOverrun = { index: o.index, shift: o.pool.shift, pool: o.pool.pages, pages: o.pages };
  }
  if (recs.status !== 'ok' && !s.divergences) {
    res.verdict = 'error';
    res.reason = recs.status === 'timeout' ? `the trace made no progress for ${Math.round((recs.detail ?? 0) / 1000)}s in the guest (after op ${recs.done})` : `a process of the trace died in the guest (${recs.detail !== undefined && recs.detail < 1000 ? `signal ${recs.detail}` : `status ${(recs.detail ?? 1000) - 1000}`}) after op ${recs.done}`;
  }
  return res;
}

function lastIndex(recs: TraceRecords): number {
  let m = -1;
  for (const k of recs.byEvent.keys()) if (k > m) m = k;
  return m;
}

/**
 * Runs traces on the real kernel and checks the model against its answers.
 * Traces the 6.12 oracle cannot run are reported as not checkable.
 */
export async function checkTraces(traces: readonly TraceInput[], opts: CheckOptions = {}): Promise<OracleSummary> {
  const t0 = performance.now();
  const results: (TraceResult | undefined)[] = new Array(traces.length);
  const ready: Prepared[] = [];
  /** Not-checkable traces whose events before the first uncheckable one are checked. */
  const prefixes = new Map<number, number>();
  traces.forEach((t, index) => {
    const nc = traceNotCheckable(t.events);
    if (nc) {
      results[index] = notCheckable(t, `event #${nc.index} ${nc.op} ${nc.reason}`);
      if (nc.index > 0 && !opts.noPrefix) {
        try {
          const events = t.events.slice(0, nc.index);
          const { traces: info } = encodeInput([{ name: `p${index}`, events }]);
          ready.push({ index, name: `p${index}`, events, ops: info[0]!.ops });
          prefixes.set(index, nc.index);
        } catch {
          // the prefix cannot be encoded either: not checkable as a whole
        }
      }
      return;
    }
    try {
      const { traces: info } = encodeInput([{ name: `t${index}`, events: t.events }]);
      ready.push({ index, name: `t${index}`, events: t.events, ops: info[0]!.ops });
    } catch (e) {
      results[index] = notCheckable(t, `cannot be encoded: ${(e as Error).message}`);
    }
  });
  let boots = 0;
  let bootSeconds = 0;
  const splats: string[] = [];
  // Enough work for more than one guest: split it evenly between them (a boot costs a few seconds of a core).
  const total = ready.reduce((s, p) => s + p.ops, 0);
  const guests = Math.max(1, opts.guests ?? oracleGuests());
  const parallel = total >= PARALLEL_MIN_OPS ? Math.min(guests, ready.length) : 1;
  const maxOps = Math.min(opts.maxOpsPerBoot ?? 150_000, Math.ceil(total / parallel));
  const list = batches(ready, maxOps, opts.maxTracesPerBoot ?? 20_000);
  const runBatch = async (batch: Prepared[]) => {
    const { input } = encodeInput(
      batch.map((p) => ({ name: p.name, events: p.events })),
      { timeoutMs: (opts.traceTimeoutSec ?? 60 + giganticSeconds(opts)) * 1000 },
    );
    const ops = batch.reduce((s, p) => s + p.ops, 0);
    const boot: BootResult = await bootOnce(input, { ...opts, timeoutSec: 120 + ops / 500 + batch.length * 0.05 + giganticSeconds(opts) + giganticTraceSeconds(opts, batch) });
    boots++;
    bootSeconds += boot.seconds;
    splats.push(...boot.splats);
    opts.onBoot?.({ boot: boots, traces: batch.length, ops, seconds: boot.seconds });
    const recs = splitRecords(boot.records, boot.input);
    for (const p of batch) {
      const r = await judge(traces[p.index]!.name, p.events, recs.get(p.name), opts.keepEvents, guestPools(opts));
      const k = prefixes.get(p.index);
      if (k === undefined) results[p.index] = r;
      else {
        // The part before the first uncheckable event: its divergence is a divergence; its agreement is said.
        const nc = results[p.index]!;
        r.events = traces[p.index]!.events.length;
        if (r.verdict === 'agree') results[p.index] = { ...nc, kernelIoctls: r.kernelIoctls, verified: r.verified, skipped: r.skipped, reason: `${nc.reason}; the ${k} events before it agree with the kernel`, checkedPrefix: k };
        else results[p.index] = { ...r, reason: `${nc.reason}; diverges before it`, checkedPrefix: k };
      }
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(guests, list.length) }, async () => {
      while (next < list.length) await runBatch(list[next++]!);
    }),
  );
  const all = results as TraceResult[];
  const first = all.find((r) => r.firstDivergence)?.firstDivergence ?? null;
  return {
    traces: all.length,
    agree: all.filter((r) => r.verdict === 'agree').length,
    diverge: all.filter((r) => r.verdict === 'diverge').length,
    not_checkable: all.filter((r) => r.verdict === 'not-checkable').length,
    errors: all.filter((r) => r.verdict === 'error').length,
    kernel_ioctls: all.reduce((s, r) => s + r.kernelIoctls, 0),
    seconds: Math.round((performance.now() - t0) / 10) / 100,
    boots,
    boot_seconds: Math.round(bootSeconds * 100) / 100,
    first_divergence: first,
    kernel_splats: splats,
    results: all,
  };
}

function notCheckable(t: TraceInput, reason: string): TraceResult {
  return { name: t.name, verdict: 'not-checkable', reason, events: t.events.length, kernelIoctls: 0, verified: 0, divergences: 0, firstDivergence: null, skipped: [] };
}
