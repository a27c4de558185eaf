/**
 * The selftest's syzkaller IOVA form (MOCK_FLAGS_ACCESS_SYZ): the IOVA is
 * {u32 nth_area; u32 offset} and becomes the nth area's start + offset, in
 * unsigned long. Oracle fuzz seed 32 (hostile values) found IOAS_COPY naming
 * a source IOAS that does not exist: iommufd_test_syz_conv_iova_id leaves the
 * IOVA as given, so a src_iova past ULONG_MAX fails with EOVERFLOW; the model
 * had turned it into 0 and answered ENOENT. Writing this test found the second
 * case: start + offset wraps for an area at the top of the IOVA space. Every
 * answer below is what Linux 6.12.117 gave to the same calls (the oracle).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { runChecked } from './checked_run.js';

const SYZ = 1 << 16;
const VA = 0x7f0000000000n;
const M = (1n << 64n) - 1n;
const fd0 = (op: string, args: Fields): Event => ({ op, pid: 1, fd: 0, args });
const copy = (src: number, dst: number, srcIova: bigint, length: bigint, flags = SYZ | 6, dstIova = 0n) =>
  fd0('IOMMU_IOAS_COPY', { flags, dst_ioas_id: dst, src_ioas_id: src, length, dst_iova: dstIova, src_iova: srcIova });
const syz = (nth: number, offset: bigint) => (offset << 32n) | BigInt(nth);
const rw = (iova: bigint) => fd0('IOMMU_TEST_OP_ACCESS_RW', { id: 1, access_rw: { iova, length: 16n, uptr: VA + 0x20000n, flags: SYZ } });

describe('syzkaller IOVAs (MOCK_FLAGS_ACCESS_SYZ)', () => {
  it('IOAS_COPY and ACCESS_RW convert as the kernel does', () => {
    const { results } = runChecked([
      { op: 'open', pid: 1, args: { path: '/dev/iommu' } },
      { op: 'mmap', pid: 1, args: { va: VA, length: 0x100000n, kind: 'anon' } },
      fd0('IOMMU_IOAS_ALLOC', { flags: 0 }), // 1
      fd0('IOMMU_IOAS_ALLOC', { flags: 0 }), // 2
      fd0('IOMMU_IOAS_MAP', { ioas_id: 1, flags: 7, user_va: VA, length: 0x4000n, iova: 0x10000n, __reserved: 0 }),
      fd0('IOMMU_IOAS_MAP', { ioas_id: 1, flags: 7, user_va: VA + 0x8000n, length: 0x4000n, iova: 0x40000n, __reserved: 0 }),
      // no such source IOAS: the IOVA stays as given
      copy(9, 2, M, 0x1000n),
      copy(9, 2, 0x10000n, 0x1000n),
      copy(9, 2, 1n << 63n, 0x1000n),
      copy(9, 2, 0n, 0n),
      // {nth_area, offset} in IOAS 1
      copy(1, 2, syz(0, 0n), 0x1000n),
      copy(1, 2, syz(1, 0x1000n), 0x1000n),
      copy(1, 2, syz(1, 0x1000n), 0x1000n, SYZ | 7, 0x300000n),
      copy(1, 2, syz(2, 0n), 0x1000n), // past the last area: 0
      copy(1, 2, syz(0, 0xffffffffn), 0x1000n),
      copy(1, 9, syz(1, 0n), 0x1000n),
      copy(1, 2, syz(1, 0n), 0x1000n, SYZ | 6 | 8), // a bad flag once the syz bit is taken away
      copy(1, 2, syz(1, 0n), 0x1000n, SYZ), // neither read nor write
      copy(2, 1, syz(0, 0n), 0x1000n),
      // an area at the top of the IOVA space: start + offset wraps in unsigned long
      fd0('IOMMU_IOAS_ALLOC', { flags: 0 }), // 3
      fd0('IOMMU_IOAS_MAP', { ioas_id: 3, flags: 7, user_va: VA, length: 0x4000n, iova: 0xfffffffffff00000n, __reserved: 0 }),
      copy(3, 2, syz(0, 0x100000n), 0x1000n), // 2^64 -> 0
      copy(3, 2, syz(0, 0x101000n), 0x1000n), // -> 0x1000
      copy(3, 2, syz(0, 0x2000n), 0x1000n),
      fd0('IOMMU_TEST_OP_CREATE_ACCESS', { id: 3, create_access: { flags: 0 } }), // access fd 1
      rw(syz(0, 0x1000n)),
      rw(syz(0, 0x100000n)),
      rw(syz(1, 0n)),
    ]);
    const answers = results.slice(6).map((r) => [r.errno, r.out?.['src_iova'], r.out?.['dst_iova'], r.out?.['flags']]);
    expect(answers).toEqual([
      ['EOVERFLOW', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      [0, 0x10000n, 0x1000n, 6],
      [0, 0x41000n, 0x2000n, 6],
      [0, 0x41000n, 0x300000n, 7],
      ['ENOENT', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      ['EOPNOTSUPP', undefined, undefined, undefined],
      ['EINVAL', undefined, undefined, undefined],
      [0, 0x1000n, 0x1000n, 6],
      [0, undefined, undefined, undefined], // IOAS_ALLOC
      [0, undefined, undefined, undefined], // IOAS_MAP at the top
      ['ENOENT', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      [0, 0xfffffffffff02000n, 0x3000n, 6],
      [0, undefined, undefined, undefined],
      [0, undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
      ['ENOENT', undefined, undefined, undefined],
    ]);
  });
});
