/**
 * Device events in trace files: a VMM-like sequence (an IOMMU and a device
 * appear, the cdev is opened, bound, attached, detached, closed) recorded
 * with the model's own answers goes through both trace formats and replays
 * with zero divergence (the replay CLI reads the same files).
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { replay } from '../../../src/engine/replay.js';
import type { Event } from '../../../src/events/event.js';
import { emptyWorld } from '../../../src/model/state.js';
import { decodeTrace, encodeTrace, makeHeader } from '../../../src/trace/index.js';

const EVENTS: Event[] = [
  { op: 'open', args: { path: '/dev/iommu' } },
  { op: 'iommu_add', args: { iommu: 1, driver: 'arm_smmuv3', regs: [0x1n, 0x2n, 0n, 0n, 0n, 0n, 0x43b, 0x3n] } },
  { op: 'device_add', args: { dev: 1, iommu: 1, group: 3, flags: ['pci'], resv: [{ start: 0x8000000n, length: 0x100000n, type: 'sw_msi' }] } },
  { op: 'open', args: { path: '/dev/vfio/devices/vfio1' } },
  { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 1, args: { argsz: 16, flags: 0, iommufd: 0, out_devid: 0 } },
  { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
  { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd: 1, args: { argsz: 12, flags: 0, pt_id: 2 } },
  { op: 'IOMMU_GET_HW_INFO', fd: 0, args: { flags: 0, dev_id: 1, data_len: 40, data_uptr: 0x1000n, __reserved: 0 }, bufs: { data_uptr: new Uint8Array(40) } },
  { op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', fd: 1, args: { argsz: 8, flags: 0 } },
  { op: 'close', args: { fd: 1 } },
  { op: 'device_remove', args: { dev: 1 } },
  { op: 'close', args: { fd: 0 } },
];

describe('device events in traces', () => {
  for (const format of ['iort', 'jsonl'] as const) {
    it(`round-trip through ${format} and replay with zero divergence`, async () => {
      let w = emptyWorld({ kernel: '6.14' });
      const recorded = EVENTS.map((ev) => {
        const r = apply(w, ev);
        w = r.state;
        expect(r.result.errno, ev.op).toBe(0);
        const { unmodelled: _u, unknown: _k, ...rec } = r.result;
        return { ...ev, rec };
      });
      expect(w.hw.devs.size + w.ctxs.size).toBe(0);
      const bytes = encodeTrace(makeHeader('6.14'), recorded, { format });
      const back = decodeTrace(bytes).events;
      expect(back.length).toBe(EVENTS.length);
      const sum = await replay(back, { kernel: '6.14' });
      expect(sum.divergences).toBe(0);
      expect(sum.verified).toBe(EVENTS.length);
    });
  }
});
