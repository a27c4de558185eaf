/**
 * Writes the hand-written sample traces of traces/ (see traces/README.md):
 *
 *   traces/live-migration-dirty.iort        Linux 6.12, dirty-tracking pre-copy loop
 *   traces/nested-mock-viommu-invalidate.iort  Linux 6.14, nested guest through the mock vIOMMU
 *   traces/pri-fault-storm.iort             Linux 6.12, a storm of page requests and responses
 *
 * Deterministic: a fixed-seed PRNG, no clock. Every recorded result (`rec`)
 * is derived here from the rules of ../shared/docs/kernel-semantics.md — the
 * ID allocator (§2.2), fd numbers (§13.9), the dirty-bitmap layout (§7.2),
 * invalidation entry rules (§8), the fault queue, cookies and record layout
 * (§9.4) — by small bookkeeping in this file, never by asking the model.
 * After writing, each trace is replayed against the model; a divergence is a
 * disagreement between the model and this reading of the spec and fails the
 * run.
 *
 * Run from the repository root: `npx tsc -p tsconfig.json && node dist/tools/gen_samples.js [--check]`
 * (`--check`: regenerate in memory and compare with the committed files).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Event, Fields, Recorded } from '../src/events/event.js';
import { replay } from '../src/engine/replay.js';
import { encodeTrace, writeTrace, type KernelVersion } from '../src/trace/index.js';

/** The repository root, from tools/ (vitest) or dist/tools/ (node). */
const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = join(HERE, HERE.includes('/dist/tools') ? '../..' : '..');

// ---------------------------------------------------------------- helpers

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** §2.2: the lowest free ID >= 1; destroyed IDs are reused. */
class Ids {
  private used = new Set<number>();
  alloc(): number {
    let i = 1;
    while (this.used.has(i)) i++;
    this.used.add(i);
    return i;
  }
  free(id: number): void {
    if (!this.used.delete(id)) throw new Error(`gen_samples: freeing unknown id ${id}`);
  }
}

function le32(...v: number[]): Uint8Array {
  const b = new Uint8Array(v.length * 4);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => dv.setUint32(i * 4, x >>> 0, true));
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A trace under construction: the process (pid 1) with stdio open, talking to one iommufd. */
class Script {
  readonly events: Event[] = [];
  readonly ids = new Ids();
  fd = 3;
  constructor(readonly kernel: KernelVersion) {
    this.events.push({ op: 'external_fds', pid: 1, args: { fds: [0, 1, 2] }, src: 'stdio before the trace' });
  }
  env(op: string, args: Fields, rec: Recorded, extra: Partial<Event> = {}): void {
    this.events.push({ op, pid: 1, args, ...extra, rec });
  }
  ioctl(op: string, args: Fields, rec: Recorded, bufs?: Event['bufs'], src?: string): void {
    this.events.push({ op, pid: 1, fd: this.fd, args, ...(bufs ? { bufs } : {}), rec, ...(src ? { src } : {}) });
  }
  note(text: string): void {
    this.events.push({ op: 'note', pid: 1, args: { text } });
  }
}

const OK: Recorded = { errno: 0 };
const MOCK_DOMAIN = (s: Script, pt: number, autoHwpt: boolean) => {
  // §12.3: the selftest object, then the DEVICE (bind), then the HWPT attached (an automatic one is allocated last).
  const stdev = s.ids.alloc();
  const idev = s.ids.alloc();
  const hwpt = autoHwpt ? s.ids.alloc() : pt;
  s.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN', { id: pt, mock_domain: {} }, { errno: 0, out: { mock_domain: { out_stdev_id: stdev, out_hwpt_id: hwpt, out_idev_id: idev } } });
  return { stdev, idev, hwpt };
};

// ---------------------------------------------------------------- live migration

/**
 * A VMM migrating a guest with one DMA-capable device: guest RAM (16 MiB of
 * 4 KiB anonymous memory, so the mock maps it with 2 KiB IOPTEs) and a 64 KiB
 * read-only ROM; a dirty-tracking HWPT; a pre-copy loop where the device
 * keeps writing while the VMM reads and clears the dirty bitmap and copies
 * what it reports; a stop-and-copy round; tracking off; teardown.
 */
export function liveMigration(): Script {
  const s = new Script('6.12');
  const rnd = prng(0x11fe);
  const RAM_VA = 0x7f0000000000n;
  const RAM_IOVA = 0x1000000n;
  const RAM = 16n << 20n;
  const ROM_VA = 0x7f0010000000n;
  const ROM_IOVA = 0x3000000n;
  const ROM = 0x10000n;
  const PAGE = 4096n;
  const nbits = RAM / PAGE;
  const BITMAP_VA = 0x7f00f0000000n;
  s.env('mmap', { va: RAM_VA, length: RAM, kind: 'anon' }, { errno: 0, ret: 0 });
  s.env('mmap', { va: ROM_VA, length: ROM, kind: 'anon', prot: 1 }, { errno: 0, ret: 0 });
  s.env('mmap', { va: BITMAP_VA, length: 0x10000n, kind: 'private_anon' }, { errno: 0, ret: 0 });
  s.env('open', { path: '/dev/iommu' }, { errno: 0, ret: 3 });
  const ioas = s.ids.alloc();
  s.ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }, { errno: 0, out: { out_ioas_id: ioas } });
  const dev = MOCK_DOMAIN(s, ioas, true);
  // A dirty-tracking HWPT for the device, then move the device onto it; the automatic HWPT loses its last device and goes (§2.6).
  const hwpt = s.ids.alloc();
  s.ioctl('IOMMU_HWPT_ALLOC', { flags: 2, dev_id: dev.idev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, { errno: 0, out: { out_hwpt_id: hwpt } });
  s.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: dev.stdev, mock_domain_replace: { pt_id: hwpt } }, { errno: 0, out: { mock_domain_replace: { pt_id: hwpt } } });
  s.ids.free(dev.hwpt);
  s.ioctl('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: RAM_VA, length: RAM, iova: RAM_IOVA }, { errno: 0, out: { iova: RAM_IOVA } });
  s.ioctl('IOMMU_IOAS_MAP', { flags: 5, ioas_id: ioas, user_va: ROM_VA, length: ROM, iova: ROM_IOVA }, { errno: 0, out: { iova: ROM_IOVA } });

  const getBitmap = (flags: number, dirtyPages: Set<bigint>, src: string) => {
    // §7.2: bit n = page (addr - iova) >> log2(page_size); the kernel only sets bits, the buffer starts zeroed.
    const bm = new Uint8Array(Number(nbits / 8n));
    for (const p of dirtyPages) bm[Number(p >> 3n)]! |= 1 << Number(p & 7n);
    s.ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', { hwpt_id: hwpt, flags, iova: RAM_IOVA, length: RAM, page_size: PAGE, data: BITMAP_VA }, { errno: 0, bufs: { data: bm } }, { data: new Uint8Array(bm.length) }, src);
  };
  /** Pages a DMA write of [iova, iova+len) dirties at 2 KiB IOPTE granularity, reported per 4 KiB page. */
  const pagesOf = (iova: bigint, len: bigint) => {
    const out: bigint[] = [];
    for (let slot = iova / 2048n; slot <= (iova + len - 1n) / 2048n; slot++) {
      const p = (slot * 2048n - RAM_IOVA) / PAGE;
      if (!out.includes(p)) out.push(p);
    }
    return out;
  };
  const memory = new Map<bigint, number>(); // RAM byte offset -> value, for what the VMM reads back
  const dma = (iova: bigint, len: bigint, src: string) => {
    const data = new Uint8Array(Number(len));
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(rnd() * 256);
    const inRam = (a: bigint) => a >= RAM_IOVA && a < RAM_IOVA + RAM;
    let written = 0n;
    for (let i = 0n; i < len; i++) if (inRam(iova + i)) {
      written++;
      memory.set(iova + i - RAM_IOVA, data[Number(i)]!);
    }
    s.env('dma_write', { fd: s.fd, dev_id: dev.idev, iova, length: len }, { errno: 0, out: { written, faulted: len - written } }, { bufs: { data }, src });
    return data;
  };

  s.note('pre-copy: tracking on; the first read finds nothing (enabling clears)');
  s.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: hwpt }, OK);
  getBitmap(0, new Set(), 'pre-copy round 0');
  for (let round = 1; round <= 6; round++) {
    const dirty = new Set<bigint>();
    const writes = Math.max(1, 40 >> round);
    let last: { iova: bigint; data: Uint8Array } | undefined;
    for (let i = 0; i < writes; i++) {
      const page = BigInt(Math.floor(rnd() * Number(RAM / PAGE)));
      const off = BigInt(Math.floor(rnd() * 4) * 1024);
      const len = BigInt([8, 512, 2048, 4096, 6000][Math.floor(rnd() * 5)]!);
      const iova = RAM_IOVA + page * PAGE + off;
      const safeLen = iova + len > RAM_IOVA + RAM ? RAM_IOVA + RAM - iova : len;
      last = { iova, data: dma(iova, safeLen, `round ${round} write ${i}`) };
      for (const p of pagesOf(iova, safeLen)) dirty.add(p);
    }
    getBitmap(0, dirty, `pre-copy round ${round}`);
    // The VMM copies a page the bitmap reported: it holds what the device wrote.
    const copyLen = BigInt(Math.min(last!.data.length, 64));
    s.env('read_memory', { va: RAM_VA + (last!.iova - RAM_IOVA), length: copyLen }, { errno: 0, bufs: { data: last!.data.subarray(0, Number(copyLen)) } });
  }
  s.note('writes the IOMMU refuses: to the read-only ROM, and across the end of RAM into unmapped IOVA');
  dma(ROM_IOVA + 0x100n, 0x200n, 'write to ROM');
  const tail = dma(RAM_IOVA + RAM - 0x800n, 0x1000n, 'write across the end of RAM');
  void tail;
  s.note('stop-and-copy: peek without clearing, read and clear, then nothing is left');
  const final = new Set(pagesOf(RAM_IOVA + RAM - 0x800n, 0x800n));
  getBitmap(1, final, 'stop-and-copy NO_CLEAR');
  getBitmap(0, final, 'stop-and-copy read-and-clear');
  getBitmap(1, new Set(), 'stop-and-copy NO_CLEAR after clearing');
  s.note('tracking off: writes still land but nothing is reported');
  s.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 0, hwpt_id: hwpt }, OK);
  dma(RAM_IOVA + 0x5000n, 0x100n, 'write with tracking off');
  getBitmap(0, new Set(), 'after tracking off');
  s.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova: ROM_IOVA, length: ROM }, { errno: 0, out: { length: ROM } });
  s.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova: RAM_IOVA, length: RAM }, { errno: 0, out: { length: RAM } });
  s.ioctl('IOMMU_DESTROY', { id: dev.stdev }, OK);
  s.ioctl('IOMMU_DESTROY', { id: hwpt }, OK);
  s.ioctl('IOMMU_DESTROY', { id: ioas }, OK);
  s.env('close', { fd: 3 }, OK);
  void memory;
  return s;
}

// ---------------------------------------------------------------- nested guest through the mock vIOMMU

/**
 * The flow of a nested SMMUv3 guest (stage-2 in a nesting-parent HWPT, a
 * vIOMMU, a vDEVICE per guest stream ID, stage-1 in a nested HWPT through
 * the vIOMMU, guest invalidations forwarded as IOMMU_HWPT_INVALIDATE) on the
 * selftest mock vIOMMU — the SMMUv3 hardware profile is not what this trace
 * uses; its commands are the mock's (§8, §12.1).
 */
export function nestedViommu(): Script {
  const s = new Script('6.14');
  const RAM_VA = 0x7f0000000000n;
  const GPA = 0x1000000n; // stage-2 input: the guest's physical address of its RAM
  const RAM = 4n << 20n;
  const IOTLB = 0xbadbeef;
  const CACHE = 0xbaddad;
  const INV = 0xdeadbeef;
  s.env('mmap', { va: RAM_VA, length: RAM, kind: 'anon' }, { errno: 0, ret: 0 });
  s.env('open', { path: '/dev/iommu' }, { errno: 0, ret: 3 });
  const ioas = s.ids.alloc();
  s.ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }, { errno: 0, out: { out_ioas_id: ioas } });
  s.ioctl('IOMMU_IOAS_MAP', { flags: 7, ioas_id: ioas, user_va: RAM_VA, length: RAM, iova: GPA }, { errno: 0, out: { iova: GPA } });
  const dev = MOCK_DOMAIN(s, ioas, true);
  const s2 = s.ids.alloc();
  s.ioctl('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: dev.idev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, { errno: 0, out: { out_hwpt_id: s2 } }, undefined, 'stage 2: nesting parent');
  const viommu = s.ids.alloc();
  s.ioctl('IOMMU_VIOMMU_ALLOC', { flags: 0, type: 0xdeadbeef, dev_id: dev.idev, hwpt_id: s2 }, { errno: 0, out: { out_viommu_id: viommu } });
  const SID = 0x10n;
  const vdev = s.ids.alloc();
  s.ioctl('IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: dev.idev, virt_id: SID }, { errno: 0, out: { out_vdevice_id: vdev } }, undefined, 'guest stream ID 0x10');
  // §10: a virt_id is unique per vIOMMU; the aborted object's ID is freed.
  s.ioctl('IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: dev.idev, virt_id: SID }, { errno: 'EEXIST' });
  const s1 = s.ids.alloc();
  s.ioctl('IOMMU_HWPT_ALLOC', { flags: 0, dev_id: dev.idev, pt_id: viommu, data_type: 0xdead, data_len: 4, data_uptr: 0x7f00f0000000n, fault_id: 0 }, { errno: 0, out: { out_hwpt_id: s1 } }, { data_uptr: le32(IOTLB) }, 'stage 1: the guest context');
  s.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: dev.stdev, mock_domain_replace: { pt_id: s1 } }, { errno: 0, out: { mock_domain_replace: { pt_id: s1 } } });
  s.ids.free(dev.hwpt);
  const checkIotlb = (idx: number, v: number, errno: 0 | string = 0) => s.ioctl('IOMMU_TEST_OP_MD_CHECK_IOTLB', { id: s1, check_iotlb: { id: idx, iotlb: v } }, { errno });
  const checkCache = (idx: number, v: number) => s.ioctl('IOMMU_TEST_OP_DEV_CHECK_CACHE', { id: dev.idev, check_dev_cache: { id: idx, cache: v } }, OK);
  for (let i = 0; i < 4; i++) checkIotlb(i, IOTLB);
  for (let i = 0; i < 4; i++) checkCache(i, CACHE);

  const inv = (hwptId: number, dataType: number, entryLen: number, entries: Uint8Array, n: number, errno: 0 | string, done: number, src: string) =>
    s.ioctl('IOMMU_HWPT_INVALIDATE', { hwpt_id: hwptId, data_uptr: n ? 0x7f00f0001000n : 0n, data_type: dataType, entry_len: entryLen, entry_num: n }, { errno, out: { entry_num: done } }, n ? { data_uptr: entries } : undefined, src);

  s.note('the guest maps a buffer in its stage-1 table and starts DMA before invalidating: the journal flags stale_tlb');
  s.env('guest_s1_change', { fd: 3, hwpt_id: s1, iova: GPA + 0x100000n, length: 0x4000n }, OK);
  s.env('dma_write', { fd: 3, dev_id: dev.idev, iova: GPA + 0x100000n, length: 0x1000n }, { errno: 0, out: { written: 0x1000n, faulted: 0n } });
  s.note('probe the data type, then invalidate through the nested HWPT');
  inv(s1, INV, 8, new Uint8Array(0), 0, 0, 0, 'entry_num 0 probes the data type');
  inv(s1, 0, 8, le32(0, 0), 1, 'EINVAL', 0, 'wrong data type');
  inv(s1, INV, 8, le32(0, 1, 0, 5), 2, 'EINVAL', 1, 'iotlb_id 5 > 3: the first entry stays done');
  checkIotlb(1, 0);
  checkIotlb(0, IOTLB);
  inv(s1, INV, 8, le32(1, 4), 1, 'EINVAL', 0, 'iotlb_id is checked even with FLAG_ALL');
  inv(s1, INV, 8, le32(2, 0), 1, 'EOPNOTSUPP', 0, 'unknown flag');
  inv(s1, INV, 8, le32(1, 0), 1, 0, 1, 'FLAG_ALL');
  for (let i = 0; i < 4; i++) checkIotlb(i, 0);
  s.env('dma_write', { fd: 3, dev_id: dev.idev, iova: GPA + 0x101000n, length: 0x1000n }, { errno: 0, out: { written: 0x1000n, faulted: 0n } });
  s.note('device caches through the vIOMMU (the vDEVICE names the guest stream ID)');
  const VINV = (flags: number, vdevId: number, cache: number) => le32(flags, vdevId, cache);
  inv(viommu, INV, 12, VINV(0, 0x10, 2), 1, 0, 1, 'cache word 2 of SID 0x10');
  checkCache(2, 0);
  checkCache(1, CACHE);
  inv(viommu, INV, 12, concat([VINV(0, 0x10, 0), VINV(0, 0x11, 0)]), 2, 'EINVAL', 1, 'SID 0x11 has no vDEVICE');
  checkCache(0, 0);
  inv(viommu, INV, 12, VINV(0, 0x10, 4), 1, 'EINVAL', 0, 'cache_id > 3');
  inv(viommu, INV, 12, VINV(2, 0x10, 0), 1, 'EOPNOTSUPP', 0, 'unknown flag');
  inv(viommu, INV, 16, concat([VINV(1, 0x10, 0), le32(7)]), 1, 'E2BIG', 0, 'a longer entry with a non-zero tail');
  inv(viommu, INV, 16, concat([VINV(1, 0x10, 0), le32(0)]), 1, 0, 1, 'a longer entry with a zero tail; FLAG_ALL');
  checkCache(3, 0);
  inv(s2, INV, 8, le32(1, 0), 1, 'EINVAL', 0, 'the nesting parent takes no user invalidation (6.14: EINVAL)');
  s.note('teardown in dependency order (§10)');
  s.ioctl('IOMMU_DESTROY', { id: viommu }, { errno: 'EBUSY' });
  const auto = s.ids.alloc();
  s.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: dev.stdev, mock_domain_replace: { pt_id: ioas } }, { errno: 0, out: { mock_domain_replace: { pt_id: auto } } });
  s.ioctl('IOMMU_DESTROY', { id: s1 }, OK);
  s.ioctl('IOMMU_DESTROY', { id: viommu }, { errno: 'EBUSY' }, undefined, 'the vDEVICE still holds it');
  s.ioctl('IOMMU_DESTROY', { id: vdev }, OK);
  s.ioctl('IOMMU_DESTROY', { id: viommu }, OK);
  s.ioctl('IOMMU_DESTROY', { id: s2 }, OK);
  s.ioctl('IOMMU_DESTROY', { id: dev.stdev }, OK);
  s.ioctl('IOMMU_DESTROY', { id: ioas }, OK);
  s.env('close', { fd: 3 }, OK);
  return s;
}

// ---------------------------------------------------------------- PRI storm

/**
 * A device under a guest with PRI: a nested HWPT with a fault object; bursts
 * of page requests (single-page groups from TRIGGER_IOPF and the `iopf`
 * event, multi-page groups with partial requests, PASID and not); a VMM
 * service loop reading up to 8 records at a time and answering what it read
 * (SUCCESS, sometimes INVALID, sometimes a round late); the 6.12 EINVAL of a
 * read too small for the first group; stale and bad responses; the device
 * moved away with groups still pending (answered automatically).
 */
export function priStorm(): Script {
  const s = new Script('6.12');
  const rnd = prng(0x5717);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  s.env('open', { path: '/dev/iommu' }, { errno: 0, ret: 3 });
  const ioas = s.ids.alloc();
  s.ioctl('IOMMU_IOAS_ALLOC', { flags: 0 }, { errno: 0, out: { out_ioas_id: ioas } });
  const dev = MOCK_DOMAIN(s, ioas, true);
  const parent = s.ids.alloc();
  s.ioctl('IOMMU_HWPT_ALLOC', { flags: 1, dev_id: dev.idev, pt_id: ioas, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 }, { errno: 0, out: { out_hwpt_id: parent } });
  const fault = s.ids.alloc();
  const faultFd = 4;
  s.ioctl('IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }, { errno: 0, out: { out_fault_id: fault, out_fault_fd: faultFd } });
  const nested = s.ids.alloc();
  s.ioctl('IOMMU_HWPT_ALLOC', { flags: 4, dev_id: dev.idev, pt_id: parent, data_type: 0xdead, data_len: 4, data_uptr: 0x7f00f0000000n, fault_id: fault }, { errno: 0, out: { out_hwpt_id: nested } }, { data_uptr: le32(0xbadbeef) });
  s.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: dev.stdev, mock_domain_replace: { pt_id: nested } }, { errno: 0, out: { mock_domain_replace: { pt_id: nested } } });
  s.ids.free(dev.hwpt);

  // §9.3/§9.4 bookkeeping: partials by grpid, the FIFO delivery queue, awaiting groups by cookie.
  type Rec = { flags: number; pasid: number; grpid: number; perm: number; addr: bigint };
  const partial: Rec[] = [];
  const queue: Rec[][] = [];
  const awaiting = new Map<number, Rec[]>();
  const raise = (r: Omit<Rec, 'flags'>, last: boolean, pasidValid: boolean, viaTestOp: boolean) => {
    const flags = (last ? 2 : 0) | (pasidValid ? 1 : 0);
    const rec: Rec = { ...r, flags };
    if (viaTestOp) s.ioctl('IOMMU_TEST_OP_TRIGGER_IOPF', { id: 0, trigger_iopf: { dev_id: dev.idev, pasid: r.pasid, grpid: r.grpid, perm: r.perm, addr: r.addr } }, OK);
    else {
      const args: Fields = { fd: 3, dev_id: dev.idev, grpid: r.grpid, perm: r.perm, addr: r.addr, last_page: last };
      if (pasidValid) args['pasid'] = r.pasid;
      s.env('iopf', args, { errno: 0, out: { outcome: last ? 'queued' : 'partial' } });
    }
    if (!last) {
      partial.push(rec);
      return;
    }
    const mine = partial.filter((p) => p.grpid === r.grpid);
    for (const p of mine) partial.splice(partial.indexOf(p), 1);
    queue.push([...mine, rec]);
  };
  const pgfault = (r: Rec, cookie: number) => {
    const b = new Uint8Array(40);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, r.flags, true);
    dv.setUint32(4, dev.idev, true);
    dv.setUint32(8, r.pasid, true);
    dv.setUint32(12, r.grpid, true);
    dv.setUint32(16, r.perm, true);
    dv.setBigUint64(24, r.addr, true);
    dv.setUint32(36, cookie, true);
    return b;
  };
  const read = (records: number): number[] => {
    const count = records * 40;
    const out: Uint8Array[] = [];
    const cookies: number[] = [];
    let done = 0;
    while (queue.length && done + queue[0]!.length * 40 <= count) {
      const g = queue.shift()!;
      let cookie = 1;
      while (awaiting.has(cookie)) cookie++;
      awaiting.set(cookie, g);
      cookies.push(cookie);
      for (const r of g) out.push(pgfault(r, cookie));
      done += g.length * 40;
    }
    if (!done && queue.length) s.env('read_fault_fd', { fd: faultFd, count }, { errno: 'EINVAL' }, { src: '6.12: the first group does not fit' });
    else s.env('read_fault_fd', { fd: faultFd, count }, { errno: 0, ret: done, bufs: { data: concat(out) } });
    return cookies;
  };
  const respond = (answers: [number, number][]) => {
    const data = concat(answers.map(([c, code]) => le32(c, code)));
    let done = 0;
    let errno: 0 | string = 0;
    for (const [c, code] of answers) {
      if (code > 1 || !awaiting.has(c)) {
        errno = 'EINVAL';
        break;
      }
      awaiting.delete(c);
      done += 8;
    }
    s.env('write_fault_fd', { fd: faultFd }, done ? { errno: 0, ret: done } : { errno, ret: 0 }, { bufs: { data } });
  };

  let late: number[] = [];
  for (let burst = 0; burst < 30; burst++) {
    const n = 2 + Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) {
      const grpid = Math.floor(rnd() * 512);
      const pasid = pick([0, 0, 1, 2]);
      const addr = 0x400000n + BigInt(Math.floor(rnd() * 4096)) * 0x1000n;
      const perm = pick([1, 2, 3]);
      if (rnd() < 0.25) {
        // A multi-page group from the iopf event: partials first, then the last page.
        const pages = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < pages; k++) raise({ pasid, grpid, perm, addr: addr + BigInt(k) * 0x1000n }, false, pasid !== 0, false);
        raise({ pasid, grpid, perm, addr: addr + BigInt(pages) * 0x1000n }, true, pasid !== 0, false);
      } else raise({ pasid, grpid, perm, addr }, true, pasid !== 0, rnd() < 0.5);
    }
    // Sometimes the VMM reads with a buffer too small for the oldest group (6.12: EINVAL).
    if (queue.length && queue[0]!.length > 1 && rnd() < 0.5) read(1);
    const got = read(8);
    const answers: [number, number][] = [...late.map((c): [number, number] => [c, 0]), ...got.filter(() => rnd() < 0.85).map((c): [number, number] => [c, rnd() < 0.1 ? 1 : 0])];
    late = got.filter((c) => !answers.some(([a]) => a === c));
    if (answers.length) respond(answers);
  }
  s.note('a response to a cookie already answered, and a bad response code');
  const stale = [...awaiting.keys()];
  respond([[999, 0]]);
  if (stale.length) respond([[stale[0]!, 2]]);
  s.note('drain what is queued, leave some unanswered, then move the device away: the kernel answers the rest INVALID');
  while (queue.length) read(8);
  raise({ pasid: 0, grpid: 7, perm: 1, addr: 0x900000n }, true, false, true);
  const pending = [...awaiting.keys()];
  const auto = s.ids.alloc();
  s.ioctl('IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: dev.stdev, mock_domain_replace: { pt_id: ioas } }, { errno: 0, out: { mock_domain_replace: { pt_id: auto } } });
  queue.length = 0;
  awaiting.clear();
  if (pending.length) respond([[pending[0]!, 0]]);
  read(8);
  s.ioctl('IOMMU_DESTROY', { id: nested }, OK);
  s.env('close', { fd: faultFd }, OK);
  s.ioctl('IOMMU_DESTROY', { id: fault }, OK);
  s.ioctl('IOMMU_DESTROY', { id: parent }, OK);
  s.ioctl('IOMMU_DESTROY', { id: dev.stdev }, OK);
  s.env('close', { fd: 3 }, OK);
  return s;
}

// ---------------------------------------------------------------- main

export const SAMPLES: { file: string; build: () => Script; what: string }[] = [
  { file: 'live-migration-dirty.iort', build: liveMigration, what: 'live-migration dirty-tracking loop (mock device, 2 KiB IOPTEs)' },
  { file: 'nested-mock-viommu-invalidate.iort', build: nestedViommu, what: 'nested guest through the selftest mock vIOMMU, with invalidations (SMMUv3-style flow, mock commands)' },
  { file: 'pri-fault-storm.iort', build: priStorm, what: 'PRI page-fault storm with responses (mock device, nested HWPT with a fault object)' },
];

const header = (name: string, s: Script, what: string) => ({
  kernel: s.kernel,
  meta: { sample: name, what, generator: 'tools/gen_samples.ts', rec: 'derived from kernel-semantics.md by the generator, not from the model' },
});

export function encodeSample(name: string, s: Script, what: string): Uint8Array {
  return encodeTrace(header(name, s, what), s.events);
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  let bad = 0;
  for (const { file, build, what } of SAMPLES) {
    const s = build();
    const path = join(REPO, 'traces', file);
    const bytes = encodeSample(file, s, what);
    if (check) {
      const same = Buffer.compare(Buffer.from(readFileSync(path)), Buffer.from(bytes)) === 0;
      console.log(`${file}: ${same ? 'up to date' : 'DIFFERS from the generator'}`);
      if (!same) bad++;
    } else await writeTrace(path, header(file, s, what), s.events);
    const r = await replay(s.events, { kernel: s.kernel });
    console.log(`${file}: ${r.events} events, ${r.verified} verified, ${r.divergences} divergences`);
    if (r.first_divergence) {
      const d = r.first_divergence;
      console.log(`  first: #${d.index} ${d.op} ${d.src ?? ''} ${d.what}: expected ${String(JSON.stringify(d.expected, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))} actual ${String(JSON.stringify(d.actual, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))}`);
      bad++;
    }
  }
  return bad ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((c) => process.exit(c));
}
