/**
 * map-postcondition and unmap-postcondition find what a step changed by
 * walking the two versions of the area tree past their shared subtrees (their
 * cost follows the change). Here they are held to the plain definition,
 * written over whole area lists as they were first written: on random area
 * maps, random changes to them and random MAP / UNMAP results, both give the
 * same messages. Planted bugs of each kind are caught.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalMap } from '../../src/ds/interval_map.js';
import { apply } from '../../src/engine/apply.js';
import type { Event, Result } from '../../src/events/event.js';
import { invariant, StepDelta, type Violation } from '../../src/invariants/index.js';
import { emptyWorld, type Area, type IoasObj, type World } from '../../src/model/state.js';

const VA = 0x7f0000000000n;
const U64_MAX = 0xffffffffffffffffn;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** A world with IOAS 1 (mapped once, so a pages object exists) whose areas can then be replaced at will. */
function base(): World {
  let w = emptyWorld({ kernel: '6.12' });
  for (const ev of [
    { op: 'open', args: { path: '/dev/iommu' } },
    { op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon' } },
    { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
    { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x1000n, iova: 0x100000n } },
  ] as Event[])
    w = apply(w, ev).state;
  return w;
}
const W0 = base();

function withAreas(w: World, areas: IntervalMap<Area>): World {
  const c = w.ctxs.get(1)!;
  const o = c.objs.get(1) as IoasObj;
  return { ...w, ctxs: w.ctxs.set(1, { ...c, objs: c.objs.set(1, { ...o, iopt: { ...o.iopt, areas } }) }) };
}

interface Entry {
  start: bigint;
  last: bigint;
  value: Area;
}
const list = (w: World): Entry[] => (w.ctxs.get(1)!.objs.get(1) as IoasObj).iopt.areas.toArray();
const overlaps = (a: Entry, s: bigint, l: bigint) => a.start <= l && s <= a.last;

/** The UNMAP postcondition over whole area lists (the definition). */
function unmapByLists(prev: World, next: World, iova: bigint, length: bigint, result: Result): string[] {
  const out: string[] = [];
  const bad = (m: string) => void out.push(`IOMMU_IOAS_UNMAP ${m}`);
  const all = iova === 0n && length === U64_MAX;
  if (!all && (length === 0n || iova + length - 1n > U64_MAX || iova === U64_MAX || length === U64_MAX)) return out;
  const last = all ? U64_MAX : iova + length - 1n;
  const b = list(prev);
  const a = list(next);
  const key = (x: Entry) => `${x.start}:${x.last}`;
  const kept = new Set(b.map(key));
  for (const x of a) if (!kept.has(key(x))) return bad(`created or resized an area: [${hex(x.start)}, ${hex(x.last)}]`), out;
  const left = new Set(a.map(key));
  const removed = b.filter((x) => !left.has(key(x)));
  for (const x of removed) if (x.start < iova || x.last > last) bad(`of [${hex(iova)}, ${hex(last)}] removed area [${hex(x.start)}, ${hex(x.last)}], which is not inside it`);
  const stillIn = a.filter((x) => overlaps(x, iova, last));
  const bytes = removed.reduce((s, x) => s + (x.last - x.start + 1n), 0n);
  if (result.errno === 0) {
    if (stillIn.length) bad(`of [${hex(iova)}, ${hex(last)}] succeeded but area [${hex(stillIn[0]!.start)}, ${hex(stillIn[0]!.last)}] still overlaps it`);
    const reported = BigInt((result.out?.['length'] as bigint | undefined) ?? 0n);
    if (reported !== bytes) bad(`of [${hex(iova)}, ${hex(last)}] reports ${hex(reported)} bytes unmapped but removed ${hex(bytes)}`);
    if (!all && bytes === 0n) bad(`of [${hex(iova)}, ${hex(last)}] succeeded without removing anything (must be ENOENT)`);
  } else if (result.errno === 'ENOENT') {
    const first = stillIn[0];
    if (!first) {
      if (removed.length || b.some((x) => overlaps(x, iova, last))) bad(`of [${hex(iova)}, ${hex(last)}] failed ENOENT although every area it met was inside the range`);
    } else {
      if (first.start >= iova && first.last <= last) bad(`of [${hex(iova)}, ${hex(last)}] failed ENOENT at area [${hex(first.start)}, ${hex(first.last)}], which lies inside the range`);
      for (const x of removed) if (x.start > first.start) bad(`of [${hex(iova)}, ${hex(last)}] removed area [${hex(x.start)}, ${hex(x.last)}] after the area it stopped at`);
    }
  }
  return out;
}

/** The area part of the MAP postcondition over whole area lists (the definition). */
function mapByLists(prev: World, next: World, iova: bigint, length: bigint, prot: number): string[] {
  const out: string[] = [];
  const bad = (m: string) => void out.push(`IOMMU_IOAS_MAP ${m}`);
  const last = iova + length - 1n;
  const b = list(prev);
  const a = list(next);
  const hit = b.find((x) => overlaps(x, iova, last));
  if (hit) bad(`of [${hex(iova)}, ${hex(last)}] succeeded over the existing area [${hex(hit.start)}, ${hex(hit.last)}]`);
  const fresh = a.filter((x) => overlaps(x, iova, last));
  let cur = iova;
  for (const x of fresh) {
    if (x.start !== cur) return bad(`of [${hex(iova)}, ${hex(last)}] left ${x.start > cur ? `a hole at ${hex(cur)}` : `area [${hex(x.start)}, ${hex(x.last)}] sticking out`}`), out;
    if (x.value.prot !== prot) bad(`of [${hex(iova)}, ${hex(last)}] made area [${hex(x.start)}, ${hex(x.last)}] with prot ${x.value.prot}, not ${prot}`);
    cur = x.last + 1n;
  }
  if (cur !== last + 1n) return bad(`of [${hex(iova)}, ${hex(last)}] covers only up to ${hex(cur - 1n)}`), out;
  const ra = a.filter((x) => !overlaps(x, iova, last));
  const rb = b.filter((x) => !overlaps(x, iova, last));
  const same = (x: Entry, y: Entry) => x.start === y.start && x.last === y.last && x.value.pages === y.value.pages && x.value.startByte === y.value.startByte;
  if (ra.length !== rb.length || ra.some((x, i) => !same(x, rb[i]!))) bad(`of [${hex(iova)}, ${hex(last)}] changed areas outside that range`);
  return out;
}

/** The MAP postcondition's pages-object messages (not area checks). */
const PAGES_MESSAGE = /areas instead of one|reused the existing pages object|in-page offset|which the source did not have/;

const messages = (name: string, prev: World, next: World, event: Event, result: Result): string[] =>
  invariant(name)
    .checkStep(new StepDelta({ prev, next, event, result, index: 0 }))
    .map((v: Violation) => v.message);

/** Disjoint areas on a coarse grid (so that ranges meet them often), as [slot, pages] pairs. */
const SLOT = 0x10000n;
const arbAreas = fc.uniqueArray(fc.record({ slot: fc.integer({ min: 0, max: 40 }), pages: fc.integer({ min: 1, max: 16 }), prot: fc.constantFrom(5, 7) }), { selector: (x) => x.slot, maxLength: 40 });
const area = (prot: number, pages = 1, startByte = 0n): Area => ({ pages, startByte, prot, numAccesses: 0 });
function build(xs: { slot: number; pages: number; prot: number }[]): IntervalMap<Area> {
  let m = IntervalMap.empty<Area>();
  for (const x of xs) m = m.insert(BigInt(x.slot) * SLOT, BigInt(x.slot) * SLOT + BigInt(x.pages) * 0x1000n - 1n, area(x.prot));
  return m;
}

/** A change to an area map: remove some, add some, resize one, retag one (the kinds of mistake a reducer could make). */
const arbEdit = fc.record({
  remove: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 8 }),
  add: fc.array(fc.record({ slot: fc.integer({ min: 0, max: 40 }), pages: fc.integer({ min: 1, max: 16 }), prot: fc.constantFrom(5, 7) }), { maxLength: 4 }),
  resize: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
  retag: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
});
function edit(m: IntervalMap<Area>, e: fc.RecordValue<{ remove: number[]; add: { slot: number; pages: number; prot: number }[]; resize: number | undefined; retag: number | undefined }>): IntervalMap<Area> {
  for (const s of e.remove) if (m.has(BigInt(s) * SLOT)) m = m.remove(BigInt(s) * SLOT);
  for (const x of e.add) {
    const s = BigInt(x.slot) * SLOT;
    const l = s + BigInt(x.pages) * 0x1000n - 1n;
    if (!m.anyOverlap(s, l)) m = m.insert(s, l, area(x.prot, 2));
  }
  if (e.resize !== undefined && m.has(BigInt(e.resize) * SLOT)) {
    const s = BigInt(e.resize) * SLOT;
    const v = m.get(s)!;
    const l = m.find(s)!.last;
    m = m.remove(s);
    if (!m.anyOverlap(s, l + 0x1000n)) m = m.insert(s, l + 0x1000n, v);
    else m = m.insert(s, l, v);
  }
  if (e.retag !== undefined && m.has(BigInt(e.retag) * SLOT)) {
    const s = BigInt(e.retag) * SLOT;
    m = m.replaceValue(s, { ...m.get(s)!, startByte: 0x800n });
  }
  return m;
}
const arbRange = fc.oneof(
  fc.record({ iova: fc.integer({ min: 0, max: 42 }).map((s) => BigInt(s) * SLOT), length: fc.integer({ min: 1, max: 12 }).map((n) => BigInt(n) * SLOT) }),
  fc.record({ iova: fc.integer({ min: 0, max: 42 }).map((s) => BigInt(s) * SLOT + 0x1000n), length: fc.integer({ min: 1, max: 40 }).map((n) => BigInt(n) * 0x1000n) }),
  fc.constant({ iova: 0n, length: U64_MAX }),
);

describe('map / unmap postconditions: the diff-based checks agree with the definition over whole lists', () => {
  it('UNMAP: random before/after area maps, ranges and results', () => {
    fc.assert(
      fc.property(arbAreas, arbEdit, arbRange, fc.constantFrom<string | 0>(0, 'ENOENT'), fc.boolean(), (xs, e, r, errno, honest) => {
        const before = build(xs);
        const after = edit(before, e);
        const prev = withAreas(W0, before);
        const next = withAreas(W0, after);
        // the length written back: what was removed (honest) or something else
        let removed = 0n;
        for (const x of before.toArray()) if (!after.has(x.start) || after.find(x.start)!.last !== x.last) removed += x.last - x.start + 1n;
        const result: Result = errno === 0 ? { errno, out: { length: honest ? removed : removed + 0x1000n } } : { errno };
        const ev: Event = { op: 'IOMMU_IOAS_UNMAP', fd: 0, args: { ioas_id: 1, iova: r.iova, length: r.length } };
        expect(messages('unmap-postcondition', prev, next, ev, result)).toEqual(unmapByLists(prev, next, r.iova, r.length, result));
      }),
      { numRuns: 3000, seed: 0x5eed },
    );
  });

  it('MAP: random before/after area maps and ranges', () => {
    fc.assert(
      fc.property(arbAreas, arbEdit, arbRange.filter((r) => r.length !== U64_MAX), fc.constantFrom(5, 7), fc.constantFrom('clean', 'over', 'none'), (xs, e, r, prot, mode) => {
        const last = r.iova + r.length - 1n;
        let before = build(xs);
        // clean: the MAP did its job (the range free before, one area covering it after); over: it mapped over
        // areas that were there, replacing them; none: whatever the edit left
        if (mode === 'clean') for (const x of before.toArray()) if (overlaps(x, r.iova, last)) before = before.remove(x.start);
        let after = edit(before, e);
        if (mode !== 'none') {
          for (const x of after.toArray()) if (overlaps(x, r.iova, last)) after = after.remove(x.start);
          after = after.insert(r.iova, last, area(prot, 9, r.iova % 0x1000n));
        }
        const prev = withAreas(W0, before);
        const next = withAreas(W0, after);
        const flags = prot === 7 ? 7 : 5; // FIXED_IOVA | READABLE (| WRITEABLE)
        const ev: Event = { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags, ioas_id: 1, __reserved: 0, user_va: VA + (r.iova % 0x1000n), length: r.length, iova: r.iova } };
        const got = messages('map-postcondition', prev, next, ev, { errno: 0, out: { iova: r.iova } });
        const want = mapByLists(prev, next, r.iova, r.length, prot);
        // the pages-object checks are the same code as before: compare the area messages
        expect(got.filter((m) => !PAGES_MESSAGE.test(m))).toEqual(want);
      }),
      { numRuns: 3000, seed: 0x5eed },
    );
  });

  it('each kind of UNMAP mistake is caught', () => {
    const before = build([{ slot: 1, pages: 4, prot: 7 }, { slot: 2, pages: 4, prot: 7 }, { slot: 5, pages: 1, prot: 7 }]);
    const prev = withAreas(W0, before);
    const ev = (iova: bigint, length: bigint): Event => ({ op: 'IOMMU_IOAS_UNMAP', fd: 0, args: { ioas_id: 1, iova, length } });
    const check = (after: IntervalMap<Area>, e: Event, res: Result, re: RegExp) => expect(messages('unmap-postcondition', prev, withAreas(W0, after), e, res).join('\n')).toMatch(re);
    const s1 = SLOT;
    const s2 = 2n * SLOT;
    check(before.remove(s1).insert(s1, s1 + 0x7fffn, area(7)), ev(s1, SLOT), { errno: 0, out: { length: 0x4000n } }, /created or resized an area/);
    check(before.remove(s2), ev(s1, SLOT), { errno: 0, out: { length: 0x4000n } }, /removed area \[0x20000, 0x23fff\], which is not inside it/);
    check(before, ev(s1, SLOT), { errno: 0, out: { length: 0n } }, /succeeded but area \[0x10000, 0x13fff\] still overlaps it/);
    check(before.remove(s1), ev(s1, SLOT), { errno: 0, out: { length: 0x1000n } }, /reports 0x1000 bytes unmapped but removed 0x4000/);
    check(before, ev(8n * SLOT, SLOT), { errno: 0, out: { length: 0n } }, /succeeded without removing anything/);
    check(before.remove(s1), ev(s1, SLOT), { errno: 'ENOENT' }, /failed ENOENT although every area it met was inside the range/);
    check(before, ev(s1, SLOT), { errno: 'ENOENT' }, /failed ENOENT at area \[0x10000, 0x13fff\], which lies inside the range/);
    check(before.remove(5n * SLOT), ev(s1 + 0x2000n, 5n * SLOT), { errno: 'ENOENT' }, /removed area \[0x50000, 0x50fff\] after the area it stopped at/);
  });

  it('each kind of MAP mistake is caught', () => {
    const before = build([{ slot: 1, pages: 4, prot: 7 }, { slot: 5, pages: 1, prot: 7 }]);
    const prev = withAreas(W0, before);
    const iova = 3n * SLOT;
    const ev: Event = { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x4000n, iova } };
    const check = (p: World, after: IntervalMap<Area>, re: RegExp) => expect(messages('map-postcondition', p, withAreas(W0, after), ev, { errno: 0, out: { iova } }).join('\n')).toMatch(re);
    const good = before.insert(iova, iova + 0x3fffn, area(7, 9));
    check(prev, good, /^$/);
    check(withAreas(W0, before.insert(iova + 0x1000n, iova + 0x1fffn, area(7))), good, /succeeded over the existing area/);
    check(prev, before.insert(iova + 0x1000n, iova + 0x3fffn, area(7, 9)), /left a hole at 0x30000/);
    check(prev, before.insert(iova - 0x1000n, iova + 0x3fffn, area(7, 9)), /sticking out/);
    check(prev, before.insert(iova, iova + 0x3fffn, area(5, 9)), /with prot 5, not 7/);
    check(prev, before.insert(iova, iova + 0x1fffn, area(7, 9)), /covers only up to 0x31fff/);
    check(prev, good.remove(5n * SLOT), /changed areas outside that range/);
    check(prev, good.replaceValue(SLOT, area(7, 1, 0x800n)), /changed areas outside that range/);
    check(prev, good.replaceValue(SLOT, { ...area(7), numAccesses: 1 }), /^$/); // an access pin is not a change of the mapping
    check(prev, before.insert(iova, iova + 0x1fffn, area(7, 9)).insert(iova + 0x2000n, iova + 0x3fffn, area(7, 9)), /made 2 areas instead of one/);
    check(prev, before.insert(iova, iova + 0x3fffn, area(7, 1)), /reused the existing pages object 1/);
  });
});

describe('areas-in-bounds and areas-disjoint: the step check (changed areas only) agrees with the whole-state check', () => {
  it('random valid before-states, random edits, reserved ranges and alignments', () => {
    const arbReserved = fc.array(fc.record({ slot: fc.integer({ min: 0, max: 42 }), pages: fc.integer({ min: 1, max: 20 }) }), { maxLength: 3 });
    fc.assert(
      fc.property(arbAreas, arbEdit, arbReserved, fc.constantFrom(1n, 0x1000n, 0x2000n), (xs, e, rs, align) => {
        const reserved = rs.map((r) => ({ start: BigInt(r.slot) * SLOT + 0x800n, last: BigInt(r.slot) * SLOT + BigInt(r.pages) * 0x1000n, owner: 'test' }));
        // a before-state that holds: no area under a reserved range
        let before = build(xs);
        for (const x of before.toArray()) if (reserved.some((r) => r.start <= x.last && x.start <= r.last)) before = before.remove(x.start);
        const setIopt = (areas: IntervalMap<Area>, alignment: bigint) => {
          const c = W0.ctxs.get(1)!;
          const o = c.objs.get(1) as IoasObj;
          return { ...W0, ctxs: W0.ctxs.set(1, { ...c, objs: c.objs.set(1, { ...o, iopt: { ...o.iopt, areas, reserved, iovaAlignment: alignment } }) }) };
        };
        const prev = setIopt(before, 1n);
        const next = setIopt(edit(before, e), 1n);
        for (const name of ['areas-in-bounds', 'areas-disjoint']) {
          const inv = invariant(name);
          expect(inv.checkState(prev)).toEqual([]);
          const step = inv.checkStep(new StepDelta({ prev, next, event: { op: 'note', args: {} }, result: { errno: 0 }, index: 0 }));
          expect(step.map((v) => v.message).sort()).toEqual(inv.checkState(next).map((v) => v.message).sort());
        }
        // a changed alignment: the step check walks every area
        const realigned = setIopt(edit(before, e), align);
        const inv = invariant('areas-in-bounds');
        const step = inv.checkStep(new StepDelta({ prev, next: realigned, event: { op: 'note', args: {} }, result: { errno: 0 }, index: 0 }));
        expect(step.map((v) => v.message).sort()).toEqual(inv.checkState(realigned).map((v) => v.message).sort());
      }),
      { numRuns: 2000, seed: 0x5eed },
    );
  });
});
