/**
 * Oracle regression traces (regressions/) on which the model still differs
 * from the real kernel: model bugs reported, not fixed yet. The test checks
 * that each still diverges exactly here; once fixed, take it off this list.
 * docs/oracle.md lists every divergence found and what became of it.
 */
export const KNOWN_DIVERGENT: Record<string, { op: string; what: string; why: string }> = {
  // #52 (seed 120): a known limit of the huge-page bookkeeping (docs/oracle.md #52)
  'IOMMU_TEST_OP_MD_CHECK_REFS.huge-page-over-moved-piece.kernel-0.model-EIO.iort.jsonl': {
    op: 'IOMMU_TEST_OP_MD_CHECK_REFS',
    what: 'errno',
    why:
      'mremap moved 64 KiB out of a MADV_HUGEPAGE region whose object holds a huge page further on, and grew it to 4 MiB; a write pin then faults the ' +
      'first 2 MiB of the new VMA, which the kernel fills with one huge page. The model registers a folio in each piece object at the index its ' +
      "first page would have there, and the moved piece's object already has a folio at indices that range overlaps: the model cannot hold both, " +
      'so it maps 4 KiB pages, and MD_CHECK_REFS of an unpinned page there counts a reference the kernel does not (EIO, the kernel 0)',
  },
};
