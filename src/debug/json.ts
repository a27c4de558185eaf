/**
 * Plain-JSON renderings of model values for the debugger's API and REPL:
 * bigints as `0x..` strings, byte buffers as `{ hex, length }` (shortened),
 * persistent collections summarised (walk them with the state-tree view).
 */
import { PMap } from '../ds/pmap.js';
import { IntervalMap } from '../ds/interval_map.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

const MAX_BYTES = 64;

export function jsonify(v: unknown, depth = 6): Json {
  switch (typeof v) {
    case 'bigint':
      return hex(v);
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    case 'undefined':
      return null;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return { hex: Buffer.from(v.subarray(0, MAX_BYTES)).toString('hex') + (v.length > MAX_BYTES ? '..' : ''), length: v.length };
  if (v instanceof PMap) return `PMap(${v.size})`;
  if (v instanceof IntervalMap) return `IntervalMap(${v.size})`;
  if (depth <= 0) return '…';
  if (Array.isArray(v)) return v.map((x) => jsonify(x, depth - 1));
  const o: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v as object)) o[k] = jsonify(x, depth - 1);
  return o;
}

/** One-line text of a value (REPL). */
export function text(v: unknown): string {
  const j = jsonify(v, 4);
  return typeof j === 'string' ? j : JSON.stringify(j);
}

/** Parses `0x1000`, `4096`, `1M`/`2G`-style sizes; throws on junk. */
export function parseBig(s: string): bigint {
  const t = s.trim().replace(/_/g, '');
  const m = /^(0x[0-9a-f]+|\d+)([kmgt]i?b?)?$/i.exec(t);
  if (!m) throw new Error(`not a number: '${s}'`);
  // (every address and size here fits 64 bits; a string of thousands of digits would take BigInt long to read)
  if (m[1]!.replace(/^(0x)?0*/i, '').length > 20) throw new Error(`'${s.length > 40 ? `${s.slice(0, 40)}…` : s}' is past 64 bits`);
  let v = BigInt(m[1]!);
  const unit = (m[2] ?? '').toLowerCase()[0];
  if (unit) v *= 1n << BigInt({ k: 10, m: 20, g: 30, t: 40 }[unit as 'k' | 'm' | 'g' | 't']);
  return v;
}
