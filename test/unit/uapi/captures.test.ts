/**
 * Decoding real records from ../shared/captures (Linux 6.12.117 running its
 * own selftests), so the layouts and the intake rules are checked against
 * what a kernel actually did.
 */
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  copyArgszFromUser,
  copyStructFromUser,
  decodeStruct,
  decodeTestCmd,
  encodeStruct,
  encodeTestCmd,
  hexToBytes,
} from '../../../src/uapi/codec.js';
import { errnoName } from '../../../src/uapi/errno.js';
import { ioctlByCmd } from '../../../src/uapi/ioctls.js';
import { UAPI, structLayout } from '../../../src/uapi/versions.js';
import { readCapture } from './paths.js';

interface IoctlRecord {
  seq: number;
  cmd: string;
  in?: string | null;
  out?: string;
  fault?: number;
  arg?: number;
  ret: number;
  errno: number;
}

const ioctls = (test: string): IoctlRecord[] =>
  readCapture(test).filter((r) => r['kind'] === 'ioctl') as unknown as IoctlRecord[];

describe('iommufd_ioas.mock_domain.area capture', () => {
  const records = ioctls('iommufd_ioas.mock_domain.area');

  it('decodes the MOCK_DOMAIN test command and its answer', () => {
    const r = records.find((x) => x.cmd === '0x3ba0' && x.in?.startsWith('4800000002000000'));
    expect(r?.in).toBe('480000000200000001000000' + '00'.repeat(60));
    const before = decodeTestCmd(hexToBytes(r?.in ?? ''), '6.12');
    expect(before.op).toBe('IOMMU_TEST_OP_MOCK_DOMAIN');
    expect(before.args['id']).toBe(1);
    expect(before.size).toBeUndefined(); // 72 = sizeof
    const after = decodeTestCmd(hexToBytes(r?.out ?? ''), '6.12');
    expect(after.args['mock_domain']).toEqual({ out_stdev_id: 2, out_hwpt_id: 4, out_idev_id: 3 });
    expect(r?.errno).toBe(0);
  });

  it('decodes IOAS_ALLOC, SET_TEMP_MEMORY_LIMIT and a failing UNMAP', () => {
    const alloc = records.find((x) => x.cmd === '0x3b81');
    expect(decodeStruct(structLayout('iommu_ioas_alloc', '6.12'), hexToBytes(alloc?.out ?? ''))).toEqual({
      size: 12,
      flags: 0,
      out_ioas_id: 1,
    });
    const limit = records.find((x) => x.cmd === '0x3ba0' && x.in?.startsWith('4800000009000000'));
    expect(decodeTestCmd(hexToBytes(limit?.in ?? ''), '6.12')).toMatchObject({
      op: 'IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT',
      args: { memory_limit: { limit: 65536 } },
    });
    const unmap = records.find((x) => x.cmd === '0x3b86' && x.errno !== 0);
    expect(decodeStruct(structLayout('iommu_ioas_unmap', '6.12'), hexToBytes(unmap?.in ?? ''))).toEqual({
      size: 24,
      ioas_id: 1,
      iova: 0n,
      length: 0x1000n,
    });
    expect(errnoName(unmap?.errno ?? 0)).toBe('ENOENT');
  });

  it('decodes every record with the 6.12 layouts and encodes it back to the same bytes', () => {
    expect(records.length).toBeGreaterThan(40);
    for (const r of records) {
      expect(r.errno === 0 || errnoName(r.errno) !== undefined).toBe(true);
      const def = ioctlByCmd(Number(r.cmd), '6.12');
      expect(def, r.cmd).toBeDefined();
      for (const hex of [r.in, r.out]) {
        const bytes = hexToBytes(hex ?? '');
        if (def?.name === 'IOMMU_TEST_CMD') {
          expect(bytesToHex(encodeTestCmd(decodeTestCmd(bytes, '6.12'), '6.12'))).toBe(hex);
        } else {
          const layout = structLayout(def?.struct ?? '', '6.12');
          expect(bytesToHex(encodeStruct(layout, decodeStruct(layout, bytes), bytes.length))).toBe(hex);
        }
      }
    }
  });
});

describe('argument intake against the kernel (iommufd.cmd_fail, iommufd.cmd_ex_fail)', () => {
  const records = [...ioctls('iommufd.cmd_fail'), ...ioctls('iommufd.cmd_ex_fail')];

  it('gives the kernel errno wherever the intake rules fail a call', () => {
    const seen = new Set<string>();
    for (const r of records) {
      const def = ioctlByCmd(Number(r.cmd), '6.12');
      if (!def) {
        expect(errnoName(r.errno)).toBe('ENOTTY'); // 0x3b7f: below the table, VFIO compat says ENOIOCTLCMD
        seen.add('ENOTTY');
        continue;
      }
      if (def.convention !== 'size') continue;
      const user = r.in ? hexToBytes(r.in) : null;
      const size = user && user.length >= 4 ? new DataView(user.buffer).getUint32(0, true) : 0;
      const intake = copyStructFromUser(structLayout(def.struct ?? '', '6.12'), def.minSize, user, size);
      if (intake.errno !== 0) {
        expect(intake.errno, `seq ${r.seq}`).toBe(errnoName(r.errno));
        seen.add(intake.errno);
      }
    }
    expect([...seen].sort()).toEqual(['E2BIG', 'EFAULT', 'EINVAL', 'ENOTTY']);
  });
});

describe('VFIO compat records (vfio_compat_mock_domain.Ver1v2.get_info)', () => {
  const records = ioctls('vfio_compat_mock_domain.Ver1v2.get_info');

  it('decodes VFIO_IOMMU_GET_INFO and the first capability header', () => {
    const r = records.find((x) => x.cmd === '0x3b70' && x.in?.startsWith('30000000'));
    const info = structLayout('vfio_iommu_type1_info', '6.12');
    const out = hexToBytes(r?.out ?? '');
    expect(decodeStruct(info, out)).toEqual({ argsz: 72, flags: 3, iova_pgsizes: 0x1000n, cap_offset: 0, pad: 0 });
    const cap = decodeStruct(structLayout('vfio_info_cap_header', '6.12'), out.subarray(24));
    expect(cap).toEqual({ id: UAPI['6.12'].constants['VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL'], version: 1, next: 40 });
    const avail = decodeStruct(structLayout('vfio_iommu_type1_info_dma_avail', '6.12'), out.subarray(24));
    expect(avail['avail']).toBe(0xffffffff);
  });

  // Calls that pass the intake may still fail in the handler (ENODEV without a compat IOAS).
  it('gives the kernel errno wherever the argsz intake fails a call', () => {
    const calls = [...records, ...ioctls('iommufd.info_cmd'), ...ioctls('iommufd.map_cmd')].filter(
      (x) => x.cmd === '0x3b70' || x.cmd === '0x3b71',
    );
    const seen = new Set<string>();
    for (const r of calls) {
      const def = ioctlByCmd(Number(r.cmd), '6.12');
      const layout = structLayout(def?.struct ?? '', '6.12');
      const user = hexToBytes(r.in ?? '');
      // The capture holds argsz bytes; the caller's buffer itself was a full struct.
      const padded = new Uint8Array(Math.max(user.length, layout.size));
      padded.set(user);
      const intake = copyArgszFromUser(layout, def?.minSize ?? 0, padded);
      if (intake.errno !== 0) {
        expect(errnoName(r.errno), `seq ${r.seq}`).toBe(intake.errno);
        seen.add(intake.errno);
      }
    }
    expect([...seen]).toEqual(['EINVAL']);
  });
});
