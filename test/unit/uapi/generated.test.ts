import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TARGETS, fsReader, generateTarget, parseHeaders, renderModule } from '../../../tools/gen_uapi.js';
import { REPO, SHARED } from './paths.js';

describe('generated uapi modules', () => {
  const read = fsReader(SHARED, REPO);

  // CI runs `npm test` without regenerating: the committed files must be what
  // the generator makes of the headers today (drop in a newer header, rerun
  // `node dist/tools/gen_uapi.js --all`, commit).
  for (const target of TARGETS) {
    it(`src/uapi/${target.out} is what the headers generate`, () => {
      const committed = readFileSync(join(REPO, 'src', 'uapi', target.out), 'utf8');
      expect(generateTarget(target, read)).toBe(committed);
    });
  }

  it('the single-header form (npm run gen:uapi) reproduces generated.ts', () => {
    const text = readFileSync(join(SHARED, 'seed', 'iommufd.h'), 'utf8');
    const single = renderModule(parseHeaders([], [{ file: 'iommufd.h', text }]));
    expect(single).toBe(readFileSync(join(REPO, 'src', 'uapi', 'generated.ts'), 'utf8'));
  });
});

describe('gen_uapi header parser', () => {
  const parse = (text: string, context = '') =>
    parseHeaders(context ? [{ file: 'ctx.h', text: context }] : [], [{ file: 't.h', text }]);
  const value = (p: ReturnType<typeof parse>, name: string) => p.constants.find((c) => c.name === name)?.value;

  it('counts implicit enumerators on from the previous value, also across references', () => {
    const p = parse('enum { A = 0x80, B = A, C, D = 1 << 4, E };');
    expect([value(p, 'A'), value(p, 'B'), value(p, 'C'), value(p, 'D'), value(p, 'E')]).toEqual([128n, 128n, 129n, 16n, 17n]);
  });

  it('evaluates _IO/_IOR/_IOW/_IOWR like asm-generic/ioctl.h, with sizeof of a parsed struct', () => {
    const p = parse(`
      #define T (';')
      struct s { __u32 a; __aligned_u64 b; };
      #define X_IO _IO(T, 0x80 + 32)
      #define X_IOR _IOR(T, 1, struct s)
      #define X_IOW _IOW(T, 2, __u32)
      #define X_IOWR _IOWR(T, 3, struct s)`);
    expect(value(p, 'X_IO')).toBe(0x3ba0n);
    expect(value(p, 'X_IOR')).toBe((2n << 30n) | (16n << 16n) | 0x3b01n);
    expect(value(p, 'X_IOW')).toBe((1n << 30n) | (4n << 16n) | 0x3b02n);
    expect(value(p, 'X_IOWR')).toBe((3n << 30n) | (16n << 16n) | 0x3b03n);
    expect(p.constants.filter((c) => c.ioctl).map((c) => c.name)).toEqual(['X_IO', 'X_IOR', 'X_IOW', 'X_IOWR']);
  });

  it('uses constants of context headers without emitting them', () => {
    const p = parse('#define CMD _IO(TYPE, BASE + 1)', 'enum { BASE = 0x80 };\n#define TYPE 0x3b');
    expect(p.constants.map((c) => [c.name, c.value])).toEqual([['CMD', 0x3b81n]]);
  });

  it('lays out x86-64 structs: u64 alignment, tail padding, arrays, flexible arrays, unions', () => {
    const p = parse(`
      struct a { __u32 x; __u64 y; __u8 z[3]; };
      struct b { struct a inner; __u16 n; __u32 tail[]; };
      union u { __u8 c; __u64 q; };
      struct p { __u32 k; void_ptr_placeholder_is_not_a_type; };`);
    const a = p.structs.get('a');
    expect(a).toMatchObject({ size: 24, align: 8 });
    expect(a?.fields.map((f) => [f.name, f.offset, f.size])).toEqual([['x', 0, 4], ['y', 8, 8], ['z', 16, 3]]);
    expect(p.structs.get('b')?.fields.map((f) => [f.name, f.offset, f.size, f.count])).toEqual([
      ['inner', 0, 24, undefined],
      ['n', 24, 2, undefined],
      ['tail', 28, 0, 0],
    ]);
    expect(p.structs.get('b')?.size).toBe(32);
    expect(p.structs.get('u')).toMatchObject({ kind: 'union', size: 8, align: 8 });
    // A struct it cannot lay out is reported, not guessed.
    expect(p.unparsable.get('p')).toMatch(/unsupported member type/);
  });

  it('keeps anonymous unions as a nameless member whose members are the named variants', () => {
    const p = parse('struct c { __u32 op; union { struct { __u32 a; } one; struct { __aligned_u64 b; } two; }; __u32 last; };');
    const c = p.structs.get('c');
    expect(c?.fields.map((f) => [f.name, f.type, f.offset, f.size])).toEqual([
      ['op', 'u32', 0, 4],
      ['', 'union', 8, 8],
      ['last', 'u32', 16, 4],
    ]);
    expect(c?.fields[1]?.fields?.map((f) => f.name)).toEqual(['one', 'two']);
    expect(c?.size).toBe(24);
  });

  it('refuses bit-fields and attributes instead of producing a wrong layout', () => {
    expect(parse('struct f { __u32 a : 3; };').unparsable.get('f')).toMatch(/bit-field/);
    expect(parse('struct g { __u32 a __attribute__((aligned(8))); };').unparsable.get('g')).toMatch(/attribute/);
    expect(() => renderModule(parse('struct f { __u32 a : 3; };'))).toThrow(/cannot lay out f/);
    // Identifiers are looked up as C names, never as JavaScript object properties.
    expect(parse('struct h { constructor x; };').unparsable.get('h')).toMatch(/unsupported member type 'constructor'/);
    expect(parse('#define A toString(1, 2)').constants).toEqual([]);
  });

  it('ignores comments, function-like macros, string macros, and continued lines', () => {
    const p = parse(`
      /* struct hidden { __u32 x; }; */
      // #define NOPE 1
      #define F(x) ((x) + 1)
      #define S "text"
      #define LONG (1 << \\
                    3)
      struct v { __u32 a; /* __u64 b; */ };`);
    expect(p.constants.map((c) => [c.name, c.value])).toEqual([['LONG', 8n]]);
    expect([...p.structs.keys()]).toEqual(['v']);
    expect(p.structs.get('v')?.size).toBe(4);
  });

  it('emits one constant for an identical redefinition and rejects a conflicting one', () => {
    expect(parse('#define A 1\n#define A 1').constants.length).toBe(1);
    expect(() => parse('#define A 1\nenum { A = 2 };')).toThrow(/A redefined/);
  });
});
