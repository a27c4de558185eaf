/**
 * fallocate(2) (src/model/fallocate.ts), and the access mode of a regular
 * file (O_RDONLY, O_WRONLY) that fallocate, ftruncate, read and write check.
 * Until 2026-11-26 a capture's fallocate line was an unknown record. Every
 * answer below (memory and file bytes read back included) is what Linux
 * 6.12.117 gave to the same 53 calls through the oracle.
 */
import { describe, expect, it } from 'vitest';
import { runChecked } from './checked_run.js';
import { data, env, io, memfdMapped, mockDomain, pat, rd, wr, zeros } from './trace_events.js';

const VM = 0x7f0000200000n; // a memfd, shared
const VP = 0x7f0000300000n; // the same memfd, private
const fa = (fd: number, mode: number, offset: bigint, length: bigint) => env('fallocate', { fd, mode, offset, length });
const pread = (fd: number, pos: bigint, count: number) => env('read_fault_fd', { fd, count, pos });
const PUNCH = 3; // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
const KEEP = 1;

describe('fallocate (Linux 6.12.117 answers)', () => {
  it('holes in a memfd under shared, private and pinned mappings; the checks in their order; allocation; access modes', () => {
    const p1 = pat(0x8000, 1);
    const p2 = pat(0x10, 2);
    const { results: r } = runChecked([
      ...mockDomain(), // fd 0, HWPT 4
      ...memfdMapped(VM, VP, 0x8000n), // fd 1
      wr(VM, p1),
      wr(VP + 0x2000n, p2), // a private copy of page 2
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: VM + 0x1000n, length: 0x2000n, iova: 0x1000000n }), // pages 1-2 pinned
      fa(1, PUNCH, 0x1800n, 0x2000n), // 10: half of page 1, page 2, half of page 3
      rd(VM + 0x17f8n, 0x10n),
      rd(VM + 0x1ff8n, 0x10n),
      rd(VM + 0x37f8n, 0x10n),
      rd(VP + 0x2000n, 0x10n), // 14: the private copy stays
      pread(1, 0x17f8n, 0x10),
      io('IOMMU_TEST_OP_MD_CHECK_MAP', { id: 4, check_map: { iova: 0x1000000n, length: 0x1000n, uptr: VM + 0x1000n } }), // page 1: the same page, zeroed in part
      io('IOMMU_TEST_OP_MD_CHECK_MAP', { id: 4, check_map: { iova: 0x1001000n, length: 0x1000n, uptr: VM + 0x2000n } }), // page 2 left the file: EINVAL
      fa(1, PUNCH, 0x5000n, 0x10n), // inside one page
      rd(VM + 0x4ff8n, 0x20n), // 19
      fa(1, 2, 0n, 0x1000n), // PUNCH_HOLE without KEEP_SIZE
      fa(1, 0x10, 0n, 0x1000n), // ZERO_RANGE: not on shmem
      fa(1, 0x18, 0n, 0x1000n), // two modes
      fa(1, 4, 0n, 0x1000n), // NO_HIDE_STALE
      fa(1, 0x20, 0n, 0x1000n), // INSERT_RANGE: not on shmem
      fa(1, 0x21, 0n, 0x1000n), // 25: INSERT_RANGE | KEEP_SIZE
      fa(1, PUNCH, 0n, 0n), // no length
      fa(1, PUNCH, 0xffffffffffffffffn, 0x1000n), // offset -1
      fa(1, PUNCH, 0x7ffffffffffff000n, 0x2000n), // past LLONG_MAX: EFBIG
      fa(1, 0, 0x9000n, 0x1000n), // allocation: the file grows
      pread(1, 0x9ff0n, 0x20), // 30
      fa(1, KEEP, 0xa000n, 0x1000n), // allocation, the size kept
      pread(1, 0x9ff0n, 0x20),
      fa(1, 0, 0x1000n, 0x1000n), // inside: nothing changes
      fa(0, PUNCH, 0n, 0x1000n), // 34: the iommufd: ENODEV
      fa(7, PUNCH, 0n, 0x1000n), // no such fd
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }), // access fd 2
      fa(2, PUNCH, 0n, 0x1000n), // 37: ENODEV
      env('open', { path: '/tmp/data', flags: 0o1102 }), // fd 3, read-write, emptied
      env('write_fault_fd', { fd: 3, pos: 0n }),
      fa(3, 0, 0n, 0x3000n), // 40
      pread(3, 0x2ff0n, 0x20),
      env('open', { path: '/tmp/data', flags: 0 }), // fd 4, read-only
      fa(4, PUNCH, 0n, 0x1000n), // 43: EBADF
      fa(4, 0x10, 0n, 0x1000n), // ZERO_RANGE, read-only: EBADF comes first
      env('ftruncate', { fd: 4, length: 0x1000n }), // EINVAL
      env('write_fault_fd', { fd: 4, pos: 0n }), // 46: EBADF
      env('open', { path: '/tmp/data', flags: 1 }), // fd 5, write-only
      pread(5, 0n, 0x10), // EBADF
      env('ftruncate', { fd: 5, length: 0x2000n }),
      pread(3, 0x1ff0n, 0x20), // 50
      env('ftruncate', { fd: 3, length: 0xffffffffffffffffn }), // a negative length
      env('ftruncate', { fd: 9, length: 0xffffffffffffffffn }), // ... is refused before the fd is looked at
    ]);
    expect(r.map((x) => x.errno)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'EINVAL', 0, 0, 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EINVAL', 'EINVAL', 'EFBIG', 0, 0, 0, 0, 0,
      'ENODEV', 'EBADF', 0, 'ENODEV', 0, 0, 0, 0, 0, 'EBADF', 'EBADF', 'EINVAL', 'EBADF', 0, 'EBADF', 0, 0, 'EINVAL', 'EINVAL',
    ]);
    expect(data(r[11]!)).toEqual(new Uint8Array([...p1.slice(0x17f8, 0x1800), ...zeros(8)]));
    expect(data(r[12]!)).toEqual(zeros(0x10));
    expect(data(r[13]!)).toEqual(new Uint8Array([...zeros(8), ...p1.slice(0x3800, 0x3808)]));
    expect(data(r[14]!)).toEqual(p2);
    expect(data(r[15]!)).toEqual(new Uint8Array([...p1.slice(0x17f8, 0x1800), ...zeros(8)]));
    expect(data(r[19]!)).toEqual(new Uint8Array([...p1.slice(0x4ff8, 0x5000), ...zeros(0x10), ...p1.slice(0x5010, 0x5018)]));
    expect(data(r[30]!)).toEqual(zeros(0x10)); // up to the new end, 0xa000
    expect(data(r[32]!)).toEqual(zeros(0x10)); // KEEP_SIZE: still 0xa000
    expect(data(r[41]!)).toEqual(zeros(0x10));
    expect(data(r[50]!)).toEqual(zeros(0x10));
  });

  it("a regular file's other modes are the filesystem's: EOPNOTSUPP on tmpfs (/dev/shm, as a memfd), not modelled elsewhere", () => {
    const { results } = runChecked([
      env('open', { path: '/dev/shm/ram', flags: 0o1102 }), // fd 0
      env('open', { path: '/var/tmp/ram', flags: 0o1102 }), // fd 1
      fa(0, 0x10, 0n, 0x1000n), // ZERO_RANGE
      fa(0, 0x08, 0n, 0x1000n), // COLLAPSE_RANGE
      fa(0, 0x03, 0n, 0x1000n), // PUNCH_HOLE | KEEP_SIZE
      fa(1, 0x10, 0n, 0x1000n),
      fa(1, 0x03, 0n, 0x1000n),
    ]);
    expect(results.slice(2).map((r) => [r.errno, !!r.unmodelled])).toEqual([
      ['EOPNOTSUPP', false],
      ['EOPNOTSUPP', false],
      [0, false],
      ['EOPNOTSUPP', true],
      [0, false],
    ]);
  });
});
