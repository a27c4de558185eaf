/**
 * TLB ledgers (src/model/tlb.ts): span maps against a brute-force model,
 * stale spans, and the ledger kept by IOMMU_HWPT_INVALIDATE on mock nested
 * HWPTs and vIOMMUs with the `guest_s1_change` and `dma_write` events; the
 * event of a record found back through a Timeline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apply } from '../../../src/engine/apply.js';
import { Timeline } from '../../../src/engine/timeline.js';
import type { Event, Fields, Result } from '../../../src/events/event.js';
import { eventOfSeq } from '../../../src/model/journal.js';
import { emptyWorld, type HwptNestedObj, type KernelVersion, type World } from '../../../src/model/state.js';
import { ledgerAt, ledgerChange, ledgerInvalidate, spansAssign, spansAt, staleSpans } from '../../../src/model/tlb.js';
import { PMap } from '../../../src/ds/pmap.js';

const SEED = 0x71b;

describe('span maps and stale spans against a brute-force model', () => {
  type Op = { change: boolean; scope: string; a: number; n: number; all: boolean };
  const op = fc.record({ change: fc.boolean(), scope: fc.constantFrom('', 'asid:1', '*'), a: fc.nat(63), n: fc.integer({ min: 1, max: 20 }), all: fc.constantFrom(false, false, false, false, true) });
  it('random changes and invalidations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let led = undefined as ReturnType<typeof ledgerChange> | undefined;
        const scopes = ['', 'asid:1'];
        const ch: Record<string, number[]> = { '': Array(64).fill(0), 'asid:1': Array(64).fill(0) };
        const inv: Record<string, number[]> = { '': Array(64).fill(0), 'asid:1': Array(64).fill(0) };
        let seq = 0;
        for (const o of ops) {
          seq++;
          const a = o.a;
          const b = Math.min(63, o.a + o.n - 1);
          const span = { start: BigInt(a) * 4096n, last: BigInt(b) * 4096n + 4095n };
          if (o.change) {
            const sc = o.scope === '*' ? '' : o.scope;
            led = ledgerChange(led, sc, span.start, span.last, seq);
            for (let p = a; p <= b; p++) ch[sc]![p] = seq;
          } else {
            led = ledgerInvalidate(led, { seq, dataType: 0, index: 0, all: o.all, scope: o.scope, span, tags: [] });
            // The ledger only knows scopes it has seen; '*' and `all` reach those (plus '').
            const known = scopes.filter((s) => s === '' || led!.scopes.has(s) || s === o.scope);
            const targets = o.all || o.scope === '*' ? known : [o.scope];
            for (const sc of targets) for (let p = o.all ? 0 : a; p <= (o.all ? 63 : b); p++) inv[sc]![p] = seq;
          }
        }
        for (const sc of scopes) {
          const got = [...Array(64).keys()].map((p) => ledgerAt(led, sc, BigInt(p) * 4096n + 7n));
          expect(got.map((x) => x.changed)).toEqual(ch[sc]);
          expect(got.map((x) => x.invalidated)).toEqual(inv[sc]);
          const stale = Array(64).fill(false);
          for (const s of staleSpans(led).filter((x) => x.scope === sc)) for (let p = Number(s.start / 4096n); p <= Number(s.last / 4096n); p++) stale[p] = true;
          expect(stale, `scope '${sc}'`).toEqual(ch[sc]!.map((c, p) => c > inv[sc]![p]!));
          const part = staleSpans(led, { scope: sc, start: 10n * 4096n, last: 20n * 4096n - 1n });
          expect(part.every((s) => s.start >= 10n * 4096n && s.last < 20n * 4096n)).toBe(true);
        }
        // Neighbours with the same stamp merge: spans never touch with equal seqs.
        led?.scopes.each((_k, v) => {
          for (const m of [v.changed, v.invalidated]) {
            let prev: [bigint, { last: bigint; seq: number }] | undefined;
            let touching = false;
            m.each((k, x) => {
              if (prev && prev[1].last + 1n === k && prev[1].seq === x.seq) touching = true;
              prev = [k, x];
              return true;
            });
            expect(touching).toBe(false);
          }
          return true;
        });
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('an invalidate-all collapses a scope to one span', () => {
    let m = PMap.emptyBigint<{ last: bigint; seq: number }>();
    for (let i = 0n; i < 10n; i++) m = spansAssign(m, i * 0x2000n, i * 0x2000n + 0xfffn, Number(i) + 1);
    m = spansAssign(m, 0n, (1n << 64n) - 1n, 99);
    expect(m.size).toBe(1);
    expect(spansAt(m, 0x5000n)).toBe(99);
  });
});

const PID = 1;
function world(kernel: KernelVersion) {
  const events: Event[] = [];
  let w: World = emptyWorld({ kernel });
  const run = (ev: Event): Result => {
    events.push(ev);
    const r = apply(w, ev);
    w = r.state;
    return r.result;
  };
  const fd = run({ op: 'open', pid: PID, args: { path: '/dev/iommu' } }).ret!;
  const ioctl = (op: string, args: Fields, bufs?: Event['bufs']) => run({ op, pid: PID, fd, args, ...(bufs ? { bufs } : {}) });
  return { run, ioctl, fd, events, get w() { return w; } };
}

function u32s(...v: number[]): Uint8Array {
  const b = new Uint8Array(v.length * 4);
  v.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x, true));
  return b;
}

function nestedWorld(kernel: KernelVersion) {
  const t = world(kernel);
  t.run({ op: 'mmap', pid: PID, args: { va: 0x7f0000000000n, length: 0x100000n, kind: 'anon' } });
  const ioas = Number(t.ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }).out!['out_ioas_id']);
  t.ioctl('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: 0x7f0000000000n, length: 0x100000n, iova: 0x1000000n });
  const m = t.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN', { id: ioas, mock_domain: {} }).out!['mock_domain'] as Fields;
  const idev = Number(m['out_idev_id']);
  const parent = Number(t.ioctl('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: idev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }).out!['out_hwpt_id']);
  const nested = Number(t.ioctl('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: idev, pt_id: parent, data_type: 0xdead, data_len: 4, data_uptr: 0x1000n, fault_id: 0 }, { data_uptr: u32s(0xbadbeef) }).out!['out_hwpt_id']);
  expect(t.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: Number(m['out_stdev_id']), mock_domain_replace: { pt_id: nested } }).errno).toBe(0);
  const inval = (entries: [number, number][]) =>
    t.ioctl('IOMMU_HWPT_INVALIDATE', { hwpt_id: nested, data_uptr: 0x2000n, data_type: 0xdeadbeef, entry_len: 8, entry_num: entries.length, __reserved: 0 }, { data_uptr: u32s(...entries.flat()) });
  const hwpt = () => t.w.ctxs.get(1)!.objs.get(nested) as HwptNestedObj;
  return Object.assign(t, { ioas, idev, parent, nested, inval, hwpt });
}

describe('ledgers kept by the model', () => {
  it('mock nested HWPT: guest change, DMA through stale translations, word and ALL invalidations', () => {
    const t = nestedWorld('6.12');
    expect(t.run({ op: 'guest_s1_change', pid: PID, args: { fd: t.fd, hwpt_id: t.nested, iova: 0x1004000n, length: 0x2000n } }).errno).toBe(0);
    expect(staleSpans(t.hwpt().tlb).map((s) => [s.start, s.last])).toEqual([[0x1004000n, 0x1005fffn]]);
    // DMA over the changed range: written through stage 2, and flagged stale.
    const r = t.run({ op: 'dma_write', pid: PID, args: { fd: t.fd, dev_id: t.idev, iova: 0x1005000n, length: 0x2000n } });
    expect(r.out).toEqual({ written: 0x2000n, faulted: 0n });
    const stale = [...t.w.journal.faults.values()].filter((f) => f.kind === 'stale_tlb');
    expect(stale.map((f) => [f.iova, f.last, f.hwpt])).toEqual([[0x1005000n, 0x1005fffn, t.nested]]);
    // A single IOTLB word carries no IOVA meaning: still stale; its tag is recorded.
    expect(t.inval([[0, 2]]).out).toEqual({ entry_num: 1 });
    expect(staleSpans(t.hwpt().tlb).length).toBe(1);
    expect(t.hwpt().tlb!.tags.get('iotlb:2')).toBeGreaterThan(0);
    // FLAG_ALL with a bad iotlb_id is refused before anything is invalidated (selftest.c order).
    expect(t.inval([[1, 4]]).out).toEqual({ entry_num: 0 });
    expect(t.inval([[1, 4]]).errno).toBe('EINVAL');
    expect(staleSpans(t.hwpt().tlb).length).toBe(1);
    const allAt = t.events.length;
    expect(t.inval([[1, 0]]).errno).toBe(0);
    expect(staleSpans(t.hwpt().tlb)).toEqual([]);
    expect(ledgerAt(t.hwpt().tlb, '', 0x1004000n).stale).toBe(false);
    // "At which event": the ALL record's seq leads back to the invalidation.
    const recs = [...t.hwpt().tlb!.log.values()];
    expect(recs.map((x) => [x.index, x.all, x.tags.length])).toEqual([[0, false, 1], [0, true, 4]]);
    const tl = new Timeline(t.events, { kernel: '6.12', checkpointEvery: 4 });
    expect(eventOfSeq((k) => tl.stateAt(k), tl.length, recs[1]!.seq)).toBe(allAt);
    expect(tl.events[allAt]!.op).toBe('IOMMU_HWPT_INVALIDATE');
  });

  it('mock vIOMMU (6.14): each processed entry records the device cache words it cleared', () => {
    const t = nestedWorld('6.14');
    const viommu = Number(t.ioctl('IOMMU_VIOMMU_ALLOC', { flags: 0, type: 0xdeadbeef, dev_id: t.idev, hwpt_id: t.parent }).out!['out_viommu_id']);
    expect(t.ioctl('IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: t.idev, virt_id: 0x99n }).errno).toBe(0);
    const r = t.ioctl('IOMMU_HWPT_INVALIDATE', { hwpt_id: viommu, data_uptr: 0x2000n, data_type: 0xdeadbeef, entry_len: 12, entry_num: 3, __reserved: 0 }, { data_uptr: u32s(0, 0x99, 1, 1, 0x99, 0, 0, 0x98, 0) });
    expect(r).toEqual({ errno: 'EINVAL', out: { entry_num: 2 } });
    const v = t.w.ctxs.get(1)!.objs.get(viommu);
    expect(v?.type).toBe('viommu');
    const tags = v?.type === 'viommu' ? [...v.tlb!.tags.keys()] : [];
    expect(tags.sort()).toEqual(['vdev:0x99:cache:0', 'vdev:0x99:cache:1', 'vdev:0x99:cache:2', 'vdev:0x99:cache:3']);
    // guest_s1_change on a vIOMMU needs a scope.
    expect(t.run({ op: 'guest_s1_change', pid: PID, args: { fd: t.fd, hwpt_id: viommu, iova: 0n, length: 0x1000n } }).errno).toBe('EINVAL');
    expect(t.run({ op: 'guest_s1_change', pid: PID, args: { fd: t.fd, hwpt_id: viommu, iova: 0n, length: 0x1000n, scope: 'asid:3' } }).errno).toBe(0);
  });
});
