/**
 * An access's read or write across pages by the slow path (iopt_pages_rw_slow):
 * the pfn reader fills a batch with every page of the range that no domain or
 * access holds pinned for it (pinning the rest) before it copies any of them,
 * so a page it cannot pin stops the access with nothing of that batch copied.
 * The same-mm path (copy_to_user at the owner's address) keeps what it wrote
 * before the page it could not write. Each trace in traces/access/ was run
 * whole on Linux 6.12.117 through the oracle and saved with its answers.
 *
 *  - ar_batch: writes of 6 KiB from the middle of a memfd's only page into
 *    the page past its end, by the slow path (nothing written) and by the
 *    same-mm path (the first page's part written); a read across the same
 *    pages; a 1 KiB write that crosses into the missing page (nothing). The
 *    model before (seed 170): it copied page by page, so the slow path's
 *    first page was written (2 answers wrong).
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite("an access's reads and writes across pages (Linux 6.12.117 answers)", join(import.meta.dirname, 'traces', 'access'), 1, 10);
