/**
 * Oracle regression traces (regressions/) on which the model still differs
 * from the real kernel: model bugs reported, not fixed yet. The test checks
 * that each still diverges exactly here; once fixed, take it off this list.
 * docs/oracle.md lists every divergence found and what became of it.
 */
export const KNOWN_DIVERGENT: Record<string, { op: string; what: string; why: string }> = {
  'IOMMU_TEST_OP_MD_CHECK_REFS.huge-page-across-pieces.kernel-0.model-EIO.iort.jsonl': {
    op: 'IOMMU_TEST_OP_MD_CHECK_REFS',
    what: 'errno',
    why:
      '#42 (seed 80): a MADV_DONTNEED of one page of untouched MADV_HUGEPAGE memory, then a writable pin of the 2 MiB around it: ' +
      'the kernel VMA is whole, so the pin faults in a transparent huge page, which MD_CHECK_REFS does not count (0); the model keeps ' +
      "the DONTNEED'd page as a piece of its own (another memory object) and a huge page across two objects is not modelled, so it " +
      'gives 4 KiB pages and counts them (EIO). huge_memory.ts names the limit',
  },
};
