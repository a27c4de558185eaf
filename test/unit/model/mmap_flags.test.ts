/**
 * mmap(2)'s flags besides the mapping's type (src/model/env.ts mmap: the
 * event's optional `flags`). Each trace in traces/mmap_flags/ was run whole
 * on Linux 6.12.117 through the oracle and saved with its answers; the model
 * must give every one of them, with the invariants held at each step. Before
 * 2026-11-27 the model had no such flags (a capture's were dropped on
 * import): it then diverged on 42 of these answers.
 *
 * Checked by the traces:
 *  - mf_locked: MAP_LOCKED locks the mapping as mlock would (counted in
 *    locked_vm, so mlock and MM-mode pins meet the limit sooner; EAGAIN past
 *    RLIMIT_MEMLOCK; EPERM with a limit of 0 and no CAP_IPC_LOCK; a hugetlb
 *    mapping neither locked nor counted; munlock then lets it merge with an
 *    unlocked neighbour); MAP_FIXED_NOREPLACE over a mapping is EEXIST,
 *    before MAP_LOCKED's EPERM;
 *  - mf_populate: MAP_POPULATE of a writable private file mapping copies its
 *    pages at once (the file's later changes do not show), read-only or
 *    with MAP_NONBLOCK it does not; MAP_LOCKED the same even with
 *    MAP_NONBLOCK; a file shorter than the mapping, or PROT_NONE, is no error;
 *  - mf_populate_pin: populated (and locked) anonymous memory pinned by a
 *    domain in MM accounting mode;
 *  - mf_noreserve: MAP_NORESERVE memory is never VM_ACCOUNT, so it does not
 *    merge with a writable private neighbour without it (an mremap across
 *    them: EFAULT) but does with one that has it, also after mprotect made it
 *    writable;
 *  - mf_stack: MAP_STACK is VM_NOHUGEPAGE (merges only with a neighbour
 *    advised NOHUGEPAGE); MAP_DENYWRITE and MAP_EXECUTABLE are ignored; the
 *    hugetlb size bits for 2 MiB pages are the default;
 *  - mf_hugebits: the hugetlb size bits mean nothing to other mappings
 *    (anonymous, private or shared file ones, with MAP_FIXED_NOREPLACE);
 *  - mf_locked2: the limit's edge, shared memory (anonymous and a memfd)
 *    locked and counted, MAP_LOCKED under mlockall(MCL_FUTURE |
 *    MCL_ONFAULT), MM-mode pins refused for the locked pages, a forked child
 *    unlocked; a file mapping's bad fd is EBADF before EEXIST;
 *  - mf_stack_thp: MADV_HUGEPAGE clears MAP_STACK's VM_NOHUGEPAGE, and a
 *    store then gets a huge page (MD_CHECK_REFS); without it, 4 KiB pages;
 *    a populated hugetlb mapping with MAP_NORESERVE pinned;
 *  - mf_offset: the file offset: one off a page EINVAL before even the fd
 *    (x86's mmap); a mapping ending past MAX_LFS_FILESIZE EOVERFLOW for a
 *    memfd or a regular file, shared or private, after EBADF and the range
 *    checks (file_mmap_ok), past 2^64 for the iommufd (a device: else its
 *    ENODEV); the model had taken any offset (answers wrong before: 7).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { emptyWorld } from '../../../src/model/state.js';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite("mmap's flags (Linux 6.12.117 answers)", join(import.meta.dirname, 'traces', 'mmap_flags'), 9, 5);

describe('mmap flags the model does not know', () => {
  const V = 0x7f0000400000n;
  const mmap = (kind: string, flags: number) => {
    const w = emptyWorld({ kernel: '6.12' });
    const r = apply(w, { op: 'mmap', pid: 1, args: { va: V, length: 0x200000n, kind, prot: 3, flags } });
    return { r: r.result, unchanged: r.state === w };
  };
  it('are answered as not modelled, with nothing mapped', () => {
    for (const [kind, flags, what] of [
      ['private_anon', 0x100, /MAP_GROWSDOWN/], // MAP_GROWSDOWN
      ['private_anon', 0x80000, /0x80000/], // MAP_SYNC
      ['private_anon', 0x2, /mapping type/], // MAP_PRIVATE given as a flag
    ] as const) {
      const { r, unchanged } = mmap(kind, flags);
      expect(r.unmodelled, `${kind} 0x${flags.toString(16)}`).toMatch(what);
      expect(unchanged).toBe(true);
    }
  });
  it('but the hugetlb size bits mean nothing for other memory, as in the kernel', () => {
    expect(mmap('private_anon', 30 << 26).r).toEqual({ errno: 0, ret: 0 });
    expect(mmap('anon_hugetlb', 21 << 26).r).toEqual({ errno: 0, ret: 0 });
    // (1 GiB pages are modelled, gigantic.test.ts: this 2 MiB mapping at an address off 1 GiB is EINVAL)
    expect(mmap('anon_hugetlb', 30 << 26).r).toEqual({ errno: 'EINVAL' });
  });
});
