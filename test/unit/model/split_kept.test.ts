/**
 * An unmapping refused part way keeps its first split (src/model/
 * huge_memory.ts refusedCut). vms_gather_munmap_vmas splits the VMA at the
 * start of the range before it splits the one at the end; a hugetlb VMA cut
 * off a huge-page boundary refuses the second split (EINVAL), and the first
 * is not undone: two VMAs where there was one, which a later mremap across
 * them shows (EFAULT). The same for an mmap over old mappings, mremap's
 * target, and mprotect or madvise whose end cuts a hugetlb VMA they entered
 * at a huge-page boundary. mlock leaves hugetlb VMAs alone and splits
 * nothing. Oracle fuzz seed 99 found the munmap case (docs/oracle.md #46);
 * every trace here ran whole on Linux 6.12.117 and was saved with its
 * answers, and all but the two controls (hs_munmap_nosplit, hs_plain)
 * diverged from the model before. The rv_ traces came of the change's
 * review: a refused mprotect splits only a VMA it entered (rv_mprotect_
 * nosplit); a shared mapping split that way merges back when mprotect makes
 * its halves agree (rv_shared_remerge; adjacent shared mappings of one file
 * at offsets that run on are one VMA, rv_shared_adjacent); and a fork's
 * child keeps apart the VMAs that differed only by mlock (rv_fork_lock).
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('a refused unmapping keeps its first split (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'split_kept'), 14, 2);
