/**
 * pagesWith (pages.ts) builds a pages object field by field instead of
 * spreading it: it must give what a spread gives, every field of its input
 * in the same order, for user pages and for file pages (the optional memory
 * object). (A new required Pages field fails to compile in pagesWith; a new
 * optional one belongs in these fixtures.)
 */
import { describe, expect, it } from 'vitest';
import { PMap } from '../../../src/ds/pmap.js';
import { pagesWith } from '../../../src/model/pages.js';
import type { Pages, PinRun } from '../../../src/model/state.js';

const user: Pages = { id: 3, base: 0x7f0000000000n, npages: 4, writable: true, account: 'user', ownerPid: 1, ownerUid: 0, pinned: PMap.emptyNumber<PinRun>(), npinned: 0, areaRefs: 1 };
const file: Pages = { ...user, id: 4, fileMobj: 9 };

describe('pagesWith', () => {
  for (const [name, p] of [['user pages', user], ['file pages', file]] as const) {
    it(`keeps every field of ${name}, in order, and replaces only the three it is given`, () => {
      const pinned = PMap.emptyNumber<PinRun>().set(0, { last: 1, count: 1, mobj: 2, mobjIndex: 0 });
      const q = pagesWith(p, pinned, 2, 5);
      expect(Object.keys(q)).toEqual(Object.keys(p));
      expect(q).toEqual({ ...p, pinned, npinned: 2, areaRefs: 5 });
    });
  }

  it("keeps last_npinned where it still differs from npinned, and drops it where they meet (6.14 CHANGE_PROCESS's leftover)", () => {
    const behind: Pages = { ...file, npinned: 4, lastNpinned: 0 };
    expect(pagesWith(behind, behind.pinned, 3, 1)).toEqual({ ...behind, npinned: 3 });
    const met = pagesWith(behind, behind.pinned, 0, 1);
    expect(met).toEqual({ ...file, npinned: 0 });
    expect('lastNpinned' in met).toBe(false);
  });
});
