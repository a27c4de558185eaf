/**
 * How much memory JavaScript holds (V8's heap and the array buffers outside
 * it: the index's typed-array logs and deflated events), for the index's
 * memory budget (history.ts). Two readings:
 *  - `used`: cheap, an upper bound of what is live (it includes garbage not
 *    yet collected);
 *  - `live`: after a full collection, what is really held.
 *
 * A full collection is asked for only when `used` is over the budget. V8's
 * own full collections cannot stand in for it: as a heap grows, V8 lets it
 * reach two to three times what was live at its last one (measured while
 * indexing a trace with 170k live mappings: 179 MB live at one, nothing
 * until 499 MB), so a budget read from them would be overshot by as much.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface HeapProbe {
  /** Bytes in use now, garbage included (cheap). */
  used(): number;
  /** Bytes in use after a full collection (slow: a collection of the whole heap). */
  live(): number;
}

let collector: (() => void) | null | undefined;

/**
 * V8's `gc()`: the global one under `node --expose-gc`; otherwise the flag is
 * set now and a new context's `gc` taken (the flag only exposes it to
 * contexts made after it is set). null if neither works: `live` is then
 * `used`, an overestimate, so the budget is kept all the same, sooner.
 */
function gcFunction(): (() => void) | null {
  if (collector !== undefined) return collector;
  const g = (globalThis as { gc?: unknown }).gc;
  if (typeof g === 'function') return (collector = g as () => void);
  try {
    setFlagsFromString('--expose-gc');
    const f: unknown = runInNewContext('gc');
    collector = typeof f === 'function' ? (f as () => void) : null;
  } catch {
    collector = null;
  }
  return collector;
}

const inUse = (): number => {
  const h = getHeapStatistics();
  return h.used_heap_size + h.external_memory;
};

/**
 * The budget when none is given: half of V8's heap limit (which Node sets
 * from the machine's memory; 4 GiB on this one), at most 2 GiB. Half leaves
 * V8 room for the garbage it lets pile up between collections.
 */
export function defaultBudgetMb(): number {
  return Math.min(2048, Math.floor(getHeapStatistics().heap_size_limit / 2 / 1048576));
}

export const v8Heap: HeapProbe = {
  used: inUse,
  live: () => {
    gcFunction()?.();
    return inUse();
  },
};
