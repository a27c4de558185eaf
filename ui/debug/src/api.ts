/** Typed calls to the debugger's JSON API (same origin). */
import type {
  BreakpointJson,
  EventRow,
  GraphPayload,
  InfoPayload,
  IovaView,
  LifecycleView,
  OverviewPayload,
  QueryPayload,
  RunPayload,
  StepPayload,
  TreeNodeView,
} from '../../../src/debug/protocol.js';

export type * from '../../../src/debug/protocol.js';

async function get<T>(path: string, params: Record<string, string | number> = {}): Promise<T> {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const r = await fetch(`api/${path}?${q}`);
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `${r.status} ${r.statusText}`);
  return body;
}

async function post<T>(path: string, data: unknown): Promise<T> {
  const r = await fetch(`api/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) });
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `${r.status} ${r.statusText}`);
  return body;
}

export const api = {
  info: () => get<InfoPayload>('info'),
  events: (from: number, count: number) => get<EventRow[]>('events', { from, count }),
  overview: (buckets: number) => get<OverviewPayload>('overview', { buckets }),
  step: (i: number) => get<StepPayload>('step', { i }),
  tree: (i: number, path: string, offset = 0) => get<TreeNodeView>('tree', { i, path, offset, limit: 200 }),
  iova: (i: number, ctx: number, id: number, lo: bigint, hi: bigint, px: number) => get<IovaView>('iova', { i, ctx, id, lo: '0x' + lo.toString(16), hi: '0x' + hi.toString(16), px }),
  graph: (i: number) => get<GraphPayload>('graph', { i }),
  lifecycle: (i: number, ctx: number, id: number) => get<LifecycleView>('lifecycle', { i, ctx, id }),
  query: (q: string) => get<QueryPayload>('query', { q }),
  breaks: () => get<BreakpointJson[]>('breaks'),
  addBreak: (spec: string) => post<BreakpointJson>('break', { spec }),
  deleteBreak: (id: number | 'all') => post<BreakpointJson[]>('delete', { id }),
  run: (dir: 1 | -1, from: number) => post<RunPayload>('run', { dir, from }),
  exec: (line: string, from: number) => post<{ output: string; at: number }>('exec', { line, from }),
};
