/**
 * A memfd made with MFD_HUGETLB, or a file on the hugetlbfs mount: a hugetlbfs
 * file of 2 MiB pages, as QEMU's memory-backend-memfd with hugetlb=on, or its
 * -mem-path /dev/hugepages, gives guest RAM (mm/memfd.c,
 * fs/hugetlbfs/inode.c, mm/hugetlb.c). Each trace in traces/hugetlbfs/ was
 * run whole on Linux 6.12.117 through the oracle and saved with its answers;
 * the model must give every one of them, with the invariants held at each
 * step. Before session 16 the model answered memfd_create(MFD_HUGETLB) as
 * not modelled.
 *
 *  - hm_basic: ftruncate only to whole huge pages (EINVAL otherwise); read(2)
 *    by i_size, write(2) and pwrite EINVAL (hugetlbfs has no write method);
 *    mmap's length rounded up to a huge page (wrapping to 0: EINVAL, also for
 *    MAP_HUGETLB), the address on one (EINVAL), the offset on one (EINVAL,
 *    after the range is unmapped), the mapping's end past MAX_LFS_FILESIZE
 *    EOVERFLOW (file_mmap_ok, as for any regular file); a writable mapping
 *    grows the file to cover it, a read-only one does not (its pages past the
 *    end: EFAULT); two mappings share the pages; munmap only by huge page;
 *    pins, MD_CHECK_REFS (compound pages, not counted) and MD_CHECK_MAP;
 *  - hm_size: fallocate to an end off a huge page, and with KEEP_SIZE past
 *    the end: the page cache has those huge pages, which a mapping then
 *    reaches although they lie past i_size (hugetlb_no_page refuses only a
 *    page the cache lacks); the modes hugetlbfs refuses (EOPNOTSUPP);
 *    mprotect, madvise, mlock and mremap of hugetlb VMAs;
 *  - hm_punch: PUNCH_HOLE and MADV_REMOVE zero the part of a huge page they
 *    cut, in place (a domain's pin sees it), and take whole huge pages out
 *    (the pinned one lives on; the mapping meets a new one); truncation and
 *    growth; fork shares the file's pages;
 *  - hm_pins: a pin over a range whose middle huge page is past the end and
 *    not cached (EFAULT) though the last one is; MAP_POPULATE, mlock and
 *    POPULATE_READ stopping at the gap; truncation to 0 takes the cached page
 *    out too; the pinned page outlives truncation and exit;
 *  - hm_cached: huge pages fallocated past the end one by one: a hole
 *    cutting one keeps it (zeros in place), one covering it takes it out
 *    (EFAULT from then on), truncation past them takes them out, growth
 *    over them keeps them;
 *  - hm_advice: DONTNEED of a shared hugetlbfs mapping keeps the file's
 *    bytes (and off a huge page: EINVAL), DONTFORK keeps a child from it,
 *    WIPEONFORK refuses it (shared); a child's stores reach the parent;
 *    mremap moves (not DONTUNMAP: EINVAL) carrying the pages a domain maps;
 *  - hm_mount_file: a file on the hugetlbfs mount (/dev/hugepages, QEMU's
 *    -mem-path) is such a file too: every open of the path reaches it, O_TRUNC
 *    empties it (a domain's pins outlive that), reads through any fd,
 *    writes EINVAL; its size before the trace, when no O_TRUNC or ftruncate
 *    set it, is unknown, as any regular file's;
 *  - hm_readonly: a file on the mount opened read-only, mapped shared: an
 *    mprotect adding PROT_WRITE is EACCES before the split off a huge page
 *    that is EINVAL without it (the first VMA's may-write check comes before
 *    mprotect_fixup), also over a range whose end is off a huge page;
 *    MADV_REMOVE EACCES, a writable shared mapping EACCES; the same file
 *    through a read-write fd takes them (seed 162: the model said EINVAL);
 *  - hm_map_hugetlb: MAP_HUGETLB with a file: ignored for a hugetlbfs memfd,
 *    EINVAL for any other file (after EBADF); with MAP_SHARED |
 *    MAP_ANONYMOUS it is a hugetlb mapping (the kind anon_hugetlb), the 2 MiB
 *    size bits too;
 *  - hm_private_anon: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, private huge
 *    pages of an unnamed hugetlbfs file that nothing else maps: rounded and
 *    placed as any hugetlb mapping, populated, pinned, a forked child's
 *    stores its own, DONTNEED of whole huge pages giving zeros again (and a
 *    pinned page living on), munmap and DONTNEED off a huge page EINVAL,
 *    REMOVE EACCES, WIPEONFORK, FREE and COLD EINVAL, no growth by mremap.
 * Not modelled: a private mapping of such a file (copy-on-write by huge
 * page, where a read of a huge page the file's cache lacks gets a private
 * zero page: what it shows later hangs on which pages the cache has, which
 * the model does not keep; test/oracle/regressions has the kernel's answers
 * to a probe of it), huge pages other than 2 MiB, and the pool running out
 * (the model takes it to be large enough, as for MAP_HUGETLB).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event } from '../../../src/events/event.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('hugetlbfs memfds (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'hugetlbfs'), 10, 15);

describe('a private mapping of a hugetlbfs memfd', () => {
  it('is answered as not modelled, with nothing changed', () => {
    let w: World = emptyWorld({ kernel: '6.12' });
    const evs: Event[] = [
      { op: 'memfd_create', pid: 1, args: { name: 'ram', flags: 0x4 } },
      { op: 'ftruncate', pid: 1, args: { fd: 0, length: 0x200000n } },
    ];
    for (const ev of evs) w = apply(w, ev).state;
    const r = apply(w, { op: 'mmap', pid: 1, args: { va: 0x7f0000000000n, length: 0x200000n, kind: 'file_private', prot: 3, fd: 0, offset: 0n } });
    expect(r.result.unmodelled).toMatch(/private mapping of a hugetlbfs file/);
    expect(r.state).toBe(w);
  });
});
