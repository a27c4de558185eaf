/**
 * Hard caps applied to every trace read (both formats) before anything is
 * allocated on behalf of the input. A trace that exceeds one is rejected with
 * a `TraceFormatError`; the writer refuses to produce such a trace.
 */
export interface TraceLimits {
  /** Largest encoded event (binary: bytes of its msgpack value; JSONL: bytes of its line). */
  maxEventBytes: number;
  /** Largest binary block payload. */
  maxBlockBytes: number;
  /** Most events in one binary block. */
  maxBlockEvents: number;
  /** Largest encoded header record (binary) / header line (JSONL). */
  maxHeaderBytes: number;
  /** Largest single byte buffer (`Uint8Array`). */
  maxBufferBytes: number;
  /** Largest single string, in UTF-8 bytes. */
  maxStringBytes: number;
  /** Deepest nesting of arrays/objects inside an event (the event object is depth 1). */
  maxDepth: number;
  /** Most keys in one object. */
  maxKeys: number;
  /** Most elements in one array. */
  maxArrayLength: number;
  /** Most msgpackr record (structure) definitions in one binary block. */
  maxRecordDefs: number;
}

export const DEFAULT_LIMITS: Readonly<TraceLimits> = Object.freeze({
  maxEventBytes: 64 << 20,
  maxBlockBytes: 64 << 20,
  maxBlockEvents: 1 << 20,
  maxHeaderBytes: 1 << 20,
  maxBufferBytes: 16 << 20,
  maxStringBytes: 1 << 20,
  maxDepth: 32,
  maxKeys: 1024,
  maxArrayLength: 1 << 20,
  maxRecordDefs: 1024,
});

export function resolveLimits(over?: Partial<TraceLimits>): TraceLimits {
  if (!over) return DEFAULT_LIMITS;
  const out: TraceLimits = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof TraceLimits)[]) {
    const v = over[k];
    if (v !== undefined) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`trace limit ${k} must be a positive integer`);
      out[k] = v;
    }
  }
  return out;
}
