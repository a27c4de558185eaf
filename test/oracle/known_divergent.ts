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
};
