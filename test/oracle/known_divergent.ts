/**
 * Oracle regression traces (regressions/) on which the model still differs
 * from the real kernel: model bugs reported, not fixed yet, or answers the
 * model gives as not modelled because they hang on what no trace says. The
 * test checks that each still diverges exactly here; once fixed, take it off
 * this list. docs/oracle.md lists every divergence found and what became of it.
 */
export const KNOWN_DIVERGENT: Record<string, { op: string; what: string; why: string }> = {
  // seed 128 (#56): a read-only pin of write-only memory that a writable pin had faulted in
  'IOMMU_IOAS_MAP.write-only-present.kernel-0.model-EFAULT.iort.jsonl': {
    op: 'IOMMU_IOAS_MAP',
    what: 'unmodelled',
    why: 'pin_user_pages_fast takes a present page-table entry whatever the VMA allows; the model does not keep which entries are present (mm.ts readNeedsPtes)',
  },
  // seed 128 (#56): mlock of exec-only memory, which the oracle's CPU (no protection keys) reads
  'mlock.exec-only.kernel-0.model-ENOMEM.iort.jsonl': {
    op: 'mlock',
    what: 'unmodelled',
    why: 'with protection keys exec-only memory is execute-only and populating it fails (ENOMEM); the trace does not say which CPU it ran on (mm.ts execOnly)',
  },
  // session 16: a hand-written probe of private hugetlb mappings (a hugetlbfs memfd's beside a shared mapping of it, and
  // MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, which the model has), kept with the kernel's answers to all 44 events
  // for when the model keeps a page cache of hugetlbfs files (its meta says what they show)
  'mmap.hugetlb-private.kernel-0.model-unmodelled.iort.jsonl': {
    op: 'mmap',
    what: 'unmodelled',
    why: "the file is mapped shared first: a private mapping's read of a huge page the file's cache lacks gets a private zero page, one it has is the file's until written, and the model keeps no page cache of hugetlbfs files (mm.ts Mobj.mayCache)",
  },
};
