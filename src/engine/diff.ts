/**
 * Structural diff of two model states as immer-format patches
 * (`{ op: 'add' | 'remove' | 'replace', path, value }`), so a debugger can
 * show what one step changed and `immer.applyPatches` can replay it on plain
 * snapshots. Reference-equal subtrees are skipped without being walked,
 * which is what makes a step's diff cost proportional to the change.
 */
import type { Patch } from 'immer';
import { PMap } from '../ds/pmap.js';
import { IntervalMap } from '../ds/interval_map.js';

type Key = string | number;

/** Entries of a persistent collection as [key, value] pairs in key order. */
function entriesOf(c: PMap<unknown, unknown> | IntervalMap<unknown>): [unknown, unknown][] {
  if (c instanceof PMap) return c.toArray();
  return c.toArray().map((iv) => [iv.start, { last: iv.last, ...(iv.value as object) }]);
}

/** A map key as a patch path element (bigints as `0x..` strings). */
export const keyOf = (k: unknown): Key => (typeof k === 'bigint' ? `0x${k.toString(16)}` : (k as Key));

/** A plain record (not an array, a byte buffer or a persistent collection). */
export function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof PMap) && !(v instanceof IntervalMap);
}

/** Equal leaves: the same value, or byte buffers with the same bytes. */
export function sameLeaf(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

export function diffStates(before: unknown, after: unknown, path: Key[] = [], out: Patch[] = []): Patch[] {
  if (before === after) return out;
  if ((before instanceof PMap && after instanceof PMap) || (before instanceof IntervalMap && after instanceof IntervalMap)) {
    const a = new Map(entriesOf(before).map(([k, v]) => [keyOf(k), v]));
    const b = new Map(entriesOf(after).map(([k, v]) => [keyOf(k), v]));
    for (const [k, v] of a) {
      if (!b.has(k)) out.push({ op: 'remove', path: [...path, k] });
      else diffStates(v, b.get(k), [...path, k], out);
    }
    for (const [k, v] of b) if (!a.has(k)) out.push({ op: 'add', path: [...path, k], value: snapshot(v) });
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.min(before.length, after.length);
    for (let i = 0; i < n; i++) diffStates(before[i], after[i], [...path, i], out);
    for (let i = n; i < after.length; i++) out.push({ op: 'add', path: [...path, i], value: snapshot(after[i]) });
    for (let i = before.length - 1; i >= n; i--) out.push({ op: 'remove', path: [...path, i] });
    return out;
  }
  if (isPlain(before) && isPlain(after)) {
    for (const k of Object.keys(before)) {
      if (!(k in after)) out.push({ op: 'remove', path: [...path, k] });
      else diffStates(before[k], after[k], [...path, k], out);
    }
    for (const k of Object.keys(after)) if (!(k in before)) out.push({ op: 'add', path: [...path, k], value: snapshot(after[k]) });
    return out;
  }
  if (!sameLeaf(before, after)) out.push({ op: 'replace', path, value: snapshot(after) });
  return out;
}

/** A plain-data copy of a state subtree (persistent collections become objects keyed by entry key). */
export function snapshot(v: unknown): unknown {
  if (v instanceof PMap || v instanceof IntervalMap) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of entriesOf(v)) o[String(keyOf(k))] = snapshot(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(snapshot);
  if (isPlain(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = snapshot(x);
    return o;
  }
  return v;
}
