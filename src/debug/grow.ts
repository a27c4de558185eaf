/** Growable typed arrays for the debugger's per-event columns and logs. */

type TA = Int32Array | Uint8Array | Uint16Array | Float64Array | BigUint64Array;

abstract class Grow<T extends TA, E> {
  protected buf: T;
  length = 0;
  constructor(protected readonly make: (n: number) => T, initial = 1024) {
    this.buf = make(initial);
  }
  protected ensure(): void {
    if (this.length < this.buf.length) return;
    const nb = this.make(this.buf.length * 2);
    (nb as unknown as { set(a: T): void }).set(this.buf);
    this.buf = nb;
  }
  push(v: E): void {
    this.ensure();
    (this.buf as unknown as E[])[this.length++] = v;
  }
  get(i: number): E {
    return (this.buf as unknown as E[])[i]!;
  }
  set(i: number, v: E): void {
    (this.buf as unknown as E[])[i] = v;
  }
  /** Drops the spare capacity (call when no more pushes are expected). */
  trim(): void {
    if (this.buf.length > this.length) this.buf = this.buf.slice(0, Math.max(1, this.length)) as T;
  }
  /** The filled part (a view, valid until the next push). */
  view(): T {
    return this.buf.subarray(0, this.length) as T;
  }
  get bytes(): number {
    return this.buf.byteLength;
  }
}

export class GrowI32 extends Grow<Int32Array, number> {
  constructor(initial?: number) {
    super((n) => new Int32Array(n), initial);
  }
}
export class GrowU8 extends Grow<Uint8Array, number> {
  constructor(initial?: number) {
    super((n) => new Uint8Array(n), initial);
  }
}
export class GrowU16 extends Grow<Uint16Array, number> {
  constructor(initial?: number) {
    super((n) => new Uint16Array(n), initial);
  }
}
export class GrowU64 extends Grow<BigUint64Array, bigint> {
  constructor(initial?: number) {
    super((n) => new BigUint64Array(n), initial);
  }
}
export class GrowF64 extends Grow<Float64Array, number> {
  constructor(initial?: number) {
    super((n) => new Float64Array(n), initial);
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
