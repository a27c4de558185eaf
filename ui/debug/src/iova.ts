/**
 * The IOVA-space picture of one IOAS / HWPT: lanes over an address window
 * (areas as bands, pinned parts, dirty IOPTEs, faults, reserved / allowed
 * ranges, the domain aperture) with what the selected event touched
 * highlighted. Mouse wheel zooms around the pointer, drag pans, from the
 * whole 64-bit space down to single 4 KiB pages.
 */
import { api, type IovaView, type SpaceInfo, type TouchJson } from './api.js';
import { $, h, hex, s, size, title } from './dom.js';

const U64_MAX = (1n << 64n) - 1n;
const PAGE = 4096n;
const MIN_SPAN = PAGE; // one page across the picture

interface Win {
  lo: bigint;
  hi: bigint;
}

export class IovaPicture {
  private space: { ctx: number; id: number } | null = null;
  private win: Win = { lo: 0n, hi: U64_MAX };
  private at = 0;
  private spaces: SpaceInfo[] = [];
  private touches: TouchJson[] = [];
  private seq = 0;
  private drag: { x: number; win: Win } | null = null;
  /** A window chosen by the user per space: kept while scrubbing. */
  private userWin = new Map<string, Win>();
  onChange: (() => void) | null = null;

  constructor() {
    $('space').addEventListener('change', () => {
      const v = ($('space') as HTMLSelectElement).value;
      const [ctx, id] = v.split(':').map(Number);
      this.space = { ctx: ctx!, id: id! };
      this.win = this.userWin.get(v) ?? this.fitWindow();
      void this.render();
    });
    $('z-all').addEventListener('click', () => this.setWin({ lo: 0n, hi: U64_MAX }));
    $('z-fit').addEventListener('click', () => this.setWin(this.fitWindow()));
    $('z-event').addEventListener('click', () => {
      const w = this.eventWindow();
      if (w) this.setWin(w);
    });
    $('z-in').addEventListener('click', () => this.zoom(0.5, 0.25));
    $('z-out').addEventListener('click', () => this.zoom(0.5, 4));
    const pic = $('iova-pic');
    pic.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const r = pic.getBoundingClientRect();
        this.zoom((e.clientX - r.left) / r.width, e.deltaY > 0 ? 1.6 : 1 / 1.6);
      },
      { passive: false },
    );
    pic.addEventListener('mousedown', (e) => {
      this.drag = { x: e.clientX, win: { ...this.win } };
      e.preventDefault();
    });
    window.addEventListener('mousemove', (e) => {
      if (!this.drag) return;
      const r = pic.getBoundingClientRect();
      const dx = (e.clientX - this.drag.x) / r.width;
      const span = this.drag.win.hi - this.drag.win.lo;
      const shift = frac(span, Math.abs(dx));
      let lo = dx > 0 ? this.drag.win.lo - shift : this.drag.win.lo + shift;
      if (lo < 0n) lo = 0n;
      if (lo + span > U64_MAX) lo = U64_MAX - span;
      this.win = { lo, hi: lo + span };
      this.remember();
      void this.render();
    });
    window.addEventListener('mouseup', () => (this.drag = null));
  }

  private key(): string {
    return this.space ? `${this.space.ctx}:${this.space.id}` : '';
  }

  private remember(): void {
    if (this.space) this.userWin.set(this.key(), { ...this.win });
  }

  private setWin(w: Win): void {
    this.win = w;
    this.remember();
    void this.render();
  }

  /** Zoom by `factor` keeping the address at fraction `at` of the width in place. */
  zoom(at: number, factor: number): void {
    const span = this.win.hi - this.win.lo + 1n;
    let nspan = factor < 1 ? frac(span, factor) : span * BigInt(Math.round(factor * 1000)) / 1000n;
    if (nspan < MIN_SPAN) nspan = MIN_SPAN;
    if (nspan > U64_MAX) nspan = U64_MAX + 1n;
    const pivot = this.win.lo + frac(span, at);
    let lo = pivot - frac(nspan, at);
    if (lo < 0n) lo = 0n;
    if (lo + nspan - 1n > U64_MAX) lo = U64_MAX - nspan + 1n;
    this.setWin({ lo, hi: lo + nspan - 1n });
  }

  private current(): SpaceInfo | undefined {
    return this.spaces.find((x) => this.space && x.ctx === this.space.ctx && x.id === this.space.id);
  }

  private fitWindow(): Win {
    const sp = this.current();
    if (!sp || !sp.extent) return { lo: 0n, hi: U64_MAX };
    const a = BigInt(sp.extent[0]);
    const b = BigInt(sp.extent[1]);
    return pad(a, b);
  }

  private eventWindow(): Win | null {
    const t = this.touches.filter((x) => !this.space || x.ctx === this.space.ctx);
    if (!t.length) return null;
    let a = U64_MAX;
    let b = 0n;
    for (const x of t) {
      const s0 = BigInt(x.start);
      const l0 = BigInt(x.last);
      if (l0 - s0 > 1n << 62n) continue; // invalidate-all and friends
      if (s0 < a) a = s0;
      if (l0 > b) b = l0;
    }
    return b >= a ? pad(a, b) : null;
  }

  /** New step: new list of spaces and touches; keep the space and window if still there. */
  async update(at: number, spaces: SpaceInfo[], touches: TouchJson[]): Promise<void> {
    this.at = at;
    this.spaces = spaces.filter((x) => x.type !== 'hwpt_nested' || true);
    this.touches = touches;
    const sel = $('space') as HTMLSelectElement;
    sel.replaceChildren(...this.spaces.map((x) => h('option', { value: `${x.ctx}:${x.id}` }, `${x.label}${this.spaces.some((y) => y.ctx !== x.ctx) ? ` [ctx ${x.ctx}]` : ''} — ${x.areas} areas`)));
    // prefer the space this event touched, then the current one, then the first IOAS
    const touched = touches.find((t) => this.spaces.some((x) => x.ctx === t.ctx && x.id === t.space));
    const keep = this.space && this.spaces.some((x) => x.ctx === this.space!.ctx && x.id === this.space!.id);
    const before = this.key();
    if (touched && !(keep && this.userWin.has(before))) this.space = { ctx: touched.ctx, id: touched.space };
    else if (!keep) this.space = this.spaces.length ? { ctx: this.spaces[0]!.ctx, id: this.spaces[0]!.id } : null;
    if (this.space) sel.value = this.key();
    if (this.key() !== before || !this.userWin.has(this.key())) this.win = this.userWin.get(this.key()) ?? this.autoWindow();
    await this.render();
  }

  /** Without a user choice: fit the areas and this event's touches together. */
  private autoWindow(): Win {
    const f = this.fitWindow();
    const e = this.eventWindow();
    if (!e) return f;
    if (f.lo === 0n && f.hi === U64_MAX) return e;
    return pad(f.lo < e.lo ? f.lo : e.lo, f.hi > e.hi ? f.hi : e.hi, 0.02);
  }

  async render(): Promise<void> {
    const host = $('iova-pic');
    if (!this.space) {
      host.replaceChildren(h('div', { class: 'empty' }, 'No IOAS yet at this point of the trace (IOMMU_IOAS_ALLOC creates one).'));
      $('z-info').textContent = '';
      return;
    }
    const seq = ++this.seq;
    const width = Math.max(300, host.clientWidth || 900);
    let v: IovaView;
    try {
      v = await api.iova(this.at, this.space.ctx, this.space.id, this.win.lo, this.win.hi, width);
    } catch (e) {
      if (seq === this.seq) host.replaceChildren(h('div', { class: 'empty' }, String(e instanceof Error ? e.message : e)));
      return;
    }
    if (seq !== this.seq) return;
    host.replaceChildren(draw(v, width));
    const span = this.win.hi - this.win.lo + 1n;
    // (a note on what the picture shows, e.g. a nested HWPT's parent, goes with the range: drawn in the
    // picture it sat over the lowest lane)
    const note = v.note ? ` · ${v.note}` : '';
    $('z-info').textContent = `${hex(this.win.lo)} – ${hex(this.win.hi)} (${size(span)}; ${span / PAGE <= 4096n ? `${span / PAGE} pages` : `${v.totalAreas} areas in the IOAS`})${note}`;
    this.onChange?.();
  }
}

/** floor(span * f) for 0 <= f <= 1 with BigInt precision. */
function frac(span: bigint, f: number): bigint {
  const scale = 1_000_000_000n;
  return (span * BigInt(Math.round(f * 1e9))) / scale;
}

function pad(a: bigint, b: bigint, margin = 0.05): Win {
  let span = b - a + 1n;
  if (span < 16n * PAGE) span = 16n * PAGE;
  const m = frac(span, margin) + 1n;
  let lo = a > m ? a - m : 0n;
  let hi = b + m;
  if (hi > U64_MAX) hi = U64_MAX;
  if (hi - lo + 1n < 16n * PAGE) hi = lo + 16n * PAGE - 1n;
  lo = (lo / PAGE) * PAGE;
  return { lo, hi };
}

const LANES = { axis: 0, areas: 30, pins: 60, dirty: 78, faults: 92, reserved: 108, height: 126 };

function draw(v: IovaView, width: number): SVGSVGElement {
  const lo = BigInt(v.lo);
  const hi = BigInt(v.hi);
  const span = hi - lo + 1n;
  const W = width;
  const x = (a: bigint): number => {
    if (a <= lo) return 0;
    if (a > hi) return W;
    return Number(((a - lo) * 1_000_000n) / span) / 1_000_000 * W;
  };
  const band = (start: string, last: string) => {
    const a = x(BigInt(start));
    const b = x(BigInt(last) + 1n);
    return { x: a, w: Math.max(b - a, 1.2) };
  };
  const svg = s('svg', { width: W, height: LANES.height, viewBox: `0 0 ${W} ${LANES.height}`, class: 'iova-svg', 'data-areas': v.areas.length + v.clusters.length, 'data-lo': v.lo, 'data-hi': v.hi });
  // lane labels and backgrounds
  const lane = (y: number, hgt: number, name: string) => {
    svg.append(s('rect', { x: 0, y, width: W, height: hgt, class: 'lane' }));
    svg.append(s('text', { x: 4, y: y + hgt - 3, class: 'lane-label' }, name));
  };
  lane(LANES.areas, 28, 'areas');
  lane(LANES.pins, 16, 'pinned');
  lane(LANES.dirty, 12, 'dirty');
  lane(LANES.faults, 14, 'faults');
  lane(LANES.reserved, 14, 'reserved');
  // axis ticks at aligned addresses: the step is a power of two
  const labelChars = Math.max(hex(lo).length, hex(hi).length);
  const maxTicks = Math.max(2, Math.min(10, Math.floor(W / (labelChars * 7 + 28))));
  let stepB = 1n;
  while (span / stepB > BigInt(maxTicks)) stepB <<= 1n;
  for (let a = ((lo + stepB - 1n) / stepB) * stepB; a <= hi; a += stepB) {
    const px = x(a);
    svg.append(s('line', { x1: px, x2: px, y1: 14, y2: LANES.height, class: 'tick' }));
    const anchor = px < 40 ? 'start' : px > W - 40 ? 'end' : 'middle';
    svg.append(s('text', { x: px, y: 11, class: 'tick-label', 'text-anchor': anchor }, hex(a)));
  }
  // page grid when zoomed in far enough
  if (span / PAGE <= 128n) {
    for (let p = ((lo + PAGE - 1n) / PAGE) * PAGE; p <= hi; p += PAGE) {
      const px = x(p);
      svg.append(s('line', { x1: px, x2: px, y1: LANES.areas, y2: LANES.reserved + 14, class: 'page-grid' }, title(`page ${hex(p)}`)));
    }
  }
  // aperture: shade outside it
  if (v.aperture) {
    const a = BigInt(v.aperture.start);
    const b = BigInt(v.aperture.last);
    if (a > lo) svg.append(s('rect', { x: 0, y: LANES.areas, width: x(a), height: LANES.reserved + 14 - LANES.areas, class: 'outside' }, title(`outside the domain aperture ${v.aperture.start}..${v.aperture.last}`)));
    if (b < hi) svg.append(s('rect', { x: x(b + 1n), y: LANES.areas, width: W - x(b + 1n), height: LANES.reserved + 14 - LANES.areas, class: 'outside' }, title(`outside the domain aperture ${v.aperture.start}..${v.aperture.last}`)));
  }
  for (const r of v.reserved) {
    const b = band(r.start, r.last);
    svg.append(s('rect', { x: b.x, y: LANES.reserved + 1, width: b.w, height: 12, class: 'reserved' }, title(`reserved ${r.start}..${r.last} (${r.owner})`)));
  }
  for (const r of v.allowed) {
    const b = band(r.start, r.last);
    svg.append(s('rect', { x: b.x, y: LANES.reserved + 10, width: b.w, height: 3, class: 'allowed' }, title(`allowed ${r.start}..${r.last}`)));
  }
  for (const a of v.areas) {
    const b = band(a.start, a.last);
    const len = BigInt(a.last) - BigInt(a.start) + 1n;
    const cls = `area prot${a.prot & 3}`;
    const g = s('g', { class: 'area-g' });
    g.append(s('rect', { x: b.x, y: LANES.areas + 2, width: b.w, height: 24, class: cls, 'data-start': a.start }));
    g.append(title(`area ${a.start}..${a.last} (${size(len)})\npages object ${a.pages}, byte ${a.startByte}\nprot ${['none', 'R', 'W', 'RW'][a.prot & 3]}${a.prot & 4 ? '+CACHE' : ''}, ${a.pinned}/${a.npages} pages pinned, ${a.accesses} access pins`));
    if (b.w > 70) g.append(s('text', { x: b.x + 3, y: LANES.areas + 17, class: 'area-label' }, `${a.start} ${size(len)}`));
    svg.append(g);
  }
  for (const c of v.clusters) {
    const b = band(c.start, c.last);
    svg.append(s('rect', { x: b.x, y: LANES.areas + 2, width: b.w, height: 24, class: 'cluster' }, title(`${c.count} areas in ${c.start}..${c.last} (zoom in to see them)`)));
  }
  for (const p of v.pins) {
    const b = band(p.start, p.last);
    svg.append(s('rect', { x: b.x, y: LANES.pins + 2, width: b.w, height: 12, class: p.count > 1 ? 'pin multi' : 'pin' }, title(`pinned ${p.start}..${p.last}, ${p.count} holder${p.count > 1 ? 's' : ''}`)));
  }
  for (const d of v.dirty) {
    const b = band(d.start, d.last);
    svg.append(s('rect', { x: b.x, y: LANES.dirty + 1, width: Math.max(b.w, 2), height: 10, class: 'dirty' }, title(`dirty IOPTE ${d.start}..${d.last}`)));
  }
  for (const m of v.hugeMapped) {
    const b = band(m.start, m.last);
    svg.append(s('rect', { x: b.x, y: LANES.areas + 24, width: b.w, height: 2, class: 'huge' }, title(`1 MiB IOPTEs ${m.start}..${m.last}`)));
  }
  for (const f of v.faults) {
    const fx = x(BigInt(f.addr));
    svg.append(s('path', { d: `M${fx} ${LANES.faults + 1} l5 12 l-10 0 z`, class: `fault ${f.state.replace(/ /g, '-')}` }, title(`page fault at ${f.addr}, device ${f.dev}, HWPT ${f.hwpt}: ${f.state}`)));
  }
  // what this event touched: a marker bar under the axis and a light band over the lanes
  let lastLabelX = -1e9;
  for (const t of v.touches) {
    const b = band(t.start, t.last);
    const tip = title(`this event (#${t.event}): ${t.kind} ${t.start}..${t.last} (${size(BigInt(t.last) - BigInt(t.start) + 1n)})`);
    svg.append(s('rect', { x: b.x, y: LANES.areas, width: b.w, height: LANES.reserved + 14 - LANES.areas, class: `touch-band k-${t.kind}` }));
    svg.append(s('rect', { x: b.x, y: 15, width: Math.max(b.w, 3), height: 5, class: `touch k-${t.kind}` }, tip));
    if (b.x - lastLabelX > 70) {
      svg.append(s('text', { x: Math.min(b.x + 2, W - 70), y: LANES.areas - 1, class: 'touch-label' }, t.kind));
      lastLabelX = b.x;
    }
  }
  if (!v.areas.length && !v.clusters.length) svg.append(s('text', { x: W / 2, y: LANES.areas + 18, class: 'empty-label', 'text-anchor': 'middle' }, 'no areas in this window'));
  return svg;
}

export function legend(): HTMLElement {
  const item = (cls: string, text: string) => h('span', { class: 'lg' }, h('i', { class: cls }), text);
  return h('div', {}, item('area prot3', 'area (RW)'), item('area prot1', 'area (read-only)'), item('cluster', 'many areas'), item('pin', 'pinned'), item('pin multi', 'pinned by >1'), item('dirty', 'dirty IOPTE'), item('fault', 'page fault'), item('reserved', 'reserved'), item('outside', 'outside aperture'), item('touch', 'touched by this event'));
}
