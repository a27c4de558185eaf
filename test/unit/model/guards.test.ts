/**
 * Refusals no campaign had compared (the model's branches that a model-only
 * fuzz run and the kernel-answered tests both left unexecuted, session 15),
 * each answer Linux 6.12.117's through the oracle: GET_HW_INFO with a
 * non-zero __reserved or flags (EOPNOTSUPP); the mock's DIRTY op past 2^27
 * bits (EOVERFLOW, before the HWPT lookup's ENOENT), with no bitmap
 * (EINVAL); IOAS_COPY whose destination range would pass 2^64 (EOVERFLOW)
 * or ends at it (EINVAL); ACCESS_PAGES with an unknown flag (EOPNOTSUPP,
 * after the 16 MiB length check's ENOMEM).
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('guard clauses (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'guards'), 1, 15);
