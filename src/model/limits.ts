/**
 * How much one event may make the model do. Trace files are untrusted input,
 * and an event that names terabytes (a memset, a read, a dirty bitmap, a
 * walk over a range page by page) must get a clear answer, not the
 * process's memory or hours of work: past a limit the event is reported as
 * not modelled. The kernel's selftests stay far below both limits (their
 * largest range is 128 MiB).
 */
import type { Result } from '../events/event.js';

/** Bytes of data one event may materialise: a read's result, a memset's bytes, a dirty bitmap. */
export const MAX_EVENT_BYTES = 256 * 1024 * 1024;
/** Pages or 2 KiB slots one event may walk one at a time. */
export const MAX_EVENT_STEPS = 1 << 20;

/**
 * 2 MiB units one event may fault in (a populate, mlock: each may take a
 * transparent huge page, a few microseconds apiece): 512 GiB of memory.
 */
export const MAX_FAULT_UNITS = 1 << 18;

/** The not-modelled result for `n` (bytes or steps) past `max`, or undefined within it. */
export function overLimit(what: string, n: bigint | number, max: number, unit: 'bytes' | 'pages' | '2 KiB slots' | '2 MiB units'): Result | undefined {
  if (BigInt(n) <= BigInt(max)) return undefined;
  return { errno: 'EOPNOTSUPP', unmodelled: `${what} of ${n} ${unit}: past the model's limit of ${max} for one event` };
}
