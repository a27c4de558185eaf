/**
 * Against the real kernel (QEMU): the bundled traces that fit 6.12 agree
 * with the model, a small fuzz campaign runs end to end, and a planted model
 * bug is caught. Run with `npm run test:oracle`; skipped with the reason
 * where the oracle cannot run (no qemu-system-x86_64, gcc or kit).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/events/event.js';
import { openSource } from '../../src/engine/source.js';
import { checkTraces } from '../../src/oracle/check.js';
import { bootOnce, oracleUnavailable } from '../../src/oracle/boot.js';
import { encodeInput } from '../../src/oracle/encode.js';
import { fuzzOracle } from '../../src/oracle/fuzz.js';
import { benchOracleVmm } from '../../src/oracle/bench.js';
import { decodeRecords, kernelAnswer, RecordDecoder, type Rec } from '../../src/oracle/results.js';
import { KNOWN_DIVERGENT } from './known_divergent.js';

const why = oracleUnavailable();
if (why) console.warn(`oracle tests skipped: ${why}`);

async function load(path: string): Promise<Event[]> {
  const src = await openSource(path);
  const out: Event[] = [];
  for await (const ev of src.events) out.push(ev);
  return out;
}

describe.skipIf(!!why)('the real 6.12 kernel', () => {
  it('agrees with the model on every bundled trace that fits 6.12; the others are reported not checkable', async () => {
    const files = readdirSync('traces').filter((f) => f.endsWith('.iort')).sort();
    const traces = await Promise.all(files.map(async (f) => ({ name: f, events: await load(join('traces', f)) })));
    const s = await checkTraces(traces);
    for (const r of s.results) expect(r.verdict, `${r.name}: ${r.reason ?? ''} ${JSON.stringify(r.firstDivergence?.what ?? '')}`).toMatch(/^(agree|not-checkable)$/);
    expect(s.results.find((r) => r.name === 'selftest-mock-domain.iort')!.verdict).toBe('agree');
    expect(s.boots).toBe(1);
    expect(s.kernel_splats).toEqual([]);
  });

  it('takes the answers from the kernel, not from the trace; refuses what 6.12 lacks', async () => {
    const events: Event[] = [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 }, rec: { errno: 'EPERM' } },
      { op: 'IOMMU_DESTROY', fd: 0, args: { id: 1 } },
      { op: 'IOMMU_DESTROY', fd: 0, args: { id: 1 } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: null },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 }, size: 4 },
      { op: 'IOMMU_VIOMMU_ALLOC', fd: 0, args: {} },
    ];
    const s = await checkTraces([
      { name: 'good', events: events.slice(0, 6) },
      { name: 'not checkable', events },
    ], { keepEvents: true });
    expect(s.results[0]).toMatchObject({ verdict: 'agree', kernelIoctls: 5 });
    expect(s.results[0]!.kernelEvents!.map((e) => e.rec?.errno)).toEqual([0, 0, 0, 'ENOENT', 'EFAULT', 'EINVAL']);
    expect(s.results[1]!.verdict).toBe('not-checkable');
    expect(s.results[1]!.checkedPrefix).toBe(6);
  });

  it('catches a real divergence: the known model bugs, re-run on the kernel, diverge exactly as recorded', async () => {
    const names = Object.keys(KNOWN_DIVERGENT);
    const traces = await Promise.all(names.map(async (f) => ({ name: f, events: await load(join('test/oracle/regressions', f)) })));
    const s = await checkTraces(traces);
    for (const r of s.results) {
      expect(r.verdict, r.name).toBe('diverge');
      expect({ op: r.firstDivergence!.op, what: r.firstDivergence!.what }).toEqual({ op: KNOWN_DIVERGENT[r.name]!.op, what: KNOWN_DIVERGENT[r.name]!.what });
    }
  });

  it('a small fuzz campaign runs end to end, with the kernel answering every generated ioctl', async () => {
    const s = await fuzzOracle({ seed: 7, ioctls: 1, batch: 60, maxSteps: 20, shrink: false });
    expect(s.boots).toBe(1);
    expect(s.sequences).toBeGreaterThan(50);
    expect(s.kernel_ioctls).toBeGreaterThan(200);
    expect(s.errors).toBe(0);
  });

  it('binary records: streamed as they come, and the ioctl shortcut answers as the capture importer does on every real answer', async () => {
    const events = await load('traces/selftest-mock-domain.iort');
    const { input } = encodeInput([{ name: 'm', events }]);
    const streamed = new RecordDecoder(input);
    const done: string[] = [];
    const b = await bootOnce(input, { onRecords: (c) => done.push(...streamed.push(c).map((t) => t.name)) });
    expect(done).toEqual(['m']);
    const recs = decodeRecords(b.records, input).get('m')!;
    expect(recs.status).toBe('ok');
    let compared = 0;
    for (const [i, rs] of recs.byEvent) {
      const r = rs[rs.length - 1]!;
      if (r['kind'] !== 'ioctl') continue;
      expect(kernelAnswer(events[i]!, r), `event ${i} ${events[i]!.op}`).toEqual(kernelAnswer(events[i]!, JSON.parse(JSON.stringify(r)) as Rec));
      compared++;
    }
    expect(compared).toBeGreaterThan(800);
  });

  it('the vmm bench workload, two guests at once, agrees with the model', async () => {
    const r = await benchOracleVmm({ traces: 4, events: 500, guests: 2 });
    expect(r).toMatchObject({ oracle_divergences: 0, oracle_guests: 2 });
    expect(r.oracle_kernel_ioctls).toBeGreaterThan(1900);
  });

  it('1 GiB hugetlb pages: with a 1 GiB pool (--gigantic) the kernel agrees with the model; without one it refuses them', async () => {
    const dir = join(import.meta.dirname, '..', 'unit', 'model', 'traces', 'gigantic');
    const traces = await Promise.all(readdirSync(dir).filter((f) => f.endsWith('.iort.jsonl')).sort().map(async (f) => ({ name: f, events: await load(join(dir, f)) })));
    expect(traces.length).toBe(3);
    const s = await checkTraces(traces, { gigantic: 3 });
    expect(s.results.map((r) => [r.name, r.verdict])).toEqual(traces.map((t) => [t.name, 'agree']));
    // (the kit's own CPU has no GBPAGES, so its kernel has no 1 GiB pool: the program's first look
    // at it, an open of the pool's sysfs file, is already ENOENT)
    const plain = await checkTraces(traces.slice(0, 1));
    expect(plain.results[0]!.verdict).toBe('diverge');
    expect(plain.results[0]!.firstDivergence).toMatchObject({ op: 'open', event: { args: { path: expect.stringContaining('hugepages-1048576kB') } } });
  });

  it("a maps snapshot the guest cannot realize (it cuts a 1 GiB page's VMA) makes what follows an error, not a divergence", async () => {
    // (gigantic campaign seed 300: the executor left the hugetlb VMA as it was, read-only, and said nothing)
    const VA = 0x7f0000000000n;
    const events: Event[] = [
      { op: 'open', args: { path: '/dev/iommu' } },
      { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
      { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
      { op: 'mmap', args: { va: VA, length: 0x400000n, kind: 'anon_hugetlb', prot: 1, flags: 30 << 26 } },
      { op: 'maps', args: { maps: [{ start: VA, end: VA + 0x400000n, perms: 'rw-s', path: '/dev/zero (deleted)' }] } },
      { op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 6, ioas_id: 1, __reserved: 0, user_va: VA + 0x5a000n, length: 0xa000n, iova: 0n } },
    ];
    const s = await checkTraces([{ name: 'maps-cuts-1g', events }], { gigantic: 1 });
    expect(s.results[0]).toMatchObject({ verdict: 'error', reason: expect.stringMatching(/refused event 4 \(maps/) });
  });
});
