/**
 * IOMMU_TEST_CMD framing (iommufd_test.h, kernel-semantics §12.2):
 * `struct iommu_test_cmd { u32 size; u32 op; u32 id; u32 __reserved;
 * union {...}; u32 last; }`. The mock driver reads only the union member of
 * its op, so an event is named after the op and carries that member alone:
 * `{ op: 'IOMMU_TEST_OP_MOCK_DOMAIN', args: { id, __reserved, mock_domain: {...}, last } }`.
 */
import type { Fields } from '../events/event.js';
import { testOpByName, testOpByNumber } from './ioctls.js';
import type { FieldLayout, StructLayout } from './layout.js';
import { decodeStruct, encodeStruct } from './struct.js';
import { DEFAULT_VERSION, structLayout, type KernelVersion } from './versions.js';

/** Op name for a command whose op number the kernel version does not know. */
export const RAW_TEST_CMD = 'IOMMU_TEST_CMD';
/** In a raw command, the union's bytes go under this key (the C union has no name). */
export const RAW_UNION_KEY = 'union';

export interface TestCmd {
  /** `IOMMU_TEST_OP_*`, or `IOMMU_TEST_CMD` for an op number the version does not define. */
  readonly op: string;
  /**
   * Every member but `size` and `op`: `id`, `__reserved`, the op's union
   * member, `last`. A raw command also has `op` (the number) and
   * `union` (the 48 union bytes, Uint8Array).
   */
  readonly args: Fields;
  /** The `size` field, present only when it is not sizeof (72), as in events. */
  readonly size?: number;
}

const cache = new Map<string, StructLayout>();

/** `struct iommu_test_cmd` with its anonymous union replaced by one member (or by raw bytes). */
function testCmdLayout(version: KernelVersion, member: string | null): StructLayout {
  const key = `${version}/${member ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const full = structLayout('iommu_test_cmd', version);
  const union = full.fields.find((f) => f.name === '' && f.type === 'union');
  if (!union?.fields) throw new Error(`iommu_test_cmd (${version}) has no anonymous union`);
  let replacement: FieldLayout | undefined;
  if (member === null) {
    replacement = { name: RAW_UNION_KEY, type: 'u8', offset: union.offset, size: union.size, count: union.size, stride: 1 };
  } else {
    const m = union.fields.find((f) => f.name === member);
    if (m) replacement = { ...m, offset: union.offset + m.offset };
  }
  if (!replacement) throw new Error(`iommu_test_cmd (${version}) has no union member '${member}'`);
  const layout: StructLayout = { ...full, fields: full.fields.map((f) => (f === union ? replacement : f)) };
  cache.set(key, layout);
  return layout;
}

/**
 * Decodes an `iommu_test_cmd` (short input zero-extended). Bytes of the
 * union beyond the op's member are dropped: the kernel never reads them.
 *
 * @example decodeTestCmd(hexToBytes('4800000002000000010000...'))
 *   // { op: 'IOMMU_TEST_OP_MOCK_DOMAIN', args: { id: 1, __reserved: 0, mock_domain: {...}, last: 0 } }
 */
export function decodeTestCmd(bytes: Uint8Array, version: KernelVersion = DEFAULT_VERSION): TestCmd {
  const full = structLayout('iommu_test_cmd', version);
  const head = new Uint8Array(8);
  head.set(bytes.subarray(0, 8));
  const opNumber = new DataView(head.buffer).getUint32(4, true);
  const def = testOpByNumber(opNumber, version);
  const { size, op, ...args } = decodeStruct(testCmdLayout(version, def ? def.member : null), bytes);
  const raw = def ? args : { op: op ?? opNumber, ...args };
  const name = def ? def.name : RAW_TEST_CMD;
  return size === full.size ? { op: name, args: raw } : { op: name, args: raw, size: size as number };
}

/**
 * The inverse of decodeTestCmd: `size` defaults to sizeof (72) and also sets
 * the length of the result; union bytes the member does not cover are zero.
 * Throws for an op name the version does not define or a member of another op.
 *
 * @example encodeTestCmd({ op: 'IOMMU_TEST_OP_MOCK_DOMAIN', args: { id: 1 } }) // 72 bytes: 48000000 02000000 01000000 ...
 */
export function encodeTestCmd(cmd: TestCmd, version: KernelVersion = DEFAULT_VERSION): Uint8Array {
  const sizeof = structLayout('iommu_test_cmd', version).size;
  const size = cmd.size ?? sizeof;
  if (cmd.op === RAW_TEST_CMD) {
    return encodeStruct(testCmdLayout(version, null), { ...cmd.args, size }, size);
  }
  const def = testOpByName(cmd.op, version);
  if (!def) throw new Error(`encodeTestCmd: ${cmd.op} is not a test op of the ${version} selftest header`);
  return encodeStruct(testCmdLayout(version, def.member), { ...cmd.args, size, op: def.op }, size);
}
