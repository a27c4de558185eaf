/**
 * A generated trace whose state is large: `live` 4 KiB mappings of hugetlb
 * guest RAM in one IOAS with a mock domain, then random churn (a random
 * slot's mapping unmapped, or mapped again from elsewhere in the RAM). Where
 * the VM-style trace (vm_trace.ts) keeps 1,000 areas, this one keeps
 * hundreds of thousands, as a guest with a vIOMMU and a busy NIC does, and
 * its changes land all over the state's trees: the shape that fills the
 * debugger's checkpoints fastest. Deterministic (xorshift, fixed seed).
 */
import type { Event } from '../events/event.js';
import { xorshift } from './vm_trace.js';

export interface LargeStateTraceOptions {
  events: number;
  /** Mappings made first and kept live (at most 500,000: one 4 KiB slot each in the mock aperture's 2 GiB). */
  live?: number;
  seed?: number;
}

const GUEST_RAM_VA = 0x7f0000000000n;
const RAM = 4n << 30n;
const SLOT = 0x1000n;
const BASE = 0x1000000n;

export function* largeStateTrace(opts: LargeStateTraceOptions): Generator<Event> {
  const live = Math.min(opts.live ?? 300_000, 500_000);
  const rnd = xorshift(opts.seed ?? 0x1a7e);
  const ramPages = Number(RAM / SLOT);
  const map = (slot: number, page: number): Event => ({
    op: 'IOMMU_IOAS_MAP',
    pid: 1,
    fd: 0,
    args: { ioas_id: 1, flags: 7, user_va: GUEST_RAM_VA + BigInt(page) * SLOT, length: SLOT, iova: BASE + BigInt(slot) * SLOT, __reserved: 0 },
  });
  const head: Event[] = [
    { op: 'open', pid: 1, args: { path: '/dev/iommu' } },
    { op: 'mmap', pid: 1, args: { va: GUEST_RAM_VA, length: RAM, kind: 'anon_hugetlb' } },
    { op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } },
    { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 1, mock_domain: {} } },
  ];
  let n = 0;
  for (const ev of head) if (n++ < opts.events) yield ev;
  const on = new Uint8Array(live);
  for (let s = 0; s < live && n < opts.events; s++, n++) {
    on[s] = 1;
    yield map(s, s * 2);
  }
  while (n++ < opts.events) {
    const s = rnd() % live;
    if (on[s]) yield { op: 'IOMMU_IOAS_UNMAP', pid: 1, fd: 0, args: { ioas_id: 1, iova: BASE + BigInt(s) * SLOT, length: SLOT } };
    else yield map(s, rnd() % ramPages);
    on[s] ^= 1;
  }
}
