/**
 * The VFIO type1 container ioctls on an iommufd, case by case against
 * drivers/iommu/iommufd/vfio_compat.c and io_pagetable.c (Linux 6.12):
 * what each answers, what it writes back, what it leaves behind.
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { apply } from '../../../src/engine/apply.js';
import { removeArea, splitArea } from '../../../src/model/io_pagetable.js';
import { Tx } from '../../../src/model/object.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

const BUF = 0x7f0000000000n;
const AP = 0x1000000n;
const U64_MAX = 0xffffffffffffffffn;

class Rig {
  w: World = emptyWorld({ kernel: '6.12' });
  constructor() {
    this.run('open', { path: '/dev/iommu' });
    this.run('mmap', { va: BUF, length: 0x100000n, kind: 'anon' });
  }
  run(op: string, args: Event['args'], extra: Partial<Event> = {}): Result {
    const r = apply(this.w, { op, fd: 0, args, ...extra });
    this.w = r.state;
    return r.result;
  }
  /** IOAS 1, optionally with a mock domain (HWPT 4), made the compat IOAS, with VFIO_SET_IOMMU(type). */
  compat(type: 1 | 3 | 0, domain = true): this {
    this.run('IOMMU_IOAS_ALLOC', { flags: 0 });
    if (domain) expect(this.run('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }).errno).toBe(0);
    expect(this.run('IOMMU_VFIO_IOAS', { ioas_id: 1, op: 1, __reserved: 0 }).errno).toBe(0);
    if (type) expect(this.run('VFIO_SET_IOMMU', { arg: BigInt(type) }).errno).toBe(0);
    return this;
  }
  map(iova: bigint, size: bigint, vaddr = BUF + (iova - AP)): Result {
    return this.run('VFIO_IOMMU_MAP_DMA', { argsz: 32, flags: 3, vaddr, iova, size });
  }
  unmap(iova: bigint, size: bigint, flags = 0): Result {
    return this.run('VFIO_IOMMU_UNMAP_DMA', { argsz: 24, flags, iova, size });
  }
  areas(ioas = 1): [bigint, bigint][] {
    const o = this.w.ctxs.toArray()[0]![1].objs.get(ioas);
    return o?.type === 'ioas' ? o.iopt.areas.toArray().map((a) => [a.start, a.last]) : [];
  }
}

const hex = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('hex') : String(b));

describe('integer ioctls', () => {
  it('GET_API_VERSION returns VFIO_API_VERSION (0), even with a NULL argument', () => {
    expect(new Rig().run('VFIO_GET_API_VERSION', null)).toEqual({ errno: 0, ret: 0 });
  });

  it('CHECK_EXTENSION answers every extension as the kernel does', () => {
    const r = new Rig();
    const ext = (n: number) => r.run('VFIO_CHECK_EXTENSION', { arg: BigInt(n) });
    for (const n of [1, 3, 9]) expect(ext(n)).toEqual({ errno: 0, ret: 1 }); // TYPE1, TYPE1v2, UNMAP_ALL
    for (const n of [0, 2, 5, 6, 7, 8, 10, 11, 0x7fffffff]) expect(ext(n)).toEqual({ errno: 0, ret: 0 }); // NOIOMMU: not configured
    expect(ext(4).errno).toBe('ENODEV'); // DMA_CC_IOMMU needs a compat IOAS
    r.compat(0, false);
    expect(ext(4)).toEqual({ errno: 0, ret: 1 }); // no HWPT: vacuously coherent
    r.run('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} });
    expect(ext(4)).toEqual({ errno: 0, ret: 0 }); // mock HWPTs do not enforce coherency
  });

  it('SET_IOMMU: EINVAL for other types, then ENODEV; TYPE1 disables large pages, TYPE1v2 does not', () => {
    const r = new Rig();
    expect(r.run('VFIO_SET_IOMMU', { arg: 8n }).errno).toBe('EINVAL');
    expect(r.run('VFIO_SET_IOMMU', { arg: 1n }).errno).toBe('ENODEV');
    r.compat(3);
    const huge = () => r.run('IOMMU_OPTION', { option_id: 1, op: 1, object_id: 1, val64: 0n }).out!['val64'];
    expect(huge()).toBe(1n);
    expect(r.run('VFIO_SET_IOMMU', { arg: 2n }).errno).toBe('EINVAL');
    expect(r.run('VFIO_SET_IOMMU', { arg: 1n }).errno).toBe(0);
    expect(huge()).toBe(0n);
  });

  it('SET_IOMMU TYPE1 refuses once a domain has mappings (iopt_disable_large_pages)', () => {
    const r = new Rig().compat(3);
    expect(r.map(AP, 0x1000n).errno).toBe(0);
    expect(r.run('VFIO_SET_IOMMU', { arg: 1n }).errno).toBe('EINVAL');
  });

  it('DIRTY_PAGES and other VFIO numbers are ENOTTY', () => {
    const r = new Rig().compat(1);
    expect(r.run('VFIO_IOMMU_DIRTY_PAGES', { argsz: 8, flags: 1 })).toEqual({ errno: 'ENOTTY' });
    expect(r.run('VFIO_DEVICE_BIND_IOMMUFD', { argsz: 16, flags: 0, iommufd: 0 })).toEqual({ errno: 'ENOTTY' });
  });
});

describe('the compat IOAS', () => {
  it('IOMMU_VFIO_IOAS get/set/clear; destroying the IOAS clears it', () => {
    const r = new Rig();
    const vio = (op: number, id = 0) => r.run('IOMMU_VFIO_IOAS', { ioas_id: id, op, __reserved: 0 });
    expect(vio(0).errno).toBe('ENODEV');
    expect(vio(1, 1).errno).toBe('ENOENT');
    r.run('IOMMU_IOAS_ALLOC', { flags: 0 });
    expect(vio(1, 1).errno).toBe(0);
    expect(vio(0)).toEqual({ errno: 0, out: { ioas_id: 1 } });
    expect(vio(2).errno).toBe(0);
    expect(vio(0).errno).toBe('ENODEV');
    expect(vio(3).errno).toBe('EOPNOTSUPP');
    vio(1, 1);
    expect(r.run('IOMMU_DESTROY', { id: 1 }).errno).toBe(0);
    expect(vio(0).errno).toBe('ENODEV');
    expect(r.map(AP, 0x1000n).errno).toBe('ENODEV');
  });

  it('no container ioctl creates one', () => {
    const r = new Rig();
    expect(r.run('VFIO_IOMMU_GET_INFO', { argsz: 24, flags: 0, iova_pgsizes: 0n, cap_offset: 0 }).errno).toBe('ENODEV');
    expect(r.w.ctxs.toArray()[0]![1].vfioIoas).toBe(0);
  });
});

describe('VFIO_IOMMU_GET_INFO', () => {
  const info = (r: Rig, argsz: number, caps?: Uint8Array) => r.run('VFIO_IOMMU_GET_INFO', { argsz, flags: 0, iova_pgsizes: 0n, cap_offset: 0 }, caps ? { bufs: { caps } } : {});

  it('argsz below 16 is EINVAL, checked before the compat IOAS', () => {
    expect(info(new Rig(), 15).errno).toBe('EINVAL');
    expect(info(new Rig(), 16).errno).toBe('ENODEV');
  });

  it('lays the cap chain out exactly as vfio_compat.c writes it (mock domain, argsz 72)', () => {
    const r = new Rig().compat(1);
    const res = info(r, 72, new Uint8Array(48).fill(0xaa));
    expect(res.out).toEqual({ argsz: 72, flags: 3, iova_pgsizes: 0x1000n, cap_offset: 24, pad: 0 });
    expect(hex(res.bufs!['caps'])).toBe(
      // DMA_AVAIL (id 3, v1, next 40, avail U32_MAX), 4 untouched bytes,
      '0300010028000000ffffffff' + 'aaaaaaaa' +
        // IOVA_RANGE (id 1, v1, next 0, nr_iovas 1, reserved 0), [0x1000000, 0x7fffffff]
        '010001000000000001000000' + '00000000' + '0000000100000000' + 'ffffff7f00000000',
    );
  });

  it('caller fields wider than their members (an untrusted trace) are cut, not thrown on', () => {
    // argsz 20 keeps the caller's cap_offset and pad above byte 20: the cut values come back there
    const wide = new Rig().compat(1).run('VFIO_IOMMU_GET_INFO', { argsz: 20, flags: 0, iova_pgsizes: 0n, cap_offset: 0xffffffffffffffffn, pad: 2 ** 53 + 5 });
    const cut = new Rig().compat(1).run('VFIO_IOMMU_GET_INFO', { argsz: 20, flags: 0, iova_pgsizes: 0n, cap_offset: 0xffffffff, pad: 5 });
    expect(wide.errno).toBe(0);
    expect(wide).toEqual(cut);
  });

  it('without a domain: every page size above PAGE_SIZE, one range over the whole space', () => {
    const r = new Rig().compat(0, false);
    const res = info(r, 72, new Uint8Array(48));
    expect(res.out!['iova_pgsizes']).toBe(0xfffffffffffff000n);
    expect(hex(res.bufs!['caps']!.subarray(32))).toBe('0000000000000000' + 'ffffffffffffffff');
  });

  it('a HUGE_IOVA device adds its 1 MiB size to the bitmap; the IOVA alignment is a floor', () => {
    const r = new Rig();
    r.run('IOMMU_IOAS_ALLOC', { flags: 0 });
    r.run('IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', { id: 1, mock_domain_flags: { dev_flags: 2 } });
    r.run('IOMMU_VFIO_IOAS', { ioas_id: 1, op: 1, __reserved: 0 });
    expect(info(r, 16).out!['iova_pgsizes']).toBe(0x101000n);
  });

  it('only bytes below argsz are written, a partly covered member keeps the caller bytes above', () => {
    const r = new Rig().compat(1);
    const res = r.run('VFIO_IOMMU_GET_INFO', { argsz: 18, flags: 0, iova_pgsizes: 0n, cap_offset: 0xdddd0000 });
    expect(res.out).toEqual({ argsz: 72, flags: 3, iova_pgsizes: 0x1000n, cap_offset: 0xdddd0000 });
    expect(res.bufs).toBeUndefined();
    expect(info(r, 16).out).toEqual({ argsz: 72, flags: 3, iova_pgsizes: 0x1000n });
  });

  it('an unwritable cap area is EFAULT', () => {
    const r = new Rig().compat(1);
    expect(r.run('VFIO_IOMMU_GET_INFO', { argsz: 72, flags: 0, iova_pgsizes: 0n, cap_offset: 0 }, { bufs: { caps: null } }).errno).toBe('EFAULT');
    expect(r.run('VFIO_IOMMU_GET_INFO', null).errno).toBe('EFAULT');
  });
});

describe('VFIO_IOMMU_MAP_DMA', () => {
  it('argsz and flags are checked before the compat IOAS; maps at the fixed IOVA', () => {
    const r = new Rig();
    expect(r.run('VFIO_IOMMU_MAP_DMA', { argsz: 31, flags: 3, vaddr: BUF, iova: AP, size: 0x1000n }).errno).toBe('EINVAL');
    expect(r.run('VFIO_IOMMU_MAP_DMA', { argsz: 32, flags: 4, vaddr: BUF, iova: AP, size: 0x1000n }).errno).toBe('EINVAL');
    expect(r.map(AP, 0x1000n).errno).toBe('ENODEV');
    r.compat(1);
    expect(r.map(AP, 0x2000n)).toEqual({ errno: 0 });
    expect(r.map(AP + 0x1000n, 0x1000n).errno).toBe('EEXIST');
    expect(r.areas()).toEqual([[AP, AP + 0x1fffn]]);
  });

  it('flags 0 maps with no access rights (no READ-or-WRITE check)', () => {
    const r = new Rig().compat(3);
    expect(r.run('VFIO_IOMMU_MAP_DMA', { argsz: 32, flags: 0, vaddr: BUF, iova: AP, size: 0x1000n }).errno).toBe(0);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA', () => {
  it('TYPE1 cuts: unmapping the middle page leaves two areas', () => {
    const r = new Rig().compat(1);
    r.map(AP, 0x4000n);
    expect(r.unmap(AP + 0x1000n, 0x1000n)).toEqual({ errno: 0, out: { size: 0x1000n } });
    expect(r.areas()).toEqual([[AP, AP + 0xfffn], [AP + 0x2000n, AP + 0x3fffn]]);
    // What is left is still mapped to the same memory.
    expect(r.run('IOMMU_TEST_OP_MD_CHECK_MAP', { id: 4, check_map: { iova: AP + 0x2000n, length: 0x2000n, uptr: BUF + 0x2000n } }).errno).toBe(0);
  });

  it('TYPE1v2 does not cut: the native ENOENT, with size written back and the removed areas gone', () => {
    const r = new Rig().compat(3);
    r.map(AP, 0x1000n);
    r.map(AP + 0x1000n, 0x2000n);
    expect(r.unmap(AP, 0x2000n)).toEqual({ errno: 'ENOENT', out: { size: 0x1000n } });
    expect(r.areas()).toEqual([[AP + 0x1000n, AP + 0x2fffn]]);
  });

  it('nothing mapped in the range is success with size 0 (6.12.117); 6.14 says ENOENT, size 0 written back', () => {
    const r = new Rig().compat(3);
    expect(r.unmap(AP, 0x1000n)).toEqual({ errno: 0, out: { size: 0n } });
    // (6.14's iopt_unmap_iova_range starts from ENOENT; the fix that made this succeed came in
    // November 2025, after 6.14.y had ended, and reached 6.12.y as a stable backport)
    const r14 = new Rig();
    r14.w = { ...emptyWorld({ kernel: '6.14' }) };
    r14.run('open', { path: '/dev/iommu' });
    r14.compat(3);
    expect(r14.unmap(AP, 0x1000n)).toEqual({ errno: 'ENOENT', out: { size: 0n } });
    // unmapping all of nothing is success on both (iopt_unmap_all)
    expect(r14.unmap(0n, 0n, 2)).toEqual({ errno: 0, out: { size: 0n } });
  });

  it('size 0 and a wrapping range fail after the cut, size 0 written back', () => {
    const r = new Rig().compat(1);
    expect(r.unmap(AP, 0n)).toEqual({ errno: 'EINVAL', out: { size: 0n } });
    expect(r.unmap(U64_MAX - 0xfffn, 0x2000n)).toEqual({ errno: 'EOVERFLOW', out: { size: 0n } });
  });

  it('a refused cut fails with nothing written back: misaligned, or an access pins the area', () => {
    const r = new Rig().compat(1);
    r.map(AP, 0x4000n);
    expect(r.unmap(AP + 0x800n, 0x1000n)).toEqual({ errno: 'EINVAL' });
    const acc = r.run('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } });
    const fd = (acc.out!['create_access'] as Fields)['out_access_fd'] as number;
    expect(r.run('IOMMU_TEST_OP_ACCESS_PAGES', { id: fd, access_pages: { flags: 0, iova: AP, length: 0x1000n, uptr: BUF } }).errno).toBe(0);
    expect(r.unmap(AP + 0x1000n, 0x1000n)).toEqual({ errno: 'EINVAL' });
    expect(r.areas()).toEqual([[AP, AP + 0x3fffn]]);
    // Unmapping the whole area needs no cut: the access is told to let go.
    expect(r.unmap(AP, 0x4000n)).toEqual({ errno: 0, out: { size: 0x4000n } });
  });

  it('a cut that succeeded stays when the second one is refused', () => {
    const r = new Rig().compat(1);
    r.map(AP, 0x4000n);
    // End cut at AP+0x2fff is fine; start cut at AP+0x7ff is misaligned.
    expect(r.unmap(AP + 0x800n, 0x2800n)).toEqual({ errno: 'EINVAL' });
    expect(r.areas()).toEqual([[AP, AP + 0x2fffn], [AP + 0x3000n, AP + 0x3fffn]]);
  });

  it('UNMAP_ALL needs iova = size = 0 (no write-back otherwise) and empties the IOAS', () => {
    const r = new Rig().compat(1);
    r.map(AP, 0x2000n);
    r.map(AP + 0x8000n, 0x1000n);
    expect(r.unmap(AP, 0n, 2)).toEqual({ errno: 'EINVAL' });
    expect(r.unmap(0n, 0n, 3)).toEqual({ errno: 'EINVAL' }); // GET_DIRTY_BITMAP is not supported
    expect(r.unmap(0n, 0n, 2)).toEqual({ errno: 0, out: { size: 0x3000n } });
    expect(r.areas()).toEqual([]);
  });
});

describe('splitArea', () => {
  it('a cut inside a page gives that page one more holder; removing both halves unpins it', () => {
    // Not reachable through VFIO (large pages disabled means a PAGE_SIZE
    // alignment), so the state is set up by hand: an area in a domain-backed
    // IOAS with large pages disabled and byte alignment.
    const r = new Rig();
    r.run('IOMMU_IOAS_ALLOC', { flags: 0 });
    r.run('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} });
    r.run('IOMMU_IOAS_MAP', { ioas_id: 1, flags: 7, user_va: BUF, length: 0x3000n, iova: AP });
    let ctx = r.w.ctxs.toArray()[0]![1];
    const ioas = ctx.objs.get(1)!;
    if (ioas.type !== 'ioas') throw new Error('no IOAS');
    const tx = new Tx(r.w, ctx, 1);
    tx.put({ ...ioas, iopt: { ...ioas.iopt, disableLargePages: true, iovaAlignment: 1n } });
    const pagesId = ioas.iopt.areas.find(AP)!.value.pages;
    /** Holders of each pinned page index. */
    const counts = () => tx.pages(pagesId).pinned.toArray().flatMap(([k, run]) => Array.from({ length: run.last - k + 1 }, () => run.count));
    expect(counts()).toEqual([1, 1, 1]);
    expect(splitArea(tx, 1, AP + 0x17ffn)).toBe(0);
    expect(counts()).toEqual([1, 2, 1]);
    expect(tx.pages(pagesId).npinned).toBe(3);
    expect(tx.pages(pagesId).areaRefs).toBe(2);
    removeArea(tx, 1, AP);
    expect(counts()).toEqual([1, 1]);
    expect(tx.pages(pagesId).pinned.toArray()[0]![0]).toBe(1);
    removeArea(tx, 1, AP + 0x1800n);
    ctx = tx.ctx;
    expect(ctx.pages.get(pagesId)).toBeUndefined();
  });

  it('refuses to cut an area of a domain that may hold large IOPTEs', () => {
    const r = new Rig().compat(3);
    r.map(AP, 0x2000n);
    const tx = new Tx(r.w, r.w.ctxs.toArray()[0]![1], 1);
    expect(splitArea(tx, 1, AP + 0xfffn)).toBe('EINVAL');
    expect(splitArea(tx, 1, AP)).toBe(0); // a cut at the first or last byte is no cut
    expect(splitArea(tx, 1, AP + 0x1fffn)).toBe(0);
  });
});

// traces/vfio_compat/vfio_type1_holes: VFIO type1 (large pages off, IOVA alignment PAGE_SIZE even
// with a mock domain's 2 KiB pages) punching holes in a mapping and unmapping across them, with the
// pins of every page checked after each (MD_CHECK_REFS) and the mappings left (MD_CHECK_MAP); a
// 2 KiB cut or map refused; the same memory mapped twice. Run on Linux 6.12.117 through the oracle
// (session 22): the model gave all 35 answers.
kernelTraceSuite('VFIO type1 holes and their pins (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'vfio_compat'), 1, 30);
