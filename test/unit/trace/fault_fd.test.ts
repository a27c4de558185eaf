/**
 * Both trace formats carry reads and writes of fault fds (`read_fault_fd`,
 * `write_fault_fd` with `bufs.data`, unreadable buffers as `null`), and the
 * device events (`iopf`, `dma_write`): a page-fault session round-trips
 * through `.iort` and `.iort.jsonl`, in memory and through files, and the
 * decoded events replay with zero divergence against recorded results built
 * here from the uAPI layout (not from the model).
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { replay } from '../../../src/engine/replay.js';
import { decodeTrace, encodeTrace, readTraceSync, writeTrace } from '../../../src/trace/index.js';
import { tmp } from './helpers.js';

/** struct iommu_hwpt_pgfault, 40 bytes (uAPI). */
function pgfault(f: { flags: number; dev: number; pasid: number; grpid: number; perm: number; addr: bigint; cookie: number }): Uint8Array {
  const b = new Uint8Array(40);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, f.flags, true);
  dv.setUint32(4, f.dev, true);
  dv.setUint32(8, f.pasid, true);
  dv.setUint32(12, f.grpid, true);
  dv.setUint32(16, f.perm, true);
  dv.setBigUint64(24, f.addr, true);
  dv.setUint32(32, 0, true);
  dv.setUint32(36, f.cookie, true);
  return b;
}

function response(cookie: number, code: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, cookie, true);
  new DataView(b.buffer).setUint32(4, code, true);
  return b;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

const cat = (...a: Uint8Array[]) => {
  const out = new Uint8Array(a.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of a) (out.set(x, o), (o += x.length));
  return out;
};

/**
 * A 6.14 session. IDs follow the kernel's lowest-free rule and MOCK_DOMAIN's
 * order (selftest object, then DEVICE at bind, then the automatic HWPT at
 * attach): IOAS 1, stdev 2, DEVICE 3, auto HWPT 4, nesting parent 5, FAULT 6
 * (fd 4, the lowest free after stdio and the iommufd), nested HWPT 7. The
 * device then moves to the nested HWPT (the automatic HWPT 4 goes).
 */
function session(): Event[] {
  const P = { pid: 1, fd: 3 };
  const dev = 3;
  return [
    { op: 'external_fds', pid: 1, args: { fds: [0, 1, 2] } },
    { op: 'open', pid: 1, args: { path: '/dev/iommu' }, rec: { errno: 0, ret: 3 } },
    { op: 'IOMMU_IOAS_ALLOC', ...P, args: { flags: 0 }, rec: { errno: 0, out: { out_ioas_id: 1 } } },
    { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', ...P, args: { id: 1, mock_domain: {} }, rec: { errno: 0, out: { mock_domain: { out_stdev_id: 2, out_hwpt_id: 4, out_idev_id: dev } } } },
    { op: 'IOMMU_HWPT_ALLOC', ...P, args: { flags: 1, dev_id: dev, pt_id: 1, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, rec: { errno: 0, out: { out_hwpt_id: 5 } } },
    { op: 'IOMMU_FAULT_QUEUE_ALLOC', ...P, args: { flags: 0 }, rec: { errno: 0, out: { out_fault_id: 6, out_fault_fd: 4 } } },
    { op: 'IOMMU_HWPT_ALLOC', ...P, args: { flags: 4, dev_id: dev, pt_id: 5, data_type: 0xdead, data_len: 4, data_uptr: 0x1000n, fault_id: 6 }, bufs: { data_uptr: u32(0xbadbeef) }, rec: { errno: 0, out: { out_hwpt_id: 7 } } },
    { op: 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', ...P, args: { id: 2, mock_domain_replace: { pt_id: 7 } }, rec: { errno: 0, out: { mock_domain_replace: { pt_id: 7 } } } },
    { op: 'IOMMU_TEST_OP_TRIGGER_IOPF', ...P, args: { id: 0, trigger_iopf: { dev_id: dev, pasid: 0, grpid: 3, perm: 1, addr: 0xdead000n } }, rec: { errno: 0 } },
    { op: 'iopf', pid: 1, args: { fd: 3, dev_id: dev, grpid: 9, perm: 2, addr: 0x5000n, last_page: false }, rec: { errno: 0, out: { outcome: 'partial' } } },
    { op: 'iopf', pid: 1, args: { fd: 3, dev_id: dev, grpid: 9, perm: 2, addr: 0x6000n, pasid: 5 }, rec: { errno: 0, out: { outcome: 'queued' } } },
    // The first group fits; the second (two records) does not fit in the remaining 40 bytes.
    {
      op: 'read_fault_fd',
      pid: 1,
      args: { fd: 4, count: 80 },
      rec: { errno: 0, ret: 40, bufs: { data: pgfault({ flags: 2, dev, pasid: 0, grpid: 3, perm: 1, addr: 0xdead000n, cookie: 1 }) } },
    },
    {
      op: 'read_fault_fd',
      pid: 1,
      args: { fd: 4, count: 80 },
      rec: {
        errno: 0,
        ret: 80,
        bufs: { data: cat(pgfault({ flags: 0, dev, pasid: 0, grpid: 9, perm: 2, addr: 0x5000n, cookie: 2 }), pgfault({ flags: 3, dev, pasid: 5, grpid: 9, perm: 2, addr: 0x6000n, cookie: 2 })) },
      },
    },
    { op: 'write_fault_fd', pid: 1, args: { fd: 4 }, bufs: { data: cat(response(2, 0), response(1, 1)) }, rec: { errno: 0, ret: 16 } },
    // The cookie is gone now: EINVAL.
    { op: 'write_fault_fd', pid: 1, args: { fd: 4 }, bufs: { data: response(1, 0) }, rec: { errno: 'EINVAL', ret: 0 } },
    // An unreadable buffer (6.14: the positive count of bytes not copied).
    { op: 'write_fault_fd', pid: 1, args: { fd: 4, count: 8 }, bufs: { data: null }, rec: { errno: 0, ret: 8 } },
    { op: 'read_fault_fd', pid: 1, args: { fd: 4, count: 40 }, rec: { errno: 0, ret: 0, bufs: { data: new Uint8Array(0) } } },
    { op: 'dma_write', pid: 1, args: { fd: 3, dev_id: dev, iova: 0x1000000n, length: 0x800n }, rec: { errno: 0, out: { written: 0n, faulted: 0x800n } } },
    { op: 'exit', pid: 1, args: {}, rec: { errno: 0 } },
  ];
}

describe('fault-fd reads and writes in both trace formats', () => {
  for (const format of ['iort', 'jsonl'] as const) {
    it(`round trip in memory (${format}) and replay with zero divergence`, async () => {
      const events = session();
      const bytes = encodeTrace({ kernel: '6.14', meta: { what: 'fault fd round trip' } }, events, { format });
      const back = decodeTrace(bytes);
      expect(back.format).toBe(format);
      expect(back.events).toEqual(events);
      const w = back.events.find((e) => e.op === 'write_fault_fd' && e.bufs?.['data'] === null);
      expect(w?.bufs).toEqual({ data: null });
      const s = await replay(back.events, { kernel: back.header.kernel });
      expect(s.first_divergence).toBeNull();
      expect(s.verified).toBe(events.filter((e) => e.rec).length);
    });
  }

  it('through files: .iort and its .iort.jsonl twin', async () => {
    const t = tmp();
    try {
      for (const name of ['faults.iort', 'faults.iort.jsonl']) {
        await writeTrace(t.path(name), { kernel: '6.14' }, session());
        expect(readTraceSync(t.path(name)).events).toEqual(session());
      }
    } finally {
      t.done();
    }
  });
});
