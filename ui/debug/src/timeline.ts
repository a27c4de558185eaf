/** The scrubber (whole-trace strip) and the event list around the cursor. */
import { api, type EventRow, type OverviewPayload } from './api.js';
import { $, h } from './dom.js';

export class Scrubber {
  private ov: OverviewPayload | null = null;
  private length = 0;
  private at = 0;
  private down = false;
  private marks: number[] = [];

  constructor(private readonly seek: (i: number) => void) {
    const c = $('scrub') as HTMLCanvasElement;
    const pick = (e: MouseEvent) => {
      const r = c.getBoundingClientRect();
      const f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      if (this.length) this.seek(Math.min(this.length - 1, Math.floor(f * this.length)));
    };
    c.addEventListener('mousedown', (e) => {
      this.down = true;
      pick(e);
    });
    window.addEventListener('mousemove', (e) => {
      if (this.down) pick(e);
    });
    window.addEventListener('mouseup', () => (this.down = false));
    window.addEventListener('resize', () => this.draw());
  }

  async load(length: number): Promise<void> {
    this.length = length;
    const c = $('scrub') as HTMLCanvasElement;
    this.ov = await api.overview(Math.max(50, Math.min(2000, c.clientWidth || 1000)));
    this.draw();
  }

  setAt(i: number): void {
    this.at = i;
    this.draw();
  }

  /** Events to mark (query hits). */
  setMarks(m: number[]): void {
    this.marks = m;
    this.draw();
  }

  draw(): void {
    const c = $('scrub') as HTMLCanvasElement;
    const W = c.clientWidth || 1000;
    const H = c.clientHeight || 34;
    const dpr = window.devicePixelRatio || 1;
    c.width = W * dpr;
    c.height = H * dpr;
    const g = c.getContext('2d')!;
    g.scale(dpr, dpr);
    g.fillStyle = '#eef1f5';
    g.fillRect(0, 0, W, H);
    const ov = this.ov;
    if (ov && this.length) {
      const n = ov.failures.length;
      const bw = W / n;
      for (let k = 0; k < n; k++) {
        const f = ov.failures[k]! / ov.size;
        const d = ov.divergences[k]! / ov.size;
        if (f > 0) {
          g.fillStyle = '#d93025';
          const hgt = Math.max(3, f * (H - 6));
          g.fillRect(k * bw, H - hgt, Math.max(bw, 1), hgt);
        }
        if (d > 0) {
          g.fillStyle = '#f29900';
          g.fillRect(k * bw, 0, Math.max(bw, 2), 6);
        }
      }
      g.fillStyle = 'rgba(26,115,232,0.9)';
      for (const m of this.marks) g.fillRect((m / this.length) * W - 0.5, 6, 1.5, 6);
      const x = ((this.at + 0.5) / this.length) * W;
      g.fillStyle = '#1a73e8';
      g.fillRect(x - 1, 0, 2, H);
      g.beginPath();
      g.moveTo(x - 6, 0);
      g.lineTo(x + 6, 0);
      g.lineTo(x, 8);
      g.fill();
    }
  }
}

export class EventList {
  private rows: EventRow[] = [];
  private from = 0;

  constructor(private readonly seek: (i: number) => void) {}

  async show(at: number, length: number): Promise<void> {
    const host = $('event-list');
    const visible = Math.max(12, Math.floor((host.clientHeight || 700) / 22));
    let from = Math.max(0, at - Math.floor(visible / 3));
    if (from + visible > length) from = Math.max(0, length - visible);
    if (!(this.rows.length && from === this.from && this.rows.length >= Math.min(visible, length - from))) {
      this.rows = await api.events(from, visible);
      this.from = from;
    }
    host.replaceChildren(
      ...this.rows.map((r) =>
        h(
          'div',
          {
            class: `ev ${r.errno === 0 ? 'ok' : 'err'}${r.diverged ? ' div' : ''}${r.i === at ? ' sel' : ''}`,
            role: 'option',
            'aria-selected': r.i === at ? 'true' : 'false',
            'data-i': r.i,
            title: `${r.op} ${r.summary}${r.errno ? ` → ${r.errno}` : ''}${r.diverged ? ' (differs from the recording)' : ''}`,
            onclick: () => this.seek(r.i),
          },
          h('span', { class: 'i' }, String(r.i)),
          h('span', { class: 'pid' }, String(r.pid)),
          h('span', { class: 'op' }, shortOp(r.op)),
          h('span', { class: 'sum' }, r.summary),
          h('span', { class: 'errno' }, r.errno === 0 ? 'ok' : r.errno),
        ),
      ),
    );
  }
}

export function shortOp(op: string): string {
  return op.replace(/^IOMMU_TEST_OP_/, 'TEST_').replace(/^IOMMU_/, '');
}
