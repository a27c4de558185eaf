/**
 * The debugger's index over a trace: every step reachable fast, and the
 * history of the run queryable without replaying it.
 *
 * One pass applies every event (the model is the only source of states and
 * answers) and keeps:
 *  - checkpoints: the World every few thousand units of work (worlds are
 *    persistent, so a checkpoint costs only what changed since the previous
 *    one); `stateAt(i)` = nearest checkpoint + replay of at most that much
 *    work, and a window of the states just replayed makes stepping either
 *    way O(1 apply);
 *  - the events, msgpack-encoded in chunks (store.ts);
 *  - per event: op, pid, errno, recorded/diverged flags;
 *  - logs of what each event did, found by comparing the states before
 *    and after at the keys its transactions wrote (model/object.ts and
 *    ds/interval_map.ts record them while an event is indexed; a
 *    structural diff of the two states is the reference and the fallback),
 *    so the cost follows the change: objects created / changed /
 *    destroyed with their lifecycle state, IOVA ranges touched per IOAS/HWPT
 *    (map, unmap, copy, dirty set/clear/read, faults, invalidations, checks,
 *    access), and pin-count changes per page run of every pages object.
 * History queries scan those typed-array logs (milliseconds for 1M events).
 */
import type { Patch } from 'immer';
import type { Event, Fields, Result, Value } from '../events/event.js';
import { apply } from '../engine/apply.js';
import { compare } from '../engine/replay.js';
import type { Source } from '../engine/source.js';
import type { EncodedBatch } from '../trace/index.js';
import { PMap } from '../ds/pmap.js';
import { IntervalMap, U64_MAX } from '../ds/interval_map.js';
import { emptyWorld, type Area, type Ctx, type KernelVersion, type Obj, type Pages, type PinRun, type World } from '../model/state.js';
import { setTouchRecorder, type TouchRecorder } from '../model/object.js';
import { setIntervalTouchRecorder } from '../ds/interval_map.js';
import { canonicalErrno, isErrnoName } from '../uapi/errno.js';
import { EventStore } from './store.js';
import { GrowF64, GrowI32, GrowU16, GrowU64, GrowU8, Interner } from './grow.js';
import { diffIntervals, diffPMap, type IvEntry } from '../ds/diff.js';
import { diffWorlds } from './sdiff.js';
import { lifecycleState } from './lifecycle.js';
import { currentInvariantChecker, currentStepChecker, type Violation } from './invariants_hook.js';
import { defaultBudgetMb, v8Heap, type HeapProbe } from './heap.js';

export const PAGE = 4096n;
const MOCK_IO_PAGE = 2048n;
/** States kept behind the target of a long replay (cheap steps back). */
const WIN_BACK = 256;
/** Checkpoints are thinned when a collection finds more than this share of the budget live (headroom for the next interval's garbage). */
const THIN_AT = 0.8;
/** Checkpoints never thinned below this many (past that the states themselves, not their number, fill the budget). */
const MIN_CHECKPOINTS = 8;
/**
 * A seek that replays more than maxGap events (only on a thinned index)
 * cuts its replay into this many pieces and keeps the states between them
 * as seek checkpoints: the next seek into the same stretch replays a
 * sixteenth of it, and one into that piece a sixteenth again, down to
 * maxGap. Their memory is what changed between them, about the same for 16
 * as for more, but each also copies the B-tree paths above the changed
 * leaves: a few, not one per maxGap events.
 */
const SEEK_SPLITS = 16;
/** One event in this many has its apply timed for the checkpoint backstop (`applyTimed`; a clock read costs ~75 ns, twice an event would be 2% of the build). */
const APPLY_SAMPLE = 16;
/** Dirty-bit changes of one event logged run by run up to this many runs, then as one hull range. */
const DIRTY_RUNS = 64;

export const IOVA_KINDS = ['map', 'unmap', 'area', 'copy-src', 'dirty-set', 'dirty-clear', 'dirty-read', 'fault', 'invalidate', 'check', 'access', 'access-rw'] as const;
export type IovaKind = (typeof IOVA_KINDS)[number];
const K: Record<IovaKind, number> = Object.fromEntries(IOVA_KINDS.map((k, i) => [k, i])) as Record<IovaKind, number>;

export const OBJ_CHANGES = ['created', 'changed', 'destroyed'] as const;
export type ObjChangeKind = (typeof OBJ_CHANGES)[number];

/** Flags per event. */
export const F_RECORDED = 1;
export const F_DIVERGED = 2;
export const F_UNMODELLED = 4;
export const F_CHANGED = 8;

export interface IovaTouch {
  event: number;
  ctx: number;
  /** IOAS or HWPT id the range is in (0 = unknown). */
  space: number;
  kind: IovaKind;
  start: bigint;
  last: bigint;
}

export interface ObjChange {
  event: number;
  ctx: number;
  id: number;
  type: string;
  change: ObjChangeKind;
  /** Lifecycle state after the event. */
  state: string;
}

export interface PinChange {
  event: number;
  ctx: number;
  pages: number;
  /** Page indices [first, last] of the pages object. */
  first: number;
  last: number;
  /** Holders before and after (0 = not pinned). */
  before: number;
  after: number;
  /** Physical identity: memory object and its page index of `first`. */
  mobj: number;
  mobjIndex: number;
  /** User VA (file offset for file pages) of page `first`. */
  va: bigint;
}

export interface DebugIndexOptions {
  kernel?: KernelVersion;
  /** Work units (an event + one per entry it changed) between checkpoints (default 5000, ~1300 VM-trace events). */
  checkpointUnits?: number;
  /**
   * Backstop: the model's own time between checkpoints, in ms of `apply`
   * (default 6), estimated from one event in 16 (`applyTimed`), timed. A
   * seek replays the stretch from a checkpoint, which costs 1.3-2 times what
   * the build measured (an event with 1,000 live mappings: 4.8 against 3.7
   * µs; with 300,000: 14.5-16 against 7.8), and may meet a young-generation
   * collection (6-9 ms with the larger state): 6 ms keeps its seeks under
   * 20 ms.
   */
  checkpointMs?: number;
  /** Never more events than this between checkpoints (default 4096; doubled with the spacing, below). */
  maxGap?: number;
  /**
   * The memory the index may hold, in MiB (default: half V8's heap limit,
   * at most 2048; heap.ts defaultBudgetMb): V8's heap and the
   * array buffers (logs, deflated events) together. Near it, every other
   * checkpoint is dropped and the later ones are placed twice as far apart,
   * as often as it takes (keepBudget): the checkpoints, the part that grows
   * with the size of the state, keep within it, and seeks replay further
   * instead. (The logs and events grow with the trace's length alone, ~100
   * bytes an event: only they, or a state larger than the budget on its
   * own, can take the index past it.)
   */
  memoryMb?: number;
  /** Where heap use is read (default: V8's, heap.ts); tests give their own. */
  heap?: HeapProbe;
  /**
   * How the change logs are found: 'touch' (default) compares before and
   * after at the keys the model's transactions wrote (Tx and IntervalMap
   * touch recorders), 'diff' walks the two states structurally. Both give
   * the same logs (test/unit/debug/logs.test.ts); 'diff' is the reference.
   */
  logs?: 'touch' | 'diff';
}

export interface StepView {
  index: number;
  event: Event;
  before: World;
  after: World;
  result: Result;
}

const EMPTY_OBJS = PMap.emptyNumber<Obj>();
const EMPTY_PAGES = PMap.emptyNumber<Pages>();
const EMPTY_PINS = PMap.emptyNumber<PinRun>();
const EMPTY_AREAS = IntervalMap.empty<Area>();
const EMPTY_DIRTY = PMap.emptyBigint<true>();

function big(v: Value | undefined): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  return 0n;
}
function num(v: Value | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return 0;
}
function member(a: Fields | null, name: string): Fields {
  const m = a?.[name];
  return m && typeof m === 'object' && !Array.isArray(m) && !(m instanceof Uint8Array) ? (m as Fields) : {};
}

/**
 * Events in arrays of up to 1024, for ingestBatches. A source that fails
 * part-way has the events before the bad one indexed first.
 */
async function* batched(events: AsyncIterable<Event> | Iterable<Event>): AsyncGenerator<Event[]> {
  let b: Event[] = [];
  try {
    for await (const ev of events) {
      b.push(ev);
      if (b.length === 1024) {
        yield b;
        b = [];
      }
    }
  } catch (e) {
    if (b.length) yield b;
    throw e;
  }
  if (b.length) yield b;
}

type AreaDiff = (a: IntervalMap<Area>, b: IntervalMap<Area>, fn: (start: bigint, before: IvEntry<Area> | undefined, after: IvEntry<Area> | undefined) => void) => void;

/** `xs` sorted by `cmp` with repeats removed, in place. */
function sortDistinct<T>(xs: T[], cmp: (a: T, b: T) => number): T[] {
  xs.sort(cmp);
  let n = xs.length ? 1 : 0;
  for (let k = 1; k < xs.length; k++) if (xs[k] !== xs[n - 1]) xs[n++] = xs[k]!;
  xs.length = n;
  return xs;
}
const byNumber = (a: number, b: number) => a - b;
const byBigint = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** The distinct keys recorded for context `ctx` in a flat [ctx, key, ...] list, ascending. */
function keysOf(flat: readonly number[], ctx: number): number[] {
  const out: number[] = [];
  let sorted = true;
  for (let k = 0; k < flat.length; k += 2)
    if (flat[k] === ctx) {
      const key = flat[k + 1]!;
      if (out.length) {
        const prev = out[out.length - 1]!;
        if (key === prev) continue; // the same key written twice in a row: the usual repeat
        if (key < prev) sorted = false;
      }
      out.push(key);
    }
  return sorted ? out : sortDistinct(out, byNumber);
}

/** The contexts a transaction wrote in (ascending, distinct): nearly always one, so repeats are skipped as they come. */
function ctxsOf(t: TouchRecorder): number[] {
  const out: number[] = [];
  for (const flat of [t.objs, t.pages]) for (let k = 0; k < flat.length; k += 2) if (!out.includes(flat[k]!)) out.push(flat[k]!);
  for (const c of t.whole) if (!out.includes(c)) out.push(c);
  return out.length > 1 ? out.sort(byNumber) : out;
}

/** Distinct recorded interval starts, ascending. */
function sortedStarts(starts: readonly bigint[]): readonly bigint[] {
  return starts.length < 2 ? starts : sortDistinct([...starts], byBigint);
}

/** The interval starting exactly at `s` (an Interval is a diff entry: it has `last` and `value`). */
function entryAt(m: IntervalMap<Area>, s: bigint): IvEntry<Area> | undefined {
  const f = m.find(s);
  return f && f.start === s ? f : undefined;
}

/** Log of IOVA touches (columns). */
class IovaLog {
  ev = new GrowI32();
  ctx = new GrowU16();
  space = new GrowI32();
  kind = new GrowU8();
  start = new GrowU64();
  last = new GrowU64();
  get length() {
    return this.ev.length;
  }
  push(ev: number, ctx: number, space: number, kind: number, start: bigint, last: bigint) {
    if (start < 0n || last < start) return;
    if (last > U64_MAX) last = U64_MAX;
    this.ev.push(ev);
    this.ctx.push(ctx);
    this.space.push(space);
    this.kind.push(kind);
    this.start.push(start);
    this.last.push(last);
  }
  row(i: number): IovaTouch {
    return { event: this.ev.get(i), ctx: this.ctx.get(i), space: this.space.get(i), kind: IOVA_KINDS[this.kind.get(i)]!, start: this.start.get(i), last: this.last.get(i) };
  }
  get bytes() {
    return this.ev.bytes + this.ctx.bytes + this.space.bytes + this.kind.bytes + this.start.bytes + this.last.bytes;
  }
}

class ObjLog {
  ev = new GrowI32();
  ctx = new GrowU16();
  id = new GrowI32();
  change = new GrowU8();
  type = new GrowU8();
  state = new GrowU16();
  get length() {
    return this.ev.length;
  }
  get bytes() {
    return this.ev.bytes + this.ctx.bytes + this.id.bytes + this.change.bytes + this.type.bytes + this.state.bytes;
  }
}

class PinLog {
  ev = new GrowI32();
  ctx = new GrowU16();
  pages = new GrowI32();
  first = new GrowI32();
  last = new GrowI32();
  before = new GrowI32();
  after = new GrowI32();
  mobj = new GrowI32();
  mobjIndex = new GrowI32();
  /** Page-aligned VA as a double (exact below 2^53, i.e. for every user VA). */
  va = new GrowF64();
  get length() {
    return this.ev.length;
  }
  /** One row: pages `first..last` of pages object `pages`, whose base VA (or file offset) is `base`. */
  push(ev: number, ctx: number, pages: number, first: number, last: number, before: number, after: number, mobj: number, mobjIndex: number, base: bigint): void {
    this.ev.push(ev);
    this.ctx.push(ctx);
    this.pages.push(pages);
    this.first.push(first);
    this.last.push(last);
    this.before.push(before);
    this.after.push(after);
    this.mobj.push(mobj);
    this.mobjIndex.push(mobjIndex);
    // Below 2^53 both terms are exact doubles and the one rounding of the sum is Number()'s of the exact sum.
    this.va.push(base < 9007199254740992n ? Number(base) + first * 4096 : Number(base + BigInt(first) * PAGE));
  }
  row(i: number): PinChange {
    return {
      event: this.ev.get(i),
      ctx: this.ctx.get(i),
      pages: this.pages.get(i),
      first: this.first.get(i),
      last: this.last.get(i),
      before: this.before.get(i),
      after: this.after.get(i),
      mobj: this.mobj.get(i),
      mobjIndex: this.mobjIndex.get(i),
      va: BigInt(this.va.get(i)),
    };
  }
  get bytes() {
    return [this.ev, this.ctx, this.pages, this.first, this.last, this.before, this.after, this.mobj, this.mobjIndex, this.va].reduce((s, g) => s + g.bytes, 0);
  }
}

/** First index in a sorted (ascending) column view, or the seek checkpoints' positions, with value >= x. */
function lowerBound(a: Int32Array | readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

export class DebugIndex {
  readonly kernel: KernelVersion;
  readonly store = new EventStore();
  readonly checkpointMs: number;
  readonly checkpointUnits: number;
  readonly maxGap: number;
  readonly logMode: 'touch' | 'diff';
  /** What the event being indexed wrote (reset before each apply). */
  private readonly touch: TouchRecorder = { objs: [], pages: [], whole: [] };
  private starts: bigint[] = [];

  private readonly ops = new Interner();
  private readonly errnos = new Interner('0');
  private readonly types = new Interner();
  private readonly states = new Interner();
  private readonly opCol = new GrowU16();
  private readonly pidCol = new GrowI32();
  private readonly errnoCol = new GrowU16();
  private readonly flagCol = new GrowU8();

  private cpAt = new GrowI32(256);
  private cpState: World[] = [];
  /**
   * Seek checkpoints: states a long replay passed through, sorted by
   * position, at most as many as the index's own. Dropped least recently
   * used first: one to make room for a new one, half when the heap in use is
   * over the budget (addSeekCheckpoint), all before the index's own are
   * thinned (keepBudget).
   */
  private seekAt: number[] = [];
  private seekState: World[] = [];
  private seekUsed: number[] = [];
  private seekClock = 0;
  /** Events applied by seeks (stateAt) so far: what seeking has cost. */
  replayed = 0;
  readonly memoryBudget: number;
  private readonly heap: HeapProbe;
  /** Heap use (bytes) past which the next checkpoint asks for a collection to see what is live. */
  private heapGate: number;
  /** Checkpoint spacing as a multiple of the configured one (doubled by each thinning). */
  private spacingFactor = 1;
  /** Times the checkpoints were thinned to keep the budget. */
  thinnings = 0;
  /** Full collections asked for to see what is live (each one a pause of the whole heap). */
  heapCollections = 0;
  readonly iova = new IovaLog();
  readonly objs = new ObjLog();
  readonly pins = new PinLog();

  private n = 0;
  private finished = false;
  private firstDiv = -1;
  private finalState: World;
  private initial: World;
  /** States after events [winFrom, winFrom + win.length): the replay window. */
  private winFrom = 0;
  private win: World[] = [];
  /** Wall time of the index build (ms). */
  buildMs = 0;
  error: Error | null = null;

  constructor(opts: DebugIndexOptions = {}) {
    this.kernel = opts.kernel ?? '6.12';
    this.checkpointMs = opts.checkpointMs ?? 6;
    this.checkpointUnits = opts.checkpointUnits ?? 5000;
    this.maxGap = opts.maxGap ?? 4096;
    const mb = opts.memoryMb ?? defaultBudgetMb();
    if (!(mb > 0 && Number.isFinite(mb))) throw new RangeError(`DebugIndex: memoryMb must be a positive number of MiB, got ${mb}`);
    this.memoryBudget = mb * 1048576;
    this.heap = opts.heap ?? v8Heap;
    this.heapGate = this.memoryBudget;
    this.logMode = opts.logs ?? 'touch';
    this.initial = emptyWorld({ kernel: this.kernel });
    this.finalState = this.initial;
    this.cpAt.push(0);
    this.cpState.push(this.initial);
    this.win = [this.initial];
  }

  /** Builds an index over a whole event sequence. */
  static async build(events: AsyncIterable<Event> | Iterable<Event>, opts: DebugIndexOptions & { onProgress?: (n: number) => void } = {}): Promise<DebugIndex> {
    const ix = new DebugIndex(opts);
    await ix.ingest(events, opts.onProgress);
    return ix;
  }

  /**
   * Applies and indexes events; yields to the event loop every ~30 ms so a
   * server can answer (the part indexed so far is usable while it runs).
   */
  async ingest(events: AsyncIterable<Event> | Iterable<Event>, onProgress?: (n: number) => void): Promise<void> {
    return this.ingestBatches(batched(events), onProgress);
  }

  /** Indexes an opened source, by blocks when it has them (with their bytes, for the event store, when it has those). */
  ingestSource(src: Pick<Source, 'events' | 'batches' | 'encodedBatches'>, onProgress?: (n: number) => void): Promise<void> {
    const batches = src.encodedBatches ?? src.batches;
    return batches ? this.ingestBatches(batches, onProgress) : this.ingest(src.events, onProgress);
  }

  /**
   * The same, from events in batches (a trace reader's decoded blocks): no
   * promise per event. A batch that comes with its encoded bytes hands them
   * to the event store, which then need not encode its events again.
   */
  async ingestBatches(
    batches: AsyncIterable<readonly Event[] | EncodedBatch> | Iterable<readonly Event[] | EncodedBatch>,
    onProgress?: (n: number) => void,
  ): Promise<void> {
    const t0 = performance.now();
    let w = this.finalState;
    let sinceMs = 0;
    let sinceN = 0;
    let sinceUnits = 0;
    let slice = performance.now();
    type Batch = readonly Event[] | EncodedBatch;
    const isAsync = Symbol.asyncIterator in (batches as object);
    const it = isAsync ? (batches as AsyncIterable<Batch>)[Symbol.asyncIterator]() : null;
    const sit = isAsync ? null : (batches as Iterable<Batch>)[Symbol.iterator]();
    try {
      for (;;) {
        const r = it ? await it.next() : sit!.next();
        if (r.done) break;
        const batch = 'events' in r.value ? r.value.events : r.value;
        const encoded = 'events' in r.value ? r.value.encoded : null;
        if (encoded) {
          await this.store.settle();
          this.store.pushEncoded(batch, encoded);
        }
        for (let b = 0; b < batch.length; b++) {
          const ev = batch[b]!;
          const i = this.n;
          // Where to checkpoint: every `checkpointUnits` units of work, a unit
          // being one event plus one per entry it changed (objects, IOVA
          // ranges, pin runs: what replaying it costs, roughly). Counting work
          // instead of timing it keeps the spacing, and so memory and seek
          // cost, the same however loaded the machine is. But an entry costs
          // more in a larger state (deeper trees, more cache misses: 7.8 µs an
          // event with 300,000 live mappings, 3.7 µs with 1,000, for the same
          // units), so the model's own time is the backstop: timed on a sample
          // of the events, it is what a seek into the stretch will replay. (On
          // the VM trace it decides one gap in twenty with the cores free; on
          // a machine loaded twice over, most: more checkpoints, not slower seeks.)
          const f = this.spacingFactor;
          if (i > 0 && (sinceUnits >= this.checkpointUnits * f || sinceMs >= this.checkpointMs * f || sinceN >= this.maxGap * f)) {
            this.cpAt.push(i);
            this.cpState.push(w);
            sinceMs = 0;
            sinceN = 0;
            sinceUnits = 0;
            this.keepBudget();
          }
          const logged = this.iova.length + this.objs.length + this.pins.length;
          const timed = applyTimed(i);
          const a0 = timed ? performance.now() : 0;
          const { state, result } = this.logMode === 'touch' ? this.applyTouched(w, ev) : apply(w, ev);
          if (timed) sinceMs += (performance.now() - a0) * APPLY_SAMPLE;
          sinceN++;
          if (!encoded) this.store.push(ev);
          this.opCol.push(this.ops.code(ev.op));
          this.pidCol.push(ev.pid ?? 1);
          this.errnoCol.push(this.errnos.code(String(result.errno)));
          let flags = 0;
          if (ev.rec) flags |= F_RECORDED;
          if (result.unmodelled) flags |= F_UNMODELLED;
          if (state !== w) flags |= F_CHANGED;
          if (ev.rec || result.unmodelled) {
            if (compare(ev, result)) {
              flags |= F_DIVERGED;
              if (this.firstDiv < 0) this.firstDiv = i;
            }
          }
          this.flagCol.push(flags);
          if (state !== w) {
            if (this.logMode === 'touch') this.recordTouched(i, w, state);
            else this.recordState(i, w, state);
          }
          this.recordArgs(i, ev, w, result);
          sinceUnits += 1 + this.iova.length + this.objs.length + this.pins.length - logged;
          w = state;
          this.n++;
          this.finalState = w;
          if ((i & 127) === 0 && performance.now() - slice > 30) {
            if (onProgress) onProgress(this.n);
            await new Promise((res) => setImmediate(res));
            slice = performance.now();
          }
        }
      }
      await this.store.finish();
      this.trim();
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
      await this.store.finish().catch(() => undefined);
      throw e;
    } finally {
      this.finished = true;
      this.buildMs += performance.now() - t0;
      if (onProgress) onProgress(this.n);
    }
  }

  /**
   * At each checkpoint: when memory in use is over the budget, collect, and
   * when more than THIN_AT of the budget is then live, drop every other
   * checkpoint (the first and the newest stay) and double the spacing. A
   * checkpoint costs what changed since the one before it, so on a trace
   * with a large state under random churn (hundreds of thousands of live
   * mappings) the checkpoints' own trees fill memory at a steady rate
   * whatever their spacing, until it is wide enough for them to share most
   * of their nodes: the doubling repeats, each round after a collection
   * shows the last one was not enough. A 4.5M-event trace with 300k live
   * mappings ran V8 out of heap before this (README, "Memory on large
   * states").
   */
  private keepBudget(): void {
    if (this.heap.used() <= this.heapGate) return;
    const live = this.heap.live();
    this.heapCollections++;
    if (live > this.memoryBudget * THIN_AT && this.seekAt.length > 0) {
      // the seeks' checkpoints go first: they cost a replay to make again, the index's own a thinning for good
      this.dropSeekCheckpoints(this.seekAt.length);
      this.heapGate = this.memoryBudget;
      return;
    }
    if (live > this.memoryBudget * THIN_AT && this.cpAt.length > MIN_CHECKPOINTS) {
      this.thin();
      // the next checkpoint collects again and sees what the thinning freed: thin again if not enough
      this.heapGate = this.memoryBudget;
      return;
    }
    // Under the budget, or what is live is not the checkpoints (the newest states, the logs): the
    // next collection waits for another quarter of the budget in use, not for the next checkpoint.
    this.heapGate = Math.max(this.memoryBudget, live + this.memoryBudget / 4);
  }

  /** Keeps checkpoint 0 and every other one counted back from the newest; later ones twice as far apart. */
  private thin(): void {
    const at = this.cpAt;
    const last = at.length - 1;
    const keptAt = new GrowI32(Math.max(256, at.length));
    const keptState: World[] = [];
    for (let k = 0; k <= last; k++)
      if (k === 0 || (last - k) % 2 === 0) {
        keptAt.push(at.get(k));
        keptState.push(this.cpState[k]!);
      }
    this.cpAt = keptAt;
    this.cpState = keptState;
    this.spacingFactor *= 2;
    this.thinnings++;
  }

  /**
   * Keeps a state a seek passed through (`i` is not a checkpoint yet), or
   * says there is no room (false: the seek keeps no more). No collection is
   * forced here: at a saturated budget one per seek checkpoint took longer
   * than the replays it saved (450 ms each on a 500 MiB heap). Instead they
   * are at most as many as the index's own checkpoints (the last thinning
   * freed room for that many, each covering a longer stretch), and a heap
   * in use over the budget, collected or not, drops half of them.
   */
  private addSeekCheckpoint(i: number, w: World): boolean {
    if (this.heap.used() > this.memoryBudget) {
      this.dropSeekCheckpoints(Math.ceil(this.seekAt.length / 2));
      return false;
    }
    if (this.seekAt.length >= this.cpAt.length) this.dropSeekCheckpoints(1);
    const q = lowerBound(this.seekAt, i + 1);
    this.seekAt.splice(q, 0, i);
    this.seekState.splice(q, 0, w);
    this.seekUsed.splice(q, 0, ++this.seekClock);
    return true;
  }

  /** Drops the `count` least recently used seek checkpoints. */
  private dropSeekCheckpoints(count: number): void {
    if (count >= this.seekAt.length) {
      this.seekAt = [];
      this.seekState = [];
      this.seekUsed = [];
      return;
    }
    const cut = [...this.seekUsed].sort((a, b) => a - b)[count - 1]!;
    const keep = this.seekUsed.map((u) => u > cut);
    this.seekAt = this.seekAt.filter((_, k) => keep[k]);
    this.seekState = this.seekState.filter((_, k) => keep[k]);
    this.seekUsed = this.seekUsed.filter((_, k) => keep[k]);
  }

  /** Where the index's own checkpoints are (the state before each of these events), ascending. */
  checkpointPositions(): number[] {
    return Array.from(this.cpAt.view());
  }

  /** States kept by seeks as checkpoints (on a thinned index; dropped first when memory runs short). */
  get seekCheckpoints(): number {
    return this.seekAt.length;
  }

  /** Events apart that checkpoints are now placed, as a multiple of the configured spacing (1 until the budget was reached). */
  get checkpointSpacing(): number {
    return this.spacingFactor;
  }

  private trim(): void {
    for (const g of [this.opCol, this.pidCol, this.errnoCol, this.flagCol, this.cpAt]) g.trim();
    for (const L of [this.iova, this.objs, this.pins] as unknown as Record<string, unknown>[])
      for (const g of Object.values(L)) if (g && typeof (g as { trim?: unknown }).trim === 'function') (g as { trim(): void }).trim();
  }

  /** Events indexed so far. */
  get length(): number {
    return this.n;
  }
  get done(): boolean {
    return this.finished;
  }
  get checkpoints(): number {
    return this.cpAt.length;
  }
  get firstDivergence(): number {
    return this.firstDiv;
  }

  /** Approximate bytes of the index's own columns and logs (not the checkpoint worlds). */
  get columnBytes(): number {
    return this.opCol.bytes + this.pidCol.bytes + this.errnoCol.bytes + this.flagCol.bytes + this.iova.bytes + this.objs.bytes + this.pins.bytes + this.store.encodedBytes;
  }

  // ------------------------------------------------------------ per event

  event(i: number): Event {
    return this.store.get(i);
  }
  op(i: number): string {
    return this.ops.name(this.opCol.get(i));
  }
  pid(i: number): number {
    return this.pidCol.get(i);
  }
  /** The model's errno for event i (0 = success). */
  errno(i: number): string | 0 {
    const s = this.errnos.name(this.errnoCol.get(i));
    return s === '0' ? 0 : s;
  }
  flags(i: number): number {
    return this.flagCol.get(i);
  }
  /** Distinct errno names seen (without success). */
  errnoNames(): string[] {
    return this.errnos.names.filter((s) => s !== '0');
  }
  opNames(): string[] {
    return [...this.ops.names];
  }

  // ------------------------------------------------------------ states

  private checkIndex(i: number, max: number, what: string): void {
    if (!Number.isInteger(i) || i < 0 || i > max) throw new RangeError(`${what}(${i}): index outside 0..${max}`);
  }

  /** The state after the first `i` events (0 = the initial state). */
  stateAt(i: number): World {
    this.checkIndex(i, this.n, 'stateAt');
    const wEnd = this.winFrom + this.win.length; // exclusive
    if (i >= this.winFrom && i < wEnd) return this.win[i - this.winFrom]!;
    if (i === this.n && this.finished) return this.finalState;
    const cpos = lowerBound(this.cpAt.view(), i + 1) - 1;
    let from = this.cpAt.get(cpos);
    let fromState = this.cpState[cpos]!;
    const q = lowerBound(this.seekAt, i + 1) - 1;
    if (q >= 0 && this.seekAt[q]! > from) {
      from = this.seekAt[q]!;
      fromState = this.seekState[q]!;
      this.seekUsed[q] = ++this.seekClock;
    }
    if (!(wEnd - 1 >= from && i >= wEnd && this.win.length < 8192)) {
      this.winFrom = from;
      this.win = [fromState];
    }
    let w = this.win[this.win.length - 1]!;
    let k = this.winFrom + this.win.length - 1;
    const k0 = k;
    // (only a thinned index has gaps over maxGap: SEEK_SPLITS)
    let stride = i - k > this.maxGap ? Math.max(this.maxGap, Math.ceil((i - k) / SEEK_SPLITS)) : 0;
    this.replayed += i - k;
    if (i - k > WIN_BACK) {
      // A long replay keeps only the last WIN_BACK states (stepping back further is another seek):
      // every state kept survives the young generation, and keeping a whole checkpoint interval's
      // worth made each seek promote megabytes and the collections that follow slow the next seeks.
      while (k < i - WIN_BACK) {
        w = apply(w, this.store.get(k)).state;
        k++;
        if (stride && (k - k0) % stride === 0 && !this.addSeekCheckpoint(k, w)) stride = 0;
      }
      this.winFrom = k;
      this.win = [w];
    }
    while (k < i) {
      w = apply(w, this.store.get(k)).state;
      k++;
      this.win.push(w);
      if (stride && (k - k0) % stride === 0 && k < i && !this.addSeekCheckpoint(k, w)) stride = 0;
    }
    return w;
  }

  /** Event i with the states around it and the model's answer. */
  step(i: number): StepView {
    this.checkIndex(i, this.n - 1, 'step');
    const before = this.stateAt(i);
    const event = this.store.get(i);
    const r = apply(before, event);
    // keep the window consistent: the state after i is r.state
    if (this.winFrom + this.win.length === i + 1) this.win.push(r.state);
    return { index: i, event, before, after: this.winFrom <= i + 1 && i + 1 < this.winFrom + this.win.length ? this.win[i + 1 - this.winFrom]! : r.state, result: r.result };
  }

  resultAt(i: number): Result {
    return this.step(i).result;
  }

  /**
   * What event i changed, as immer patches (structural: cost follows the
   * change). With `limit`, at most that many patches are built; `counted`
   * receives the total.
   */
  patchesAt(i: number, limit = Infinity, counted?: { total: number }): Patch[] {
    const s = this.step(i);
    return diffWorlds(s.before, s.after, [], [], limit, counted);
  }

  /** The divergence of event i from its recorded result, if any. */
  divergenceAt(i: number): ReturnType<typeof compare> {
    const s = this.step(i);
    return compare(s.event, s.result);
  }

  // ------------------------------------------------------------ logs

  /** apply() with the touch recorders installed (only around the call: a seek meanwhile records nothing). */
  private applyTouched(w: World, ev: Event): ReturnType<typeof apply> {
    // fresh lists (cheaper than truncating the old ones)
    const t = this.touch;
    t.objs = [];
    t.pages = [];
    t.whole = [];
    this.starts = [];
    const prevT = setTouchRecorder(t);
    const prevS = setIntervalTouchRecorder(this.starts);
    try {
      return apply(w, ev);
    } finally {
      setTouchRecorder(prevT);
      setIntervalTouchRecorder(prevS);
    }
  }

  /**
   * The logs of one event from what it wrote: the same rows as recordState,
   * found by comparing before and after at the written keys instead of
   * walking both states. A context created, destroyed or replaced whole,
   * or an interval map built whole, takes the structural path.
   */
  private recordTouched(i: number, w: World, w2: World): void {
    const t = this.touch;
    // Contexts come and go outside transactions (open, close, exit): then
    // the context table is walked. Otherwise only the contexts a
    // transaction wrote in can have changed objects or pages objects.
    if (w.nextCtx !== w2.nextCtx || w.ctxs.size !== w2.ctxs.size) {
      diffPMap(w.ctxs, w2.ctxs, (ctxId, c1, c2) => this.recordTouchedCtx(i, ctxId, c1, c2));
      return;
    }
    for (const ctxId of ctxsOf(t)) {
      const c1 = w.ctxs.get(ctxId);
      const c2 = w2.ctxs.get(ctxId);
      if (c1 !== c2) this.recordTouchedCtx(i, ctxId, c1, c2);
    }
  }

  private recordTouchedCtx(i: number, ctxId: number, c1: Ctx | undefined, c2: Ctx | undefined): void {
    const t = this.touch;
    const starts = this.starts;
    if (!c1 || !c2 || t.whole.includes(ctxId) || starts.includes(-1n)) return this.recordCtx(i, ctxId, c1, c2);
    if (c1.objs !== c2.objs)
      for (const id of keysOf(t.objs, ctxId)) {
        const o1 = c1.objs.get(id);
        const o2 = c2.objs.get(id);
        if (o1 === o2) continue;
        this.logObj(i, ctxId, id, o1, o2, c2, (a1, a2, fn) => {
          // a new IOAS has no areas yet, a destroyed one none left: only changed maps use the starts
          if (a1 === EMPTY_AREAS || a2 === EMPTY_AREAS) return diffIntervals(a1, a2, fn);
          for (const s of sortedStarts(starts)) {
            const x = entryAt(a1, s);
            const y = entryAt(a2, s);
            if (x === y) continue;
            if (x && y && x.last === y.last && x.value === y.value) continue;
            fn(s, x, y);
          }
        });
      }
    if (c1.pages !== c2.pages)
      for (const pid of keysOf(t.pages, ctxId)) {
        const x = c1.pages.get(pid);
        const y = c2.pages.get(pid);
        if (x !== y && x?.pinned !== y?.pinned) this.recordPins(i, ctxId, pid, x, y);
      }
  }

  private recordState(i: number, w: World, w2: World): void {
    diffPMap(w.ctxs, w2.ctxs, (ctxId, c1, c2) => this.recordCtx(i, ctxId, c1, c2));
  }

  private recordCtx(i: number, ctxId: number, c1: Ctx | undefined, c2: Ctx | undefined): void {
    const objs1 = c1?.objs ?? EMPTY_OBJS;
    const objs2 = c2?.objs ?? EMPTY_OBJS;
    if (objs1 !== objs2) diffPMap(objs1, objs2, (id, o1, o2) => this.logObj(i, ctxId, id, o1, o2, c2, diffIntervals));
    const p1 = c1?.pages ?? EMPTY_PAGES;
    const p2 = c2?.pages ?? EMPTY_PAGES;
    if (p1 !== p2)
      diffPMap(p1, p2, (pid, x, y) => {
        if (x?.pinned !== y?.pinned) this.recordPins(i, ctxId, pid, x, y);
      });
  }

  /** The rows of one changed object: its change and lifecycle state, and for an IOAS its area changes (found by `areaDiff`). */
  private logObj(i: number, ctxId: number, id: number, o1: Obj | undefined, o2: Obj | undefined, c2: Ctx | undefined, areaDiff: AreaDiff): void {
    const o = (o2 ?? o1)!;
    const L = this.objs;
    L.ev.push(i);
    L.ctx.push(ctxId);
    L.id.push(id);
    L.change.push(!o1 ? 0 : !o2 ? 2 : 1);
    L.type.push(this.types.code(o.type));
    L.state.push(this.states.code(o2 ? lifecycleState(o2, c2) : 'destroyed'));
    if (o.type === 'ioas') {
      const a1 = o1?.type === 'ioas' ? o1.iopt.areas : EMPTY_AREAS;
      const a2 = o2?.type === 'ioas' ? o2.iopt.areas : EMPTY_AREAS;
      if (a1 !== a2)
        areaDiff(a1, a2, (s, x, y) => {
          if (x && y && x.last === y.last) this.iova.push(i, ctxId, id, K.area, s, y.last);
          else {
            if (x) this.iova.push(i, ctxId, id, K.unmap, s, x.last);
            if (y) this.iova.push(i, ctxId, id, K.map, s, y.last);
          }
        });
    } else if (o.type === 'hwpt_paging') {
      const d1 = o1?.type === 'hwpt_paging' ? o1.domain.dirty : EMPTY_DIRTY;
      const d2 = o2?.type === 'hwpt_paging' ? o2.domain.dirty : EMPTY_DIRTY;
      if (d1 !== d2) this.recordDirty(i, ctxId, id, d1, d2);
    }
  }

  private recordDirty(i: number, ctx: number, hwpt: number, d1: PMap<bigint, true>, d2: PMap<bigint, true>): void {
    const set: bigint[] = [];
    const clr: bigint[] = [];
    diffPMap(d1, d2, (slot, x) => (x ? clr : set).push(slot));
    for (const [list, kind] of [
      [set, K['dirty-set']],
      [clr, K['dirty-clear']],
    ] as const) {
      const runs: [bigint, bigint][] = [];
      for (let a = 0; a < list.length; ) {
        let b = a;
        while (b + 1 < list.length && list[b + 1]! === list[b]! + 1n) b++;
        runs.push([list[a]! * MOCK_IO_PAGE, (list[b]! + 1n) * MOCK_IO_PAGE - 1n]);
        a = b + 1;
      }
      // a scattered bitmap is logged as its hull past DIRTY_RUNS runs (keeps the log small)
      if (runs.length > DIRTY_RUNS) this.iova.push(i, ctx, hwpt, kind, runs[0]![0], runs[runs.length - 1]![1]);
      else for (const [a, b] of runs) this.iova.push(i, ctx, hwpt, kind, a, b);
    }
  }

  private recordPins(i: number, ctx: number, pagesId: number, x: Pages | undefined, y: Pages | undefined): void {
    type R = { s: number; last: number; count: number; mobj: number; mobjIndex: number };
    const p1 = x?.pinned ?? EMPTY_PINS;
    const p2 = y?.pinned ?? EMPTY_PINS;
    const base = (y ?? x)!.base;
    if (p1.size === 0 || p2.size === 0) {
      // The common case (a pages object's first pins, or its last going): the
      // runs of one side are the changed ranges, merged as the general walk below would.
      const gone = p1.size !== 0;
      let first = -1;
      let last = 0;
      let count = 0;
      let mobj = 0;
      let mobjIndex = 0;
      (gone ? p1 : p2).each((s, r) => {
        if (first >= 0 && last + 1 === s && count === r.count && mobj === r.mobj && mobjIndex + (s - first) === r.mobjIndex) {
          last = r.last;
          return true;
        }
        if (first >= 0) this.pins.push(i, ctx, pagesId, first, last, gone ? count : 0, gone ? 0 : count, mobj, mobjIndex, base);
        first = s;
        last = r.last;
        count = r.count;
        mobj = r.mobj;
        mobjIndex = r.mobjIndex;
        return true;
      });
      if (first >= 0) this.pins.push(i, ctx, pagesId, first, last, gone ? count : 0, gone ? 0 : count, mobj, mobjIndex, base);
      return;
    }
    const before: R[] = [];
    const after: R[] = [];
    diffPMap(p1, p2, (s, r1, r2) => {
      if (r1) before.push({ s, last: r1.last, count: r1.count, mobj: r1.mobj, mobjIndex: r1.mobjIndex });
      if (r2) after.push({ s, last: r2.last, count: r2.count, mobj: r2.mobj, mobjIndex: r2.mobjIndex });
    });
    const pts = new Set<number>();
    for (const r of [...before, ...after]) (pts.add(r.s), pts.add(r.last + 1));
    const points = [...pts].sort((a, b) => a - b);
    const cover = (list: R[], p: number): R | undefined => list.find((r) => r.s <= p && p <= r.last);
    let open: PinChange | null = null;
    const flush = () => {
      if (!open) return;
      this.pins.push(i, ctx, pagesId, open.first, open.last, open.before, open.after, open.mobj, open.mobjIndex, base);
      open = null;
    };
    for (let k = 0; k + 1 < points.length; k++) {
      const p = points[k]!;
      const q = points[k + 1]! - 1;
      const rb = cover(before, p);
      const ra = cover(after, p);
      const cb = rb?.count ?? 0;
      const ca = ra?.count ?? 0;
      if (cb === ca) {
        flush();
        continue;
      }
      const src = ra ?? rb!;
      const mobjIndex = src.mobjIndex + (p - src.s);
      const o = open as PinChange | null;
      if (o && o.last + 1 === p && o.before === cb && o.after === ca && o.mobj === src.mobj && o.mobjIndex + (p - o.first) === mobjIndex) {
        o.last = q;
        continue;
      }
      flush();
      open = { event: i, ctx, pages: pagesId, first: p, last: q, before: cb, after: ca, mobj: src.mobj, mobjIndex, va: 0n };
    }
    flush();
  }

  /** IOVA ranges an event names in its arguments (reads, and attempts that failed). */
  private recordArgs(i: number, ev: Event, w: World, res: Result): void {
    const a = ev.args;
    if (!a) return;
    const op = ev.op;
    const failed = res.errno !== 0;
    const ctx = ctxOf(w, ev);
    const L = this.iova;
    const range = (space: number, kind: number, start: bigint, length: bigint) => {
      if (length > 0n) L.push(i, ctx, space, kind, start, start + length - 1n);
    };
    switch (op) {
      case 'IOMMU_IOAS_MAP':
      case 'IOMMU_IOAS_MAP_FILE':
        if (failed && num(a['flags']) & 1) range(num(a['ioas_id']), K.map, big(a['iova']), big(a['length']));
        return;
      case 'IOMMU_IOAS_UNMAP':
        if (failed) range(num(a['ioas_id']), K.unmap, big(a['iova']), big(a['length']));
        return;
      case 'IOMMU_IOAS_COPY':
        range(num(a['src_ioas_id']), K['copy-src'], big(a['src_iova']), big(a['length']));
        if (failed && num(a['flags']) & 1) range(num(a['dst_ioas_id']), K.map, big(a['dst_iova']), big(a['length']));
        return;
      case 'IOMMU_HWPT_GET_DIRTY_BITMAP':
        range(num(a['hwpt_id']), K['dirty-read'], big(a['iova']), big(a['length']));
        return;
      case 'IOMMU_HWPT_INVALIDATE':
        L.push(i, ctx, num(a['hwpt_id']), K.invalidate, 0n, U64_MAX);
        return;
      case 'IOMMU_TEST_OP_DIRTY': {
        const m = member(a, 'dirty');
        if (failed) range(num(a['id']), K['dirty-set'], big(m['iova']), big(m['length']));
        return;
      }
      case 'IOMMU_TEST_OP_MD_CHECK_MAP': {
        const m = member(a, 'check_map');
        range(num(a['id']), K.check, big(m['iova']), big(m['length']));
        return;
      }
      case 'IOMMU_TEST_OP_ACCESS_PAGES':
      case 'IOMMU_TEST_OP_ACCESS_RW': {
        const m = member(a, op === 'IOMMU_TEST_OP_ACCESS_RW' ? 'access_rw' : 'access_pages');
        range(accessIoas(w, ev, num(a['id'])), op === 'IOMMU_TEST_OP_ACCESS_RW' ? K['access-rw'] : K.access, big(m['iova']), big(m['length']));
        return;
      }
      case 'IOMMU_TEST_OP_TRIGGER_IOPF': {
        const m = member(a, 'trigger_iopf');
        const addr = big(m['addr']);
        const dev = ctx ? w.ctxs.get(ctx)?.objs.get(num(m['dev_id'])) : undefined;
        L.push(i, ctx, dev?.type === 'device' ? dev.hwpt : 0, K.fault, addr, addr | (PAGE - 1n));
        return;
      }
      case 'VFIO_IOMMU_MAP_DMA':
      case 'VFIO_IOMMU_UNMAP_DMA': {
        if (!failed) return;
        const c = ctx ? w.ctxs.get(ctx) : undefined;
        range(c?.vfioIoas ?? 0, op === 'VFIO_IOMMU_MAP_DMA' ? K.map : K.unmap, big(a['iova']), big(a['size']));
        return;
      }
    }
  }

  // ------------------------------------------------------------ queries

  /** Every change of object `id` (in context `ctx` if given), in event order. */
  objectHistory(id: number, ctx?: number): ObjChange[] {
    return [...this.objectChangeRows(id, ctx)].map((k) => this.objectChangeAt(k));
  }

  /**
   * The log rows of object `id`'s changes (in context `ctx` if given) up to
   * event `to`, ascending: an object a VM maps through changes at nearly
   * every event, so views count and fold rows and build only the ones they show.
   */
  objectChangeRows(id: number, ctx?: number, to = Infinity): Int32Array {
    const L = this.objs;
    const ids = L.id.view();
    const ev = L.ev.view();
    const end = to === Infinity ? ids.length : lowerBound(ev, to + 1);
    let n = 0;
    for (let k = 0; k < end; k++) if (ids[k] === id && (ctx === undefined || L.ctx.get(k) === ctx)) n++;
    const rows = new Int32Array(n);
    n = 0;
    for (let k = 0; k < end; k++) if (ids[k] === id && (ctx === undefined || L.ctx.get(k) === ctx)) rows[n++] = k;
    return rows;
  }

  /** One row of the object log. */
  objectChangeAt(row: number): ObjChange {
    const L = this.objs;
    return { event: L.ev.get(row), ctx: L.ctx.get(row), id: L.id.get(row), type: this.types.name(L.type.get(row)), change: OBJ_CHANGES[L.change.get(row)]!, state: this.objectStateAt(row) };
  }

  /** The lifecycle state after the change in log row `row`. */
  objectStateAt(row: number): string {
    return this.states.name(this.objs.state.get(row));
  }

  /** Objects changed by event i. */
  objectsChangedAt(i: number): ObjChange[] {
    const L = this.objs;
    const ev = L.ev.view();
    const out: ObjChange[] = [];
    for (let k = lowerBound(ev, i); k < ev.length && ev[k] === i; k++)
      out.push({ event: i, ctx: L.ctx.get(k), id: L.id.get(k), type: this.types.name(L.type.get(k)), change: OBJ_CHANGES[L.change.get(k)]!, state: this.states.name(L.state.get(k)) });
    return out;
  }

  /** Events that touched any byte of [start, last] (optionally in one context / IOAS or HWPT id), in event order. */
  iovaHistory(start: bigint, last: bigint = start, filter: { ctx?: number; space?: number; kinds?: IovaKind[]; from?: number; to?: number; limit?: number } = {}): IovaTouch[] {
    const L = this.iova;
    const s = L.start.view();
    const l = L.last.view();
    const ev = L.ev.view();
    const kinds = filter.kinds ? new Set(filter.kinds.map((k) => K[k])) : null;
    const out: IovaTouch[] = [];
    const from = filter.from ?? 0;
    const to = filter.to ?? Infinity;
    const limit = filter.limit ?? Infinity;
    for (let k = from > 0 ? lowerBound(ev, from) : 0; k < ev.length && ev[k]! <= to; k++) {
      if (s[k]! > last || l[k]! < start) continue;
      if (filter.ctx !== undefined && L.ctx.get(k) !== filter.ctx) continue;
      if (filter.space !== undefined && L.space.get(k) !== filter.space) continue;
      if (kinds && !kinds.has(L.kind.get(k))) continue;
      out.push(L.row(k));
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Last event <= `to` (in reverse) touching [start, last]. */
  lastIovaTouch(start: bigint, last: bigint, to: number, filter: { ctx?: number; space?: number } = {}): number {
    const L = this.iova;
    const s = L.start.view();
    const l = L.last.view();
    const ev = L.ev.view();
    for (let k = lowerBound(ev, to + 1) - 1; k >= 0; k--) {
      if (s[k]! > last || l[k]! < start) continue;
      if (filter.ctx !== undefined && L.ctx.get(k) !== filter.ctx) continue;
      if (filter.space !== undefined && L.space.get(k) !== filter.space) continue;
      return ev[k]!;
    }
    return -1;
  }

  /** IOVA ranges event i touched. */
  iovaTouchesAt(i: number): IovaTouch[] {
    const L = this.iova;
    const ev = L.ev.view();
    const out: IovaTouch[] = [];
    for (let k = lowerBound(ev, i); k < ev.length && ev[k] === i; k++) out.push(L.row(k));
    return out;
  }

  /**
   * Pin-count changes of a page, by user VA (`va`), by pages object and page
   * index (`pages`, `index`), or by physical identity (`mobj`, `mobjIndex`).
   */
  pinHistory(q: { va?: bigint; pages?: number; index?: number; mobj?: number; mobjIndex?: number; ctx?: number }): PinChange[] {
    const L = this.pins;
    const out: PinChange[] = [];
    const n = L.length;
    const first = L.first.view();
    const last = L.last.view();
    const va = L.va.view();
    const vaQ = q.va === undefined ? -1 : Number(q.va & ~(PAGE - 1n));
    for (let k = 0; k < n; k++) {
      if (q.ctx !== undefined && L.ctx.get(k) !== q.ctx) continue;
      if (q.pages !== undefined) {
        if (L.pages.get(k) !== q.pages) continue;
        if (q.index !== undefined && (q.index < first[k]! || q.index > last[k]!)) continue;
      }
      if (q.mobj !== undefined) {
        if (L.mobj.get(k) !== q.mobj) continue;
        const m0 = L.mobjIndex.get(k);
        if (q.mobjIndex !== undefined && (q.mobjIndex < m0 || q.mobjIndex > m0 + last[k]! - first[k]!)) continue;
      }
      if (vaQ >= 0) {
        const v0 = va[k]!;
        if (vaQ < v0 || vaQ >= v0 + (last[k]! - first[k]! + 1) * 4096) continue;
      }
      const row = L.row(k);
      // narrow the reported range to the page asked for
      if (q.va !== undefined) {
        const d = Number((q.va - row.va) / PAGE);
        narrow(row, d);
      } else if (q.pages !== undefined && q.index !== undefined) narrow(row, q.index - row.first);
      else if (q.mobj !== undefined && q.mobjIndex !== undefined) narrow(row, q.mobjIndex - row.mobjIndex);
      out.push(row);
    }
    return out;
  }

  /** Next (dir 1, from+1 on) or previous (dir -1, from-1 down) event whose errno matches ('any' = any failure). */
  findErrno(errno: string, from: number, dir: 1 | -1 = 1): number {
    const want = errno === 'any' ? -1 : this.errnoCode(errno);
    if (want === undefined) return -1;
    const col = this.errnoCol.view();
    for (let i = from + dir; i >= 0 && i < this.n; i += dir) {
      const c = col[i]!;
      if (want === -1 ? c !== 0 : c === want) return i;
    }
    return -1;
  }

  private errnoCode(errno: string): number | undefined {
    const direct = this.errnos.find(errno);
    if (direct !== undefined) return direct;
    if (!isErrnoName(errno)) return undefined;
    const canon = canonicalErrno(errno);
    return this.errnos.find(canon);
  }

  /** Next / previous event whose recorded result the model contradicts. */
  findDivergence(from: number, dir: 1 | -1 = 1): number {
    const col = this.flagCol.view();
    for (let i = from + dir; i >= 0 && i < this.n; i += dir) if (col[i]! & F_DIVERGED) return i;
    return -1;
  }

  /** Next / previous event with this op. */
  findOp(op: string, from: number, dir: 1 | -1 = 1): number {
    const code = this.ops.find(op);
    if (code === undefined) return -1;
    const col = this.opCol.view();
    for (let i = from + dir; i >= 0 && i < this.n; i += dir) if (col[i] === code) return i;
    return -1;
  }

  /** Next / previous event changing object id. */
  findObjectChange(id: number, from: number, dir: 1 | -1 = 1, ctx?: number): number {
    const L = this.objs;
    const ev = L.ev.view();
    const ids = L.id.view();
    if (dir === 1) {
      for (let k = lowerBound(ev, from + 1); k < ev.length; k++) if (ids[k] === id && (ctx === undefined || L.ctx.get(k) === ctx)) return ev[k]!;
    } else {
      for (let k = lowerBound(ev, from) - 1; k >= 0; k--) if (ids[k] === id && (ctx === undefined || L.ctx.get(k) === ctx)) return ev[k]!;
    }
    return -1;
  }

  /** Next / previous event touching [start, last]. */
  findIovaTouch(start: bigint, last: bigint, from: number, dir: 1 | -1 = 1, filter: { ctx?: number; space?: number } = {}): number {
    if (dir === -1) return this.lastIovaTouch(start, last, from - 1, filter);
    const r = this.iovaHistory(start, last, { ...filter, from: from + 1, limit: 1 });
    return r.length ? r[0]!.event : -1;
  }

  /**
   * First state (after event i, searching from `from` in `dir`) that breaks
   * an invariant (invariants_hook.ts: the catalogue of src/invariants):
   * forward, the state at `from` is checked whole and each later step
   * incrementally; backward, each state whole. Searches up to `until`
   * (exclusive) when given; stops after `budgetMs` with
   * `{ index: -1, searchedTo, outOfTime: true }`.
   */
  async findInvariantViolation(from: number, dir: 1 | -1 = 1, budgetMs = 10_000, until?: number): Promise<{ index: number; violations: Violation[]; searchedTo: number; outOfTime: boolean }> {
    const whole = currentInvariantChecker();
    const t0 = performance.now();
    let i = from + dir;
    // search no further than `until` (exclusive): a breakpoint hit there already
    const end = dir === 1 ? Math.min(this.n, until ?? this.n) : Math.max(-1, until ?? -1);
    const found = (index: number, violations: Violation[], searchedTo: number) => ({ index, violations, searchedTo, outOfTime: false });
    const outOfTime = (searchedTo: number) => ({ index: -1, violations: [], searchedTo, outOfTime: true });
    const stepper = dir === 1 ? currentStepChecker() : null;
    if (stepper && i < end) {
      const v0 = whole(this.stateAt(i));
      if (v0.length) return found(Math.max(from, 0), v0, from);
      for (; i < end; i++) {
        const s = this.step(i);
        const v = stepper.step({ prev: s.before, next: s.after, event: s.event, result: s.result, index: i });
        if (v.length) return found(i, v, i);
        if (performance.now() - t0 > budgetMs && i + 1 < end) return outOfTime(i);
      }
      return found(-1, [], end - 1);
    }
    for (; dir === 1 ? i < end : i > end; i += dir) {
      const v = whole(this.step(i).after);
      if (v.length) return found(i, v, i);
      if (performance.now() - t0 > budgetMs && i + dir !== end) return outOfTime(i);
    }
    return found(-1, [], i - dir);
  }

  /** Per-bucket counts over the whole trace for the scrubber: failures, divergences. */
  overview(buckets: number): { failures: number[]; divergences: number[]; size: number } {
    const n = this.n;
    const b = Math.max(1, Math.min(buckets, n || 1));
    const failures = new Array<number>(b).fill(0);
    const divergences = new Array<number>(b).fill(0);
    const e = this.errnoCol.view();
    const f = this.flagCol.view();
    for (let i = 0; i < n; i++) {
      const k = Math.floor((i * b) / n);
      if (e[i] !== 0) failures[k]!++;
      if (f[i]! & F_DIVERGED) divergences[k]!++;
    }
    return { failures, divergences, size: n / b };
  }

  errnoHistogram(): Record<string, number> {
    const h: Record<string, number> = {};
    const e = this.errnoCol.view();
    for (let i = 0; i < this.n; i++) {
      const s = this.errnos.name(e[i]!);
      h[s] = (h[s] ?? 0) + 1;
    }
    return h;
  }
}

/**
 * Whether event i's apply is timed (one in APPLY_SAMPLE = 2^4: the top four
 * bits of a multiplicative hash of its position are zero) rather than every
 * 16th event, which would time only the MAPs of a trace that alternates MAP
 * and UNMAP.
 */
export function applyTimed(i: number): boolean {
  return Math.imul(i, 0x9e3779b1) >>> 28 === 0;
}

function narrow(row: PinChange, d: number): void {
  if (d < 0 || d > row.last - row.first) return;
  row.va += BigInt(d) * PAGE;
  row.mobjIndex += d;
  row.first += d;
  row.last = row.first;
}

/** The iommufd context an event's fd refers to (0 if none). */
export function ctxOf(w: World, ev: Event): number {
  const p = w.procs.get(ev.pid ?? 1);
  if (!p || ev.fd === undefined) return 0;
  const f = p.fds.get(ev.fd);
  const file = f === undefined ? undefined : w.files.get(f);
  return file?.ctx ?? 0;
}

/** The IOAS of the access object behind an access fd (selftest ACCESS_* ops), 0 if none. */
function accessIoas(w: World, ev: Event, accessFd: number): number {
  const p = w.procs.get(ev.pid ?? 1);
  const f = p?.fds.get(accessFd);
  const file = f === undefined ? undefined : w.files.get(f);
  if (!file || file.ctx === undefined || file.obj === undefined) return 0;
  const o = w.ctxs.get(file.ctx)?.objs.get(file.obj);
  return o?.type === 'access' ? o.ioas : 0;
}
