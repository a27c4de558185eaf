/**
 * The object graph: processes, iommufd contexts and their objects in
 * layers by kind, arrows for "who holds whom" (device → HWPT it is attached
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
  // layers top to bottom (holders above what they hold), nodes side by side
  const rows: string[][] = [];
  for (const n of g.nodes) (rows[COLUMNS[n.type] ?? 7] ??= []).push(n.key);
  const NW = 172;
  const NH = 34;
  const GX = 16;
  const GY = 24;
  const pos = new Map<string, { x: number; y: number }>();
  const used = rows.map((r) => r ?? []).filter((r) => r.length);
  const widest = Math.max(...used.map((r) => r.length));
  const W = 20 + widest * (NW + GX);
  used.forEach((r, k) => {
    const off = (W - r.length * (NW + GX)) / 2;
    r.forEach((key, j) => pos.set(key, { x: off + j * (NW + GX), y: 10 + k * (NH + GY) }));
  });
  const H = 20 + used.length * (NH + GY) - GY + 10;
  const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'graph-svg', 'data-nodes': g.nodes.length });
  const defs = s('defs');
  defs.append(s('marker', { id: 'arr', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0 0 L10 5 L0 10 z', class: 'arrowhead' })));
  svg.append(defs);
  for (const e of g.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    let d: string;
    let lx: number;
    let ly: number;
    if (a.y === b.y) {
      // same layer: an arc below
      const x1 = a.x + NW / 2;
      const x2 = b.x + NW / 2;
      const y = a.y + NH;
      d = `M${x1} ${y} C${x1} ${y + 26} ${x2} ${y + 26} ${x2} ${y + 2}`;
      lx = (x1 + x2) / 2;
      ly = y + 24;
    } else {
      const down = b.y > a.y;
      const x1 = a.x + NW / 2;
      const y1 = down ? a.y + NH : a.y;
      const x2 = b.x + NW / 2;
      const y2 = down ? b.y : b.y + NH;
      const my = (y1 + y2) / 2;
      d = `M${x1} ${y1} C${x1} ${my} ${x2} ${my} ${x2} ${y2}`;
      lx = (x1 + x2) / 2 + 4;
      ly = my + 3;
    }
    svg.append(s('path', { d, class: 'edge', 'marker-end': 'url(#arr)' }, title(`${e.from} → ${e.to} ${e.label}`)));
    if (e.label) svg.append(s('text', { x: lx, y: ly, class: 'edge-label', 'text-anchor': 'middle' }, e.label));
  }
  const hot = new Set(changed.map((c) => `${c.ctx}:${c.id}`));
  for (const n of g.nodes) {
    const p = pos.get(n.key)!;
    const gEl = s('g', { class: `node t-${n.type}${hot.has(n.key) ? ' hot' : ''}`, transform: `translate(${p.x},${p.y})` });
    gEl.append(s('rect', { width: NW, height: NH, rx: 6 }));
    gEl.append(s('text', { x: 8, y: 14, class: 'n-label' }, n.label + (n.users !== null ? `  (users ${n.users})` : '')));
    gEl.append(s('text', { x: 8, y: 28, class: 'n-state' }, n.state.length > 26 ? n.state.slice(0, 25) + '…' : n.state));
    gEl.append(title(`${n.label}: ${n.state}${n.users !== null ? `, ${n.users} users (references incl. the table's)` : ''}${n.id && n.ctx ? '\nclick: lifecycle' : ''}`));
    if (n.ctx && n.id && n.type !== 'process' && n.type !== 'iommufd') gEl.addEventListener('click', () => pick(n.ctx, n.id));
    svg.append(gEl);
  }
  host.replaceChildren(h('div', { class: 'hint' }, 'Arrows point from an object to what it holds a reference to. Outlined: changed by this event. Click an object for its lifecycle.'), h('div', { class: 'graph-scroll' }, svg));
}
