/** Event detail, diff, state tree and lifecycle panels. */
import { api, type EventView, type LifecycleView, type StepPayload, type TreeNodeView } from './api.js';
import { $, h } from './dom.js';

export function renderEvent(p: StepPayload, length: number): void {
  const v: EventView = p.event;
  const res = v.result;
  const badge = h('span', { class: `badge ${res.errno === 0 ? 'ok' : 'err'}` }, res.errno === 0 ? 'success' : res.text);
  const head = h(
    'div',
    { class: 'ev-head' },
    h('span', { class: 'ev-idx' }, `#${v.index}`),
    h('span', { class: 'ev-op' }, v.op),
    v.struct ? h('span', { class: 'ev-struct' }, `struct ${v.struct}`) : null,
    h('span', { class: 'ev-meta' }, `pid ${v.pid}${v.fd !== null ? ` · fd ${v.fd}` : ''} · ${v.index + 1} of ${length}`),
    badge,
  );
  const rows = v.fields.map((f) =>
    h(
      'tr',
      { class: f.value === null && f.out === null ? 'group' : '' },
      h('td', { class: 'fname', style: `padding-left:${6 + f.depth * 14}px` }, f.name.split('.').pop() ?? f.name),
      h('td', { class: 'ftype' }, f.type),
      h('td', { class: 'fval' }, f.value ?? ''),
      h('td', { class: 'fdec' }, f.decoded ?? ''),
      h('td', { class: 'fout' }, f.out !== null ? `→ ${f.out}` : ''),
      h('td', { class: 'frec' }, f.rec !== null ? `recorded ${f.rec}` : ''),
    ),
  );
  const table = v.fields.length
    ? h('table', { class: 'fields' }, h('thead', {}, h('tr', {}, h('th', {}, 'field'), h('th', {}, 'type'), h('th', {}, 'value passed'), h('th', {}, 'meaning'), h('th', {}, 'written back'), h('th', {}, 'kernel recorded'))), h('tbody', {}, ...rows))
    : h('div', { class: 'hint' }, 'no arguments');
  const bufs = v.bufs.length
    ? h(
        'div',
        { class: 'bufs' },
        ...v.bufs.map((b) =>
          h(
            'div',
            {},
            h('b', {}, b.name),
            b.length === null ? ' unreadable (EFAULT)' : ` ${b.length} bytes `,
            b.meaning ? h('div', { class: 'buf-meaning' }, b.meaning) : null,
            b.hex ? h('code', {}, b.hex) : null,
            b.omitted ? h('span', { class: 'hint' }, ` … ${b.omitted} more bytes`) : null,
          ),
        ),
      )
    : null;
  const result = h(
    'div',
    { class: 'result' },
    h('span', {}, 'model: '),
    h('b', { class: res.errno === 0 ? 'ok' : 'err' }, res.text),
    res.ret !== null ? h('span', {}, ` ret=${res.ret}`) : null,
    res.unmodelled ? h('span', { class: 'err' }, ` (not modelled: ${res.unmodelled})`) : null,
    v.recorded ? h('span', { class: 'rec' }, ` · kernel recorded: ${v.recorded.text}`) : null,
    v.src ? h('span', { class: 'hint' }, ` · ${v.src}`) : null,
  );
  const div = v.divergence
    ? h('div', { class: 'divergence' }, h('b', {}, 'The model disagrees with the recording: '), `${v.divergence.what}: kernel ${JSON.stringify(v.divergence.expected)}, model ${JSON.stringify(v.divergence.actual)}`)
    : null;
  const changed = p.objects.length
    ? h('div', { class: 'changed' }, 'objects: ', ...p.objects.map((o) => h('span', { class: `chip obj-${o.change}`, title: `${o.type} ${o.id} ${o.change}` }, `${o.type} ${o.id} ${o.change === 'changed' ? '' : o.change + ' '}→ ${o.state}`)))
    : null;
  $('event-detail').replaceChildren(head, result, div ?? '', changed ?? '', table, bufs ?? '');
}

export function renderDiff(p: StepPayload): void {
  const d = p.diff;
  const host = $('tab-diff');
  if (!d.total) {
    host.replaceChildren(h('div', { class: 'hint' }, p.event.result.errno === 0 ? 'This event changed nothing in the model state.' : 'The call failed and left the state unchanged.'));
    return;
  }
  host.replaceChildren(
    h('div', { class: 'hint' }, `${d.total} change${d.total === 1 ? '' : 's'} (immer patches)${d.total > d.rows.length ? `, first ${d.rows.length} shown` : ''}`),
    h(
      'table',
      { class: 'diff' },
      h(
        'tbody',
        {},
        ...d.rows.map((r) =>
          h(
            'tr',
            { class: `d-${r.op}` },
            h('td', { class: 'dop' }, r.op === 'add' ? '+' : r.op === 'remove' ? '−' : '~'),
            h('td', { class: 'dpath' }, r.path, r.note ? h('div', { class: 'hint' }, r.note) : null),
            h('td', { class: 'dval' }, r.op === 'remove' ? '' : clip(JSON.stringify(r.value), 300)),
          ),
        ),
      ),
    ),
  );
}

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) + '…' : s);

/** Entries of a collection the state tree asks for at a time (the server's limit is 1000). */
const PAGE = 200;

/** Lazily expanded state tree; expanded paths survive steps. */
export class StateTree {
  private open = new Set<string>(['ctxs', 'ctxs.1', 'ctxs.1.objs']);
  /** Entries shown of each collection that was paged further than the first page. */
  private shown = new Map<string, number>();
  private at = 0;

  async render(at: number): Promise<void> {
    this.at = at;
    const host = $('tab-state');
    const root = await this.node([], 0);
    host.replaceChildren(h('div', { class: 'hint' }, 'The model state after this event. Click ▸ to expand.'), root);
  }

  private async node(path: string[], depth: number): Promise<HTMLElement> {
    const pathKey = path.join('.');
    // a collection shows a page of entries at a time; pages asked for stay shown as the cursor moves
    const want = this.shown.get(pathKey) ?? PAGE;
    let t: TreeNodeView;
    try {
      t = await api.tree(this.at, pathKey);
    } catch (e) {
      return h('div', { class: 'hint' }, `(${e instanceof Error ? e.message : e})`);
    }
    const ul = h('ul', { class: 'tree' });
    const add = async (children: TreeNodeView['children']) => {
      for (const c of children) ul.append(await this.child(path, c, depth));
    };
    await add(t.children);
    let count = t.children.length;
    while (count < want && count < t.total) {
      const more = await api.tree(this.at, pathKey, count);
      if (!more.children.length) break;
      await add(more.children);
      count += more.children.length;
    }
    if (t.total > count) {
      const rest = () => t.total - count;
      const li: HTMLElement = h(
        'li',
        {
          class: 'hint link more',
          title: 'show the next entries',
          onclick: async () => {
            const more = await api.tree(this.at, pathKey, count);
            for (const c of more.children) li.before(await this.child(path, c, depth));
            count += more.children.length;
            this.shown.set(pathKey, count);
            if (rest() > 0 && more.children.length) li.textContent = `… ${rest()} more (show ${Math.min(PAGE, rest())})`;
            else li.remove();
          },
        },
        `… ${rest()} more (show ${Math.min(PAGE, rest())})`,
      );
      ul.append(li);
    }
    return ul;
  }

  /**
   * One entry of a collection: its twisty, key and summary, and its entries
   * when open. Entries open from an earlier step unfold to a depth of 12; one
   * the user just clicked always does.
   */
  private async child(path: string[], c: TreeNodeView['children'][number], depth: number, clicked = false): Promise<HTMLElement> {
    const p = [...path, c.key];
    const key = p.join('.');
    const isOpen = this.open.has(key);
    const li = h('li', {});
    const toggle = h(
      'span',
      {
        class: `tw ${c.expandable ? '' : 'leaf'}`,
        onclick: async () => {
          if (!c.expandable) return;
          if (this.open.has(key)) this.open.delete(key);
          else this.open.add(key);
          li.replaceWith(await this.child(path, c, depth, true));
        },
      },
      c.expandable ? (isOpen ? '▾' : '▸') : '·',
    );
    li.append(toggle, h('span', { class: 'tk' }, c.key), h('span', { class: 'ts' }, c.summary));
    if (isOpen && c.expandable && (clicked || depth < 12)) li.append(await this.node(p, depth + 1));
    return li;
  }
}

export function renderLifecycle(v: LifecycleView | null, seek: (i: number) => void, objects: { ctx: number; id: number; label: string }[], select: (ctx: number, id: number) => void): void {
  const host = $('tab-life');
  const picker = h('select', { 'aria-label': 'object', onchange: (e: Event) => {
    const [c, i] = (e.target as HTMLSelectElement).value.split(':').map(Number);
    select(c!, i!);
  } });
  picker.append(h('option', { value: '' }, 'choose an object…'));
  for (const o of objects) {
    const opt = h('option', { value: `${o.ctx}:${o.id}` }, o.label);
    if (v && v.ctx === o.ctx && v.id === o.id) opt.setAttribute('selected', '');
    picker.append(opt);
  }
  if (!v) {
    host.replaceChildren(h('div', { class: 'hint' }, 'Pick an object (or click one in the object graph) to see its lifecycle.'), picker);
    return;
  }
  const seen = new Set(v.seen);
  const states = v.machine
    ? h('div', { class: 'machine' }, h('span', { class: 'hint' }, 'states: '), ...v.machine.states.map((st) => h('span', { class: `st${st === v.state ? ' cur' : ''}${seen.has(st) ? ' seen' : ''}`, title: st === v.state ? 'current state' : seen.has(st) ? 'visited' : 'not visited yet' }, st)))
    : null;
  // the path taken so far, consecutive repeats folded (the server sends the latest segments)
  const path = v.path;
  const pathEl = path.length
    ? h(
        'div',
        { class: 'machine' },
        h('span', { class: 'hint' }, v.pathBefore ? `path (${v.pathBefore} earlier segments): ` : 'path: '),
        ...path.flatMap((p, k) => [k ? h('span', { class: 'arrow' }, '→') : null, h('span', { class: 'st link', title: `from event #${p.event}`, onclick: () => seek(p.event) }, `${p.state}${p.n > 1 ? ` ×${p.n}` : ''}`, h('sub', {}, ` #${p.event}`))]),
      )
    : null;
  const trans = v.machine
    ? h('details', {}, h('summary', {}, `transitions (${v.machine.source})`), h('ul', { class: 'trans' }, ...v.machine.transitions.map(([a, b, on]) => h('li', {}, `${a} → ${b}: ${on}`))))
    : null;
  const hist = h(
    'table',
    { class: 'hist' },
    h('thead', {}, h('tr', {}, h('th', {}, 'event'), h('th', {}, 'op'), h('th', {}, 'change'), h('th', {}, 'state after'))),
    h('tbody', {}, ...v.history.map((x) => h('tr', { class: 'link', onclick: () => seek(x.event) }, h('td', {}, `#${x.event}`), h('td', {}, x.op), h('td', {}, x.change), h('td', {}, x.state)))),
  );
  host.replaceChildren(
    h('div', { class: 'life-head' }, picker, h('b', {}, ` ${v.type ?? 'object'} ${v.id}`), ' is ', h('span', { class: 'st cur' }, v.state), v.summary ? h('span', { class: 'hint' }, ` — ${v.summary}`) : null),
    states ?? '',
    pathEl ?? '',
    trans ?? '',
    h('div', { class: 'hint' }, `${v.changes} changes up to this event${v.changes > v.history.length ? ` (last ${v.history.length} shown)` : ''}; click one to go there`),
    hist,
  );
}
