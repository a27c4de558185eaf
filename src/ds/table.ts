/**
 * Lookup tables keyed by strings that come from trace files (an event's `op`,
 * an mmap `kind`): built without a prototype, so that `toString`,
 * `constructor` or `__proto__` find nothing instead of Object.prototype's
 * members (which would be called as handlers, or written to).
 */
export function table<T>(entries: { readonly [k: string]: T }): { [k: string]: T } {
  return Object.assign(Object.create(null) as { [k: string]: T }, entries);
}
