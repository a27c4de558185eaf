/** Tiny DOM helpers. */
export function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e;
}

type Attrs = Record<string, string | number | boolean | ((ev: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...kids: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') e.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') e.className = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number | undefined> = {}, ...kids: (Node | string | null)[]): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, String(v));
  for (const k of kids) if (k !== null) e.append(k);
  return e;
}

export function title(text: string): SVGTitleElement {
  const t = document.createElementNS(SVGNS, 'title');
  t.textContent = text;
  return t;
}

export const hex = (v: bigint) => '0x' + v.toString(16);

/** 0x1000 -> "4 KiB" */
export function size(v: bigint): string {
  const units: [bigint, string][] = [
    [1n << 60n, 'EiB'],
    [1n << 50n, 'PiB'],
    [1n << 40n, 'TiB'],
    [1n << 30n, 'GiB'],
    [1n << 20n, 'MiB'],
    [1n << 10n, 'KiB'],
  ];
  for (const [u, n] of units) if (v >= u) {
    const whole = v / u;
    const frac = Number(((v % u) * 10n) / u);
    return `${whole}${frac ? '.' + frac : ''} ${n}`;
  }
  return `${v} B`;
}

export function errnoClass(errno: string | 0): string {
  return errno === 0 ? 'ok' : 'err';
}
