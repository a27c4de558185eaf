/**
 * A world for page-fault property tests (kernel-semantics §9): one iommufd,
 * an IOAS, a nesting-parent HWPT, two fault objects, four nested HWPTs (two
 * on fault A, one on fault B, one without a fault), two mock devices; and
 * random commands over it: page requests (TRIGGER_IOPF and the `iopf`
 * environment event, partial or last, with or without PASID), reads and
 * writes of the fault fds (known and unknown cookies, bad codes), replaces
 * between the HWPTs, closing a fault fd, destroying and re-creating a device.
 * Works under both kernels (nested HWPTs with FAULT_ID_VALID exist in both).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { apply } from '../../src/engine/apply.js';
import type { Event, Fields, Result } from '../../src/events/event.js';
import { emptyWorld, type FaultGroupState, type KernelVersion, type World } from '../../src/model/state.js';

export const PID = 1;
const HWPT_DATA_SELFTEST = 0xdead;

export interface FaultFixture {
  w: World;
  kernel: KernelVersion;
  fd: number;
  ioas: number;
  parent: number;
  faults: { id: number; fd: number; open: boolean }[];
  /** Nested HWPTs: [fault A], [fault A], [fault B], [none]. */
  hwpts: number[];
  devs: { stdev: number; idev: number }[];
  /** Cookies seen in reads, per fault index. */
  cookies: number[][];
  /** The fault index last read with success. */
  lastRead: number;
}

function run(fx: FaultFixture, ev: Event): Result {
  const r = apply(fx.w, ev);
  fx.w = r.state;
  return r.result;
}

export function ioctl(fx: FaultFixture, op: string, args: Fields, bufs?: Event['bufs']): Result {
  return run(fx, { op, pid: PID, fd: fx.fd, args, ...(bufs ? { bufs } : {}) });
}

function ok(r: Result, what: string): Result {
  expect(r.errno, what).toBe(0);
  return r;
}

function iotlbBuf(): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, 0xbadbeef, true);
  return b;
}

function addDevice(fx: FaultFixture, slot: number, hwpt: number): void {
  const r = ok(ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN', { id: fx.hwpts[hwpt]!, mock_domain: {} }), 'mock domain');
  const m = r.out!['mock_domain'] as Fields;
  fx.devs[slot] = { stdev: Number(m['out_stdev_id']), idev: Number(m['out_idev_id']) };
}

export function faultFixture(kernel: KernelVersion): FaultFixture {
  const fx: FaultFixture = { w: emptyWorld({ kernel }), kernel, fd: 0, ioas: 0, parent: 0, faults: [], hwpts: [], devs: [], cookies: [[], []], lastRead: 0 };
  fx.fd = run(fx, { op: 'open', pid: PID, args: { path: '/dev/iommu' } }).ret!;
  fx.ioas = Number(ok(ioctl(fx, 'IOMMU_IOAS_ALLOC', { flags: 0 }), 'ioas').out!['out_ioas_id']);
  // A throwaway device to allocate the parent with; destroyed below.
  const r0 = ok(ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN', { id: fx.ioas, mock_domain: {} }), 'mock domain');
  const m0 = r0.out!['mock_domain'] as Fields;
  const idev0 = Number(m0['out_idev_id']);
  fx.parent = Number(ok(ioctl(fx, 'IOMMU_HWPT_ALLOC', { flags: 1, dev_id: idev0, pt_id: fx.ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }), 'parent').out!['out_hwpt_id']);
  for (let i = 0; i < 2; i++) {
    const r = ok(ioctl(fx, 'IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }), 'fault');
    fx.faults.push({ id: Number(r.out!['out_fault_id']), fd: Number(r.out!['out_fault_fd']), open: true });
  }
  const faultOf = [0, 0, 1, -1];
  for (const fi of faultOf) {
    const flags = fi >= 0 ? 4 : 0;
    const r = ok(
      ioctl(fx, 'IOMMU_HWPT_ALLOC', { flags, dev_id: idev0, pt_id: fx.parent, data_type: HWPT_DATA_SELFTEST, data_len: 4, data_uptr: 0x1000n, fault_id: fi >= 0 ? fx.faults[fi]!.id : 0 }, { data_uptr: iotlbBuf() }),
      'nested',
    );
    fx.hwpts.push(Number(r.out!['out_hwpt_id']));
  }
  ok(ioctl(fx, 'IOMMU_DESTROY', { id: Number(m0['out_stdev_id']) }), 'destroy setup device');
  addDevice(fx, 0, 0);
  addDevice(fx, 1, 2);
  return fx;
}

export type FaultCmd =
  | { k: 'trigger'; dev: number; grpid: number; pasid: number; addr: bigint }
  | { k: 'iopf'; dev: number; grpid: number; pasid: number | null; last: boolean; addr: bigint }
  | { k: 'read'; fault: number; groups: number }
  | { k: 'write'; fault: number; resp: { known: boolean; n: number; code: number }[]; short: boolean }
  | { k: 'serve'; fault: number; code: number }
  | { k: 'replace'; dev: number; to: number }
  | { k: 'close'; fault: number }
  | { k: 'recreate'; dev: number };

export const faultCmd: fc.Arbitrary<FaultCmd> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ k: fc.constant('trigger' as const), dev: fc.nat(1), grpid: fc.nat(3), pasid: fc.constantFrom(0, 0, 1), addr: fc.constantFrom(0x1000n, 0xdeadb000n) }) },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant('iopf' as const), dev: fc.nat(1), grpid: fc.nat(3), pasid: fc.constantFrom(null, null, 0, 7), last: fc.boolean(), addr: fc.constantFrom(0x2000n, 0x7000n) }),
  },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('read' as const), fault: fc.nat(1), groups: fc.constantFrom(0, 1, 1, 2, 3, 4) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('write' as const),
      fault: fc.nat(1),
      resp: fc.array(fc.record({ known: fc.constantFrom(true, true, true, false), n: fc.nat(6), code: fc.constantFrom(0, 0, 1, 1, 2) }), { minLength: 1, maxLength: 3 }),
      short: fc.constantFrom(false, false, false, true),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('serve' as const), fault: fc.nat(1), code: fc.constantFrom(0, 0, 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('replace' as const), dev: fc.nat(1), to: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), fault: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('recreate' as const), dev: fc.nat(1) }) },
);

/** The machine event a command may apply to groups that already exist. */
export function groupEventOf(c: FaultCmd): 'READ' | 'RESPOND' | 'AUTO_RESPOND' | 'SERVE' | undefined {
  if (c.k === 'read') return 'READ';
  if (c.k === 'write') return 'RESPOND';
  if (c.k === 'serve') return 'SERVE';
  if (c.k === 'replace' || c.k === 'recreate') return 'AUTO_RESPOND';
  return undefined;
}

/** Apply one command; returns the result and the number of responses the kernel accepted. */
export function runFaultCmd(fx: FaultFixture, c: FaultCmd): { r: Result; accepted: number } {
  switch (c.k) {
    case 'trigger': {
      const d = fx.devs[c.dev]!;
      return { r: ioctl(fx, 'IOMMU_TEST_OP_TRIGGER_IOPF', { id: 0, trigger_iopf: { dev_id: d.idev, pasid: c.pasid, grpid: c.grpid, perm: 1, addr: c.addr } }), accepted: 0 };
    }
    case 'iopf': {
      const d = fx.devs[c.dev]!;
      const args: Fields = { fd: fx.fd, dev_id: d.idev, grpid: c.grpid, perm: 2, addr: c.addr, last_page: c.last };
      if (c.pasid !== null) args['pasid'] = c.pasid;
      return { r: run(fx, { op: 'iopf', pid: PID, args }), accepted: 0 };
    }
    case 'read': {
      const f = fx.faults[c.fault]!;
      const r = run(fx, { op: 'read_fault_fd', pid: PID, args: { fd: f.fd, count: c.groups * 40 } });
      const data = r.bufs?.['data'];
      if (!r.errno && data?.length) fx.lastRead = c.fault;
      if (!r.errno && data) for (let off = 0; off + 40 <= data.length; off += 40) fx.cookies[c.fault]!.push(new DataView(data.buffer, data.byteOffset).getUint32(off + 36, true));
      return { r, accepted: 0 };
    }
    case 'write': {
      // Responses to known cookies go mostly to the fault fd last read.
      const fi = c.resp[0]!.known && c.resp[0]!.n % 4 ? fx.lastRead : c.fault;
      const f = fx.faults[fi]!;
      const seen = fx.cookies[fi]!;
      const bytes = new Uint8Array(c.resp.length * 8);
      const dv = new DataView(bytes.buffer);
      c.resp.forEach((x, i) => {
        // Known cookies: mostly the latest ones read (likely still awaiting), sometimes an old one.
        const cookie = x.known && seen.length ? seen[seen.length - 1 - (x.n % Math.min(seen.length, x.n >= 5 ? seen.length : 2))]! : x.n + 1;
        dv.setUint32(i * 8, cookie, true);
        dv.setUint32(i * 8 + 4, x.code, true);
      });
      // `short`: the last record straddles unreadable memory.
      const data = c.short ? bytes.subarray(0, bytes.length - 3) : bytes;
      const r = run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: f.fd, count: bytes.length }, bufs: { data } });
      // (6.14 answers an unreadable first record with the positive count of bytes not copied.)
      const accepted = !r.errno && r.ret && r.ret % 8 === 0 && r.ret <= data.length ? r.ret / 8 : 0;
      return { r, accepted };
    }
    case 'serve': {
      // A VMM's service loop: read what is queued (room for 8 records), answer every group read.
      const f = fx.faults[c.fault]!;
      const r = run(fx, { op: 'read_fault_fd', pid: PID, args: { fd: f.fd, count: 8 * 40 } });
      const data = r.bufs?.['data'];
      if (r.errno || !data?.length) return { r, accepted: 0 };
      const cookies = new Set<number>();
      for (let off = 0; off + 40 <= data.length; off += 40) cookies.add(new DataView(data.buffer, data.byteOffset).getUint32(off + 36, true));
      const bytes = new Uint8Array(cookies.size * 8);
      const dv = new DataView(bytes.buffer);
      [...cookies].forEach((ck, i) => {
        dv.setUint32(i * 8, ck, true);
        dv.setUint32(i * 8 + 4, c.code, true);
      });
      const w = run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: f.fd }, bufs: { data: bytes } });
      expect(w.errno, 'serve: responses to the cookies just read').toBe(0);
      expect(w.ret).toBe(bytes.length);
      return { r: w, accepted: cookies.size };
    }
    case 'replace': {
      const d = fx.devs[c.dev]!;
      return { r: ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: d.stdev, mock_domain_replace: { pt_id: fx.hwpts[c.to]! } }), accepted: 0 };
    }
    case 'close': {
      const f = fx.faults[c.fault]!;
      if (!f.open) return { r: { errno: 0 }, accepted: 0 };
      f.open = false;
      return { r: run(fx, { op: 'close', pid: PID, args: { fd: f.fd } }), accepted: 0 };
    }
    case 'recreate': {
      ok(ioctl(fx, 'IOMMU_DESTROY', { id: fx.devs[c.dev]!.stdev }), 'destroy device');
      addDevice(fx, c.dev, c.dev ? 2 : 1);
      return { r: { errno: 0 }, accepted: 0 };
    }
  }
}

/**
 * Every page-fault group the world knows, by gid: live ones from the fault
 * objects (their location must agree with their state), ended ones from the
 * journal. A gid in both is a model bug.
 */
export function groupStates(w: World): Map<number, FaultGroupState> {
  const m = new Map<number, FaultGroupState>();
  w.ctxs.each((_c, ctx) => {
    ctx.objs.each((_id, o) => {
      if (o.type !== 'fault') return true;
      for (const g of o.queue) {
        expect(g.state, `queued group ${g.gid}`).toBe('raised');
        m.set(g.gid, g.state);
      }
      o.awaiting.each((_k, g) => {
        expect(g.state, `awaiting group ${g.gid}`).toBe('delivered');
        m.set(g.gid, g.state);
        return true;
      });
      return true;
    });
    return true;
  });
  w.journal.groupsEnded.each((gid, e) => {
    expect(m.has(gid), `group ${gid} both live and ended`).toBe(false);
    m.set(gid, e.state);
    return true;
  });
  return m;
}

/** Tear down: the process exits, every fd closes, the context goes. */
export function exitAll(fx: FaultFixture): void {
  run(fx, { op: 'exit', pid: PID, args: {} });
}
