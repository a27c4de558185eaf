/**
 * One-line human-readable rendering of events (`iorewind trace cat`).
 * u64 values print as hex (`0x1000`), byte buffers as `hex"00ff.."` (long
 * ones shortened, with their length), strings JSON-quoted.
 */
import type { Event, Value } from '../events/event.js';

const MAX_SHOWN_BYTES = 32;

function bytes(b: Uint8Array): string {
  const shown = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, MAX_SHOWN_BYTES)).toString('hex');
  return b.length > MAX_SHOWN_BYTES ? `hex"${shown}.."(${b.length} bytes)` : `hex"${shown}"`;
}

function key(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k);
}

export function formatValue(v: Value | undefined): string {
  switch (typeof v) {
    case 'bigint':
      return `0x${v.toString(16)}`;
    case 'number':
    case 'boolean':
      return String(v);
    case 'string':
      return JSON.stringify(v);
    case 'undefined':
      return 'undefined';
  }
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return bytes(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  const ks = Object.keys(v);
  if (ks.length === 0) return '{}';
  return `{${ks.map((k) => `${key(k)}: ${formatValue(v[k])}`).join(', ')}}`;
}

/** `#17 pid=1 fd=3 IOMMU_IOAS_MAP {flags: 7, ...} => 0 out={...}`. */
export function formatEvent(ev: Event, index?: number): string {
  const parts: string[] = [];
  if (index !== undefined) parts.push(`#${index}`);
  if (ev.pid !== undefined) parts.push(`pid=${ev.pid}`);
  if (ev.fd !== undefined) parts.push(`fd=${ev.fd}`);
  parts.push(ev.op);
  parts.push(ev.args === null ? 'args=null' : formatValue(ev.args));
  if (ev.size !== undefined) parts.push(`size=${ev.size}`);
  if (ev.tail !== undefined) parts.push(`tail=${bytes(ev.tail)}`);
  if (ev.bufs !== undefined) parts.push(`bufs=${formatValue(ev.bufs)}`);
  if (ev.rec !== undefined) {
    parts.push('=>', ev.rec.errno === 0 ? '0' : ev.rec.errno);
    if (ev.rec.ret !== undefined) parts.push(`ret=${ev.rec.ret}`);
    if (ev.rec.out !== undefined) parts.push(`out=${formatValue(ev.rec.out)}`);
    if (ev.rec.bufs !== undefined) parts.push(`bufs=${formatValue(ev.rec.bufs)}`);
  }
  if (ev.src !== undefined) parts.push(`# ${ev.src}`);
  return parts.join(' ');
}
