/**
 * read(2)/write(2) of a memfd through the fault-fd events (the fuzzer points
 * them at whatever fd it has; oracle fuzz seed 15 read a memfd that had taken
 * the closed iommufd's number: the kernel returned 0 bytes, the model EBADF).
 * shmem: nothing at or past i_size, a write grows i_size, read/write without
 * a position use and advance the file offset, pread/pwrite leave it. Every
 * answer below is what Linux 6.12.117 gave to the same calls (the oracle).
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event, Result } from '../../../src/events/event.js';
import { emptyWorld } from '../../../src/model/state.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const write = (data: string, pos: number | bigint = 0): Event => ({ op: 'write_fault_fd', args: { fd: 0, pos }, bufs: { data: hex(data) } });
const read = (count: number, pos: number | bigint = 0): Event => ({ op: 'read_fault_fd', args: { fd: 0, count, pos } });

function run(events: Event[]): Result[] {
  let w = emptyWorld({ kernel: '6.12' });
  return events.map((ev) => {
    const r = apply(w, ev);
    w = r.state;
    return r.result;
  });
}

const got = (r: Result) => [r.errno, r.ret, r.bufs?.['data'] ? Buffer.from(r.bufs['data']).toString('hex') : undefined];

describe('memfd read and write', () => {
  it('offset, EOF, pread/pwrite, growth by write and by ftruncate', () => {
    const r = run([
      { op: 'memfd_create', args: { name: 'm' } },
      write('68656c6c6f'), // "hello" at offset 0; offset 5
      read(40), // at 5: EOF
      read(40, 1), // pread at 1: "ello"
      { op: 'ftruncate', args: { fd: 0, length: 0x2000n } },
      read(17), // at 5: 17 zero bytes; offset 22
      write('4142', 8), // pwrite at 8
      read(16, 6),
      write('5a5a5a'), // at 22; offset 25
      read(40, 20),
      write('01020304', 8190), // past i_size: grows it to 8194
      read(40, 8188),
    ]);
    expect(r.map(got)).toEqual([
      [0, 0, undefined],
      [0, 5, undefined],
      [0, 0, ''],
      [0, 4, '656c6c6f'],
      [0, undefined, undefined],
      [0, 17, '00'.repeat(17)],
      [0, 2, undefined],
      [0, 16, '00004142' + '00'.repeat(12)],
      [0, 3, undefined],
      [0, 40, '0000' + '5a5a5a' + '00'.repeat(35)],
      [0, 4, undefined],
      [0, 6, '000001020304'],
    ]);
  });

  it('pread/pwrite at a position past 4 GiB (a loff_t, not a u32)', () => {
    const at = 5n << 30n;
    const r = run([{ op: 'memfd_create', args: { name: 'm' } }, { op: 'write_fault_fd', args: { fd: 0, pos: at }, bufs: { data: hex('abcd') } }, { op: 'read_fault_fd', args: { fd: 0, count: 8, pos: at - 2n } }, read(8, 2)]);
    expect(r.slice(1).map(got)).toEqual([
      [0, 2, undefined],
      [0, 4, '0000abcd'],
      [0, 8, '00'.repeat(8)],
    ]);
  });

  it('positions as loff_t: negative, or carried past LLONG_MAX by the count, is EINVAL (rw_verify_area)', () => {
    const L = (1n << 63n) - 1n;
    const r = run([
      { op: 'memfd_create', args: { name: 'm' } },
      write('abcd', (1n << 64n) - 1n), // -1
      write('abcd', 1n << 63n),
      write('abcd', L - 1n), // ends past LLONG_MAX
      write('ab', L - 1n), // one byte: ends at it
      write('abcd', L - 2n), // two bytes
      write('', L),
      read(8, (1n << 64n) - 1n),
      read(8, 1n << 63n),
      read(8, L),
      read(1, L - 1n),
      read(2, L - 1n),
      read(2, L - 3n),
      read(0, L),
    ]);
    expect(r.slice(1).map(got)).toEqual([
      ['EINVAL', undefined, undefined],
      ['EINVAL', undefined, undefined],
      ['EINVAL', undefined, undefined],
      [0, 1, undefined],
      [0, 2, undefined],
      [0, 0, undefined],
      ['EINVAL', undefined, undefined],
      ['EINVAL', undefined, undefined],
      ['EINVAL', undefined, undefined],
      [0, 1, 'cd'],
      ['EINVAL', undefined, undefined],
      [0, 2, '00ab'],
      [0, 0, ''],
    ]);
  });

  it('pread/pwrite checks before the file: a negative position is EINVAL on any fd, an anon inode (access or fault fd) is ESPIPE (oracle fuzz seed 26)', () => {
    const NEG = (1n << 64n) - 1n;
    const rd = (fd: number, pos: bigint, count = 48): Event => ({ op: 'read_fault_fd', args: { fd, count, pos } });
    const wr = (fd: number, pos: bigint): Event => ({ op: 'write_fault_fd', args: { fd, pos }, bufs: { data: new Uint8Array(16) } });
    const r = run([
      { op: 'open', args: { path: '/dev/iommu' } }, // fd 0
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_TEST_OP_CREATE_ACCESS', fd: 0, args: { id: 1, create_access: { flags: 0 } } }, // access fd 1
      { op: 'IOMMU_FAULT_QUEUE_ALLOC', fd: 0, args: { flags: 0 } }, // fault fd 2
      ...[rd(1, 0n), rd(1, 1n), wr(1, 0n), wr(1, 8n), rd(1, NEG)],
      ...[rd(2, 0n), rd(2, 1n), rd(2, 1n << 32n), wr(2, 1n << 32n), rd(2, NEG), wr(2, NEG)],
      ...[rd(0, 1n), wr(0, 1n), rd(0, NEG)],
      ...[rd(9, 1n), rd(9, NEG), wr(9, NEG), rd(9, 0n)],
    ]);
    expect(r.slice(4).map((x) => x.errno)).toEqual([
      ...['EINVAL', 'ESPIPE', 'EINVAL', 'ESPIPE', 'EINVAL'], // access fd: no read/write method; no pread
      ...['ESPIPE', 'ESPIPE', 'ESPIPE', 'ESPIPE', 'EINVAL', 'EINVAL'], // fault fd (48 is no whole record either)
      ...['EINVAL', 'EINVAL', 'EINVAL'], // the iommufd has pread, but no read method
      ...['EBADF', 'EINVAL', 'EINVAL', 'EBADF'], // nothing open: the negative position is refused first
    ]);
  });

  it('the iommufd itself still has no read method (EINVAL); nothing open there is EBADF', () => {
    const r = run([{ op: 'open', args: { path: '/dev/iommu' } }, read(40), write('00'), { op: 'close', args: { fd: 0 } }, read(40), write('00')]);
    expect(r.map((x) => x.errno)).toEqual([0, 'EINVAL', 'EINVAL', 0, 'EBADF', 'EBADF']);
    expect(r.some((x) => x.unmodelled)).toBe(false);
  });

  it('a regular file is not modelled: its answer depends on what it held before the trace (oracle fuzz seed 20)', () => {
    // The kernel read /tmp/data's bytes left by earlier traces of the boot; the model used to answer EBADF.
    const r = run([{ op: 'open', args: { path: '/tmp/data' } }, read(40), write('00'), { op: 'external_fds', args: { fds: [7] } }, { op: 'read_fault_fd', args: { fd: 7, count: 1, pos: 0 } }]);
    expect(r[1]!.unmodelled).toBe('read of a regular file (its size and contents before the trace are not known)');
    expect(r[2]!.unmodelled).toBe('write of a regular file (its size and contents before the trace are not known)');
    expect(r[4]!.unmodelled).toMatch(/^read of a regular file/);
  });
});
