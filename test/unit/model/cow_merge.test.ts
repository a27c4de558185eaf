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
