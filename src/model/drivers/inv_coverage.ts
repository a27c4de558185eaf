/**
 * What one processed cache-invalidation entry covers, as the per-profile
 * validators (vtd_invalidate.ts, smmuv3_invalidate.ts) report it and the
 * TLB ledger (../tlb.ts) records it. Pure data; no model state.
 */
export interface InvCoverage {
  /** Every IOVA of every translation scope (and, for SMMUv3 NH_ALL, every ASID). */
  readonly all: boolean;
  /** Scope of `span`: '' = the nested HWPT's own IOVA space, 'asid:N', '*' = every scope. */
  readonly scope: string;
  /** Inclusive IOVA span, when the entry names one. */
  readonly span?: { readonly start: bigint; readonly last: bigint };
  /** Cache tags: 'atc:<vsid>', 'cd:<vsid>:<ssid>', 'cd:<vsid>:*', 'pwc' (paging-structure caches)... */
  readonly tags: readonly string[];
}

export type Validated = { readonly errno: 0; readonly cover: InvCoverage } | { readonly errno: string };
