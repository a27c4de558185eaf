/**
 * Devices behind real IOMMU profiles, through their VFIO cdev, case by case
 * against drivers/vfio/device_cdev.c, drivers/vfio/iommufd.c and
 * drivers/iommu/iommufd/device.c (kernel-semantics §5): check order of the
 * three cdev ioctls, DMA ownership and groups, reserved regions and
 * alignment on attach, unbind on close; and the profiles' hw_info, paging
 * and nested data checks (§6.4, §11.1).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { emptyWorld, type KernelVersion, type World } from '../../../src/model/state.js';
import { smmuv3CacheInvalidate, smmuValidateVste, vtdCacheInvalidateUser } from '../../../src/model/drivers/index.js';
import { PMap } from '../../../src/ds/pmap.js';

const BUF = 0x7f0000000000n;
const MSI = { start: 0xfee00000n, last: 0xfeefffffn };
const U64_MAX = 0xffffffffffffffffn;

class Rig {
  w: World;
  ictx: number;
  constructor(kernel: KernelVersion = '6.12') {
    this.w = emptyWorld({ kernel });
    this.ictx = this.env('open', { path: '/dev/iommu' }).ret!;
    this.env('mmap', { va: BUF, length: 0x400000n, kind: 'anon' });
  }
  env(op: string, args: Fields): Result {
    const r = apply(this.w, { op, args });
    this.w = r.state;
    return r.result;
  }
  io(op: string, args: Event['args'], fd = this.ictx, extra: Partial<Event> = {}): Result {
    const r = apply(this.w, { op, fd, args, ...extra });
    this.w = r.state;
    return r.result;
  }
  open(cdev: string): number {
    const r = this.env('open', { path: `/dev/vfio/devices/${cdev}` });
    expect(r.errno).toBe(0);
    return r.ret!;
  }
  bind(fd: number, iommufd = this.ictx): Result {
    return this.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd, out_devid: 0 }, fd);
  }
  attach(fd: number, pt: number): Result {
    return this.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 0, pt_id: pt }, fd);
  }
  detach(fd: number): Result {
    return this.io('VFIO_DEVICE_DETACH_IOMMUFD_PT', { argsz: 8, flags: 0 }, fd);
  }
  ioas(): number {
    return Number(this.io('IOMMU_IOAS_ALLOC', { flags: 0 }).out!['out_ioas_id']);
  }
  ranges(ioas: number): { ranges: [bigint, bigint][]; align: bigint } {
    const r = this.io('IOMMU_IOAS_IOVA_RANGES', { ioas_id: ioas, num_iovas: 16, allowed_iovas: 0x10000n }, this.ictx, { bufs: { allowed_iovas: new Uint8Array(256) } });
    expect(r.errno).toBe(0);
    const b = r.bufs!['allowed_iovas']!;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const ranges: [bigint, bigint][] = [];
    for (let i = 0; i < Number(r.out!['num_iovas']); i++) ranges.push([dv.getBigUint64(i * 16, true), dv.getBigUint64(i * 16 + 8, true)]);
    return { ranges, align: r.out!['out_iova_alignment'] as bigint };
  }
  objs(ctx = 1) {
    return this.w.ctxs.get(ctx)?.objs;
  }
}

/** A VT-d device (and its default IOAPIC MSI window) in its own group. */
function vtd(r: Rig, dev = 1, extra: Fields = {}): number {
  expect(r.env('device_add', { dev, iommu: 1, driver: 'intel_vtd', ...extra }).errno).toBe(0);
  return r.open(`vfio${dev}`);
}

describe('VFIO_DEVICE_BIND_IOMMUFD', () => {
  it('checks in the kernel order: EFAULT, EINVAL (argsz, flags, fd < 0), EBADF, EBADFD, then binds', () => {
    const r = new Rig();
    const fd = vtd(r);
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', null, fd).errno).toBe('EFAULT');
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 15, flags: 0, iommufd: r.ictx }, fd).errno).toBe('EINVAL');
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 1, iommufd: r.ictx }, fd).errno).toBe('EINVAL');
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: -1 }, fd).errno).toBe('EINVAL');
    expect(r.bind(fd, 99).errno).toBe('EBADF');
    expect(r.bind(fd, fd).errno).toBe('EBADFD');
    // A larger argsz is fine (VFIO reads minsz bytes only).
    const ok = r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 64, flags: 0, iommufd: r.ictx }, fd);
    expect(ok).toEqual({ errno: 0, out: { out_devid: 1 } });
    expect(r.objs()!.get(1)).toMatchObject({ type: 'device', users: 2, pdev: 1 });
    // Bound twice through the same file, or through another file of the same device: EINVAL.
    expect(r.bind(fd).errno).toBe('EINVAL');
    expect(r.bind(r.open('vfio1')).errno).toBe('EINVAL');
  });

  it('refuses everything else before BIND with EINVAL, whatever the arguments', () => {
    const r = new Rig();
    const fd = vtd(r);
    expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', null, fd).errno).toBe('EINVAL');
    expect(r.detach(fd).errno).toBe('EINVAL');
    expect(r.io('IOMMU_IOAS_ALLOC', { flags: 0 }, fd).errno).toBe('EINVAL');
  });

  it('DMA ownership: a group belongs to one context (EPERM); a kernel-owned domain is EBUSY', () => {
    const r = new Rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', group: 7 });
    r.env('device_add', { dev: 2, iommu: 1, group: 7 });
    r.env('device_add', { dev: 3, iommu: 1, group: 8, kernel_domain: true });
    const other = r.env('open', { path: '/dev/iommu' }).ret!;
    expect(r.bind(r.open('vfio1')).errno).toBe(0);
    expect(r.bind(r.open('vfio2'), other).errno).toBe('EPERM');
    expect(r.bind(r.open('vfio2')).errno).toBe(0);
    expect(r.bind(r.open('vfio3')).errno).toBe('EBUSY');
    expect(r.w.hw.groups.get(7)).toMatchObject({ owner: 1, ownerCnt: 2, cdevOpenCnt: 2 });
  });

  it('MSI isolation: EPERM unless allow_unsafe_interrupts', () => {
    const r = new Rig();
    const fd = vtd(r, 1, { msi_isolated: false });
    expect(r.bind(fd).errno).toBe('EPERM');
    r.env('set_module_param', { name: 'allow_unsafe_interrupts', value: true });
    expect(r.bind(fd).errno).toBe(0);
  });

  it('the legacy group file and the cdev exclude each other (EBUSY)', () => {
    const r = new Rig();
    const fd = vtd(r, 1, { group: 5 });
    const g = r.env('open', { path: '/dev/vfio/5' });
    expect(g.errno).toBe(0);
    expect(r.bind(fd).errno).toBe('EBUSY');
    r.env('close', { fd: g.ret! });
    expect(r.bind(fd).errno).toBe(0);
    expect(r.env('open', { path: '/dev/vfio/5' }).errno).toBe('EBUSY');
  });

  it('read/write: the group file has no such methods (EINVAL); a device file is EINVAL until bound, then not modelled (its regions)', () => {
    const r = new Rig();
    const fd = vtd(r, 1, { group: 5 });
    const g = r.env('open', { path: '/dev/vfio/5' }).ret!;
    expect(r.env('read_fault_fd', { fd: g, count: 16, pos: 0 }).errno).toBe('EINVAL');
    expect(r.env('write_fault_fd', { fd: g, pos: 0, data: Uint8Array.of(1) }).errno).toBe('EINVAL');
    expect(r.env('read_fault_fd', { fd, count: 16, pos: 0 }).errno).toBe('EINVAL');
    r.env('close', { fd: g });
    r.bind(fd);
    const dev = r.env('read_fault_fd', { fd, count: 16, pos: 0 });
    expect(dev.unmodelled).toMatch(/read of a VFIO device file/);
    expect(r.env('write_fault_fd', { fd, pos: 0, data: Uint8Array.of(1) }).unmodelled).toMatch(/write of a VFIO device file/);
  });
});

describe('VFIO_DEVICE_ATTACH_IOMMUFD_PT / DETACH', () => {
  it('attach to an IOAS makes an auto HWPT with the VT-d aperture, the MSI window and 4 KiB alignment', () => {
    const r = new Rig();
    const fd = vtd(r);
    r.bind(fd);
    const ioas = r.ioas();
    expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 11, flags: 0, pt_id: ioas }, fd).errno).toBe('EINVAL');
    expect(r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 12, flags: 1, pt_id: ioas }, fd).errno).toBe('EINVAL');
    expect(r.attach(fd, 99).errno).toBe('ENOENT');
    const a = r.attach(fd, ioas);
    expect(a.errno).toBe(0);
    const hwpt = Number(a.out!['pt_id']);
    expect(r.objs()!.get(hwpt)).toMatchObject({ type: 'hwpt_paging', auto: true, domain: { driver: 'intel_vtd', apertureLast: (1n << 48n) - 1n } });
    const { ranges, align } = r.ranges(ioas);
    expect(align).toBe(4096n);
    expect(ranges).toEqual([
      [0n, MSI.start - 1n],
      [MSI.last + 1n, (1n << 48n) - 1n],
    ]);
    // A fixed map into the MSI window hits a reserved range: EINVAL.
    expect(r.io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: BUF, length: 0x1000n, iova: MSI.start }).errno).toBe('EINVAL');
    // Allowing IOVAs over it: EADDRINUSE.
    const allow = (s: bigint, l: bigint) => r.io('IOMMU_IOAS_ALLOW_IOVAS', { ioas_id: ioas, num_iovas: 1, allowed_iovas: 0x10000n }, r.ictx, { bufs: { allowed_iovas: rangeBytes(s, l) } });
    expect(allow(0xfe000000n, 0xffffffffn).errno).toBe('EADDRINUSE');
    // Attach again (replace) to the same IOAS reuses the HWPT.
    expect(r.attach(fd, ioas)).toEqual({ errno: 0, out: { pt_id: hwpt } });
    // Detach: the auto HWPT goes, and with it the aperture and MSI reservations.
    expect(r.detach(fd)).toEqual({ errno: 0 });
    expect(r.objs()!.get(hwpt)).toBeUndefined();
    expect(r.ranges(ioas)).toEqual({ ranges: [[0n, U64_MAX]], align: 1n });
    expect(r.detach(fd)).toEqual({ errno: 0 });
  });

  it('an allowed range over the MSI window or an area there makes attach EADDRINUSE', () => {
    const r = new Rig();
    const fd = vtd(r);
    r.bind(fd);
    const ioas = r.ioas();
    expect(r.io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: BUF, length: 0x1000n, iova: MSI.start + 0x1000n }).errno).toBe(0);
    expect(r.attach(fd, ioas).errno).toBe('EADDRINUSE');
    expect(r.objs()!.get(1)).toMatchObject({ hwpt: 0, users: 2 });
  });

  it('an area not aligned to the new 4 KiB granule makes attach EADDRINUSE', () => {
    const r = new Rig();
    const fd = vtd(r);
    r.bind(fd);
    const ioas = r.ioas();
    expect(r.io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: BUF + 0x800n, length: 0x800n, iova: 0x10800n }).errno).toBe(0);
    expect(r.attach(fd, ioas).errno).toBe('EADDRINUSE');
  });

  it('groups share one attachment: another HWPT is EINVAL, replace moves the whole group', () => {
    const r = new Rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', group: 3 });
    r.env('device_add', { dev: 2, iommu: 1, group: 3, resv: [{ start: '0x100000', length: '0x1000', type: 'direct' }] });
    const [f1, f2] = [r.open('vfio1'), r.open('vfio2')];
    const d1 = Number(r.bind(f1).out!['out_devid']);
    const d2 = Number(r.bind(f2).out!['out_devid']);
    const [a, b] = [r.ioas(), r.ioas()];
    const h1 = Number(r.attach(f1, a).out!['pt_id']);
    const manual = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: d2, pt_id: a, data_type: 0, data_len: 0, data_uptr: 0n }).out!['out_hwpt_id']);
    expect(r.attach(f2, manual).errno).toBe('EINVAL');
    // Auto selection finds the group's HWPT; the second device's own regions join IOAS a.
    expect(r.attach(f2, a)).toEqual({ errno: 0, out: { pt_id: h1 } });
    expect(r.ranges(a).ranges.some(([s, l]) => s <= 0x100000n && 0x100000n <= l)).toBe(false);
    expect(r.objs()!.get(h1)!.users).toBe(3);
    // Replace by one device moves both to IOAS b; a's auto HWPT dies; d2's region moves along.
    const h2 = Number(r.attach(f1, b).out!['pt_id']);
    expect(r.objs()!.get(h1)).toBeUndefined();
    expect(r.objs()!.get(d2)).toMatchObject({ hwpt: h2 });
    expect(r.objs()!.get(h2)!.users).toBe(3);
    // IOAS a keeps only the manual HWPT's aperture: no device regions are left there.
    expect(r.ranges(a)).toEqual({ ranges: [[0n, (1n << 48n) - 1n]], align: 4096n });
    expect(r.ranges(b).ranges.some(([s, l]) => s <= 0x100000n && 0x100000n <= l)).toBe(false);
    // The first device leaving keeps the group attached for the second.
    r.detach(f1);
    expect(r.objs()!.get(h2)!.users).toBe(2);
    expect(r.objs()!.get(d2)).toMatchObject({ hwpt: h2 });
  });

  it('SMMUv3 domains stay on their SMMU: another instance gets its own auto HWPT', () => {
    const r = new Rig('6.14');
    r.env('device_add', { dev: 1, iommu: 1, driver: 'arm_smmuv3' });
    r.env('device_add', { dev: 2, iommu: 2, driver: 'arm_smmuv3' });
    const [f1, f2] = [r.open('vfio1'), r.open('vfio2')];
    r.bind(f1);
    r.bind(f2);
    const ioas = r.ioas();
    const h1 = r.attach(f1, ioas).out!['pt_id'];
    const h2 = r.attach(f2, ioas).out!['pt_id'];
    expect(h1).not.toBe(h2);
    expect(r.attach(f2, Number(h1)).errno).toBe('EINVAL');
    // Both default SW_MSI windows (the same range, two owners) are reserved.
    expect(r.ranges(ioas).ranges[0]).toEqual([0n, 0x8000000n - 1n]);
  });

  it('an emulated device binds an ACCESS object and attaches to IOASes only', () => {
    const r = new Rig();
    r.env('device_add', { dev: 4, kind: 'emulated' });
    const fd = r.open('vfio4');
    const acc = Number(r.bind(fd).out!['out_devid']);
    expect(r.objs()!.get(acc)).toMatchObject({ type: 'access', users: 2, needsPin: true, ioas: 0 });
    const ioas = r.ioas();
    expect(r.attach(fd, 77).errno).toBe('ENOENT');
    expect(r.attach(fd, ioas)).toEqual({ errno: 0, out: { pt_id: ioas } });
    expect(r.ranges(ioas).align).toBe(4096n);
    expect(r.detach(fd).errno).toBe(0);
    expect(r.ranges(ioas).align).toBe(1n);
  });
});

describe('closing and removing', () => {
  it('closing the bound fd unbinds; the device holds the context after its iommufd is closed', () => {
    const r = new Rig();
    const fd = vtd(r);
    r.bind(fd);
    const ioas = r.ioas();
    r.attach(fd, ioas);
    expect(r.env('device_remove', { dev: 1 }).errno).toBe('EBUSY');
    r.env('close', { fd: r.ictx });
    // The context lives on: the DEVICE object and the bind hold it.
    expect(r.w.ctxs.get(1)?.objs.size).toBe(3);
    r.env('close', { fd });
    expect(r.w.ctxs.size).toBe(0);
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'closed', bound: null, opens: 0 });
    expect(r.w.hw.groups.toArray()[0]![1]).toMatchObject({ owner: 0, ownerCnt: 0, cdevOpenCnt: 0 });
    expect(r.env('device_remove', { dev: 1 }).errno).toBe(0);
    expect(r.w.hw.devs.size + r.w.hw.groups.size).toBe(0);
  });

  it('closing an unbound file of a bound device changes nothing', () => {
    const r = new Rig();
    const fd = vtd(r);
    const other = r.open('vfio1');
    r.bind(fd);
    r.env('close', { fd: other });
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'bound', opens: 1 });
  });
});

describe('profiles: hw_info', () => {
  const info = (r: Rig, dev: number) =>
    r.io('IOMMU_GET_HW_INFO', { flags: 0, dev_id: dev, data_len: 64, data_uptr: 0x10000n, __reserved: r.w.kernel === '6.12' ? new Uint8Array(3) : 0 }, r.ictx, { bufs: { data_uptr: new Uint8Array(64) } });
  it('VT-d: type 1, 24 bytes {flags, 0, cap_reg, ecap_reg}; dirty capability', () => {
    const r = new Rig();
    r.env('iommu_add', { iommu: 1, driver: 'intel_vtd', regs: ['0x1122334455667788', '0x99'], dirty: false });
    r.env('device_add', { dev: 1, iommu: 1, flags: ['pci', 'pasid_exec'], max_pasid_log2: 20 });
    r.bind(r.open('vfio1'));
    const res = info(r, 1);
    // (6.12: ECAP 0x99 has no scalable mode, so the IOMMU supports no PASIDs: none reported, nor their capabilities)
    expect(res.out).toMatchObject({ data_len: 24, out_data_type: 1, out_capabilities: 0n, out_max_pasid_log2: 0 });
    expect(Buffer.from(res.bufs!['data_uptr']!.subarray(0, 24)).toString('hex')).toBe('01000000000000008877665544332211' + '9900000000000000');
    expect(res.bufs!['data_uptr']!.subarray(24).every((b) => b === 0)).toBe(true);
  });
  it("6.12 VT-d: out_max_pasid_log2 is the fewer of the device's PASIDs and its IOMMU's (2 << ECAP.PSS in scalable mode)", () => {
    const r = new Rig();
    const ecap = (1n << 43n) | (1n << 40n) | (7n << 35n); // scalable mode, PASID, PSS 7: 256 PASIDs
    r.env('iommu_add', { iommu: 1, driver: 'intel_vtd', regs: ['0x1000000002f0400', `0x${ecap.toString(16)}`] });
    r.env('device_add', { dev: 1, iommu: 1, flags: ['pci', 'pasid_exec'], max_pasid_log2: 20 });
    r.env('device_add', { dev: 2, iommu: 1, flags: ['pci'], max_pasid_log2: 5 });
    r.env('device_add', { dev: 3, iommu: 2, driver: 'intel_vtd', flags: ['pci'], max_pasid_log2: 20 });
    const devs = [1, 2, 3].map((d) => Number(r.bind(r.open(`vfio${d}`)).out!['out_devid']));
    expect(devs.map((d) => info(r, d).out!['out_max_pasid_log2'])).toEqual([8, 5, 20]);
    expect(info(r, devs[0]!).out!['out_capabilities']).toBe(3n); // DIRTY (the instance's dirty default) and PASID_EXEC
  });
  it('SMMUv3: type 2 with 40 bytes in 6.14, no hw_info op in 6.12', () => {
    for (const k of ['6.12', '6.14'] as const) {
      const r = new Rig(k);
      r.env('device_add', { dev: 1, iommu: 1, driver: 'arm_smmuv3' });
      r.bind(r.open('vfio1'));
      expect(info(r, 1).out).toMatchObject(k === '6.14' ? { data_len: 40, out_data_type: 2, out_capabilities: 0n } : { data_len: 0, out_data_type: 0 });
    }
  });
});

describe('profiles: HWPT_ALLOC', () => {
  const alloc = (r: Rig, a: Fields, data?: Uint8Array) => r.io('IOMMU_HWPT_ALLOC', { flags: 0, data_type: 0, data_len: 0, data_uptr: data ? 0x10000n : 0n, ...a }, r.ictx, data ? { bufs: { data_uptr: data } } : {});
  function s1(flags: bigint, addrWidth: number, len = 24): Uint8Array {
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, flags, true);
    dv.setBigUint64(8, 0x1000n, true);
    dv.setUint32(16, addrWidth, true);
    return b.slice(0, len);
  }
  it('VT-d nested stage 1: type, parent, length, then attach-time address width and flags', () => {
    const r = new Rig();
    r.env('iommu_add', { iommu: 1, driver: 'intel_vtd', features: ['eafs'] });
    r.env('device_add', { dev: 1, iommu: 1 });
    const fd = r.open('vfio1');
    r.bind(fd);
    const ioas = r.ioas();
    expect(alloc(r, { dev_id: 1, pt_id: ioas, flags: 4 }).errno).toBe('EOPNOTSUPP'); // FAULT_ID_VALID: not in 6.12
    const plain = Number(alloc(r, { dev_id: 1, pt_id: ioas }).out!['out_hwpt_id']);
    const parent = Number(alloc(r, { dev_id: 1, pt_id: ioas, flags: 1 }).out!['out_hwpt_id']);
    expect(alloc(r, { dev_id: 1, pt_id: parent, data_type: 1, data_len: 24 }, s1(0n, 48)).errno).toBe(0);
    expect(alloc(r, { dev_id: 1, pt_id: parent, data_type: 0xdead, data_len: 4 }, s1(0n, 48, 4)).errno).toBe('EOPNOTSUPP');
    expect(alloc(r, { dev_id: 1, pt_id: plain, data_type: 1, data_len: 24 }, s1(0n, 48)).errno).toBe('EINVAL');
    expect(alloc(r, { dev_id: 1, pt_id: parent, data_type: 1, data_len: 23 }, s1(0n, 48, 23)).errno).toBe('EINVAL');
    expect(alloc(r, { dev_id: 1, pt_id: parent, data_type: 1, data_len: 32 }, s1(0n, 48, 32)).errno).toBe('EINVAL');
    expect(r.io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: 1, pt_id: parent, data_type: 1, data_len: 24, data_uptr: 0n }).errno).toBe('EFAULT');
    const bad = [s1(0n, 39), s1(0n, 57), s1(1n, 48)].map((d) => Number(alloc(r, { dev_id: 1, pt_id: parent, data_type: 1, data_len: 24 }, d).out!['out_hwpt_id']));
    for (const h of bad) expect(r.attach(fd, h).errno).toBe('EINVAL'); // 39-bit, 5-level without FL5LP, SRE without SRS
    const eafe = Number(alloc(r, { dev_id: 1, pt_id: parent, data_type: 1, data_len: 24 }, s1(2n, 48)).out!['out_hwpt_id']);
    expect(r.attach(fd, eafe).errno).toBe(0);
    // The nested HWPT's device regions went to the parent's IOAS.
    expect(r.ranges(ioas).ranges.some(([s, l]) => s <= MSI.start && MSI.start <= l)).toBe(false);
    // Dirty tracking on an IOMMU without it: EOPNOTSUPP (device_iommu_capable).
    r.env('iommu_add', { iommu: 2, driver: 'intel_vtd', dirty: false });
    r.env('device_add', { dev: 2, iommu: 2 });
    const d2 = Number(r.bind(r.open('vfio2')).out!['out_devid']);
    expect(alloc(r, { dev_id: d2, pt_id: ioas, flags: 2 }).errno).toBe('EOPNOTSUPP');
  });

  it('SMMUv3 [6.14]: no nesting on a paging parent; vIOMMU nesting with vSTE validation (EIO)', () => {
    const r = new Rig('6.14');
    r.env('device_add', { dev: 1, iommu: 1, driver: 'arm_smmuv3' });
    r.bind(r.open('vfio1'));
    const ioas = r.ioas();
    const parent = Number(alloc(r, { dev_id: 1, pt_id: ioas, flags: 1 }).out!['out_hwpt_id']);
    const ste = (w0: bigint, w1: bigint) => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, w0, true);
      new DataView(b.buffer).setBigUint64(8, w1, true);
      return b;
    };
    expect(alloc(r, { dev_id: 1, pt_id: parent, data_type: 2, data_len: 16 }, ste(0n, 0n)).errno).toBe('EOPNOTSUPP');
    expect(r.io('IOMMU_VIOMMU_ALLOC', { flags: 0, type: 0xdeadbeef, dev_id: 1, hwpt_id: parent }).errno).toBe('EOPNOTSUPP');
    const v = Number(r.io('IOMMU_VIOMMU_ALLOC', { flags: 0, type: 1, dev_id: 1, hwpt_id: parent }).out!['out_viommu_id']);
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 2, data_len: 16 }, ste(0n, 0n)).errno).toBe(0); // V=0: abort
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 2, data_len: 16 }, ste(1n | (5n << 1n), 0n)).errno).toBe(0); // S1
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 2, data_len: 16 }, ste(1n | (6n << 1n), 0n)).errno).toBe('EIO'); // S2 config
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 2, data_len: 16 }, ste(1n | (1n << 52n), 0n)).errno).toBe('EIO'); // bit outside word 0
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 2, data_len: 16 }, ste(1n, 1n << 40n)).errno).toBe('EIO'); // bit outside word 1
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 2, data_len: 8 }, ste(1n, 0n).subarray(0, 8)).errno).toBe('EINVAL');
    expect(alloc(r, { dev_id: 1, pt_id: v, data_type: 1, data_len: 16 }, ste(1n, 0n)).errno).toBe('EINVAL');
    // A device on another SMMU cannot use the vIOMMU.
    r.env('device_add', { dev: 2, iommu: 2, driver: 'arm_smmuv3' });
    const d2 = Number(r.bind(r.open('vfio2')).out!['out_devid']);
    expect(alloc(r, { dev_id: d2, pt_id: v, data_type: 2, data_len: 16 }, ste(0n, 0n)).errno).toBe('EINVAL');
    expect(r.io('IOMMU_VDEVICE_ALLOC', { viommu_id: v, dev_id: d2, virt_id: 1n }).errno).toBe('EINVAL');
  });
});

describe('IOPF on attach to a HWPT with a fault object', () => {
  it('a PCI VF is EINVAL; VT-d needs PRI (ENODEV); the mock always accepts', () => {
    const r = new Rig();
    r.env('iommu_add', { iommu: 1, driver: 'intel_vtd' });
    r.env('device_add', { dev: 1, iommu: 1, flags: ['pci', 'vf', 'pri'] });
    r.env('device_add', { dev: 2, iommu: 1, flags: ['pci'] });
    r.env('device_add', { dev: 3, iommu: 1, flags: ['pci', 'pri'] });
    const fds = [1, 2, 3].map((d) => r.open(`vfio${d}`));
    const devs = fds.map((fd) => Number(r.bind(fd).out!['out_devid']));
    const ioas = r.ioas();
    const fault = r.io('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 });
    const faultId = Number(fault.out!['out_fault_id']);
    const parent = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: devs[0]!, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n }).out!['out_hwpt_id']);
    const s1 = new Uint8Array(24);
    new DataView(s1.buffer).setUint32(16, 48, true);
    const nested = r.io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: devs[0]!, pt_id: parent, data_type: 1, data_len: 24, data_uptr: 0x10000n, fault_id: faultId }, r.ictx, { bufs: { data_uptr: s1 } });
    const h = Number(nested.out!['out_hwpt_id']);
    expect(r.attach(fds[0]!, h).errno).toBe('EINVAL');
    expect(r.attach(fds[1]!, h).errno).toBe('ENODEV');
    // VT-d turns ATS on only when a paging domain is attached (and off on bind's blocking domain), and
    // its IOPF needs ATS on: straight after bind ENODEV; replacing the paging parent, 0
    expect(r.attach(fds[2]!, h).errno).toBe('ENODEV');
    expect(r.attach(fds[2]!, parent)).toEqual({ errno: 0, out: { pt_id: parent } });
    expect(r.attach(fds[2]!, h)).toEqual({ errno: 0, out: { pt_id: h } });
  });

  it('6.14 VT-d: IOPF needs page requests in the IOMMU (ECAP.PRS) and device TLBs (ECAP.DT) for ATS', () => {
    for (const [drop, want] of [[0n, 0], [1n << 29n, 'ENODEV'], [1n << 2n, 'ENODEV']] as const) {
      const r = new Rig('6.14');
      r.env('iommu_add', { iommu: 1, driver: 'intel_vtd' });
      const ecap = r.w.hw.iommus.get(1)!.regs[1]! & ~drop;
      r.env('iommu_add', { iommu: 2, driver: 'intel_vtd', regs: [`0x${r.w.hw.iommus.get(1)!.regs[0]!.toString(16)}`, `0x${ecap.toString(16)}`] });
      r.env('device_add', { dev: 1, iommu: 2, flags: ['pci', 'pri'] });
      const fd = r.open('vfio1');
      const dev = Number(r.bind(fd).out!['out_devid']);
      const ioas = r.ioas();
      const faultId = Number(r.io('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }).out!['out_fault_id']);
      const plain = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: dev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }).out!['out_hwpt_id']);
      const withFault = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: dev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: faultId }).out!['out_hwpt_id']);
      expect(r.attach(fd, plain).errno).toBe(0);
      expect(r.attach(fd, withFault).errno, `ecap without 0x${drop.toString(16)}`).toBe(want);
    }
  });

  // iommufd_fault_iopf_enable: 6.12 (Debian's 6.12.117 too) refuses any PCI VF; from 6.13 only one
  // with PRI (pci_pri_supported: the PF's), so an SMMUv3 VF with a stall model attaches, and a VT-d
  // VF without PRI meets the driver's own ENODEV
  for (const kernel of ['6.12', '6.14'] as const)
    it(`${kernel}: which PCI VFs iommufd refuses before the driver`, () => {
      const r = new Rig(kernel);
      r.env('iommu_add', { iommu: 1, driver: 'arm_smmuv3' });
      r.env('iommu_add', { iommu: 2, driver: 'intel_vtd' });
      r.env('device_add', { dev: 1, iommu: 1, flags: ['pci', 'vf', 'stall'] });
      r.env('device_add', { dev: 2, iommu: 1, flags: ['pci', 'vf', 'pri', 'stall'] });
      r.env('device_add', { dev: 3, iommu: 2, flags: ['pci', 'vf'] });
      const fds = [1, 2, 3].map((d) => r.open(`vfio${d}`));
      const devs = fds.map((fd) => Number(r.bind(fd).out!['out_devid']));
      const ioas = r.ioas();
      const faultId = Number(r.io('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }).out!['out_fault_id']);
      // 6.14 allows a fault on a paging HWPT; 6.12 only on a nested one, which these profiles make only on 6.14: paging on both
      const paging = (dev: number) => r.io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: dev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: faultId });
      // a VT-d VF without PRI on a nested HWPT with the fault (6.12 takes faults only there)
      const parent = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: devs[2]!, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n }).out!['out_hwpt_id']);
      const s1 = new Uint8Array(24);
      new DataView(s1.buffer).setUint32(16, 48, true);
      const nested = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: devs[2]!, pt_id: parent, data_type: 1, data_len: 24, data_uptr: 0x10000n, fault_id: faultId }, r.ictx, { bufs: { data_uptr: s1 } }).out!['out_hwpt_id']);
      expect(r.attach(fds[2]!, nested).errno).toBe(kernel === '6.12' ? 'EINVAL' : 'ENODEV');
      if (kernel === '6.12') {
        expect(paging(devs[0]!).errno).toBe('EOPNOTSUPP');
        return;
      }
      const smmu = Number(paging(devs[0]!).out!['out_hwpt_id']);
      const vtd = Number(paging(devs[2]!).out!['out_hwpt_id']);
      expect(r.attach(fds[0]!, smmu)).toEqual({ errno: 0, out: { pt_id: smmu } });
      expect(r.attach(fds[1]!, smmu).errno).toBe('EINVAL');
      expect(r.attach(fds[2]!, vtd).errno).toBe('ENODEV');
    });
});

describe('driver invalidation validators (for invalidate.ts)', () => {
  const entry = (addr: bigint, npages: bigint, flags = 0, rsv = 0) => {
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, addr, true);
    dv.setBigUint64(8, npages, true);
    dv.setUint32(16, flags, true);
    dv.setUint32(20, rsv, true);
    return b;
  };
  const cat = (...bs: Uint8Array[]) => Uint8Array.from(bs.flatMap((b) => [...b]));
  it('VT-d stage-1 entries', () => {
    expect(vtdCacheInvalidateUser(1, 0, 24, undefined)).toEqual({ errno: 'EINVAL', done: 0 });
    expect(vtdCacheInvalidateUser(0, 0, 24, undefined)).toEqual({ errno: 0, done: 0 });
    expect(vtdCacheInvalidateUser(0, 2, 24, cat(entry(0x1000n, 1n), entry(0n, U64_MAX, 1)))).toEqual({ errno: 0, done: 2 });
    expect(vtdCacheInvalidateUser(0, 2, 24, cat(entry(0x1000n, 1n), entry(0x1001n, 1n)))).toEqual({ errno: 'EINVAL', done: 1 });
    expect(vtdCacheInvalidateUser(0, 1, 24, entry(0x1000n, U64_MAX))).toEqual({ errno: 'EINVAL', done: 0 });
    expect(vtdCacheInvalidateUser(0, 1, 24, entry(0n, 1n, 2))).toEqual({ errno: 'EOPNOTSUPP', done: 0 });
    expect(vtdCacheInvalidateUser(0, 1, 24, entry(0n, 1n, 0, 1))).toEqual({ errno: 'EOPNOTSUPP', done: 0 });
    expect(vtdCacheInvalidateUser(0, 1, 16, entry(0n, 1n))).toEqual({ errno: 'EINVAL', done: 0 });
    expect(vtdCacheInvalidateUser(0, 2, 24, entry(0n, 1n))).toEqual({ errno: 'EFAULT', done: 1 });
  });
  it('SMMUv3 vIOMMU commands', () => {
    const cmd = (op: bigint, sid = 0n) => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, op | (sid << 32n), true);
      return b;
    };
    const vdevs = PMap.emptyBigint<number>().set(9n, 5);
    expect(smmuv3CacheInvalidate(vdevs, 1, 3, 16, cat(cmd(0x10n), cmd(0x40n, 9n), cmd(0x06n, 8n)))).toEqual({ errno: 'EIO', done: 2 });
    expect(smmuv3CacheInvalidate(vdevs, 1, 1, 16, cmd(0x20n))).toEqual({ errno: 'EIO', done: 0 });
    expect(smmuv3CacheInvalidate(vdevs, 0, 1, 16, cmd(0x10n))).toEqual({ errno: 'EINVAL', done: 0 });
    expect(smmuv3CacheInvalidate(vdevs, 1, 1, 24, cat(cmd(0x10n), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1])))).toEqual({ errno: 'E2BIG', done: 0 });
    expect(smmuValidateVste(0x40n, 0x1n)).toEqual([0n, 0n]);
  });
});

function rangeBytes(s: bigint, l: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, s, true);
  dv.setBigUint64(8, l, true);
  return b;
}

describe('found reading the kernel code (2026-11-27)', () => {
  it("a replace the driver refuses within one IOAS drops the group's reserved regions from it, and that stays (device.c iommufd_device_do_replace: err_unresv)", () => {
    const r = new Rig();
    r.env('iommu_add', { iommu: 1, driver: 'arm_smmuv3' });
    r.env('iommu_add', { iommu: 2, driver: 'arm_smmuv3' });
    r.env('device_add', { dev: 1, iommu: 1, flags: ['pci'] });
    r.env('device_add', { dev: 2, iommu: 2, flags: ['pci'] });
    const f1 = r.open('vfio1');
    const f2 = r.open('vfio2');
    const d1 = Number(r.bind(f1).out!['out_devid']);
    const d2 = Number(r.bind(f2).out!['out_devid']);
    void d1;
    const ioas = r.ioas();
    expect(r.attach(f1, ioas).errno).toBe(0);
    const other = Number(r.io('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: d2, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n }).out!['out_hwpt_id']);
    // (the SW_MSI window of device 1 is reserved while it is attached)
    expect(r.ranges(ioas).ranges).toEqual([[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]]);
    // replace onto the HWPT of the other SMMU: arm_smmu_attach_dev refuses it
    expect(r.attach(f1, other).errno).toBe('EINVAL');
    expect(r.ranges(ioas).ranges).toEqual([[0n, 0xffffffffffffn]]);
    r.env('mmap', { va: 0x7f0000000000n, length: 0x1000n, kind: 'private_anon' });
    expect(r.io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: 0x7f0000000000n, length: 0x1000n, iova: 0x8000000n }).errno).toBe(0);
  });
});

describe('a VFIO device file and group file, more answers from the code (2026-11-27)', () => {
  it('read, write and mmap of a device file that is not the bound one: EINVAL (access_granted); the bound one: not modelled', () => {
    const r = new Rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', flags: ['pci'] });
    const fd = r.open('vfio1');
    const rd = () => r.env('read_fault_fd', { fd, count: 8 });
    const mm = () => r.env('mmap', { va: 0x7f0000000000n, length: 0x1000n, kind: 'file_shared', fd });
    expect(rd().errno).toBe('EINVAL');
    expect(mm().errno).toBe('EINVAL');
    r.bind(fd);
    expect(rd().unmodelled).toMatch(/VFIO device file/);
    expect(mm().unmodelled).toMatch(/VFIO device file/);
  });

  it("a group file's ioctls by number (vfio_group.test.ts has them by name); another number is ENOTTY", () => {
    const r = new Rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', flags: ['pci'], group: 5 });
    const g = r.env('open', { path: '/dev/vfio/5' }).ret!;
    expect(r.io('RAW_IOCTL', { request: 0x3b67, payload: { argsz: 8, flags: 0 } }, g)).toEqual({ errno: 0, out: { argsz: 8, flags: 1 } });
    expect(r.io('RAW_IOCTL', { request: 0x3b67, payload: null }, g).errno).toBe('EFAULT');
    expect(r.io('RAW_IOCTL', { request: 0x3b6a }, g).unmodelled).toMatch(/not in it/);
    expect(r.io('RAW_IOCTL', { request: 0x3b69 }, g).errno).toBe('EINVAL'); // UNSET_CONTAINER: nothing set
    expect(r.io('RAW_IOCTL', { request: 0x3b6b }, g)).toEqual({ errno: 'ENOTTY' });
  });

  it("VFIO numbers carry no size: the container's and group's first seven are no driver's (ENOTTY), VFIO_IOMMU_GET_INFO is vfio-pci's GET_PCI_HOT_RESET_INFO (not modelled); on the iommufd every VFIO number is ENOTTY but the container's", () => {
    const r = new Rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', flags: ['pci'] });
    const fd = r.open('vfio1');
    r.bind(fd);
    expect(r.io('VFIO_GROUP_SET_CONTAINER', { fd: 0 }, fd)).toEqual({ errno: 'ENOTTY' });
    expect(r.io('VFIO_CHECK_EXTENSION', { arg: 3 }, fd)).toEqual({ errno: 'ENOTTY' });
    expect(r.io('VFIO_IOMMU_GET_INFO', { argsz: 16, flags: 0, iova_pgsizes: 0n }, fd).unmodelled).toBe('VFIO_IOMMU_GET_INFO');
    // (iommufd_fops_ioctl: below IOMMUFD_CMD_BASE to iommufd_vfio_ioctl, whose default is ENOIOCTLCMD)
    expect(r.io('VFIO_GROUP_GET_STATUS', { argsz: 8, flags: 0 })).toEqual({ errno: 'ENOTTY' });
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: 0, out_devid: 0 })).toEqual({ errno: 'ENOTTY' });
  });

  it('a device reporting two software MSI windows, or one beside a hardware MSI region, fails its attach (iopt_table_enforce_dev_resv_regions: EINVAL)', () => {
    for (const resv of [
      [{ start: 0x8000000n, length: 0x100000n, type: 'sw_msi' }, { start: 0x9000000n, length: 0x100000n, type: 'sw_msi' }],
      [{ start: 0x8000000n, length: 0x100000n, type: 'sw_msi' }, { start: 0xfee00000n, length: 0x100000n, type: 'msi' }],
    ]) {
      const r = new Rig();
      r.env('device_add', { dev: 1, iommu: 1, driver: 'arm_smmuv3', flags: ['pci'], resv });
      const fd = r.open('vfio1');
      r.bind(fd);
      const ioas = r.ioas();
      expect(r.attach(fd, ioas).errno).toBe('EINVAL');
      expect(r.ranges(ioas).ranges).toEqual([[0n, 0xffffffffffffffffn]]);
    }
  });
});

describe('mmap of a device file that is not the bound one, over old mappings', () => {
  it('is EINVAL after mmap_region unmapped them: a gap is left (vms_abort_munmap_vmas)', () => {
    const r = new Rig();
    r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', flags: ['pci'] });
    const fd = r.open('vfio1');
    r.env('mmap', { va: 0x7f0000000000n, length: 0x4000n, kind: 'private_anon' });
    expect(r.env('mmap', { va: 0x7f0000001000n, length: 0x1000n, kind: 'file_shared', fd }).errno).toBe('EINVAL');
    expect(r.env('read_memory', { va: 0x7f0000001000n, length: 8n }).errno).toBe('EFAULT');
    expect(r.env('read_memory', { va: 0x7f0000002000n, length: 8n }).errno).toBe(0);
  });
});
