/**
 * The recorder (the capture shim, the oracle's executor) reads an ACCESS_RW
 * caller's buffer before the call, whatever the call answers, also when the
 * dispatcher refuses the struct's size: E2BIG (a non-zero tail) or EINVAL
 * (below the minimum, but long enough to hold `uptr`). Its read faults the
 * huge zero page into fresh MADV_HUGEPAGE memory, so a later writable pin
 * there gets 4 KiB pages and MD_CHECK_REFS of an unpinned page answers EIO.
 * Found by oracle fuzz seed 120 (test/oracle/regressions); the model had
 * made the read only once the size checks passed (#35 moved it before the
 * op's own checks). Each trace ran whole on Linux 6.12.117: rr_e2big and
 * rr_einval diverged from the model before; rr_short (too short to hold
 * `uptr`: no read) and rr_none are the controls. rr_badfd (oracle fuzz seed
 * 136, #59): the read comes also when the call goes to a closed fd (EBADF)
 * or to a file that is no iommufd (ENOTTY), where the model had not made it
 * (engine/apply.ts, model/main.ts recorderReads; 2 answers wrong
 * before); a region no such read touched gets a huge page.
 */
import { join } from 'node:path';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite("the recorder's read of an ACCESS_RW buffer (Linux 6.12.117 answers)", join(import.meta.dirname, 'traces', 'recorder_read'), 5, 5);
