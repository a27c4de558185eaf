/**
 * Oracle throughput through the whole loop: events made concrete on the
 * model, encoded, run on the real kernel (boots included), the records
 * imported and every answer compared with the model's.
 *
 * Two workloads (docs/oracle.md, "Throughput"):
 * - `vmm`: what a VMM does for a guest with a mock device: long traces of
 *   small DMA-buffer maps and unmaps at guest-chosen IOVAs, with the odd
 *   IOVA_RANGES and MD_CHECK_MAP — `oracle_ioctls_per_sec` in npm run bench;
 * - `fuzz`: the differential fuzz campaign's own loop (short hostile
 *   sequences, one fresh process each) — `oracle_fuzz_ioctls_per_sec`.
 */
import type { Event, Result } from '../events/event.js';
import { apply } from '../engine/apply.js';
import { compare } from '../engine/replay.js';
import { emptyWorld } from '../model/state.js';
import { encodeInput } from './encode.js';
import { bootOnce, oracleGuests, oracleUnavailable, type OracleEnv } from './boot.js';
import { RecordDecoder, withKernelAnswers, type TraceRecords } from './results.js';
import { fuzzOracle } from './fuzz.js';
import { xorshift } from '../bench/vm_trace.js';

const GUEST = 0x7f0000000000n;
const RAM = 0x1000000n; // 16 MiB of guest RAM per trace
const APERTURE = 0x1000000n;

/** One VMM-style trace: guest RAM, an IOAS with a mock device, DMA-buffer map/unmap churn. */
export function vmmTrace(seed: number, events: number): Event[] {
  const rnd = xorshift(seed);
  const out: Event[] = [
    { op: 'open', args: { path: '/dev/iommu' } },
    { op: 'mmap', args: { va: GUEST, length: RAM, kind: 'anon', prot: 3 } },
    { op: 'IOMMU_IOAS_ALLOC', fd: 0, args: { flags: 0 } },
    { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', fd: 0, args: { id: 1, mock_domain: {} } },
  ];
  const slots: (bigint | undefined)[] = new Array(64);
  while (out.length < events) {
    const r = rnd() % 100;
    const s = rnd() % slots.length;
    const iova = APERTURE + BigInt(s) * 0x100000n;
    if (r < 4) out.push({ op: 'IOMMU_IOAS_IOVA_RANGES', fd: 0, args: { ioas_id: 1, num_iovas: 2, allowed_iovas: 0x10000n } });
    else if (r < 8 && slots[s] !== undefined) out.push({ op: 'IOMMU_TEST_OP_MD_CHECK_MAP', fd: 0, args: { id: 4, check_map: { iova, length: 0x1000n, uptr: slots[s]! } } });
    else if (slots[s] === undefined) {
      const pages = 1n + BigInt(rnd() % 16);
      const va = GUEST + BigInt(rnd() % Number((RAM - pages * 0x1000n) / 0x1000n)) * 0x1000n;
      slots[s] = va;
      out.push({ op: 'IOMMU_IOAS_MAP', fd: 0, args: { flags: 7, ioas_id: 1, __reserved: 0, user_va: va, length: pages * 0x1000n, iova } });
    } else {
      slots[s] = undefined;
      out.push({ op: 'IOMMU_IOAS_UNMAP', fd: 0, args: { ioas_id: 1, iova, length: 0x100000n } });
    }
  }
  return out;
}

export interface OracleBench {
  oracle_ioctls_per_sec: number;
  oracle_kernel_ioctls: number;
  oracle_seconds: number;
  oracle_boot_seconds: number;
  oracle_divergences: number;
  oracle_guests: number;
  /** Host seconds spent on the model's answers and on judging (overlapped with the guests). */
  oracle_host_seconds: number;
}

/**
 * The `vmm` workload: `traces` traces of `events` events, timed end to end:
 * split between `guests` guests booted at once, each trace judged as soon
 * as its records stream out of its guest.
 */
export async function benchOracleVmm(opts: OracleEnv & { traces?: number; events?: number; guests?: number } = {}): Promise<OracleBench> {
  const t0 = performance.now();
  const traces: { name: string; events: Event[]; results?: Result[] }[] = [];
  for (let i = 0; i < (opts.traces ?? 40); i++) traces.push({ name: `v${i}`, events: vmmTrace(0x5eed + i, opts.events ?? 2500) });
  const byName = new Map(traces.map((t) => [t.name, t]));
  const guests = Math.max(1, Math.min(opts.guests ?? oracleGuests(), traces.length));
  const groups: (typeof traces)[] = Array.from({ length: guests }, () => []);
  traces.forEach((t, i) => groups[i % guests]!.push(t));
  /** The model's answers for a trace (computed while the guests boot, or when its records arrive first). */
  let host = 0;
  const model = (t: (typeof traces)[number]): Result[] => {
    if (t.results) return t.results;
    const h0 = performance.now();
    const results: Result[] = [];
    let w = emptyWorld({ kernel: '6.12' });
    for (const ev of t.events) {
      const r = apply(w, ev);
      w = r.state;
      results.push(r.result);
    }
    host += performance.now() - h0;
    return (t.results = results);
  };
  let ioctls = 0;
  let divergences = 0;
  const judged = new Set<string>();
  const judge = (r: TraceRecords) => {
    const t = byName.get(r.name);
    if (!t) throw new Error(`benchOracle: records for an unknown trace ${r.name}`);
    if (r.status !== 'ok') throw new Error(`benchOracle: trace ${r.name} ended with ${r.status} in the guest`);
    const results = model(t);
    const h0 = performance.now();
    ioctls += r.ioctls;
    const k = withKernelAnswers(t.events, r);
    k.events.forEach((ev, i) => {
      if (ev.rec && compare(ev, results[i]!)) divergences++;
    });
    judged.add(r.name);
    host += performance.now() - h0;
  };
  // The guests boot while the host encodes their inputs (the executor waits for its input) and computes the model's answers.
  const decoders: RecordDecoder[] = [];
  const inputs: ((input: Uint8Array | Error) => void)[] = [];
  const boots = groups.map((_g, i) =>
    bootOnce(() => new Promise<Uint8Array>((res, rej) => (inputs[i] = (v) => (v instanceof Error ? rej(v) : res(v)))), {
      ...opts,
      onRecords: (c) => decoders[i]!.push(c).forEach(judge),
    }),
  );
  groups.forEach((g, i) => {
    try {
      const { input } = encodeInput(g);
      decoders[i] = new RecordDecoder(input);
      inputs[i]?.(input);
    } catch (e) {
      inputs[i]?.(e as Error);
    }
  });
  // (yielding between traces, so the records keep streaming in)
  for (const t of traces) {
    model(t);
    await new Promise((res) => setImmediate(res));
  }
  const done = await Promise.all(boots);
  for (const t of traces) if (!judged.has(t.name)) throw new Error(`benchOracle: no records for trace ${t.name}`);
  const seconds = (performance.now() - t0) / 1000;
  return {
    oracle_ioctls_per_sec: Math.round(ioctls / seconds),
    oracle_kernel_ioctls: ioctls,
    oracle_seconds: Math.round(seconds * 100) / 100,
    oracle_boot_seconds: Math.round(Math.max(...done.map((b) => b.seconds)) * 100) / 100,
    oracle_divergences: divergences,
    oracle_guests: guests,
    oracle_host_seconds: Math.round(host / 10) / 100,
  };
}

/**
 * npm run bench's oracle figures, or null where the oracle cannot run (no
 * QEMU, gcc or kit): the `vmm` workload, plus the fuzz campaign's loop
 * unless `quick`.
 */
export async function benchOracle(opts: OracleEnv & { quick?: boolean } = {}): Promise<Record<string, number> | null> {
  if (oracleUnavailable(opts)) return null;
  const v = await benchOracleVmm({ ...opts, traces: opts.quick ? 10 : 40 });
  const out: Record<string, number> = { ...v };
  if (!opts.quick) {
    const f = await fuzzOracle({ ...opts, seed: 1, ioctls: 1, batch: 1000, shrink: false });
    out['oracle_fuzz_ioctls_per_sec'] = f.kernel_ioctls_per_sec;
    out['oracle_fuzz_kernel_ioctls'] = f.kernel_ioctls;
  }
  return out;
}
