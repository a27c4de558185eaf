/**
 * What the debugger shows, as plain JSON computed from one state: the event
 * decoded with uAPI field names, the state tree (lazily, one node at a
 * time), the IOVA-space picture of an IOAS or HWPT for an address window,
 * the object graph, and an object's lifecycle.
 */
import type { Patch } from 'immer';
import { intOf, type Event, type Value } from '../events/event.js';
import { PMap, compareBigints } from '../ds/pmap.js';
import { IntervalMap, U64_MAX } from '../ds/interval_map.js';
import type { Area, Ctx, FaultRecord, Obj, World } from '../model/state.js';
import { IOCTLS, isIoctlName, isTestOpName, TEST_OPS } from '../uapi/ioctls.js';
import type { FieldLayout } from '../uapi/layout.js';
import { UAPI, type KernelVersion } from '../uapi/versions.js';
import { describeErrno } from '../uapi/errno.js';
import { compare } from '../engine/replay.js';
import type { DebugIndex, IovaTouch } from './history.js';
import { F_DIVERGED, PAGE } from './history.js';
import { decodeEnvArg } from './env_decode.js';
import { MOCK_IO_PAGE_SIZE } from '../model/drivers/mock.js';
import { hex, jsonify } from './json.js';
import type { Band, DiffRow, EventView, FieldRow, GraphEdge, GraphNode, IovaView, LifecycleView, SpaceInfo, TreeChild, TreeNodeView } from './protocol.js';
export type { Band, DiffRow, EventView, FieldRow, GraphEdge, GraphNode, IovaView, LifecycleView, SpaceInfo, TreeChild, TreeNodeView } from './protocol.js';
import { lifecycleState, machineFor, objSummary } from './lifecycle.js';

// ---------------------------------------------------------------- events

/**
 * Flags / enum fields decoded with the uAPI constants (the selftest ones
 * included): (struct, field) -> constant prefix(es). With several prefixes
 * (a field whose enum depends on the object it names) every match is shown.
 */
const FLAG_PREFIX: Record<string, [string | readonly string[], 'flags' | 'enum']> = {
  'iommu_ioas_map.flags': ['IOMMU_IOAS_MAP_', 'flags'],
  'iommu_ioas_map_file.flags': ['IOMMU_IOAS_MAP_', 'flags'],
  'iommu_ioas_copy.flags': ['IOMMU_IOAS_MAP_', 'flags'],
  'iommu_hwpt_alloc.flags': ['IOMMU_HWPT_ALLOC_', 'flags'],
  'iommu_hwpt_alloc.data_type': ['IOMMU_HWPT_DATA_', 'enum'],
  'iommu_hwpt_get_dirty_bitmap.flags': ['IOMMU_HWPT_GET_DIRTY_BITMAP_', 'flags'],
  'iommu_hwpt_set_dirty_tracking.flags': ['IOMMU_HWPT_DIRTY_TRACKING_', 'flags'],
  'iommu_option.option_id': ['IOMMU_OPTION_', 'enum'],
  'iommu_option.op': ['IOMMU_OPTION_OP_', 'enum'],
  'iommu_hw_info.out_data_type': ['IOMMU_HW_INFO_TYPE_', 'enum'],
  'iommu_viommu_alloc.type': ['IOMMU_VIOMMU_TYPE_', 'enum'],
  'iommu_hw_info.out_capabilities': ['IOMMU_HW_CAP_', 'flags'],
  'vfio_iommu_type1_dma_map.flags': ['VFIO_DMA_MAP_FLAG_', 'flags'],
  'vfio_iommu_type1_dma_unmap.flags': ['VFIO_DMA_UNMAP_FLAG_', 'flags'],
  'vfio_iommu_type1_info.flags': ['VFIO_IOMMU_INFO_', 'flags'],
  // a HWPT's or a vIOMMU's invalidation format, by what hwpt_id names
  'iommu_hwpt_invalidate.data_type': [['IOMMU_HWPT_INVALIDATE_DATA_', 'IOMMU_VIOMMU_INVALIDATE_DATA_'], 'enum'],
};

function decodeConst(kernel: KernelVersion, key: string, v: Value | undefined): string | null {
  const spec = FLAG_PREFIX[key];
  if (!spec || (typeof v !== 'number' && typeof v !== 'bigint')) return null;
  const [prefixes, kind] = spec;
  const one = typeof prefixes === 'string';
  const n = intOf(v);
  const names: [string, bigint][] = [];
  for (const [name, val] of Object.entries(UAPI[kernel].constants)) {
    const prefix = one ? (name.startsWith(prefixes) ? prefixes : undefined) : prefixes.find((p) => name.startsWith(p));
    if (prefix === undefined || isIoctlName(name)) continue;
    if (prefix === 'IOMMU_OPTION_' && name.startsWith('IOMMU_OPTION_OP_')) continue;
    // one prefix: the rest of the name says it; several: keep what tells them apart
    names.push([one ? name.slice(prefix.length) : name.slice('IOMMU_'.length), BigInt(val)]);
  }
  if (kind === 'enum') {
    const hits = names.filter(([, x]) => x === n).map(([name]) => name);
    return hits.length ? hits.join(' / ') : null;
  }
  if (n === 0n) return '0';
  const parts: string[] = [];
  let rest = n;
  for (const [name, x] of names) {
    if (x !== 0n && (x & (x - 1n)) === 0n && (n & x) === x) {
      parts.push(name);
      rest &= ~x;
    }
  }
  if (rest) parts.push(hex(rest));
  return parts.join('|');
}

function fmt(v: Value | undefined, f?: FieldLayout): string | null {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return hex(v);
  if (typeof v === 'number') return f && (f.type === 'u64' || f.type === 'ptr' || f.type === 's64') ? hex(v) : String(v);
  if (v instanceof Uint8Array) return `<${Buffer.from(v.subarray(0, 32)).toString('hex')}${v.length > 32 ? `..+${v.length - 32}` : ''}>`;
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(jsonify(v));
  return String(v);
}

function structFor(op: string): { struct: string | null; member: string | null } {
  if (isTestOpName(op)) return { struct: 'iommu_test_cmd', member: TEST_OPS.find((t) => t.name === op)?.member ?? null };
  if (isIoctlName(op)) return { struct: IOCTLS[op].struct, member: null };
  return { struct: null, member: null };
}

export function eventView(ix: DebugIndex, i: number): EventView {
  const s = ix.step(i);
  const ev = s.event;
  const res = s.result;
  const kernel = ix.kernel;
  const { struct, member } = structFor(ev.op);
  const layout = struct ? UAPI[kernel].structs[struct] ?? UAPI['6.14'].structs[struct] : undefined;
  const rows: FieldRow[] = [];
  const args = ev.args ?? {};
  const out = res.out ?? {};
  const recOut = ev.rec?.out ?? {};
  const seen = new Set<string>();
  const visit = (fields: readonly FieldLayout[], a: Record<string, Value>, o: Record<string, Value>, r: Record<string, Value>, prefix: string, depth: number, tag: string) => {
    for (const f of fields) {
      if (f.name === '') {
        // anonymous union (iommu_test_cmd): only the member this op uses
        for (const m of f.fields ?? []) {
          if (member && m.name !== member) continue;
          if (!member && a[m.name] === undefined) continue;
          visitMember(m, a, o, r, prefix, depth, tag);
        }
        continue;
      }
      visitMember(f, a, o, r, prefix, depth, tag);
    }
  };
  const visitMember = (f: FieldLayout, a: Record<string, Value>, o: Record<string, Value>, r: Record<string, Value>, prefix: string, depth: number, tag: string) => {
    const name = prefix + f.name;
    if (!prefix) seen.add(f.name);
    const v = a[f.name];
    if ((f.type === 'struct' || f.type === 'union') && f.fields && !f.count) {
      rows.push({ name, depth, type: f.struct ? `struct ${f.struct}` : f.type, offset: f.offset, value: null, out: null, rec: null, decoded: null });
      const sub = (x: Value | undefined) => (x && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Uint8Array) ? (x as Record<string, Value>) : {});
      visit(f.fields, sub(v), sub(o[f.name]), sub(r[f.name]), name + '.', depth + 1, f.struct ?? tag);
      return;
    }
    const value = fmt(v, f);
    const ov = fmt(o[f.name], f);
    const rv = fmt(r[f.name], f);
    rows.push({
      name,
      depth,
      type: f.type + (f.count !== undefined ? `[${f.count || ''}]` : ''),
      offset: f.offset,
      value,
      out: ov !== null && ov !== value ? ov : null,
      rec: rv !== null && rv !== (ov ?? value) ? rv : null,
      decoded: decodeConst(kernel, `${tag}.${f.name}`, o[f.name] ?? v),
    });
  };
  if (layout) visit(layout.fields, args, out, recOut, '', 0, struct!);
  for (const [k, v] of Object.entries(args)) {
    if (seen.has(k) || (member && k === member)) continue;
    if (layout && layout.fields.some((f) => f.name === '' && f.fields?.some((m) => m.name === k))) continue;
    // (an environment event's flags and modes by name: env_decode.ts)
    rows.push({ name: k, depth: 0, type: typeof v === 'bigint' ? 'u64' : typeof v, offset: null, value: fmt(v), out: fmt(out[k]) !== fmt(v) ? fmt(out[k]) : null, rec: null, decoded: layout ? null : decodeEnvArg(ev.op, k, v) });
  }
  const bufs = Object.entries({ ...(ev.bufs ?? {}), ...(res.bufs ?? {}) }).map(([name, b]) => ({
    name,
    length: b ? b.length : null,
    hex: b ? Buffer.from(b.subarray(0, BUF_HEX_BYTES)).toString('hex') : null,
    omitted: b ? Math.max(0, b.length - BUF_HEX_BYTES) : 0,
    meaning: b && ev.op === 'IOMMU_HWPT_GET_DIRTY_BITMAP' && name === 'data' ? dirtyBitmapMeaning(b, args['iova'], args['page_size']) : null,
  }));
  const d = ix.flags(i) & F_DIVERGED ? compare(ev, res) : undefined;
  const errText = (e: string | 0) => (e === 0 ? 'success' : describeErrno(e));
  return {
    index: i,
    op: ev.op,
    pid: ev.pid ?? 1,
    fd: ev.fd ?? null,
    src: ev.src ?? null,
    struct,
    fields: rows,
    bufs,
    result: { errno: res.errno, text: errText(res.errno), ret: res.ret ?? null, unmodelled: res.unmodelled ?? null },
    recorded: ev.rec ? { errno: ev.rec.errno, text: errText(ev.rec.errno) } : null,
    divergence: d ? { what: d.what, expected: jsonify(d.expected), actual: jsonify(d.actual) } : null,
    summary: eventSummary(ev),
  };
}

/** Bytes of a buffer shown in hex (the view says how many more there are). */
export const BUF_HEX_BYTES = 64;

/** Dirty runs a bitmap's meaning lists before it gives only the count of the rest. */
const DIRTY_RUNS_SHOWN = 8;

/**
 * A GET_DIRTY_BITMAP result in IOVAs: bit i (little-endian u64 words, so
 * byte i/8, bit i%8) covers [iova + i * page_size, + page_size). Read as
 * runs of set bits, which is what a migration loop copies.
 */
export function dirtyBitmapMeaning(b: Uint8Array, iova: unknown, pageSize: unknown): string | null {
  if (typeof iova !== 'bigint' && typeof iova !== 'number') return null;
  if (typeof pageSize !== 'bigint' && typeof pageSize !== 'number') return null;
  const base = intOf(iova);
  const ps = intOf(pageSize);
  if (ps <= 0n) return null;
  const runs: string[] = [];
  let nruns = 0;
  let pages = 0;
  let runStart = -1;
  const nbits = b.length * 8;
  for (let i = 0; i <= nbits; i++) {
    const set = i < nbits && (b[i >> 3]! >> (i & 7)) & 1;
    if (set) {
      pages++;
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      if (nruns++ < DIRTY_RUNS_SHOWN) runs.push(`${hex(base + BigInt(runStart) * ps)}..${hex(base + BigInt(i) * ps - 1n)}`);
      runStart = -1;
    }
  }
  if (pages === 0) return 'no page dirty';
  const more = nruns > DIRTY_RUNS_SHOWN ? `, ${nruns - DIRTY_RUNS_SHOWN} more runs` : '';
  return `${pages} dirty page${pages === 1 ? '' : 's'} of ${hex(ps)} in ${nruns} run${nruns === 1 ? '' : 's'}: ${runs.join(' ')}${more}`;
}

/** Short text of an event for lists: the fields that identify the call. */
export function eventSummary(ev: Event): string {
  const a = ev.args;
  if (!a) return 'args=null';
  const pick = (o: Record<string, Value>, keys: string[]) =>
    keys
      .filter((k) => o[k] !== undefined)
      .map((k) => `${k}=${fmt(o[k], typeof o[k] === 'bigint' ? ({ type: 'u64' } as FieldLayout) : undefined)}`)
      .join(' ');
  const keys = ['id', 'ioas_id', 'hwpt_id', 'dev_id', 'pt_id', 'src_ioas_id', 'dst_ioas_id', 'flags', 'iova', 'src_iova', 'dst_iova', 'user_va', 'length', 'size', 'va', 'path', 'child', 'fd'];
  let s = pick(a, keys);
  for (const [k, v] of Object.entries(a)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const inner = pick(v as Record<string, Value>, ['iova', 'length', 'uptr', 'addr', 'dev_id', 'refs', 'pt_id', 'flags', 'ioas_id', 'limit']);
      if (inner) s += ` ${k}{${inner}}`;
    }
  }
  return s.trim();
}

// ---------------------------------------------------------------- state tree

function kindOf(v: unknown): string {
  if (v instanceof PMap) return 'map';
  if (v instanceof IntervalMap) return 'intervals';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v;
}

function summaryOf(v: unknown): string {
  if (v instanceof PMap) return `${v.size} entries`;
  if (v instanceof IntervalMap) return `${v.size} intervals`;
  if (Array.isArray(v)) return v.length <= 8 && v.every((x) => typeof x !== 'object') ? `[${v.map((x) => (typeof x === 'bigint' ? hex(x) : String(x))).join(', ')}]` : `${v.length} items`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === 'bigint') return hex(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['type'] === 'string' && typeof o['id'] === 'number') return `${o['type']} #${o['id']}: ${safeSummary(o as unknown as Obj)}`;
    if (typeof o['last'] === 'bigint' && typeof o['pages'] === 'number') return `..${hex(o['last'] as bigint)} pages ${o['pages']} prot ${o['prot']}`;
    const ks = Object.keys(o);
    return `{${ks.slice(0, 6).join(', ')}${ks.length > 6 ? ', …' : ''}}`;
  }
  return String(v);
}

function safeSummary(o: Obj, c?: Ctx): string {
  try {
    return `${lifecycleState(o, c)}; ${objSummary(o)}`;
  } catch {
    return '';
  }
}

const expandable = (v: unknown) => v instanceof PMap || v instanceof IntervalMap || Array.isArray(v) || (typeof v === 'object' && v !== null && !(v instanceof Uint8Array));

/**
 * A path segment as a map key: a u64 (decimal or 0x hex) for bigint keys, a
 * safe integer for number keys (negative ones too: a detached VFIO group's,
 * hardware.ts); undefined for anything else (no such child).
 */
function keyOf(key: string, big: boolean): bigint | number | undefined {
  if (big) {
    if (!/^(0x[0-9a-f]{1,16}|\d{1,20})$/i.test(key)) return undefined;
    const b = BigInt(key);
    return b <= 0xffff_ffff_ffff_ffffn ? b : undefined;
  }
  if (!/^-?\d{1,16}$/.test(key)) return undefined;
  const n = Number(key);
  return Number.isSafeInteger(n) ? n : undefined;
}

function childOf(v: unknown, key: string): unknown {
  if (v instanceof PMap) {
    const m = v as PMap<unknown, unknown>;
    const k = keyOf(key, m.cmp === (compareBigints as unknown));
    return k === undefined ? undefined : m.get(k);
  }
  if (v instanceof IntervalMap) {
    const s = keyOf(key, true) as bigint | undefined;
    if (s === undefined) return undefined;
    const x = (v as IntervalMap<object>).find(s);
    return x && x.start === s ? { last: x.last, ...x.value } : undefined;
  }
  if (Array.isArray(v)) return v[Number(key)];
  if (v && typeof v === 'object') return Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  return undefined;
}

/** The node at `path` of a state, with children [offset, offset + limit). */
export function treeView(w: World, path: string[], offset = 0, limit = 200): TreeNodeView {
  let v: unknown = w;
  for (const seg of path) {
    v = childOf(v, seg);
    if (v === undefined) throw new Error(`no '${seg}' at ${path.join('.') || '(root)'}`);
  }
  const children: TreeChild[] = [];
  let total = 0;
  const push = (key: string, x: unknown) => children.push({ key, kind: kindOf(x), summary: summaryOf(x), expandable: expandable(x) });
  if (v instanceof PMap) {
    const m = v as PMap<unknown, unknown>;
    total = m.size;
    let k = 0;
    m.each((key, x) => {
      if (k >= offset + limit) return false;
      if (k++ >= offset) push(typeof key === 'bigint' ? hex(key) : String(key), x);
      return true;
    });
  } else if (v instanceof IntervalMap) {
    const m = v as IntervalMap<object>;
    total = m.size;
    let k = 0;
    m.each((s, l, x) => {
      if (k >= offset + limit) return false;
      if (k++ >= offset) push(hex(s), { last: l, ...x });
      return true;
    });
  } else if (Array.isArray(v)) {
    total = v.length;
    v.slice(offset, offset + limit).forEach((x, i) => push(String(offset + i), x));
  } else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const e = Object.entries(v);
    total = e.length;
    for (const [k, x] of e.slice(offset, offset + limit)) push(k, x);
  }
  return { path, kind: kindOf(v), summary: summaryOf(v), total, offset, children };
}

/** Parses `ctxs.1.objs.2` / `ctxs/1/objs/2` / `ctxs[1].objs[2]`. */
export function parsePath(s: string): string[] {
  return s
    .trim()
    .replace(/\[([^\]]*)\]/g, '.$1')
    .split(/[./]/)
    .filter((x) => x.length > 0);
}

// ---------------------------------------------------------------- diff

export function diffView(patches: Patch[], limit = 400, total = patches.length): { rows: DiffRow[]; total: number } {
  return {
    total: Math.max(total, patches.length),
    rows: patches.slice(0, limit).map((p) => ({ op: p.op, path: p.path.join('.'), value: p.op === 'remove' ? null : jsonify(p.value, 3), note: pathNote(p.path) })),
  };
}

/**
 * A state path's meaning where its key is not plain: a domain's dirty set is
 * keyed by 2 KiB IOPTE slot (IOVA / 2048), which reads as the IOVA it covers.
 */
export function pathNote(path: readonly (string | number)[]): string | null {
  const n = path.length;
  if (n >= 3 && path[n - 3] === 'domain' && path[n - 2] === 'dirty') {
    const slot = path[n - 1];
    if (typeof slot === 'string' && /^0x[0-9a-f]+$/.test(slot)) {
      const iova = BigInt(slot) * MOCK_IO_PAGE_SIZE;
      return `dirty IOPTE slot: IOVA ${hex(iova)}..${hex(iova + MOCK_IO_PAGE_SIZE - 1n)}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------- IOVA spaces

export function spacesView(w: World): SpaceInfo[] {
  const out: SpaceInfo[] = [];
  w.ctxs.each((ctxId, c) => {
    c.objs.each((id, o) => {
      if (o.type === 'ioas') {
        const a = o.iopt.areas;
        // no areas: frame the faults, if any (a PRI storm on an empty IOAS)
        out.push({ ctx: ctxId, id, type: 'ioas', label: `IOAS ${id}`, areas: a.size, extent: a.size ? [hex(firstStart(a)), hex(lastLast(a))] : faultExtent(c, id) });
      } else if (o.type === 'hwpt_paging') {
        const ioas = c.objs.get(o.ioas);
        const n = ioas?.type === 'ioas' ? ioas.iopt.areas.size : 0;
        const areas = ioas?.type === 'ioas' && n ? ioas.iopt.areas : null;
        out.push({ ctx: ctxId, id, type: 'hwpt_paging', label: `HWPT ${id} (paging, IOAS ${o.ioas})`, areas: n, extent: areas ? [hex(firstStart(areas)), hex(lastLast(areas))] : [hex(o.domain.apertureStart), hex(o.domain.apertureLast)] });
      } else if (o.type === 'hwpt_nested') {
        out.push({ ctx: ctxId, id, type: 'hwpt_nested', label: `HWPT ${id} (nested on ${o.parent})`, areas: 0, extent: null });
      }
      return true;
    });
    return true;
  });
  return out;
}

/** Every fault record a context's fault objects hold (queued, awaiting a response, a partial group), with the HWPT it came through. */
function eachFault(c: Ctx, fn: (r: FaultRecord, hwpt: number, state: string) => void): void {
  c.objs.each((_fid, f) => {
    if (f.type !== 'fault') return true;
    for (const g of f.queue) for (const r of g.faults) fn(r, g.hwpt, 'queued');
    f.awaiting.each((_k, g) => {
      for (const r of g.faults) fn(r, g.hwpt, 'awaiting response');
      return true;
    });
    for (const r of f.partial) {
      const dev = c.objs.get(r.dev_id);
      fn(r, dev?.type === 'device' ? dev.hwpt : 0, 'partial');
    }
    return true;
  });
}

/** The pages holding the faults that came through HWPTs on IOAS `ioasId`, or null: where to look in an IOAS with no areas. */
function faultExtent(c: Ctx, ioasId: number): [string, string] | null {
  let lo = U64_MAX;
  let hi = -1n;
  eachFault(c, (r, hwptId) => {
    let h = c.objs.get(hwptId);
    if (h?.type === 'hwpt_nested') h = c.objs.get(h.parent);
    if (h?.type !== 'hwpt_paging' || h.ioas !== ioasId) return;
    if (r.addr < lo) lo = r.addr;
    if (r.addr > hi) hi = r.addr;
  });
  return hi < 0n ? null : [hex(lo & ~0xfffn), hex(hi | 0xfffn)];
}

function firstStart(a: IntervalMap<Area>): bigint {
  let s = 0n;
  a.each((x) => {
    s = x;
    return false;
  });
  return s;
}
function lastLast(a: IntervalMap<Area>): bigint {
  // no reverse iterator: use the largest hole-free bound via find on U64_MAX downwards
  let l = 0n;
  const all = a.size <= 4096;
  if (all) a.each((_s, last) => void (l = last));
  else {
    // binary search for the last interval
    let lo = 0n;
    let hi = U64_MAX;
    while (lo < hi) {
      const mid = lo + (hi - lo + 1n) / 2n;
      if (a.anyOverlap(mid, U64_MAX)) lo = mid;
      else hi = mid - 1n;
    }
    l = lo;
  }
  return l;
}

const clamp = (x: bigint, lo: bigint, hi: bigint) => (x < lo ? lo : x > hi ? hi : x);

/**
 * The IOVA picture of IOAS / HWPT `id` over [lo, hi] at `px` pixels:
 * areas (or clusters), the pinned parts of each area, dirty IOPTEs, faults,
 * reserved and allowed ranges, the aperture, and what event `touches` did.
 */
export function iovaView(w: World, ctxId: number, id: number, lo: bigint, hi: bigint, px = 1200, touches: IovaTouch[] = []): IovaView {
  const c = w.ctxs.get(ctxId);
  const o = c?.objs.get(id);
  if (!c || !o) throw new Error(`no object ${id} in context ${ctxId}`);
  let ioasId = id;
  let note: string | null = null;
  let hw: Extract<Obj, { type: 'hwpt_paging' }> | null = null;
  if (o.type === 'hwpt_nested') {
    const p = c.objs.get(o.parent);
    if (p?.type !== 'hwpt_paging') throw new Error(`nested HWPT ${id}: parent ${o.parent} missing`);
    note = `nested HWPT ${id}: stage-1 tables are the guest's; showing parent HWPT ${o.parent}`;
    hw = p;
    ioasId = p.ioas;
  } else if (o.type === 'hwpt_paging') {
    hw = o;
    ioasId = o.ioas;
  } else if (o.type !== 'ioas') throw new Error(`object ${id} is a ${o.type}, not an IOAS or HWPT`);
  const ioas = c.objs.get(ioasId);
  if (ioas?.type !== 'ioas') throw new Error(`IOAS ${ioasId} missing`);
  const view: IovaView = {
    ctx: ctxId,
    id,
    type: o.type,
    label: o.type === 'ioas' ? `IOAS ${id}` : `HWPT ${id} (${o.type === 'hwpt_paging' ? 'paging' : 'nested'}) on IOAS ${ioasId}`,
    lo: hex(lo),
    hi: hex(hi),
    areas: [],
    clusters: [],
    totalAreas: ioas.iopt.areas.size,
    pins: [],
    dirty: [],
    hugeMapped: [],
    faults: [],
    reserved: [],
    allowed: [],
    aperture: hw ? { start: hex(hw.domain.apertureStart), last: hex(hw.domain.apertureLast) } : null,
    touches: [],
    extent: ioas.iopt.areas.size ? { start: hex(firstStart(ioas.iopt.areas)), last: hex(lastLast(ioas.iopt.areas)) } : null,
    note,
  };
  const span = hi - lo + 1n;
  const pxSize = span / BigInt(Math.max(1, px)) || 1n;
  // areas: detail when few, clusters (merging areas closer than a pixel) otherwise
  const areas: { s: bigint; l: bigint; a: Area }[] = [];
  let count = 0;
  const DETAIL = 800;
  ioas.iopt.areas.eachOverlapping(lo, hi, (s, l, a) => {
    count++;
    if (count <= DETAIL) areas.push({ s, l, a });
    return count <= 200_000;
  });
  if (count <= DETAIL) {
    for (const { s, l, a } of areas) {
      const p = c.pages.get(a.pages);
      let pinned = 0;
      const npages = Number((a.startByte + (l - s)) / PAGE - a.startByte / PAGE + 1n);
      if (p) {
        const i0 = Number(a.startByte / PAGE);
        const i1 = Number((a.startByte + (l - s)) / PAGE);
        p.pinned.each((rs, run) => {
          if (rs > i1) return false;
          if (run.last < i0) return true;
          const f = Math.max(rs, i0);
          const t = Math.min(run.last, i1);
          pinned += t - f + 1;
          // IOVA of page index k: s + k*PAGE - startByte
          const ps = clamp(s + BigInt(f) * PAGE - a.startByte, s, l);
          const pl = clamp(s + BigInt(t + 1) * PAGE - a.startByte - 1n, s, l);
          if (pl >= lo && ps <= hi) view.pins.push({ start: hex(ps), last: hex(pl), count: run.count });
          return true;
        });
      }
      view.areas.push({ start: hex(s), last: hex(l), pages: a.pages, prot: a.prot, startByte: hex(a.startByte), accesses: a.numAccesses, pinned, npages });
    }
  } else {
    let cur: { s: bigint; l: bigint; n: number } | null = null;
    ioas.iopt.areas.eachOverlapping(lo, hi, (s, l) => {
      if (cur && s - cur.l <= pxSize) {
        cur.l = l;
        cur.n++;
      } else {
        if (cur) view.clusters.push({ start: hex(cur.s), last: hex(cur.l), count: cur.n });
        cur = { s, l, n: 1 };
      }
      return view.clusters.length < 4000;
    });
    const last = cur as { s: bigint; l: bigint; n: number } | null;
    if (last) view.clusters.push({ start: hex(last.s), last: hex(last.l), count: last.n });
  }
  // dirty IOPTEs (2 KiB mock slots) of the domain(s)
  const domains = hw ? [hw] : ioas.iopt.domains.map((d) => c.objs.get(d)).filter((x): x is Extract<Obj, { type: 'hwpt_paging' }> => x?.type === 'hwpt_paging');
  const SLOT = 2048n;
  for (const d of domains) {
    let run: { s: bigint; l: bigint } | null = null;
    d.domain.dirty.each(
      (slot) => {
        const s = slot * SLOT;
        // runs closer than a pixel are drawn as one
        if (run && s <= run.l + 1n + (pxSize > SLOT ? pxSize : 0n)) run.l = s + SLOT - 1n;
        else {
          if (run) view.dirty.push({ start: hex(run.s), last: hex(run.l) });
          run = { s, l: s + SLOT - 1n };
        }
        return view.dirty.length < 5000;
      },
      lo / SLOT,
      hi / SLOT,
    );
    const r = run as { s: bigint; l: bigint } | null;
    if (r) view.dirty.push({ start: hex(r.s), last: hex(r.l) });
    if (hw) d.domain.hugeMapped.each((s, l) => void view.hugeMapped.push({ start: hex(s), last: hex(l) }), undefined, hi);
  }
  // faults delivered through HWPTs of this IOAS
  const onThis = (hwptId: number) => {
    if (hw) return hwptId === hw.id || (o.type === 'hwpt_nested' && hwptId === id);
    const h = c.objs.get(hwptId);
    if (h?.type === 'hwpt_paging') return h.ioas === ioasId;
    if (h?.type === 'hwpt_nested') {
      const p = c.objs.get(h.parent);
      return p?.type === 'hwpt_paging' && p.ioas === ioasId;
    }
    return false;
  };
  eachFault(c, (r, hwpt, state) => {
    if (onThis(hwpt) && r.addr >= lo && r.addr <= hi) view.faults.push({ addr: hex(r.addr), dev: r.dev_id, hwpt, state });
  });
  for (const r of ioas.iopt.reserved) if (r.last >= lo && r.start <= hi) view.reserved.push({ start: hex(r.start), last: hex(r.last), owner: r.owner });
  for (const r of ioas.iopt.allowed) if (r.last >= lo && r.start <= hi) view.allowed.push({ start: hex(r.start), last: hex(r.last) });
  // this event's touches, merged per kind where closer than a pixel
  const mine = touches
    .filter((t) => t.ctx === ctxId && (t.space === id || t.space === ioasId || (hw !== null && t.space === hw.id)) && t.last >= lo && t.start <= hi)
    .sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const merged: IovaTouch[] = [];
  for (const t of mine) {
    const c = merged[merged.length - 1];
    if (c && c.kind === t.kind && t.start <= c.last + 1n + pxSize) {
      if (t.last > c.last) c.last = t.last;
      continue;
    }
    if (merged.length > 200) break;
    merged.push({ ...t });
  }
  for (const c of merged) view.touches.push({ start: hex(c.start), last: hex(c.last), kind: c.kind, event: c.event });
  return view;
}

// ---------------------------------------------------------------- object graph

export function graphView(w: World): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const k = (ctx: number, id: number) => `${ctx}:${id}`;
  w.procs.each((pid, p) => {
    if (!p.alive) return true;
    const ctxFds = new Map<number, number[]>();
    p.fds.each((fd, fileId) => {
      const f = w.files.get(fileId);
      if (f?.kind === 'iommufd' && f.ctx !== undefined) ctxFds.set(f.ctx, [...(ctxFds.get(f.ctx) ?? []), fd]);
      return true;
    });
    if (!ctxFds.size) return true;
    nodes.push({ key: `p${pid}`, ctx: 0, id: pid, type: 'process', label: `pid ${pid}`, state: 'alive', users: null });
    for (const [ctx, fds] of ctxFds) edges.push({ from: `p${pid}`, to: `c${ctx}`, label: `fd ${fds.join(',')}` });
    return true;
  });
  w.ctxs.each((ctxId, c: Ctx) => {
    nodes.push({ key: `c${ctxId}`, ctx: ctxId, id: 0, type: 'iommufd', label: `/dev/iommu ctx ${ctxId}`, state: `${c.objs.size} objects, ${c.pages.size} pages`, users: null });
    c.objs.each((id, o) => {
      nodes.push({ key: k(ctxId, id), ctx: ctxId, id, type: o.type, label: `${o.type} ${id}`, state: safeState(o, c), users: o.users });
      edges.push({ from: `c${ctxId}`, to: k(ctxId, id), label: '' });
      const e = (to: number, label: string) => {
        if (to) edges.push({ from: k(ctxId, id), to: k(ctxId, to), label });
      };
      switch (o.type) {
        case 'hwpt_paging':
          e(o.ioas, 'IOAS');
          e(o.fault, 'fault');
          break;
        case 'hwpt_nested':
          e(o.parent, 'parent');
          e(o.viommu, 'vIOMMU');
          e(o.fault, 'fault');
          break;
        case 'device':
          e(o.hwpt, 'attached');
          break;
        case 'selftest':
          e(o.idev, 'owns');
          break;
        case 'access':
          e(o.ioas, 'IOAS');
          break;
        case 'viommu':
          e(o.hwpt, 'HWPT');
          break;
        case 'vdevice':
          e(o.viommu, 'vIOMMU');
          e(o.dev, 'device');
          break;
        default:
          break;
      }
      return true;
    });
    // the ctx edge duplicates containment: keep it only for roots (objects nobody points at)
    return true;
  });
  const pointed = new Set(edges.filter((x) => !x.from.startsWith('c') && !x.from.startsWith('p')).map((x) => x.to));
  return { nodes, edges: edges.filter((x) => !(x.from.startsWith('c') && pointed.has(x.to))) };
}

function safeState(o: Obj, c?: Ctx): string {
  try {
    return lifecycleState(o, c);
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------- lifecycle

/** History rows and folded path segments a lifecycle view carries (the latest ones). */
const LIFE_ROWS = 200;
const LIFE_RUNS = 24;

export function lifecycleView(ix: DebugIndex, w: World, ctx: number, id: number, upTo: number): LifecycleView {
  const o = w.ctxs.get(ctx)?.objs.get(id);
  const rows = ix.objectChangeRows(id, ctx, upTo);
  // gone (or not yet made) at this event: the type its log names last
  const all = o ? null : ix.objectChangeRows(id, ctx);
  const type = o?.type ?? (all?.length ? ix.objectChangeAt(all[all.length - 1]!).type : null);
  const m = type ? machineFor(type as Obj['type']) : null;
  // Every state visited, and the path with repeats folded, from all the rows; the rows themselves only the latest.
  const seen = new Set<string>();
  const runs: { state: string; event: number; n: number }[] = [];
  let folded = 0;
  for (const k of rows) {
    const st = ix.objectStateAt(k);
    seen.add(st);
    const last = runs[runs.length - 1];
    if (last && last.state === st) last.n++;
    else {
      runs.push({ state: st, event: ix.objectChangeAt(k).event, n: 1 });
      if (runs.length > LIFE_RUNS) {
        runs.shift();
        folded++;
      }
    }
  }
  const history = [...rows.subarray(Math.max(0, rows.length - LIFE_ROWS))].map((k) => {
    const c = ix.objectChangeAt(k);
    return { event: c.event, op: ix.op(c.event), change: c.change, state: c.state };
  });
  return {
    ctx,
    id,
    type,
    state: o ? safeState(o, w.ctxs.get(ctx)) : rows.length ? 'destroyed' : '(none)',
    summary: o ? objSummary(o) : '',
    machine: m ? { states: m.states, transitions: m.transitions, source: m.source } : null,
    changes: rows.length,
    seen: [...seen],
    path: runs,
    pathBefore: folded,
    history,
  };
}

export { hex };
