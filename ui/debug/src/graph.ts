/**
 * The object graph: processes, iommufd contexts and their objects in
 * columns by kind, arrows for "who holds whom" (device → HWPT it is attached
 * to, HWPT → IOAS, nested → parent, vDEVICE → vIOMMU, ...). Objects the
 * selected event changed are outlined.
 */
import type { GraphPayload, ObjChangeJson } from './api.js';
import { h, s, title } from './dom.js';

const COLUMNS: Record<string, number> = {
  process: 0,
  iommufd: 1,
  selftest: 2,
  device: 3,
  vdevice: 3,
  access: 3,
  viommu: 4,
  hwpt_nested: 4,
  hwpt_paging: 5,
  fault: 6,
  ioas: 6,
};

export function renderGraph(host: HTMLElement, g: GraphPayload, changed: ObjChangeJson[], pick: (ctx: number, id: number) => void): void {
  if (!g.nodes.length) {
    host.replaceChildren(h('div', { class: 'hint' }, 'No processes with /dev/iommu open at this point.'));
    return;
  }
  const cols: string[][] = [];
  for (const n of g.nodes) (cols[COLUMNS[n.type] ?? 7] ??= []).push(n.key);
  const NW = 136;
  const NH = 38;
  const GX = 40;
  const GY = 14;
  const pos = new Map<string, { x: number; y: number }>();
  let maxRows = 0;
  let col = 0;
  const used = cols.map((c) => c ?? []).filter((c) => c.length);
  for (const c of used) {
    c.forEach((k, r) => pos.set(k, { x: 10 + col * (NW + GX), y: 10 + r * (NH + GY) }));
    maxRows = Math.max(maxRows, c.length);
    col++;
  }
  const W = 20 + used.length * (NW + GX);
  const H = 20 + maxRows * (NH + GY);
  // scale down to the panel's width when the graph is wider (text stays legible down to ~70%)
  const avail = Math.max(400, host.clientWidth - 10);
  const scale = W > avail ? Math.max(0.68, avail / W) : 1;
  const svg = s('svg', { width: Math.round(W * scale), height: Math.round(H * scale), viewBox: `0 0 ${W} ${H}`, class: 'graph-svg', 'data-nodes': g.nodes.length });
  const defs = s('defs');
  defs.append(s('marker', { id: 'arr', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0 0 L10 5 L0 10 z', class: 'arrowhead' })));
  svg.append(defs);
  for (const e of g.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const forward = b.x >= a.x;
    const x1 = forward ? a.x + NW : a.x;
    const x2 = forward ? b.x : b.x + NW;
    const y1 = a.y + NH / 2;
    const y2 = b.y + NH / 2;
    const mx = (x1 + x2) / 2;
    const same = a.x === b.x;
    const d = same ? `M${a.x + NW} ${y1} C${a.x + NW + 40} ${y1} ${a.x + NW + 40} ${y2} ${a.x + NW} ${y2}` : `M${x1} ${y1} C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}`;
    svg.append(s('path', { d, class: 'edge', 'marker-end': 'url(#arr)' }, title(`${e.from} → ${e.to} ${e.label}`)));
    if (e.label) svg.append(s('text', { x: same ? a.x + NW + 22 : mx, y: (y1 + y2) / 2 - 3, class: 'edge-label', 'text-anchor': 'middle' }, e.label));
  }
  const hot = new Set(changed.map((c) => `${c.ctx}:${c.id}`));
  for (const n of g.nodes) {
    const p = pos.get(n.key)!;
    const gEl = s('g', { class: `node t-${n.type}${hot.has(n.key) ? ' hot' : ''}`, transform: `translate(${p.x},${p.y})` });
    gEl.append(s('rect', { width: NW, height: NH, rx: 6 }));
    gEl.append(s('text', { x: 8, y: 15, class: 'n-label' }, n.label + (n.users !== null ? `  (users ${n.users})` : '')));
    gEl.append(s('text', { x: 8, y: 30, class: 'n-state' }, n.state.length > 23 ? n.state.slice(0, 22) + '…' : n.state));
    gEl.append(title(`${n.label}: ${n.state}${n.users !== null ? `, ${n.users} users (references incl. the table's)` : ''}${n.id && n.ctx ? '\nclick: lifecycle' : ''}`));
    if (n.ctx && n.id && n.type !== 'process' && n.type !== 'iommufd') gEl.addEventListener('click', () => pick(n.ctx, n.id));
    svg.append(gEl);
  }
  host.replaceChildren(h('div', { class: 'hint' }, 'Arrows point from an object to what it holds a reference to. Outlined: changed by this event. Click an object for its lifecycle.'), h('div', { class: 'graph-scroll' }, svg));
}
