/**
 * vIOMMU / vDEVICE properties (kernel-semantics §10, §2.3, §2.6) over random
 * 6.14 command sequences: no vDEVICE outlives its vIOMMU, a virt_id names at
 * most one vDEVICE per vIOMMU, and the reference counts the model keeps are
 * the ones the objects imply.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apply } from '../../src/engine/apply.js';
import type { Event, Fields, Result } from '../../src/events/event.js';
import { emptyWorld, type Ctx, type World } from '../../src/model/state.js';

const SEED = 0x71e0;
const PID = 1;
const VIOMMU_TYPE_SELFTEST = 0xdeadbeef;
const HWPT_DATA_SELFTEST = 0xdead;
const VIOMMU_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;

interface Fixture {
  w: World;
  fd: number;
  ioas: number;
  stdevs: number[];
  idevs: number[];
  parents: number[];
}

function run(w: World, ev: Event): [World, Result] {
  const r = apply(w, ev);
  return [r.state, r.result];
}

/** The last ioctl made: [op, fd, args]. */
let lastEvent: [string, number, Fields] = ['', 0, {}];

function ioctl(fx: { w: World; fd: number }, op: string, args: Fields, bufs?: Event['bufs']): Result {
  lastEvent = [op, fx.fd, args];
  const [w, r] = run(fx.w, { op, pid: PID, fd: fx.fd, args, ...(bufs ? { bufs } : {}) });
  fx.w = w;
  return r;
}

function outId(r: Result, k: string): number {
  expect(r.errno).toBe(0);
  return Number(r.out![k]);
}

/** One context with an IOAS, two mock devices and a nesting-parent HWPT per device. */
function fixture(): Fixture {
  let w = emptyWorld({ kernel: '6.14' });
  const [w1, opened] = run(w, { op: 'open', pid: PID, args: { path: '/dev/iommu' } });
  w = w1;
  const fx: Fixture = { w, fd: opened.ret!, ioas: 0, stdevs: [], idevs: [], parents: [] };
  fx.ioas = outId(ioctl(fx, 'IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
  for (let i = 0; i < 2; i++) {
    const r = ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN', { id: fx.ioas, mock_domain: {} });
    expect(r.errno).toBe(0);
    const m = r.out!['mock_domain'] as Fields;
    fx.stdevs.push(Number(m['out_stdev_id']));
    fx.idevs.push(Number(m['out_idev_id']));
  }
  for (const dev of fx.idevs) {
    const r = ioctl(fx, 'IOMMU_HWPT_ALLOC', { flags: 1, dev_id: dev, pt_id: fx.ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 });
    fx.parents.push(outId(r, 'out_hwpt_id'));
  }
  return fx;
}

/** The fixture plus one vIOMMU on the first parent. */
function fixtureWithViommu(): Fixture {
  const fx = fixture();
  outId(ioctl(fx, 'IOMMU_VIOMMU_ALLOC', { flags: 0, type: VIOMMU_TYPE_SELFTEST, dev_id: fx.idevs[0]!, hwpt_id: fx.parents[0]! }), 'out_viommu_id');
  return fx;
}

/**
 * An object reference: usually the n-th live object of the wanted type (so
 * that commands meet live objects), sometimes any ID at all (wrong types,
 * missing IDs).
 */
type Ref = { live: boolean; n: number };
const ref: fc.Arbitrary<Ref> = fc.record({
  live: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  n: fc.nat({ max: 15 }),
});

type Cmd =
  | { k: 'viommu'; dev: Ref; hwpt: Ref; type: number }
  | { k: 'vdev'; viommu: Ref; dev: Ref; virt: bigint }
  | { k: 'nested'; viommu: Ref; dev: Ref }
  | { k: 'inval'; viommu: Ref; entries: [number, number, number][] }
  | { k: 'destroy'; what: 'viommu' | 'vdevice' | 'hwpt_nested' | 'hwpt_paging'; id: Ref }
  | { k: 'unbind'; which: number };

const virtId = fc.constantFrom(0n, 1n, 2n, 3n, 0x99n, 0x99n, (1n << 64n) - 1n);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('viommu' as const), dev: ref, hwpt: ref, type: fc.constantFrom(VIOMMU_TYPE_SELFTEST, VIOMMU_TYPE_SELFTEST, VIOMMU_TYPE_SELFTEST, 0, 1) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('vdev' as const), viommu: ref, dev: ref, virt: virtId }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('nested' as const), viommu: ref, dev: ref }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('inval' as const),
      viommu: ref,
      entries: fc.array(fc.tuple(fc.constantFrom(0, 0, 0, 1, 2), fc.constantFrom(0, 1, 2, 0x99, 7), fc.constantFrom(0, 1, 2, 3, 3, 4)), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('destroy' as const), what: fc.constantFrom('viommu' as const, 'vdevice' as const, 'vdevice' as const, 'hwpt_nested' as const, 'hwpt_paging' as const), id: ref }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unbind' as const), which: fc.integer({ min: 0, max: 1 }) }) },
);

function ctxOf(fx: Fixture): Ctx | undefined {
  let found: Ctx | undefined;
  fx.w.ctxs.each((_id, c) => {
    found = c;
    return false;
  });
  return found;
}

/** Resolve a reference against the live objects of `type` ('device' also finds unbound IDs). */
function pick(fx: Fixture, type: string, r: Ref): number {
  if (!r.live) return r.n;
  const ids: number[] = [];
  ctxOf(fx)!.objs.each((id, o) => {
    if (o.type === type) ids.push(id);
    return true;
  });
  return ids.length ? ids[r.n % ids.length]! : r.n;
}

function exec(fx: Fixture, c: Cmd): Result {
  switch (c.k) {
    case 'viommu':
      return ioctl(fx, 'IOMMU_VIOMMU_ALLOC', { flags: 0, type: c.type, dev_id: pick(fx, 'device', c.dev), hwpt_id: pick(fx, 'hwpt_paging', c.hwpt) });
    case 'vdev':
      return ioctl(fx, 'IOMMU_VDEVICE_ALLOC', { viommu_id: pick(fx, 'viommu', c.viommu), dev_id: pick(fx, 'device', c.dev), virt_id: c.virt });
    case 'nested': {
      const data = new Uint8Array([0xef, 0xbe, 0xad, 0x0b]);
      const args = { flags: 0, dev_id: pick(fx, 'device', c.dev), pt_id: pick(fx, 'viommu', c.viommu), data_type: HWPT_DATA_SELFTEST, data_len: 4, data_uptr: 0x10000n, fault_id: 0 };
      return ioctl(fx, 'IOMMU_HWPT_ALLOC', args, { data_uptr: data });
    }
    case 'inval': {
      const data = new Uint8Array(c.entries.length * 12);
      const dv = new DataView(data.buffer);
      c.entries.forEach(([flags, vdev, cache], i) => {
        dv.setUint32(i * 12, flags, true);
        dv.setUint32(i * 12 + 4, vdev, true);
        dv.setUint32(i * 12 + 8, cache, true);
      });
      return ioctl(
        fx,
        'IOMMU_HWPT_INVALIDATE',
        { hwpt_id: pick(fx, 'viommu', c.viommu), data_uptr: 0x10000n, data_type: VIOMMU_INVALIDATE_DATA_SELFTEST, entry_len: 12, entry_num: c.entries.length, __reserved: 0 },
        { data_uptr: data },
      );
    }
    case 'destroy':
      return ioctl(fx, 'IOMMU_DESTROY', { id: pick(fx, c.what, c.id) });
    case 'unbind':
      return ioctl(fx, 'IOMMU_DESTROY', { id: fx.stdevs[c.which]! });
  }
}

/** Entries are applied in order up to the first bad one, which reports how many were done. */
function checkInvalidation(before: Ctx, after: Ctx, c: Extract<Cmd, { k: 'inval' }>, r: Result): void {
  const v = before.objs.get(Number(lastEvent[2]['hwpt_id']));
  if (v?.type !== 'viommu') return;
  const caches = new Map<number, number[]>();
  before.objs.each((id, o) => {
    if (o.type === 'device') caches.set(id, o.cache.slice());
    return true;
  });
  let done = 0;
  let errno: string | 0 = 0;
  for (const [flags, vdev, cache] of c.entries) {
    if (flags & ~1) errno = 'EOPNOTSUPP';
    else if (cache > 3) errno = 'EINVAL';
    else if (!v.vdevs.has(BigInt(vdev))) errno = 'EINVAL';
    if (errno) break;
    const vd = before.objs.get(v.vdevs.get(BigInt(vdev))!);
    const words = vd?.type === 'vdevice' ? caches.get(vd.dev) : undefined;
    if (words) for (let i = 0; i < 4; i++) if (flags & 1 || i === cache) words[i] = 0;
    done++;
  }
  expect(r.errno).toBe(errno);
  expect(r.out?.['entry_num']).toBe(done);
  for (const [id, words] of caches) {
    const d = after.objs.get(id);
    expect(d?.type === 'device' ? d.cache : undefined).toEqual(words);
  }
}

/** The invariants, checked on the whole object table. */
function checkTable(ctx: Ctx): void {
  const vdevsOf = new Map<number, { id: number; virt: bigint }[]>();
  const nestedOf = new Map<number, number>();
  ctx.objs.each((id, o) => {
    if (o.type === 'vdevice') {
      const v = ctx.objs.get(o.viommu);
      // No vDEVICE outlives its vIOMMU.
      expect(v?.type, `vdevice ${id} names vIOMMU ${o.viommu}`).toBe('viommu');
      const l = vdevsOf.get(o.viommu) ?? [];
      l.push({ id, virt: o.virtId });
      vdevsOf.set(o.viommu, l);
      expect(o.users).toBe(1);
    }
    if (o.type === 'hwpt_nested' && o.viommu) {
      expect(ctx.objs.get(o.viommu)?.type).toBe('viommu');
      nestedOf.set(o.viommu, (nestedOf.get(o.viommu) ?? 0) + 1);
    }
    return true;
  });
  ctx.objs.each((id, o) => {
    if (o.type !== 'viommu') return true;
    const mine = vdevsOf.get(id) ?? [];
    // virt_id is unique per vIOMMU, and the vIOMMU's index is exactly its vDEVICEs.
    expect(new Set(mine.map((m) => m.virt)).size).toBe(mine.length);
    expect(o.vdevs.size).toBe(mine.length);
    for (const m of mine) expect(o.vdevs.get(m.virt)).toBe(m.id);
    // users = table + vDEVICEs + nested HWPTs allocated through it.
    expect(o.users).toBe(1 + mine.length + (nestedOf.get(id) ?? 0));
    const parent = ctx.objs.get(o.hwpt);
    expect(parent?.type === 'hwpt_paging' && parent.nestParent).toBe(true);
    return true;
  });
}

describe('vIOMMU and vDEVICE (6.14)', () => {
  it('no vDEVICE outlives its vIOMMU; virt_id is unique per vIOMMU; EEXIST exactly on a taken virt_id', () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 40 }), (cmds) => {
        const fx = fixtureWithViommu();
        for (const c of cmds) {
          const before = ctxOf(fx)!;
          const w0 = fx.w;
          const r = exec(fx, c);
          expect(r.unmodelled).toBeUndefined();
          const ctx = ctxOf(fx)!;
          if (c.k === 'vdev') {
            const [, , ev] = lastEvent;
            const v = before.objs.get(Number(ev['viommu_id']));
            const dev = before.objs.get(Number(ev['dev_id']));
            if (v?.type === 'viommu' && dev?.type === 'device') expect(r.errno).toBe(v.vdevs.has(c.virt) ? 'EEXIST' : 0);
            else expect(r.errno).toBe('ENOENT');
          }
          if (c.k === 'destroy' && r.errno === 0) {
            // A vIOMMU goes only once nothing refers to it.
            const o = before.objs.get(Number(lastEvent[2]['id']))!;
            if (o.type === 'viommu') expect(o.vdevs.size).toBe(0);
          }
          if (c.k === 'inval' && before.objs.get(Number(lastEvent[2]['hwpt_id']))?.type === 'viommu') checkInvalidation(before, ctx, c, r);
          // A failed ioctl changes nothing, except invalidations that processed some entries.
          if (r.errno && c.k !== 'inval') expect(fx.w).toBe(w0);
          checkTable(ctx);
        }
        // Closing the context destroys everything, whatever the order of creation.
        const [closed] = run(fx.w, { op: 'close', pid: PID, args: { fd: fx.fd } });
        expect(closed.ctxs.size).toBe(0);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a vIOMMU cannot be destroyed while a vDEVICE or a nested HWPT uses it; a vDEVICE always can', () => {
    const fx = fixture();
    const viommu = outId(ioctl(fx, 'IOMMU_VIOMMU_ALLOC', { flags: 0, type: VIOMMU_TYPE_SELFTEST, dev_id: fx.idevs[0]!, hwpt_id: fx.parents[0]! }), 'out_viommu_id');
    const vd = outId(ioctl(fx, 'IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: fx.idevs[0]!, virt_id: 0x99n }), 'out_vdevice_id');
    // The same virt_id on another vIOMMU, and another virt_id for the same device, are fine.
    const viommu2 = outId(ioctl(fx, 'IOMMU_VIOMMU_ALLOC', { flags: 0, type: VIOMMU_TYPE_SELFTEST, dev_id: fx.idevs[1]!, hwpt_id: fx.parents[1]! }), 'out_viommu_id');
    outId(ioctl(fx, 'IOMMU_VDEVICE_ALLOC', { viommu_id: viommu2, dev_id: fx.idevs[0]!, virt_id: 0x99n }), 'out_vdevice_id');
    outId(ioctl(fx, 'IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: fx.idevs[0]!, virt_id: 0x98n }), 'out_vdevice_id');
    expect(ioctl(fx, 'IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: fx.idevs[1]!, virt_id: 0x99n }).errno).toBe('EEXIST');
    expect(ioctl(fx, 'IOMMU_DESTROY', { id: viommu }).errno).toBe('EBUSY');
    expect(ioctl(fx, 'IOMMU_DESTROY', { id: fx.parents[0]! }).errno).toBe('EBUSY');
    // The device goes away first: its vDEVICE stays and can still be destroyed.
    expect(ioctl(fx, 'IOMMU_DESTROY', { id: fx.stdevs[0]! }).errno).toBe(0);
    expect(ioctl(fx, 'IOMMU_DESTROY', { id: vd }).errno).toBe(0);
    checkTable(ctxOf(fx)!);
  });

  it('6.12 has no vIOMMU ioctls', () => {
    let w = emptyWorld({ kernel: '6.12' });
    const [w1, opened] = run(w, { op: 'open', pid: PID, args: { path: '/dev/iommu' } });
    w = w1;
    const fx = { w, fd: opened.ret! };
    expect(ioctl(fx, 'IOMMU_VIOMMU_ALLOC', { flags: 0, type: VIOMMU_TYPE_SELFTEST, dev_id: 1, hwpt_id: 2 }).errno).toBe('ENOTTY');
    expect(ioctl(fx, 'IOMMU_VDEVICE_ALLOC', { viommu_id: 1, dev_id: 2, virt_id: 0n }).errno).toBe('ENOTTY');
  });
});
