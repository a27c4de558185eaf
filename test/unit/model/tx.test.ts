/**
 * The transaction's write overlays (object.ts): what a handler writes is
 * what it reads back, whatever the number of keys (an overlay is written
 * through to the persistent maps past a few keys), and the committed
 * context holds exactly the final value of every key.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { Tx } from '../../../src/model/object.js';
import { emptyWorld, type IoasObj, type Pages, type World } from '../../../src/model/state.js';
import { emptyIopt } from '../../../src/model/io_pagetable.js';
import { PMap } from '../../../src/ds/pmap.js';

function worldWithCtx(): World {
  return apply(emptyWorld({ kernel: '6.12' }), { op: 'open', args: { path: '/dev/iommu' } }).state;
}

const ioas = (id: number, users: number): IoasObj => ({ type: 'ioas', id, users, iopt: emptyIopt(), hwpts: [] });
const pages = (id: number, areaRefs: number): Pages => ({
  id,
  base: 0x1000n * BigInt(id),
  npages: 1,
  writable: true,
  account: 'user',
  ownerPid: 1,
  ownerUid: 0,
  pinned: PMap.emptyNumber(),
  npinned: 0,
  areaRefs,
});

describe('Tx overlays', () => {
  for (const n of [1, 3, 15, 16, 17, 40]) {
    it(`${n} objects and pages objects written, rewritten and some removed in one transaction`, () => {
      const w = worldWithCtx();
      const ctx = w.ctxs.toArray()[0]![1];
      const tx = new Tx(w, ctx, 1);
      for (let id = 1; id <= n; id++) {
        tx.put(ioas(id, 1));
        tx.putPages(pages(id, 1));
      }
      for (let id = 1; id <= n; id++) {
        tx.put(ioas(id, id + 1));
        tx.putPages(pages(id, id + 1));
        if (id % 3 === 0) {
          tx.remove(id);
          tx.dropPages(id);
        }
      }
      // read back before and after the Ctx is built
      const check = (get: (id: number) => IoasObj | undefined, getPages: (id: number) => Pages | undefined) => {
        for (let id = 1; id <= n; id++) {
          if (id % 3 === 0) {
            expect(get(id)).toBeUndefined();
            expect(getPages(id)).toBeUndefined();
          } else {
            expect(get(id)?.users).toBe(id + 1);
            expect(getPages(id)?.areaRefs).toBe(id + 1);
          }
        }
      };
      check(
        (id) => tx.get(id, 'ioas'),
        (id) => (id % 3 === 0 ? undefined : tx.pages(id)),
      );
      if (n >= 3) expect(() => tx.pages(3)).toThrow(/missing pages object 3/);
      const c = tx.commit().ctxs.get(ctx.id)!;
      check(
        (id) => c.objs.get(id) as IoasObj | undefined,
        (id) => c.pages.get(id),
      );
      expect(c.objs.size).toBe(n - Math.floor(n / 3));
      expect(c.pages.size).toBe(n - Math.floor(n / 3));
      // an allocation sees every write: the lowest free ID is the first removed one (or n + 1)
      const t2 = new Tx(tx.commit(), c, 1);
      t2.put(ioas(n + 5, 1));
      t2.remove(1);
      const got = t2.alloc((id) => ioas(id, 1))!;
      expect(got.id).toBe(1);
    });
  }
});
