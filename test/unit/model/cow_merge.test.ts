/**
 * VMA merging of private mappings of one file (src/model/vma_merge.ts): a
 * new private mapping of a file merges with its neighbours when they map the
 * same file at offsets that run on, with the same flags, and their anon_vmas
 * allow it (a neighbour that has copied pages has its own; two different
 * ones never merge; a forked child's chain is not singular), as anonymous
 * memory does (vma_merge.test.ts). Until 2026-11-27 the model did not follow
 * these merges and answered an mremap across two such mappings as not
 * modelled. Every trace here ran whole on Linux 6.12.117 and was saved with
 * its answers; eight diverged from the model before (cw_gap_off, cw_prot and
 * cw_mprotect are the controls). A capture's private file mappings still
 * get that answer: its program's stores, which give a mapping its anon_vma,
 * are not recorded.
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('private mappings of one file merge (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'cow_merge'), 11, 6);

/**
 * A write fault that finds no page, at a page past the file's end, still
 * gives the VMA its anon_vma (do_cow_fault's vmf_anon_prepare comes before
 * __do_fault's SIGBUS): then the halves of a split (mlock on fault) do not
 * merge back when munlock makes them agree, and an mremap across them is
 * EFAULT. Found by oracle fuzz seed 116 (test/oracle/regressions). Each
 * trace ran whole on Linux 6.12.117: a write pin, a store and mlock's
 * populate past the end leave two VMAs (the model before took them for one:
 * 0); a read pin, no access, and an anon_vma on the neighbour instead of the
 * changed half (is_mergeable_anon_vma checks the neighbour's chain) let
 * them merge. The g_* traces check that one VMA stays one when only part of
 * it was faulted (grown in place, a DONTNEED, a forked child's mprotect
 * undone): pieces of one VMA share its anon_vma.
 */
kernelTraceSuite('an anon_vma from a failed write fault past the end of a file (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'anon_eof'), 11, 4);
