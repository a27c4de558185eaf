/**
 * Hex text <-> bytes, the form struct contents take in ../shared/captures
 * (`"in": "0c00000000000000..."`). Parsing is strict: a capture with a
 * damaged hex string must fail loudly, not decode into different numbers.
 */

/**
 * @example hexToBytes('0c00') // Uint8Array [12, 0]
 * @throws Error on odd length or a character that is not a hex digit (no `0x` prefix, no spaces).
 */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new Error(`hexToBytes: odd number of hex digits (${hex.length})`);
  const bad = /[^0-9a-fA-F]/.exec(hex);
  if (bad) throw new Error(`hexToBytes: '${bad[0]}' at index ${bad.index} is not a hex digit`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lower-case hex, two digits per byte. @example bytesToHex(new Uint8Array([12, 0])) // '0c00' */
export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
