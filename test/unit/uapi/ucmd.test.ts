import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyArgszFromUser, copyStructFromUser, decodeStruct, encodeStruct, hexToBytes } from '../../../src/uapi/codec.js';
import { IOCTLS } from '../../../src/uapi/ioctls.js';
import { structLayout } from '../../../src/uapi/versions.js';

const SEED = 0x10ae;
const destroy = structLayout('iommu_destroy');
const hwptAlloc = structLayout('iommu_hwpt_alloc');

describe('copyStructFromUser (iommufd size convention)', () => {
  it('answers EFAULT first when the argument pointer is unreadable, whatever the size', () => {
    expect(copyStructFromUser(destroy, 8, null, 0)).toEqual({ errno: 'EFAULT' });
    expect(copyStructFromUser(destroy, 8, null, 8)).toEqual({ errno: 'EFAULT' });
    // Not even the size word is readable.
    expect(copyStructFromUser(destroy, 8, hexToBytes('080000'), 8)).toEqual({ errno: 'EFAULT' });
  });

  it('answers EINVAL below the minimum size', () => {
    expect(copyStructFromUser(destroy, 8, hexToBytes('07000000000000'), 7)).toEqual({ errno: 'EINVAL' });
    expect(copyStructFromUser(hwptAlloc, 24, new Uint8Array(48), 23)).toEqual({ errno: 'EINVAL' });
  });

  it('answers E2BIG for a non-zero byte past sizeof and accepts a zero tail', () => {
    expect(copyStructFromUser(destroy, 8, hexToBytes('10000000000000000100000000000000'), 16)).toEqual({ errno: 'E2BIG' });
    expect(copyStructFromUser(destroy, 8, hexToBytes('10000000000000000000000000000080'), 16)).toEqual({ errno: 'E2BIG' });
    expect(copyStructFromUser(destroy, 8, hexToBytes('10000000050000000000000000000000'), 16)).toEqual({
      errno: 0,
      fields: { size: 16, id: 5 },
    });
  });

  it('answers EFAULT when the tail runs into unreadable memory, unless a non-zero byte came first', () => {
    expect(copyStructFromUser(destroy, 8, hexToBytes('100000000500000000'), 16)).toEqual({ errno: 'EFAULT' });
    expect(copyStructFromUser(destroy, 8, hexToBytes('100000000500000001'), 16)).toEqual({ errno: 'E2BIG' });
  });

  it('answers EFAULT when the struct itself is cut short by unreadable memory', () => {
    expect(copyStructFromUser(destroy, 8, hexToBytes('0800000005'), 8)).toEqual({ errno: 'EFAULT' });
  });

  it('zero-extends a short struct and never reads user bytes past size', () => {
    const user = encodeStruct(hwptAlloc, { size: 24, flags: 1, dev_id: 2, pt_id: 3, data_type: 7, data_len: 8, fault_id: 9 });
    const r = copyStructFromUser(hwptAlloc, IOCTLS.IOMMU_HWPT_ALLOC.minSize, user, 24);
    expect(r).toEqual({
      errno: 0,
      fields: { size: 24, flags: 1, dev_id: 2, pt_id: 3, out_hwpt_id: 0, __reserved: 0, data_type: 0, data_len: 0, data_uptr: 0n, fault_id: 0, __reserved2: 0 },
    });
  });

  it(`equals decoding the first min(size, sizeof) bytes whenever it succeeds (fast-check seed ${SEED})`, () => {
    const layout = structLayout('iommu_ioas_map');
    const arb = fc.record({
      size: fc.integer({ min: 0, max: 64 }),
      bytes: fc.uint8Array({ minLength: 0, maxLength: 64 }),
      zeroTail: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ size, bytes, zeroTail }) => {
        const user = zeroTail ? bytes.map((b, i) => (i >= 40 ? 0 : b)) : bytes;
        const r = copyStructFromUser(layout, 40, user, size);
        if (user.length < 4) expect(r.errno).toBe('EFAULT');
        else if (size < 40) expect(r.errno).toBe('EINVAL');
        else if (user.subarray(40, size).some((b) => b !== 0)) expect(r.errno).toBe('E2BIG');
        else if (user.length < size) expect(r.errno).toBe('EFAULT');
        else expect(r).toEqual({ errno: 0, fields: decodeStruct(layout, user.subarray(0, 40)) });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('copyArgszFromUser (VFIO argsz convention)', () => {
  const map = structLayout('vfio_iommu_type1_dma_map');
  const info = structLayout('vfio_iommu_type1_info');

  it('reads exactly minsz bytes: EFAULT if they are not there, EINVAL if argsz < minsz', () => {
    expect(copyArgszFromUser(map, 32, null)).toEqual({ errno: 'EFAULT' });
    expect(copyArgszFromUser(map, 32, new Uint8Array(31))).toEqual({ errno: 'EFAULT' });
    expect(copyArgszFromUser(map, 32, encodeStruct(map, { argsz: 31 }))).toEqual({ errno: 'EINVAL' });
    expect(copyArgszFromUser(map, 32, encodeStruct(map, { argsz: 1 }))).toEqual({ errno: 'EINVAL' });
  });

  it('ignores everything past minsz (no E2BIG in VFIO)', () => {
    const user = new Uint8Array(64).fill(0xaa);
    user.set(encodeStruct(map, { argsz: 64, flags: 3, vaddr: 0x1000n, iova: 0x2000n, size: 0x3000n }));
    expect(copyArgszFromUser(map, 32, user)).toEqual({
      errno: 0,
      fields: { argsz: 64, flags: 3, vaddr: 0x1000n, iova: 0x2000n, size: 0x3000n },
    });
    // GET_INFO's minsz is 16: cap_offset and pad are outputs the kernel does not read.
    const get = copyArgszFromUser(info, 16, encodeStruct(info, { argsz: 24, flags: 1, cap_offset: 7, pad: 9 }));
    expect(get).toEqual({ errno: 0, fields: { argsz: 24, flags: 1, iova_pgsizes: 0n, cap_offset: 0, pad: 0 } });
  });

  it('refuses a layout without argsz (misuse)', () => {
    expect(() => copyArgszFromUser(destroy, 8, new Uint8Array(8))).toThrow(/no u32 argsz/);
  });
});
