/**
 * hugetlb memory of 1 GiB pages (MAP_HUGETLB | MAP_HUGE_1GB, memfd_create's
 * MFD_HUGE_1GB: QEMU's guest RAM with hugetlbsize=1G). Every hugetlb rule goes
 * by the object's own page size (mm.ts Mobj.hugeShift): a mapping's length
 * rounds up to 1 GiB and its address must be on one, VMAs split only on 1 GiB
 * boundaries (munmap, mprotect, MADV_DONTNEED's start; its end rounds down),
 * mremap rounds both lengths to 1 GiB, ftruncate takes whole 1 GiB pages, a
 * hole takes out only the 1 GiB pages wholly inside it, fork copies a pinned
 * private 1 GiB page for the child, and a private mapping of a file of 1 GiB
 * pages owns each page it touches whole (a write, a pin, a read of a page the
 * file's cache lacks), marked as copied rather than held page by page.
 *
 * The traces in traces/gigantic/ are captures of the C programs beside them,
 * run on the oracle kit's Linux 6.12.117 with 1 GiB pages turned on: the kit's
 * `run` with `-cpu max,-erms,-fsrm,+pdpe1gb` (TCG, as src/oracle/boot.ts
 * does, plus the CPU's 1 GiB page flag), `hugepagesz=1G hugepages=3
 * default_hugepagesz=2M` added to the kernel's command line, `--mem 8G
 * --capture`; then `iorewind import`. (The kit's own CPU has no GBPAGES: there
 * every 1 GiB request fails, EINVAL for mmap and ENODEV for memfd_create.)
 * Three pages are in the pool, and the programs never need more: the model
 * takes the pool to be large enough, as for 2 MiB pages.
 *
 * Before this model (2026-11-27) the model answered every 1 GiB request as not
 * modelled: the first divergence was at g1_rules' memfd_create.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/events/event.js';
import { kernelTraceSuite, runChecked } from './checked_run.js';

kernelTraceSuite('1 GiB hugetlb pages (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'gigantic'), 3, 40);

const G = 1n << 30n;
const M2 = 2n << 20n;
const VA = 0x7f0000000000n;
const MAP_HUGETLB = 0x40000;
const MAP_HUGE_1GB = 30 << 26;
const MFD_HUGETLB = 0x4;
const env = (op: string, args: Event['args']): Event => ({ op, pid: 1, args });
const giant = (va: bigint, length: bigint, kind = 'anon_hugetlb'): Event => env('mmap', { va, length, kind, flags: (kind === 'anon_hugetlb' ? 0 : MAP_HUGETLB) | MAP_HUGE_1GB });

describe('1 GiB hugetlb pages, rule by rule', () => {
  it('mmap: a size x86-64 has no pool of is EINVAL; the address must be on 1 GiB; the length rounds up to it', () => {
    const { results, w } = runChecked([
      env('mmap', { va: VA, length: 0x1000n, kind: 'anon_hugetlb', flags: 24 << 26 }),
      giant(VA + M2, 0x1000n),
      giant(VA, 0x1000n),
      giant(VA + 4n * G, 0x1000n, 'private_anon'),
    ]);
    expect(results.map((r) => r.errno)).toEqual(['EINVAL', 'EINVAL', 0, 0]);
    const ends = [...w.procs.get(1)!.mm.vmas.values()].map((v) => v.end - v.start);
    expect(ends).toEqual([G, G]);
  });

  it('splits only on 1 GiB: munmap, mprotect, DONTNEED (whose end rounds down)', () => {
    const { results } = runChecked([
      giant(VA, 2n * G),
      env('munmap', { va: VA + M2, length: M2 }),
      env('mprotect', { va: VA, length: M2, prot: 1 }),
      env('madvise', { va: VA + M2, length: M2, advice: 'DONTNEED' }),
      env('madvise', { va: VA, length: G - 1n, advice: 'DONTNEED' }),
      env('mprotect', { va: VA + G, length: G, prot: 1 }),
      env('munmap', { va: VA + G, length: 0x1000n }),
      env('munmap', { va: VA, length: G }),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 'EINVAL', 'EINVAL', 'EINVAL', 0, 0, 'EINVAL', 0]);
  });

  it('memfd_create: a size without a pool is ENODEV; ftruncate takes whole 1 GiB pages', () => {
    const { results } = runChecked([
      env('memfd_create', { name: 'x', flags: MFD_HUGETLB | (24 << 26) }),
      env('memfd_create', { name: 'g', flags: MFD_HUGETLB | MAP_HUGE_1GB }),
      env('ftruncate', { fd: 0, length: M2 }),
      env('ftruncate', { fd: 0, length: G }),
      env('mmap', { va: VA, length: G, kind: 'memfd', fd: 0, offset: M2 }),
      env('mmap', { va: VA, length: G, kind: 'memfd', fd: 0, offset: 0n }),
    ]);
    expect(results.map((r) => r.errno)).toEqual(['ENODEV', 0, 'EINVAL', 0, 'EINVAL', 0]);
  });

  it("a private mapping of a 1 GiB-page file: a touch makes the whole page the mapping's own, without 262,144 page entries", () => {
    const { results, w } = runChecked([
      env('memfd_create', { name: 'g', flags: MFD_HUGETLB | MAP_HUGE_1GB }),
      env('ftruncate', { fd: 0, length: 2n * G }),
      env('mmap', { va: VA, length: 2n * G, kind: 'file_private', fd: 0, offset: 0n, prot: 3 }),
      env('memset', { va: VA + G + 0x5000n, length: 4n, byte: 1 }),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0]);
    const v = [...w.procs.get(1)!.mm.vmas.values()][0]!;
    const copy = w.mem.mobjs.get(v.cow!)!;
    expect(copy.hugeShift).toBe(30);
    expect([...copy.hugeCopied!.keys()]).toEqual([262144]);
    expect(copy.data.size).toBe(1);
  });

  it('a failed pin keeps the 1 GiB page it copied into a private mapping (the fault stays), under the failed-call invariant', () => {
    const io = (op: string, args: Event['args']): Event => ({ op, pid: 1, fd: 1, args });
    const { results, w } = runChecked([
      env('memfd_create', { name: 'g', flags: MFD_HUGETLB | MAP_HUGE_1GB }),
      env('ftruncate', { fd: 0, length: G }),
      env('mmap', { va: VA, length: G, kind: 'file_private', fd: 0, offset: 0n, prot: 3 }),
      env('open', { path: '/dev/iommu' }),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }),
      io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }),
      // (its last page is past the mapping: EFAULT once the first is pinned)
      io('IOMMU_IOAS_MAP', { flags: 6, ioas_id: 1, __reserved: 0, user_va: VA + G - 0x1000n, length: 0x2000n, iova: 0n }),
    ]);
    expect(results.at(-1)!.errno).toBe('EFAULT');
    const v = [...w.procs.get(1)!.mm.vmas.values()][0]!;
    expect([...w.mem.mobjs.get(v.cow!)!.hugeCopied!.keys()]).toEqual([0]);
  });

  it('fallocate: up to 128 huge pages of the file are taken from the pool, more is not modelled', () => {
    const { results } = runChecked([
      env('memfd_create', { name: 'g', flags: MFD_HUGETLB | MAP_HUGE_1GB }),
      env('fallocate', { fd: 0, mode: 0, offset: 0n, length: 4n * G }),
      env('fallocate', { fd: 0, mode: 0, offset: 0n, length: 200n * G }),
    ]);
    expect(results[1]).toEqual({ errno: 0 });
    expect(results[2]!.unmodelled).toMatch(/depends on the machine/);
  });
});
