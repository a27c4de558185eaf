/**
 * MM-mode pins of a process that has exited, on 6.12 (VFIO compat, or
 * RLIMIT_MODE 1): a child maps its memory into an IOAS, the parent pins pages
 * of it through two accesses, the child exits, and the parent unpins one
 * access. The unpin cannot uncharge the dead mm (update_mm_locked_vm:
 * mmget_not_zero, EINVAL, which update_unpinned ignores), so last_npinned
 * stays above npinned. A fill that then pins nothing itself (another access
 * of pages the first holds) meets update_mm_locked_vm with the reader's
 * user->locked still -1, releases an mmap lock it does not hold, and waits for
 * the write lock for good: on the oracle kernel the run hung there (no answer
 * in 120 s). The model answers that fill as not modelled. The traces that
 * stop short of it, or pin a page the dead mm must give (EFAULT), are the
 * kernel's answers.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Event } from '../../../src/events/event.js';
import { kernelTraceSuite, runChecked } from './checked_run.js';

kernelTraceSuite("an exited owner's MM-mode pins (Linux 6.12.117 answers)", join(import.meta.dirname, 'traces', 'dead_owner'), 3, 10);

describe('a fill that pins nothing while an exited owner left last_npinned off [6.12]', () => {
  const VA = 0x7f0000000000n;
  const io = (op: string, args: Event['args'], pid = 1): Event => ({ op, pid, fd: 0, args });
  const env = (op: string, args: Event['args'], pid = 1): Event => ({ op, pid, args });
  const ap = (fd: number, iova: bigint, length: bigint): Event => io('IOMMU_TEST_OP_ACCESS_PAGES', { id: fd, access_pages: { flags: 0, iova, length, uptr: 0n } });
  it('hangs the kernel: not modelled', () => {
    const events = [
      env('drop_capability', { cap: 'CAP_IPC_LOCK' }),
      env('open', { path: '/dev/iommu' }),
      io('IOMMU_OPTION', { option_id: 0, op: 0, object_id: 0, val64: 1n }),
      io('IOMMU_IOAS_ALLOC', { flags: 0 }),
      env('fork', { child: 2 }),
      env('mmap', { va: VA, length: 0x4000n, kind: 'anon' }, 2),
      io('IOMMU_IOAS_MAP', { flags: 7, ioas_id: 1, __reserved: 0, user_va: VA, length: 0x4000n, iova: 0x1000000n }, 2),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }),
      ap(1, 0x1000000n, 0x2000n),
      io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 1 } }),
      ap(2, 0x1002000n, 0x2000n),
      env('exit', {}, 2),
      io('IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', { id: 2, destroy_access_pages: { access_pages_id: 0 } }),
    ];
    const { w } = runChecked(events);
    const pages = [...w.ctxs.values()][0]!.pages.get(1)!;
    expect(pages).toMatchObject({ npinned: 2, lastNpinned: 4 });
    const { results } = runChecked([...events, ap(2, 0x1000000n, 0x1000n)]);
    expect(results.at(-1)!.unmodelled).toMatch(/ioctl hangs/);
  });
});
