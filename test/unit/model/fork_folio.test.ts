/**
 * A transparent huge page shared by fork, some of whose pages a pin then
 * copied out (src/model/pages.ts folioPinned). The pinned pages are 4 KiB
 * pages of their own, other folios: their pins are not the huge page's, so
 * the next fork shares the huge page again (it is not folio_maybe_dma_pinned)
 * and `MADV_COLD` may split it. The model had counted the pins at the
 * copied-out indices as the huge page's (oracle fuzz seed 132, docs/oracle.md
 * #57). Both traces are Linux 6.12.117's answers through the oracle; the
 * model before the fix gave two answers of each wrong:
 *  - ff_fork_again: a second fork after the pin; the check of a page of the
 *    huge page is 0 in both children and the parent (a compound page is not
 *    counted), of a copied-out page EIO in the second child (its copy has no
 *    pin) and 0 in the parent; a pin in the second child copies its page out;
 *  - ff_cold: the first child gone, MADV_COLD over part of the huge page
 *    splits it (its pages then counted), and a fork after that.
 * And a read through GUP with FOLL_PIN that is not long-term (process_vm_readv,
 * how the recorder and the executor read; pin_user_pages_remote of one page by
 * ACCESS_RW's slow path) unshares the copy-on-write pages fork left
 * (huge_memory.ts FaultKind 'gup-read'; oracle fuzz seed 141, #60):
 *  - gr_read: the pages read become 4 KiB copies in the reader (counted), the
 *    rest of the huge page stays compound, the other process keeps it (4
 *    answers wrong before);
 *  - gr_nofork: without fork, or after the child exited, a read changes
 *    nothing;
 *  - gr_access: ACCESS_RW's slow path within one page unshares that page (1
 *    answer wrong before).
 * And fork copies page tables only of a VMA with an anon_vma (copy_page_range's
 * vma_needs_copy; oracle fuzz seed 146, #61):
 *  - fk_tables: a 4 KiB read fault (the zero page) gives none, so the child's
 *    fault after MADV_HUGEPAGE gets the huge zero page where the parent keeps
 *    its page table; a written page gives one, and the child keeps the table
 *    (1 answer wrong before).
 *  - ff_dofork: what decides is what the fork did, not the VMA's flag at the
 *    write: MADV_DOFORK after the fork of the part it did not copy, then a
 *    store or pin there, copies nothing; MADV_DONTFORK after it of the part
 *    it copied, then a store, copies; a second fork that leaves out a part
 *    the first shared leaves its pages shared (huge_memory.ts Mobj.thpShared;
 *    4 answers wrong before, docs/oracle.md #72).
 *  - ff_mremap_shared: a page moved by mremap keeps what fork made of it: a
 *    shared one moved and written is copied, one of a part fork left out is
 *    not, a child's move and pin copies in the child, and moved back over
 *    its old place it is the parent's copy (the model's answers before too).
 *  - ff_cold_copied: MADV_COLD or PAGEOUT of pages a store copied out of a
 *    huge page meets only those 4 KiB pages, and leaves the huge page whole;
 *    a range that also holds a page of the huge page splits it (oracle fuzz
 *    seed 184, #73: the model split it by the range's indices alone; 1 answer
 *    wrong before).
 * A VMA fork did not copy (MADV_DONTFORK) keeps its pages exclusive although
 * the huge page they are in was shared with the child through its other VMA
 * (oracle fuzz seed 171, #68):
 *  - ff_dontfork: a writable pin there takes the huge page's own page
 *    (compound: refs not counted), one in the copied part copies it out
 *    (1 answer wrong before).
 *  - ff_cold_shared: MADV_COLD of a page of a huge page fork shared leaves
 *    it whole, also when its first page was unmapped before the fork: both
 *    processes map its other 511 pages, 1022 entries, more than its pages.
 * MADV_COLD asks folio_likely_mapped_shared (huge_memory.ts folioMappings):
 * more entries than pages, or a PMD beside another mapping, is shared; else
 * the kernel guesses from the first page alone (oracle fuzz seed 175, #70:
 * an mremap had moved the first page away, and the kernel split the page):
 *  - ff_likely_shared: nine huge pages, each cut differently before and
 *    after a fork; 512 entries without the first page split, 514 do not;
 *    the first page mapped in both does not, mapped in one alone (the child
 *    maps others) does; a PMD beside the child's entries does not. A split
 *    shows in the child too (8 answers wrong before).
 *  - fork_pinned_zapped, fork_pinned_zapped_piece (session 32, #107): a huge
 *    page with a pinned page a DONTNEED then zapped is still pinned: the
 *    child gets copies of its pages, also where the huge page is across the
 *    model's pieces and the pinned page's object is mapped nowhere any more
 *    (the second diverged before, 3 answers).
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('a forked huge page: pins, and reads that unshare it (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'fork_folio'), 14, 10);
