/**
 * A regular file is one object per path (every open of the path, in any
 * process, reaches it), and O_TRUNC empties it: from then on its size and
 * contents are the trace's, so read(2)/write(2) of it are modelled as a
 * memfd's are. A file whose size the trace never set still answers by what
 * it held before the trace: not modelled (memfd_rw.test.ts). The oracle fuzz
 * campaigns (seeds 20, 34, 39, 50) kept meeting reads and writes of the
 * executor's /tmp/data, which carries over between the traces of a boot; the
 * generator now opens it O_TRUNC. Every answer below is what Linux 6.12.117
 * gave to the same calls (24 + 23 answers, the memory read back included).
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { join } from 'node:path';
import { kernelTraceSuite, runChecked } from './checked_run.js';

const VA = 0x7f0000000000n;
const env = (op: string, args: Fields, bufs?: Event['bufs']): Event => ({ op, pid: 1, args, ...(bufs ? { bufs } : {}) });
const pat = (n: number, s: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + s) & 0xff);
const TRUNC = 0o1102; // O_RDWR|O_CREAT|O_TRUNC
const rd = (fd: number, pos: bigint, count: number) => env('read_fault_fd', { fd, count, pos });
const wr = (fd: number, pos: bigint, data: Uint8Array) => env('write_fault_fd', { fd, pos }, { data });

describe('regular files by path, emptied by O_TRUNC (Linux 6.12.117 answers)', () => {
  it('reads and writes through several fds and a shared mapping, truncation while mapped', () => {
    const p1 = pat(100, 1);
    const p2 = pat(300, 2);
    const p3 = pat(16, 3);
    const p4 = pat(8, 4);
    const p5 = pat(8, 5);
    const events: Event[] = [
      env('open', { path: '/tmp/data', flags: TRUNC }), // fd 0
      wr(0, 0n, p1),
      rd(0, 0n, 50), // at the file offset (100): nothing
      rd(0, 1n, 200),
      env('open', { path: '/tmp/data', flags: TRUNC }), // fd 1 empties the file fd 0 has open
      rd(0, 1n, 200),
      wr(1, 0n, p2),
      rd(0, 5n, 50), // fd 0 reads what fd 1 wrote
      env('open', { path: '/tmp/data' }), // fd 2, no O_TRUNC: the same file, its size known
      rd(2, 0n, 40),
      env('ftruncate', { fd: 0, length: 0x3000n }),
      rd(2, 0x2ff0n, 0x40),
      wr(2, 0x5000n, p3), // past the end: a hole, then the bytes
      rd(0, 0x4ff8n, 0x40),
      env('mmap', { va: VA, length: 0x2000n, kind: 'file_shared', prot: 3, fd: 0, offset: 0n }),
      env('write_memory', { va: VA + 0x10n, data: p4 }),
      rd(1, 0x10n, 8), // a store through the shared mapping, read back
      env('read_memory', { va: VA, length: 0x20n }),
      wr(1, 0x18n, p5),
      env('read_memory', { va: VA + 0x10n, length: 0x10n }), // a write, seen through the mapping
      env('close', { fd: 0 }),
      env('open', { path: '/tmp/data', flags: TRUNC }), // truncated while mapped
      rd(1, 1n, 0x40),
      env('read_memory', { va: VA, length: 0x20n }), // past the end now
    ];
    const { results } = runChecked(events);
    const answer = results.map((r) => [r.errno, r.ret, r.bufs?.['data'] ? Buffer.from(r.bufs['data']).toString('hex') : undefined]);
    const hex = (...parts: Uint8Array[]) => Buffer.concat(parts).toString('hex');
    const zeros = (n: number) => new Uint8Array(n);
    expect(answer).toEqual([
      [0, 0, undefined],
      [0, 100, undefined],
      [0, 0, ''],
      [0, 99, hex(p1.subarray(1))],
      [0, 1, undefined],
      [0, 0, ''],
      [0, 300, undefined],
      [0, 50, hex(p2.subarray(5, 55))],
      [0, 2, undefined],
      [0, 40, hex(p2.subarray(0, 40))],
      [0, undefined, undefined],
      [0, 16, hex(zeros(16))],
      [0, 16, undefined],
      [0, 24, hex(zeros(8), p3)],
      [0, 0, undefined],
      [0, undefined, undefined],
      [0, 8, hex(p4)],
      [0, undefined, hex(p2.subarray(0, 16), p4, p2.subarray(24, 32))],
      [0, 8, undefined],
      [0, undefined, hex(p4, p5)],
      [0, undefined, undefined],
      [0, 0, undefined],
      [0, 0, ''],
      ['EFAULT', undefined, undefined],
    ]);
  });

  it('a shared mapping of the file as guest RAM: pinned by a domain, written through an access, cut by ftruncate and O_TRUNC', () => {
    const fd0 = (op: string, args: Fields, bufs?: Event['bufs']): Event => ({ op, pid: 1, fd: 0, args, ...(bufs ? { bufs } : {}) });
    const check = (iova: bigint, length: bigint) => fd0('IOMMU_TEST_OP_MD_CHECK_MAP', { id: 4, check_map: { iova, length, uptr: VA } });
    const map = (iova: bigint, length: bigint) => fd0('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length, iova });
    const p1 = pat(64, 1);
    const p2 = pat(0x20, 2);
    const events: Event[] = [
      env('open', { path: '/dev/iommu' }), // fd 0
      env('open', { path: '/tmp/data', flags: TRUNC }), // fd 1
      env('ftruncate', { fd: 1, length: 0x400000n }),
      env('mmap', { va: VA, length: 0x400000n, kind: 'file_shared', prot: 3, fd: 1, offset: 0n }),
      fd0('IOMMU_IOAS_ALLOC', { flags: 0 }), // 1
      fd0('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }), // stdev 2, idev 3, hwpt 4
      env('write_memory', { va: VA + 0x1000n, data: p1 }),
      map(0x1000000n, 0x10000n),
      check(0x1000000n, 0x10000n),
      rd(1, 0x1000n, 64),
      fd0('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }), // access fd 2
      fd0('IOMMU_TEST_OP_ACCESS_RW', { id: 2, access_rw: { iova: 0x1002000n, length: 0x20n, uptr: VA + 0x200000n, flags: 1 } }, { uptr: p2 }),
      rd(1, 0x2000n, 0x20),
      env('ftruncate', { fd: 1, length: 0x8000n }), // cuts pinned pages out of the file
      check(0x1000000n, 0x10000n),
      check(0x1000000n, 0x8000n),
      env('read_memory', { va: VA + 0x9000n, length: 0x10n }),
      env('open', { path: '/tmp/data', flags: TRUNC }), // fd 3 empties it, pinned pages and all
      check(0x1000000n, 0x1000n),
      map(0x2000000n, 0x1000n),
      env('ftruncate', { fd: 1, length: 0x10000n }),
      map(0x2000000n, 0x10000n),
      check(0x2000000n, 0x10000n),
    ];
    const { results } = runChecked(events);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'EFAULT', 0, 'EFAULT', 0, 'EFAULT', 'EFAULT', 0, 0, 0]);
    expect(results[9]!.bufs!['data']).toEqual(p1);
    expect(results[12]!.bufs!['data']).toEqual(p2);
  });
});

describe('O_PATH descriptors (Linux 6.12.117 answers)', () => {
  it('open nothing (no iommufd context) and take no call but close: EBADF (fget refuses them)', () => {
    const e = (op: string, args: Fields, fd?: number): Event => ({ op, pid: 1, args, ...(fd === undefined ? {} : { fd }) });
    const O_PATH = 0o10000000;
    const { results } = runChecked([
      e('open', { path: '/tmp/opath', flags: 0o1102 }),
      e('ftruncate', { fd: 0, length: 0x2000n }),
      e('open', { path: '/tmp/opath', flags: O_PATH | 2 }), // fd 1
      e('open', { path: '/dev/iommu', flags: O_PATH }), // fd 2
      e('IOMMU_IOAS_ALLOC', { flags: 0 }, 2),
      e('ftruncate', { fd: 1, length: 0x1000n }),
      e('mmap', { va: 0x7f0000000000n, length: 0x1000n, kind: 'file_shared', fd: 1, prot: 3 }),
      e('read_fault_fd', { fd: 1, count: 8 }),
      e('close', { fd: 1 }),
      e('open', { path: '/dev/iommu' }), // fd 1 again
      e('IOMMU_IOAS_ALLOC', { flags: 0 }, 1),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 'EBADF', 'EBADF', 'EBADF', 'EBADF', 0, 0, 0]);
  });
});

// O_APPEND (#87): write(2) and pwrite(2) through such a descriptor go to the file's end, the other
// descriptors' positions untouched; a forked child shares the open file (append_hand, by hand), and
// ten of session 30's 2,000 random sequences over a file opened by path with every mode
// (tools/dev/aimed/file_opens.py, seed 504), each of which diverged before. All with the kernel's answers.
kernelTraceSuite('O_APPEND and the other open flags (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'file_opens'), 11, 14);

// Directories, O_TMPFILE, O_DIRECTORY, a trailing slash, access mode 3 (#88): the model had opened every
// path as a regular file. Twelve of session 30's 2,000 random sequences over them
// (tools/dev/aimed/open_paths.py, seed 507: all agree; the model before diverged on 1,990).
// (and four of seed 515's, over names at and past NAME_MAX and PATH_MAX and paths with a NUL: #89)
kernelTraceSuite('open(2) of directories and with every flag (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'open_paths'), 16, 20);

describe('open(2) by the kernel\'s order of checks (#88, Linux 6.12.117 answers)', () => {
  const O_CREAT = 0o100;
  const O_EXCL = 0o200;
  const O_TRUNC = 0o1000;
  const O_DIRECTORY = 0o200000;
  const O_PATH = 0o10000000;
  const O_TMPFILE = 0o20000000 | O_DIRECTORY;
  const open = (path: string, flags: number): Event => env('open', { path, flags });
  const errnos = (events: Event[]) => runChecked(events).results.map((r) => r.errno);
  it('a directory opens read-only, and nothing else opens it', () => {
    expect(errnos([open('/tmp', 0), open('/tmp', 2), open('/tmp', 3), open('/tmp', O_CREAT), open('/tmp', O_CREAT | O_EXCL), open('/tmp', O_TRUNC), open('/tmp/', O_CREAT | O_EXCL), open('/proc', O_DIRECTORY)])).toEqual([
      0, 'EISDIR', 'EISDIR', 'EISDIR', 'EEXIST', 'EISDIR', 'EISDIR', 0,
    ]);
  });
  it("a directory's descriptor: read EISDIR, write EBADF, ftruncate EINVAL, mmap ENODEV, ioctl ENOTTY", () => {
    expect(errnos([
      open('/dev', 0),
      rd(0, 0n, 8),
      wr(0, 0n, pat(1, 1)),
      env('ftruncate', { fd: 0, length: 0n }),
      env('fallocate', { fd: 0, mode: 0, offset: 0n, length: 0x1000n }),
      env('mmap', { va: VA, length: 0x1000n, kind: 'file_private', prot: 1, fd: 0, offset: 0n }),
      { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } },
    ])).toEqual([0, 'EISDIR', 'EBADF', 'EINVAL', 'EBADF', 'ENODEV', 'ENOTTY']);
  });
  it('O_DIRECTORY or a trailing slash on a file: ENOTDIR (O_PATH too); with O_CREAT: EINVAL, EISDIR', () => {
    expect(errnos([open('/tmp/f', 0o1102), open('/tmp/f', O_DIRECTORY), open('/tmp/f/', 0), open('/dev/iommu', O_DIRECTORY | O_PATH), open('/tmp/f', O_DIRECTORY | O_CREAT), open('/tmp/f/', O_CREAT | 2)])).toEqual([
      0, 'ENOTDIR', 'ENOTDIR', 'ENOTDIR', 'EINVAL', 'EISDIR',
    ]);
  });
  it('O_TMPFILE: a new empty file each time, writable only; none in procfs', () => {
    const { results } = runChecked([
      open('/tmp', O_TMPFILE | 2),
      wr(0, 0n, pat(4, 9)),
      open('/tmp', O_TMPFILE | 2),
      rd(1, 0n, 8),
      rd(0, 1n, 8),
      open('/tmp', O_TMPFILE),
      open('/tmp', (O_TMPFILE & ~O_DIRECTORY) | 2),
      open('/tmp', O_TMPFILE | O_CREAT | 2),
      open('/proc', O_TMPFILE | 2),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 'EINVAL', 'EINVAL', 'EINVAL', 'EOPNOTSUPP']);
    expect(results[3]!.bufs?.['data']).toEqual(new Uint8Array(0));
    expect(results[4]!.bufs?.['data']).toEqual(pat(4, 9).subarray(1));
  });
  it('one file by any spelling ("//", "/./"); a lookup through a file, "x/." or "x/sub", is ENOTDIR; "dir/." is the directory', () => {
    const { results } = runChecked([
      open('/tmp/sp', 0o1102),
      wr(0, 0n, pat(8, 3)),
      open('//tmp//sp', 0),
      rd(1, 0n, 8),
      open('/tmp/./sp', 0o102 | O_EXCL),
      open('/tmp/sp/.', 0),
      open('/tmp/sp/sub', 0o102),
      open('/tmp/.', O_CREAT | O_EXCL),
      open('/tmp/.', O_CREAT),
      open('/tmp/.', 0),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 'EEXIST', 'ENOTDIR', 'ENOTDIR', 'EEXIST', 'EISDIR', 0]);
    expect(results[3]!.bufs?.['data']).toEqual(pat(8, 3));
  });
  it('names past NAME_MAX and paths past PATH_MAX: ENAMETOOLONG (procfs: ENOENT); a NUL ends the path (#89)', () => {
    const long = (n: number, c: string) => c.repeat(n);
    expect(errnos([
      open(`/tmp/${long(255, 'a')}`, 0o102),
      open(`/tmp/${long(256, 'b')}`, 0o102),
      open(`/tmp/${long(256, 'b')}/x`, 0),
      open(`/proc/${long(256, 'p')}`, 0),
      open(`/tmp/${long(255, 'a')}/${long(256, 'c')}`, 0o102),
      open('/'.repeat(4095), 0),
      open('/'.repeat(4096), 0),
      open('/dev/iommu\0junk', 2), // fd 2 (0: the file, 1: "/" by 4,095 slashes)
      { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 2, args: { flags: 0 } },
    ])).toEqual([0, 'ENAMETOOLONG', 'ENAMETOOLONG', 'ENOENT', 'ENOTDIR', 0, 'ENAMETOOLONG', 0, 0]);
  });
  it('access mode 3: neither read nor write (an iommufd so opened still takes ioctls)', () => {
    expect(errnos([open('/tmp/g', 0o1102), open('/tmp/g', 3), rd(1, 0n, 8), wr(1, 0n, pat(1, 1)), env('ftruncate', { fd: 1, length: 0n }), open('/dev/iommu', 3), { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 2, args: { flags: 0 } }, rd(2, 0n, 8)])).toEqual([
      0, 0, 'EBADF', 'EBADF', 'EINVAL', 0, 0, 'EBADF',
    ]);
  });
});

it('/dev/vfio/vfio: the iommufd or the legacy VFIO container by the kernel\'s config, so not modelled (the oracle\'s kernel has the legacy one: its IOMMU_IOAS_ALLOC is EINVAL)', () => {
  const { results } = runChecked([env('open', { path: '/dev/vfio/vfio', flags: 2 }), env('open', { path: '/dev/vfio/vfio', flags: 0o200000 })]);
  expect(results[0]).toMatchObject({ errno: 'ENODEV', unmodelled: expect.stringContaining('CONFIG_IOMMUFD_VFIO_CONTAINER') });
  expect(results[1]!.errno).toBe('ENOTDIR');
});
