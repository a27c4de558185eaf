/**
 * Oracle regression traces (regressions/) on which the model still differs
 * from the real kernel: model bugs reported, not fixed yet. The test checks
 * that each still diverges exactly here; once fixed, take it off this list.
 * docs/oracle.md lists every divergence found and what became of it.
 */
export const KNOWN_DIVERGENT: Record<string, { op: string; what: string; why: string }> = {
  'IOMMU_TEST_OP_ACCESS_RW.kernel-ENOENT.model-EBADFD.iort.jsonl': {
    op: 'IOMMU_TEST_OP_ACCESS_RW',
    what: 'errno',
    why: 'an access fd works through any iommufd (selftest.c iommufd_access_get only checks f_op); the model refuses an access of another context with EBADFD',
  },
  'IOMMU_TEST_OP_ACCESS_PAGES.kernel-EOPNOTSUPP.model-EBADFD.iort.jsonl': {
    op: 'IOMMU_TEST_OP_ACCESS_PAGES',
    what: 'errno',
    why: 'the same: an access fd of a closed context, used through a new one, still reaches its access (EOPNOTSUPP: created without NEEDS_PIN_PAGES); the model says EBADFD',
  },
  'IOMMU_TEST_OP_ACCESS_REPLACE_IOAS.kernel-ENOENT.model-EBADFD.iort.jsonl': {
    op: 'IOMMU_TEST_OP_ACCESS_REPLACE_IOAS',
    what: 'errno',
    why: 'the same: ACCESS_REPLACE_IOAS through a second iommufd reaches the access of the first (then ENOENT: the IOAS ID is looked up in the access context); the model says EBADFD',
  },
};
