/**
 * Properties of the VFIO type1 container emulation over random ioctl
 * sequences (fast-check, fixed seed):
 * - a type1 (TYPE1, large pages disabled) unmap of any range never leaves a
 *   partial area: whatever it answers, every IOVA still mapped keeps the
 *   page it had, what disappeared lies inside the range and adds up to the
 *   `size` written back, on success nothing in the range is left, and a
 *   page-aligned one succeeds unless an access pins an area it must cut;
 * - pin holder counts stay exact through area splits;
 * - after UNMAP_ALL the compat IOAS is empty;
 * - GET_INFO's IOVA-range cap equals IOAS_IOVA_RANGES of the same IOAS, and
 *   a GET_INFO with a shorter argsz writes nothing at or after argsz and
 *   below it only bytes of the full answer (a `next` still 0).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Event, Result } from '../../src/events/event.js';
import { apply } from '../../src/engine/apply.js';
import { Checker } from '../../src/invariants/index.js';
import { emptyWorld, type Area, type Ctx, type World } from '../../src/model/state.js';

const SEED = 0x1f10;
const BUF = 0x7f0000000000n;
const BUF_LEN = 0x100000n;
const FD = 0;
const APERTURE = 0x1000000n;
const PAGE = 0x1000n;
const U64_MAX = 0xffffffffffffffffn;

const ioctl = (op: string, args: Event['args'], extra: Partial<Event> = {}): Event => ({ op, fd: FD, args, ...extra });

/**
 * IOAS 1 is the compat IOAS, with a mock domain (stdev 2, device 3, HWPT 4)
 * unless `domain` is false, and an access that pins (object 5 or 2; its fd
 * comes back from the setup). `type` is the VFIO_SET_IOMMU argument.
 */
function setup(type: 1 | 3, domain: boolean): { w: World; accessFd: number } {
  let w = emptyWorld({ kernel: '6.12' });
  const run = (ev: Event): Result => {
    const r = apply(w, ev);
    w = r.state;
    return r.result;
  };
  run({ op: 'open', args: { path: '/dev/iommu' } });
  run({ op: 'mmap', args: { va: BUF, length: BUF_LEN, kind: 'anon' } });
  run(ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }));
  if (domain) expect(run(ioctl('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} })).errno).toBe(0);
  expect(run(ioctl('IOMMU_VFIO_IOAS', { ioas_id: 1, op: 1, __reserved: 0 })).errno).toBe(0);
  expect(run(ioctl('VFIO_SET_IOMMU', { arg: BigInt(type) })).errno).toBe(0);
  const acc = run(ioctl('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }));
  expect(acc.errno).toBe(0);
  const accessFd = Number((acc.out!['create_access'] as { out_access_fd: number }).out_access_fd);
  return { w, accessFd };
}

/**
 * Mostly page k of a 32-page window, at IOVA APERTURE + k pages and user VA
 * BUF + k pages (so maps collide and accesses find what they pin); sometimes
 * 2 KiB steps or the edges of the 64-bit space.
 */
const WINDOW = 0x20;
const page = fc.integer({ min: 0, max: WINDOW - 1 });
const iova = fc.oneof(
  { weight: 8, arbitrary: page.map((k) => APERTURE + BigInt(k) * PAGE) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * WINDOW }).map((k) => APERTURE + BigInt(k) * 0x800n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, PAGE, APERTURE - 1n, U64_MAX, U64_MAX - PAGE + 1n) },
);
const size = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 8 }).map((k) => BigInt(k) * PAGE) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0x20 }).map((k) => BigInt(k) * 0x800n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, U64_MAX, 0x8000000000000000n) },
);
const flags = fc.constantFrom(3, 3, 3, 3, 1, 2, 0, 4);

const mapDma = fc.oneof(
  { weight: 6, arbitrary: fc.record({ flags, k: page, n: fc.integer({ min: 1, max: 8 }) }).map((r) => ({ flags: r.flags, vaddr: BUF + BigInt(r.k) * PAGE, iova: APERTURE + BigInt(r.k) * PAGE, size: BigInt(r.n) * PAGE })) },
  { weight: 1, arbitrary: fc.record({ flags, vaddr: fc.constantFrom(BUF, BUF + 0x800n, BUF + 0x3000n), iova, size }) },
).map((r) => ioctl('VFIO_IOMMU_MAP_DMA', { argsz: 32, ...r }));
const unmapDma = fc.record({ iova, size }).map((r) => ioctl('VFIO_IOMMU_UNMAP_DMA', { argsz: 24, flags: 0, iova: r.iova, size: r.size }));

function events(accessFd: number): fc.Arbitrary<Event> {
  return fc.oneof(
    { weight: 6, arbitrary: mapDma },
    { weight: 6, arbitrary: unmapDma },
    { weight: 1, arbitrary: fc.constant(ioctl('VFIO_IOMMU_UNMAP_DMA', { argsz: 24, flags: 2, iova: 0n, size: 0n })) },
    {
      weight: 3,
      arbitrary: fc.record({ k: page, n: fc.integer({ min: 1, max: 3 }) }).map((r) =>
        ioctl('IOMMU_TEST_OP_ACCESS_PAGES', {
          id: accessFd,
          access_pages: { flags: 0, iova: APERTURE + BigInt(r.k) * PAGE, length: BigInt(r.n) * PAGE, uptr: BUF + BigInt(r.k) * PAGE },
        }),
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 }).map((k) => ioctl('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', { id: accessFd, destroy_access_pages: { access_pages_id: k } })) },
  );
}

const ctxOf = (w: World): Ctx => w.ctxs.toArray()[0]![1];
const areasOf = (w: World, ioas = 1): { start: bigint; last: bigint; value: Area }[] => {
  const o = ctxOf(w).objs.get(ioas);
  return o?.type === 'ioas' ? o.iopt.areas.toArray() : [];
};

/** What each mapped IOVA of the IOAS points at: pages id, byte offset, prot. */
function translate(areas: { start: bigint; last: bigint; value: Area }[], at: bigint): string | undefined {
  const a = areas.find((x) => x.start <= at && at <= x.last);
  return a && `${a.value.pages}:${a.value.startByte + (at - a.start)}:${a.value.prot}`;
}

/** Every pinned page's holder count equals the areas (in domain-backed IOASes) plus access pieces covering it. */
function checkHolders(w: World): void {
  const ctx = ctxOf(w);
  const want = new Map<string, number>();
  const hold = (pages: number, first: number, last: number) => {
    for (let k = first; k <= last; k++) want.set(`${pages}:${k}`, (want.get(`${pages}:${k}`) ?? 0) + 1);
  };
  for (const [, o] of ctx.objs.toArray()) {
    if (o.type === 'ioas' && o.iopt.domains.length)
      for (const a of o.iopt.areas.toArray()) hold(a.value.pages, Number(a.value.startByte / PAGE), Number((a.value.startByte + (a.last - a.start)) / PAGE));
    if (o.type === 'access') for (const [, it] of o.items.toArray()) for (const p of it.pieces) hold(p.pages, p.first, p.last);
  }
  const have = new Map<string, number>();
  for (const [id, p] of ctx.pages.toArray()) {
    for (const [k, run] of p.pinned.toArray()) for (let i = k; i <= run.last; i++) have.set(`${id}:${i}`, run.count);
    const distinct = [...want.keys()].filter((key) => key.startsWith(`${id}:`)).length;
    expect(p.npinned, `pages ${id}: npinned`).toBe(distinct);
  }
  expect(Object.fromEntries(have)).toEqual(Object.fromEntries(want));
}

/** Check one type1 UNMAP_DMA step against the state before and after. */
function checkType1Unmap(before: World, after: World, ev: Event, res: Result): void {
  const a = ev.args!;
  const start = a['iova'] as bigint;
  const len = a['size'] as bigint;
  const last = (start + len - 1n) & U64_MAX;
  const was = areasOf(before);
  const now = areasOf(after);
  // Every IOVA still mapped maps what it mapped before (a cut keeps pages and offsets).
  for (const x of now) for (const at of [x.start, x.last]) expect(translate(now, at)).toBe(translate(was, at));
  for (const x of now) expect(was.some((y) => y.start <= x.start && x.last <= y.last && x.value.pages === y.value.pages)).toBe(true);
  // What disappeared is whole pieces inside the range, adding up to `size`.
  let removed = 0n;
  const gaps: [bigint, bigint][] = [];
  const valid = len !== 0n && start + len - 1n <= U64_MAX;
  for (const y of was) {
    // The holes that y's surviving pieces leave: each one lies in [start, last].
    let pos = y.start;
    for (const x of now.filter((x) => x.start >= y.start && x.last <= y.last)) {
      if (x.start > pos) gaps.push([pos, x.start - 1n]);
      pos = x.last + 1n;
    }
    if (pos <= y.last) gaps.push([pos, y.last]);
  }
  for (const [s, l] of gaps) {
    expect(valid, 'unmap removed bytes although its range is empty or wraps').toBe(true);
    expect(s >= start && l <= last, `removed [${s.toString(16)}, ${l.toString(16)}] outside the range`).toBe(true);
    removed += l - s + 1n;
  }
  if (res.out) expect(res.out['size']).toBe(removed);
  // Page-aligned, it always succeeds unless an access pins an area it would cut.
  const aligned = valid && start % PAGE === 0n && len % PAGE === 0n;
  const cutsPinned = was.some((y) => y.value.numAccesses > 0 && ((y.start < start && y.last >= start) || (y.start <= last && y.last > last)));
  if (aligned && !cutsPinned) expect(res.errno, 'aligned type1 unmap').toBe(0);
  if (res.errno === 0) {
    for (const x of now) expect(x.last < start || x.start > last, `area [${x.start.toString(16)}, ${x.last.toString(16)}] left in the unmapped range`).toBe(true);
  }
}

function runProperty(type: 1 | 3, domain: boolean): void {
  const { w: w0, accessFd } = setup(type, domain);
  fc.assert(
    fc.property(fc.array(events(accessFd), { minLength: 1, maxLength: 40 }), (evs) => {
      let w = w0;
      const checker = new Checker();
      for (const [index, ev] of evs.entries()) {
        const { state, result } = apply(w, ev);
        expect(result.unmodelled).toBeUndefined();
        if (ev.op === 'VFIO_IOMMU_UNMAP_DMA' && ev.args!['flags'] === 0) {
          if (type === 1) checkType1Unmap(w, state, ev, result);
          // Without a cut, the native rule: only whole areas go.
          else for (const x of areasOf(state)) expect(areasOf(w).some((y) => y.start === x.start && y.last === x.last)).toBe(true);
        }
        // (failed-ioctl-unchanged among them: a failure changes nothing but what its faults of user memory filled in)
        expect(checker.step({ prev: w, next: state, event: ev, result, index }), ev.op).toEqual([]);
        w = state;
        checkHolders(w);
      }
      // UNMAP_ALL empties the compat IOAS.
      const all = apply(w, ioctl('VFIO_IOMMU_UNMAP_DMA', { argsz: 24, flags: 2, iova: 0n, size: 0n }));
      expect(all.result.errno).toBe(0);
      expect(all.result.out!['size']).toBe(areasOf(w).reduce((s, x) => s + (x.last - x.start + 1n), 0n));
      expect(areasOf(all.state)).toEqual([]);
      checkHolders(all.state);
    }),
    { seed: SEED, numRuns: 200 },
  );
}

/** Walk GET_INFO's cap chain (bytes from offset 24) to the IOVA-range cap's ranges. */
function capRanges(caps: Uint8Array, capOffset: number): { start: bigint; last: bigint }[] {
  const dv = new DataView(caps.buffer, caps.byteOffset, caps.byteLength);
  for (let off = capOffset; off; ) {
    const at = off - 24;
    const id = dv.getUint16(at, true);
    if (id === 1) {
      const n = dv.getUint32(at + 8, true);
      return Array.from({ length: n }, (_, i) => ({ start: dv.getBigUint64(at + 16 + 16 * i, true), last: dv.getBigUint64(at + 24 + 16 * i, true) }));
    }
    off = dv.getUint32(at + 4, true);
  }
  throw new Error('no IOVA-range cap in the chain');
}

describe(`VFIO compat properties (seed ${SEED})`, () => {
  it('TYPE1 with a mock domain: unmap of any range never leaves a partial area; pins exact; UNMAP_ALL empties', () => runProperty(1, true));
  it('TYPE1 without a domain: the same', () => runProperty(1, false));
  it('TYPE1v2: unmap never splits; UNMAP_ALL empties', () => runProperty(3, true));

  it("GET_INFO's IOVA ranges equal IOAS_IOVA_RANGES; a short argsz writes only full-answer bytes and nothing past argsz", () => {
    const reserve = fc.record({ start: fc.bigInt({ min: 0n, max: 0x100000000n }), pages: fc.integer({ min: 1, max: 0x100 }) });
    fc.assert(
      fc.property(fc.array(reserve, { maxLength: 6 }), fc.boolean(), fc.nat(), (reserved, domain, pick) => {
        let { w } = setup(3, domain);
        for (const r of reserved) w = apply(w, ioctl('IOMMU_TEST_OP_ADD_RESERVED', { id: 1, add_reserved: { start: r.start * PAGE, length: BigInt(r.pages) * PAGE } })).state;
        const native = apply(w, ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id: 1, num_iovas: 64, __reserved: 0, allowed_iovas: 0x10000n }, { bufs: { allowed_iovas: new Uint8Array(64 * 16) } })).result;
        expect(native.errno).toBe(0);
        const n = native.out!['num_iovas'] as number;
        const nb = native.bufs!['allowed_iovas']!;
        const dv = new DataView(nb.buffer, nb.byteOffset, nb.byteLength);
        const want = Array.from({ length: n }, (_, i) => ({ start: dv.getBigUint64(i * 16, true), last: dv.getBigUint64(i * 16 + 8, true) }));

        const probe = apply(w, ioctl('VFIO_IOMMU_GET_INFO', { argsz: 16, flags: 0, iova_pgsizes: 0n })).result;
        const total = probe.out!['argsz'] as number;
        const fill = (len: number) => new Uint8Array(len).fill(0xa5);
        const full = apply(w, ioctl('VFIO_IOMMU_GET_INFO', { argsz: total, flags: 0, iova_pgsizes: 0n, cap_offset: 0 }, { bufs: { caps: fill(total - 24) } })).result;
        expect(full.errno).toBe(0);
        expect(full.out!['cap_offset']).toBe(24);
        expect(full.out!['argsz']).toBe(total);
        expect(capRanges(full.bufs!['caps']!, 24)).toEqual(want);

        // Any shorter argsz: the same struct answer, caps bytes either untouched or the full answer's.
        const argsz = 16 + (pick % (total - 16));
        const part = apply(w, ioctl('VFIO_IOMMU_GET_INFO', { argsz, flags: 0, iova_pgsizes: 0n, cap_offset: 0 }, { bufs: { caps: fill(Math.max(0, argsz - 24)) } })).result;
        expect(part.errno).toBe(0);
        expect(part.out!['argsz']).toBe(total);
        if (argsz > 16) expect(part.out!['cap_offset']).toBe(0); // even one byte of it
        else expect(part.out!['cap_offset']).toBeUndefined();
        const pc = part.bufs?.['caps'] ?? new Uint8Array(0);
        expect(pc.length).toBe(Math.max(0, argsz - 24));
        // A cap's `next` is written 0 with the cap and set only once argsz reaches the cap it points to.
        const fc0 = full.bufs!['caps']!;
        const nextBytes = new Set<number>();
        for (let off = 24; off; off = new DataView(fc0.buffer, fc0.byteOffset).getUint32(off - 24 + 4, true)) for (let k = 4; k < 8; k++) nextBytes.add(off - 24 + k);
        pc.forEach((b, i) => expect(b === 0xa5 || b === fc0[i] || (nextBytes.has(i) && b === 0), `caps byte ${i + 24}`).toBe(true));
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});
