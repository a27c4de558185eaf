/**
 * IOMMU_IOAS_MAP_FILE [6.14] as the code has it (ioas.c iommufd_ioas_map_file,
 * io_pagetable.c iopt_map_file_pages, pages.c iopt_alloc_file_pages and the
 * pfn reader, mm/gup.c memfd_pin_folios; read by a helper on 2026-11-27 from
 * 6.14-era copies, kernel-semantics §3.4 steps 6 and 8): the file is not
 * checked when it is mapped, only when its pages are pinned, by a domain or
 * an access, and an access's read or write of file pages that nothing holds
 * pins them too. No 6.14 kernel answered these: the 6.12 oracle has no
 * MAP_FILE.
 */
import { describe, expect, it } from 'vitest';
import type { Event, Fields } from '../../../src/events/event.js';
import { runChecked } from './checked_run.js';

const env = (op: string, args: Fields): Event => ({ op, pid: 1, args });
const io = (op: string, args: Fields, bufs?: Event['bufs']): Event => ({ op, pid: 1, fd: 0, args, ...(bufs ? { bufs } : {}) });
const mapFile = (fd: number | bigint, length: bigint, iova: bigint, flags = 7) => io('IOMMU_IOAS_MAP_FILE', { flags, fd, start: 0n, length, iova, ioas_id: 1 });
const errnos = (events: Event[]) => runChecked(events, '6.14').results.map((r) => r.errno);

describe('IOMMU_IOAS_MAP_FILE [6.14]', () => {
  it('takes any file; pinning one that is not shmem or hugetlbfs is EINVAL (a domain then)', () => {
    expect(
      errnos([
        env('open', { path: '/dev/iommu' }), // fd 0
        io('IOMMU_IOAS_ALLOC', { flags: 0 }),
        mapFile(0, 0x1000n, 0x1000000n), // the iommufd itself, no domain: mapped
        io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }), // the domain pins it: EINVAL
        env('memfd_create', { name: 'ram' }), // fd 1
        env('ftruncate', { fd: 1, length: 0x10000n }),
        mapFile(1, 0x1000n, 0x1100000n), // with a memfd instead: no domain, mapped
        io('IOMMU_IOAS_UNMAP', { ioas_id: 1, iova: 0x1000000n, length: 0x1000n }),
        io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }), // the memfd's page pins
        mapFile(0, 0x1000n, 0x1200000n), // with the domain: refused when pinned
        mapFile(0, 0x1000n, 0x1100000n), // FIXED over an existing area: EEXIST comes first
      ]),
    ).toEqual([0, 0, 0, 'EINVAL', 0, 0, 0, 0, 0, 'EINVAL', 'EEXIST']);
  });

  it('a regular file is shmem on tmpfs, which the model knows of /dev/shm: pinned there, EINVAL elsewhere', () => {
    const { results } = runChecked(
      [
        env('open', { path: '/dev/iommu' }), // fd 0
        io('IOMMU_IOAS_ALLOC', { flags: 0 }),
        io('IOMMU_TEST_OP_MOCK_DOMAIN', { id: 1, mock_domain: {} }),
        env('open', { path: '/dev/shm/guest-ram', flags: 0o1102 }), // fd 1: O_RDWR|O_CREAT|O_TRUNC
        env('ftruncate', { fd: 1, length: 0x10000n }),
        mapFile(1, 0x2000n, 0x1000000n), // pinned by the domain
        mapFile(1, 0x11000n, 0x1100000n), // past the file's end
        env('open', { path: '/tmp/guest-ram', flags: 0o1102 }), // fd 2: a disk filesystem's, as the model takes it
        env('ftruncate', { fd: 2, length: 0x10000n }),
        mapFile(2, 0x1000n, 0x1200000n),
        env('open', { path: '/dev/shm/old', flags: 2 }), // fd 3: its size from before the trace
        mapFile(3, 0x1000n, 0x1300000n),
      ],
      '6.14',
    );
    expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, 0, 'EINVAL', 0, 0, 'EINVAL', 0, 'EOPNOTSUPP']);
    expect(results[11]!.unmodelled).toMatch(/\/dev\/shm\/old, whose size before the trace is not known/);
  });

  it('the fd is an __s32: a wider number is cut to its low 32 bits', () => {
    expect(
      errnos([
        env('open', { path: '/dev/iommu' }),
        env('memfd_create', { name: 'ram' }), // fd 1
        env('ftruncate', { fd: 1, length: 0x10000n }),
        io('IOMMU_IOAS_ALLOC', { flags: 0 }),
        mapFile(0x100000001n, 0x1000n, 0x100000n),
        mapFile(1n, 0x1000n, 0x200000n),
      ]),
    ).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("an access's read or write of unpinned file pages pins them: past the file's end, EINVAL", () => {
    const rw = (iova: bigint, flags: number) => io('IOMMU_TEST_OP_ACCESS_RW', { id: 2, access_rw: { iova, length: 8n, uptr: 0x7f0000000000n, flags } }, { uptr: new Uint8Array(8) });
    const { results } = runChecked(
      [
        env('open', { path: '/dev/iommu' }),
        env('memfd_create', { name: 'ram' }), // fd 1
        env('ftruncate', { fd: 1, length: 0x1000n }),
        env('mmap', { va: 0x7f0000000000n, length: 0x1000n, kind: 'private_anon' }),
        io('IOMMU_IOAS_ALLOC', { flags: 0 }), // IOAS 1
        mapFile(1, 0x2000n, 0x100000n), // one page inside the file, one past its end
        io('IOMMU_TEST_OP_CREATE_ACCESS', { id: 1, create_access: { flags: 0 } }), // the access's fd: 2
        rw(0x100000n, 0),
        rw(0x101000n, 0),
        rw(0x101000n, 1),
        rw(0x100ffcn, 0), // across the end: the page past it is pinned too
      ],
      '6.14',
    );
    expect(results.slice(7).map((r) => r.errno)).toEqual([0, 'EINVAL', 'EINVAL', 'EINVAL']);
  });
});
