/**
 * Mutation check of the fuzzer: known bugs are planted in a COPY of the model
 * sources (a temporary directory; the real files are never touched), each
 * behind a global switch, and the fuzzer must find every one within a
 * bounded number of runs, name the invariant it breaks, and shrink the
 * counterexample to at most 10 events (the setup events included), from
 * which no single generated event can be left out.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEvents, fuzz, type ModelApi } from '../../src/fuzz/index.js';

const SWITCH = '(globalThis as { __iorewindMutant?: string }).__iorewindMutant';
const on = (name: string) => `${SWITCH} === '${name}'`;

interface Mutant {
  name: string;
  what: string;
  file: string;
  find: string;
  replace: string;
  /** Invariants allowed to catch it (the first violation reported). */
  caughtBy: string[];
  kernel?: '6.12' | '6.14';
}

const MUTANTS: Mutant[] = [
  {
    name: 'unmap-off-by-one',
    what: 'IOAS_UNMAP covers one byte more than asked (last = iova + length)',
    file: 'src/model/ioas.ts',
    find: 'r = unmapIovaRange(tx, ioasId, iova, iova + length - 1n);',
    replace: `r = unmapIovaRange(tx, ioasId, iova, iova + length - (${on('unmap-off-by-one')} ? 0n : 1n));`,
    caughtBy: ['unmap-postcondition'],
  },
  {
    name: 'no-unpin-on-destroy',
    what: 'destroying the last domain of an IOAS forgets to unpin its areas',
    file: 'src/model/io_pagetable.ts',
    find: `      const [first, last] = areaIndexRange(s, l, a);
      pagesRemoveRange(tx, a.pages, first, last);
      return true;
    });
    // Pages objects with no areas left cannot exist; nothing else to free.`,
    replace: `      const [first, last] = areaIndexRange(s, l, a);
      if (!(${on('no-unpin-on-destroy')})) pagesRemoveRange(tx, a.pages, first, last);
      return true;
    });
    // Pages objects with no areas left cannot exist; nothing else to free.`,
    // Closing the context then trips the model's own "pages freed with pins" assertion: found either way.
    caughtBy: ['pinned-accounting', 'model-crash'],
  },
  {
    name: 'dirty-not-cleared',
    what: 'unmapping an area keeps the dirty bits of its IOPTEs',
    file: 'src/model/iopte.ts',
    find: `    d.dirty.each((slot) => {
      dirty = dirty.delete(slot);
      return true;
    }, start / MOCK_IO_PAGE_SIZE, last / MOCK_IO_PAGE_SIZE);`,
    replace: `    d.dirty.each((slot) => {
      if (!(${on('dirty-not-cleared')})) dirty = dirty.delete(slot);
      return true;
    }, start / MOCK_IO_PAGE_SIZE, last / MOCK_IO_PAGE_SIZE);`,
    caughtBy: ['dirty-in-tracked-mappings'],
  },
  {
    name: 'hwpt-keeps-ioas-ref',
    what: 'destroying a paging HWPT does not drop its IOAS reference',
    file: 'src/model/hw_pagetable.ts',
    find: '    tx.users(h.ioas, -1);',
    replace: `    if (!(${on('hwpt-keeps-ioas-ref')})) tx.users(h.ioas, -1);`,
    caughtBy: ['refcounts'],
  },
  {
    name: 'failed-ioctl-commits',
    what: 'a failing ioctl commits what its handler did before failing',
    file: 'src/model/main.ts',
    find: '  if (res.errno && !tx.keepOnError) return [tx.failed(w), res];',
    replace: `  if (res.errno && !tx.keepOnError && !(${on('failed-ioctl-commits')})) return [tx.failed(w), res];`,
    caughtBy: ['failed-ioctl-unchanged'],
  },
  {
    name: 'fault-answered-twice',
    what: 'answering a fault group keeps its cookie awaiting (a second answer is accepted)',
    file: 'src/model/fault.ts',
    find: 'f = { ...f, awaiting: f.awaiting.delete(cookie), answered: f.answered + 1 };',
    replace: `f = { ...f, awaiting: ${on('fault-answered-twice')} ? f.awaiting : f.awaiting.delete(cookie), answered: f.answered + 1 };`,
    caughtBy: ['fault-answered-once'],
    kernel: '6.14',
  },
];

/** Runs per mutant before giving up (each run is up to 40 generated events). */
const MAX_RUNS = 400;
const SEED = 0x5eed;

let dir: string;
let model: ModelApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iorewind-mutants-'));
  const root = process.cwd();
  cpSync(join(root, 'src'), join(dir, 'src'), { recursive: true });
  if (existsSync(join(root, 'machines'))) cpSync(join(root, 'machines'), join(dir, 'machines'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  for (const m of MUTANTS) {
    const path = join(dir, m.file);
    const text = readFileSync(path, 'utf8');
    const n = text.split(m.find).length - 1;
    if (n !== 1) throw new Error(`mutant ${m.name}: the code to patch occurs ${n} times in ${m.file} (expected once); update the mutant to the current source`);
    writeFileSync(path, text.replace(m.find, m.replace));
  }
  const apply = (await import(join(dir, 'src/engine/apply.ts'))) as { apply: ModelApi['apply'] };
  const state = (await import(join(dir, 'src/model/state.ts'))) as { emptyWorld: ModelApi['emptyWorld'] };
  const diff = (await import(join(dir, 'src/engine/diff.ts'))) as { diffStates: ModelApi['diffStates'] };
  model = { apply: apply.apply, emptyWorld: state.emptyWorld, diffStates: (a, b) => diff.diffStates(a, b) };
}, 60_000);

afterAll(() => {
  delete (globalThis as { __iorewindMutant?: string }).__iorewindMutant;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mutation check: the fuzzer finds planted bugs and shrinks them', () => {
  it('the patched copy without an active mutant passes a short fuzz run', () => {
    delete (globalThis as { __iorewindMutant?: string }).__iorewindMutant;
    const r = fuzz({ model, seed: SEED, runs: 30, maxSteps: 30 });
    expect(r.failure?.violations ?? []).toEqual([]);
  });

  for (const m of MUTANTS) {
    it(`${m.name}: ${m.what}`, () => {
      (globalThis as { __iorewindMutant?: string }).__iorewindMutant = m.name;
      try {
        const r = fuzz({ model, seed: SEED, runs: MAX_RUNS, maxSteps: 40, kernel: m.kernel ?? '6.12' });
        expect(r.failure, `not found within ${MAX_RUNS} runs`).not.toBeNull();
        const f = r.failure!;
        expect(m.caughtBy, `caught by ${f.invariant}: ${f.violations[0]?.message}`).toContain(f.invariant);
        if (process.env['IOREWIND_VERBOSE']) console.log(`${m.name}: ${f.invariant} after ${r.runs} runs, ${f.numShrinks} shrinks, ${f.events.length} events: ${f.events.map((e) => e.op).join(', ')}`);
        expect(f.events.length, f.events.map((e) => e.op).join(', ')).toBeLessThanOrEqual(10);
        // and below the commands: no single generated event can go (the event-level pass after fast-check's)
        const kernel = m.kernel ?? '6.12';
        for (let k = f.setupLength; k < f.events.length - 1; k++) {
          const without = [...f.events.slice(0, k), ...f.events.slice(k + 1)];
          expect(checkEvents(without, kernel, { model })?.violations[0]?.invariant, `without event ${k} (${f.events[k]!.op})`).not.toBe(f.invariant);
        }
      } finally {
        delete (globalThis as { __iorewindMutant?: string }).__iorewindMutant;
      }
    });
  }
});
