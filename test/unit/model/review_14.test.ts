/**
 * 6.14 answers a second reading of the kernel's code corrected (session 18):
 * which driver makes a nested domain on a vIOMMU, and which page requests
 * with a PASID find a handler. No 6.14 kernel answered these; the 6.12
 * oracle has neither real drivers nor vIOMMUs.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { emptyWorld, type KernelVersion } from '../../../src/model/state.js';

function rig(kernel: KernelVersion = '6.14') {
  let w = emptyWorld({ kernel });
  const ev = (e: Event): Result => {
    const r = apply(w, e);
    w = r.state;
    return r.result;
  };
  const ictx = ev({ op: 'open', args: { path: '/dev/iommu' } }).ret!;
  const io = (op: string, args: Fields, fd = ictx, bufs?: Event['bufs']) => ev({ op, fd, args, ...(bufs ? { bufs } : {}) });
  const env = (op: string, args: Fields) => ev({ op, args });
  return { ev, io, env, ictx };
}
const id = (r: Result, k: string) => Number(r.out![k]);

describe('a nested HWPT on a vIOMMU is made by the vIOMMU\'s driver [6.14]', () => {
  // viommu->ops->alloc_domain_nested: nothing checks that the nest parent under the vIOMMU is of the
  // same driver (iommufd_viommu_alloc_ioctl checks nest_parent only, the mock any parent), so a mock
  // vIOMMU may sit on an SMMUv3 nest parent, and its nested domains are the mock's
  it('a mock vIOMMU on an SMMUv3 nest parent makes mock nested domains', () => {
    const r = rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'arm_smmuv3', flags: ['pci'] });
    const fd = r.env('open', { path: '/dev/vfio/devices/vfio1' }).ret!;
    const smmuDev = id(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: r.ictx, out_devid: 0 }, fd), 'out_devid');
    const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
    const parent = id(r.io('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: smmuDev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }), 'out_hwpt_id');
    const md = r.io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: ioas, mock_domain: {} }).out!['mock_domain'] as Fields;
    const viommu = id(r.io('IOMMU_VIOMMU_ALLOC', { flags: 0, type: 0xdeadbeef, dev_id: md['out_idev_id']!, hwpt_id: parent }), 'out_viommu_id');
    const nested = r.io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: md['out_idev_id']!, pt_id: viommu, data_type: 0xdead, data_len: 4, data_uptr: 0x10000n, fault_id: 0 }, r.ictx, { data_uptr: new Uint8Array([0x34, 0x12, 0, 0]) });
    expect(nested.errno).toBe(0);
    // and its invalidation is the mock's (a selftest entry), not SMMUv3's (EOPNOTSUPP on a nested HWPT)
    const h = id(nested, 'out_hwpt_id');
    const inv = r.io('IOMMU_HWPT_INVALIDATE', { hwpt_id: h, data_uptr: 0x20000n, data_type: 0xdeadbeef, entry_len: 8, entry_num: 1, __reserved: 0 }, r.ictx, { data_uptr: new Uint8Array(8) });
    expect(inv).toMatchObject({ errno: 0, out: { entry_num: 1 } });
  });
});

describe('page requests with a PASID and no PASID attachment (find_fault_handler, ops->user_pasid_table)', () => {
  // iommufd makes no PASID attachments in 6.12/6.14: such a request goes to the nested domain attached
  // without PASID only where the driver keeps user PASID tables (the mock, 6.14's SMMUv3); VT-d does
  // not, and the request has no handler: answered by the core, never queued
  it('VT-d: dropped; without a PASID: queued', () => {
    for (const [pasid, bytes] of [[5, 0], [0, 40]] as const) {
      const r = rig();
      r.env('iommu_add', { iommu: 1, driver: 'intel_vtd' });
      r.env('device_add', { dev: 1, iommu: 1, flags: ['pci', 'pri'] });
      const fd = r.env('open', { path: '/dev/vfio/devices/vfio1' }).ret!;
      const dev = id(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: r.ictx, out_devid: 0 }, fd), 'out_devid');
      const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
      const fq = r.io('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 });
      const parent = id(r.io('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: dev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n }), 'out_hwpt_id');
      const s1 = new Uint8Array(24);
      new DataView(s1.buffer).setUint32(16, 48, true);
      const h = id(r.io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: dev, pt_id: parent, data_type: 1, data_len: 24, data_uptr: 0x10000n, fault_id: id(fq, 'out_fault_id') }, r.ictx, { data_uptr: s1 }), 'out_hwpt_id');
      // (VT-d enables IOPF only with ATS on: from a paging domain, replaced)
      expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 0, pt_id: parent }, fd).errno).toBe(0);
      expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 0, pt_id: h }, fd).errno).toBe(0);
      expect(r.io('IOMMU_TEST_OP_TRIGGER_IOPF', { id: 0, trigger_iopf: { dev_id: dev, pasid, grpid: 0, perm: 3, addr: 0x1000000n } }).errno).toBe(0);
      const read = r.ev({ op: 'read_fault_fd', args: { fd: id(fq, 'out_fault_fd'), count: 40, pos: 0 } });
      expect(read.ret, `pasid ${pasid}`).toBe(bytes);
    }
  });
});

describe('IOMMU_IOAS_MAP_FILE of a file the process had before the trace [6.14]', () => {
  // memfd_pin_folios takes shmem (a memfd, a tmpfs file) and hugetlbfs: what such an fd is, a trace
  // does not say, so its map is answered (iopt_alloc_file_pages checks nothing) and its pin is not
  it('maps, and its pin is answered as not modelled', () => {
    const r = rig();
    expect(r.env('external_fds', { fds: [40] }).errno).toBe(0);
    const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
    const map = r.io('IOMMU_IOAS_MAP_FILE', { flags: 7, ioas_id: ioas, fd: 40, start: 0n, length: 0x1000n, iova: 0x1000000n });
    expect(map).toMatchObject({ errno: 0, out: { iova: 0x1000000n } });
    const md = r.io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: ioas, mock_domain: {} });
    expect(md.unmodelled).toMatch(/a file the process had before the trace/);
  });
});

describe('driver profiles after a second reading (session 18)', () => {
  const bound = (r: ReturnType<typeof rig>, dev: number) => {
    const fd = r.env('open', { path: `/dev/vfio/devices/vfio${dev}` }).ret!;
    return { fd, id: id(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: r.ictx, out_devid: 0 }, fd), 'out_devid') };
  };
  it("6.14 SMMUv3: a stall never reaches the fault queue (no iopf queue without SVA: iommu_report_device_fault drops it)", () => {
    const r = rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'arm_smmuv3', flags: ['stall'] });
    const d = bound(r, 1);
    const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
    const fq = r.io('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 });
    const h = id(r.io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: d.id, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: id(fq, 'out_fault_id') }), 'out_hwpt_id');
    expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 0, pt_id: h }, d.fd).errno).toBe(0);
    expect(r.ev({ op: 'iopf', fd: 0, args: { dev_id: d.id, grpid: 1, perm: 2, addr: 0x1000n } }).out).toEqual({ outcome: 'dropped' });
    expect(r.ev({ op: 'read_fault_fd', args: { fd: id(fq, 'out_fault_fd'), count: 40, pos: 0 } }).ret).toBe(0);
  });
  it('6.12 SMMUv3: no IOMMU_CAP_ENFORCE_CACHE_COHERENCY (CANWBS came in 6.13); 6.14: the instance says', () => {
    for (const kernel of ['6.12', '6.14'] as const) {
      const r = rig(kernel);
      r.env('iommu_add', { iommu: 1, driver: 'arm_smmuv3', enforce_cc: true });
      r.env('device_add', { dev: 1, iommu: 1, flags: ['pci'] });
      const d = bound(r, 1);
      const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
      expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 0, pt_id: ioas }, d.fd).errno).toBe(0);
      expect(r.io('IOMMU_VFIO_IOAS', { ioas_id: ioas, op: 1, __reserved: 0 }).errno).toBe(0);
      expect(r.io('VFIO_CHECK_EXTENSION', { arg: 4n }).ret, kernel).toBe(kernel === '6.12' ? 0 : 1);
    }
  });
  it('6.12 VT-d: a paging attach in scalable mode without second-stage support (ECAP.SLTS) is EINVAL', () => {
    for (const [slts, want] of [[true, 0], [false, 'EINVAL']] as const) {
      const r = rig('6.12');
      const ecap = (1n << 43n) | (1n << 47n) | (slts ? 1n << 46n : 0n) | (1n << 48n);
      r.env('iommu_add', { iommu: 1, driver: 'intel_vtd', regs: ['0x1000000002f0400', `0x${ecap.toString(16)}`] });
      r.env('device_add', { dev: 1, iommu: 1, flags: ['pci'] });
      const d = bound(r, 1);
      const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
      expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 0, pt_id: ioas }, d.fd).errno, `slts ${slts}`).toBe(want);
    }
  });
});

describe("selftest page-table checks on another driver's HWPT", () => {
  // get_md_pagetable / get_md_pagetable_nested: a HWPT whose domain is not the mock's is EINVAL
  it('MD_CHECK_MAP on a VT-d paging HWPT is EINVAL (ENOENT for no HWPT)', () => {
    for (const kernel of ['6.12', '6.14'] as const) {
      const r = rig(kernel);
      r.env('iommu_add', { iommu: 1, driver: 'intel_vtd' });
      r.env('device_add', { dev: 1, iommu: 1, flags: ['pci'] });
      const fd = r.env('open', { path: '/dev/vfio/devices/vfio1' }).ret!;
      const dev = id(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: r.ictx, out_devid: 0 }, fd), 'out_devid');
      const ioas = id(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }), 'out_ioas_id');
      const h = id(r.io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: dev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }), 'out_hwpt_id');
      const check = (hwpt: number) => r.io('IOMMU_TEST_OP_MD_CHECK_MAP', { id: hwpt, check_map: { iova: 0x1000000n, length: 0x1000n, uptr: 0x10000n } });
      expect(check(h).errno, kernel).toBe('EINVAL');
      expect(check(99).errno, kernel).toBe('ENOENT');
    }
  });
});
