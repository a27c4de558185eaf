/**
 * iorewind debug — the web UI. One selected event at a time ("the cursor");
 * everything on the page is about that event and the state after it.
 */
import './style.css';
import { api, type BreakpointJson, type InfoPayload, type StepPayload } from './api.js';
import { $, h } from './dom.js';
import { EventList, Scrubber } from './timeline.js';
import { IovaPicture, legend } from './iova.js';
import { renderDiff, renderEvent, renderLifecycle, StateTree } from './panels.js';
import { renderGraph } from './graph.js';

const COMMANDS = /^(step|s|back|b|goto|g|where|w|event|e|print|p|diff|d|break|br|delete|del|breaks|breakpoints|info|continue|c|cont|reverse-continue|rc|help|h)\b/i;

class App {
  info!: InfoPayload;
  at = 0;
  step: StepPayload | null = null;
  private inflight = false;
  private pending: number | null = null;
  private tab = 'diff';
  private life: { ctx: number; id: number } | null = null;
  readonly scrub = new Scrubber((i) => this.seek(i));
  readonly list = new EventList((i) => this.seek(i));
  readonly iova = new IovaPicture();
  readonly tree = new StateTree();

  async start(): Promise<void> {
    this.info = await api.info();
    $('file').textContent = `${this.info.file.split('/').pop()} · Linux ${this.info.kernel} profile`;
    $('file').title = this.info.file;
    $('iova-legend').replaceChildren(legend());
    this.wire();
    this.examples();
    this.renderBreaks(this.info.breakpoints);
    await this.waitForEvents();
    await this.scrub.load(this.info.length);
    await this.seek(this.info.at);
    this.pollIndexing();
  }

  private async waitForEvents(): Promise<void> {
    while (this.info.length === 0 && !this.info.done) {
      this.status(`indexing…`);
      await new Promise((r) => setTimeout(r, 300));
      this.info = await api.info();
    }
    this.showLength();
    if (this.info.done) this.indexed();
  }

  /** The last event's number beside the position box, saying so while the index is still growing. */
  private showLength(): void {
    // the list's number column fits the largest number (12px monospace digits are ~7.3px wide)
    const digits = String(Math.max(0, this.info.length - 1)).length;
    document.documentElement.style.setProperty('--ev-idx', `${Math.max(40, Math.ceil(digits * 7.3) + 6)}px`);
    $('len').textContent = ` / ${this.info.length - 1}${this.info.done ? '' : ' (indexing…)'}`;
  }

  /**
   * Where indexing ended: the whole trace, or the bad record it stopped at
   * (the events before it stay usable). The stop is shown beside the event
   * count, which stays on screen; the status line changes with every seek.
   */
  private indexed(): void {
    const e = this.info.error;
    this.status(e ? `indexing stopped at event ${this.info.length}` : `indexed ${this.info.length} events`);
    if (e) {
      $('len').textContent = ` / ${this.info.length - 1} · indexing stopped at event ${this.info.length}: ${e}`;
      $('len').classList.add('stopped');
    }
  }

  private pollIndexing(): void {
    if (this.info.done) return;
    const tick = async () => {
      this.info = await api.info();
      this.showLength();
      await this.scrub.load(this.info.length);
      this.scrub.setAt(this.at);
      if (!this.info.done) setTimeout(tick, 1000);
      else this.indexed();
    };
    setTimeout(tick, 1000);
  }

  status(text: string): void {
    const inv = this.info ? ` · invariants: ${this.info.invariants}` : '';
    // the memory budget reached: say why seeks are slow, and how to have them fast
    const t = this.info?.thinned;
    const thin = t ? ` · checkpoints thinned to keep within ${t.memoryMb} MiB: a first seek into a stretch replays up to ${t.spacing}× further, the next ones there less (iorewind debug --memory MiB)` : '';
    $('status').textContent = text + inv + thin;
  }

  /** Select event i; concurrent requests collapse to the latest. */
  async seek(i: number): Promise<void> {
    const n = this.info.length;
    if (!n) return;
    i = Math.max(0, Math.min(n - 1, Math.trunc(i)));
    if (this.inflight) {
      this.pending = i;
      return;
    }
    this.inflight = true;
    try {
      const t0 = performance.now();
      const p = await api.step(i);
      this.at = p.at;
      this.step = p;
      ($('pos') as HTMLInputElement).value = String(p.at);
      this.scrub.setAt(p.at);
      renderEvent(p, n);
      renderDiff(p);
      await Promise.all([this.list.show(p.at, n), this.iova.update(p.at, p.spaces, p.touches), this.renderTab()]);
      document.body.dataset['at'] = String(p.at);
      this.status(`#${p.at}: server ${p.ms.toFixed(1)} ms, page ${(performance.now() - t0).toFixed(0)} ms`);
    } catch (e) {
      this.status(`error: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.inflight = false;
    }
    if (this.pending !== null) {
      const next = this.pending;
      this.pending = null;
      if (next !== this.at) await this.seek(next);
    }
  }

  private async renderTab(): Promise<void> {
    if (!this.step) return;
    const at = this.at;
    if (this.tab === 'state') await this.tree.render(at);
    else if (this.tab === 'graph') {
      const g = await api.graph(at);
      renderGraph($('tab-graph'), g, this.step.objects, (ctx, id) => this.showLife(ctx, id));
    } else if (this.tab === 'life') await this.renderLife();
  }

  private async showLife(ctx: number, id: number): Promise<void> {
    this.life = { ctx, id };
    this.setTab('life');
  }

  private async renderLife(): Promise<void> {
    const g = await api.graph(this.at);
    const objects = g.nodes.filter((n) => n.ctx && n.id && n.type !== 'process' && n.type !== 'iommufd').map((n) => ({ ctx: n.ctx, id: n.id, label: `${n.type} ${n.id} — ${n.state}` }));
    if (!this.life && this.step?.objects.length) this.life = { ctx: this.step.objects[0]!.ctx, id: this.step.objects[0]!.id };
    const v = this.life ? await api.lifecycle(this.at, this.life.ctx, this.life.id).catch(() => null) : null;
    renderLifecycle(v, (i) => void this.seek(i), objects, (ctx, id) => void this.showLife(ctx, id));
  }

  private setTab(t: string): void {
    this.tab = t;
    for (const b of document.querySelectorAll<HTMLButtonElement>('.tabbar button')) b.classList.toggle('on', b.dataset['tab'] === t);
    for (const d of document.querySelectorAll<HTMLElement>('.tab')) d.classList.toggle('on', d.id === `tab-${t}`);
    void this.renderTab();
  }

  private wire(): void {
    $('b-first').onclick = () => this.seek(0);
    $('b-last').onclick = () => this.seek(this.info.length - 1);
    $('b-back').onclick = () => this.seek(this.at - 1);
    $('b-fwd').onclick = () => this.seek(this.at + 1);
    $('b-back10').onclick = () => this.seek(this.at - 10);
    $('b-fwd10').onclick = () => this.seek(this.at + 10);
    $('b-cont').onclick = () => this.run(1);
    $('b-rcont').onclick = () => this.run(-1);
    $('pos').addEventListener('change', () => this.seek(Number(($('pos') as HTMLInputElement).value)));
    // after typing a number, the arrow keys step again
    $('pos').addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter') ($('pos') as HTMLInputElement).blur();
    });
    for (const b of document.querySelectorAll<HTMLButtonElement>('.tabbar button')) b.onclick = () => this.setTab(b.dataset['tab']!);
    $('b-help').onclick = () => ($('help-dlg').hidden = false);
    $('help-close').onclick = () => ($('help-dlg').hidden = true);
    $('query-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.runQuery(($('query') as HTMLInputElement).value);
    });
    const kind = $('bp-kind') as HTMLSelectElement;
    const arg = $('bp-arg') as HTMLInputElement;
    const placeholders: Record<string, string> = { errno: 'EINVAL, EBUSY… or any', iova: '0x1000000 or 0x1000000..0x1003fff', invariant: '(no argument)', divergence: '(no argument)', obj: 'object id, e.g. 4', op: 'IOMMU_IOAS_MAP' };
    const refreshKind = () => {
      arg.placeholder = placeholders[kind.value] ?? '';
      arg.disabled = kind.value === 'invariant' || kind.value === 'divergence';
      const values = kind.value === 'errno' ? ['any', ...this.info.errnos] : kind.value === 'op' ? this.info.ops : [];
      $('bp-values').replaceChildren(...values.map((v) => h('option', { value: v })));
    };
    kind.onchange = refreshKind;
    refreshKind();
    $('bp-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api.addBreak(`${kind.value} ${arg.disabled ? '' : arg.value}`.trim());
        arg.value = '';
        this.renderBreaks(await api.breaks());
      } catch (err) {
        $('run-result').textContent = `error: ${err instanceof Error ? err.message : String(err)}`;
      }
    });
    window.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) {
        if (e.key === 'Escape') t.blur();
        return;
      }
      const k = e.key;
      if (k === 'ArrowRight' || k === 'ArrowLeft') {
        e.preventDefault();
        const d = (k === 'ArrowRight' ? 1 : -1) * (e.shiftKey ? 10 : 1);
        void this.seek((this.pending ?? this.at) + d);
      } else if (k === 'Home') void this.seek(0);
      else if (k === 'End') void this.seek(this.info.length - 1);
      else if (k === 'c') void this.run(1);
      else if (k === 'C') void this.run(-1);
      else if (k === '/') {
        e.preventDefault();
        ($('query') as HTMLInputElement).focus();
      } else if (k === '?') $('help-dlg').hidden = !$('help-dlg').hidden;
      else if (k === 'Escape') $('help-dlg').hidden = true;
    });
    window.addEventListener('resize', () => void this.iova.render());
  }

  private examples(): void {
    const ex: [string, string][] = [
      ['when iova 0x1000000', 'events that touched IOVA 0x1000000'],
      ['when obj 1', 'history of object 1'],
      ['when errno any', 'every failing event'],
      ['when divergence', 'where the model and the recording part ways'],
      ['when page 0x7ffff7da9000', 'pins / unpins of the page at this user VA'],
      ['when invariant', 'first state that breaks an invariant'],
    ];
    $('query-examples').replaceChildren(
      ...ex.map(([q, t]) =>
        h('button', {
          class: 'chip',
          title: t,
          onclick: () => {
            ($('query') as HTMLInputElement).value = q;
            void this.runQuery(q);
          },
        }, q.replace(/^when /, '')),
      ),
    );
  }

  async runQuery(q: string): Promise<void> {
    const host = $('query-result');
    q = q.trim();
    if (!q) return;
    try {
      if (COMMANDS.test(q)) {
        const r = await api.exec(q, this.at);
        host.replaceChildren(h('pre', { class: 'console' }, r.output));
        this.renderBreaks(await api.breaks());
        if (r.at !== this.at) await this.seek(r.at);
        return;
      }
      const r = await api.query(q.startsWith('when ') ? q : `when ${q}`);
      this.scrub.setMarks(r.hits.map((x) => x.event));
      host.replaceChildren(
        h('div', { class: 'q-title' }, r.title, r.note ? h('div', { class: 'hint' }, r.note) : null),
        h(
          'ol',
          { class: 'hits' },
          ...r.hits.map((x) =>
            h(
              'li',
              { class: `link ${x.errno === 0 ? 'ok' : 'err'}${x.event === this.at ? ' sel' : ''}`, 'data-i': x.event, onclick: () => this.seek(x.event) },
              h('span', { class: 'i' }, `#${x.event}`),
              h('span', { class: 'op' }, x.op.replace(/^IOMMU_TEST_OP_/, 'TEST_').replace(/^IOMMU_/, '')),
              x.errno !== 0 ? h('span', { class: 'errno' }, x.errno) : null,
              h('div', { class: 'what' }, x.what),
            ),
          ),
        ),
        r.truncated ? h('div', { class: 'hint' }, 'more hits not shown') : '',
      );
    } catch (e) {
      host.replaceChildren(h('div', { class: 'err' }, e instanceof Error ? e.message : String(e)));
    }
  }

  renderBreaks(list: BreakpointJson[]): void {
    $('bp-list').replaceChildren(
      ...list.map((b) =>
        h(
          'li',
          {},
          h('span', { class: 'bp-dot' }, '●'),
          ` ${b.id}: ${b.text} `,
          h('button', { class: 'x', title: 'delete', onclick: async () => this.renderBreaks(await api.deleteBreak(b.id)) }, '✕'),
        ),
      ),
    );
    if (!list.length) $('bp-list').append(h('li', { class: 'hint' }, 'none — add one, then continue ⤻ / ⤺ reverse-continue'));
  }

  async run(dir: 1 | -1): Promise<void> {
    $('run-result').textContent = dir === 1 ? 'running forward…' : 'running backward…';
    try {
      const r = await api.run(dir, this.at);
      $('run-result').textContent = r.reason;
      await this.seek(r.at);
    } catch (e) {
      $('run-result').textContent = `error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}

const app = new App();
(window as unknown as { iorewind: App }).iorewind = app;
app.start().catch((e: unknown) => {
  document.body.prepend(h('div', { class: 'fatal' }, `could not start: ${e instanceof Error ? e.message : String(e)}`));
});
