import { EVENT_SCHEMA_VERSION } from '../events/event.js';

/**
 * Upcasting: how a record written with an older `event_schema` becomes a
 * current `Event`. Readers call `upcast(header.event_schema, record)` on every
 * decoded event record before validating it, whenever the trace's schema is
 * not the current one (for current traces the call is skipped entirely).
 *
 * To evolve the Event shape: bump EVENT_SCHEMA_VERSION (src/events/event.ts)
 * and add an entry `N -> N+1` to STEPS below; records are lifted one version
 * at a time. A change of the *container* layout (binary framing, JSONL
 * tagging) is a trace format version instead (header.version /
 * TRACE_FORMAT_VERSION) and needs reader code, not an upcaster.
 */
export type UpcastStep = (record: unknown) => unknown;
export type Upcaster = (version: number, record: unknown) => unknown;

/** STEPS.get(n) lifts a record of event_schema n to n+1. Empty while only schema 1 exists. */
const STEPS: ReadonlyMap<number, UpcastStep> = new Map<number, UpcastStep>([]);

/** Whether records written with `version` can be read by this build. */
export function canUpcast(version: number): boolean {
  if (!Number.isSafeInteger(version) || version < 1 || version > EVENT_SCHEMA_VERSION) return false;
  for (let v = version; v < EVENT_SCHEMA_VERSION; v++) if (!STEPS.has(v)) return false;
  return true;
}

/** Lifts `record` from event_schema `version` to the current one. Throws an Error if impossible. */
export function upcast(version: number, record: unknown): unknown {
  if (version === EVENT_SCHEMA_VERSION) return record;
  if (!canUpcast(version)) throw new Error(`cannot read event_schema ${version} (this build reads up to ${EVENT_SCHEMA_VERSION})`);
  let r = record;
  for (let v = version; v < EVENT_SCHEMA_VERSION; v++) r = (STEPS.get(v) as UpcastStep)(r);
  return r;
}
