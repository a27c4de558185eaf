/**
 * One event may not make the model materialise or walk more than
 * src/model/limits.ts allows: trace files are untrusted, and a memset of
 * 64 GiB, a read of 2 GiB or a page walk over 16 GiB used to take the
 * process's memory or end replay with a RangeError. Past a limit the event
 * is reported as not modelled, at once and with nothing changed; within it
 * every answer is as before.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import { MAX_EVENT_BYTES, MAX_EVENT_STEPS } from '../../../src/model/limits.js';

const VA = 0x10000000n;
const M = 1n << 20n;

class Rig {
  w: World = emptyWorld({ kernel: '6.12' });
  do(op: string, args: Fields, extra: Partial<Event> = {}): Result {
    const t = performance.now();
    const r = apply(this.w, { op, pid: 1, args, ...extra });
    // each refusal is immediate (no walk, no allocation first)
    if (r.result.unmodelled) expect(performance.now() - t).toBeLessThan(500);
    if (r.result.unmodelled) expect(r.state).toBe(this.w);
    this.w = r.state;
    return r.result;
  }
  ok(op: string, args: Fields, extra: Partial<Event> = {}): Fields {
    const r = this.do(op, args, extra);
    expect(r.errno, `${op} ${r.unmodelled ?? ''}`).toBe(0);
    return r.out ?? {};
  }
  /** An iommufd (fd 0), 16 MiB of memory at VA, an IOAS and a mock domain on it: their IDs. */
  mockDomain(): { ioas: number; md: Fields } {
    this.ok('open', { path: '/dev/iommu' });
    this.ok('mmap', { va: VA, length: 16n * M, kind: 'anon' });
    const ioas = Number(this.ok('IOMMU_IOAS_ALLOC', { flags: 0 }, { fd: 0 })['out_ioas_id']);
    const md = this.ok('IOMMU_TEST_OP_MOCK_DOMAIN', { id: ioas, mock_domain: {} }, { fd: 0 })['mock_domain'] as Fields;
    return { ioas, md };
  }
}

const past = (r: Result, what: RegExp) => {
  expect(r.errno).toBe('EOPNOTSUPP');
  expect(r.unmodelled).toMatch(what);
  expect(r.unmodelled).toMatch(/past the model's limit/);
};

describe('limits of one event', () => {
  it('memset, fill_memory and read_memory of more than MAX_EVENT_BYTES', () => {
    const r = new Rig();
    r.ok('mmap', { va: VA, length: 1n << 40n, kind: 'anon' });
    const big = BigInt(MAX_EVENT_BYTES) + 1n;
    past(r.do('memset', { va: VA, length: 1n << 36n, byte: 1 }), /^memset of 68719476736 bytes/);
    past(r.do('fill_memory', { va: VA, length: big, pattern: { seed: 1 } }), /^fill_memory/);
    past(r.do('read_memory', { va: VA, length: 1n << 34n }), /^read_memory/);
    // within the limit: as before
    r.ok('memset', { va: VA, length: 4096n, byte: 7 });
    expect(r.do('read_memory', { va: VA + 4094n, length: 4n }).bufs!['data']).toEqual(Uint8Array.of(7, 7, 0, 0));
  });

  it('a read of a memfd (a file) past MAX_EVENT_BYTES (what would be read, not the count asked)', () => {
    const r = new Rig();
    r.ok('memfd_create', { name: 'm' });
    r.ok('ftruncate', { fd: 0, length: 1n << 40n });
    past(r.do('read_fault_fd', { fd: 0, count: 0x7ffff000, pos: 0 }), /^read of a file of 2147479552 bytes/);
    r.ok('ftruncate', { fd: 0, length: 64n });
    expect(r.do('read_fault_fd', { fd: 0, count: 0x7ffff000, pos: 0 }).ret).toBe(64);
  });

  it('IOMMU_GET_HW_INFO with a data_len past MAX_EVENT_BYTES; the page walks of MD_CHECK_MAP and MD_CHECK_REFS past MAX_EVENT_STEPS', () => {
    const r = new Rig();
    const fd = { fd: 0 };
    const { ioas, md } = r.mockDomain();
    const hwinfo = (len: number) => r.do('IOMMU_GET_HW_INFO', { flags: 0, dev_id: md['out_idev_id']!, data_len: len, data_uptr: 0x10000n, __reserved: new Uint8Array(3) }, { ...fd, bufs: { data_uptr: new Uint8Array(64) } });
    past(hwinfo(0xffffffff), /^IOMMU_GET_HW_INFO data_len of 4294967295 bytes/);
    expect(hwinfo(64).errno).toBe(0);
    r.ok('IOMMU_IOAS_MAP', { ioas_id: ioas, flags: 7, user_va: VA, length: 16n * M, iova: 0x1000000n, __reserved: 0 }, fd);
    const steps = BigInt(MAX_EVENT_STEPS);
    const check = (length: bigint) => r.do('IOMMU_TEST_OP_MD_CHECK_MAP', { id: md['out_hwpt_id']!, check_map: { iova: 0x1000000n, length, uptr: VA } }, fd);
    past(check((steps + 1n) * 2048n), /^IOMMU_TEST_OP_MD_CHECK_MAP of 1048577 2 KiB slots/);
    expect(check(16n * M).errno).toBe(0);
    const refs = (length: bigint) => r.do('IOMMU_TEST_OP_MD_CHECK_REFS', { id: 0, check_refs: { length, uptr: VA, refs: 1 } }, fd);
    past(refs((steps + 1n) * 4096n), /^IOMMU_TEST_OP_MD_CHECK_REFS of 1048577 pages/);
    expect(refs(16n * M).errno).toBe(0);
  });

  it('a u32 member given a wider number is cut to 32 bits, as the same value given as a bigint always was', () => {
    const r = new Rig();
    r.ok('open', { path: '/dev/iommu' });
    r.ok('mmap', { va: VA, length: 16n * M, kind: 'anon' });
    r.ok('IOMMU_IOAS_ALLOC', { flags: 0 }, { fd: 0 });
    const map = (ioasId: number | bigint, iova: bigint) => r.do('IOMMU_IOAS_MAP', { ioas_id: ioasId, flags: 7, user_va: VA, length: 4096n, iova, __reserved: 0 }, { fd: 0 });
    expect(map(2 ** 32 + 1, 0x1000000n).errno).toBe(0);
    expect(map((1n << 32n) + 1n, 0x2000000n).errno).toBe(0);
    expect(map(2 ** 32 + 2, 0x3000000n).errno).toBe('ENOENT');
  });

  it('a dma_write under dirty tracking whose 2 KiB slots are past MAX_EVENT_STEPS', () => {
    const r = new Rig();
    const fd = { fd: 0 };
    const { ioas, md } = r.mockDomain();
    const hwpt = Number(r.ok('IOMMU_HWPT_ALLOC', { flags: 2, dev_id: md['out_idev_id']!, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, fd)['out_hwpt_id']);
    r.ok('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: md['out_stdev_id']!, mock_domain_replace: { pt_id: hwpt } }, fd);
    r.ok('IOMMU_IOAS_MAP', { ioas_id: ioas, flags: 7, user_va: VA, length: 16n * M, iova: 0x1000000n, __reserved: 0 }, fd);
    const dma = (length: bigint) => r.do('dma_write', { fd: 0, dev_id: Number(md['out_idev_id']), iova: 0x1000000n, length });
    // without dirty tracking nothing is walked slot by slot
    expect(dma(1n << 40n).errno).toBe(0);
    r.ok('IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: hwpt }, fd);
    past(dma((BigInt(MAX_EVENT_STEPS) + 1n) * 2048n), /^dma_write with dirty tracking of 1048577 2 KiB slots/);
    expect(dma(16n * M).out).toEqual({ written: 16n * M, faulted: 0n });
  });

  it('faulting in more than MAX_FAULT_UNITS 2 MiB units: mlock, MADV_POPULATE_WRITE, a locked mmap (each took ~30 s for 16 TiB)', () => {
    const r = new Rig();
    const T16 = 1n << 44n;
    r.ok('mmap', { va: 1n << 44n, length: T16, kind: 'private_anon' });
    r.ok('madvise', { va: 1n << 44n, length: T16, advice: 'HUGEPAGE' });
    const tooMany = new RegExp(`^faulting in of ${T16 / (2n * M)} 2 MiB units`);
    past(r.do('mlock', { va: 1n << 44n, length: T16 }), tooMany);
    past(r.do('madvise', { va: 1n << 44n, length: T16, advice: 'POPULATE_WRITE' }), tooMany);
    // (the range's holes do not count, and the checks before the faulting keep their answers)
    expect(r.do('mlock', { va: (1n << 44n) + T16 - 4n * M, length: T16 }).errno).toBe('ENOMEM');
    r.ok('mlockall', { flags: 2 });
    past(r.do('mmap', { va: 1n << 46n, length: T16, kind: 'private_anon' }), tooMany);
    expect(r.do('mlock', { va: (1n << 44n) + 8n * M, length: 64n * M }).errno).toBe(0);
  });

  it('the limits count all the VMAs of one event: mlockall(MCL_CURRENT) over many, mlock copying private file pages of several', () => {
    const r = new Rig();
    for (let i = 0n; i < 64n; i++) r.ok('mmap', { va: (1n << 44n) + i * (1n << 40n), length: 1n << 39n, kind: 'private_anon' });
    past(r.do('mlockall', { flags: 1 }), /^faulting in of/);
    const big = 3n << 30n; // 786,432 pages each: under MAX_EVENT_STEPS alone, over it two at a time
    r.ok('memfd_create', { name: 'ram' });
    r.ok('ftruncate', { fd: 0, length: 2n * big });
    r.ok('mmap', { va: 1n << 46n, length: big, kind: 'file_private', fd: 0, prot: 3 });
    // (the GiB between the two is the anonymous memory mapped above, so the range has no hole)
    r.ok('mmap', { va: (1n << 46n) + big + (1n << 30n), length: big, kind: 'file_private', fd: 0, prot: 3, offset: big });
    past(r.do('mlock', { va: 1n << 46n, length: 2n * big + (1n << 30n) }), /^populating private file mappings for writing of 1572864 pages/);
  });

  it('a pin faulting in more than MAX_FAULT_UNITS 2 MiB units (an IOAS_MAP of 1 TiB into a VT-d domain): not modelled, nothing changed', () => {
    const r = new Rig();
    const fd = { fd: 0 };
    r.ok('open', { path: '/dev/iommu' });
    r.ok('device_add', { dev: 1, iommu: 1, driver: 'intel_vtd', flags: ['pci'] });
    const dev = r.ok('open', { path: '/dev/vfio/devices/vfio1' });
    const idev = Number(r.ok('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: 0, out_devid: 0 }, { fd: Number(dev['ret'] ?? 1) })['out_devid']);
    const ioas = Number(r.ok('IOMMU_IOAS_ALLOC', { flags: 0 }, fd)['out_ioas_id']);
    r.ok('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: idev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, fd);
    r.ok('mmap', { va: 1n << 44n, length: 1n << 41n, kind: 'private_anon' });
    r.ok('madvise', { va: 1n << 44n, length: 1n << 41n, advice: 'HUGEPAGE' });
    past(r.do('IOMMU_IOAS_MAP', { ioas_id: ioas, flags: 7, user_va: 1n << 44n, length: 1n << 40n, iova: 1n << 40n, __reserved: 0 }, fd), /^a pin faulting in more than 262144 2 MiB units/);
    expect(r.do('IOMMU_IOAS_MAP', { ioas_id: ioas, flags: 7, user_va: 1n << 44n, length: 64n * M, iova: 1n << 40n, __reserved: 0 }, fd).errno).toBe(0);
  });
});

describe('malformed outside events', () => {
  it('a maps snapshot must list page-aligned, ascending, disjoint regions; external_fds an array of fds', () => {
    const r = new Rig();
    const region = (start: bigint, end: bigint) => ({ start, end, perms: 'rw-p', path: '', offset: 0n });
    const bad = (maps: unknown, what: RegExp) => {
      const res = r.do('maps', { maps: maps as Fields[] });
      expect(res.errno).toBe('EINVAL');
      expect(res.unmodelled).toMatch(/^a malformed maps snapshot: /);
      expect(res.unmodelled).toMatch(what);
    };
    bad({}, /must be an array/);
    bad([region(0x2000n, 0x3000n), region(0x1000n, 0x2000n)], /region 1 overlaps or precedes/);
    bad([region(0x1000n, 0x3000n), region(0x2000n, 0x4000n)], /region 1 overlaps/);
    bad([region(0x1000n, 0x1800n)], /region 0: .* not a page-aligned/);
    bad([region(0x2000n, 0x1000n)], /not a page-aligned, non-empty range/);
    bad([{ start: 4096, end: 8192, perms: 'rw-p' }], /must be u64 values/);
    bad([{ start: 0x1000n, end: 0x2000n, perms: 7 }], /perms/);
    expect(r.do('maps', { maps: [region(0x1000n, 0x2000n), region(0x2000n, 0x4000n)] }).errno).toBe(0);
    for (const fds of [3, {}, [1, -1], ['x']]) expect(r.do('external_fds', { fds: fds as number[] }).unmodelled).toMatch(/^external_fds: fds must be an array/);
    expect(r.do('external_fds', { fds: [3, 4] }).errno).toBe(0);
  });

  it('write_memory with data that is not bytes is EINVAL and stores nothing (it used to throw)', () => {
    const r = new Rig();
    r.ok('mmap', { va: VA, length: M, kind: 'private_anon' });
    const before = r.w;
    for (const data of ['x', 7, {}, [1, 2]]) {
      expect(r.do('write_memory', { va: VA, data: data as unknown as Uint8Array }).errno).toBe('EINVAL');
      expect(r.w).toBe(before);
    }
    expect(r.do('write_memory', { va: VA, data: new Uint8Array([1]) }).errno).toBe(0);
  });
});
