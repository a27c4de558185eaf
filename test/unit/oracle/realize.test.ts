/**
 * How the oracle campaign makes template sequences concrete
 * (src/oracle/fuzz.ts `realize`): as in the model fuzzer's commands, a
 * template that needs a resource first gets the calls creating it, then
 * resolves to itself, and every event keeps the index of its template (the
 * shrinker cuts templates, and the tail past a divergence is found by it).
 * And what the generator reaches with it: RLIMIT_MODE set on a fresh
 * context, and pins charged in MM mode.
 */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import type { Template } from '../../../src/fuzz/index.js';
import { emptyWorld } from '../../../src/model/state.js';
import { generate, realize } from '../../../src/oracle/fuzz.js';

const NEWEST: Template['fd'] = { $: 'fd', kind: 'iommufd', k: -1 };
const rlimitMode = (op: number, val64: bigint): Template => ({ op: 'IOMMU_OPTION', pid: 0, fd: NEWEST, args: { option_id: 0, op, __reserved: 0, object_id: 0, val64 } });

describe('realize', () => {
  it("runs a template's constructors, then the template itself, each event owned by its template", () => {
    const r = realize([rlimitMode(0, 1n), rlimitMode(1, 0n)])!;
    // the setup (/dev/iommu and IOAS 1), then a new context for the option (the setup's has an object)
    expect(r.events.map((e) => e.op)).toEqual(['open', 'IOMMU_IOAS_ALLOC', 'open', 'IOMMU_OPTION', 'IOMMU_OPTION']);
    expect(r.owner).toEqual([-1, -1, 0, 0, 1]);
    expect(r.results.map((x) => x.errno)).toEqual([0, 0, 0, 0, 0]);
    expect(r.events[3]!.fd).toBe(r.results[2]!.ret); // set on the new context's fd
    expect(r.results[4]!.out).toEqual({ val64: 1n }); // which is now in MM mode
  });

  it('a template marked not to construct is its own event: RLIMIT_MODE on the setup context is EBUSY', () => {
    const r = realize([{ ...rlimitMode(0, 1n), noConstruct: true }])!;
    expect(r.events.map((e) => e.op)).toEqual(['open', 'IOMMU_IOAS_ALLOC', 'IOMMU_OPTION']);
    expect(r.owner).toEqual([-1, -1, 0]);
    expect(r.results[2]!.errno).toBe('EBUSY');
  });
});

describe('what the generated sequences reach', () => {
  it('RLIMIT_MODE set on a fresh context, and pins charged to a process in MM mode', () => {
    const kinds = ['open', 'IOMMU_OPTION', 'drop_capability', 'set_rlimit_memlock', 'IOMMU_IOAS_MAP', 'IOMMU_IOAS_UNMAP', 'IOMMU_TEST_OP_MOCK_DOMAIN', 'mmap', 'IOMMU_DESTROY', 'IOMMU_IOAS_ALLOC'];
    const { seqs } = generate(3, 300, 200, kinds, 0);
    let set = 0;
    let mmPins = 0;
    for (const s of seqs) {
      let w = emptyWorld({ kernel: '6.12' });
      let pinned = false;
      s.events.forEach((ev, i) => {
        const a = ev.args;
        if (ev.op === 'IOMMU_OPTION' && a?.['option_id'] === 0 && a['op'] === 0 && s.results[i]!.errno === 0) set++;
        w = apply(w, ev).state;
        w.ctxs.each((_id, c) => {
          c.pages.each((_p, p) => !(pinned ||= p.account === 'mm' && p.npinned > 0));
          return !pinned;
        });
      });
      if (pinned) mmPins++;
    }
    expect(set).toBeGreaterThan(10);
    expect(mmPins).toBeGreaterThan(0);
  });
});
