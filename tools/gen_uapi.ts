#!/usr/bin/env node
/**
 * gen_uapi: reads uAPI C headers and writes TypeScript data modules with the
 * struct layouts (x86-64), ioctl numbers and numeric constants, so nothing in
 * src/ hand-copies an offset or a number from a header.
 *
 *   node dist/tools/gen_uapi.js HEADER.h OUT.ts      one header, everything in it
 *                                                   (`npm run gen:uapi`: the seed header)
 *   node dist/tools/gen_uapi.js --all [SHARED] [OUT] every module listed in TARGETS
 *                                                   (defaults: ../shared, src/uapi)
 *
 * Run both from the repository root (as npm does): `repo` header paths in
 * TARGETS are relative to it.
 *
 * Only the C subset the uAPI headers use is understood: comments, `#define`
 * of integer expressions (function-like macros are ignored), enums with
 * explicit and implicit values, structs and unions with `__u8`..`__u64`,
 * `__s32`, `__aligned_u64`, `__aligned_le64`, pointers, arrays (also flexible
 * `x[]`), nested and anonymous aggregates, and the `_IO`/`_IOR`/`_IOW`/`_IOWR`
 * ioctl macros. Something else in a struct that is asked for is an error (a
 * silently wrong layout would be worse); in one that is not asked for
 * (`--all` picks a few VFIO structs out of vfio.h) it is skipped.
 *
 * The output is a pure function of the header texts: test/unit/uapi checks
 * that regenerating gives the committed files byte for byte.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FieldLayout, FieldType, ScalarType, StructLayout } from '../src/uapi/layout.js';

// ---------------------------------------------------------------- targets

/** Where a header lives: the read-only shared tree or this repository. */
export interface HeaderRef {
  readonly root: 'shared' | 'repo';
  readonly path: string;
}

export interface Selection {
  /** Struct tags to emit (header order); all when absent. */
  readonly structs?: readonly string[];
  /** ioctl macro names to emit; all when absent. */
  readonly ioctls?: readonly string[];
  /** Constant names to emit; a trailing `*` matches a prefix. All when absent. */
  readonly constants?: readonly string[];
}

export interface Target {
  /** File name inside the output directory. */
  readonly out: string;
  /** Headers whose definitions are visible but not emitted (the `#include`s). */
  readonly context?: readonly HeaderRef[];
  /** Headers whose definitions are emitted. */
  readonly emit: readonly HeaderRef[];
  readonly select?: Selection;
}

const SEED: HeaderRef = { root: 'shared', path: 'seed/iommufd.h' };
const ORACLE_IOMMUFD: HeaderRef = { root: 'shared', path: 'oracle/include/linux/iommufd.h' };

/**
 * Every generated module. The 6.14 selftest header is a reconstruction kept in
 * this repository (see its own comment): the oracle only has the 6.12 one.
 */
export const TARGETS: readonly Target[] = [
  { out: 'generated.ts', emit: [SEED] },
  { out: 'generated_6_12.ts', emit: [ORACLE_IOMMUFD] },
  { out: 'generated_selftest.ts', context: [SEED], emit: [{ root: 'repo', path: 'src/uapi/c/iommufd_test_6_14.h' }] },
  { out: 'generated_selftest_6_12.ts', context: [ORACLE_IOMMUFD], emit: [{ root: 'shared', path: 'oracle/include/iommufd_test.h' }] },
  {
    out: 'generated_vfio.ts',
    emit: [{ root: 'shared', path: 'oracle/include/linux/vfio.h' }],
    select: {
      structs: [
        'vfio_info_cap_header',
        'vfio_iommu_type1_info',
        'vfio_iova_range',
        'vfio_iommu_type1_info_cap_iova_range',
        'vfio_iommu_type1_info_dma_avail',
        'vfio_iommu_type1_dma_map',
        'vfio_iommu_type1_dma_unmap',
        'vfio_iommu_type1_dirty_bitmap',
        'vfio_device_bind_iommufd',
        'vfio_device_attach_iommufd_pt',
        'vfio_device_detach_iommufd_pt',
        'vfio_group_status',
      ],
      ioctls: [
        'VFIO_GET_API_VERSION',
        'VFIO_CHECK_EXTENSION',
        'VFIO_SET_IOMMU',
        'VFIO_IOMMU_GET_INFO',
        'VFIO_IOMMU_MAP_DMA',
        'VFIO_IOMMU_UNMAP_DMA',
        'VFIO_IOMMU_DIRTY_PAGES',
        'VFIO_DEVICE_BIND_IOMMUFD',
        'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
        'VFIO_DEVICE_DETACH_IOMMUFD_PT',
        'VFIO_GROUP_GET_STATUS',
        'VFIO_GROUP_SET_CONTAINER',
        'VFIO_GROUP_UNSET_CONTAINER',
        'VFIO_GROUP_GET_DEVICE_FD',
      ],
      constants: [
        'VFIO_API_VERSION',
        'VFIO_TYPE1_IOMMU',
        'VFIO_SPAPR_TCE_IOMMU',
        'VFIO_TYPE1v2_IOMMU',
        'VFIO_DMA_CC_IOMMU',
        'VFIO_EEH',
        'VFIO_TYPE1_NESTING_IOMMU',
        'VFIO_SPAPR_TCE_v2_IOMMU',
        'VFIO_NOIOMMU_IOMMU',
        'VFIO_UNMAP_ALL',
        'VFIO_UPDATE_VADDR',
        'VFIO_TYPE',
        'VFIO_BASE',
        'VFIO_IOMMU_INFO_*',
        'VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE',
        'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL',
        'VFIO_DMA_MAP_FLAG_*',
        'VFIO_DMA_UNMAP_FLAG_*',
        'VFIO_IOMMU_DIRTY_PAGES_FLAG_*',
        'VFIO_GROUP_FLAGS_*',
      ],
    },
  },
];

// ---------------------------------------------------------------- parsed model

export class HeaderError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'HeaderError';
  }
}

/** A constant with what the output needs: value, source order, and whether the source wrote it in hex. */
interface Constant {
  readonly name: string;
  readonly value: bigint;
  readonly hex: boolean;
  readonly line: number;
  readonly ioctl: boolean;
}

/** Everything one header defines (context headers feed `Scope` instead of output). */
export interface ParsedHeader {
  readonly file: string;
  readonly sha256: string;
  readonly structs: Map<string, StructLayout>;
  /** Struct tags that could not be laid out, with the reason. */
  readonly unparsable: Map<string, string>;
  readonly constants: Constant[];
  readonly enums: { tag: string; members: string[] }[];
}

/** Symbols visible while parsing: the context headers' plus the current one's. */
class Scope {
  readonly structs = new Map<string, StructLayout>();
  readonly constants = new Map<string, Constant>();
  /** Unevaluated object-like macros of the current header, evaluated on first use. */
  readonly macros = new Map<string, { body: string; line: number }>();
  private readonly evaluating = new Set<string>();

  constructor(private readonly file: string) {}

  lookup(name: string): { value: bigint; hex: boolean } | undefined {
    const c = this.constants.get(name);
    if (c) return c;
    const m = this.macros.get(name);
    if (!m || this.evaluating.has(name)) return undefined;
    this.evaluating.add(name);
    try {
      const r = evaluate(tokenize(m.body, this.file, m.line), this);
      return r;
    } catch {
      return undefined;
    } finally {
      this.evaluating.delete(name);
    }
  }
}

// ---------------------------------------------------------------- preprocessing

interface Directive {
  readonly name: string;
  readonly body: string;
  readonly line: number;
}

/** Removes comments (keeping line breaks so line numbers stay right), skipping over literals. */
function stripComments(src: string, file: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new HeaderError(file, lineAt(src, i), 'unterminated comment');
      out += ' ' + '\n'.repeat(countNewlines(src.slice(i, end)));
      i = end + 2;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function countNewlines(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '\n') n++;
  return n;
}

function lineAt(src: string, index: number): number {
  return countNewlines(src.slice(0, index)) + 1;
}

/**
 * Splits a header into object-like `#define`s and the remaining C code (with
 * directive lines blanked, so code keeps its line numbers).
 */
function preprocess(text: string, file: string): { directives: Directive[]; code: string } {
  // Line splicing comes before comment removal in C (translation phases 2, 3).
  // A spliced line keeps its newline count by appending them after it.
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const spliced: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    let extra = 0;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = line.slice(0, -1) + ' ' + (lines[++i] ?? '');
      extra++;
    }
    spliced.push(line, ...Array<string>(extra).fill(''));
  }
  const code = stripComments(spliced.join('\n'), file).split('\n');
  const directives: Directive[] = [];
  code.forEach((line, i) => {
    const m = /^\s*#\s*(\w+)(.*)$/.exec(line);
    if (!m) return;
    code[i] = '';
    if (m[1] !== 'define') return;
    const d = /^\s+([A-Za-z_]\w*)(\(?)(.*)$/.exec(m[2] ?? '');
    if (!d) throw new HeaderError(file, i + 1, `malformed #define`);
    if (d[2] === '(') return; // function-like macro: not a constant
    directives.push({ name: d[1] ?? '', body: (d[3] ?? '').trim(), line: i + 1 });
  });
  return { directives, code: code.join('\n') };
}

// ---------------------------------------------------------------- tokens

interface Token {
  readonly kind: 'num' | 'id' | 'char' | 'punct';
  readonly text: string;
  readonly line: number;
}

const TOKEN_SOURCE =
  /(0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*)|([A-Za-z_]\w*)|('(?:\\.|[^'\\])+')|(<<|>>|<=|>=|==|!=|&&|\|\||[{}()[\];,=*<>|&+\-~!:?/%^.])|(\n)|([ \t\f\v\r]+)|(.)/
    .source;

function tokenize(src: string, file: string, firstLine = 1): Token[] {
  const tokens: Token[] = [];
  const re = new RegExp(TOKEN_SOURCE, 'gy');
  let line = firstLine;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    if (m[1]) tokens.push({ kind: 'num', text: m[1], line });
    else if (m[2]) tokens.push({ kind: 'id', text: m[2], line });
    else if (m[3]) tokens.push({ kind: 'char', text: m[3], line });
    else if (m[4]) tokens.push({ kind: 'punct', text: m[4], line });
    else if (m[5]) line++;
    else if (m[7]) throw new HeaderError(file, line, `unexpected character '${m[7]}'`);
  }
  return tokens;
}

// ---------------------------------------------------------------- constant expressions

/** Scalar typedefs of <linux/types.h>: [type, size]; alignment equals size on x86-64. */
const SCALARS: { readonly [c: string]: readonly [ScalarType, number] } = {
  __u8: ['u8', 1],
  __s8: ['s8', 1],
  __u16: ['u16', 2],
  __s16: ['s16', 2],
  __le16: ['u16', 2],
  __u32: ['u32', 4],
  __s32: ['s32', 4],
  __le32: ['u32', 4],
  __u64: ['u64', 8],
  __s64: ['s64', 8],
  __le64: ['u64', 8],
  __aligned_u64: ['u64', 8],
  __aligned_le64: ['u64', 8],
};

/** `table[key]` for own keys only: header identifiers must never hit `Object.prototype` (`constructor`...). */
function own<T>(table: { readonly [k: string]: T }, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

class NotConstant extends Error {}

/**
 * Evaluates an integer constant expression with C operator precedence, in
 * bigint (so `1UL << 31` and ioctl numbers never lose bits). Knows `_IO*`
 * and `sizeof(struct x)`. `hex` records whether the source spelled the value
 * in hex, as a shift, or as a character, to print it the same way.
 */
function evaluate(tokens: Token[], scope: Scope): { value: bigint; hex: boolean } {
  let pos = 0;
  let hex = false;
  const peek = (): Token | undefined => tokens[pos];
  const take = (text?: string): Token => {
    const t = tokens[pos];
    if (!t || (text !== undefined && t.text !== text)) throw new NotConstant(`expected ${text ?? 'a token'}`);
    pos++;
    return t;
  };
  const BINARY: readonly (readonly string[])[] = [
    ['||'],
    ['&&'],
    ['|'],
    ['^'],
    ['&'],
    ['==', '!='],
    ['<', '>', '<=', '>='],
    ['<<', '>>'],
    ['+', '-'],
    ['*', '/', '%'],
  ];
  const apply = (op: string, a: bigint, b: bigint): bigint => {
    switch (op) {
      case '||': return a || b ? 1n : 0n;
      case '&&': return a && b ? 1n : 0n;
      case '|': return a | b;
      case '^': return a ^ b;
      case '&': return a & b;
      case '==': return a === b ? 1n : 0n;
      case '!=': return a !== b ? 1n : 0n;
      case '<': return a < b ? 1n : 0n;
      case '>': return a > b ? 1n : 0n;
      case '<=': return a <= b ? 1n : 0n;
      case '>=': return a >= b ? 1n : 0n;
      case '<<': hex = true; return a << b;
      case '>>': return a >> b;
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      case '/': if (b === 0n) throw new NotConstant('division by zero'); return a / b;
      case '%': if (b === 0n) throw new NotConstant('division by zero'); return a % b;
    }
    throw new NotConstant(op);
  };
  const typeSize = (): number => {
    const t = take();
    if (t.text === 'struct' || t.text === 'union') {
      const s = scope.structs.get(take().text);
      if (!s) throw new NotConstant('unknown struct');
      return s.size;
    }
    const scalar = own(SCALARS, t.text);
    if (!scalar) throw new NotConstant(`unknown type ${t.text}`);
    return scalar[1];
  };
  const IOC_DIR: { readonly [m: string]: bigint } = { _IO: 0n, _IOW: 1n, _IOR: 2n, _IOWR: 3n };
  const primary = (): bigint => {
    const t = take();
    if (t.kind === 'num') {
      if (/^0[xX]/.test(t.text)) hex = true;
      const digits = t.text.replace(/[uUlL]+$/, '');
      return /^0\d/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
    }
    if (t.kind === 'char') {
      hex = true;
      const body = t.text.slice(1, -1);
      const ESC: { readonly [e: string]: number } = { n: 10, t: 9, r: 13, '0': 0, '\\': 92, "'": 39 };
      if (body.length === 1) return BigInt(body.charCodeAt(0));
      const esc = body.length === 2 && body[0] === '\\' ? own(ESC, body[1] ?? '') : undefined;
      if (esc === undefined) throw new NotConstant(`character ${t.text}`);
      return BigInt(esc);
    }
    if (t.text === '(') {
      // A cast to a scalar type truncates like C does; anything else is grouping.
      const cast = peek();
      const castType = cast ? own(SCALARS, cast.text) : undefined;
      if (castType && tokens[pos + 1]?.text === ')') {
        const [type, size] = castType;
        pos += 2;
        const v = unary();
        return type.startsWith('s') ? BigInt.asIntN(size * 8, v) : BigInt.asUintN(size * 8, v);
      }
      const v = expr();
      take(')');
      return v;
    }
    if (t.kind === 'id') {
      const dir = own(IOC_DIR, t.text);
      if (dir !== undefined) {
        // include/uapi/asm-generic/ioctl.h: dir<<30 | size<<16 | type<<8 | nr
        take('(');
        const type = expr();
        take(',');
        const nr = expr();
        let size = 0n;
        if (t.text !== '_IO') {
          take(',');
          size = BigInt(typeSize());
        }
        take(')');
        hex = true;
        return (dir << 30n) | (size << 16n) | (type << 8n) | nr;
      }
      if (t.text === 'sizeof') {
        take('(');
        const size = typeSize();
        take(')');
        return BigInt(size);
      }
      const c = scope.lookup(t.text);
      if (!c) throw new NotConstant(`unknown identifier ${t.text}`);
      if (c.hex) hex = true;
      return c.value;
    }
    throw new NotConstant(`unexpected ${t.text}`);
  };
  const unary = (): bigint => {
    const t = peek();
    if (t?.text === '-') return pos++, -unary();
    if (t?.text === '+') return pos++, unary();
    if (t?.text === '~') return pos++, ~unary();
    if (t?.text === '!') return pos++, unary() ? 0n : 1n;
    return primary();
  };
  const binary = (level: number): bigint => {
    if (level === BINARY.length) return unary();
    const ops = BINARY[level] ?? [];
    let v = binary(level + 1);
    for (let t = peek(); t && t.kind === 'punct' && ops.includes(t.text); t = peek()) {
      pos++;
      v = apply(t.text, v, binary(level + 1));
    }
    return v;
  };
  const expr = (): bigint => {
    const c = binary(0);
    if (peek()?.text !== '?') return c;
    pos++;
    const a = expr();
    take(':');
    const b = expr();
    return c ? a : b;
  };
  const value = expr();
  if (pos !== tokens.length) throw new NotConstant(`trailing ${tokens[pos]?.text}`);
  return { value, hex };
}

// ---------------------------------------------------------------- declarations

/** A member as parsed, before placement: FieldLayout minus offset, plus alignment. */
interface Member {
  readonly name: string;
  readonly type: FieldType;
  readonly size: number;
  readonly align: number;
  readonly count?: number;
  readonly stride?: number;
  readonly struct?: string;
  readonly fields?: readonly FieldLayout[];
}

class Parser {
  private pos = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly file: string,
    private readonly scope: Scope,
    private readonly out: ParsedHeader,
  ) {}

  run(): void {
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      const next = this.tokens[this.pos + 1];
      const after = this.tokens[this.pos + 2];
      if ((t?.text === 'struct' || t?.text === 'union') && next?.kind === 'id' && after?.text === '{') {
        this.topLevelAggregate();
      } else if (t?.text === 'enum' && (next?.text === '{' || after?.text === '{')) {
        this.enumDecl();
      } else {
        this.skipStatement();
      }
    }
  }

  private fail(message: string, token = this.tokens[this.pos]): never {
    throw new HeaderError(this.file, token?.line ?? 0, message);
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private take(text?: string): Token {
    const t = this.tokens[this.pos];
    if (!t) this.fail(`unexpected end of header${text ? `, expected '${text}'` : ''}`, this.tokens[this.pos - 1]);
    if (text !== undefined && t.text !== text) this.fail(`expected '${text}', found '${t.text}'`);
    this.pos++;
    return t;
  }

  /** Index just past the `}` matching the `{` at `open`. */
  private matchingBrace(open: number): number {
    let depth = 0;
    for (let i = open; i < this.tokens.length; i++) {
      const text = this.tokens[i]?.text;
      if (text === '{') depth++;
      else if (text === '}' && --depth === 0) return i + 1;
    }
    this.fail('unbalanced braces', this.tokens[open]);
  }

  private skipStatement(): void {
    let depth = 0;
    while (this.pos < this.tokens.length) {
      const text = this.take().text;
      if (text === '{' || text === '(') depth++;
      else if (text === '}' || text === ')') depth--;
      else if (text === ';' && depth <= 0) return;
    }
  }

  /** `struct tag { ... };` at file scope. A struct we cannot lay out is recorded and skipped. */
  private topLevelAggregate(): void {
    const kind = this.take().text as 'struct' | 'union';
    const tag = this.take().text;
    const end = this.matchingBrace(this.pos);
    try {
      const body = this.aggregateBody(kind);
      const layout: StructLayout =
        kind === 'union'
          ? { name: tag, kind: 'union', size: body.size, align: body.align, fields: body.fields }
          : { name: tag, size: body.size, align: body.align, fields: body.fields };
      this.scope.structs.set(tag, layout);
      this.out.structs.set(tag, layout);
    } catch (e) {
      if (!(e instanceof HeaderError || e instanceof NotConstant)) throw e;
      this.out.unparsable.set(tag, e.message);
      this.pos = end;
    }
    this.skipStatement(); // the `;` (or declarators) after the closing brace
  }

  /** Parses `{ members }` and places the members (x86-64 SysV rules). */
  private aggregateBody(kind: 'struct' | 'union'): { size: number; align: number; fields: FieldLayout[] } {
    this.take('{');
    const members: Member[] = [];
    while (this.peek()?.text !== '}') members.push(...this.memberDecl());
    this.take('}');
    let cursor = 0;
    let align = 1;
    const fields: FieldLayout[] = members.map((m, i) => {
      align = Math.max(align, m.align);
      if (m.count === 0 && (kind === 'union' || i !== members.length - 1)) {
        this.fail(`flexible array member '${m.name}' must be the last struct member`);
      }
      const offset = kind === 'union' ? 0 : alignUp(cursor, m.align);
      cursor = kind === 'union' ? Math.max(cursor, m.size) : offset + m.size;
      const { align: _align, ...rest } = m;
      return { ...rest, offset };
    });
    return { size: alignUp(cursor, align), align, fields };
  }

  /** One member declaration, possibly with several declarators (`__u32 a, b[2];`). */
  private memberDecl(): Member[] {
    const first = this.take();
    let base: Omit<Member, 'name' | 'size' | 'count' | 'stride'> & { size: number };
    let anonymousAllowed = false;
    if (first.text === 'struct' || first.text === 'union') {
      const kind = first.text;
      const tag = this.peek()?.kind === 'id' ? this.take().text : undefined;
      if (this.peek()?.text === '{') {
        const body = this.aggregateBody(kind);
        if (tag) this.scope.structs.set(tag, { name: tag, size: body.size, align: body.align, fields: body.fields });
        base = { type: kind, size: body.size, align: body.align, fields: body.fields, ...(tag ? { struct: tag } : {}) };
        anonymousAllowed = true;
      } else {
        const named = tag ? this.scope.structs.get(tag) : undefined;
        if (!tag || !named) this.fail(`unknown ${kind} ${tag ?? ''}`.trim(), first);
        base = { type: kind, size: named.size, align: named.align, struct: tag, fields: named.fields };
      }
    } else {
      const scalar = own(SCALARS, first.text);
      if (!scalar) this.fail(`unsupported member type '${first.text}'`, first);
      base = { type: scalar[0], size: scalar[1], align: scalar[1] };
    }
    const members: Member[] = [];
    if (anonymousAllowed && this.peek()?.text === ';') {
      this.take(';');
      return [{ ...base, name: '' }];
    }
    for (;;) {
      let elem = base;
      if (this.peek()?.text === '*') {
        this.take('*');
        elem = { type: 'ptr', size: 8, align: 8 };
      }
      const name = this.take();
      if (name.kind !== 'id') this.fail(`expected a member name, found '${name.text}'`, name);
      let count: number | undefined;
      while (this.peek()?.text === '[') {
        this.take('[');
        let n = 0;
        if (this.peek()?.text !== ']') {
          const start = this.pos;
          while (this.peek() && this.peek()?.text !== ']') this.pos++;
          n = this.constant(this.tokens.slice(start, this.pos), name);
        }
        this.take(']');
        count = (count ?? 1) * n;
      }
      if (this.peek()?.text === ':') this.fail(`bit-field '${name.text}' is not supported`, name);
      if (this.peek()?.kind === 'id') this.fail(`attribute or qualifier '${this.peek()?.text}' is not supported`);
      members.push(
        count === undefined
          ? { ...elem, name: name.text }
          : { ...elem, name: name.text, size: elem.size * count, count, stride: elem.size },
      );
      if (this.take().text === ';') return members;
      if (this.tokens[this.pos - 1]?.text !== ',') this.fail(`expected ';' after member '${name.text}'`, name);
    }
  }

  private constant(tokens: Token[], where: Token): number {
    try {
      const { value } = evaluate(tokens, this.scope);
      if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`bad array size ${value}`, where);
      return Number(value);
    } catch (e) {
      if (e instanceof NotConstant) this.fail(`array size is not a constant: ${e.message}`, where);
      throw e;
    }
  }

  /** `enum [tag] { A = expr, B, ... };` — implicit values count on from the previous one. */
  private enumDecl(): void {
    this.take('enum');
    const tag = this.peek()?.kind === 'id' ? this.take().text : '';
    this.take('{');
    const members: string[] = [];
    let next = 0n;
    let hex = false;
    while (this.peek()?.text !== '}') {
      const name = this.take();
      let value = next;
      let explicitHex = false;
      if (this.peek()?.text === '=') {
        this.take('=');
        const start = this.pos;
        let depth = 0;
        for (let t = this.peek(); t && !(depth === 0 && (t.text === ',' || t.text === '}')); t = this.peek()) {
          if (t.text === '(') depth++;
          if (t.text === ')') depth--;
          this.pos++;
        }
        try {
          const r = evaluate(this.tokens.slice(start, this.pos), this.scope);
          value = r.value;
          explicitHex = r.hex;
        } catch (e) {
          if (e instanceof NotConstant) this.fail(`enumerator ${name.text}: ${e.message}`, name);
          throw e;
        }
        hex = explicitHex;
      }
      const c: Constant = { name: name.text, value, hex, line: name.line, ioctl: false };
      this.define(c, name);
      members.push(name.text);
      next = value + 1n;
      if (this.peek()?.text === ',') this.take(',');
    }
    this.take('}');
    this.take(';');
    if (tag) this.out.enums.push({ tag, members });
  }

  define(c: Constant, where?: Token): void {
    const prior = this.scope.constants.get(c.name);
    if (prior && prior.value !== c.value) this.fail(`${c.name} redefined (${prior.value} -> ${c.value})`, where);
    this.scope.constants.set(c.name, c);
    // C allows an identical redefinition (the selftest header defines
    // IOMMU_TEST_INVALIDATE_FLAG_ALL twice); emit the first one only.
    if (!this.out.constants.some((o) => o.name === c.name)) this.out.constants.push(c);
  }
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** Parses one header into `scope` (which already holds its context headers' symbols). */
function parseInto(text: string, file: string, scope: Scope): ParsedHeader {
  const out: ParsedHeader = {
    file,
    sha256: createHash('sha256').update(text).digest('hex'),
    structs: new Map(),
    unparsable: new Map(),
    constants: [],
    enums: [],
  };
  const { directives, code } = preprocess(text, file);
  scope.macros.clear();
  for (const d of directives) scope.macros.set(d.name, { body: d.body, line: d.line });
  const parser = new Parser(tokenize(code, file), file, scope, out);
  parser.run();
  // Macros are evaluated after the declarations, as C expands them at use:
  // `sizeof(struct x)` inside one may name a struct declared further down.
  for (const d of directives) {
    if (d.body === '') continue;
    let value: { value: bigint; hex: boolean };
    let tokens: Token[];
    try {
      tokens = tokenize(d.body, file, d.line);
      value = evaluate(tokens, scope);
    } catch {
      continue; // not an integer constant (strings, casts to pointers, ...)
    }
    const ioctl = /^_IO[RW]{0,2}$/.test(tokens[0]?.text ?? '');
    parser.define({ name: d.name, value: value.value, hex: value.hex, line: d.line, ioctl });
  }
  out.constants.sort((a, b) => a.line - b.line);
  return out;
}

/**
 * Parses `emit` after `context` (whose symbols are visible but not returned).
 *
 * @example parseHeaders([], [{ file: 'iommufd.h', text }]).structs.get('iommu_destroy')?.size // 8
 */
export function parseHeaders(
  context: readonly { file: string; text: string }[],
  emit: readonly { file: string; text: string }[],
): ParsedHeader {
  const scope = new Scope(emit[0]?.file ?? 'header');
  for (const h of context) parseInto(h.text, h.file, scope);
  const parsed = emit.map((h) => parseInto(h.text, h.file, scope));
  const first = parsed[0];
  if (!first) throw new Error('parseHeaders: no header to emit');
  return parsed.slice(1).reduce<ParsedHeader>(
    (acc, p) => ({
      file: `${acc.file}, ${p.file}`,
      sha256: `${acc.sha256},${p.sha256}`,
      structs: new Map([...acc.structs, ...p.structs]),
      unparsable: new Map([...acc.unparsable, ...p.unparsable]),
      constants: [...acc.constants, ...p.constants],
      enums: [...acc.enums, ...p.enums],
    }),
    first,
  );
}

// ---------------------------------------------------------------- output

const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function formatValue(c: { value: bigint; hex: boolean }): string {
  const v = c.value;
  const safe = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
  const text = c.hex && v >= 0n ? `0x${v.toString(16)}` : v.toString();
  return safe ? text : `${text}n`;
}

function renderFields(fields: readonly FieldLayout[], indent: string): string[] {
  const lines: string[] = [];
  for (const f of fields) {
    const head =
      `name: ${q(f.name)}, type: ${q(f.type)}, offset: ${f.offset}, size: ${f.size}` +
      (f.count !== undefined ? `, count: ${f.count}, stride: ${f.stride ?? 0}` : '') +
      (f.struct !== undefined ? `, struct: ${q(f.struct)}` : '');
    if (!f.fields) {
      lines.push(`${indent}{ ${head} },`);
      continue;
    }
    lines.push(`${indent}{`, `${indent}  ${head},`, `${indent}  fields: [`);
    lines.push(...renderFields(f.fields, `${indent}    `));
    lines.push(`${indent}  ],`, `${indent}},`);
  }
  return lines;
}

function matches(name: string, patterns: readonly string[] | undefined): boolean {
  if (!patterns) return true;
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** Renders the TypeScript module for one parsed header set. Throws if a selected item is missing. */
export function renderModule(parsed: ParsedHeader, select: Selection = {}, regenerate = 'npm run gen:uapi'): string {
  const wanted = select.structs;
  const missing = (wanted ?? [...parsed.unparsable.keys()]).filter((s) => !parsed.structs.has(s));
  if (missing.length) {
    const why = missing.map((s) => `${s}: ${parsed.unparsable.get(s) ?? 'not declared'}`);
    throw new Error(`cannot lay out ${why.join('; ')}`);
  }
  const structs = [...parsed.structs.values()].filter((s) => !wanted || wanted.includes(s.name));
  const ioctls = parsed.constants.filter((c) => c.ioctl && matches(c.name, select.ioctls));
  const constants = parsed.constants.filter((c) => !c.ioctl && matches(c.name, select.constants));
  for (const name of [...(select.ioctls ?? []), ...(select.constants ?? [])]) {
    if (!name.endsWith('*') && !parsed.constants.some((c) => c.name === name)) throw new Error(`${name} is not defined`);
  }
  const byName = new Map(parsed.constants.map((c) => [c.name, c]));
  const enums = parsed.enums.filter((e) => !select.constants || e.members.every((m) => matches(m, select.constants)));

  const lines = [
    `// Generated by tools/gen_uapi.ts from ${parsed.file}. Do not edit: regenerate with`,
    `// \`${regenerate}\` after \`npm run build\`.`,
    `import type { StructLayout } from './layout.js';`,
    '',
    `/** The header(s) this module was generated from, with their SHA-256. */`,
    `export const SOURCE = { files: ${q(parsed.file)}, sha256: ${q(parsed.sha256)} } as const;`,
    '',
    `/** Struct layouts (x86-64), in header order. */`,
    `export const STRUCTS = {`,
  ];
  for (const s of structs) {
    lines.push(`  ${s.name}: {`, `    name: ${q(s.name)},`);
    if (s.kind) lines.push(`    kind: ${q(s.kind)},`);
    lines.push(`    size: ${s.size},`, `    align: ${s.align},`, `    fields: [`);
    lines.push(...renderFields(s.fields, '      '));
    lines.push(`    ],`, `  },`);
  }
  lines.push(`} as const satisfies { readonly [name: string]: StructLayout };`, '');
  const table = (doc: string, name: string, entries: string[]): void => {
    lines.push(`/** ${doc} */`);
    lines.push(...(entries.length ? [`export const ${name} = {`, ...entries, `} as const;`] : [`export const ${name} = {} as const;`]), '');
  };
  table('ioctl request numbers by macro name.', 'IOCTLS', ioctls.map((c) => `  ${c.name}: ${formatValue(c)},`));
  table(
    'Integer #defines and enumerators by C name, in header order.',
    'CONSTANTS',
    constants.map((c) => `  ${c.name}: ${formatValue(c)},`),
  );
  table(
    'Named enums: their enumerators and values.',
    'ENUMS',
    enums.flatMap((e) => [
      `  ${e.tag}: {`,
      ...e.members.flatMap((m) => {
        const c = byName.get(m);
        return c ? [`    ${m}: ${formatValue(c)},`] : [];
      }),
      `  },`,
    ]),
  );
  return lines.join('\n');
}

/** Reads a header: `shared` paths are relative to the shared tree, `repo` ones to the repository. */
export type HeaderReader = (ref: HeaderRef) => string;

export function fsReader(sharedDir: string, repoDir: string): HeaderReader {
  return (ref) => readFileSync(join(ref.root === 'shared' ? sharedDir : repoDir, ref.path), 'utf8');
}

/** The module text for one target. */
export function generateTarget(target: Target, read: HeaderReader): string {
  const load = (ref: HeaderRef) => ({ file: basename(ref.path), text: read(ref) });
  const parsed = parseHeaders((target.context ?? []).map(load), target.emit.map(load));
  const regenerate =
    target.out === 'generated.ts' ? 'npm run gen:uapi' : 'node dist/tools/gen_uapi.js --all';
  return renderModule(parsed, target.select, regenerate);
}

// ---------------------------------------------------------------- command line

function main(argv: string[]): number {
  if (argv[0] === '--all') {
    const shared = resolve(argv[1] ?? '../shared');
    const outDir = resolve(argv[2] ?? 'src/uapi');
    const read = fsReader(shared, process.cwd());
    for (const t of TARGETS) {
      writeFileSync(join(outDir, t.out), generateTarget(t, read));
      console.log(`gen_uapi: wrote ${join(outDir, t.out)}`);
    }
    return 0;
  }
  const [header, out] = argv;
  if (!header || !out || argv.length !== 2) {
    console.error('usage: gen_uapi HEADER.h OUT.ts | gen_uapi --all [SHARED_DIR] [OUT_DIR]');
    return 2;
  }
  const file = basename(header);
  const parsed = parseHeaders([], [{ file, text: readFileSync(header, 'utf8') }]);
  writeFileSync(out, renderModule(parsed));
  console.log(`gen_uapi: wrote ${out}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`gen_uapi: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
