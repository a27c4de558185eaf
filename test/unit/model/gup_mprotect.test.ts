/**
 * Two memory-side answers the oracle taught (docs/oracle.md, divergences 16–19):
 *
 * - mprotect(2) changes VMA by VMA (do_mprotect_pkey): a hole, the range
 *   running past the last VMA, or a hugetlb VMA split at the end off a huge
 *   page stops it with ENOMEM / EINVAL, and the VMAs before keep their new
 *   protection. Each case below was run on Linux 6.12.117 (the oracle), which
 *   answered every call as the model now does.
 * - pin_user_pages_fast refuses a chunk whose end passes 2^64 with EOVERFLOW
 *   (gup_fast_fallback), before the TASK_SIZE check that gives EFAULT; the
 *   remote pin another process makes has no such check. The oracle answered
 *   these cases (both MAP orders, the page below, the forked child) as here too.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event } from '../../../src/events/event.js';
import { findVma } from '../../../src/model/mm.js';
import type { World } from '../../../src/model/state.js';
import { runChecked } from './checked_run.js';

const VA = 0x7f0000000000n;

const run = (events: Event[]) => runChecked(events);

const open: Event = { op: 'open', args: { path: '/dev/iommu' } };
const ioasAlloc: Event = { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } };
const mockDomain: Event = { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } };
const map = (userVa: bigint, length: bigint, flags = 7, iova = 0x1000000n): Event => ({ op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags, ioas_id: 1, __reserved: 0, user_va: userVa, length, iova } });
const writable = (w: World, va: bigint) => findVma(w.procs.get(1)!.mm, va)?.write;

describe('mprotect stops VMA by VMA and keeps what it changed', () => {
  it('a hole: ENOMEM, the VMAs before it are read-only; a writable pin there then fails EFAULT', () => {
    const { results, w } = run([
      open,
      ioasAlloc,
      { op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon' } },
      mockDomain,
      { op: 'munmap', args: { va: VA + 0x8000n, length: 0x1000n } },
      { op: 'mprotect', args: { va: VA + 0x2000n, length: 0x10000n, prot: 1 } },
      map(VA, 0x4000n),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 'ENOMEM', 'EFAULT']);
    expect(writable(w, VA + 0x1000n)).toBe(true);
    expect(writable(w, VA + 0x2000n)).toBe(false);
    expect(writable(w, VA + 0x7000n)).toBe(false);
    expect(writable(w, VA + 0x9000n)).toBe(true); // past the hole: untouched
  });

  it('past the last VMA: ENOMEM after changing all of it', () => {
    const { results, w } = run([open, { op: 'mmap', args: { va: VA, length: 0x2000n, kind: 'anon' } }, { op: 'mprotect', args: { va: VA, length: 0x4000n, prot: 1 } }]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 'ENOMEM']);
    expect(writable(w, VA + 0x1000n)).toBe(false);
  });

  it('the start in a hole: ENOMEM, nothing changed (the very same state)', () => {
    let w = run([open, { op: 'mmap', args: { va: VA + 0x1000n, length: 0x2000n, kind: 'anon' } }]).w;
    const r = apply(w, { op: 'mprotect', args: { va: VA, length: 0x3000n, prot: 1 } });
    expect(r.result.errno).toBe('ENOMEM');
    expect(r.state).toBe(w);
    w = r.state;
    expect(writable(w, VA + 0x1000n)).toBe(true);
  });

  it('a hugetlb VMA split at the end off a huge page: EINVAL after the VMA before it changed (oracle-checked)', () => {
    const H = 0x7f0000200000n;
    const { results, w } = run([
      open,
      ioasAlloc,
      mockDomain,
      { op: 'mmap', args: { va: H - 0x2000n, length: 0x2000n, kind: 'anon' } },
      { op: 'mmap', args: { va: H, length: 0x400000n, kind: 'anon_hugetlb' } },
      { op: 'mprotect', args: { va: H - 0x2000n, length: 0x3000n, prot: 1 } },
      map(H - 0x2000n, 0x2000n),
      map(H - 0x2000n, 0x2000n, 5),
      map(H, 0x200000n, 7, 0x2000000n),
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 'EINVAL', 'EFAULT', 0, 0]);
    expect(writable(w, H - 0x1000n)).toBe(false);
    expect(writable(w, H)).toBe(true);
  });

  it('an mprotect that changes nothing splits nothing: a later munmap off a huge page is still EINVAL (oracle fuzz seed 15)', () => {
    const H = 0x7f0002000000n;
    const { results } = run([
      open,
      { op: 'mmap', args: { va: H, length: 0x400000n, kind: 'anon_hugetlb', prot: 3 } },
      { op: 'mprotect', args: { va: H + 0xf3000n, length: 0x10000n, prot: 3 } },
      { op: 'munmap', args: { va: H + 0xf3000n, length: 0x10000n } },
    ]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 'EINVAL']);
  });

  it('the same split inside one hugetlb VMA: EINVAL, nothing changed', () => {
    const H = 0x7f0000200000n;
    const w = run([open, { op: 'mmap', args: { va: H, length: 0x400000n, kind: 'anon_hugetlb' } }]).w;
    const r = apply(w, { op: 'mprotect', args: { va: H, length: 0x1000n, prot: 1 } });
    expect(r.result.errno).toBe('EINVAL');
    expect(r.state).toBe(w);
  });
});

describe('pinning the last page of the u64 range', () => {
  const TOP = 0xfffffffffffff000n;
  it('the owner pins with pin_user_pages_fast: EOVERFLOW (MAP with a domain, and a domain attached later)', () => {
    expect(run([open, ioasAlloc, mockDomain, map(TOP, 0x800n)]).results.map((r) => r.errno)).toEqual([0, 0, 0, 'EOVERFLOW']);
    expect(run([open, ioasAlloc, map(TOP, 0x800n), mockDomain]).results.map((r) => r.errno)).toEqual([0, 0, 0, 'EOVERFLOW']);
  });

  it('a page short of it is past TASK_SIZE: EFAULT', () => {
    expect(run([open, ioasAlloc, mockDomain, map(TOP - 0x1000n, 0x800n)]).results.map((r) => r.errno)).toEqual([0, 0, 0, 'EFAULT']);
  });

  it('another process pins remotely (no overflow check there): EFAULT', () => {
    const { results } = run([open, ioasAlloc, map(TOP, 0x800n), { op: 'fork', args: { child: 2 } }, { ...mockDomain, pid: 2 }]);
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 'EFAULT']);
  });

  it('MD_CHECK_MAP reads the page with get_user_pages_fast too: EOVERFLOW before the mapping is looked at', () => {
    const check: Event = { op: 'IOMMU_TEST_OP_MD_CHECK_MAP', fd: 0, args: { id: 4, check_map: { iova: 0x1000000n, length: 0x800n, uptr: TOP } } };
    expect(run([open, ioasAlloc, mockDomain, check]).results.map((r) => r.errno)).toEqual([0, 0, 0, 'EOVERFLOW']);
  });
});
