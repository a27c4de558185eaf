import { EVENT_SCHEMA_VERSION, type Value } from '../events/event.js';

/** Value of `TraceHeader.format`. */
export const TRACE_FORMAT_NAME = 'iorewind-trace';
/** Trace container/format version this build writes and reads. */
export const TRACE_FORMAT_VERSION = 1;
/** Kernel versions a trace may target. */
export const KERNEL_VERSIONS = ['6.12', '6.14'] as const;
export type KernelVersion = (typeof KERNEL_VERSIONS)[number];

/** First record of every trace, in both formats. */
export interface TraceHeader {
  format: typeof TRACE_FORMAT_NAME;
  version: typeof TRACE_FORMAT_VERSION;
  /** Version of the `Event` shape the records were written with. */
  event_schema: number;
  kernel: KernelVersion;
  /** Free-form provenance (capture host, scenario name, ...). Same value rules as event fields. */
  meta: { [k: string]: Value };
}

/** What a caller must supply to write a trace; the rest is filled in. */
export type TraceHeaderInit = Pick<TraceHeader, 'kernel'> & Partial<TraceHeader>;

export function makeHeader(kernel: KernelVersion, meta: { [k: string]: Value } = {}): TraceHeader {
  return { format: TRACE_FORMAT_NAME, version: TRACE_FORMAT_VERSION, event_schema: EVENT_SCHEMA_VERSION, kernel, meta };
}

const HEADER_KEYS = new Set(['format', 'version', 'event_schema', 'kernel', 'meta']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Checks a decoded header record (values already restricted to the Value
 * domain by the decoder). Returns the problem, or null. Does not check
 * `event_schema` against what this build can read: see `checkEventSchema`.
 */
export function headerProblem(v: unknown): string | null {
  if (!isPlainObject(v)) return 'header must be an object';
  for (const k of Object.keys(v)) if (!HEADER_KEYS.has(k)) return `unknown header field ${JSON.stringify(k)}`;
  if (v.format !== TRACE_FORMAT_NAME) return `header.format must be ${JSON.stringify(TRACE_FORMAT_NAME)}`;
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version)) return 'header.version must be an integer';
  if (v.version !== TRACE_FORMAT_VERSION)
    return `unsupported trace format version ${v.version} (this build reads version ${TRACE_FORMAT_VERSION})`;
  if (typeof v.event_schema !== 'number' || !Number.isSafeInteger(v.event_schema) || v.event_schema < 1)
    return 'header.event_schema must be a positive integer';
  if (typeof v.kernel !== 'string' || !(KERNEL_VERSIONS as readonly string[]).includes(v.kernel))
    return `header.kernel must be one of ${KERNEL_VERSIONS.map((k) => JSON.stringify(k)).join(', ')}`;
  if (!isPlainObject(v.meta)) return 'header.meta must be an object';
  return null;
}

/** Completes a caller-supplied header for writing; throws a TypeError on nonsense. */
export function normalizeHeader(init: TraceHeaderInit): TraceHeader {
  const h: TraceHeader = {
    format: TRACE_FORMAT_NAME,
    version: TRACE_FORMAT_VERSION,
    event_schema: EVENT_SCHEMA_VERSION,
    kernel: init.kernel,
    meta: init.meta ?? {},
  };
  if (init.format !== undefined && init.format !== TRACE_FORMAT_NAME) throw new TypeError(`header.format must be ${TRACE_FORMAT_NAME}`);
  if (init.version !== undefined && init.version !== TRACE_FORMAT_VERSION)
    throw new TypeError(`this build writes trace format version ${TRACE_FORMAT_VERSION} only`);
  if (init.event_schema !== undefined && init.event_schema !== EVENT_SCHEMA_VERSION)
    throw new TypeError(`this build writes event_schema ${EVENT_SCHEMA_VERSION} only`);
  const p = headerProblem(h);
  if (p) throw new TypeError(p);
  return h;
}
