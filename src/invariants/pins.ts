/**
 * Pinned pages and their accounting (kernel-semantics §4.1, §4.2).
 */
import type { AccessObj, Area, Ctx, IoasObj, Obj, Pages, World } from '../model/state.js';
import { diffIntervals } from '../ds/diff.js';
import type { StepDelta } from './delta.js';
import type { Invariant, Violation } from './types.js';
import { areaIndexRange, areasOf, objsOf } from './util.js';

export const PINNED_ACCOUNTING = 'pinned-accounting';

type Ev = [pos: number, delta: number];

/** First position where the sum of the +/- interval weights is not zero, with that sum. */
function firstNonZero(evs: Ev[]): [number, number] | undefined {
  if (!evs.length) return undefined;
  evs.sort((a, b) => a[0] - b[0]);
  let sum = 0;
  for (let i = 0; i < evs.length; ) {
    const pos = evs[i]![0];
    while (i < evs.length && evs[i]![0] === pos) sum += evs[i++]![1];
    if (sum !== 0) return [pos, sum];
  }
  return undefined;
}

function push(m: Map<number, Ev[]>, pages: number, first: number, last: number, w: number): void {
  let l = m.get(pages);
  if (!l) m.set(pages, (l = []));
  l.push([first, w], [last + 1, -w]);
}

/** Holder intervals an IOAS contributes (its areas, when it has a domain) and its area references. */
function ioasContrib(o: Obj | undefined, w: number, holders: Map<number, Ev[]>, refs: Map<number, number>): void {
  if (o?.type !== 'ioas') return;
  const inDomain = o.iopt.domains.length > 0;
  for (const a of areasOf(o)) {
    refs.set(a.value.pages, (refs.get(a.value.pages) ?? 0) + w);
    if (inDomain) {
      const [f, l] = areaIndexRange(a.start, a.last, a.value);
      push(holders, a.value.pages, f, l, w);
    }
  }
}

/**
 * ioasContrib(b, -1) + ioasContrib(a, +1) of two versions of an IOAS, leaving out the areas both have unchanged
 * (same range, same area record) when both or neither have a domain: their contributions cancel.
 */
function ioasChangeContrib(b: Obj | undefined, a: Obj | undefined, holders: Map<number, Ev[]>, refs: Map<number, number>): void {
  if (b?.type !== 'ioas' || a?.type !== 'ioas' || b.iopt.domains.length > 0 !== a.iopt.domains.length > 0) {
    ioasContrib(b, -1, holders, refs);
    ioasContrib(a, 1, holders, refs);
    return;
  }
  const inDomain = a.iopt.domains.length > 0;
  const one = (start: bigint, x: { last: bigint; value: Area }, w: number): void => {
    refs.set(x.value.pages, (refs.get(x.value.pages) ?? 0) + w);
    if (inDomain) {
      const [f, l] = areaIndexRange(start, x.last, x.value);
      push(holders, x.value.pages, f, l, w);
    }
  };
  // the areas the two versions do not share (walked past their common subtrees)
  diffIntervals(b.iopt.areas, a.iopt.areas, (start, x, y) => {
    if (x) one(start, x, -1);
    if (y) one(start, y, 1);
  });
}

function accessContrib(o: Obj | undefined, w: number, holders: Map<number, Ev[]>): void {
  if (o?.type !== 'access') return;
  o.items.each((_id, it) => {
    for (const p of it.pieces) push(holders, p.pages, p.first, p.last, w);
  });
}

function runsEvents(p: Pages | undefined, w: number, evs: Ev[]): void {
  p?.pinned.each((s, r) => {
    evs.push([s, w * r.count], [r.last + 1, -w * r.count]);
  });
}

/** The pinned runs are well formed and add up to npinned; an unreferenced, unpinned pages object is freed. */
function checkPages(ctx: number, p: Pages, out: Violation[]): void {
  const where = { invariant: PINNED_ACCOUNTING, ctx, obj: p.id };
  let prevLast = -1;
  let total = 0;
  let bad: string | undefined;
  p.pinned.each((s, r) => {
    if (s <= prevLast || r.last < s || r.count < 1 || s < 0 || r.last >= p.npages) bad ??= `run [${s}, ${r.last}] x${r.count} (npages ${p.npages}, previous run ends at ${prevLast})`;
    prevLast = r.last;
    total += r.last - s + 1;
  });
  if (bad) out.push({ ...where, message: `pages ${p.id}: malformed pinned run ${bad}` });
  if (total !== p.npinned) out.push({ ...where, message: `pages ${p.id}: npinned ${p.npinned} but the pinned runs hold ${total} pages` });
  if (p.areaRefs === 0 && p.npinned === 0) out.push({ ...where, message: `pages ${p.id}: no area refers to it and nothing is pinned, yet it was not freed` });
}

/**
 * Area num_accesses equals the access pieces pinned on it. With `only`, just
 * the areas at those starts and the ones pins name (a step's check: the
 * areas it changed and the pieces of the accesses it changed); else all.
 */
function checkNumAccesses(ctxId: number, ctx: Ctx, ioas: IoasObj, out: Violation[], only?: Set<bigint>): void {
  const n = new Map<bigint, number>();
  for (const accId of ioas.iopt.accesses) {
    const acc = ctx.objs.get(accId);
    if (acc?.type !== 'access' || acc.ioas !== ioas.id) continue;
    acc.items.each((_id, it) => {
      for (const p of it.pieces) n.set(p.area, (n.get(p.area) ?? 0) + 1);
    });
  }
  const check = (start: bigint, numAccesses: number) => {
    const want = n.get(start) ?? 0;
    n.delete(start);
    if (numAccesses !== want)
      out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: ioas.id, message: `IOAS ${ioas.id}: area at 0x${start.toString(16)} has num_accesses ${numAccesses} but ${want} access pins` });
  };
  if (only) {
    const starts = [...new Set([...only, ...n.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    for (const start of starts) {
      const a = ioas.iopt.areas.get(start);
      if (a) check(start, a.numAccesses);
    }
  } else for (const a of areasOf(ioas)) check(a.start, a.value.numAccesses);
  for (const [start] of n) out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: ioas.id, message: `IOAS ${ioas.id}: an access pin names area 0x${start.toString(16)}, which does not exist` });
}

/** Area starts an access's pins name. */
function pinnedStarts(o: Obj | undefined, into: Set<bigint>): void {
  if (o?.type !== 'access') return;
  o.items.each((_id, it) => {
    for (const p of it.pieces) into.add(p.area);
  });
}

function accountKey(p: Pages): string | undefined {
  return p.account === 'user' ? `u${p.ownerUid}` : p.account === 'mm' ? `m${p.ownerPid}` : undefined;
}

function counterValue(w: World, key: string): bigint {
  const n = Number(key.slice(1));
  return key[0] === 'u' ? (w.userLockedVm.get(n) ?? 0n) : (w.procs.get(n)?.lockedVm ?? 0n);
}

/**
 * The mm counter of a process that has exited: no longer checked. Its
 * mm_struct lives on while pages objects hold it (mmgrab), but their unpins
 * cannot uncharge it (update_mm_locked_vm: mmget_not_zero fails), and
 * nothing can read it.
 */
function deadMm(w: World, key: string): boolean {
  return key[0] === 'm' && w.procs.get(Number(key.slice(1)))?.alive === false;
}

function counterName(key: string): string {
  return key[0] === 'u' ? `user ${key.slice(1)} locked_vm` : `mm of pid ${key.slice(1)} locked_vm`;
}

/** What the kernel last charged for a pages object: last_npinned (npinned, but where an exited owner's uncharge failed). */
function addCharge(m: Map<string, bigint>, p: Pages | undefined, sign: bigint): void {
  const k = p && accountKey(p);
  if (k) m.set(k, (m.get(k) ?? 0n) + sign * BigInt(p!.lastNpinned ?? p!.npinned));
}

export const pinnedAccounting: Invariant = {
  name: PINNED_ACCOUNTING,
  kind: 'state',
  summary: 'pins equal the areas in IOASes with domains plus access pins; locked_vm equals the charged pins and stays within RLIMIT_MEMLOCK',
  doc:
    'For every pages object P, the holder count of each page index is the number of areas of P in IOASes that have ' +
    'at least one domain plus the number of in-kernel access pins on it (kernel-semantics §4.1; the model keeps one ' +
    'pin per page per P with a holder count), npinned = |S(P)|, area_refs is the number of areas using P, and P is ' +
    'freed with its last area. num_accesses of an area equals the access pins on it. Accounting (§4.2): each ' +
    "user's locked_vm is the sum of last_npinned over USER-mode pages objects of that uid (over every context), each mm's " +
    'locked_vm the sum over MM-mode ones it owns (of last_npinned: what was last charged, npinned but where an exited ' +
    "owner's uncharge failed). Per step, a counter that was charged (a pages object grew or changed " +
    'owner) must not exceed the largest RLIMIT_MEMLOCK among the owners charged. mm->pinned_vm is not checked: ' +
    'iommufd never shows it. Incremental: holder counts change only through changed IOASes, accesses and pages ' +
    'objects; the step compares the change of expected holders with the change of the pinned runs, page by page, ' +
    'for the pages objects involved, and the change of every locked_vm counter with the change of the charges. ' +
    "An exited process's mm counter is not checked (its pages objects' unpins cannot uncharge it). " +
    'The counters go unchecked once the kernel has WARNed (World.taint: 6.14 CHANGE_PROCESS could not uncharge an exited ' +
    'owner, and the charges then follow last_npinned, which no longer matches what was charged).',
  checkState(w) {
    const out: Violation[] = [];
    const charges = new Map<string, bigint>();
    w.ctxs.each((ctxId, ctx) => {
      const holders = new Map<number, Ev[]>();
      const refs = new Map<number, number>();
      for (const [, o] of objsOf(ctx)) {
        ioasContrib(o, 1, holders, refs);
        accessContrib(o, 1, holders);
        if (o.type === 'ioas') checkNumAccesses(ctxId, ctx, o, out);
      }
      ctx.pages.each((id, p) => {
        checkPages(ctxId, p, out);
        addCharge(charges, p, 1n);
        const evs = holders.get(id) ?? [];
        holders.delete(id);
        runsEvents(p, -1, evs);
        const bad = firstNonZero(evs);
        if (bad) out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: id, message: `page ${bad[0]} of pages ${id} has ${Math.abs(bad[1])} ${bad[1] < 0 ? 'more' : 'fewer'} pin holder(s) than its areas in domain-backed IOASes and access pins account for` });
        const want = refs.get(id) ?? 0;
        refs.delete(id);
        if (p.areaRefs !== want) out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: id, message: `pages ${id}: area_refs ${p.areaRefs} but ${want} areas use it` });
      });
      for (const id of new Set([...holders.keys(), ...refs.keys()]))
        out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: id, message: `pages ${id} is used by an area or access pin but does not exist` });
    });
    // after a kernel WARN (6.14 CHANGE_PROCESS and an exited owner) the kernel's books no longer add up
    if (w.taint !== undefined) return out;
    const keys = new Set(charges.keys());
    w.userLockedVm.each((uid) => {
      keys.add(`u${uid}`);
    });
    w.procs.each((pid) => {
      keys.add(`m${pid}`);
    });
    for (const k of keys) {
      if (deadMm(w, k)) continue;
      const want = charges.get(k) ?? 0n;
      const have = counterValue(w, k);
      if (want !== have) out.push({ invariant: PINNED_ACCOUNTING, message: `${counterName(k)} is ${have} pages but the charged pins add up to ${want}` });
    }
    return out;
  },
  checkStep(d: StepDelta) {
    const out: Violation[] = [];
    if (d.unchanged) return out;
    const charges = new Map<string, bigint>();
    const limits = new Map<string, (bigint | null)[]>();
    for (const ctxId of d.ctxs.keys()) {
      const objs = d.objs(ctxId);
      const pages = d.pages(ctxId);
      if (!objs.size && !pages.size) continue;
      const holders = new Map<number, Ev[]>();
      const refs = new Map<number, number>();
      // IOASes whose num_accesses need a look, and the area starts to look at (all of them: null)
      const accessIoas = new Map<number, Set<bigint> | null>();
      const startsOf = (ioasId: number): Set<bigint> | null => {
        if (!accessIoas.has(ioasId)) accessIoas.set(ioasId, new Set());
        return accessIoas.get(ioasId)!;
      };
      for (const [id, [b, a]] of objs) {
        if (b?.type === 'ioas' || a?.type === 'ioas') {
          // num_accesses can only change with the areas, the access list or an access (below).
          if (a?.type === 'ioas' && (b?.type !== 'ioas' || b.iopt.areas !== a.iopt.areas || b.iopt.accesses !== a.iopt.accesses)) {
            if (b?.type !== 'ioas') accessIoas.set(id, null);
            else {
              const starts = startsOf(id);
              if (starts) diffIntervals(b.iopt.areas, a.iopt.areas, (start, _x, y) => void (y && starts.add(start)));
            }
          }
          const same = b?.type === 'ioas' && a?.type === 'ioas' && b.iopt.areas === a.iopt.areas && b.iopt.domains.length > 0 === a.iopt.domains.length > 0;
          if (!same) ioasChangeContrib(b, a, holders, refs);
        }
        if (b?.type === 'access' || a?.type === 'access') {
          const ab = b as AccessObj | undefined;
          const aa = a as AccessObj | undefined;
          if (ab?.type === 'access' && ab.ioas) {
            const starts = startsOf(ab.ioas);
            if (starts) pinnedStarts(ab, starts);
          }
          if (aa?.type === 'access' && aa.ioas) {
            const starts = startsOf(aa.ioas);
            if (starts) pinnedStarts(aa, starts);
          }
          if (ab?.type !== 'access' || aa?.type !== 'access' || ab.items !== aa.items) {
            accessContrib(b, -1, holders);
            accessContrib(a, 1, holders);
          }
        }
      }
      const after = d.next.ctxs.get(ctxId);
      const ids = new Set(holders.keys());
      for (const id of refs.keys()) ids.add(id);
      for (const id of pages.keys()) ids.add(id);
      for (const id of ids) {
        const ch = pages.get(id);
        const cur = ch ? undefined : after?.pages.get(id);
        const pb = ch ? ch[0] : cur;
        const pa = ch ? ch[1] : cur;
        const evs = holders.get(id) ?? [];
        if (ch) {
          if (pa) checkPages(ctxId, pa, out);
          runsEvents(pb, 1, evs);
          runsEvents(pa, -1, evs);
          addCharge(charges, pb, -1n);
          addCharge(charges, pa, 1n);
          const key = pa && accountKey(pa);
          const charged = pa && (pb ? pa.npinned > pb.npinned || pb.ownerPid !== pa.ownerPid || pb.ownerUid !== pa.ownerUid : pa.npinned > 0);
          if (pa && key && charged) {
            const l = limits.get(key) ?? [];
            l.push(d.next.procs.get(pa.ownerPid)?.memlockPages ?? null);
            limits.set(key, l);
          }
        }
        const bad = firstNonZero(evs);
        if (bad)
          out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: id, message: `after ${d.event.op}, page ${bad[0]} of pages ${id} has ${Math.abs(bad[1])} ${bad[1] < 0 ? 'more' : 'fewer'} pin holder(s) than its areas in domain-backed IOASes and access pins account for` });
        const want = refs.get(id) ?? 0;
        const have = (pa?.areaRefs ?? 0) - (pb?.areaRefs ?? 0);
        if (want !== have) out.push({ invariant: PINNED_ACCOUNTING, ctx: ctxId, obj: id, message: `${d.event.op}: pages ${id}: area_refs changed by ${have} but areas using it by ${want}` });
      }
      if (after)
        for (const [ioasId, starts] of accessIoas) {
          const o = after.objs.get(ioasId);
          if (o?.type === 'ioas') checkNumAccesses(ctxId, after, o, out, starts ?? undefined);
        }
    }
    // locked_vm counters move exactly with the charges (until a kernel WARN: see checkState).
    if (d.next.taint !== undefined) return out;
    const keys = new Set(charges.keys());
    for (const uid of d.userLockedVm.keys()) keys.add(`u${uid}`);
    for (const pid of d.procs.keys()) keys.add(`m${pid}`);
    for (const k of keys) {
      if (deadMm(d.next, k)) continue;
      const want = charges.get(k) ?? 0n;
      const have = counterValue(d.next, k) - counterValue(d.prev, k);
      if (want !== have) out.push({ invariant: PINNED_ACCOUNTING, message: `${d.event.op}: ${counterName(k)} changed by ${have} pages but the charged pins by ${want}` });
    }
    for (const [k, ls] of limits) {
      if (ls.some((l) => l === null)) continue;
      const max = (ls as bigint[]).reduce((a, b) => (a > b ? a : b));
      const v = counterValue(d.next, k);
      if (v > max) out.push({ invariant: PINNED_ACCOUNTING, message: `${d.event.op}: ${counterName(k)} was charged up to ${v} pages, over RLIMIT_MEMLOCK ${max}` });
    }
    return out;
  },
};
