/**
 * A debugging session over a DebugIndex: the cursor (the selected event),
 * breakpoints, run forward / backward to them, and the history queries.
 * The REPL and the web UI both drive it: `exec(line)` runs one text
 * command and returns its output; the methods under it are what the web
 * API calls.
 *
 * Position: the cursor selects event `at` (0-based). "The state" is the
 * state after that event, "the diff" is what that event changed.
 */
import type { DebugIndex, IovaTouch, PinChange } from './history.js';
import { F_DIVERGED, IOVA_KINDS } from './history.js';
import { hex, parseBig, text } from './json.js';
import { diffView, eventSummary, eventView, parsePath, treeView } from './views.js';
import { describeErrno, isErrnoName } from '../uapi/errno.js';
import { U64_MAX } from '../ds/interval_map.js';
import { IOCTLS } from '../uapi/ioctls.js';
import { testOps } from '../model/selftest.js';
import { envOps } from '../model/env.js';

export type BreakSpec =
  | { kind: 'errno'; errno: string }
  | { kind: 'iova'; start: bigint; last: bigint; space?: number }
  | { kind: 'invariant' }
  | { kind: 'divergence' }
  | { kind: 'obj'; id: number }
  | { kind: 'op'; op: string };

export interface Breakpoint {
  id: number;
  spec: BreakSpec;
  enabled: boolean;
}

export interface QueryHit {
  event: number;
  op: string;
  errno: string | 0;
  what: string;
}

export interface QueryResult {
  query: string;
  title: string;
  hits: QueryHit[];
  truncated: boolean;
  note?: string;
}

export interface RunResult {
  /** Where the cursor ended. */
  at: number;
  /** The breakpoint hit, or null if the run reached an end of the trace. */
  hit: Breakpoint | null;
  reason: string;
}

export function describeBreak(s: BreakSpec): string {
  switch (s.kind) {
    case 'errno':
      return s.errno === 'any' ? 'any failing event' : `errno ${s.errno}`;
    case 'iova':
      return `IOVA ${hex(s.start)}${s.last !== s.start ? `..${hex(s.last)}` : ''}${s.space !== undefined ? ` in ${s.space}` : ''} touched`;
    case 'invariant':
      return 'invariant violated';
    case 'divergence':
      return 'divergence from the recording';
    case 'obj':
      return `object ${s.id} changes`;
    case 'op':
      return `op ${s.op}`;
  }
}

/** Every op name the model handles (ioctls, selftest commands, outside happenings). */
const KNOWN_OPS: ReadonlySet<string> = new Set([...Object.keys(IOCTLS), ...Object.keys(testOps), ...Object.keys(envOps)]);

/**
 * An op name as typed: the full name, or the short one the event list shows
 * (IOAS_MAP for IOMMU_IOAS_MAP, TEST_MOCK_DOMAIN for
 * IOMMU_TEST_OP_MOCK_DOMAIN), in any case. A name neither in the trace nor
 * known to the model is an error: a typo should not read as "0 events".
 */
export function resolveOp(name: string, inTrace: readonly string[]): string {
  const u = name.toUpperCase();
  const cands = [name, u, name.toLowerCase(), `IOMMU_${u}`, u.startsWith('TEST_') ? `IOMMU_TEST_OP_${u.slice(5)}` : `IOMMU_TEST_OP_${u}`];
  for (const c of cands) if (inTrace.includes(c)) return c;
  for (const c of cands) if (KNOWN_OPS.has(c)) return c;
  const words = u.split('_').filter((x) => x.length >= 3);
  const near = inTrace.filter((o) => words.some((x) => o.toUpperCase().includes(x))).slice(0, 6);
  throw new Error(`unknown op '${name}'${near.length ? ` (in this trace: ${near.join(', ')})` : ''}`);
}

/** `0x1000`, `0x1000..0x1fff`, `0x1000+0x2000`, `0x1000-0x1fff`. */
export function parseRange(s: string): { start: bigint; last: bigint } {
  const m = /^([^.+]+?)(?:(\.\.|-|\+)(.+))?$/.exec(s.trim());
  if (!m) throw new Error(`not an address or range: '${s}'`);
  const start = parseBig(m[1]!);
  if (start > U64_MAX) throw new Error(`'${s}' is past the 64-bit IOVA space (last address 0xffffffffffffffff)`);
  if (!m[2]) return { start, last: start };
  const b = parseBig(m[3]!);
  const last = m[2] === '+' ? start + b - 1n : b;
  if (last < start) throw new Error(`empty range '${s}'`);
  if (last > U64_MAX) throw new Error(`'${s}' goes past the 64-bit IOVA space (last address 0xffffffffffffffff)`);
  return { start, last };
}

/** Parses `break ...` arguments (the words after `break`). */
export function parseBreak(words: string[]): BreakSpec {
  const [what, ...rest] = words;
  switch ((what ?? '').toLowerCase()) {
    case 'errno': {
      const e = (rest[0] ?? 'any').toUpperCase();
      if (e !== 'ANY' && !isErrnoName(e)) throw new Error(`unknown errno '${rest[0]}'`);
      return { kind: 'errno', errno: e === 'ANY' ? 'any' : e };
    }
    case 'iova': {
      if (!rest[0]) throw new Error('break iova ADDR[..LAST] [ioas|hwpt ID]');
      const r = parseRange(rest[0]);
      const sp = rest[1] && rest[2] ? Number(rest[2]) : undefined;
      return { kind: 'iova', ...r, ...(sp !== undefined ? { space: sp } : {}) };
    }
    case 'invariant':
      return { kind: 'invariant' };
    case 'divergence':
    case 'div':
      return { kind: 'divergence' };
    case 'obj':
    case 'object':
      if (!rest[0] || !/^\d+$/.test(rest[0])) throw new Error('break obj ID');
      return { kind: 'obj', id: Number(rest[0]) };
    case 'op':
      if (!rest[0]) throw new Error('break op NAME');
      return { kind: 'op', op: rest[0] };
    default:
      if (what && (isErrnoName(what.toUpperCase()) || /^E[A-Z0-9]+$/.test(what))) return parseBreak(['errno', what]);
      if (what && /^0x[0-9a-f]/i.test(what)) return parseBreak(['iova', ...words]);
      throw new Error(`break what? errno E | iova ADDR | invariant | divergence | obj ID | op NAME`);
  }
}

export const HELP = `commands (the cursor selects one event; the state shown is the state after it):
  step [N]            s   forward N events (default 1)
  back [N]            b   backward N events
  goto N              g   select event N (also: goto end)
  where               w   the selected event and what led to it
  event               e   the selected event decoded (uAPI fields, errno names)
  print [PATH [FROM]] p   the state after the event at PATH (e.g. ctxs.1.objs.2.iopt), 100 entries from FROM
  diff                d   what the selected event changed
  when obj ID [ctx C]           events that created / changed / destroyed object ID
  when iova ADDR[..LAST] [ioas|hwpt ID]  events that touched the range
  when page VA | pages=ID[:IDX] | mobj=M:IDX   when a page was pinned / unpinned
  when errno E                  events that failed with E (any = every failure)
  when divergence               events whose recorded result the model contradicts
  when invariant [from N]       first state that breaks an invariant (after event N)
  when op NAME                  events with that op
  break errno E | iova ADDR[..LAST] | invariant | divergence | obj ID | op NAME
  delete N | delete all         remove breakpoints        breaks   list them
  continue            c   run forward to the next breakpoint
  reverse-continue    rc  run backward to the previous breakpoint
  help                    this text            quit   leave`;

export class Session {
  at = 0;
  private nextBp = 1;
  readonly breakpoints: Breakpoint[] = [];

  /** How long one invariant search may run before it says where it stopped. */
  invariantBudgetMs = 10_000;

  constructor(readonly ix: DebugIndex) {}

  get length(): number {
    return this.ix.length;
  }

  goto(i: number): number {
    if (this.ix.length === 0) throw new Error('the trace has no events');
    if (Number.isNaN(i)) throw new Error('not an event number');
    this.at = Math.max(0, Math.min(this.ix.length - 1, Math.trunc(i)));
    return this.at;
  }

  step(n = 1): number {
    return this.goto(this.at + n);
  }

  addBreak(spec: BreakSpec): Breakpoint {
    if (spec.kind === 'op') spec = { kind: 'op', op: resolveOp(spec.op, this.ix.opNames()) };
    const bp = { id: this.nextBp++, spec, enabled: true };
    this.breakpoints.push(bp);
    return bp;
  }

  deleteBreak(id: number | 'all'): number {
    const before = this.breakpoints.length;
    if (id === 'all') this.breakpoints.splice(0);
    else {
      const k = this.breakpoints.findIndex((b) => b.id === id);
      if (k >= 0) this.breakpoints.splice(k, 1);
    }
    return before - this.breakpoints.length;
  }

  /** The next (dir 1) / previous (dir -1) event from `from` that a breakpoint on the index's logs stops at. */
  private nextHit(s: Exclude<BreakSpec, { kind: 'invariant' }>, from: number, dir: 1 | -1): number {
    const ix = this.ix;
    switch (s.kind) {
      case 'errno':
        return ix.findErrno(s.errno, from, dir);
      case 'divergence':
        return ix.findDivergence(from, dir);
      case 'op':
        return ix.findOp(s.op, from, dir);
      case 'obj':
        return ix.findObjectChange(s.id, from, dir);
      case 'iova':
        return ix.findIovaTouch(s.start, s.last, from, dir, s.space !== undefined ? { space: s.space } : {});
    }
  }

  async run(dir: 1 | -1): Promise<RunResult> {
    const active = this.breakpoints.filter((b) => b.enabled);
    let best = -1;
    let hit: Breakpoint | null = null;
    const better = (i: number) => i >= 0 && (best < 0 || (dir === 1 ? i < best : i > best));
    for (const bp of active) {
      if (bp.spec.kind === 'invariant') continue;
      const i = this.nextHit(bp.spec, this.at, dir);
      if (better(i)) {
        best = i;
        hit = bp;
      }
    }
    // Invariants last, searched no further than the nearest other hit; a search that runs out of
    // time says where it got to (no violation up to there).
    let stopped = -1;
    for (const bp of active) {
      if (bp.spec.kind !== 'invariant') continue;
      const r = await this.ix.findInvariantViolation(this.at, dir, this.invariantBudgetMs, best < 0 ? undefined : best);
      if (r.outOfTime) stopped = r.searchedTo;
      if (better(r.index)) {
        best = r.index;
        hit = bp;
      }
    }
    // Out of time before any hit: stop where the search got to, not at a later hit or the end.
    if (stopped >= 0 && (best < 0 || (dir === 1 ? stopped < best : stopped > best))) {
      this.goto(stopped);
      return { at: stopped, hit: null, reason: `the invariant search ran ${this.invariantBudgetMs / 1000} s and got to #${stopped} with every invariant holding; ${dir === 1 ? 'continue' : 'reverse-continue'} goes on` };
    }
    if (best < 0) {
      this.goto(dir === 1 ? this.ix.length - 1 : 0);
      return { at: this.at, hit: null, reason: (dir === 1 ? 'end of trace' : 'start of trace') + (active.length ? ', no breakpoint hit' : ', no breakpoints set') };
    }
    this.goto(best);
    return { at: best, hit, reason: `breakpoint ${hit!.id}: ${describeBreak(hit!.spec)}` };
  }

  // ------------------------------------------------------------ queries

  async query(q: string, limit = 500): Promise<QueryResult> {
    const words = q.trim().split(/\s+/).filter(Boolean);
    if (words[0] === 'when') words.shift();
    const [what, ...rest] = words;
    const ix = this.ix;
    const hit = (event: number, what: string): QueryHit => ({ event, op: ix.op(event), errno: ix.errno(event), what });
    const done = (title: string, hits: QueryHit[], note?: string): QueryResult => ({ query: q, title, hits: hits.slice(0, limit), truncated: hits.length > limit, ...(note ? { note } : {}) });
    switch ((what ?? '').toLowerCase()) {
      case 'obj':
      case 'object': {
        const id = Number(rest[0]);
        if (!Number.isInteger(id)) throw new Error('when obj ID [ctx C]');
        const ctx = rest[1] === 'ctx' ? Number(rest[2]) : undefined;
        const rows = ix.objectChangeRows(id, ctx);
        const h = [...rows.subarray(0, limit + 1)].map((k) => ix.objectChangeAt(k));
        return done(`object ${id}: ${rows.length} changes`, h.map((c) => hit(c.event, `${c.type} ${c.change} → ${c.state}${ctx === undefined ? ` (ctx ${c.ctx})` : ''}`)));
      }
      case 'iova': {
        if (!rest[0]) throw new Error('when iova ADDR[..LAST] [ioas|hwpt ID]');
        const r = parseRange(rest[0]);
        const space = rest[1] && rest[2] ? Number(rest[2]) : undefined;
        const t = ix.iovaHistory(r.start, r.last, { ...(space !== undefined ? { space } : {}), limit: limit + 1 });
        return done(`IOVA ${rest[0]}: ${t.length > limit ? `more than ${limit}` : t.length} touches`, t.map((x) => hit(x.event, touchText(x))));
      }
      case 'page':
      case 'pin':
      case 'pins': {
        const arg = rest[0] ?? '';
        let pq: Parameters<DebugIndex['pinHistory']>[0];
        let m: RegExpExecArray | null;
        if ((m = /^pages=(\d+)(?::(\d+))?$/.exec(arg))) pq = { pages: Number(m[1]), ...(m[2] !== undefined ? { index: Number(m[2]) } : {}) };
        else if ((m = /^mobj=(\d+)(?::(\d+))?$/.exec(arg))) pq = { mobj: Number(m[1]), ...(m[2] !== undefined ? { mobjIndex: Number(m[2]) } : {}) };
        else if (arg) pq = { va: parseBig(arg.replace(/^va=/, '')) };
        else throw new Error('when page VA | pages=ID[:IDX] | mobj=M:IDX');
        const p = ix.pinHistory(pq);
        return done(`page ${arg}: ${p.length} pin changes`, p.map((x) => hit(x.event, pinText(x))));
      }
      case 'errno': {
        // the same words as `break errno`: a name, or any
        const spec = parseBreak(['errno', ...rest.slice(0, 1)]);
        const e = spec.kind === 'errno' ? spec.errno : 'any';
        const hits: QueryHit[] = [];
        // the hit line already names the errno: the text is the call
        for (let i = ix.findErrno(e, -1, 1); i >= 0 && hits.length <= limit; i = ix.findErrno(e, i, 1)) hits.push(hit(i, eventSummary(ix.event(i))));
        return done(`${e === 'any' ? 'failing events' : `errno ${describeErrno(e)}`}: ${hits.length > limit ? `more than ${limit}` : hits.length}`, hits);
      }
      case 'divergence':
      case 'div':
      case 'divergences': {
        const hits: QueryHit[] = [];
        for (let i = ix.findDivergence(-1, 1); i >= 0 && hits.length <= limit; i = ix.findDivergence(i, 1)) {
          const d = ix.divergenceAt(i);
          hits.push(hit(i, d ? `${d.what}: expected ${text(d.expected)}, model ${text(d.actual)}` : 'diverged'));
        }
        return done(hits.length ? `first divergence at #${hits[0]!.event}` : 'no divergence from the recording', hits);
      }
      case 'invariant':
      case 'invariants': {
        // a long trace is searched in slices of the time budget: 'from N' goes on where one stopped
        if (rest.length && (rest[0] !== 'from' || !/^\d+$/.test(rest[1] ?? '') || rest.length > 2)) throw new Error('when invariant [from N]');
        const from = rest.length ? Math.min(Number(rest[1]), ix.length - 1) : -1;
        const r = await ix.findInvariantViolation(from, 1, this.invariantBudgetMs);
        if (r.outOfTime) return done(`no invariant violated from #${Math.max(from, 0)} to #${r.searchedTo}`, [], `the search stops after ${this.invariantBudgetMs / 1000} s: 'when invariant from ${r.searchedTo}' goes on`);
        if (r.index < 0) return done(`no invariant violated${from > 0 ? ` from #${from}` : ''} (searched to #${r.searchedTo})`, []);
        return done(`first invariant violation after #${r.index}`, [hit(r.index, r.violations.map((v) => `${v.name}: ${v.message}`).join('; '))]);
      }
      case 'op': {
        if (!rest[0]) throw new Error('when op NAME');
        const op = resolveOp(rest[0], ix.opNames());
        const hits: QueryHit[] = [];
        for (let i = ix.findOp(op, -1, 1); i >= 0 && hits.length <= limit; i = ix.findOp(op, i, 1)) hits.push(hit(i, eventSummary(ix.event(i))));
        return done(`op ${op}: ${hits.length > limit ? `more than ${limit}` : hits.length} events`, hits);
      }
      default:
        throw new Error(`when what? obj ID | iova ADDR | page VA | errno E | divergence | invariant | op NAME`);
    }
  }

  // ------------------------------------------------------------ text commands

  /** Runs one command line; returns its output (no trailing newline). `quit` returns null. */
  async exec(line: string): Promise<string | null> {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || words[0]!.startsWith('#')) return '';
    const [cmd, ...rest] = words;
    const n = (d: number) => {
      if (rest[0] === undefined) return d;
      const v = Number(rest[0]);
      if (!Number.isInteger(v)) throw new Error(`not a count: '${rest[0]}'`);
      return v;
    };
    try {
      switch (cmd!.toLowerCase()) {
        case 'help':
        case 'h':
        case '?':
          return HELP;
        case 'quit':
        case 'q':
        case 'exit':
          return null;
        case 'step':
        case 's':
        case 'next':
        case 'n':
          this.step(n(1));
          return this.line(this.at);
        case 'back':
        case 'b':
          this.step(-n(1));
          return this.line(this.at);
        case 'goto':
        case 'g':
          if (rest[0] === 'end') this.goto(this.length - 1);
          else if (rest[0] === 'start') this.goto(0);
          else {
            const w = rest[0]?.replace(/^#/, '') ?? '';
            if (!/^\d+$/.test(w)) throw new Error('goto N | start | end');
            if (Number(w) >= this.length) throw new Error(`no event #${w}: the trace has events #0..#${this.length - 1}`);
            this.goto(Number(w));
          }
          return this.line(this.at);
        case 'where':
        case 'w':
          return this.where();
        case 'event':
        case 'e':
          return this.eventText();
        case 'print':
        case 'p':
          if (rest.length > 2 || (rest[1] !== undefined && !/^\d+$/.test(rest[1]))) throw new Error('print [PATH [FROM]]');
          return this.printText(rest[0] ?? '', rest[1] === undefined ? 0 : Number(rest[1]));
        case 'diff':
        case 'd':
          return this.diffText();
        case 'when':
        case 'find':
        case 'query': {
          const r = await this.query(rest.join(' '), 200);
          const lines = [r.title + (r.note ? ` (${r.note})` : '')];
          for (const h of r.hits) lines.push(`  #${h.event} ${h.op} → ${h.errno === 0 ? 'ok' : h.errno}: ${h.what}`);
          if (r.truncated) lines.push('  …');
          return lines.join('\n');
        }
        case 'break':
        case 'br': {
          const bp = this.addBreak(parseBreak(rest));
          return `breakpoint ${bp.id}: ${describeBreak(bp.spec)}`;
        }
        case 'delete':
        case 'del': {
          const w = rest[0] ?? 'all';
          if (w !== 'all' && !/^\d+$/.test(w)) throw new Error('delete N | delete all');
          const k = this.deleteBreak(w === 'all' ? 'all' : Number(w));
          if (w !== 'all' && k === 0) throw new Error(`no breakpoint ${w}`);
          return `deleted ${k} breakpoint${k === 1 ? '' : 's'}`;
        }
        case 'breaks':
        case 'breakpoints':
        case 'info':
          return this.breakpoints.length ? this.breakpoints.map((b) => `${b.id}: ${describeBreak(b.spec)}`).join('\n') : 'no breakpoints';
        case 'continue':
        case 'c':
        case 'cont': {
          const r = await this.run(1);
          return `${r.reason}\n${this.line(r.at)}`;
        }
        case 'reverse-continue':
        case 'rc':
        case 'rcontinue': {
          const r = await this.run(-1);
          return `${r.reason}\n${this.line(r.at)}`;
        }
        default:
          return `error: unknown command '${cmd}' (try 'help')`;
      }
    } catch (e) {
      return `error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /** `#14 pid 274 IOMMU_IOAS_MAP ioas_id=1 ... → ok`. */
  line(i: number): string {
    const ix = this.ix;
    const e = ix.errno(i);
    const div = ix.flags(i) & F_DIVERGED ? '  [DIVERGES from recording]' : '';
    return `#${i} pid ${ix.pid(i)} ${ix.op(i)} ${eventSummary(ix.event(i))} → ${e === 0 ? 'ok' : describeErrno(e)}${div}`;
  }

  where(): string {
    const ix = this.ix;
    const i = this.at;
    const lines = [`at event #${i} of ${ix.length}`, this.line(i)];
    const pid = ix.pid(i);
    const prev: number[] = [];
    for (let k = i - 1; k >= 0 && prev.length < 8 && i - k < 5000; k--) if (ix.pid(k) === pid) prev.push(k);
    if (prev.length) {
      lines.push(`preceding events of pid ${pid}:`);
      for (const k of prev) lines.push(`  ${this.line(k)}`);
    }
    const ch = ix.objectsChangedAt(i);
    if (ch.length) lines.push(`objects changed: ${ch.map((c) => `${c.type} ${c.id} ${c.change} → ${c.state}`).join(', ')}`);
    const t = ix.iovaTouchesAt(i);
    if (t.length) lines.push(`IOVA touched: ${t.slice(0, 8).map(touchText).join(', ')}${t.length > 8 ? ', …' : ''}`);
    return lines.join('\n');
  }

  eventText(): string {
    const v = eventView(this.ix, this.at);
    const lines = [`#${v.index} ${v.op}${v.struct ? ` (struct ${v.struct})` : ''} pid ${v.pid}${v.fd !== null ? ` fd ${v.fd}` : ''}${v.src ? `  [${v.src}]` : ''}`];
    for (const f of v.fields) {
      if (f.value === null && f.out === null) {
        lines.push(`  ${'  '.repeat(f.depth)}${f.name.split('.').pop()}:`);
        continue;
      }
      let s = `  ${'  '.repeat(f.depth)}${f.name.split('.').pop()} = ${f.value ?? '-'}`;
      if (f.decoded) s += ` (${f.decoded})`;
      if (f.out !== null) s += `  → ${f.out}`;
      if (f.rec !== null) s += `  [recorded ${f.rec}]`;
      lines.push(s);
    }
    for (const b of v.bufs) {
      const more = b.omitted ? ` … ${b.omitted} more bytes` : '';
      lines.push(`  buf ${b.name}: ${b.length === null ? 'unreadable (EFAULT)' : `${b.length} bytes ${b.hex}${more}`}`);
      if (b.meaning) lines.push(`    ${b.meaning}`);
    }
    lines.push(`  result: ${v.result.text}${v.result.ret !== null ? ` ret=${v.result.ret}` : ''}${v.result.unmodelled ? ` (unmodelled: ${v.result.unmodelled})` : ''}`);
    if (v.recorded) lines.push(`  recorded: ${v.recorded.text}`);
    if (v.divergence) lines.push(`  DIVERGENCE ${v.divergence.what}: expected ${JSON.stringify(v.divergence.expected)}, model ${JSON.stringify(v.divergence.actual)}`);
    return lines.join('\n');
  }

  /** The state after the selected event at `path`: its first 100 entries from `from`. */
  printText(path: string, from = 0): string {
    const w = this.ix.step(this.at).after;
    const t = treeView(w, parsePath(path), from, PRINT_ENTRIES);
    const lines = [`${t.path.join('.') || '(state)'}: ${t.summary}`];
    if (from > 0) lines.push(`  (entries ${Math.min(from, t.total)}.. of ${t.total})`);
    for (const c of t.children) lines.push(`  ${c.key}: ${c.summary}`);
    const next = from + t.children.length;
    if (t.total > next) lines.push(`  … ${t.total - next} more: print ${t.path.join('.') || '.'} ${next}`);
    return lines.join('\n');
  }

  diffText(): string {
    const counted = { total: 0 };
    const d = diffView(this.ix.patchesAt(this.at, 200, counted), 200, counted.total);
    if (!d.total) return `#${this.at} changed nothing`;
    const lines = [`#${this.at} ${this.ix.op(this.at)}: ${d.total} change${d.total === 1 ? '' : 's'}`];
    for (const r of d.rows) lines.push(`  ${r.op === 'add' ? '+' : r.op === 'remove' ? '-' : '~'} ${r.path}${r.op === 'remove' ? '' : ` = ${clip(JSON.stringify(r.value), 160)}`}${r.note ? `  (${r.note})` : ''}`);
    if (d.total > d.rows.length) lines.push(`  … ${d.total - d.rows.length} more`);
    return lines.join('\n');
  }
}

/** Entries `print` shows at a time. */
const PRINT_ENTRIES = 100;

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) + '…' : s);

export function touchText(t: IovaTouch): string {
  return `${t.kind} ${hex(t.start)}..${hex(t.last)} in ${t.space || '?'}`;
}

function pinText(p: PinChange): string {
  const what = p.before === 0 ? 'pinned' : p.after === 0 ? 'unpinned' : `holders ${p.before}→${p.after}`;
  const n = p.last - p.first + 1;
  return `${what}: pages ${p.pages} [${p.first}${n > 1 ? `..${p.last}` : ''}] (va ${hex(p.va)}, mobj ${p.mobj}:${p.mobjIndex})${n > 1 ? ` ${n} pages` : ''}`;
}

export { IOVA_KINDS };
