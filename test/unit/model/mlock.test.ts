/**
 * mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2) and what a
 * locked mapping changes elsewhere (src/model/mlock.ts). Each trace in
 * traces/mlock/ was run whole on Linux 6.12.117 through the oracle and
 * saved with its answers; the model must give every one of them, with the
 * invariants held at each step. Until 2026-11-27 the model did not know
 * these calls (an unknown op: not modelled).
 *
 * Checked by the traces (each also against a model with that part taken
 * out: the traces named there then diverge):
 *  - ml_double: in MM accounting mode iommufd charges pins to the same
 *    mm->locked_vm mlock counts, so locked guest RAM a device then maps
 *    counts twice against RLIMIT_MEMLOCK (without the count: 6 answers);
 *  - ml_limit: mlock's limit check does not count twice what the range
 *    locks again (count_mm_mlocked_page_nr); ml_err: EINVAL, EPERM, holes
 *    (ENOMEM after the VMAs before), a range past the last VMA, lengths
 *    that wrap, mlockall's flag checks;
 *  - ml_future, ml_fork: mlockall(MCL_FUTURE) locks later mappings (EAGAIN
 *    past the limit, a hugetlb one not locked nor counted, MCL_ONFAULT), a
 *    child starts unlocked with locked_vm 0;
 *  - ml_mremap: a locked mapping grows only within the limit (EAGAIN),
 *    moves with its lock, and a DONTUNMAP move takes the lock along
 *    (locked_vm unchanged);
 *  - ml_populate_err: a PROT_NONE VMA or a page past the end of a file
 *    makes mlock ENOMEM with the range locked;
 *  - ml_madvise: DONTNEED, FREE, COLD, PAGEOUT and REMOVE refuse locked
 *    memory (EINVAL), DONTNEED_LOCKED takes it;
 *  - ml_cow_*: locking a private file mapping writable (mlock, MCL_FUTURE,
 *    a locked mapping grown by mremap, or made writable by mprotect) copies
 *    its pages at once, so the file's later changes do not show there;
 *    read-only or on-fault locking copies nothing (without the faulting-in:
 *    3 answers each in ml_cow_mlock, _future, _mremap; without mprotect's:
 *    1 in ml_cow_mprotect); ml_cow_writable: mprotect making locked memory
 *    writable copies a read-only-locked private file mapping's pages (the
 *    part locked before the file's end, when mlock met it: ENOMEM), not an
 *    on-fault-locked one's or a shared one's;
 *  - ml_thp*: locking MADV_HUGEPAGE memory faults in transparent huge pages
 *    (read-only: the huge zero page), which a read-only pin then maps whole
 *    (without the faulting-in: 1 answer each in ml_thp_pinro, _pinro_ro).
 *
 * (Not here: locking memory populated before MADV_HUGEPAGE, then looking for
 * huge pages; khugepaged may collapse such a range in the background.)
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('mlock and locked memory (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'mlock'), 20, 8);
