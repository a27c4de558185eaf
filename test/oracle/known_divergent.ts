/**
 * Oracle regression traces (regressions/) on which the model still differs
 * from the real kernel: model bugs reported, not fixed yet. The test checks
 * that each still diverges exactly here; once fixed, take it off this list.
 * docs/oracle.md lists every divergence found and what became of it.
 */
export const KNOWN_DIVERGENT: Record<string, { op: string; what: string; why: string }> = {
  'IOMMU_TEST_OP_MD_CHECK_REFS.adjacent-anon-mmaps-one-vma.kernel-0.model-EIO.iort.jsonl': {
    op: 'IOMMU_TEST_OP_MD_CHECK_REFS',
    what: 'errno',
    why:
      '#45 (hand-written, session 12): a private anonymous mmap right after another, both MADV_HUGEPAGE, the first touched: ' +
      'the kernel merges the second into the first VMA (vma_merge_new_range), so the check\'s read fault maps the huge zero page ' +
      'over 2 MiB across both, which it does not count (0); the model keeps two VMAs and maps 4 KiB zero pages (EIO). ' +
      'VMA merging of adjacent anonymous mappings is not modelled (README; docs/oracle.md #45 has the rules the kernel showed)',
  },
};
