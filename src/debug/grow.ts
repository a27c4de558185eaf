/** Growable typed arrays for the debugger's per-event columns and logs. */

// One class per element type, written out: a shared generic push would see
// every typed-array kind at one site and go megamorphic (slow) in V8.

export class GrowI32 {
  private buf: Int32Array;
  length = 0;
  constructor(initial = 1024) {
    this.buf = new Int32Array(initial);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const nb = new Int32Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.length++] = v;
  }
  get(i: number): number {
    return this.buf[i]!;
  }
  set(i: number, v: number): void {
    this.buf[i] = v;
  }
  /** Drops the spare capacity (call when no more pushes are expected). */
  trim(): void {
    if (this.buf.length > this.length) this.buf = this.buf.slice(0, Math.max(1, this.length));
  }
  /** The filled part (a view, valid until the next push). */
  view(): Int32Array {
    return this.buf.subarray(0, this.length);
  }
  get bytes(): number {
    return this.buf.byteLength;
  }
}

export class GrowU8 {
  private buf: Uint8Array;
  length = 0;
  constructor(initial = 1024) {
    this.buf = new Uint8Array(initial);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.length++] = v;
  }
  get(i: number): number {
    return this.buf[i]!;
  }
  set(i: number, v: number): void {
    this.buf[i] = v;
  }
  /** Drops the spare capacity (call when no more pushes are expected). */
  trim(): void {
    if (this.buf.length > this.length) this.buf = this.buf.slice(0, Math.max(1, this.length));
  }
  /** The filled part (a view, valid until the next push). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  get bytes(): number {
    return this.buf.byteLength;
  }
}

export class GrowU16 {
  private buf: Uint16Array;
  length = 0;
  constructor(initial = 1024) {
    this.buf = new Uint16Array(initial);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const nb = new Uint16Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.length++] = v;
  }
  get(i: number): number {
    return this.buf[i]!;
  }
  set(i: number, v: number): void {
    this.buf[i] = v;
  }
  /** Drops the spare capacity (call when no more pushes are expected). */
  trim(): void {
    if (this.buf.length > this.length) this.buf = this.buf.slice(0, Math.max(1, this.length));
  }
  /** The filled part (a view, valid until the next push). */
  view(): Uint16Array {
    return this.buf.subarray(0, this.length);
  }
  get bytes(): number {
    return this.buf.byteLength;
  }
}

export class GrowU64 {
  private buf: BigUint64Array;
  length = 0;
  constructor(initial = 1024) {
    this.buf = new BigUint64Array(initial);
  }
  push(v: bigint): void {
    if (this.length === this.buf.length) {
      const nb = new BigUint64Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.length++] = v;
  }
  get(i: number): bigint {
    return this.buf[i]!;
  }
  set(i: number, v: bigint): void {
    this.buf[i] = v;
  }
  /** Drops the spare capacity (call when no more pushes are expected). */
  trim(): void {
    if (this.buf.length > this.length) this.buf = this.buf.slice(0, Math.max(1, this.length));
  }
  /** The filled part (a view, valid until the next push). */
  view(): BigUint64Array {
    return this.buf.subarray(0, this.length);
  }
  get bytes(): number {
    return this.buf.byteLength;
  }
}

export class GrowF64 {
  private buf: Float64Array;
  length = 0;
  constructor(initial = 1024) {
    this.buf = new Float64Array(initial);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const nb = new Float64Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.length++] = v;
  }
  get(i: number): number {
    return this.buf[i]!;
  }
  set(i: number, v: number): void {
    this.buf[i] = v;
  }
  /** Drops the spare capacity (call when no more pushes are expected). */
  trim(): void {
    if (this.buf.length > this.length) this.buf = this.buf.slice(0, Math.max(1, this.length));
  }
  /** The filled part (a view, valid until the next push). */
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
  get bytes(): number {
    return this.buf.byteLength;
  }
}

/** String interning: code <-> string. */
export class Interner {
  readonly names: string[] = [];
  private readonly codes = new Map<string, number>();
  constructor(first?: string) {
    if (first !== undefined) this.code(first);
  }
  code(s: string): number {
    let c = this.codes.get(s);
    if (c === undefined) {
      c = this.names.length;
      this.names.push(s);
      this.codes.set(s, c);
    }
    return c;
  }
  find(s: string): number | undefined {
    return this.codes.get(s);
  }
  name(c: number): string {
    return this.names[c]!;
  }
}
