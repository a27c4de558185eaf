/**
 * Refusals no campaign had compared (the model's branches that a model-only
 * fuzz run and the kernel-answered tests both left unexecuted, session 15),
 * each answer Linux 6.12.117's through the oracle: GET_HW_INFO with a
 * non-zero __reserved or flags (EOPNOTSUPP); the mock's DIRTY op past 2^27
 * bits (EOVERFLOW, before the HWPT lookup's ENOENT), with no bitmap
 * (EINVAL); IOAS_COPY whose destination range would pass 2^64 (EOVERFLOW)
 * or ends at it (EINVAL); ACCESS_PAGES with an unknown flag (EOPNOTSUPP,
 * after the 16 MiB length check's ENOMEM). memfd_flags: memfd_create's
 * flags (EINVAL for an unknown one, the huge page size bits without
 * MFD_HUGETLB, MFD_EXEC with MFD_NOEXEC_SEAL, a name of 250 bytes; the
 * sealing flags taken, and a NOEXEC_SEAL memfd still mapped PROT_EXEC), which
 * the model had ignored (8 answers wrong before). file_1tib: a regular file
 * the trace sized to exactly 1 TiB, read and written there (the model took
 * that size for its mark of a file of unknown size and answered 4 of the 7
 * as not modelled, until session 16 moved the mark past MAX_LFS_FILESIZE).
 * memfd_names: names of 249 and 250 bytes, of 2-byte characters, and one with a
 * NUL inside, which ends it (strnlen_user; the model had counted past it).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { emptyWorld } from '../../../src/model/state.js';
import { kernelTraceSuite } from './checked_run.js';

kernelTraceSuite('guard clauses (Linux 6.12.117 answers)', join(import.meta.dirname, 'traces', 'guards'), 4, 5);

describe('memfd_create(MFD_HUGETLB)', () => {
  it('with a page size x86-64 has no pool of is ENODEV, with nothing made', () => {
    const w = emptyWorld({ kernel: '6.12' });
    const r = apply(w, { op: 'memfd_create', pid: 1, args: { name: 'ram', flags: 0x4 | (16 << 26) } });
    expect(r.result).toEqual({ errno: 'ENODEV' });
    expect(r.state).toBe(w);
    // 2 MiB, named or the default, is a hugetlbfs file (hugetlbfs.test.ts); so is 1 GiB (gigantic.test.ts)
    for (const flags of [0x4, 0x4 | (21 << 26), 0x4 | (30 << 26)]) expect(apply(w, { op: 'memfd_create', pid: 1, args: { name: 'ram', flags } }).result).toEqual({ errno: 0, ret: 0 });
    // the size bits without MFD_HUGETLB are an unknown flag
    expect(apply(w, { op: 'memfd_create', pid: 1, args: { name: 'ram', flags: 21 << 26 } }).result.errno).toBe('EINVAL');
  });
});
