import { describe, expect, it } from 'vitest';
import { IOCTLS, IOCTL_TABLE, TEST_OPS, ioctlByCmd, isIoctlName, testOpByName, testOpByNumber } from '../../../src/uapi/ioctls.js';
import { fieldOf } from '../../../src/uapi/layout.js';
import { KERNEL_VERSIONS, UAPI, constant, structLayout } from '../../../src/uapi/versions.js';

describe('ioctl table', () => {
  it('is sorted by number, with unique numbers per file and nr = cmd & 0xff', () => {
    const cmds = IOCTL_TABLE.map((d) => d.cmd);
    expect(cmds).toEqual([...cmds].sort((a, b) => a - b));
    expect(new Set(IOCTL_TABLE.map((d) => `${d.file}:${d.cmd}`)).size).toBe(IOCTL_TABLE.length);
    for (const d of IOCTL_TABLE) {
      expect(d.nr).toBe(d.cmd & 0xff);
      expect(d.cmd >> 8).toBe(0x3b); // IOMMUFD_TYPE and VFIO_TYPE are both ';'
    }
  });

  it('takes every number from the headers', () => {
    for (const d of IOCTL_TABLE) {
      for (const v of d.versions) expect(UAPI[v].ioctls[d.name]).toBe(d.cmd);
    }
  });

  it('lacks 0x8f..0x92 in 6.12 and has them in 6.14', () => {
    for (const cmd of [0x3b8f, 0x3b90, 0x3b91, 0x3b92]) {
      expect(ioctlByCmd(cmd, '6.12')).toBeUndefined();
      expect(ioctlByCmd(cmd, '6.14')).toBeDefined();
      expect(UAPI['6.12'].ioctls[ioctlByCmd(cmd, '6.14')?.name ?? '']).toBeUndefined();
    }
    expect(ioctlByCmd(0x3b85, '6.12')?.name).toBe('IOMMU_IOAS_MAP');
  });

  it('looks numbers up per file: 0x3b76 is BIND on a device fd and nothing on the iommufd', () => {
    expect(ioctlByCmd(0x3b76, '6.14', 'vfio_device')?.name).toBe('VFIO_DEVICE_BIND_IOMMUFD');
    expect(ioctlByCmd(0x3b76, '6.14', 'iommufd')).toBeUndefined();
    expect(ioctlByCmd(0x3b7f)).toBeUndefined();
  });

  it('uses the size convention for iommufd structs, argsz for VFIO structs, int for the three integer ioctls', () => {
    for (const d of IOCTL_TABLE) {
      const first = d.struct ? structLayout(d.struct).fields[0] : undefined;
      if (d.convention === 'size') expect(first).toMatchObject({ name: 'size', type: 'u32', offset: 0 });
      if (d.convention === 'argsz') expect(first).toMatchObject({ name: 'argsz', type: 'u32', offset: 0 });
      if (d.convention === 'int') expect([d.struct, d.sizeof, d.minSize]).toEqual([null, 0, 0]);
    }
    expect(IOCTL_TABLE.filter((d) => d.convention === 'int').map((d) => d.name)).toEqual([
      'VFIO_GET_API_VERSION',
      'VFIO_CHECK_EXTENSION',
      'VFIO_SET_IOMMU',
    ]);
  });

  it('names IOMMU_TEST_CMD 0x3ba0 with min size 68', () => {
    expect(IOCTLS.IOMMU_TEST_CMD).toMatchObject({ cmd: 0x3ba0, nr: 0xa0, sizeof: 72, minSize: 68, struct: 'iommu_test_cmd' });
  });
});

describe('version tables', () => {
  it('find only what the headers define (no Object.prototype names)', () => {
    expect(() => structLayout('constructor')).toThrow(/no struct constructor in the 6.14 uapi/);
    expect(() => structLayout('iommu_ioas_map_file', '6.12')).toThrow(/6.12/);
    expect(constant('IOMMU_TEST_OP_DEV_CHECK_CACHE')).toBe(16);
    expect(() => constant('toString')).toThrow(/no constant toString/);
    expect(isIoctlName('toString')).toBe(false);
  });
});

describe('IOMMU_TEST_OP_* table', () => {
  it('numbers the ops 1..16 with the members selftest.c reads', () => {
    expect(TEST_OPS.map((d) => [d.op, d.name, d.member])).toEqual([
      [1, 'IOMMU_TEST_OP_ADD_RESERVED', 'add_reserved'],
      [2, 'IOMMU_TEST_OP_MOCK_DOMAIN', 'mock_domain'],
      [3, 'IOMMU_TEST_OP_MD_CHECK_MAP', 'check_map'],
      [4, 'IOMMU_TEST_OP_MD_CHECK_REFS', 'check_refs'],
      [5, 'IOMMU_TEST_OP_CREATE_ACCESS', 'create_access'],
      [6, 'IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', 'destroy_access_pages'],
      [7, 'IOMMU_TEST_OP_ACCESS_PAGES', 'access_pages'],
      [8, 'IOMMU_TEST_OP_ACCESS_RW', 'access_rw'],
      [9, 'IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT', 'memory_limit'],
      [10, 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', 'mock_domain_replace'],
      [11, 'IOMMU_TEST_OP_ACCESS_REPLACE_IOAS', 'access_replace_ioas'],
      [12, 'IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', 'mock_domain_flags'],
      [13, 'IOMMU_TEST_OP_DIRTY', 'dirty'],
      [14, 'IOMMU_TEST_OP_MD_CHECK_IOTLB', 'check_iotlb'],
      [15, 'IOMMU_TEST_OP_TRIGGER_IOPF', 'trigger_iopf'],
      [16, 'IOMMU_TEST_OP_DEV_CHECK_CACHE', 'check_dev_cache'],
    ]);
  });

  it('agrees with both selftest headers and uses every union member exactly once', () => {
    for (const v of KERNEL_VERSIONS) {
      const ops = Object.entries(UAPI[v].constants).filter(([k]) => k.startsWith('IOMMU_TEST_OP_'));
      expect(ops.map(([k, n]) => [k, n])).toEqual(TEST_OPS.filter((d) => d.versions.includes(v)).map((d) => [d.name, d.op]));
      const union = structLayout('iommu_test_cmd', v).fields.find((f) => f.name === '')?.fields ?? [];
      const members = TEST_OPS.filter((d) => d.versions.includes(v)).map((d) => d.member);
      expect([...members].sort()).toEqual(union.map((f) => f.name).sort());
      for (const m of members) expect(fieldOf(structLayout('iommu_test_cmd', v), m)?.offset).toBe(16);
    }
  });

  it('has DEV_CHECK_CACHE (16) in 6.14 only', () => {
    expect(testOpByNumber(16, '6.14')?.name).toBe('IOMMU_TEST_OP_DEV_CHECK_CACHE');
    expect(testOpByNumber(16, '6.12')).toBeUndefined();
    expect(testOpByName('IOMMU_TEST_OP_DEV_CHECK_CACHE', '6.12')).toBeUndefined();
    expect(testOpByNumber(17)).toBeUndefined();
  });
});
