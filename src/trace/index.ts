/**
 * Trace files (`.iort` binary, `.iort.jsonl` readable twin): public API.
 */
export type { TraceHeader, TraceHeaderInit, KernelVersion } from './header.js';
export { makeHeader, TRACE_FORMAT_NAME, TRACE_FORMAT_VERSION, KERNEL_VERSIONS } from './header.js';
export { TraceFormatError, type TraceErrorLocation } from './errors.js';
export { DEFAULT_LIMITS, type TraceLimits } from './limits.js';
export { upcast, canUpcast, type Upcaster } from './upcast.js';
export { IORT_MAGIC } from './binary.js';
export {
  openTrace,
  readTrace,
  readTraceSync,
  readTraceFile,
  writeTrace,
  openTraceWriter,
  encodeTrace,
  decodeTrace,
  detectFormat,
  detectTraceFile,
  formatFromPath,
  type TraceFormat,
  type TraceReader,
  type TraceWriter,
  type ReadOptions,
  type WriteOptions,
  type EventsOptions,
  type DecodedTrace,
  type EncodedBatch,
} from './io.js';
export { formatEvent, formatValue } from './pretty.js';
