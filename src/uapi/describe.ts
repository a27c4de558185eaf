/**
 * Field values as one line of text, for divergence reports and the debugger:
 * `size=40 flags=0 ioas_id=1 __reserved=0 user_va=0x7ffff7ff5000 length=0x4000 iova=0x0`.
 * 64-bit values are hex (they are addresses, lengths and masks), narrower
 * integers decimal, byte arrays `<hex>` (shortened past 32 bytes), nested
 * members `{...}`.
 */
import type { Fields, Value } from '../events/event.js';
import type { FieldLayout, StructLayout } from './layout.js';
import { bytesToHex } from './hex.js';

const MAX_BYTES = 32;

/**
 * Renders `fields` in the layout's member order, then any keys the layout
 * does not have (so nothing is hidden from a report). Absent members are
 * left out.
 *
 * @example describeFields(STRUCTS.iommu_ioas_unmap, { ioas_id: 1, iova: 0x1000n, length: 0x1000n })
 *   // 'ioas_id=1 iova=0x1000 length=0x1000'
 */
export function describeFields(layout: StructLayout | null, fields: Fields): string {
  return render(layout?.fields ?? [], fields);
}

function render(layoutFields: readonly FieldLayout[], fields: Fields): string {
  const parts: string[] = [];
  const seen = new Set<string>();
  const visit = (list: readonly FieldLayout[]): void => {
    for (const f of list) {
      if (f.name === '') {
        visit(f.fields ?? []);
        continue;
      }
      const v = fields[f.name];
      seen.add(f.name);
      if (v !== undefined) parts.push(`${f.name}=${value(v, f)}`);
    }
  };
  visit(layoutFields);
  for (const [k, v] of Object.entries(fields)) if (!seen.has(k)) parts.push(`${k}=${value(v, undefined)}`);
  return parts.join(' ');
}

function value(v: Value, f: FieldLayout | undefined): string {
  if (v instanceof Uint8Array) {
    const shown = bytesToHex(v.subarray(0, MAX_BYTES));
    return v.length > MAX_BYTES ? `<${shown}...+${v.length - MAX_BYTES} bytes>` : `<${shown}>`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => value(x, f && { ...f, count: undefined })).join(',')}]`;
  if (typeof v === 'bigint' || (typeof v === 'number' && f && isWide(f))) return hex(BigInt(v));
  if (v !== null && typeof v === 'object') return `{${render(f?.fields ?? [], v)}}`;
  return String(v);
}

function isWide(f: FieldLayout): boolean {
  return f.type === 'u64' || f.type === 's64' || f.type === 'ptr';
}

function hex(n: bigint): string {
  return n < 0n ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}
