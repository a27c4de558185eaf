/**
 * Structural diffs of whole model states: `diffWorlds` is `engine/diff.ts`'s
 * `diffStates` with the collection walkers of `ds/diff.ts` (which skip the
 * subtrees two versions share): same immer-format patches, same paths
 * (bigint keys as `0x..` strings, interval values as `{ last, ...value }`).
 */
import type { Patch } from 'immer';
import { PMap } from '../ds/pmap.js';
import { IntervalMap } from '../ds/interval_map.js';
import { diffIntervals, diffPMap } from '../ds/diff.js';
import { isPlain, keyOf, sameLeaf, snapshot } from '../engine/diff.js';

type Key = string | number;

// ---------------------------------------------------------------------------
// whole states

/**
 * What changed from `before` to `after` as immer patches, skipping shared
 * subtrees at every level (including inside persistent collections).
 * Past `limit` patches, changes are only counted (`counted.total`).
 */
export function diffWorlds(before: unknown, after: unknown, path: Key[] = [], out: Patch[] = [], limit = Infinity, counted?: { total: number }): Patch[] {
  const sink = new Sink(out, limit);
  walk(before, after, path, sink);
  if (counted) counted.total = sink.total;
  return out;
}

class Sink {
  total = 0;
  constructor(
    readonly out: Patch[],
    readonly limit: number,
  ) {}
  push(p: () => Patch): void {
    this.total++;
    if (this.out.length < this.limit) this.out.push(p());
  }
}

function walk(before: unknown, after: unknown, path: Key[], sink: Sink): void {
  if (before === after) return;
  if (before instanceof PMap && after instanceof PMap) {
    diffPMap(before as PMap<unknown, unknown>, after as PMap<unknown, unknown>, (k, x, y) => {
      if (y === undefined) sink.push(() => ({ op: 'remove', path: [...path, keyOf(k)] }));
      else if (x === undefined) sink.push(() => ({ op: 'add', path: [...path, keyOf(k)], value: snapshot(y) }));
      else walk(x, y, [...path, keyOf(k)], sink);
    });
    return;
  }
  if (before instanceof IntervalMap && after instanceof IntervalMap) {
    diffIntervals(before as IntervalMap<unknown>, after as IntervalMap<unknown>, (s, x, y) => {
      if (y === undefined) sink.push(() => ({ op: 'remove', path: [...path, keyOf(s)] }));
      else if (x === undefined) sink.push(() => ({ op: 'add', path: [...path, keyOf(s)], value: snapshot({ last: y.last, ...(y.value as object) }) }));
      else walk({ last: x.last, ...(x.value as object) }, { last: y.last, ...(y.value as object) }, [...path, keyOf(s)], sink);
    });
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.min(before.length, after.length);
    for (let i = 0; i < n; i++) walk(before[i], after[i], [...path, i], sink);
    for (let i = n; i < after.length; i++) sink.push(() => ({ op: 'add', path: [...path, i], value: snapshot(after[i]) }));
    for (let i = before.length - 1; i >= n; i--) sink.push(() => ({ op: 'remove', path: [...path, i] }));
    return;
  }
  if (isPlain(before) && isPlain(after)) {
    for (const k of Object.keys(before)) {
      if (!(k in after)) sink.push(() => ({ op: 'remove', path: [...path, k] }));
      else walk(before[k], after[k], [...path, k], sink);
    }
    for (const k of Object.keys(after)) if (!(k in before)) sink.push(() => ({ op: 'add', path: [...path, k], value: snapshot(after[k]) }));
    return;
  }
  if (!sameLeaf(before, after)) sink.push(() => ({ op: 'replace', path, value: snapshot(after) }));
  return;
}
