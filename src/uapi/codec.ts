/**
 * The uAPI codec in one import: struct bytes <-> fields (struct.ts), the
 * kernel's argument-intake rules (ucmd.ts), IOMMU_TEST_CMD per-op decoding
 * (test_cmd.ts), hex (hex.ts) and report rendering (describe.ts). Each lives
 * in the module named after what it models; this file only gathers them.
 */
export { decodeStruct, encodeStruct } from './struct.js';
export { copyStructFromUser, copyArgszFromUser, type UcmdErrno, type UcmdResult } from './ucmd.js';
export { decodeTestCmd, encodeTestCmd, RAW_TEST_CMD, RAW_UNION_KEY, type TestCmd } from './test_cmd.js';
export { hexToBytes, bytesToHex } from './hex.js';
export { describeFields } from './describe.js';
