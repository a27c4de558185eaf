/**
 * A boot's time budget for 1 GiB hugetlb memory (src/oracle/boot.ts): the
 * guest zeroes each 1 GiB page it faults for 10-30 s under TCG, so a boot
 * whose traces ask for such memory many times (a shrink round: all of its
 * candidates are variants of one such trace) needs time for each request,
 * not once per boot.
 */
import { describe, expect, it } from 'vitest';
import { giganticSeconds, giganticTraceSeconds } from '../../../src/oracle/boot.js';

const MAP_HUGETLB = 0x40000;
const MAP_PRIVATE_ANON = 0x22;
const HUGE = (log: number) => log << 26;
const mmap = (flags: number) => ({ op: 'mmap', args: { va: 0n, length: 1n << 30n, kind: 'anon_hugetlb', flags } });
const memfd = (flags: number) => ({ op: 'memfd_create', args: { name: 'g', flags } });

describe('boot budget for 1 GiB pages', () => {
  it('counts each mmap and memfd_create of 1 GiB pages in every trace of the boot', () => {
    const env = { gigantic: 3 };
    const t1 = { events: [mmap(MAP_HUGETLB | MAP_PRIVATE_ANON | HUGE(30)), { op: 'IOMMU_IOAS_ALLOC', args: {} }, memfd(0x4 | HUGE(30))] };
    const t2 = { events: [mmap(MAP_HUGETLB | HUGE(30))] };
    expect(giganticTraceSeconds(env, [t1])).toBe(120);
    expect(giganticTraceSeconds(env, [t1, t2, t2])).toBe(240);
    // forty shrink candidates of one trace: forty times its share, where giganticSeconds is per boot
    expect(giganticTraceSeconds(env, Array.from({ length: 40 }, () => t2))).toBe(2400);
    expect(giganticSeconds(env)).toBe(270);
  });

  it('leaves out 2 MiB and default-size hugetlb memory, other ops, and boots without a pool', () => {
    const env = { gigantic: 3 };
    const plain = { events: [mmap(MAP_HUGETLB), mmap(MAP_HUGETLB | HUGE(21)), memfd(0x4), memfd(0x4 | HUGE(21)), { op: 'munmap', args: { flags: HUGE(30) } }, { op: 'mmap' }] };
    expect(giganticTraceSeconds(env, [plain])).toBe(0);
    expect(giganticTraceSeconds({}, [{ events: [mmap(MAP_HUGETLB | HUGE(30))] }])).toBe(0);
  });
});
