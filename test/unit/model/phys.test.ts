/**
 * Physical identity of pages (mm.ts newMobj, physOf), which
 * IOMMU_TEST_OP_MD_CHECK_MAP compares: the page the domain maps against the
 * page now at `uptr`. Each trace in traces/phys/ was run whole on Linux
 * 6.12.117 through the oracle and saved with its answers.
 *
 *  - phys_grown_file: a memfd made with size 0 and grown to 4 MiB, one of
 *    its pages pinned by a domain, and a check of that IOVA against a page of
 *    anonymous memory mapped after the memfd was made (EINVAL: another
 *    page), then against the memfd's own page (0); the same for a regular
 *    file. The model had given a file room for its size when made, so the
 *    grown memfd's page 256 had the physical address of the next object's
 *    page 0, and the first check passed (found reading the model, session 16).
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('physical identity of pages (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'phys'), 1, 15);
