/**
 * A mapping's protection beyond read and write (src/model/env.ts mmap and
 * mprotect, mm.ts protectRange, vma_merge.ts sameKernelVma). Each trace in
 * traces/prot/ was run whole on Linux 6.12.117 through the oracle and saved
 * with its answers; the model must give every one of them, with the
 * invariants held at each step. Before 2026-11-27 the model ignored PROT_EXEC,
 * took any prot bits, let a read-only file (or iommufd) be mapped shared and
 * writable, and took two hugetlb VMAs that agreed again for one: it diverged
 * on 42 of these answers, in six of the ten traces.
 *
 * Checked by the traces:
 *  - prot_bits: mprotect's checks in do_mprotect_pkey's order: GROWSDOWN and
 *    GROWSUP together EINVAL before the alignment; a length of 0 is 0 before
 *    the prot bits are looked at; bits x86's arch_validate_prot does not know
 *    (0x10, 0x20, 0x40000000) EINVAL before the VMA lookup (a hole: ENOMEM
 *    after them); PROT_SEM taken and ignored; GROWSDOWN EINVAL where a VMA
 *    meets the range, GROWSUP where one holds its start (no VMA of the model
 *    grows), ENOMEM otherwise; mmap ignores bits it does not know;
 *  - prot_exec: PROT_EXEC is VM_EXEC: mprotect adding it to the middle of a
 *    mapping splits it (an mremap across: EFAULT), taking it away merges it
 *    back; neighbouring mappings that differ in it stay two, ones that agree
 *    are one, also an exec-only mapping made readable;
 *  - prot_exec_files: the same for a memfd and a regular file under /tmp,
 *    shared and private, and for a file opened read-only;
 *  - prot_exec_pins: exec-only memory is not writable for a pin, nor
 *    readable for a recorder (process_vm_readv: EFAULT); exec memory pinned,
 *    split around its pins and merged back; a huge page in exec THP memory,
 *    4 KiB pages in the half a split made a VMA of its own;
 *  - prot_iommufd_mode: the iommufd's own access mode: its ioctls take any,
 *    but read of a write-only one and write of a read-only one are EBADF
 *    (before EINVAL: it has no read or write method), mmap of a write-only
 *    one, or a shared writable one of a read-only one, EACCES (before
 *    ENODEV), fallocate of a read-only one EBADF (before ENODEV);
 *  - prot_cpu: write-only and exec-only memory, private and shared, as the
 *    recorder reads it (EFAULT: no VM_READ) and writes it;
 *  - prot_populate: mlock populates write-only memory (FOLL_FORCE, a write
 *    fault for private memory), not PROT_NONE memory (ENOMEM); MAP_POPULATE
 *    of exec-only memory is no error; MADV_POPULATE_READ of write-only or
 *    exec-only memory and POPULATE_WRITE of exec-only memory are EINVAL.
 *    (Reads of them through get_user_pages_fast, and any read of exec-only
 *    memory by the kernel, are answered as not modelled: page-table state and
 *    the CPU's protection keys decide. test/oracle/known_divergent.ts.)
 *  - prot_file_mode: a file's access mode: a shared writable mapping of a
 *    read-only fd EACCES, a private one 0; a write-only fd maps nothing
 *    (EACCES, PROT_NONE too); mprotect may not make a shared mapping of a
 *    read-only fd writable (EACCES), and stops there after the VMAs before
 *    it took the change (a writable pin of one of them then works);
 *  - prot_fd_modes: what else a file's access mode decides: ftruncate of a
 *    read-only fd EINVAL, fallocate of one EBADF (also with a mode), read of
 *    a write-only fd and write of a read-only one EBADF; a shared mapping of
 *    a read-only fd takes POPULATE_READ, not POPULATE_WRITE (EINVAL), and
 *    the advice, mprotect to read or none, mlock and mremap of any mapping;
 *  - prot_madv_remove: MADV_REMOVE punches a hole only through a shared
 *    mapping that may be written (vma_is_shared_maywrite): one of a file
 *    open read-write (or a memfd) mapped read-only punches, one of a file
 *    open read-only is EACCES, as is any private one; a range over a
 *    punchable VMA and then a read-only one punches the first (its bytes
 *    read back as zeros) before the EACCES; a locked VMA is EINVAL first;
 *    pages a domain pinned through the read-only mapping stay what the
 *    domain maps (MD_CHECK_MAP). The model before: 3 wrong answers (seed 152);
 *  - prot_hugetlb: hugetlb VMAs never merge (VM_DONTEXPAND): split by
 *    mprotect (exec or not) or by madvise, two stay two when they agree
 *    again, and two mapped side by side are two; shared anonymous memory
 *    merges back;
 *  - prot_maps: a maps snapshot's x re-protects memory the process has as an
 *    mprotect would.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Event } from '../../../src/events/event.js';
import { VM_EXEC, VM_HUGETLB, VM_NO_MAYWRITE, type Vma } from '../../../src/model/mm.js';
import { emptyWorld, type World } from '../../../src/model/state.js';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('protection bits, exec, file access modes, hugetlb VMAs (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'prot'), 12, 4);

describe('the VMA flags behind those answers', () => {
  const V = 0x7f0000400000n;
  const P = 0x1000n;
  const run = (events: Event[]): World => {
    let w = emptyWorld({ kernel: '6.12' });
    for (const ev of events) {
      const r = apply(w, ev);
      expect(r.result.errno, `${ev.op} ${JSON.stringify(ev.args, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`).toBe(0);
      w = r.state;
    }
    return w;
  };
  const vmas = (w: World): Vma[] => {
    const out: Vma[] = [];
    w.procs.get(1)!.mm.vmas.each((_s, v) => {
      out.push(v);
      return true;
    });
    return out;
  };
  const env = (op: string, args: Event['args']): Event => ({ op, pid: 1, args });

  it('PROT_EXEC sets VM_EXEC at mmap and mprotect, and clears it', () => {
    const w = run([env('mmap', { va: V, length: 4n * P, kind: 'private_anon', prot: 7 }), env('mprotect', { va: V + P, length: P, prot: 3 })]);
    expect(vmas(w).map((v) => [v.start - V, ((v.flags ?? 0) & VM_EXEC) !== 0])).toEqual([
      [0n, true],
      [P, false],
      [2n * P, true],
    ]);
  });

  it('a hugetlb mapping is VM_HUGETLB, and a shared mapping of a read-only file VM_NO_MAYWRITE', () => {
    const w = run([
      env('mmap', { va: V, length: 0x200000n, kind: 'anon_hugetlb', prot: 3 }),
      env('open', { path: '/tmp/f', flags: 0o1102 }),
      env('open', { path: '/tmp/f', flags: 0 }),
      env('mmap', { va: V + 0x200000n, length: P, kind: 'file_shared', fd: 1, prot: 1, offset: 0n }),
      env('mmap', { va: V + 0x400000n, length: P, kind: 'file_private', fd: 1, prot: 3, offset: 0n }),
    ]);
    expect(vmas(w).map((v) => (v.flags ?? 0) & (VM_HUGETLB | VM_NO_MAYWRITE))).toEqual([VM_HUGETLB, VM_NO_MAYWRITE, 0]);
  });
});
