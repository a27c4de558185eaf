import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Fields, Value } from '../../../src/events/event.js';
import {
  bytesToHex,
  decodeStruct,
  decodeTestCmd,
  describeFields,
  encodeStruct,
  encodeTestCmd,
  hexToBytes,
} from '../../../src/uapi/codec.js';
import type { FieldLayout, StructLayout } from '../../../src/uapi/layout.js';
import { KERNEL_VERSIONS, UAPI, structLayout } from '../../../src/uapi/versions.js';
import { TEST_OPS } from '../../../src/uapi/ioctls.js';

const SEED = 0x10ae;
const RANGE: Record<string, [bigint, bigint]> = {
  u8: [0n, 0xffn],
  s8: [-0x80n, 0x7fn],
  u16: [0n, 0xffffn],
  s16: [-0x8000n, 0x7fffn],
  u32: [0n, 0xffffffffn],
  s32: [-0x80000000n, 0x7fffffffn],
  u64: [0n, (1n << 64n) - 1n],
  s64: [-(1n << 63n), (1n << 63n) - 1n],
  ptr: [0n, (1n << 64n) - 1n],
};

/** Field values the codec itself would produce for a member. */
function arbElement(f: FieldLayout): fc.Arbitrary<Value> {
  if (f.type === 'struct' || f.type === 'union') return arbMembers(f.fields ?? []);
  const [min, max] = RANGE[f.type] ?? [0n, 0n];
  const wide = f.type === 'u64' || f.type === 's64' || f.type === 'ptr';
  return wide ? fc.bigInt({ min, max }) : fc.integer({ min: Number(min), max: Number(max) });
}

function arbMember(f: FieldLayout): fc.Arbitrary<Value> {
  if (f.count === undefined) return arbElement(f);
  const [minLength, maxLength] = f.count === 0 ? [0, 3] : [f.count, f.count];
  if (f.type === 'u8') return fc.uint8Array({ minLength, maxLength });
  return fc.array(arbElement({ ...f, count: undefined }), { minLength, maxLength });
}

/** A union (anonymous or not) gets one member, as a program would fill it. */
function arbMembers(fields: readonly FieldLayout[], union = false): fc.Arbitrary<Fields> {
  if (union) return fc.oneof(...fields.map((f) => arbMembers([f])));
  const parts = fields.map((f): fc.Arbitrary<Fields> => {
    if (f.name === '') return arbMembers(f.fields ?? [], f.type === 'union');
    return arbMember(f).map((v) => ({ [f.name]: v }));
  });
  return fc.tuple(...parts).map((ps) => Object.assign({}, ...ps) as Fields);
}

/** 1 for every byte some member decodes; padding stays 0. */
function coverage(layout: StructLayout, length: number): Uint8Array {
  const mask = new Uint8Array(length);
  const mark = (fields: readonly FieldLayout[], base: number) => {
    for (const f of fields) {
      const at = base + f.offset;
      if (f.count === 0) mask.fill(1, at, at + Math.floor((length - at) / (f.stride ?? 1)) * (f.stride ?? 1));
      else if (f.fields && f.count === undefined) mark(f.fields, at);
      else if (f.fields) for (let i = 0; i < (f.count ?? 0); i++) mark(f.fields, at + i * (f.stride ?? 0));
      else mask.fill(1, at, at + f.size);
    }
  };
  mark(layout.fields, 0);
  return mask;
}

const hasAnonymousUnion = (l: StructLayout) => l.fields.some((f) => f.name === '' && f.type === 'union');

describe(`struct codec round trips (fast-check seed ${SEED})`, () => {
  for (const version of KERNEL_VERSIONS) {
    for (const layout of Object.values(UAPI[version].structs)) {
      it(`${version} ${layout.name}: fields -> bytes -> fields`, () => {
        fc.assert(
          fc.property(arbMembers(layout.fields), (fields) => {
            const bytes = encodeStruct(layout, fields);
            const back = decodeStruct(layout, bytes);
            if (!hasAnonymousUnion(layout)) expect(back).toEqual(fields);
            // Decoding shows every variant of the union; the one written reads back.
            else expect(Object.fromEntries(Object.keys(fields).map((k) => [k, back[k]]))).toEqual(fields);
          }),
          { seed: SEED, numRuns: 50 },
        );
      });

      it(`${version} ${layout.name}: bytes -> fields -> bytes (padding aside)`, () => {
        const flexible = layout.fields.find((f) => f.count === 0);
        const extra = flexible ? fc.integer({ min: 0, max: 3 }).map((n) => n * (flexible.stride ?? 0)) : fc.constant(0);
        const arb = extra.chain((n) => fc.uint8Array({ minLength: layout.size + n, maxLength: layout.size + n }));
        fc.assert(
          fc.property(arb, (bytes) => {
            const mask = coverage(layout, bytes.length);
            const expected = bytes.map((b, i) => (mask[i] ? b : 0));
            expect(bytesToHex(encodeStruct(layout, decodeStruct(layout, bytes), bytes.length))).toBe(bytesToHex(expected));
          }),
          { seed: SEED, numRuns: 50 },
        );
      });
    }
  }
});

describe('decodeStruct / encodeStruct', () => {
  const map = structLayout('iommu_ioas_map');

  it('decodes little-endian, u64 as bigint and u32 as number', () => {
    const bytes = hexToBytes('28000000070000000100000000000000' + '0050ffF7ff7f0000' + '0040000000000000' + '0000000001000000');
    expect(decodeStruct(map, bytes)).toEqual({
      size: 40,
      flags: 7,
      ioas_id: 1,
      __reserved: 0,
      user_va: 0x7ffff7ff5000n,
      length: 0x4000n,
      iova: 0x100000000n,
    });
  });

  it('zero-extends a short buffer, as copy_struct_from_user does', () => {
    expect(decodeStruct(map, hexToBytes('1800000001000000'))).toEqual({
      size: 24, flags: 1, ioas_id: 0, __reserved: 0, user_va: 0n, length: 0n, iova: 0n,
    });
  });

  it('decodes u8 arrays to Uint8Array, signed members signed, and the 6.12 hw_info tail', () => {
    const info = structLayout('iommu_hw_info', '6.12');
    const bytes = encodeStruct(info, { size: 40, out_max_pasid_log2: 20, __reserved: new Uint8Array([0, 1, 2]) });
    const fields = decodeStruct(info, bytes);
    expect(fields['out_max_pasid_log2']).toBe(20);
    expect(fields['__reserved']).toEqual(new Uint8Array([0, 1, 2]));
    expect(bytesToHex(bytes.subarray(28, 32))).toBe('14000102');
    const bind = structLayout('vfio_device_bind_iommufd');
    expect(decodeStruct(bind, encodeStruct(bind, { iommufd: -1 }))['iommufd']).toBe(-1);
    expect(decodeStruct(bind, encodeStruct(bind, { iommufd: 0xffffffff }))['iommufd']).toBe(-1);
  });

  it('fills flexible arrays from the bytes present and writes them past sizeof', () => {
    const cap = structLayout('vfio_iommu_type1_info_cap_iova_range');
    const fields = {
      header: { id: 1, version: 1, next: 0 },
      nr_iovas: 2,
      iova_ranges: [
        { start: 0n, end: 0xfffffffn },
        { start: 0x10000000n, end: 0xffffffffffffffffn },
      ],
    };
    const bytes = encodeStruct(cap, fields);
    expect(bytes.length).toBe(16 + 2 * 16);
    expect(decodeStruct(cap, bytes)).toEqual({ ...fields, reserved: 0 });
    // A partial trailing element is not decoded.
    expect(decodeStruct(cap, bytes.subarray(0, 40))['iova_ranges']).toEqual([fields.iova_ranges[0]]);
    expect(decodeStruct(cap, bytes.subarray(0, 8))['iova_ranges']).toEqual([]);
  });

  it('truncates or zero-pads to an explicit size', () => {
    expect(bytesToHex(encodeStruct(structLayout('iommu_destroy'), { size: 7, id: 0x01020304 }, 7))).toBe('07000000040302');
    expect(bytesToHex(encodeStruct(structLayout('iommu_destroy'), { size: 12, id: 1 }, 12))).toBe('0c0000000100000000000000');
  });

  it('refuses misuse: unknown members, wrong kinds, out-of-range integers, too many elements', () => {
    expect(() => encodeStruct(map, { ioas: 1 })).toThrow(/iommu_ioas_map has no member 'ioas'/);
    expect(() => encodeStruct(map, { flags: 0x100000000 })).toThrow(/does not fit in u32/);
    expect(() => encodeStruct(map, { flags: 1.5 })).toThrow(/is an integer/);
    expect(() => encodeStruct(map, { iova: 1n << 64n })).toThrow(/does not fit in u64/);
    expect(() => encodeStruct(map, { iova: '0x1000' })).toThrow(/is an integer, got string/);
    const info = structLayout('iommu_hw_info', '6.12');
    expect(() => encodeStruct(info, { __reserved: new Uint8Array(4) })).toThrow(/holds 3 elements/);
    const cmd = structLayout('iommu_test_cmd');
    expect(() => encodeStruct(cmd, { mock_domain: { out_stdev: 1 } })).toThrow(/mock_domain has no member 'out_stdev'/);
    expect(() => encodeStruct(cmd, { mock_domain: 3 })).toThrow(/is a struct/);
  });

  it('accepts numbers for u64 members and bigints for narrow ones', () => {
    expect(decodeStruct(map, encodeStruct(map, { iova: 0x1000, flags: 3n }))).toMatchObject({ iova: 0x1000n, flags: 3 });
  });
});

describe('IOMMU_TEST_CMD per op', () => {
  it('decodes the MOCK_DOMAIN record of the selftest capture', () => {
    const inHex = '480000000200000001000000' + '00'.repeat(60);
    expect(decodeTestCmd(hexToBytes(inHex))).toEqual({
      op: 'IOMMU_TEST_OP_MOCK_DOMAIN',
      args: { id: 1, __reserved: 0, mock_domain: { out_stdev_id: 0, out_hwpt_id: 0, out_idev_id: 0 }, last: 0 },
    });
  });

  it('reports a size other than 72 beside the args, and keeps it when encoding', () => {
    const cmd = decodeTestCmd(hexToBytes('44000000090000000000000000000000' + '00000100' + '00'.repeat(48)));
    expect(cmd).toEqual({
      op: 'IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT',
      args: { id: 0, __reserved: 0, memory_limit: { limit: 0x10000 }, last: 0 },
      size: 68,
    });
    expect(encodeTestCmd(cmd).length).toBe(68);
  });

  it('keeps an op number the version does not know as raw bytes under IOMMU_TEST_CMD', () => {
    const bytes = encodeTestCmd({ op: 'IOMMU_TEST_OP_DEV_CHECK_CACHE', args: { id: 3, check_dev_cache: { id: 2, cache: 0xbaddad } } });
    const old = decodeTestCmd(bytes, '6.12');
    expect(old.op).toBe('IOMMU_TEST_CMD');
    expect(old.args['op']).toBe(16);
    expect(bytesToHex(old.args['union'] as Uint8Array).slice(0, 16)).toBe('02000000adddba00');
    expect(bytesToHex(encodeTestCmd(old, '6.12'))).toBe(bytesToHex(bytes));
    expect(decodeTestCmd(bytes, '6.14').args['check_dev_cache']).toEqual({ id: 2, cache: 0xbaddad });
    expect(() => encodeTestCmd({ op: 'IOMMU_TEST_OP_DEV_CHECK_CACHE', args: {} }, '6.12')).toThrow(/not a test op of the 6.12/);
  });

  it('refuses the member of another op', () => {
    expect(() => encodeTestCmd({ op: 'IOMMU_TEST_OP_MOCK_DOMAIN', args: { dirty: {} } })).toThrow(/no member 'dirty'/);
  });

  for (const def of TEST_OPS) {
    it(`${def.name}: encode -> decode round trip (fast-check seed ${SEED})`, () => {
      const member = structLayout('iommu_test_cmd').fields.find((f) => f.name === '')?.fields?.find((f) => f.name === def.member);
      const arb = fc.record({
        id: fc.integer({ min: 0, max: 0xffffffff }),
        __reserved: fc.integer({ min: 0, max: 0xffffffff }),
        last: fc.integer({ min: 0, max: 0xffffffff }),
        [def.member]: arbElement(member ?? { name: '', type: 'u8', offset: 0, size: 0 }),
      });
      fc.assert(
        fc.property(arb, (args) => {
          const cmd = { op: def.name, args };
          expect(decodeTestCmd(encodeTestCmd(cmd))).toEqual(cmd);
        }),
        { seed: SEED, numRuns: 50 },
      );
    });
  }
});

describe('hex', () => {
  it('parses strictly', () => {
    expect(hexToBytes('')).toEqual(new Uint8Array());
    expect(hexToBytes('0aFf')).toEqual(new Uint8Array([10, 255]));
    expect(() => hexToBytes('abc')).toThrow(/odd number of hex digits \(3\)/);
    expect(() => hexToBytes('0g')).toThrow(/'g' at index 1 is not a hex digit/);
    expect(() => hexToBytes('0x00')).toThrow(/'x' at index 1/);
    expect(() => hexToBytes('00 1')).toThrow(/not a hex digit/);
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        expect(hexToBytes(bytesToHex(b))).toEqual(b);
      }),
      { seed: SEED },
    );
  });
});

describe('describeFields', () => {
  it('renders u64 in hex, narrow integers in decimal, bytes as <hex>, in layout order', () => {
    const map = structLayout('iommu_ioas_map');
    expect(describeFields(map, { iova: 0x1000000n, ioas_id: 1, flags: 7, length: 0x4000n, user_va: 0x7ffff7ff5000n })).toBe(
      'flags=7 ioas_id=1 user_va=0x7ffff7ff5000 length=0x4000 iova=0x1000000',
    );
    const info = structLayout('iommu_hw_info', '6.12');
    expect(describeFields(info, { out_max_pasid_log2: 0, __reserved: new Uint8Array(3), out_capabilities: 1 })).toBe(
      'out_max_pasid_log2=0 __reserved=<000000> out_capabilities=0x1',
    );
  });

  it('nests union members and keeps keys the layout does not know', () => {
    const cmd = decodeTestCmd(hexToBytes('480000000200000001000000000000000200000004000000030000000000000000' + '00'.repeat(39)));
    expect(describeFields(structLayout('iommu_test_cmd'), { ...cmd.args, extra: 'x' })).toBe(
      'id=1 __reserved=0 mock_domain={out_stdev_id=2 out_hwpt_id=4 out_idev_id=3} last=0 extra=x',
    );
    expect(describeFields(null, { a: 1, b: [1n, 2n], c: new Uint8Array(40) })).toBe(
      `a=1 b=[0x1,0x2] c=<${'00'.repeat(32)}...+8 bytes>`,
    );
  });
});
