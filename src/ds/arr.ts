/**
 * Small copy-on-write array helpers shared by the persistent trees.
 *
 * Every helper returns a FRESH array and never touches its input, so node
 * arrays can be shared between versions.
 *
 * Performance notes (V8 11 / Node 20, measured with tools/bench_ds.ts and
 * micro-benchmarks): growing a copy with `push` reallocates the backing
 * store and costs 2-3x more than an exact-size copy; `toSpliced` (ES2023,
 * Node >= 20) allocates the result at its final size in one go and keeps the
 * elements kind packed (unboxed doubles stay unboxed), so it is used for
 * inserts/removes, and `slice()` + one store for replacements.
 */

interface Spliceable<T> {
  toSpliced(start: number, deleteCount: number, ...items: T[]): T[];
}

const HAS_TOSPLICED = typeof (Array.prototype as unknown as Partial<Spliceable<unknown>>).toSpliced === 'function';

function spliced<T>(a: readonly T[], start: number, del: number, items: T[]): T[] {
  if (HAS_TOSPLICED) return (a as unknown as Spliceable<T>).toSpliced(start, del, ...items);
  const r = a.slice();
  r.splice(start, del, ...items);
  return r;
}

/** Copy of `a` with `x` inserted at index `i`. */
export function arrInsert<T>(a: readonly T[], i: number, x: T): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, 0, x) : spliced(a, i, 0, [x]);
}

/** Copy of `a` with `x, y` inserted at index `i`. */
export function arrInsert2<T>(a: readonly T[], i: number, x: T, y: T): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, 0, x, y) : spliced(a, i, 0, [x, y]);
}

/** Copy of `a` with `x, y, z` inserted at index `i`. */
export function arrInsert3<T>(a: readonly T[], i: number, x: T, y: T, z: T): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, 0, x, y, z) : spliced(a, i, 0, [x, y, z]);
}

/** Copy of `a` with index `i` removed. */
export function arrRemove<T>(a: readonly T[], i: number): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, 1) : spliced(a, i, 1, []);
}

/** Copy of `a` with `k` elements removed starting at index `i`. */
export function arrRemoveN<T>(a: readonly T[], i: number, k: number): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, k) : spliced(a, i, k, []);
}

/** Copy of `a` with index `i` replaced by `x`. */
export function arrSet<T>(a: readonly T[], i: number, x: T): T[] {
  const r = a.slice();
  r[i] = x;
  return r;
}

/** Copy of `a` with index `i` replaced by `x` and `y` inserted right after it. */
export function arrSet2<T>(a: readonly T[], i: number, x: T, y: T): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, 1, x, y) : spliced(a, i, 1, [x, y]);
}

/** Copy of `a` with the two elements at `i`, `i + 1` replaced by `x` (one element). */
export function arrMerge2<T>(a: readonly T[], i: number, x: T): T[] {
  return HAS_TOSPLICED ? (a as unknown as Spliceable<T>).toSpliced(i, 2, x) : spliced(a, i, 2, [x]);
}

/** Copy of `a` with the two elements at `i`, `i + 1` replaced by `x`, `y`. */
export function arrReplace2<T>(a: readonly T[], i: number, x: T, y: T): T[] {
  const r = a.slice();
  r[i] = x;
  r[i + 1] = y;
  return r;
}

/** Concatenation of two arrays (fresh). */
export function arrConcat<T>(a: readonly T[], b: readonly T[]): T[] {
  return a.concat(b);
}

/** Copy of `a` with `del` elements at `start` replaced by `items` (general, slower). */
export function arrSplice<T>(a: readonly T[], start: number, del: number, items: T[]): T[] {
  return spliced(a, start, del, items);
}
