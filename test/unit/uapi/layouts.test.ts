import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IOCTLS, IOCTL_TABLE, isIoctlName } from '../../../src/uapi/ioctls.js';
import { fieldOf, offsetofend, type FieldLayout, type StructLayout } from '../../../src/uapi/layout.js';
import { KERNEL_VERSIONS, UAPI, structLayout } from '../../../src/uapi/versions.js';
import { SHARED } from './paths.js';

/** Rows of the ioctl table in kernel-semantics.md §1.2. */
function semanticsTable(): { name: string; value: number; size: number; min: number; last?: string; only614: boolean }[] {
  const doc = readFileSync(join(SHARED, 'docs', 'kernel-semantics.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### 1.2 ioctl numbers'), doc.indexOf('### 1.3'));
  return section
    .split('\n')
    .filter((l) => l.startsWith('| IOMMU_'))
    .map((l) => {
      const cells = l.split('|').map((c) => c.trim());
      const [, nameCell = '', , value = '', size = '', min = ''] = cells;
      const last = /`(\w+)`/.exec(min)?.[1];
      return {
        name: nameCell.split(' ')[0] ?? '',
        value: Number(value),
        size: Number(size),
        min: Number(/\d+/.exec(min)?.[0]),
        ...(last ? { last } : {}),
        only614: nameCell.includes('[6.14]'),
      };
    });
}

describe('layouts against kernel-semantics.md §1.2', () => {
  const rows = semanticsTable();

  it('covers every iommufd ioctl of the table', () => {
    expect(rows.length).toBe(20);
    const ours = IOCTL_TABLE.filter((d) => d.name.startsWith('IOMMU_')).map((d) => d.name);
    expect(rows.map((r) => r.name).sort()).toEqual([...ours].sort());
  });

  for (const row of semanticsTable()) {
    it(`${row.name}: number 0x${row.value.toString(16)}, size ${row.size}, min ${row.min}`, () => {
      expect(isIoctlName(row.name)).toBe(true);
      if (!isIoctlName(row.name)) return;
      const d = IOCTLS[row.name];
      expect(d.cmd).toBe(row.value);
      expect(d.sizeof).toBe(row.size);
      expect(d.minSize).toBe(row.min);
      if (row.last) expect(d.lastMandatory).toBe(row.last);
      expect(d.versions).toEqual(row.only614 ? ['6.14'] : ['6.12', '6.14']);
      // The same sizes hold in every kernel that has the ioctl.
      for (const v of d.versions) {
        const layout = structLayout(d.struct ?? '', v);
        expect(layout.size).toBe(row.size);
        expect(offsetofend(layout, d.lastMandatory ?? '')).toBe(row.min);
      }
    });
  }

  it('has min size below sizeof exactly for HWPT_ALLOC (24 < 48) and GET_HW_INFO (32 < 40), and TEST_CMD (68 < 72)', () => {
    const smaller = IOCTL_TABLE.filter((d) => d.convention === 'size' && d.minSize < d.sizeof).map((d) => [d.name, d.minSize, d.sizeof]);
    expect(smaller).toEqual([
      ['IOMMU_HWPT_ALLOC', 24, 48],
      ['IOMMU_GET_HW_INFO', 32, 40],
      ['IOMMU_TEST_CMD', 68, 72],
    ]);
  });
});

describe('VFIO layouts (kernel-semantics §1.2, §5.1, §11.4)', () => {
  it.each([
    ['VFIO_GET_API_VERSION', 0x3b64, 'int', 0, 0],
    ['VFIO_CHECK_EXTENSION', 0x3b65, 'int', 0, 0],
    ['VFIO_SET_IOMMU', 0x3b66, 'int', 0, 0],
    ['VFIO_IOMMU_GET_INFO', 0x3b70, 'argsz', 24, 16],
    ['VFIO_IOMMU_MAP_DMA', 0x3b71, 'argsz', 32, 32],
    ['VFIO_IOMMU_UNMAP_DMA', 0x3b72, 'argsz', 24, 24],
    ['VFIO_IOMMU_DIRTY_PAGES', 0x3b75, 'argsz', 8, 8],
    ['VFIO_DEVICE_BIND_IOMMUFD', 0x3b76, 'argsz', 16, 16],
    ['VFIO_DEVICE_ATTACH_IOMMUFD_PT', 0x3b77, 'argsz', 12, 12],
    ['VFIO_DEVICE_DETACH_IOMMUFD_PT', 0x3b78, 'argsz', 8, 8],
  ] as const)('%s = %i, %s, sizeof %i, minsz %i', (name, cmd, convention, sizeof, minsz) => {
    expect(IOCTLS[name]).toMatchObject({ cmd, convention, sizeof, minSize: minsz });
  });

  it('puts BIND/ATTACH/DETACH on the device cdev and the container ioctls on the iommufd', () => {
    const device = IOCTL_TABLE.filter((d) => d.file === 'vfio_device').map((d) => d.name);
    expect(device).toEqual(['VFIO_DEVICE_BIND_IOMMUFD', 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'VFIO_DEVICE_DETACH_IOMMUFD_PT']);
  });

  it('lays out the type1 info capability with its flexible range array', () => {
    const cap = structLayout('vfio_iommu_type1_info_cap_iova_range');
    expect(cap.size).toBe(16);
    expect(fieldOf(cap, 'iova_ranges')).toMatchObject({ offset: 16, count: 0, stride: 16, struct: 'vfio_iova_range' });
    expect(fieldOf(cap, 'header')).toMatchObject({ offset: 0, size: 8, struct: 'vfio_info_cap_header' });
    expect(fieldOf(structLayout('vfio_device_bind_iommufd'), 'iommufd')).toMatchObject({ type: 's32', offset: 8 });
  });
});

describe('struct iommu_test_cmd (kernel-semantics §12.2, §12.3)', () => {
  const cmd = structLayout('iommu_test_cmd');
  const at = (member: string, field: string) => {
    const m = fieldOf(cmd, member);
    const f = m?.fields?.find((x) => x.name === field);
    return m && f ? m.offset + f.offset : undefined;
  };

  it('frames size@0 op@4 id@8 __reserved@12 union@16 (48 bytes) last@64, 72 bytes', () => {
    expect(cmd.size).toBe(72);
    expect(cmd.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ['size', 0, 4],
      ['op', 4, 4],
      ['id', 8, 4],
      ['__reserved', 12, 4],
      ['', 16, 48],
      ['last', 64, 4],
    ]);
  });

  it.each([
    ['add_reserved', 'start', 16],
    ['add_reserved', 'length', 24],
    ['mock_domain', 'out_stdev_id', 16],
    ['mock_domain', 'out_hwpt_id', 20],
    ['mock_domain', 'out_idev_id', 24],
    ['mock_domain_flags', 'dev_flags', 28],
    ['check_map', 'uptr', 32],
    ['check_refs', 'refs', 32],
    ['create_access', 'out_access_fd', 16],
    ['create_access', 'flags', 20],
    ['destroy_access_pages', 'access_pages_id', 16],
    ['access_pages', 'flags', 16],
    ['access_pages', 'out_access_pages_id', 20],
    ['access_pages', 'iova', 24],
    ['access_pages', 'length', 32],
    ['access_pages', 'uptr', 40],
    ['access_rw', 'flags', 40],
    ['memory_limit', 'limit', 16],
    ['mock_domain_replace', 'pt_id', 16],
    ['access_replace_ioas', 'ioas_id', 16],
    ['dirty', 'flags', 16],
    ['dirty', 'iova', 24],
    ['dirty', 'length', 32],
    ['dirty', 'page_size', 40],
    ['dirty', 'uptr', 48],
    ['dirty', 'out_nr_dirty', 56],
    ['check_iotlb', 'id', 16],
    ['check_iotlb', 'iotlb', 20],
    ['trigger_iopf', 'dev_id', 16],
    ['trigger_iopf', 'pasid', 20],
    ['trigger_iopf', 'grpid', 24],
    ['trigger_iopf', 'perm', 28],
    ['trigger_iopf', 'addr', 32],
    ['check_dev_cache', 'id', 16],
    ['check_dev_cache', 'cache', 20],
  ] as const)('%s.%s at %i', (member, field, offset) => {
    expect(at(member, field)).toBe(offset);
  });

  it('is the same in 6.12 except that 6.12 lacks check_dev_cache', () => {
    const old = structLayout('iommu_test_cmd', '6.12');
    const union = (l: StructLayout) => l.fields.find((f) => f.name === '')?.fields ?? [];
    expect(union(old)).toEqual(union(cmd).filter((f) => f.name !== 'check_dev_cache'));
    expect({ ...old, fields: old.fields.filter((f) => f.name) }).toEqual({ ...cmd, fields: cmd.fields.filter((f) => f.name) });
  });
});

describe('6.12 vs 6.14 (kernel-semantics Appendix A)', () => {
  const v612 = UAPI['6.12'].structs;
  const v614 = UAPI['6.14'].structs;

  it('differs only in iommu_hw_info, iommu_hwpt_pgfault and iommu_test_cmd among shared structs', () => {
    const shared = Object.keys(v612).filter((k) => k in v614);
    const differ = shared.filter((k) => JSON.stringify(v612[k]) !== JSON.stringify(v614[k]));
    expect(differ.sort()).toEqual(['iommu_hw_info', 'iommu_hwpt_pgfault', 'iommu_test_cmd']);
  });

  it('has out_max_pasid_log2 at 28 and __reserved[3] in 6.12 where 6.14 has a u32 __reserved', () => {
    expect(fieldOf(structLayout('iommu_hw_info', '6.12'), 'out_max_pasid_log2')).toMatchObject({ type: 'u8', offset: 28, size: 1 });
    expect(fieldOf(structLayout('iommu_hw_info', '6.12'), '__reserved')).toMatchObject({ type: 'u8', offset: 29, size: 3, count: 3 });
    expect(fieldOf(structLayout('iommu_hw_info', '6.14'), '__reserved')).toMatchObject({ type: 'u32', offset: 28, size: 4 });
    expect(fieldOf(structLayout('iommu_hw_info', '6.14'), 'out_max_pasid_log2')).toBeUndefined();
  });

  it('places iommu_hwpt_pgfault.addr at 24 in both (6.14 leaves bytes 20..23 as padding, 6.12 names them)', () => {
    for (const v of KERNEL_VERSIONS) expect(fieldOf(structLayout('iommu_hwpt_pgfault', v), 'addr')?.offset).toBe(24);
    expect(fieldOf(structLayout('iommu_hwpt_pgfault', '6.12'), '__reserved')?.offset).toBe(20);
    expect(structLayout('iommu_hwpt_pgfault', '6.14').size).toBe(40);
  });

  it('has the 6.14-only structs only in 6.14', () => {
    for (const s of ['iommu_ioas_map_file', 'iommu_viommu_alloc', 'iommu_vdevice_alloc', 'iommu_ioas_change_process']) {
      expect(v614[s]).toBeDefined();
      expect(v612[s]).toBeUndefined();
    }
  });

  // Padding is invisible to the codec (it decodes no field there), so list it.
  it('has padding only after iommu_test_cmd.last and, in 6.14, inside iommu_hwpt_pgfault', () => {
    const holes = (l: StructLayout): number[] => {
      const covered = new Uint8Array(l.size);
      const mark = (fields: readonly FieldLayout[], base: number) => {
        for (const f of fields) {
          if (f.fields && f.count === undefined) mark(f.fields, base + f.offset);
          else covered.fill(1, base + f.offset, base + f.offset + f.size);
        }
      };
      mark(l.fields, 0);
      return [...covered.keys()].filter((i) => !covered[i]);
    };
    for (const v of KERNEL_VERSIONS) {
      const withHoles = Object.values(UAPI[v].structs)
        .filter((l) => holes(l).length > 0)
        .map((l) => `${l.name}:${holes(l).join(',')}`);
      const expected = ['iommu_test_cmd:68,69,70,71'];
      if (v === '6.14') expected.unshift('iommu_hwpt_pgfault:20,21,22,23');
      expect(withHoles).toEqual(expected);
    }
  });
});
