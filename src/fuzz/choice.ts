/**
 * Cheap fast-check arbitraries built from a sequence of choices.
 *
 * A builder draws small integers (`int`, `w` for a weighted alternative,
 * `of` for one of a list) and builds its value from them. Generation costs
 * one `Random.nextInt` per choice instead of a tree of combinator Values;
 * the choices are the shrink context: shrinking replays the builder with one
 * choice set to 0, then halved — 0 always means "the first, most typical
 * alternative" — so a shrunk value is the simplest one that still fails.
 */
import fc from 'fast-check';

export class Draw {
  /** The choices made, in order (the shrink context). */
  readonly choices: number[] = [];
  /** Scratch for builders: the weight of hostile alternatives for the event being built (0: valid only). */
  h = 0;
  /** Scratch for builders: the configured hostile weight. */
  bias = 0;
  private i = 0;

  constructor(
    private readonly rnd: fc.Random | null,
    private readonly replayed: readonly number[] | null = null,
  ) {}

  /** The next replayed choice, clamped to [0, n - 1]. */
  private replay(n: number): number {
    const r = this.replayed![this.i++];
    return r === undefined || n <= 1 ? 0 : r < n ? r : n - 1;
  }

  /** An integer in [0, max]. */
  int(max: number): number {
    const v = this.replayed ? this.replay(max + 1) : max <= 0 ? 0 : this.rnd!.nextInt(0, max);
    this.choices.push(v);
    return v;
  }

  /** The index of one alternative, by weight (weights <= 0 are never drawn fresh). */
  w(weights: readonly number[]): number {
    let v: number;
    if (this.replayed) v = this.replay(weights.length);
    else if (weights.length >= LONG) {
      // A long, constant table (the event kinds): running sums computed once, the alternative by bisection.
      let t = tables.get(weights);
      if (!t) tables.set(weights, (t = table(weights)));
      const r = this.rnd!.nextInt(0, Math.max(0, Math.ceil(t.total) - 1));
      v = pick(t, r, weights.length);
    } else {
      let total = 0;
      for (let k = 0; k < weights.length; k++) if (weights[k]! > 0) total += weights[k]!;
      let r = this.rnd!.nextInt(0, Math.max(0, Math.ceil(total) - 1));
      v = weights.length - 1;
      for (let k = 0; k < weights.length; k++) {
        const x = weights[k]!;
        if (x <= 0) continue;
        if (r < x) {
          v = k;
          break;
        }
        r -= x;
      }
    }
    this.choices.push(v);
    return v;
  }

  /** One of the values, uniformly (shrinks towards the first). */
  of<T>(...xs: readonly T[]): T {
    return xs[this.int(xs.length - 1)]!;
  }
}

/** Weight lists at least this long are tables (module constants, never modified): see `Draw.w`. */
const LONG = 16;

interface Table {
  total: number;
  /** sums[k]: the sum of the positive weights up to k (inclusive). */
  sums: number[];
}

const tables = new WeakMap<readonly number[], Table>();

function table(weights: readonly number[]): Table {
  const sums: number[] = [];
  let total = 0;
  for (let k = 0; k < weights.length; k++) {
    if (weights[k]! > 0) total += weights[k]!;
    sums.push(total);
  }
  return { total, sums };
}

/**
 * The first k with r < sums[k] (the same alternative as the linear walk of `Draw.w`: a weight <= 0 does not
 * raise the sum, so it is never the first), or the last index when there is none.
 */
function pick(t: Table, r: number, n: number): number {
  const sums = t.sums;
  if (!(r < sums[n - 1]!)) return n - 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r < sums[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export type Builder<T> = (d: Draw) => T;

/**
 * A fast-check arbitrary from a builder. `keep` leading choices are never
 * shrunk (the event kind of a command: shrinking should simplify the
 * event, not turn it into another one).
 */
export class ChoiceArbitrary<T> extends fc.Arbitrary<T> {
  constructor(
    readonly build: Builder<T>,
    private readonly keep = 0,
  ) {
    super();
  }

  generate(mrng: fc.Random): fc.Value<T> {
    const d = new Draw(mrng);
    const v = this.build(d);
    return new fc.Value(v, d.choices);
  }

  canShrinkWithoutContext(_v: unknown): _v is T {
    return false;
  }

  shrink(_v: T, context: unknown): fc.Stream<fc.Value<T>> {
    const c = context as number[] | undefined;
    if (!Array.isArray(c)) return fc.Stream.nil();
    return new fc.Stream(this.candidates(c));
  }

  private *candidates(c: readonly number[]): IterableIterator<fc.Value<T>> {
    for (let i = this.keep; i < c.length; i++) if (c[i]! > 0) yield this.replay(c, i, 0);
    for (let i = this.keep; i < c.length; i++) if (c[i]! > 1) yield this.replay(c, i, c[i]! >> 1);
  }

  private replay(c: readonly number[], i: number, v: number): fc.Value<T> {
    const next = c.slice();
    next[i] = v;
    const d = new Draw(null, next);
    const value = this.build(d);
    return new fc.Value(value, d.choices);
  }
}

export const choice = <T>(build: Builder<T>, keep = 0): ChoiceArbitrary<T> => new ChoiceArbitrary(build, keep);
