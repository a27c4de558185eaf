/**
 * The LD_PRELOAD capture shim (tools/capture/), tested without a kernel
 * iommufd: a small C program opens a plain file that the shim is told to treat
 * as /dev/iommu (IOREWIND_CAPTURE_IOMMUFD), so the kernel answers ENOTTY to
 * every iommufd ioctl, while the shim records the calls, the memory events and
 * the processes. The records must be complete (struct bytes before and after,
 * the buffers the structs point to, every kind), in order across threads,
 * forks and exec, and they must import.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureImporter, importCapture, parseCaptureLine } from '../../src/capture/import.js';
import type { Event } from '../../src/events/event.js';
import { replay } from '../../src/engine/replay.js';

const ROOT = join(import.meta.dirname, '../..');
const haveCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
if (!haveCc) console.warn('test/capture/shim.test.ts: no C compiler (`cc`) on this machine: the capture shim tests are skipped');

type Rec = { [k: string]: any };

let dir = '';
let shim = '';
let prog = '';
let fake = '';

function run(mode: string, extraEnv: { [k: string]: string } = {}, capture = true): { out: string; recs: Rec[] } {
  const out = join(dir, `${mode}.jsonl`);
  rmSync(out, { force: true });
  const env: { [k: string]: string } = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LD_PRELOAD: shim, IOREWIND_CAPTURE_IOMMUFD: fake, ...extraEnv };
  if (capture) env['IOREWIND_CAPTURE'] = out;
  const r = spawnSync(prog, [fake, mode], { env, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr, `${mode}: stderr`).toBe('');
  expect(r.status, `${mode}: exit status`).toBe(0);
  if (!capture) return { out, recs: [] };
  const lines = readFileSync(out, 'utf8').split('\n');
  expect(lines.pop(), 'the file ends with a newline').toBe('');
  return { out, recs: lines.map((l, i) => parseCaptureLine(l, i + 1) as Rec) };
}

async function collect(path: string): Promise<{ events: Event[]; importer: CaptureImporter }> {
  const importer = new CaptureImporter('6.12');
  const events: Event[] = [];
  for await (const ev of importCapture(path, importer)) events.push(ev);
  return { events, importer };
}

/** The argument structs of the test program, by ioctl nr (their sizeof). */
const STRUCT_SIZE: { [nr: string]: number } = {
  '0x80': 8, // iommu_destroy
  '0x81': 12, // iommu_ioas_alloc
  '0x82': 24, // iommu_ioas_allow_iovas
  '0x84': 32, // iommu_ioas_iova_ranges
  '0x85': 40, // iommu_ioas_map
  '0x86': 24, // iommu_ioas_unmap
  '0x89': 40, // iommu_hwpt_alloc (6.12)
  '0x8a': 40, // iommu_hw_info
  '0x8c': 48, // iommu_hwpt_get_dirty_bitmap
  '0x8d': 32, // iommu_hwpt_invalidate
  '0x8e': 16, // iommu_fault_alloc
  '0xa0': 80, // iommu_test_cmd (access_rw)
  '0x71': 32, // vfio_iommu_type1_dma_map
};

describe.skipIf(!haveCc)('LD_PRELOAD capture shim (tools/capture)', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iorewind-shim-'));
    shim = join(dir, 'libiorewind_capture.so');
    prog = join(dir, 'iommufd_prog');
    fake = join(dir, 'fake-iommu');
    writeFileSync(fake, '');
    const b = spawnSync('sh', [join(ROOT, 'tools/capture/build.sh'), shim], { encoding: 'utf8' });
    expect(b.status, b.stderr).toBe(0);
    // gcc 12 (this machine's cc) builds it without a warning under -Wall -Wextra.
    if (b.stderr) console.warn(`tools/capture/build.sh: ${b.stderr}`);
    const c = spawnSync('cc', ['-O1', '-Wall', '-Wextra', '-pthread', '-o', prog, join(ROOT, 'test/capture/fixtures/iommufd_prog.c')], { encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is inert without IOREWIND_CAPTURE', () => {
    const { out } = run('basic', {}, false);
    expect(existsSync(out)).toBe(false);
  });

  describe('a VMM-like program: ioctls, memory, fork', () => {
    let recs: Rec[] = [];
    let out = '';
    beforeAll(() => {
      ({ recs, out } = run('basic'));
    });

    it('numbers every line: seq from 0, tseq from the test line, one test name', () => {
      expect(recs.map((r) => r['seq'])).toEqual(recs.map((_r, i) => i));
      for (const r of recs) {
        expect(r['tseq']).toBe(r['seq']);
        expect(r['test']).toBe('iommufd_prog');
        expect(typeof r['pid']).toBe('number');
      }
      expect(recs[0]).toMatchObject({ kind: 'test' });
      expect(recs[1]).toMatchObject({ kind: 'maps', why: 'test', pid: recs[0]!['pid'] });
    });

    it('has every kind the program caused', () => {
      const kinds = new Set(recs.map((r) => r['kind']));
      for (const k of ['test', 'maps', 'open', 'ioctl', 'mmap', 'munmap', 'mremap', 'madvise', 'mprotect', 'mlock', 'munlock', 'mlockall', 'munlockall', 'memfd_create', 'ftruncate', 'fork', 'exit', 'close'])
        expect(kinds, k).toContain(k);
    });

    it('records each ioctl with the struct before and after (its size), ret and errno', () => {
      const ioctls = recs.filter((r) => r['kind'] === 'ioctl');
      const open = recs.find((r) => r['kind'] === 'open' && r['path'] === fake)!;
      expect(open).toMatchObject({ flags: 2, errno: 0 });
      expect(new Set(ioctls.map((r) => r['nr']))).toEqual(new Set([...Object.keys(STRUCT_SIZE), '0x65']));
      for (const r of ioctls) {
        expect(r['fd']).toBe(open['ret']);
        expect(r['cmd']).toBe(`0x3b${r['nr'].slice(2)}`);
        expect(r['ret']).toBe(-1);
        expect(r['errno']).toBe(25); // ENOTTY: a plain file has no iommufd behind it
        if (r['nr'] === '0x65') {
          expect(r['arg'], 'VFIO_CHECK_EXTENSION takes an integer').toBe(1);
          continue;
        }
        if (r['in'] === null) {
          expect(r).toMatchObject({ nr: '0x81', fault: 1 });
          expect('out' in r).toBe(false);
          continue;
        }
        const size = STRUCT_SIZE[r['nr']]!;
        expect(r['in'].length, `${r['nr']} in`).toBe(2 * size);
        expect(r['out'], `${r['nr']}: ENOTTY writes nothing back`).toBe(r['in']);
        expect(parseInt(r['in'].slice(0, 8).match(/../g)!.reverse().join(''), 16), 'leading u32 size').toBe(size);
      }
      expect(ioctls.filter((r) => r['in'] === null)).toHaveLength(1);
    });

    it('dumps the buffers the structs point to', () => {
      const one = (nr: string) => recs.find((r) => r['kind'] === 'ioctl' && r['nr'] === nr)!;
      expect(one('0x82')['allowed_iovas_in']).toBe('0010000000000000ffff0000000000000000100000000000ffff1f0000000000');
      expect(one('0x84')['allowed_iovas_out']).toHaveLength(4 * 16 * 2); // min(num_iovas in, out) ranges
      expect(one('0x89')['data_in']).toBe('11'.repeat(24));
      expect(one('0x8a')['data_out']).toBe('22'.repeat(64));
      expect(one('0x8c')).toMatchObject({ bitmap_in: 'a55a', bitmap_out: 'a55a' }); // 16 pages: 2 bytes
      expect(one('0x8d')).toMatchObject({ entries_in: '33'.repeat(24), entries_out: '33'.repeat(24) });
      expect(one('0xa0')).toMatchObject({ rw_buf_in: '44'.repeat(100), rw_buf_out: '44'.repeat(100) });
      // Key order as in the shared captures: in, before-buffers, out, ret, errno, after-buffers.
      expect(Object.keys(one('0x8c')).slice(5)).toEqual(['fd', 'cmd', 'nr', 'in', 'bitmap_in', 'out', 'ret', 'errno', 'bitmap_out']);
    });

    it('records the memory the program maps, and snapshots memory it did not see mapped before pinning it', () => {
      const mmaps = recs.filter((r) => r['kind'] === 'mmap');
      for (const m of mmaps) expect(m['ret']).toMatch(/^0x[0-9a-f]+$/);
      const memfd = recs.find((r) => r['kind'] === 'memfd_create')!;
      expect(memfd).toMatchObject({ name: 'guest-ram', flag_names: ['CLOEXEC'], errno: 0 });
      expect(recs.find((r) => r['kind'] === 'ftruncate')).toMatchObject({ fd: memfd['ret'], len: 1 << 20, fd_path: '/memfd:guest-ram (deleted)' });
      expect(mmaps.find((r) => r['fd'] === memfd['ret'])).toMatchObject({ flag_names: ['SHARED'], fd_path: '/memfd:guest-ram (deleted)' });
      expect(recs.find((r) => r['kind'] === 'mremap')).toMatchObject({ old_len: 1 << 20, new_len: 2 << 20, flag_names: ['MAYMOVE'], errno: 0 });
      expect(recs.find((r) => r['kind'] === 'madvise')).toMatchObject({ advice_name: 'HUGEPAGE' });
      expect(recs.filter((r) => r['kind'] === 'mprotect').map((r) => r['prot_names'])).toEqual([['NONE'], ['READ', 'WRITE']]);
      const locks = recs.filter((r) => ['mlock', 'munlock', 'mlockall', 'munlockall'].includes(r['kind']));
      expect(locks.map(({ kind, len, flags, ret, errno }) => ({ kind, len, flags, ret, errno }))).toEqual([
        { kind: 'mlock', len: 4096, flags: undefined, ret: 0, errno: 0 },
        { kind: 'mlock', len: 4096, flags: 1, ret: 0, errno: 0 }, // mlock2(MLOCK_ONFAULT)
        { kind: 'munlock', len: 4096, flags: undefined, ret: 0, errno: 0 },
        { kind: 'mlockall', len: undefined, flags: 0, ret: -1, errno: 22 },
        { kind: 'munlockall', len: undefined, flags: undefined, ret: 0, errno: 0 },
      ]);
      // Every IOAS_MAP pins memory that an earlier record of the same process describes.
      const snap = recs.findIndex((r) => r['kind'] === 'maps' && r['why'] === 'ioctl');
      expect(snap, 'a snapshot for the malloc()ed buffer').toBeGreaterThan(0);
      const map = recs[snap + 1]!;
      expect(map).toMatchObject({ kind: 'ioctl', nr: '0x85' }); // IOAS_MAP of the malloc()ed buffer
      const va = BigInt('0x' + map['in'].slice(32, 48).match(/../g)!.reverse().join(''));
      expect(recs[snap]!['maps'].some((m: Rec) => BigInt(m['start']) <= va && va < BigInt(m['end']))).toBe(true);
      expect(recs.filter((r) => r['kind'] === 'maps' && r['why'] === 'ioctl'), 'only when needed').toHaveLength(1);
    });

    it('writes the fork at the fork point, in the child, with a snapshot, and every exit', () => {
      const parent = recs[0]!['pid'];
      const i = recs.findIndex((r) => r['kind'] === 'fork');
      const fork = recs[i]!;
      expect(fork).toMatchObject({ parent, pid: fork['child'] });
      expect(recs[i + 1]).toMatchObject({ kind: 'maps', why: 'fork', pid: fork['child'] });
      expect(recs.slice(0, i).every((r) => r['pid'] === parent)).toBe(true);
      const exits = recs.filter((r) => r['kind'] === 'exit');
      expect(exits).toEqual([expect.objectContaining({ pid: fork['child'], fn: '_exit', status: 0 }), expect.objectContaining({ pid: parent, fn: 'exit', status: 0 })]);
      expect(recs.at(-1)).toMatchObject({ kind: 'exit', pid: parent });
      expect(recs.filter((r) => r['kind'] === 'close').map((r) => r['what'])).toEqual(['memfd', 'iommufd']);
    });

    it('imports: every ioctl an event with the recorded ENOTTY', async () => {
      const { events, importer } = await collect(out);
      expect(importer.stats.records).toBe(recs.length);
      const ioctlEvents = events.filter((e) => e.op.startsWith('IOMMU_') || e.op.startsWith('VFIO_') || e.op === 'RAW_IOCTL');
      expect(ioctlEvents).toHaveLength(recs.filter((r) => r['kind'] === 'ioctl').length);
      for (const e of ioctlEvents) expect(e.rec?.errno, e.op).toBe('ENOTTY');
      expect(new Set(ioctlEvents.map((e) => e.op))).toEqual(
        new Set(['IOMMU_IOAS_ALLOC', 'IOMMU_IOAS_MAP', 'IOMMU_IOAS_UNMAP', 'IOMMU_DESTROY', 'IOMMU_IOAS_ALLOW_IOVAS', 'IOMMU_IOAS_IOVA_RANGES', 'IOMMU_HWPT_ALLOC', 'IOMMU_GET_HW_INFO', 'IOMMU_HWPT_GET_DIRTY_BITMAP', 'IOMMU_HWPT_INVALIDATE', 'IOMMU_FAULT_QUEUE_ALLOC', 'IOMMU_TEST_OP_ACCESS_RW', 'VFIO_CHECK_EXTENSION', 'VFIO_IOMMU_MAP_DMA']),
      );
      const bitmap = ioctlEvents.find((e) => e.op === 'IOMMU_HWPT_GET_DIRTY_BITMAP')!;
      expect(bitmap.bufs?.['data']).toEqual(new Uint8Array([0xa5, 0x5a]));
      expect(bitmap.rec?.bufs?.['data']).toEqual(new Uint8Array([0xa5, 0x5a]));
      expect(events.filter((e) => e.op === 'fork')).toHaveLength(1);
      expect(events.filter((e) => e.op === 'exit')).toHaveLength(2);
      // Every kind the shim writes has an event; the mremap carries where the kernel moved the buffer.
      expect(events.filter((e) => e.op === 'unknown_record')).toEqual([]);
      const mremap = events.find((e) => e.op === 'mremap')!;
      expect(mremap.args).toMatchObject({ old_length: 1n << 20n, new_length: 2n << 20n, flags: 1 });
      expect(mremap.rec).toEqual({ errno: 0, ret: Number(mremap.args!['placed']) });
    });

    it('replays: the model also answers ENOTTY for a plain file, and moves the buffer where the kernel did', async () => {
      const s = await replay(importCapture(out), { kernel: '6.12' });
      expect(s.divergences).toBe(0);
      expect(s.verified).toBeGreaterThan(30);
    });
  });

  it('keeps lines whole and seq in order with 4 threads racing and a fork among them', async () => {
    const { recs, out } = run('threads');
    expect(recs.map((r) => r['seq'])).toEqual(recs.map((_r, i) => i));
    const count = (k: string) => recs.filter((r) => r['kind'] === k).length;
    expect(count('ioctl')).toBe(5 * 50 * 4); // 4 threads and the child, 50 rounds of 4 ioctls
    expect(count('mmap')).toBe(250);
    expect(count('munmap')).toBe(250);
    const i = recs.findIndex((r) => r['kind'] === 'fork');
    const child = recs[i]!['child'];
    expect(recs[i + 1]).toMatchObject({ kind: 'maps', why: 'fork', pid: child });
    expect(recs.findIndex((r) => r['pid'] === child)).toBe(i);
    // Each thread's mmap precedes the ioctls that use it, and its munmap follows them.
    const byPid = new Map<number, Rec[]>();
    for (const r of recs) byPid.set(r['pid'], [...(byPid.get(r['pid']) ?? []), r]);
    expect(byPid.get(child)!.filter((r) => r['kind'] === 'ioctl')).toHaveLength(200);
    const { importer } = await collect(out);
    expect(importer.stats.records).toBe(recs.length);
    const s = await replay(importCapture(out), { kernel: '6.12', stopAtFirst: true });
    expect(s.first_divergence).toBeNull();
  });

  it('continues one session across exec: one file, one seq, the exec\'d image starts with a snapshot', async () => {
    const { recs, out } = run('exec');
    expect(recs.map((r) => r['seq'])).toEqual(recs.map((_r, i) => i));
    expect(recs.filter((r) => r['kind'] === 'test')).toHaveLength(1);
    const fork = recs.find((r) => r['kind'] === 'fork')!;
    const child = recs.filter((r) => r['pid'] === fork['child']);
    expect(child.map((r) => r['kind'] === 'maps' ? `maps:${r['why']}` : r['kind'])).toEqual(['fork', 'maps:fork', 'maps:start', 'open', 'ioctl', 'ioctl', 'ioctl', 'ioctl', 'close', 'exit']);
    expect(new Set(recs.map((r) => r['test']))).toEqual(new Set(['iommufd_prog']));
    const { importer } = await collect(out);
    expect(importer.stats.records).toBe(recs.length);
    const s = await replay(importCapture(out), { kernel: '6.12', stopAtFirst: true });
    expect(s.first_divergence).toBeNull();
  });
});
