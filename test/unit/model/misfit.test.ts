/**
 * An ioctl event whose arguments no struct of its op can hold (a misspelt
 * member, a string or a fraction for an integer, an integer for a nested
 * struct) is answered as not modelled, naming what is wrong, with nothing
 * changed: the model reads members leniently (an absent one is 0), and a
 * misspelt `iova` would otherwise map at IOVA 0.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import { MemberCheck } from '../../../src/uapi/struct.js';
import { structLayout } from '../../../src/uapi/versions.js';

const VA = 0x7f0000000000n;
function setup(...more: Event[]): World {
  let w = emptyWorld({ kernel: '6.12' });
  const evs: Event[] = [
    { op: 'open', pid: 1, args: { path: '/dev/iommu' } },
    { op: 'mmap', pid: 1, args: { va: VA, length: 0x10000n, kind: 'private_anon', prot: 3 } },
    { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } },
    ...more,
  ];
  for (const ev of evs) {
    const r = apply(w, ev);
    expect(r.result.errno, ev.op).toBe(0);
    w = r.state;
  }
  return w;
}
const map = (args: Record<string, unknown>): Event => ({ op: 'IOMMU_IOAS_MAP', pid: 1, fd: 0, args: { ioas_id: 1, flags: 7, user_va: VA, length: 0x1000n, iova: 0x1000000n, __reserved: 0, ...args } as Event['args'] });
function refused(w: World, ev: Event, what: string): void {
  const r = apply(w, ev);
  expect(r.result.errno).toBe('EINVAL');
  expect(r.result.unmodelled).toContain(what);
  expect(r.state).toBe(w);
}

describe('arguments no struct holds', () => {
  it('a well-formed MAP maps, one with a misspelt member is refused rather than mapped at IOVA 0', () => {
    const w = setup();
    expect(apply(w, map({})).result).toMatchObject({ errno: 0, out: { iova: 0x1000000n } });
    const { iova: _, ...rest } = map({}).args as Record<string, unknown>;
    refused(w, { ...map({}), args: { ...rest, iovaa: 0x1000000n } as Event['args'] }, "iommu_ioas_map has no member 'iovaa'");
  });
  it('a string, a fraction, an array or an object where an integer goes', () => {
    const w = setup();
    refused(w, map({ length: '0x1000' }), 'iommu_ioas_map.length is an integer, got string');
    refused(w, map({ flags: 1.5 }), 'iommu_ioas_map.flags is an integer, got non-integer 1.5');
    refused(w, map({ iova: [1] }), 'iommu_ioas_map.iova is an integer, got array');
    refused(w, map({ ioas_id: { id: 1 } }), 'iommu_ioas_map.ioas_id is an integer, got object');
    refused(w, map({ ioas_id: null }), 'iommu_ioas_map.ioas_id is an integer, got null');
  });
  it("the selftest's nested members, and a wider integer than its member (cut to its bits, as the fuzzer means it)", () => {
    const w = setup();
    refused(w, { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 1, mock_domain: 0 } }, 'iommu_test_cmd.mock_domain is a struct, got number');
    refused(w, { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 1, mock_domain: { out_hwpt: 1 } } }, "iommu_test_cmd.mock_domain has no member 'out_hwpt'");
    expect(apply(w, { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 1, mock_domain: {} } }).result.errno).toBe(0);
    expect(apply(w, map({ flags: 0x1_0000_0007n })).result.errno).toBe(0);
  });
  it('VFIO container ioctls: their structs, and `arg` alone for the integer-argument ones', () => {
    const w = setup({ op: 'IOMMU_VFIO_IOAS', pid: 1, fd: 0, args: { ioas_id: 1, op: 1, __reserved: 0 } });
    refused(w, { op: 'VFIO_IOMMU_MAP_DMA', pid: 1, fd: 0, args: { argsz: 32, flags: 3, vadr: VA, iova: 0x1000000n, size: 0x1000n } }, "vfio_iommu_type1_dma_map has no member 'vadr'");
    refused(w, { op: 'VFIO_CHECK_EXTENSION', pid: 1, fd: 0, args: { extension: 1 } }, "arg has no member 'extension'");
    expect(apply(w, { op: 'VFIO_CHECK_EXTENSION', pid: 1, fd: 0, args: { arg: 1 } }).result).toMatchObject({ errno: 0, ret: 1 });
  });
});

/** setup(), a device (device_add `dev`), and its node `path` opened: fd 1, beside the iommufd's 0. */
function withNode(dev: Record<string, unknown>, path: string): { w: World; fd: number } {
  const w = setup({ op: 'device_add', pid: 1, args: dev as Event['args'] }, { op: 'open', pid: 1, args: { path } });
  return { w, fd: 1 };
}

it("a VFIO device file's ioctls go by their structs too", () => {
  const { w, fd } = withNode({ dev: 1, iommu: 1, driver: 'intel_vtd' }, '/dev/vfio/devices/vfio1');
  refused(w, { op: 'VFIO_DEVICE_BIND_IOMMUFD', pid: 1, fd, args: { argsz: 16, flags: 0, iommu_fd: 0, out_devid: 0 } }, "vfio_device_bind_iommufd has no member 'iommu_fd'");
  expect(apply(w, { op: 'VFIO_DEVICE_BIND_IOMMUFD', pid: 1, fd, args: { argsz: 16, flags: 0, iommufd: 0, out_devid: 0 } }).result.errno).toBe(0);
});

it("a VFIO group file's ioctls: its status struct, the int SET_CONTAINER points at, the string GET_DEVICE_FD does", () => {
  let { w, fd: g } = withNode({ dev: 1, iommu: 1, driver: 'intel_vtd', group: 5, name: '0000:01:00.0' }, '/dev/vfio/5');
  const io = (op: string, args: Record<string, unknown>): Event => ({ op, pid: 1, fd: g, args: args as Event['args'] });
  refused(w, io('VFIO_GROUP_GET_STATUS', { argsz: 8, flag: 0 }), "vfio_group_status has no member 'flag'");
  refused(w, io('VFIO_GROUP_SET_CONTAINER', { iommufd: 0 }), "the int has no member 'iommufd'");
  refused(w, io('VFIO_GROUP_SET_CONTAINER', { fd: '0' }), 'the int.fd is an integer, got string');
  refused(w, io('VFIO_GROUP_UNSET_CONTAINER', { fd: 0 }), "no argument has no member 'fd'");
  refused(w, io('VFIO_GROUP_GET_DEVICE_FD', { dev: '0000:01:00.0' }), "the string has no member 'dev'");
  refused(w, io('VFIO_GROUP_GET_DEVICE_FD', { name: 1 }), 'name is a string');
  expect(apply(w, io('VFIO_GROUP_GET_STATUS', { argsz: 8, flags: 0 })).result.errno).toBe(0);
  w = apply(w, io('VFIO_GROUP_SET_CONTAINER', { fd: 0 })).state;
  // (set: a second SET_CONTAINER is the kernel's EINVAL, its argument fitting)
  expect(apply(w, io('VFIO_GROUP_SET_CONTAINER', { fd: 0 })).result.errno).toBe('EINVAL');
  expect(apply(w, io('VFIO_GROUP_GET_DEVICE_FD', { name: '0000:01:00.0' })).result.errno).toBe(0);
  expect(apply(w, io('VFIO_GROUP_UNSET_CONTAINER', {})).result.errno).toBe(0);
});

it("a struct one kernel lacks, and a member only the other's has: checked by both kernels' structs", () => {
  // (fuzz seed 9111: the check first asked 6.12's uapi for 6.14's iommu_viommu_alloc and threw)
  let w = emptyWorld({ kernel: '6.14' });
  for (const ev of [
    { op: 'open', pid: 1, args: { path: '/dev/iommu' } },
    { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } },
  ] as Event[])
    w = apply(w, ev).state;
  expect(apply(w, { op: 'IOMMU_IOAS_CHANGE_PROCESS', pid: 1, fd: 0, args: { __reserved: 0 } }).result.errno).toBe(0);
  expect(apply(w, { op: 'IOMMU_VIOMMU_ALLOC', pid: 1, fd: 0, args: { flags: 0, type: 1, dev_id: 99, hwpt_id: 1, out_viommu_id: 0 } }).result.errno).toBe('ENOENT');
  // 6.12 has no DEV_CHECK_CACHE: its member (6.14's) reaches the selftest's EOPNOTSUPP
  const w12 = setup();
  expect(apply(w12, { op: 'IOMMU_TEST_OP_DEV_CHECK_CACHE', pid: 1, fd: 0, args: { id: 1, check_dev_cache: { id: 0, cache: 0 } } }).result).toEqual({ errno: 'EOPNOTSUPP' });
});

describe('MemberCheck', () => {
  const c = new MemberCheck([structLayout('iommu_ioas_unmap', '6.12').fields], 'iommu_ioas_unmap');
  it('checks an event of a shape it has passed by its values, and any other shape in full', () => {
    const ok = { size: 32, ioas_id: 1, iova: 0n, length: 1n };
    expect(c.misfit(ok)).toBeUndefined();
    expect(c.misfit({ ...ok, length: 'x' })).toBe('iommu_ioas_unmap.length is an integer, got string');
    expect(c.misfit({ size: 32, ioas_id: 1, iova: 0n })).toBeUndefined();
    expect(c.misfit({ size: 32, ioas_id: 1, iova: 0n, lenght: 1n })).toBe("iommu_ioas_unmap has no member 'lenght'");
    expect(c.misfit({ ioas_id: 1, size: 32, iova: 0n, length: 1n })).toBeUndefined();
    expect(c.misfit(ok)).toBeUndefined();
  });
});
