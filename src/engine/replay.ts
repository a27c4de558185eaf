/**
 * Verified replay: apply every event and compare the model's answer with
 * the recorded one (errno, return value, every written-back field, every
 * byte written through a pointer). The first divergence is reported with
 * the event, expected and actual values, and the events before it.
 */
import type { Event, Fields, Recorded, Result, Value } from '../events/event.js';
import { emptyWorld, type KernelVersion, type World } from '../model/state.js';
import { canonicalErrno } from '../uapi/errno.js';
import { apply } from './apply.js';
import { table } from '../ds/table.js';

export interface Divergence {
  index: number;
  op: string;
  src?: string;
  /** What differs: 'errno', 'ret', 'out.<field>', 'bufs.<name>', 'unmodelled'. */
  what: string;
  expected: unknown;
  actual: unknown;
  event: Event;
  /** Recent events of the same process, oldest first. */
  context: { index: number; op: string; errno: string | number }[];
}

export interface ReplaySummary {
  events: number;
  verified: number;
  divergences: number;
  first_divergence: Divergence | null;
  errno_histogram: Record<string, number>;
  by_op: Record<string, { events: number; divergences: number }>;
  events_per_sec: number;
  state: World;
  /** With `keepGoing`: the input failed after `events` events (a trace cut short, a bad record); the rest is about those. */
  stopped?: { error: Error };
}

const norm = (v: Value | undefined): unknown => {
  if (typeof v === 'number') return BigInt(v);
  if (Array.isArray(v)) return new Uint8Array(v as number[]);
  return v;
};

function same(a: Value | undefined, b: Value | undefined): boolean {
  const x = norm(a);
  const y = norm(b);
  if (x instanceof Uint8Array || y instanceof Uint8Array) {
    if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== y.length) return false;
    return x.every((v, i) => v === y[i]);
  }
  if (x && y && typeof x === 'object' && typeof y === 'object') {
    const keys = new Set([...Object.keys(x as object), ...Object.keys(y as object)]);
    for (const k of keys) if (!same((x as Fields)[k], (y as Fields)[k])) return false;
    return true;
  }
  if (x === undefined || y === undefined) return x === y || (x ?? 0n) === (y ?? 0n);
  return x === y;
}

/** The struct after the call as the model says it: the input with the written-back fields over it. */
function after(args: Fields | null, out: Fields | undefined): Fields {
  const res: Fields = { ...(args ?? {}) };
  for (const [k, v] of Object.entries(out ?? {})) {
    const base = res[k];
    res[k] = base && typeof base === 'object' && !(base instanceof Uint8Array) && v && typeof v === 'object' && !(v instanceof Uint8Array) ? { ...(base as Fields), ...(v as Fields) } : v;
  }
  return res;
}

/** First difference between a recorded answer and the model's, or undefined. */
export function compare(ev: Event, res: Result): { what: string; expected: unknown; actual: unknown } | undefined {
  if (res.unmodelled) return { what: 'unmodelled', expected: ev.rec ?? null, actual: res.unmodelled };
  const rec: Recorded | undefined = ev.rec;
  if (!rec) return undefined;
  const e = rec.errno === 0 ? 0 : canonicalErrno(String(rec.errno));
  const a = res.errno === 0 ? 0 : canonicalErrno(String(res.errno));
  if (e !== a) return { what: 'errno', expected: rec.errno, actual: res.errno };
  if (rec.ret !== undefined && rec.ret !== (res.ret ?? 0)) return { what: 'ret', expected: rec.ret, actual: res.ret ?? 0 };
  if (rec.out) {
    const model = after(ev.args, res.out);
    for (const [k, v] of Object.entries(rec.out)) if (!same(v, model[k])) return { what: `out.${k}`, expected: v, actual: model[k] };
  }
  for (const [k, want] of Object.entries(rec.bufs ?? {})) {
    if (!want || res.unknown?.includes(k)) continue;
    const input = ev.bufs?.[k] ?? undefined;
    // Without a before-image, a buffer the model did not write cannot be checked.
    if (!input && !res.bufs?.[k]) continue;
    const got = new Uint8Array(want.length);
    if (input) got.set(input.subarray(0, want.length));
    const out = res.bufs?.[k];
    if (out) got.set(out.subarray(0, want.length));
    if (!same(want, got)) return { what: `bufs.${k}`, expected: want, actual: out ?? input ?? null };
  }
  return undefined;
}

export interface ReplayOptions {
  kernel?: KernelVersion;
  /** Stop at the first divergence (default: go on, counting them). */
  stopAtFirst?: boolean;
  onProgress?: (events: number) => void;
  /**
   * When reading the input fails part-way, return the summary of the events
   * before the bad one with `stopped` set, instead of throwing. Only the
   * input's errors: an exception from the model still propagates.
   */
  keepGoing?: boolean;
}

export async function replay(events: AsyncIterable<Event> | Iterable<Event>, opts: ReplayOptions = {}): Promise<ReplaySummary> {
  let w = emptyWorld({ kernel: opts.kernel ?? '6.12' });
  const histogram: Record<string, number> = {};
  const byOp: Record<string, { events: number; divergences: number }> = table({});
  const recent: { index: number; op: string; errno: string | number; pid: number }[] = [];
  let n = 0;
  let verified = 0;
  let divergences = 0;
  let first: Divergence | null = null;
  const t0 = performance.now();
  let stopped: { error: Error } | undefined;
  const it = Symbol.asyncIterator in (events as object) ? (events as AsyncIterable<Event>)[Symbol.asyncIterator]() : (events as Iterable<Event>)[Symbol.iterator]();
  // Iterated by hand so that only the input's own errors are caught; whatever ends the loop early
  // (the first divergence, an exception from the model) closes the input as `for await` would.
  let finished = false;
  try {
    for (;;) {
      let next: IteratorResult<Event>;
      try {
        next = await it.next();
      } catch (e) {
        if (!opts.keepGoing) throw e;
        stopped = { error: e instanceof Error ? e : new Error(String(e)) };
        finished = true;
        break;
      }
      if (next.done) {
        finished = true;
        break;
      }
      const ev = next.value;
      const { state, result } = apply(w, ev);
      w = state;
      const key = String(result.errno);
      histogram[key] = (histogram[key] ?? 0) + 1;
      const o = (byOp[ev.op] ??= { events: 0, divergences: 0 });
      o.events++;
      const d = compare(ev, result);
      if (ev.rec && !d) verified++;
      if (d) {
        divergences++;
        o.divergences++;
        if (!first) {
          const pid = ev.pid ?? 1;
          first = { index: n, op: ev.op, ...(ev.src ? { src: ev.src } : {}), ...d, event: ev, context: recent.filter((r) => r.pid === pid).slice(-12).map(({ pid: _p, ...r }) => r) };
          if (opts.stopAtFirst) {
            n++;
            break;
          }
        }
      }
      recent.push({ index: n, op: ev.op, errno: result.errno, pid: ev.pid ?? 1 });
      if (recent.length > 256) recent.splice(0, 128);
      n++;
      if (opts.onProgress && n % 100000 === 0) opts.onProgress(n);
    }
  } finally {
    if (!finished) await it.return?.();
  }
  const secs = (performance.now() - t0) / 1000;
  return { events: n, verified, divergences, first_divergence: first, errno_histogram: histogram, by_op: byOp, events_per_sec: secs > 0 ? Math.round(n / secs) : 0, state: w, ...(stopped ? { stopped } : {}) };
}
