/**
 * A generated VM-style trace, as a vIOMMU guest makes QEMU issue them:
 * guest RAM mapped in large chunks at boot, then heavy map/unmap churn of
 * 4 KiB..2 MiB DMA buffers at guest-chosen IOVAs. Deterministic (xorshift
 * PRNG with a fixed seed), so every run measures the same work.
 */
import type { Event } from '../events/event.js';

export interface VmTraceOptions {
  events: number;
  /** Live buffer mappings kept during the churn (the working set). */
  live?: number;
  seed?: number;
  guestRamGiB?: number;
}

const GUEST_RAM_VA = 0x7f0000000000n;
const GIB = 1n << 30n;

/** A tiny deterministic PRNG (xorshift32): benchmarks and generated traces must be reproducible. */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** The events of the trace, lazily (a 1M-event trace never has to sit in memory as a whole). */
export function* vmTrace(opts: VmTraceOptions): Generator<Event> {
  const rnd = xorshift(opts.seed ?? 0x5eed);
  const ram = BigInt(opts.guestRamGiB ?? 4) * GIB;
  const live = Math.min(opts.live ?? 1000, 1000); // 1000 slots of 2 MiB fit in the mock aperture
  let n = 0;
  const emit = function* (ev: Event) {
    n++;
    yield ev;
  };
  yield* emit({ op: 'open', pid: 1, args: { path: '/dev/iommu' } });
  yield* emit({ op: 'mmap', pid: 1, args: { va: GUEST_RAM_VA, length: ram, kind: 'anon_hugetlb' } });
  yield* emit({ op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } }); // IOAS 1: guest RAM (GPA space)
  yield* emit({ op: 'IOMMU_IOAS_ALLOC', pid: 1, fd: 0, args: { flags: 0 } }); // IOAS 2: the vIOMMU's IOVA space
  yield* emit({ op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 1, mock_domain: {} } });
  yield* emit({ op: 'IOMMU_TEST_OP_MOCK_DOMAIN', pid: 1, fd: 0, args: { id: 2, mock_domain: {} } });
  // Boot: guest RAM into IOAS 1 in 256 MiB chunks at GPA = offset (inside the mock aperture only the first 2 GiB fit).
  const chunk = 256n << 20n;
  for (let off = 0n; off + chunk <= ram && 0x1000000n + off + chunk - 1n <= 0x7fffffffn; off += chunk)
    yield* emit({ op: 'IOMMU_IOAS_MAP', pid: 1, fd: 0, args: { ioas_id: 1, flags: 7, user_va: GUEST_RAM_VA + off, length: chunk, iova: 0x1000000n + off, __reserved: 0 } });
  // Churn: the guest maps DMA buffers at IOVAs it picks and unmaps them later.
  const slots: (bigint | undefined)[] = new Array(live);
  const slotSize = 0x200000n;
  const base = 0x1000000n;
  while (n < opts.events) {
    const s = rnd() % live;
    const iova = base + BigInt(s) * slotSize;
    if (slots[s] === undefined) {
      const pages = 1 + (rnd() % 512);
      const length = BigInt(pages) * 0x1000n;
      const gpa = (BigInt(rnd() % Number(ram / 0x200000n)) * 0x200000n) % (ram - length);
      slots[s] = length;
      yield* emit({ op: 'IOMMU_IOAS_MAP', pid: 1, fd: 0, args: { ioas_id: 2, flags: 7, user_va: GUEST_RAM_VA + gpa, length, iova, __reserved: 0 } });
    } else {
      slots[s] = undefined;
      yield* emit({ op: 'IOMMU_IOAS_UNMAP', pid: 1, fd: 0, args: { ioas_id: 2, iova, length: 0x200000n } });
    }
  }
}
