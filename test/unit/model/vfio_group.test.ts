/**
 * The legacy VFIO group file with an iommufd as its container, case by case
 * against drivers/vfio/group.c and drivers/vfio/iommufd.c of Linux 6.12:
 * each ioctl's checks in the kernel's order, the compat IOAS SET_CONTAINER
 * makes, the device files GET_DEVICE_FD opens (bound and attached by the
 * first, unbound by the last to close) and who holds the context. Every
 * step is held to the invariants (refcounts and dangling IDs among them).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { Checker } from '../../../src/invariants/index.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import { treeView } from '../../../src/debug/views.js';

const VIABLE = 1;
const CONTAINER_SET = 2;
const BUF = 0x7f0000000000n;

class Rig {
  w = emptyWorld({ kernel: '6.12' });
  private checker = new Checker();
  private n = 0;
  ictx: number;
  group = 0;
  constructor(devs: Fields[] = [{ dev: 1, iommu: 1, driver: 'intel_vtd', group: 5, name: '0000:01:00.0' }]) {
    this.ictx = this.env('open', { path: '/dev/iommu' }).ret!;
    this.env('mmap', { va: BUF, length: 0x400000n, kind: 'anon' });
    for (const d of devs) expect(this.env('device_add', d).errno).toBe(0);
  }
  private step(ev: Event): Result {
    const r = apply(this.w, ev);
    expect(this.checker.step({ prev: this.w, next: r.state, event: ev, result: r.result, index: this.n++ }), ev.op).toEqual([]);
    this.w = r.state;
    return r.result;
  }
  env(op: string, args: Fields): Result {
    return this.step({ op, args });
  }
  io(op: string, fd: number, args: Event['args']): Result {
    return this.step({ op, fd, args });
  }
  openGroup(id = 5): number {
    const r = this.env('open', { path: `/dev/vfio/${id}` });
    expect(r.errno).toBe(0);
    this.group = r.ret!;
    return this.group;
  }
  status(fd = this.group): Result {
    return this.io('VFIO_GROUP_GET_STATUS', fd, { argsz: 8, flags: 0 });
  }
  setContainer(fd = this.ictx, group = this.group): Result {
    return this.io('VFIO_GROUP_SET_CONTAINER', group, { fd });
  }
  deviceFd(name = '0000:01:00.0', group = this.group): Result {
    return this.io('VFIO_GROUP_GET_DEVICE_FD', group, { name });
  }
  close(fd: number): Result {
    return this.env('close', { fd });
  }
  objs(ctx = 1): [number, string][] {
    return (this.w.ctxs.get(ctx)?.objs.toArray() ?? []).map(([id, o]) => [id, o.type]);
  }
  ctxFileRefs(ctx = 1): number {
    const c = this.w.ctxs.get(ctx)!;
    return this.w.files.get(c.file)!.refs;
  }
}

describe('VFIO_GROUP_GET_STATUS', () => {
  it('EFAULT, EINVAL below minsz, then VIABLE; CONTAINER_SET | VIABLE once an iommufd is set', () => {
    const r = new Rig();
    r.openGroup();
    expect(r.io('VFIO_GROUP_GET_STATUS', r.group, null).errno).toBe('EFAULT');
    expect(r.io('VFIO_GROUP_GET_STATUS', r.group, { argsz: 7, flags: 0 }).errno).toBe('EINVAL');
    expect(r.status()).toEqual({ errno: 0, out: { argsz: 8, flags: VIABLE } });
    // argsz past the struct: only minsz bytes are read and written back
    expect(r.io('VFIO_GROUP_GET_STATUS', r.group, { argsz: 64, flags: 0 }).out).toEqual({ argsz: 64, flags: VIABLE });
    expect(r.setContainer().errno).toBe(0);
    expect(r.status().out).toEqual({ argsz: 8, flags: CONTAINER_SET | VIABLE });
  });

  it('not viable while the group is DMA-owned and no container is set; ENODEV once its last device is gone', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    const dfd = r.deviceFd().ret!;
    // unset while the device stays open through the group: the DEVICE still owns the group's DMA
    expect(r.io('VFIO_GROUP_UNSET_CONTAINER', r.group, {}).errno).toBe(0);
    expect(r.status().out).toEqual({ argsz: 8, flags: 0 });
    r.close(dfd);
    expect(r.status().out).toEqual({ argsz: 8, flags: VIABLE });
    expect(r.env('device_remove', { dev: 1 }).errno).toBe(0);
    expect(r.status().errno).toBe('ENODEV');
    expect(r.setContainer().errno).toBe('ENODEV');
    // its node went with the device (ENOENT, not the EBUSY of an open group), the group goes with its file
    expect(r.env('open', { path: '/dev/vfio/5' }).errno).toBe('ENOENT');
    r.close(r.group);
    expect(r.w.hw.groups.has(5)).toBe(false);
    expect(r.env('open', { path: '/dev/vfio/5' }).errno).toBe('ENOENT');
  });

  it('a device added to the number of a group whose file outlived its devices makes a new group; the old file keeps its context alone', () => {
    const r = new Rig();
    const old = r.openGroup();
    r.setContainer();
    expect(r.env('device_remove', { dev: 1 }).errno).toBe(0);
    expect(r.env('device_add', { dev: 2, iommu: 1, group: 5, name: '0000:02:00.0' }).errno).toBe(0);
    // vfio_group_find_or_alloc finds no group 5 on vfio.group_list: a fresh one, its node openable
    expect(r.w.hw.groups.get(5)).toMatchObject({ legacyOpen: false, iommufd: 0 });
    const fresh = r.openGroup();
    expect(r.status(fresh).out).toEqual({ argsz: 8, flags: VIABLE });
    // the old file's group has no iommu_group and no device, but still its context; the debugger's
    // state tree reaches it under its own (negative) key
    const key = [...r.w.hw.groups.keys()].find((k) => k < 0)!;
    expect(treeView(r.w, ['hw', 'groups', String(key)]).children.find((c) => c.key === 'iommufd')?.summary).toBe('1');
    expect(r.status(old).errno).toBe('ENODEV');
    expect(r.deviceFd('0000:02:00.0', old).errno).toBe('ENODEV');
    expect(r.setContainer(r.ictx, old).errno).toBe('EINVAL');
    expect(r.ctxFileRefs()).toBe(2);
    expect(r.io('VFIO_GROUP_UNSET_CONTAINER', old, {}).errno).toBe(0);
    expect(r.ctxFileRefs()).toBe(1);
    expect(r.setContainer(r.ictx, old).errno).toBe('ENODEV');
    // the new group is set, opened from and released on its own
    expect(r.setContainer(r.ictx, fresh).errno).toBe(0);
    expect(r.deviceFd('0000:02:00.0', fresh).errno).toBe(0);
    r.close(old);
    expect([...r.w.hw.groups.keys()]).toEqual([5]);
    expect(r.w.hw.groups.get(5)).toMatchObject({ legacyOpen: true, iommufd: 1 });
    expect(r.ctxFileRefs()).toBe(3);
  });

  it('device_add refuses a negative group number', () => {
    const r = new Rig([]);
    expect(r.env('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', group: -3 }).errno).toBe('EINVAL');
    expect(r.w.hw.devs.size).toBe(0);
  });
});

describe('VFIO_GROUP_SET_CONTAINER / UNSET_CONTAINER', () => {
  it('checks in the kernel order: EFAULT, EBADF, EINVAL (set already), EBADFD (not an iommufd)', () => {
    const r = new Rig();
    r.openGroup();
    expect(r.io('VFIO_GROUP_SET_CONTAINER', r.group, null).errno).toBe('EFAULT');
    expect(r.setContainer(77).errno).toBe('EBADF');
    expect(r.setContainer(-1).errno).toBe('EBADF');
    // the group's own file is no iommufd
    expect(r.setContainer(r.group).errno).toBe('EBADFD');
    expect(r.objs()).toEqual([]);
    expect(r.setContainer().errno).toBe(0);
    // EBADF still comes first; then EINVAL, whatever the fd
    expect(r.setContainer(77).errno).toBe('EBADF');
    expect(r.setContainer(r.group).errno).toBe('EINVAL');
    expect(r.setContainer().errno).toBe('EINVAL');
  });

  it('makes a compat IOAS (an ordinary IOAS with the lowest free ID) unless the context has one', () => {
    const r = new Rig();
    expect(r.io('IOMMU_IOAS_ALLOC', r.ictx, { flags: 0 }).out).toEqual({ out_ioas_id: 1 });
    r.openGroup();
    expect(r.setContainer().errno).toBe(0);
    expect(r.objs()).toEqual([
      [1, 'ioas'],
      [2, 'ioas'],
    ]);
    expect(r.io('IOMMU_VFIO_IOAS', r.ictx, { op: 0, ioas_id: 0, __reserved: 0 }).out).toEqual({ ioas_id: 2 });
    // the container ioctls now have an IOAS to work on
    expect(r.io('VFIO_SET_IOMMU', r.ictx, { arg: 3 }).errno).toBe(0);

    const s = new Rig();
    expect(s.io('IOMMU_IOAS_ALLOC', s.ictx, { flags: 0 }).errno).toBe(0);
    expect(s.io('IOMMU_VFIO_IOAS', s.ictx, { op: 1, ioas_id: 1, __reserved: 0 }).errno).toBe(0);
    s.openGroup();
    expect(s.setContainer().errno).toBe(0);
    expect(s.objs()).toEqual([[1, 'ioas']]);
  });

  it('the group holds the context: closing the iommufd fd keeps it until UNSET_CONTAINER (EINVAL without one)', () => {
    const r = new Rig();
    r.openGroup();
    expect(r.io('VFIO_GROUP_UNSET_CONTAINER', r.group, {}).errno).toBe('EINVAL');
    expect(r.ctxFileRefs()).toBe(1);
    r.setContainer();
    expect(r.ctxFileRefs()).toBe(2);
    r.close(r.ictx);
    expect(r.w.ctxs.has(1)).toBe(true);
    expect(r.io('VFIO_GROUP_UNSET_CONTAINER', r.group, {}).errno).toBe(0);
    expect(r.w.ctxs.has(1)).toBe(false);
    expect(r.io('VFIO_GROUP_UNSET_CONTAINER', r.group, {}).errno).toBe('EINVAL');
  });

  it('closing the group file lets go of the context too', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    r.close(r.group);
    expect(r.ctxFileRefs()).toBe(1);
    expect(r.w.hw.groups.get(5)).toMatchObject({ iommufd: 0, legacyOpen: false });
    // and the group can be opened and set again
    r.openGroup();
    expect(r.setContainer().errno).toBe(0);
  });
});

describe('VFIO_GROUP_GET_DEVICE_FD', () => {
  it('EFAULT, EINVAL for a name without a NUL in a page, ENODEV for an unknown name, EINVAL without a container', () => {
    const r = new Rig();
    r.openGroup();
    expect(r.io('VFIO_GROUP_GET_DEVICE_FD', r.group, null).errno).toBe('EFAULT');
    expect(r.deviceFd('x'.repeat(4096)).errno).toBe('EINVAL');
    // 4095 bytes and the NUL fit in the page (an unknown name, then); bytes, not characters, count
    expect(r.deviceFd('x'.repeat(4095)).errno).toBe('ENODEV');
    expect(r.deviceFd('é'.repeat(2048)).errno).toBe('EINVAL');
    expect(r.deviceFd('0000:01:00.1').errno).toBe('ENODEV');
    expect(r.deviceFd('').errno).toBe('ENODEV');
    expect(r.deviceFd().errno).toBe('EINVAL');
    expect(r.objs()).toEqual([]);
  });

  it('the first file binds the device and attaches it to the compat IOAS; more files change nothing; the last to close unbinds', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    const a = r.deviceFd();
    expect(a.errno).toBe(0);
    expect(a.ret).toBe(2); // fd 0 the iommufd, 1 the group
    // the compat IOAS 1, the DEVICE 2, and the automatic domain 3 it attached through
    expect(r.objs()).toEqual([
      [1, 'ioas'],
      [2, 'device'],
      [3, 'hwpt_paging'],
    ]);
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'attached', opens: 1, groupOpens: 1, bound: { file: 0, ctx: 1, obj: 2, attached: true } });
    expect(r.w.hw.groups.get(5)).toMatchObject({ owner: 1, ownerCnt: 1, cdevOpenCnt: 0 });
    // iommufd fd + the group + the DEVICE's reference
    expect(r.ctxFileRefs()).toBe(3);
    // (the kernel reads the name up to its NUL)
    const b = r.deviceFd('0000:01:00.0\0junk');
    expect(b.ret).toBe(3);
    expect(r.objs().length).toBe(3);
    expect(r.w.hw.devs.get(1)).toMatchObject({ opens: 2, groupOpens: 2 });
    r.close(a.ret!);
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'attached', groupOpens: 1 });
    r.close(b.ret!);
    expect(r.objs()).toEqual([[1, 'ioas']]);
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'closed', opens: 0, groupOpens: 0, bound: null });
    expect(r.w.hw.groups.get(5)).toMatchObject({ owner: 0, ownerCnt: 0 });
    expect(r.ctxFileRefs()).toBe(2);
    // and again
    expect(r.deviceFd().errno).toBe(0);
    expect(r.objs().map(([, t]) => t)).toEqual(['ioas', 'device', 'hwpt_paging']);
  });

  it('VFIO type1 maps reach the device: MAP_DMA on the iommufd maps into its domain', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    expect(r.deviceFd().errno).toBe(0);
    expect(r.io('VFIO_SET_IOMMU', r.ictx, { arg: 3 }).errno).toBe(0);
    expect(r.io('VFIO_IOMMU_MAP_DMA', r.ictx, { argsz: 32, flags: 3, vaddr: BUF, iova: 0x100000n, size: 0x200000n }).errno).toBe(0);
    const ioas = r.w.ctxs.get(1)!.objs.get(1)!;
    expect(ioas.type === 'ioas' && ioas.iopt.domains).toEqual([3]);
    expect(ioas.type === 'ioas' && ioas.iopt.areas.size).toBe(1);
  });

  it('without a compat IOAS (cleared after SET_CONTAINER) the open fails with ENODEV and leaves nothing bound', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    expect(r.io('IOMMU_VFIO_IOAS', r.ictx, { op: 2, ioas_id: 0, __reserved: 0 }).errno).toBe(0);
    expect(r.deviceFd().errno).toBe('ENODEV');
    expect(r.objs()).toEqual([[1, 'ioas']]);
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'appeared', opens: 0, groupOpens: 0, bound: null });
  });

  it('a bind the IOMMU refuses fails the open: EPERM without MSI isolation', () => {
    const r = new Rig([{ dev: 1, iommu: 1, driver: 'intel_vtd', group: 5, name: '0000:01:00.0', msi_isolated: false }]);
    r.openGroup();
    r.setContainer();
    expect(r.deviceFd().errno).toBe('EPERM');
    expect(r.objs()).toEqual([[1, 'ioas']]);
  });

  it('a file from the group: BIND_IOMMUFD is EINVAL, ATTACH / DETACH go to the driver (not modelled)', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    const fd = r.deviceFd().ret!;
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', fd, { argsz: 16, flags: 0, iommufd: r.ictx }).errno).toBe('EINVAL');
    const at = r.io('VFIO_DEVICE_ATTACH_IOMMUFD_PT', fd, { argsz: 12, flags: 0, pt_id: 1 });
    expect(at.errno).toBe('ENOTTY');
    expect(at.unmodelled).toBe('VFIO_DEVICE_ATTACH_IOMMUFD_PT');
  });

  it('the cdev of a device open through the group: its bind is EBUSY while the group file is open, then EINVAL (open already)', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    expect(r.deviceFd().errno).toBe(0);
    const cdev = r.env('open', { path: '/dev/vfio/devices/vfio1' }).ret!;
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', cdev, { argsz: 16, flags: 0, iommufd: r.ictx }).errno).toBe('EBUSY');
    r.close(r.group);
    expect(r.io('VFIO_DEVICE_BIND_IOMMUFD', cdev, { argsz: 16, flags: 0, iommufd: r.ictx }).errno).toBe('EINVAL');
    // the device stays bound and attached through the group's file, which holds the context
    expect(r.w.hw.devs.get(1)).toMatchObject({ state: 'attached', groupOpens: 1 });
    expect(r.env('device_remove', { dev: 1 }).errno).toBe('EBUSY');
  });

  it('an emulated device gets an ACCESS attached to the compat IOAS', () => {
    const r = new Rig([{ dev: 1, kind: 'emulated', group: 5, name: 'mdev-uuid' }]);
    r.openGroup();
    r.setContainer();
    expect(r.deviceFd('mdev-uuid').errno).toBe(0);
    const acc = r.w.ctxs.get(1)!.objs.get(2)!;
    expect(acc.type === 'access' && acc.ioas).toBe(1);
  });

  it('vfio-pci name options and VFs are said not to be modelled', () => {
    const r = new Rig([
      { dev: 1, iommu: 1, driver: 'intel_vtd', group: 5, name: '0000:01:00.0', flags: ['pci'] },
      { dev: 2, iommu: 1, driver: 'intel_vtd', group: 6, name: '0000:01:00.1', flags: ['pci', 'vf'] },
    ]);
    r.openGroup();
    r.setContainer();
    const opt = r.deviceFd('0000:01:00.0 vf_token=2ab74924-c335-45f4-9b16-8569e5b08258');
    expect(opt.unmodelled).toMatch(/vf_token/);
    r.openGroup(6);
    const vf = r.deviceFd('0000:01:00.1');
    expect(vf.unmodelled).toMatch(/VF token/);
    expect(r.objs()).toEqual([[1, 'ioas']]);
  });
});

describe('processes', () => {
  it('an exiting process closes its group and device files like close(2) does', () => {
    const r = new Rig();
    r.openGroup();
    r.setContainer();
    r.deviceFd();
    expect(r.env('exit', {}).errno).toBe(0);
    const w: World = r.w;
    expect(w.ctxs.size).toBe(0);
    expect(w.hw.devs.get(1)).toMatchObject({ state: 'closed', opens: 0, groupOpens: 0, bound: null });
    expect(w.hw.groups.get(5)).toMatchObject({ iommufd: 0, legacyOpen: false, owner: 0 });
  });
});
