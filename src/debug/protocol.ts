/**
 * The debugger's HTTP API payloads: plain JSON, shared (as types only) by
 * the server (src/debug) and the browser UI (ui/debug). No runtime code and
 * no Node or model imports here, so the UI can type-check against it.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface FieldRow {
  /** Dotted path (`mock_domain.out_hwpt_id`). */
  name: string;
  depth: number;
  type: string;
  offset: number | null;
  /** As the caller passed it. */
  value: string | null;
  /** Written back by the model, when different from the input. */
  out: string | null;
  /** Recorded by the kernel, when the trace has it and it differs from the input. */
  rec: string | null;
  /** Flag or enum names for the value. */
  decoded: string | null;
}

export interface EventView {
  index: number;
  op: string;
  pid: number;
  fd: number | null;
  src: string | null;
  struct: string | null;
  fields: FieldRow[];
  /** Buffers passed or written back: their first BUF_HEX_BYTES bytes in hex, how many bytes that leaves out, and what they mean where the view knows (a dirty bitmap's IOVA runs). */
  bufs: { name: string; length: number | null; hex: string | null; omitted: number; meaning: string | null }[];
  result: { errno: string | 0; text: string; ret: number | null; unmodelled: string | null };
  recorded: { errno: string | 0; text: string } | null;
  divergence: { what: string; expected: Json; actual: Json } | null;
  summary: string;
}

export interface TreeChild {
  key: string;
  kind: string;
  summary: string;
  expandable: boolean;
}

export interface TreeNodeView {
  path: string[];
  kind: string;
  summary: string;
  total: number;
  offset: number;
  children: TreeChild[];
}

export interface DiffRow {
  op: string;
  path: string;
  value: Json;
  /** What the path means where its key is not an IOVA or an ID (a dirty IOPTE slot), else null. */
  note: string | null;
}

export interface SpaceInfo {
  ctx: number;
  id: number;
  type: 'ioas' | 'hwpt_paging' | 'hwpt_nested';
  label: string;
  areas: number;
  /** [min start, max last] of the areas (a paging HWPT without areas: its aperture; an IOAS without areas: the pages of its pending faults), hex. */
  extent: [string, string] | null;
}

export interface Band {
  start: string;
  last: string;
}

export interface IovaView {
  ctx: number;
  id: number;
  type: string;
  label: string;
  lo: string;
  hi: string;
  /** Individual areas, when few enough in the window. */
  areas: (Band & { pages: number; prot: number; startByte: string; accesses: number; pinned: number; npages: number })[];
  /** Aggregated bands when the window holds too many areas to draw one by one. */
  clusters: (Band & { count: number })[];
  totalAreas: number;
  pins: (Band & { count: number })[];
  dirty: Band[];
  hugeMapped: Band[];
  faults: { addr: string; dev: number; hwpt: number; state: string }[];
  reserved: (Band & { owner: string })[];
  allowed: Band[];
  aperture: Band | null;
  touches: (Band & { kind: string; event: number })[];
  extent: Band | null;
  note: string | null;
}

export interface GraphNode {
  key: string;
  ctx: number;
  id: number;
  type: string;
  label: string;
  state: string;
  users: number | null;
}

export interface GraphEdge {
  from: string;
  to: string;
  label: string;
}

export interface LifecycleView {
  ctx: number;
  id: number;
  type: string | null;
  state: string;
  summary: string;
  machine: { states: string[]; transitions: [string, string, string][]; source: string } | null;
  /** Changes of the object up to the selected event. */
  changes: number;
  /** Lifecycle states it has been in up to the selected event. */
  seen: string[];
  /** Its path so far with repeats folded: the latest segments (from event `event`, `n` changes each), after `pathBefore` earlier ones. */
  path: { state: string; event: number; n: number }[];
  pathBefore: number;
  /** The latest changes (at most 200). */
  history: { event: number; op: string; change: string; state: string }[];
}

export interface InfoPayload {
  file: string;
  kernel: string;
  /** Events indexed so far (the whole trace once `done`). */
  length: number;
  done: boolean;
  error: string | null;
  firstDivergence: number;
  errnos: string[];
  ops: string[];
  checkpoints: number;
  /**
   * The memory budget's cost, once reached: checkpoints thinned `times`
   * times, now `spacing` times as far apart; `seekCheckpoints` states that
   * long seeks kept on their way (history.ts SEEK_SPLITS).
   */
  thinned: { times: number; spacing: number; memoryMb: number; seekCheckpoints: number } | null;
  invariants: string;
  at: number;
  breakpoints: BreakpointJson[];
}

export interface EventRow {
  i: number;
  op: string;
  pid: number;
  errno: string | 0;
  diverged: boolean;
  summary: string;
}

export interface TouchJson {
  event: number;
  ctx: number;
  space: number;
  kind: string;
  start: string;
  last: string;
}

export interface ObjChangeJson {
  event: number;
  ctx: number;
  id: number;
  type: string;
  change: string;
  state: string;
}

export interface StepPayload {
  at: number;
  event: EventView;
  diff: { rows: DiffRow[]; total: number };
  touches: TouchJson[];
  objects: ObjChangeJson[];
  spaces: SpaceInfo[];
  ms: number;
}

export interface OverviewPayload {
  failures: number[];
  divergences: number[];
  size: number;
  length: number;
}

export interface QueryHitJson {
  event: number;
  op: string;
  errno: string | 0;
  what: string;
}

export interface QueryPayload {
  query: string;
  title: string;
  hits: QueryHitJson[];
  truncated: boolean;
  note?: string;
}

export interface BreakpointJson {
  id: number;
  text: string;
  enabled: boolean;
}

export interface RunPayload {
  at: number;
  hit: BreakpointJson | null;
  reason: string;
}

export interface GraphPayload {
  nodes: GraphNode[];
  edges: GraphEdge[];
}
