/**
 * Device happenings (src/model/dma.ts, fault.ts) checked case by case against
 * the kernel's rules (kernel-semantics §9.3, §9.4, Appendix A): page requests
 * with partials and groups, where partials go on replace and detach, the
 * fault-fd write quirks of 6.12 and 6.14, DMA writes from a detached device,
 * the journal's bound.
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { JOURNAL_KEEP } from '../../../src/model/journal.js';
import type { FaultObj } from '../../../src/model/state.js';
import { faultFixture, ioctl, PID, type FaultFixture } from '../../properties/fault_harness.js';
import { apply } from '../../../src/engine/apply.js';

function run(fx: FaultFixture, ev: Event) {
  const r = apply(fx.w, ev);
  fx.w = r.state;
  return r.result;
}
const fault = (fx: FaultFixture, i: number) => fx.w.ctxs.get(1)!.objs.get(fx.faults[i]!.id) as FaultObj;
const iopf = (fx: FaultFixture, dev: number, args: Fields) => run(fx, { op: 'iopf', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[dev]!.idev, perm: 1, addr: 0x1000n, ...args } });
const replace = (fx: FaultFixture, dev: number, hwpt: number) => ioctl(fx, 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: fx.devs[dev]!.stdev, mock_domain_replace: { pt_id: fx.hwpts[hwpt]! } });

function records(data: Uint8Array) {
  const out = [];
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let o = 0; o < data.length; o += 40) out.push({ flags: dv.getUint32(o, true), dev: dv.getUint32(o + 4, true), pasid: dv.getUint32(o + 8, true), grpid: dv.getUint32(o + 12, true), addr: dv.getBigUint64(o + 24, true), cookie: dv.getUint32(o + 36, true) });
  return out;
}

describe('page requests (iopf event)', () => {
  it('partials join the LAST_PAGE request of their grpid, in the order raised; other grpids stay parked', () => {
    const fx = faultFixture('6.12');
    expect(iopf(fx, 0, { grpid: 1, last_page: false, addr: 0x1000n }).out).toEqual({ outcome: 'partial' });
    expect(iopf(fx, 0, { grpid: 2, last_page: false, addr: 0x2000n }).out).toEqual({ outcome: 'partial' });
    expect(iopf(fx, 0, { grpid: 1, last_page: false, addr: 0x3000n }).out).toEqual({ outcome: 'partial' });
    expect(iopf(fx, 0, { grpid: 1, addr: 0x4000n, pasid: 0 }).out).toEqual({ outcome: 'queued' });
    expect(fault(fx, 0).partial.map((p) => p.grpid)).toEqual([2]);
    const r = run(fx, { op: 'read_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd, count: 400 } });
    expect(r.ret).toBe(120);
    // pasid present (even 0) = PASID_VALID: routed to the nested attachment (user PASID table).
    expect(records(r.bufs!['data']!).map((x) => [x.flags, x.addr, x.cookie])).toEqual([
      [0, 0x1000n, 1],
      [0, 0x3000n, 1],
      [3, 0x4000n, 1],
    ]);
  });

  it('no handler: dropped and journaled (device on a HWPT without a fault object)', () => {
    const fx = faultFixture('6.14');
    expect(replace(fx, 0, 3).errno).toBe(0);
    expect(iopf(fx, 0, { grpid: 0 }).out).toEqual({ outcome: 'dropped' });
    const f = [...fx.w.journal.faults.values()].at(-1)!;
    expect([f.kind, f.dev, f.hwpt, f.iova]).toEqual(['prq_dropped', fx.devs[0]!.idev, fx.hwpts[3], 0x1000n]);
  });

  it('partials follow the device across a replace between fault HWPTs and vanish when IOPF is turned off', () => {
    const fx = faultFixture('6.12');
    iopf(fx, 0, { grpid: 5, last_page: false, addr: 0xa000n });
    // Same fault object (hwpt 0 -> 1, both on fault A): kept.
    expect(replace(fx, 0, 1).errno).toBe(0);
    expect(fault(fx, 0).partial.length).toBe(1);
    // Fault A -> fault B: IOPF stays enabled, the partial moves with the device.
    expect(replace(fx, 0, 2).errno).toBe(0);
    expect(fault(fx, 0).partial.length).toBe(0);
    expect(fault(fx, 1).partial.map((p) => p.addr)).toEqual([0xa000n]);
    iopf(fx, 0, { grpid: 5, addr: 0xb000n });
    const r = run(fx, { op: 'read_fault_fd', pid: PID, args: { fd: fx.faults[1]!.fd, count: 80 } });
    expect(records(r.bufs!['data']!).map((x) => x.addr)).toEqual([0xa000n, 0xb000n]);
    // Onto a HWPT without a fault: iopf_queue_remove_device frees the partials.
    iopf(fx, 0, { grpid: 6, last_page: false });
    expect(replace(fx, 0, 3).errno).toBe(0);
    expect(fault(fx, 1).partial.length).toBe(0);
  });
});

describe('fault fd write quirks (Appendix A)', () => {
  function withDelivered(kernel: '6.12' | '6.14') {
    const fx = faultFixture(kernel);
    iopf(fx, 0, { grpid: 1 });
    run(fx, { op: 'read_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd, count: 40 } });
    return fx;
  }
  const resp = (cookie: number, code: number) => new Uint8Array([cookie, 0, 0, 0, code, 0, 0, 0]);
  it('unreadable buffer: 6.12 EFAULT, 6.14 the positive count of bytes not copied', () => {
    const a = withDelivered('6.12');
    expect(run(a, { op: 'write_fault_fd', pid: PID, args: { fd: a.faults[0]!.fd, count: 8 }, bufs: { data: null } })).toEqual({ errno: 'EFAULT', ret: 0 });
    const b = withDelivered('6.14');
    expect(run(b, { op: 'write_fault_fd', pid: PID, args: { fd: b.faults[0]!.fd, count: 8 }, bufs: { data: null } })).toEqual({ errno: 0, ret: 8 });
    expect(run(b, { op: 'write_fault_fd', pid: PID, args: { fd: b.faults[0]!.fd, count: 8 }, bufs: { data: new Uint8Array(5) } })).toEqual({ errno: 0, ret: 3 });
    // Nothing was answered by either.
    expect(b.w.journal.groupsAnswered).toBe(0);
  });
  it('a readable first record then an unreadable one: the bytes consumed', () => {
    for (const k of ['6.12', '6.14'] as const) {
      const fx = withDelivered(k);
      expect(run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd, count: 16 }, bufs: { data: resp(1, 0) } })).toEqual({ errno: 0, ret: 8 });
      expect(fx.w.journal.groupsAnswered).toBe(1);
    }
  });
  it('count 0 writes nothing and returns 0; a bad code or cookie is EINVAL', () => {
    const fx = withDelivered('6.12');
    expect(run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd }, bufs: { data: new Uint8Array(0) } })).toEqual({ errno: 0, ret: 0 });
    expect(run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd }, bufs: { data: resp(1, 2) } }).errno).toBe('EINVAL');
    expect(run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd }, bufs: { data: resp(9, 0) } }).errno).toBe('EINVAL');
    expect(run(fx, { op: 'write_fault_fd', pid: PID, args: { fd: fx.faults[0]!.fd }, bufs: { data: new Uint8Array(7) } }).errno).toBe('ESPIPE');
  });
});

describe('dma_write and the journal', () => {
  it('argument checks; DMA where nothing is mapped faults as unmapped', () => {
    // (A mock device is always attached, so 'blocked' needs a device that can be detached: VFIO cdev devices.)
    const fx = faultFixture('6.12');
    const gone = fx.devs[0]!.idev;
    expect(ioctl(fx, 'IOMMU_DESTROY', { id: fx.devs[0]!.stdev }).errno).toBe(0);
    expect(run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: gone, iova: 0x1000n, length: 8n } }).errno).toBe('ENOENT');
    expect(run(fx, { op: 'dma_write', pid: PID, args: { fd: 99, dev_id: fx.devs[1]!.idev, iova: 0x1000n, length: 8n } }).errno).toBe('EBADF');
    expect(run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[1]!.idev, iova: 0x1000n, length: 0n } }).errno).toBe('EINVAL');
    // Nothing is mapped in the IOAS: the whole write faults as unmapped through the nested HWPT.
    expect(run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[1]!.idev, iova: 0x1000n, length: 8n } }).out).toEqual({ written: 0n, faulted: 8n });
    expect([...fx.w.journal.faults.values()].at(-1)!.kind).toBe('unmapped');
  });
  it('keeps the newest JOURNAL_KEEP records and counts them all', () => {
    const fx = faultFixture('6.12');
    const n = JOURNAL_KEEP + 10;
    for (let i = 0; i < n; i++) run(fx, { op: 'dma_write', pid: PID, args: { fd: fx.fd, dev_id: fx.devs[1]!.idev, iova: BigInt(i) * 0x1000n, length: 8n } });
    expect(fx.w.journal.faults.size).toBe(JOURNAL_KEEP);
    expect(fx.w.journal.faultCount).toBe(n);
    expect(fx.w.journal.faults.min()![1].iova).toBe(10n * 0x1000n);
  });
});
