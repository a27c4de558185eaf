/**
 * Event templates: events whose IDs, fds, addresses and cookies are
 * symbolic ("the 2nd live IOAS", "the start of the 1st area of that IOAS",
 * "a cookie read earlier") and are resolved against the state at the moment
 * the event is applied. This is how syzkaller-style resources work with
 * fast-check's model-based testing: commands are generated before the run,
 * stay meaningful when shrinking removes others, and mostly name things that
 * exist.
 *
 * A symbol is a plain object with a `$` key (event fields never have `$`
 * keys: the trace formats reserve them), so templates print and serialise.
 */
import type { Event, Fields, Result, Value } from '../events/event.js';
import type { Ctx, FileKind, IoasObj, Obj, ObjType, OpenFile, World } from '../model/state.js';
import { structLayout } from '../uapi/versions.js';
import { fileAt } from '../model/files.js';
import { HPAGE_SIZE as HPAGE, PAGE_SIZE, VM_HUGEPAGE, VM_HUGETLB, VM_LOCKED, findVma, onTmpfs, privatelyMapped, vmaHugeSize, vmasIn, type Mobj } from '../model/mm.js';
import { modeDependsOnFs } from '../model/fallocate.js';
import { mlockFutureOk } from '../model/mlock.js';
import { U64_MAX } from '../ds/interval_map.js';
import { MOCK_FLAGS_DEVICE_HUGE_IOVA } from '../model/drivers/mock.js';
import { allocIova } from '../model/io_pagetable.js';

/**
 * Object selectors: a type, any live object, one only the table holds
 * (destroyable), a paging HWPT with dirty tracking (ops, or switched on), a nesting parent, a
 * HWPT that delivers faults (or a device attached to one), a mock device of 1 MiB IOPTEs
 * (MOCK_FLAGS_DEVICE_HUGE_IOVA) or a dirty-tracking HWPT such a device allocated.
 */
export type IdKind = ObjType | 'any' | 'free' | 'hwpt_dirty' | 'hwpt_tracking' | 'nest_parent' | 'hwpt_fault' | 'dev_fault' | 'dev_huge' | 'hwpt_dirty_huge';

export type Sym =
  /** k-th live object of a kind in the event's context (k modulo the count; k + 1 if there is none). */
  | { $: 'id'; t: IdKind; k: number }
  /** An ID that was live earlier in this context and is free now (or the next never-used one). */
  | { $: 'stale'; k: number }
  /** k-th open fd of the process of that file kind (99 + k if there is none). */
  | { $: 'fd'; kind: FileKind | 'any'; k: number }
  /** Start (or with `end`, one past the last byte) of the process's k-th memory mapping, plus off (negative from the end). */
  | { $: 'va'; k: number; off: bigint; end?: boolean }
  /** Start (or with `end`, one past the last byte) of the k-th area of the IOAS behind field `of` (an IOAS, HWPT or access fd), plus off. */
  | { $: 'iova'; of: string; k: number; off: bigint; end?: boolean }
  /** Bytes from the start of area k to the end of area k + n - 1 of that IOAS (+ add). */
  | { $: 'alen'; of: string; k: number; n: number; add: bigint }
  /** The user address behind area k of that IOAS (+ off). */
  | { $: 'uva'; of: string; k: number; off: bigint }
  /** A fault cookie read earlier (live or already answered). */
  | { $: 'cookie'; k: number }
  /** A pid for a new child process. */
  | { $: 'newpid' }
  /**
   * Where the kernel would put `len` bytes it places itself (mremap moving a mapping): the highest
   * free range below PLACE_TOP, as its top-down search goes. A stand-in: on the oracle the kernel's
   * own answer replaces it (oracle/results.ts).
   */
  | { $: 'gap'; len: bigint }
  /** The VFIO cdev path of the k-th physical device (`/dev/vfio/devices/<cdev>`), or its legacy group file. */
  | { $: 'vfiopath'; k: number; group?: boolean };

/** Symbolic byte buffers. */
export type SymBuf =
  | Uint8Array
  | null
  /** struct iommu_hwpt_page_response records. */
  | { $: 'resp'; items: { cookie: Sym | number; code: number }[] }
  /** n bytes from a small deterministic pattern. */
  | { $: 'bytes'; n: number; seed: number };

export type SymValue = Value | Sym | SymFields | undefined;
export interface SymFields {
  [k: string]: SymValue;
}

export interface Template {
  op: string;
  /** Index of the calling process among the live ones (0: the first, pid 1); negative: among the children only. */
  pid: number;
  /** The fd an ioctl is made on (absent for environment events). */
  fd?: Sym | number;
  /** null: the argument pointer is unreadable (EFAULT). */
  args: SymFields | null;
  bufs?: { [k: string]: SymBuf };
  /** Hostile framing: a short `size`, a longer one with zero tail, or with trailing garbage (E2BIG). */
  frame?: 'short' | 'long0' | 'longjunk';
  /** Do not replace the event by the constructor of a missing resource (see `constructorFor`). */
  noConstruct?: true;
}

/** What the run learned that the state does not keep. */
export interface FuzzModel {
  /** Fault cookies returned by reads so far. */
  cookies: number[];
  /** Highest object ID seen per context. */
  maxId: Map<number, number>;
}

export const newModel = (): FuzzModel => ({ cookies: [], maxId: new Map() });

/** After each event (the model's fuzz loop and the oracle's): what later templates may refer to, fault cookies read and the highest ID seen. */
export function learn(m: FuzzModel, ev: Event, res: Result, w: World): void {
  if (res.errno !== 0) return;
  if (ev.op === 'read_fault_fd') {
    const data = res.bufs?.['data'];
    if (data) for (let off = 0; off + 40 <= data.length; off += 40) m.cookies.push(new DataView(data.buffer, data.byteOffset + off + 36, 4).getUint32(0, true));
    if (m.cookies.length > 64) m.cookies.splice(0, m.cookies.length - 64);
    return;
  }
  if (ev.fd === undefined) return;
  const p = w.procs.get(ev.pid ?? 1);
  const fileId = p?.fds.get(ev.fd);
  const f = fileId === undefined ? undefined : w.files.get(fileId);
  if (f?.ctx === undefined) return;
  const max = w.ctxs.get(f.ctx)?.objs.max()?.[0];
  if (max !== undefined && max > (m.maxId.get(f.ctx) ?? 0)) m.maxId.set(f.ctx, max);
}

const isSym = (v: unknown): v is Sym => typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v) && '$' in v;

interface Env {
  w: World;
  m: FuzzModel;
  pid: number;
  ctxId?: number;
  ctx?: Ctx;
  args: Fields;
  cache: undefined;
}

/**
 * A cache of what was computed from the last few versions of a persistent
 * table (cheaper than a WeakMap: a command resolves against one state, or a
 * few in its constructor chain, and the next command against the next one).
 */
class Recent<V> {
  private readonly keys: (object | null)[] = [null, null, null, null];
  private readonly vals: (V | undefined)[] = [undefined, undefined, undefined, undefined];
  private next = 0;
  get(k: object): V | undefined {
    const keys = this.keys;
    for (let i = 0; i < 4; i++) if (keys[i] === k) return this.vals[i];
    return undefined;
  }
  set(k: object, v: V): void {
    this.keys[this.next] = k;
    this.vals[this.next] = v;
    this.next = (this.next + 1) & 3;
  }
}

/**
 * Per-table caches (`Recent`): object tables and fd tables are persistent, so a table
 * that did not change since the last event is the same object, and what was
 * computed from it still holds (IDs and file IDs are never reused for
 * another kind within one table version).
 */
const idCache = new Recent<Map<IdKind, number[]>>();
const fdCache = new Recent<Map<string, number[]>>();

function liveIds(e: Env, t: IdKind): number[] {
  const objs = e.ctx?.objs;
  if (!objs) return [];
  let c = idCache.get(objs);
  if (!c) idCache.set(objs, (c = new Map()));
  let l = c.get(t);
  if (!l) {
    const out: number[] = [];
    objs.each((id, o) => {
      if (matches(o, t, e.ctx)) out.push(id);
    });
    c.set(t, (l = out));
  }
  return l;
}

const BASE_KIND: Partial<Record<IdKind, IdKind>> = {
  hwpt_dirty: 'hwpt_paging',
  hwpt_tracking: 'hwpt_dirty',
  nest_parent: 'hwpt_paging',
  hwpt_fault: 'hwpt_paging',
  dev_fault: 'device',
  dev_huge: 'device',
  hwpt_dirty_huge: 'hwpt_dirty',
};

function matches(o: Obj, t: IdKind, ctx?: Ctx): boolean {
  switch (t) {
    case 'any':
      return true;
    case 'free':
      return o.users === 1;
    case 'hwpt_dirty':
      return o.type === 'hwpt_paging' && o.domain.dirtyOps;
    case 'hwpt_tracking':
      return o.type === 'hwpt_paging' && o.domain.dirtyEnabled;
    case 'nest_parent':
      return o.type === 'hwpt_paging' && o.nestParent;
    case 'hwpt_fault':
      return (o.type === 'hwpt_paging' || o.type === 'hwpt_nested') && o.fault !== 0;
    case 'dev_huge':
      return o.type === 'device' && o.stdev !== 0 && (o.devFlags & MOCK_FLAGS_DEVICE_HUGE_IOVA) !== 0;
    case 'hwpt_dirty_huge':
      return o.type === 'hwpt_paging' && o.domain.dirtyOps && (o.devFlags & MOCK_FLAGS_DEVICE_HUGE_IOVA) !== 0;
    case 'dev_fault': {
      if (o.type !== 'device' || !o.hwpt) return false;
      const h = ctx?.objs.get(o.hwpt);
      return !!h && (h.type === 'hwpt_paging' || h.type === 'hwpt_nested') && h.fault !== 0;
    }
    default:
      return o.type === t;
  }
}

function fdsOf(e: Env, kind: FileKind | 'any'): number[] {
  return fdsIn(e.w, e.pid, kind);
}

function fdsIn(w: World, pid: number, kind: FileKind | 'any'): number[] {
  const fds = w.procs.get(pid)?.fds;
  if (!fds) return [];
  let c = fdCache.get(fds);
  if (!c) fdCache.set(fds, (c = new Map()));
  let l = c.get(kind);
  if (!l) {
    const out: number[] = [];
    fds.each((fd, id) => {
      const f = w.files.get(id);
      // Kind 'file' is a file opened by path (the scratch file), not one of the opaque fds the
      // process had before the trace (external_fds), which a real trace's model cannot know.
      if (kind === 'file' && f?.mobj === undefined) return;
      if (kind === 'any' || f?.kind === kind) out.push(fd);
    });
    c.set(kind, (l = out));
  }
  return l;
}

/**
 * The IOAS an object works on: an IOAS, a HWPT's IOAS, an access's IOAS.
 * `of` names the field holding the object ID, `<field>@access` for a field
 * holding an access fd (test ops), or `@vfio` for the compat IOAS.
 */
const ofParts = new Map<string, readonly [string, string | undefined]>();

function ioasBehind(e: Env, of: string): Extract<Obj, { type: 'ioas' }> | undefined {
  let parts = ofParts.get(of);
  if (!parts) ofParts.set(of, (parts = of.split('@') as [string, string | undefined]));
  const [field, how] = parts;
  if (!e.ctx) return undefined;
  const raw = how === 'vfio' ? e.ctx.vfioIoas : e.args[field];
  if (raw === undefined) return undefined;
  let id = Number(raw);
  if (how === 'access') {
    const fileId = e.w.procs.get(e.pid)?.fds.get(id);
    const f = fileId === undefined ? undefined : e.w.files.get(fileId);
    if (f?.kind !== 'access' || f.obj === undefined) return undefined;
    id = f.obj;
  }
  let o = e.ctx.objs.get(id);
  if (o?.type === 'device') o = e.ctx.objs.get(o.hwpt);
  if (o?.type === 'access') o = e.ctx.objs.get(o.ioas);
  if (o?.type === 'hwpt_nested') o = e.ctx.objs.get(o.parent);
  if (o?.type === 'hwpt_paging') o = e.ctx.objs.get(o.ioas);
  return o?.type === 'ioas' ? o : undefined;
}

interface AreaRec {
  start: bigint;
  last: bigint;
  pages: number;
  startByte: bigint;
}

/** Area lists by (persistent, shared) interval map: built once per version of an IOAS's areas. */
const areaLists = new Recent<AreaRec[]>();
const NO_AREAS: AreaRec[] = [];

/**
 * The areas of the IOAS behind `of`, in IOVA order; a symbol counts only the
 * first `k + 64` of them (`areaCount`).
 */
function areaAt(e: Env, of: string): readonly AreaRec[] {
  const ioas = ioasBehind(e, of);
  if (!ioas) return NO_AREAS;
  const key = ioas.iopt.areas as object;
  let out = areaLists.get(key);
  if (!out) {
    const l: AreaRec[] = [];
    ioas.iopt.areas.each((start, last, v) => {
      l.push({ start, last, pages: v.pages, startByte: v.startByte });
    });
    areaLists.set(key, (out = l));
  }
  return out;
}

const areaCount = (l: readonly AreaRec[], k: number): number => Math.min(l.length, Math.max(1, k + 64));

const vmaStarts = new Recent<bigint[]>();
const NO_VMAS: bigint[] = [];

/** Where the generator's mmap regions begin (arbitraries.ts), the stride between them, and each one's length. */
export const GUEST_VA = 0x7f0000000000n;
export const GUEST_STRIDE = 0x1000000n;
export const GUEST_REGION = 0x400000n;
const GUEST_BASE = GUEST_VA;

function resolveSym(s: Sym, e: Env): Value {
  switch (s.$) {
    case 'id': {
      let l = liveIds(e, s.t);
      // A refined kind with nothing matching falls back to a plainer one.
      for (let t = BASE_KIND[s.t]; !l.length && t; t = BASE_KIND[t]) l = liveIds(e, t);
      return l.length ? l[s.k % l.length]! : s.k + 1;
    }
    case 'stale': {
      const max = e.ctxId === undefined ? 0 : (e.m.maxId.get(e.ctxId) ?? 0);
      const free: number[] = [];
      for (let i = 1; i <= max; i++) if (!e.ctx?.objs.get(i)) free.push(i);
      return free.length ? free[s.k % free.length]! : max + 1;
    }
    case 'fd': {
      // k < 0 counts from the last fd of the kind (-1: the newest, as fds are mostly handed out in order)
      const l = fdsOf(e, s.kind);
      return l.length ? l[s.k < 0 ? l.length - 1 - ((-1 - s.k) % l.length) : s.k % l.length]! : 99 + Math.abs(s.k);
    }
    case 'va': {
      const map = e.w.procs.get(e.pid)?.mm.vmas;
      let vmas = map ? vmaStarts.get(map) : NO_VMAS;
      if (!vmas) {
        const l: bigint[] = [];
        map!.each((start) => {
          l.push(start);
        });
        vmaStarts.set(map!, (vmas = l));
      }
      if (!vmas.length) return GUEST_BASE + (s.end ? GUEST_REGION : 0n) + s.off;
      const start = vmas[s.k % vmas.length]!;
      return (s.end ? map!.get(start)!.end : start) + s.off;
    }
    case 'iova': {
      const l = areaAt(e, s.of);
      const n = areaCount(l, s.k);
      if (!n) return 0x1000000n + s.off;
      const a = l[s.k % n]!;
      return (s.end ? a.last + 1n : a.start) + s.off;
    }
    case 'alen': {
      const l = areaAt(e, s.of);
      const n = areaCount(l, s.k + s.n);
      if (!n) return 0x1000n + s.add;
      const i = s.k % n;
      const j = Math.min(n - 1, i + Math.max(1, s.n) - 1);
      return l[j]!.last - l[i]!.start + 1n + s.add;
    }
    case 'uva': {
      const l = areaAt(e, s.of);
      const n = areaCount(l, s.k);
      if (!n) return GUEST_BASE + s.off;
      const a = l[s.k % n]!;
      const base = e.ctx?.pages.get(a.pages)?.base ?? GUEST_BASE;
      return base + a.startByte + s.off;
    }
    case 'cookie': {
      const c = e.m.cookies;
      return c.length ? c[c.length - 1 - (s.k % c.length)]! : s.k + 1;
    }
    case 'vfiopath': {
      const devs: { cdev: string; group: number }[] = [];
      e.w.hw?.devs.each((_id, p) => {
        devs.push({ cdev: p.cdev, group: p.group });
      });
      if (!devs.length) return s.group ? `/dev/vfio/${s.k + 1}` : `/dev/vfio/devices/vfio${s.k + 1}`;
      const dv = devs[s.k % devs.length]!;
      return s.group ? `/dev/vfio/${dv.group}` : `/dev/vfio/devices/${dv.cdev}`;
    }
    case 'newpid': {
      let max = 1;
      e.w.procs.each((pid) => {
        if (pid > max) max = pid;
      });
      return max + 1;
    }
    case 'gap': {
      let top = PLACE_TOP;
      const vmas = e.w.procs.get(e.pid)?.mm.vmas;
      if (vmas)
        for (const [, v] of vmas.entriesDesc(PLACE_TOP)) {
          if (v.end <= top && top - v.end >= s.len) break;
          if (v.start < top) top = v.start;
        }
      return top - s.len;
    }
  }
}

/** Below the oracle guest's libraries and stack (0x7ffff7...), above the generator's guest regions. */
const PLACE_TOP = 0x7ff000000000n;

type Late = [target: Fields, key: string, sym: Sym];

/** Resolve the symbols of a field tree; address symbols that depend on resolved IDs are queued in `late`. */
function resolveFields(f: SymFields, e: Env, late: Late[]): Fields {
  const out: Fields = {};
  for (const k in f) {
    const v = f[k];
    if (v === undefined) continue;
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array || Array.isArray(v)) {
      out[k] = v as Value;
      continue;
    }
    const sym = (v as { $?: unknown }).$;
    if (sym === undefined) out[k] = resolveFields(v as SymFields, e, late);
    else if (sym === 'iova' || sym === 'alen' || sym === 'uva') {
      out[k] = 0n;
      late.push([out, k, v as Sym]);
    } else out[k] = resolveSym(v as Sym, e);
  }
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function resolveBuf(b: SymBuf, e: Env): Uint8Array | null {
  if (b === null || b instanceof Uint8Array) return b;
  if (b.$ === 'bytes') return pattern(b.n, b.seed);
  const out = new Uint8Array(b.items.length * 8);
  const dv = new DataView(out.buffer);
  b.items.forEach((it, i) => {
    dv.setUint32(i * 8, Number(isSym(it.cookie) ? resolveSym(it.cookie, e) : it.cookie) >>> 0, true);
    dv.setUint32(i * 8 + 4, it.code >>> 0, true);
  });
  return out;
}

/** The struct an ioctl op reads (for hostile `size` framing). */
function structOf(op: string): string | undefined {
  if (op.startsWith('IOMMU_TEST_OP_')) return 'iommu_test_cmd';
  return STRUCTS[op];
}

const STRUCTS: Record<string, string> = {
  IOMMU_DESTROY: 'iommu_destroy',
  IOMMU_IOAS_ALLOC: 'iommu_ioas_alloc',
  IOMMU_IOAS_ALLOW_IOVAS: 'iommu_ioas_allow_iovas',
  IOMMU_IOAS_COPY: 'iommu_ioas_copy',
  IOMMU_IOAS_IOVA_RANGES: 'iommu_ioas_iova_ranges',
  IOMMU_IOAS_MAP: 'iommu_ioas_map',
  IOMMU_IOAS_UNMAP: 'iommu_ioas_unmap',
  IOMMU_OPTION: 'iommu_option',
  IOMMU_VFIO_IOAS: 'iommu_vfio_ioas',
  IOMMU_HWPT_ALLOC: 'iommu_hwpt_alloc',
  IOMMU_GET_HW_INFO: 'iommu_hw_info',
  IOMMU_HWPT_SET_DIRTY_TRACKING: 'iommu_hwpt_set_dirty_tracking',
  IOMMU_HWPT_GET_DIRTY_BITMAP: 'iommu_hwpt_get_dirty_bitmap',
  IOMMU_HWPT_INVALIDATE: 'iommu_hwpt_invalidate',
  IOMMU_FAULT_QUEUE_ALLOC: 'iommu_fault_alloc',
  IOMMU_IOAS_MAP_FILE: 'iommu_ioas_map_file',
  IOMMU_VIOMMU_ALLOC: 'iommu_viommu_alloc',
  IOMMU_VDEVICE_ALLOC: 'iommu_vdevice_alloc',
  IOMMU_IOAS_CHANGE_PROCESS: 'iommu_ioas_change_process',
};

const sizeCache = new Map<string, number>();
function structSize(struct: string, kernel: World['kernel']): number | undefined {
  const key = kernel === '6.14' ? `6.14:${struct}` : `6.12:${struct}`;
  let n = sizeCache.get(key);
  if (n === undefined) {
    try {
      n = structLayout(struct, kernel).size;
    } catch {
      n = structLayout(struct, '6.14').size;
    }
    sizeCache.set(key, n);
  }
  return n;
}

// ---------------------------------------------------------------- resources

const IOMMUFD: Sym = { $: 'fd', kind: 'iommufd', k: 0 };
const id0 = (t: IdKind): Sym => ({ $: 'id', t, k: 0 });
const make = (t: Template, op: string, args: SymFields, bufs?: Template['bufs']): Template => ({ op, pid: t.pid, fd: t.fd ?? IOMMUFD, args, ...(bufs ? { bufs } : {}) });

/**
 * The scratch regular file of generated sequences, opened O_RDWR|O_CREAT|O_TRUNC:
 * its size and contents are the sequence's from then on (the oracle's kernel
 * keeps /tmp files between the traces of a boot).
 */
export const SCRATCH_FILE = '/tmp/data';
/** A file on the hugetlbfs mount, as QEMU's -mem-path /dev/hugepages makes one for guest RAM. */
export const HUGETLBFS_FILE = '/dev/hugepages/guest-ram';
export const O_TRUNC_RW = 0o1102;

/** The selftest's nested HWPT data (struct iommu_hwpt_selftest: iotlb 0x0badbeef). */
const IOTLB_BYTES = new Uint8Array([0xef, 0xbe, 0xad, 0x0b]);

const NEED_DEVICE = new Set(['IOMMU_HWPT_ALLOC', 'IOMMU_GET_HW_INFO', 'IOMMU_TEST_OP_TRIGGER_IOPF', 'IOMMU_VIOMMU_ALLOC', 'IOMMU_VDEVICE_ALLOC', 'IOMMU_TEST_OP_DEV_CHECK_CACHE', 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', 'IOMMU_TEST_OP_MD_CHECK_MAP', 'dma_write', 'iopf']);
const NEED_DIRTY = new Set(['IOMMU_HWPT_SET_DIRTY_TRACKING', 'IOMMU_HWPT_GET_DIRTY_BITMAP', 'IOMMU_TEST_OP_DIRTY']);
const NEED_NESTED = new Set(['IOMMU_TEST_OP_MD_CHECK_IOTLB', 'IOMMU_HWPT_INVALIDATE', 'guest_s1_change']);
const NEED_ACCESS = new Set(['IOMMU_TEST_OP_ACCESS_PAGES', 'IOMMU_TEST_OP_ACCESS_RW', 'IOMMU_TEST_OP_DESTROY_ACCESS_PAGES', 'IOMMU_TEST_OP_ACCESS_REPLACE_IOAS']);
const NEED_FAULT = new Set(['read_fault_fd', 'write_fault_fd']);
const NEED_VFIO = new Set(['VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA', 'VFIO_IOMMU_GET_INFO', 'VFIO_SET_IOMMU']);
const NEED_AREA = new Set(['IOMMU_IOAS_UNMAP', 'IOMMU_IOAS_COPY']);
const NEED_MEMFD = new Set(['IOMMU_IOAS_MAP_FILE', 'ftruncate', 'fallocate']);
const VFIO_DEVICE_OPS = new Set(['VFIO_DEVICE_BIND_IOMMUFD', 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'VFIO_DEVICE_DETACH_IOMMUFD_PT']);
const VFIO_GROUP_OPS = new Set(['VFIO_GROUP_SET_CONTAINER', 'VFIO_GROUP_UNSET_CONTAINER', 'VFIO_GROUP_GET_STATUS', 'VFIO_GROUP_GET_DEVICE_FD']);

const kindCache = new Recent<Set<IdKind>>();

/** Whether a field tree names user memory through a `va` symbol. */
function usesVa(f: SymFields): boolean {
  for (const k in f) {
    const v = f[k];
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array || Array.isArray(v)) continue;
    const sym = (v as { $?: unknown }).$;
    if (sym === 'va') return true;
    if (sym === undefined && usesVa(v as SymFields)) return true;
  }
  return false;
}

/** Whether any fault object holds a group (queued or read and waiting). */
function queued(w: World): boolean {
  let any = false;
  w.ctxs.each((_c, ctx) => {
    ctx.objs.each((_id, o) => {
      any = o.type === 'fault' && (o.queue.length > 0 || o.awaiting.size > 0);
      return !any;
    });
    return !any;
  });
  return any;
}

/** The top-level field of `args` that names an object of kind `kind` symbolically, if one does. */
function fieldNaming(args: SymFields, kind: IdKind): string | undefined {
  for (const k in args) {
    const v = args[k];
    if (isSym(v) && (v as Sym).$ === 'id' && (v as { t: IdKind }).t === kind) return k;
  }
  return undefined;
}

/** Whether some area of an IOAS, [start, last], satisfies `pred` (the loop stops at the first). */
function someArea(o: IoasObj, pred: (start: bigint, last: bigint) => boolean): boolean {
  let found = false;
  o.iopt.areas.each((s, l) => !(found = pred(s, l)));
  return found;
}

/** Whether an IOAS holds 2 MiB or more at a 2 MiB-aligned IOVA: where a VMM's huge-page guest RAM gives 1 MiB IOPTEs. */
const hasHugeArea = (o: IoasObj): boolean => someArea(o, (s, l) => s % HPAGE === 0n && l - s + 1n >= HPAGE);

/**
 * Where `length` bytes from user address `uptr` fit in an IOAS: the IOVA the
 * kernel itself would pick for them (io_pagetable.ts allocIova: allowed and
 * reserved ranges kept, a domain's aperture among them, aligned to the length
 * up to 2 MiB); undefined when nothing fits.
 */
function freeIova(w: World, o: IoasObj, uptr: bigint, length: bigint): bigint | undefined {
  const r = allocIova(w.kernel, o.iopt, uptr, length);
  return typeof r === 'bigint' ? r : undefined;
}

/** The guest region the made guest-RAM map takes its memory from (not GUEST_VA's, which starts out shared). */
const HUGE_GUEST_VA = GUEST_VA + GUEST_STRIDE;

/**
 * Dirty tracking over 1 MiB IOPTEs, as a VMM with huge-page guest RAM and a
 * HUGE_IOVA device migrates: a command naming `dev_huge` or `hwpt_dirty_huge`
 * gets, each when missing, a MOCK_DOMAIN_FLAGS device with HUGE_IOVA, a
 * dirty-tracking HWPT it allocates, 2 MiB of guest RAM in that HWPT's IOAS
 * at a 2 MiB-aligned IOVA (from the second guest region, which the map's own
 * constructors map private and advise HUGEPAGE when it is not there or not
 * advised yet), and (but for SET_DIRTY_TRACKING itself) tracking switched
 * on. The ordinary mixes almost never line these up: seed 403, aimed at
 * dirty tracking, never read a dirty bit over a 1 MiB IOPTE.
 */
function hugeDirtyConstructor(
  t: Template,
  w: World,
  pid: number,
  ctx: Ctx,
  has: (k: IdKind) => boolean,
  make: (t: Template, op: string, args: SymFields) => Template,
  hwptAlloc: (flags: number, dev: IdKind) => Template,
): Template | undefined {
  const args = t.args!;
  const hwptField = fieldNaming(args, 'hwpt_dirty_huge');
  if (hwptField === undefined && fieldNaming(args, 'dev_huge') === undefined) return undefined;
  if (!has('dev_huge')) return make(t, 'IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS', { id: id0('ioas'), mock_domain_flags: { dev_flags: MOCK_FLAGS_DEVICE_HUGE_IOVA } });
  if (hwptField === undefined) return undefined;
  if (!has('hwpt_dirty_huge')) return hwptAlloc(2, 'dev_huge');
  const e: Env = { w, m: newModel(), pid, ctx, args: {}, cache: undefined };
  const hwptId = Number(resolveSym(args[hwptField] as Sym, e));
  const hwpt = ctx.objs.get(hwptId);
  if (hwpt?.type !== 'hwpt_paging') return undefined;
  const ioas = ctx.objs.get(hwpt.ioas);
  if (ioas?.type === 'ioas' && !hasHugeArea(ioas)) {
    const iova = freeIova(w, ioas, HUGE_GUEST_VA, HPAGE);
    if (iova !== undefined) return make(t, 'IOMMU_IOAS_MAP', { flags: 7, ioas_id: hwpt.ioas, __reserved: 0, user_va: HUGE_GUEST_VA, length: HPAGE, iova });
  }
  if (t.op !== 'IOMMU_HWPT_SET_DIRTY_TRACKING' && !hwpt.domain.dirtyEnabled) return make(t, 'IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: hwptId, __reserved: 0 });
  return undefined;
}

/** Whether a template unmaps short of a compat-IOAS area (`size` an `alen(@vfio)` with a negative `add`): a cut. */
function cutsCompatArea(t: Template): boolean {
  const size = t.args?.['size'];
  if (!isSym(size)) return false;
  const s = size as Sym;
  return s.$ === 'alen' && s.of === '@vfio' && s.add < 0n;
}

/**
 * VFIO type1 cuts (iommufd_vfio_unmap_dma cutting areas with large pages
 * disabled, io_pagetable.ts cutIova), which the ordinary mixes almost never
 * make: type1 is refused once the container's IOAS has both a domain and an
 * area (iopt_disable_large_pages). For a command that cuts (cutsCompatArea),
 * each when missing: a container IOAS that is type1 — VFIO_SET_IOMMU(TYPE1)
 * on it if it can still take that, or else an IOAS that can (a new one if
 * none) made the container's — and an area of four pages in it.
 */
function type1Constructor(t: Template, w: World, ctx: Ctx, make: (t: Template, op: string, args: SymFields) => Template): Template | undefined {
  const compat = ctx.vfioIoas === undefined ? undefined : ctx.objs.get(ctx.vfioIoas);
  if (compat?.type === 'ioas' && compat.iopt.disableLargePages) {
    // an area of two pages or more can be cut
    if (someArea(compat, (s, l) => l - s + 1n >= 2n * PAGE_SIZE)) return undefined;
    // (the mapping's address is a symbol, resolved later: the IOVA is aligned to the length alone)
    const iova = freeIova(w, compat, 0n, 4n * PAGE_SIZE);
    return iova === undefined ? undefined : make(t, 'VFIO_IOMMU_MAP_DMA', { argsz: 32, flags: 3, vaddr: { $: 'va', k: 0, off: 0n }, iova, size: 4n * PAGE_SIZE });
  }
  const canType1 = (o: Obj) => o.type === 'ioas' && (o.iopt.domains.length === 0 || o.iopt.areas.size === 0);
  if (compat && canType1(compat)) return make(t, 'VFIO_SET_IOMMU', { arg: 1n });
  let fresh: number | undefined;
  ctx.objs.each((id, o) => {
    if (id !== ctx.vfioIoas && canType1(o)) fresh = id;
    return fresh === undefined;
  });
  return fresh === undefined ? make(t, 'IOMMU_IOAS_ALLOC', { flags: 0 }) : make(t, 'IOMMU_VFIO_IOAS', { ioas_id: fresh, op: 1, __reserved: 0 });
}

/**
 * Syzkaller's resource rule: a call that needs a resource nobody created yet
 * becomes the call that creates it (a mock device before a HWPT_ALLOC, a
 * dirty-tracking HWPT before dirty ops, a fault queue before reading one, an
 * access before access ops, a mapping before an unmap...). Deterministic in
 * the state, so a command means the same thing whenever it runs from the
 * same state; `noConstruct` templates are left alone (so missing resources
 * are exercised too).
 */
export function constructorFor(t: Template, w: World, pid: number, ctx: Ctx | undefined, m: FuzzModel): Template | undefined {
  if (t.noConstruct || !t.args) return undefined;
  const op = t.op;
  // Guest RAM first: a call naming user memory in a process that has none maps some.
  if (!w.procs.get(pid)?.mm.vmas.size && usesVa(t.args)) return { op: 'mmap', pid: t.pid, args: { va: GUEST_BASE, length: GUEST_REGION, kind: 'anon' } };
  // QEMU's guest RAM: a private anonymous region advised HUGEPAGE before anything touches it (the
  // advice over a whole region that has no mapping maps it first), so that huge pages can come.
  if (op === 'madvise' && t.args['advice'] === 'HUGEPAGE' && t.args['length'] === GUEST_REGION && typeof t.args['va'] === 'bigint') {
    const mm = w.procs.get(pid)?.mm;
    if (mm && !findVma(mm, t.args['va'])) return { op: 'mmap', pid: t.pid, args: { va: t.args['va'], length: GUEST_REGION, kind: 'private_anon', prot: 3 } };
  }
  // A VMM maps guest RAM it advised HUGEPAGE: the generator's 2 MiB map of a region (arbitraries.ts)
  // maps a missing region private and advises a private one first.
  if (op === 'IOMMU_IOAS_MAP' && t.args['length'] === HPAGE && t.args['flags'] === 7 && typeof t.args['user_va'] === 'bigint' && t.args['user_va'] >= GUEST_VA) {
    const base = GUEST_VA + ((t.args['user_va'] - GUEST_VA) / GUEST_STRIDE) * GUEST_STRIDE;
    const mm = w.procs.get(pid)?.mm;
    const v = mm && findVma(mm, base);
    if (mm && !v) return { op: 'mmap', pid: t.pid, args: { va: base, length: GUEST_REGION, kind: 'private_anon', prot: 3 } };
    if (v && v.start === base && v.end >= base + GUEST_REGION && !v.shared && v.cow === undefined && w.mem.mobjs.get(v.mobj)?.kind === 'anon' && !((v.flags ?? 0) & VM_HUGEPAGE))
      return { op: 'madvise', pid: t.pid, args: { va: base, length: GUEST_REGION, advice: 'HUGEPAGE' } };
  }
  const fdsKind = (kind: FileKind): boolean => fdsIn(w, pid, kind).length > 0;
  if (NEED_FAULT.has(op)) {
    if (!fdsKind('fault')) return make(t, 'IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 });
    // Answers need cookies: read what is queued first.
    if (op === 'write_fault_fd' && !m.cookies.length && queued(w)) return { op: 'read_fault_fd', pid: t.pid, args: { fd: { $: 'fd', kind: 'fault', k: 0 }, count: 160, pos: 0 } };
    // Reads and answers need a page request: raise one (through a HWPT with a fault queue, which the
    // trigger's own constructors make).
    if (!queued(w) && !(op === 'write_fault_fd' && m.cookies.length))
      return { op: 'IOMMU_TEST_OP_TRIGGER_IOPF', pid: t.pid, fd: IOMMUFD, args: { id: 0, trigger_iopf: { dev_id: id0('dev_fault'), pasid: 0, grpid: 0, perm: 3, addr: 0x1000000n } } };
    return undefined;
  }
  const ofFile = isSym(t.args['fd']) && (t.args['fd'] as { kind?: string }).kind === 'file';
  if (op === 'mmap' && (t.args['kind'] === 'file_shared' || (t.args['kind'] === 'file_private' && ofFile))) {
    // The scratch file first, then a size for the mapping (mapped pages past its end fault).
    const files = fdsIn(w, pid, 'file');
    if (!fdsKind('file')) return { op: 'open', pid: t.pid, args: { path: SCRATCH_FILE, flags: O_TRUNC_RW } };
    const f = fileAt(w, pid, files[0]!);
    const size = f?.mobj === undefined ? undefined : w.mem.mobjs.get(f.mobj)?.size;
    if (size === 0n) return { op: 'ftruncate', pid: t.pid, args: { fd: { $: 'fd', kind: 'file', k: 0 }, length: 0x400000n } };
    return undefined;
  }
  if ((op === 'ftruncate' || op === 'fallocate') && ofFile && !fdsKind('file')) return { op: 'open', pid: t.pid, args: { path: SCRATCH_FILE, flags: O_TRUNC_RW } };
  if (NEED_MEMFD.has(op) && !ofFile) {
    if (!fdsKind('memfd')) return { op: 'memfd_create', pid: t.pid, args: { name: 'guest-ram' } };
    if (op === 'IOMMU_IOAS_MAP_FILE') {
      let sized = false;
      w.procs.get(pid)?.fds.each((_fd, id) => {
        const f = w.files.get(id);
        if (f?.kind === 'memfd' && f.mobj !== undefined) sized = (w.mem.mobjs.get(f.mobj)?.size ?? 0n) > 0n;
        return !sized;
      });
      if (!sized) return { op: 'ftruncate', pid: t.pid, args: { fd: { $: 'fd', kind: 'memfd', k: 0 }, length: 0x400000n } };
    }
    return undefined;
  }
  if (VFIO_DEVICE_OPS.has(op)) {
    // A device to open, its cdev open, bound before attach/detach.
    if (!w.hw?.devs.size) return { op: 'device_add', pid: t.pid, args: { dev: 1, iommu: 1, driver: 'intel_vtd' } };
    let file: { fd: number; dev: number } | undefined;
    w.procs.get(pid)?.fds.each((fd, id) => {
      const f = w.files.get(id);
      if (f?.kind === 'vfio' && f.dev !== undefined) file = { fd, dev: f.dev };
      return !file;
    });
    if (!file) return { op: 'open', pid: t.pid, args: { path: { $: 'vfiopath', k: 0 } } };
    if (op !== 'VFIO_DEVICE_BIND_IOMMUFD' && !w.hw.devs.get(file.dev)?.bound)
      return { op: 'VFIO_DEVICE_BIND_IOMMUFD', pid: t.pid, fd: { $: 'fd', kind: 'vfio', k: 0 }, args: { argsz: 16, flags: 0, iommufd: IOMMUFD } };
    return undefined;
  }
  if (VFIO_GROUP_OPS.has(op)) {
    // A device, its group's file open, an iommufd set as the container before a device is opened.
    if (!w.hw?.devs.size) return { op: 'device_add', pid: t.pid, args: { dev: 1, iommu: 1, driver: 'intel_vtd' } };
    let group: number | undefined;
    w.procs.get(pid)?.fds.each((_fd, id) => {
      const f = w.files.get(id);
      if (f?.kind === 'vfio_group') group = f.group;
      return group === undefined;
    });
    if (group === undefined) return { op: 'open', pid: t.pid, args: { path: { $: 'vfiopath', k: 0, group: true } } };
    if (op === 'VFIO_GROUP_GET_DEVICE_FD' && !w.hw.groups.get(group)?.iommufd)
      return { op: 'VFIO_GROUP_SET_CONTAINER', pid: t.pid, fd: { $: 'fd', kind: 'vfio_group', k: 0 }, args: { fd: IOMMUFD } };
    return undefined;
  }
  if (op === 'IOMMU_OPTION' && t.args['option_id'] === 0) {
    // RLIMIT_MODE names no IOAS. It is set on a context without objects: a new /dev/iommu when the
    // one named has some (the setup's has IOAS 1); the template names the newest (rlimitModeOnNewest).
    if (t.args['op'] === 0 && ctx?.objs.size) return { op: 'open', pid: t.pid, args: { path: '/dev/iommu' } };
    return undefined;
  }
  if (!ctx) return undefined;
  // Which kinds of object exist: one pass over the table, on first use (cached per table version).
  let kinds: Set<IdKind> | undefined = kindCache.get(ctx.objs);
  const has = (k: IdKind): boolean => {
    if (!kinds) {
      const ks = new Set<IdKind>();
      ctx.objs.each((_id, o) => {
        ks.add(o.type);
        if (o.type === 'hwpt_paging') {
          if (o.domain.dirtyOps) ks.add('hwpt_dirty');
          if (matches(o, 'hwpt_dirty_huge')) ks.add('hwpt_dirty_huge');
          if (o.domain.dirtyEnabled) ks.add('hwpt_tracking');
          if (o.nestParent) ks.add('nest_parent');
          if (o.fault) ks.add('hwpt_fault');
        } else if (o.type === 'hwpt_nested' && o.fault) ks.add('hwpt_fault');
        else if (o.type === 'device') {
          if (o.hwpt && !ks.has('dev_fault') && matches(o, 'dev_fault', ctx)) ks.add('dev_fault');
          if (matches(o, 'dev_huge')) ks.add('dev_huge');
        }
      });
      kinds = ks;
      kindCache.set(ctx.objs, ks);
    }
    return kinds.has(k);
  };
  const needsIoas = op.startsWith('IOMMU_') && op !== 'IOMMU_IOAS_ALLOC' && op !== 'IOMMU_FAULT_QUEUE_ALLOC' && op !== 'IOMMU_DESTROY';
  // (Fast path: the setup's IOAS 1 usually still exists.)
  if (needsIoas && ctx.objs.get(1)?.type !== 'ioas' && !has('ioas')) return make(t, 'IOMMU_IOAS_ALLOC', { flags: 0 });
  const device = () => (has('device') ? undefined : make(t, 'IOMMU_TEST_OP_MOCK_DOMAIN', { id: id0('ioas'), mock_domain: {} }));
  const hwptAlloc = (flags: number, dev: IdKind = 'device') => make(t, 'IOMMU_HWPT_ALLOC', { flags, dev_id: id0(dev), pt_id: id0('ioas'), __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0 });
  const c = hugeDirtyConstructor(t, w, pid, ctx, has, make, hwptAlloc);
  if (c) return c;
  if (NEED_DEVICE.has(op) && op !== 'IOMMU_TEST_OP_TRIGGER_IOPF') {
    const c = device();
    if (c) return c;
    if (op === 'IOMMU_VIOMMU_ALLOC' && !has('nest_parent')) return hwptAlloc(1);
    if (op === 'IOMMU_VDEVICE_ALLOC' && !has('viommu'))
      return has('nest_parent') ? make(t, 'IOMMU_VIOMMU_ALLOC', { flags: 0, type: 0xdeadbeef, dev_id: id0('device'), hwpt_id: id0('nest_parent') }) : hwptAlloc(1);
    return undefined;
  }
  if (NEED_DIRTY.has(op)) {
    const c = device() ?? (has('hwpt_dirty') ? undefined : hwptAlloc(2));
    if (c || op !== 'IOMMU_TEST_OP_DIRTY') return c;
    let on = false;
    ctx.objs.each((_id, o) => {
      on = o.type === 'hwpt_paging' && o.domain.dirtyEnabled;
      return !on;
    });
    return on ? undefined : make(t, 'IOMMU_HWPT_SET_DIRTY_TRACKING', { flags: 1, hwpt_id: id0('hwpt_dirty'), __reserved: 0 });
  }
  // A page request needs a device attached to a HWPT with a fault queue (FAULT_ID_VALID): in 6.14 a
  // paging one will do, 6.12 takes a fault queue only for a nested HWPT (on a nesting parent).
  if (op === 'IOMMU_TEST_OP_TRIGGER_IOPF') {
    const c = device() ?? (has('fault') ? undefined : make(t, 'IOMMU_FAULT_QUEUE_ALLOC', { flags: 0 }));
    if (c) return c;
    if (!has('hwpt_fault')) {
      if (w.kernel === '6.14') return make(t, 'IOMMU_HWPT_ALLOC', { flags: 4, dev_id: id0('device'), pt_id: id0('ioas'), __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: id0('fault') });
      if (!has('nest_parent')) return hwptAlloc(1);
      return make(t, 'IOMMU_HWPT_ALLOC', { flags: 4, dev_id: id0('device'), pt_id: id0('nest_parent'), __reserved: 0, data_type: 0xdead, data_len: 4, data_uptr: 0x10000n, fault_id: id0('fault') }, { data_uptr: IOTLB_BYTES });
    }
    let attached = false;
    ctx.objs.each((_id, o) => {
      if (o.type === 'device' && o.hwpt) {
        const h = ctx.objs.get(o.hwpt);
        attached = !!h && matches(h, 'hwpt_fault', ctx);
      }
      return !attached;
    });
    return attached ? undefined : make(t, 'IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE', { id: id0('selftest'), mock_domain_replace: { pt_id: id0('hwpt_fault') } });
  }
  if (NEED_NESTED.has(op)) {
    const c = device() ?? (has('nest_parent') ? undefined : hwptAlloc(1));
    if (c || has('hwpt_nested')) return c;
    return make(t, 'IOMMU_HWPT_ALLOC', { flags: 0, dev_id: id0('device'), pt_id: id0('nest_parent'), __reserved: 0, data_type: 0xdead, data_len: 4, data_uptr: 0x10000n, fault_id: 0 }, { data_uptr: IOTLB_BYTES });
  }
  if (NEED_ACCESS.has(op)) return fdsKind('access') ? undefined : make(t, 'IOMMU_TEST_OP_CREATE_ACCESS', { id: id0('ioas'), create_access: { flags: 1 } });
  if (op === 'VFIO_IOMMU_UNMAP_DMA' && cutsCompatArea(t)) return type1Constructor(t, w, ctx, make);
  if (NEED_VFIO.has(op)) return ctx.vfioIoas ? undefined : make(t, 'IOMMU_VFIO_IOAS', { ioas_id: id0('ioas'), op: 1, __reserved: 0 });
  if (op === 'IOMMU_IOAS_CHANGE_PROCESS' && w.kernel === '6.14') {
    // It moves only file pages (any other area: EINVAL, nothing moved): an IOAS holding user-VA areas is
    // emptied first, one per construction, so that the accounting moves get exercised. (On 6.12 it is
    // ENOTTY whatever the context holds.)
    let user: number | undefined;
    ctx.objs.each((id, o) => {
      if (o.type === 'ioas')
        o.iopt.areas.eachOverlapping(0n, U64_MAX, (_s, _l, a) => {
          if (ctx.pages.get(a.pages)?.fileMobj === undefined) user = id;
          return user === undefined;
        });
      return user === undefined;
    });
    return user === undefined ? undefined : make(t, 'IOMMU_IOAS_UNMAP', { ioas_id: user, iova: 0n, length: U64_MAX });
  }
  if (NEED_AREA.has(op)) {
    const field = op === 'IOMMU_IOAS_COPY' ? 'src_ioas_id' : 'ioas_id';
    const sym = t.args[field];
    const e: Env = { w, m: newModel(), pid, ctx, args: {}, cache: undefined };
    const ioasId = typeof sym === 'object' && sym !== null && '$' in sym ? resolveSym(sym as Sym, e) : sym;
    const o = ctx.objs.get(Number(ioasId));
    if (o?.type !== 'ioas' || o.iopt.areas.size) return undefined;
    return make(t, 'IOMMU_IOAS_MAP', { flags: 7, ioas_id: sym, __reserved: 0, user_va: { $: 'va', k: 0, off: 0n }, length: 0x4000n, iova: 0x1000000n });
  }
  return undefined;
}

/**
 * Whether a maps snapshot's new memory (what it names that is not mapped
 * yet) is memory the process could have made unseen. Under
 * mlockall(MCL_FUTURE) every new mapping is locked, and one that would pass
 * RLIMIT_MEMLOCK is refused (EAGAIN): such a snapshot describes a process
 * that cannot exist, and the oracle's executor, mapping its regions, is
 * refused (seed 115). Hugetlb memory is never locked.
 */
function couldHaveMapped(w: World, pid: number, a: SymFields): boolean {
  const p = w.procs.get(pid);
  if (!p || !((p.defLocked ?? 0) & VM_LOCKED)) return true;
  let fresh = 0n;
  for (const r of Array.isArray(a['maps']) ? (a['maps'] as Fields[]) : []) {
    const { start, end, path } = r as { start?: unknown; end?: unknown; path?: unknown };
    if (typeof start !== 'bigint' || typeof end !== 'bigint' || end <= start || String(path ?? '').startsWith('/anon_hugepage')) continue;
    fresh += end - start;
    for (const v of vmasIn(p.mm, start, end)) fresh -= (v.end < end ? v.end : end) - (v.start > start ? v.start : start);
  }
  return mlockFutureOk(p, VM_LOCKED, fresh);
}

/**
 * Whether a maps snapshot's regions would cut a hugetlb VMA inside one of
 * its huge pages (a region's start or end inside the VMA, off its page
 * size): /proc/self/maps never shows that, and the oracle's executor,
 * unmapping the gap or changing the protection there, is refused (EINVAL).
 * The fuzzer's snapshot is the guest region alone, which cuts a 1 GiB page's
 * VMA at GUEST_VA (gigantic seed 304: 27 of 300 sequences ended as errors).
 */
function cutsHugePage(w: World, pid: number, a: SymFields): boolean {
  const p = w.procs.get(pid);
  if (!p) return false;
  for (const r of Array.isArray(a['maps']) ? (a['maps'] as Fields[]) : []) {
    const { start, end } = r as { start?: unknown; end?: unknown };
    if (typeof start !== 'bigint' || typeof end !== 'bigint' || end <= start) continue;
    for (const v of vmasIn(p.mm, start, end)) {
      if (!((v.flags ?? 0) & VM_HUGETLB)) continue;
      const size = vmaHugeSize(w.mem, v);
      if ((start > v.start && start % size) || (end < v.end && end % size)) return true;
    }
  }
  return false;
}

/**
 * The next event of a template in state `w`: the constructor of the first
 * missing resource it needs (`constructed`), or the event itself.
 */
export function resolveNext(t: Template, w: World, m: FuzzModel): { event: Event; constructed: boolean } {
  const out = { event: NO_EVENT, constructed: false };
  out.event = resolveInner(t, w, m, 0, out);
  return out;
}

const NO_EVENT: Event = { op: 'note', args: null };

/** The memfd or file `fd` of process `pid` is, if it is one, and its memory object. */
function fdMemory(w: World, pid: number, fd: unknown): { f: OpenFile & { kind: 'memfd' | 'file' }; m: Mobj } | undefined {
  if (typeof fd !== 'number' && typeof fd !== 'bigint') return undefined;
  const id = w.procs.get(pid)?.fds.get(Number(fd));
  const f = id === undefined ? undefined : w.files.get(id);
  if ((f?.kind !== 'memfd' && f?.kind !== 'file') || f.mobj === undefined) return undefined;
  const m = w.mem.mobjs.get(f.mobj);
  return m && { f: f as OpenFile & { kind: 'memfd' | 'file' }, m };
}

/** The hugetlbfs file `fd` of process `pid` is, if it is one: a memfd (MFD_HUGETLB) or a file on the mount, and its memory object. */
function hugetlbFd(w: World, pid: number, fd: unknown): { kind: 'memfd' | 'file'; m: Mobj } | undefined {
  const x = fdMemory(w, pid, fd);
  return x?.m.kind === 'hugetlb' ? { kind: x.f.kind, m: x.m } : undefined;
}

/** Whether `fd` of process `pid` is a regular file off tmpfs, open for writing (fallocate.ts: its filesystem decides some modes). */
function regularFile(w: World, pid: number, fd: unknown): boolean {
  const x = fdMemory(w, pid, fd);
  return x !== undefined && x.f.kind === 'file' && x.m.kind === 'file' && !onTmpfs(x.m) && !x.f.readOnly;
}

/** The concrete event a template stands for in state `w` (or the constructor of a resource it misses). */
export function resolve(t: Template, w: World, m: FuzzModel): Event {
  return resolveInner(t, w, m, 0, null);
}

/** A constructor template as resolveInner expects it: `noConstruct` cleared (built field by field: object spread is slow). */
function asConstructor(c: Template): Template {
  const t: Template = { op: c.op, pid: c.pid, args: c.args };
  if (c.fd !== undefined) t.fd = c.fd;
  if (c.bufs !== undefined) t.bufs = c.bufs;
  if (c.frame !== undefined) t.frame = c.frame;
  return t;
}

function resolveInner(t: Template, w: World, m: FuzzModel, depth: number, note: { constructed: boolean } | null): Event {
  let pid: number;
  if (t.pid === 0 && w.procs.get(1)?.alive) pid = 1;
  else {
    const pids: number[] = [];
    w.procs.each((p, proc) => {
      if (proc.alive) pids.push(p);
    });
    // A negative index names a child (never the first process): exit must not end the whole run.
    const kids = t.pid < 0 ? pids.filter((p) => p !== pids[0]) : pids;
    if (t.pid < 0 && !kids.length) return { op: 'note', args: { text: `${t.op}: no child process` } };
    pid = kids.length ? kids[Math.abs(t.pid) % kids.length]! : 1;
  }
  if (t.op === 'maps' && t.args && !couldHaveMapped(w, pid, t.args)) return { op: 'note', args: { text: 'maps: memory the process could not have made (locked by mlockall(MCL_FUTURE), past RLIMIT_MEMLOCK)' } };
  if (t.op === 'maps' && t.args && cutsHugePage(w, pid, t.args)) return { op: 'note', args: { text: 'maps: a snapshot no process shows (it cuts a hugetlb VMA inside a huge page)' } };
  const e: Env = { w, m, pid, args: {}, cache: undefined };
  const ev: Event = { op: t.op, args: null };
  if (pid !== 1) ev.pid = pid;
  if (t.fd !== undefined) {
    const fd = Number(isSym(t.fd) ? resolveSym(t.fd, e) : t.fd);
    ev.fd = fd;
    const fileId = w.procs.get(pid)?.fds.get(fd);
    const f = fileId === undefined ? undefined : w.files.get(fileId);
    if (f?.kind === 'iommufd' && f.ctx !== undefined) {
      e.ctxId = f.ctx;
      e.ctx = w.ctxs.get(f.ctx);
    }
  }
  if (!e.ctx && (t.fd !== undefined || (t.args !== null && t.args['fd'] !== undefined))) {
    // Environment events and VFIO device files name objects of a context too: the device's binding, else the
    // process's first /dev/iommu.
    const fileId = ev.fd === undefined ? undefined : w.procs.get(pid)?.fds.get(ev.fd);
    const f = fileId === undefined ? undefined : w.files.get(fileId);
    let ctxId = f?.kind === 'vfio' && f.dev !== undefined ? w.hw?.devs.get(f.dev)?.bound?.ctx : undefined;
    if (ctxId === undefined)
      w.procs.get(pid)?.fds.each((_fd, id) => {
        const g = w.files.get(id);
        if (g?.kind === 'iommufd') ctxId = g.ctx;
        return ctxId === undefined;
      });
    if (ctxId !== undefined) {
      e.ctxId = ctxId;
      e.ctx = w.ctxs.get(ctxId);
    }
  }
  if (depth < 4) {
    const c = constructorFor(t, w, pid, e.ctx, m);
    if (c) {
      if (note) note.constructed = true;
      return resolveInner(c.noConstruct ? asConstructor(c) : c, w, m, depth + 1, note);
    }
  }
  if (t.args) {
    const late: Late[] = [];
    const args = resolveFields(t.args, e, late);
    e.args = args;
    for (const [target, key, sym] of late) target[key] = resolveSym(sym, e);
    // A hugetlbfs file whose page cache the model does not follow (one from before the trace,
    // mm.ts Mobj.mayCache; or a memfd of unknown contents, not Mobj.hugetlbfs) is mapped either
    // privately or shared and fallocated, not both: which pages a private mapping would share with
    // its cache is not known. The generator keeps to one or the other per such file.
    const h = t.op === 'mmap' || t.op === 'fallocate' ? hugetlbFd(w, pid, args['fd']) : undefined;
    if (h && !h.m.hugetlbfs) {
      const m = h.m;
      const priv = !m.mayCache && privatelyMapped(w.procs, m.id);
      if (t.op === 'mmap' && args['kind'] === 'file_private' && m.mayCache) args['kind'] = h.kind === 'memfd' ? 'memfd' : 'file_shared';
      else if (t.op === 'mmap' && args['kind'] !== 'file_private' && priv) args['kind'] = 'file_private';
      else if (t.op === 'fallocate' && priv && !(Number(args['mode']) & 2)) args['mode'] = 3;
    }
    // (the scratch file's filesystem is not the model's to know: where its answer would be, no event)
    if (t.op === 'fallocate' && typeof args['mode'] === 'number' && modeDependsOnFs(args['mode']) && regularFile(w, pid, args['fd']))
      return { op: 'note', args: { text: 'fallocate: a mode whose answer is the filesystem\'s (the model knows tmpfs alone)' } };
    ev.args = args;
  }
  if (t.bufs) {
    const bufs: NonNullable<Event['bufs']> = {};
    for (const k in t.bufs) bufs[k] = resolveBuf(t.bufs[k]!, e);
    ev.bufs = bufs;
  }
  if (t.frame && ev.args) {
    const st = structOf(t.op);
    const size = st ? structSize(st, w.kernel) : undefined;
    if (size !== undefined) {
      if (t.frame === 'short') ev.size = size > 8 ? size - 4 : 4;
      else {
        ev.size = size + 8;
        ev.tail = new Uint8Array(8);
        if (t.frame === 'longjunk') ev.tail[5] = 0x5a;
      }
    }
  }
  return ev;
}

/** A compact, readable rendering of a template (fast-check prints commands with it). */
export function showTemplate(t: Template): string {
  const v = (x: unknown): string => {
    if (typeof x === 'bigint') return `0x${x.toString(16)}`;
    if (x instanceof Uint8Array) return `<${x.length}B>`;
    if (x === null) return 'null';
    if (isSym(x)) {
      const s = x as Sym;
      switch (s.$) {
        case 'id':
          return `${s.t}#${s.k}`;
        case 'stale':
          return `stale#${s.k}`;
        case 'fd':
          return `fd:${s.kind}#${s.k}`;
        case 'va':
          return `va${s.end ? 'end' : ''}#${s.k}${s.off < 0n ? `-${v(-s.off)}` : `+${v(s.off)}`}`;
        case 'iova':
          return `iova${s.end ? 'end' : ''}(${s.of})#${s.k}+${v(s.off)}`;
        case 'alen':
          return `alen(${s.of})#${s.k}x${s.n}+${v(s.add)}`;
        case 'uva':
          return `uva(${s.of})#${s.k}+${v(s.off)}`;
        case 'cookie':
          return `cookie#${s.k}`;
        case 'newpid':
          return 'newpid';
        case 'gap':
          return `gap(${v(s.len)})`;
        case 'vfiopath':
          return `vfio${s.group ? 'group' : 'cdev'}#${s.k}`;
      }
    }
    if (typeof x === 'object' && x) {
      if ('$' in x) return JSON.stringify(x, (_k, y) => (typeof y === 'bigint' ? `0x${y.toString(16)}` : y));
      return `{${Object.entries(x as object).filter(([, y]) => y !== undefined).map(([k, y]) => `${k}:${v(y)}`).join(',')}}`;
    }
    return String(x);
  };
  const parts = [t.op];
  if (t.pid) parts.push(`pid#${t.pid}`);
  if (t.fd !== undefined) parts.push(`fd=${v(t.fd)}`);
  parts.push(v(t.args));
  if (t.bufs) parts.push(`bufs=${v(t.bufs)}`);
  if (t.frame) parts.push(`frame=${t.frame}`);
  if (t.noConstruct) parts.push('!construct');
  return parts.join(' ');
}
