/**
 * Per-profile invalidation entry validators (kernel-semantics §8):
 * VT-d stage-1 (intel/nested.c) and SMMUv3 vIOMMU commands
 * (arm-smmu-v3-iommufd.c), and what each entry covers.
 */
import { describe, expect, it } from 'vitest';
import { validateVtdS1Inv } from '../../../src/model/drivers/vtd_invalidate.js';
import { smmuv3IssuedOnFailure, validateSmmuv3Cmd } from '../../../src/model/drivers/smmuv3_invalidate.js';

const U64_MAX = (1n << 64n) - 1n;

function vtd(addr: bigint, npages: bigint, flags = 0, reserved = 0, len = 24): Uint8Array {
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  if (len >= 8) dv.setBigUint64(0, addr, true);
  if (len >= 16) dv.setBigUint64(8, npages, true);
  if (len >= 20) dv.setUint32(16, flags, true);
  if (len >= 24) dv.setUint32(20, reserved, true);
  return b;
}

function cmd(c0: bigint, c1 = 0n): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, c0, true);
  dv.setBigUint64(8, c1, true);
  return b;
}

describe('validateVtdS1Inv', () => {
  it('errno order: length, flags/reserved, alignment', () => {
    expect(validateVtdS1Inv(vtd(0n, 1n, 0, 0, 16)).errno).toBe('EINVAL');
    expect(validateVtdS1Inv(vtd(0n, 1n, 0, 0, 32)).errno).toBe('EINVAL');
    expect(validateVtdS1Inv(vtd(0x1001n, 1n, 2)).errno).toBe('EOPNOTSUPP');
    expect(validateVtdS1Inv(vtd(0x1001n, 1n, 0, 1)).errno).toBe('EOPNOTSUPP');
    expect(validateVtdS1Inv(vtd(0x1001n, 1n)).errno).toBe('EINVAL');
    expect(validateVtdS1Inv(vtd(0x1000n, U64_MAX)).errno).toBe('EINVAL');
  });
  it('coverage: a range, everything, nothing; LEAF spares the paging-structure caches', () => {
    expect(validateVtdS1Inv(vtd(0x1000n, 2n, 1))).toEqual({ errno: 0, cover: { all: false, scope: '', span: { start: 0x1000n, last: 0x2fffn }, tags: [] } });
    expect(validateVtdS1Inv(vtd(0n, U64_MAX))).toEqual({ errno: 0, cover: { all: true, scope: '', tags: ['pwc'] } });
    expect(validateVtdS1Inv(vtd(0x1000n, 0n, 1))).toEqual({ errno: 0, cover: { all: false, scope: '', tags: [] } });
    const top = validateVtdS1Inv(vtd(U64_MAX - 0xfffn, 4n, 1));
    expect(top.errno === 0 && top.cover.span).toEqual({ start: U64_MAX - 0xfffn, last: U64_MAX });
  });
});

describe('validateSmmuv3Cmd', () => {
  const vdevs = new Set([0x10n, 0x99n]);
  it('supported TLBI opcodes and their coverage', () => {
    expect(validateSmmuv3Cmd(cmd(0x30n), vdevs)).toEqual({ errno: 0, cover: { all: true, scope: '*', tags: [] } });
    expect(validateSmmuv3Cmd(cmd(0x10n | (5n << 32n)), vdevs)).toEqual({ errno: 0, cover: { all: true, scope: '*', tags: [] } });
    expect(validateSmmuv3Cmd(cmd(0x11n | (7n << 48n)), vdevs)).toEqual({ errno: 0, cover: { all: false, scope: 'asid:7', span: { start: 0n, last: U64_MAX }, tags: [] } });
    // NH_VA without a range (TG = 0): one page; LEAF (bit 0) and the other low bits are not address.
    expect(validateSmmuv3Cmd(cmd(0x12n | (3n << 48n), 0x45678001n), vdevs)).toEqual({ errno: 0, cover: { all: false, scope: 'asid:3', span: { start: 0x45678000n, last: 0x45678fffn }, tags: [] } });
    // NH_VA range: TG=1 (4K), NUM=3, SCALE=2 -> 16 pages.
    const c0 = 0x12n | (3n << 12n) | (2n << 20n) | (3n << 48n);
    expect(validateSmmuv3Cmd(cmd(c0, 0x100000n | (1n << 10n)), vdevs)).toEqual({ errno: 0, cover: { all: false, scope: 'asid:3', span: { start: 0x100000n, last: 0x10ffffn }, tags: [] } });
    // NH_VAA: every ASID.
    const vaa = validateSmmuv3Cmd(cmd(0x13n, 0x2000n), vdevs);
    expect(vaa.errno === 0 && vaa.cover.scope).toBe('*');
  });
  it('device commands need the vSID of a vDEVICE of this vIOMMU, else EIO', () => {
    expect(validateSmmuv3Cmd(cmd(0x40n | (0x99n << 32n)), vdevs)).toEqual({ errno: 0, cover: { all: false, scope: '', tags: ['atc:153'] } });
    expect(validateSmmuv3Cmd(cmd(0x05n | (0x10n << 32n) | (4n << 12n)), vdevs)).toEqual({ errno: 0, cover: { all: false, scope: '', tags: ['cd:16:4'] } });
    expect(validateSmmuv3Cmd(cmd(0x06n | (0x10n << 32n)), vdevs)).toEqual({ errno: 0, cover: { all: false, scope: '', tags: ['cd:16:*'] } });
    for (const op of [0x40n, 0x05n, 0x06n]) expect(validateSmmuv3Cmd(cmd(op | (0x11n << 32n)), vdevs).errno).toBe('EIO');
  });
  it('any other opcode is EIO (CFGI_STE, S12_VMALL, S2_IPA, CMD_SYNC, PRI_RESP, 0...)', () => {
    for (const op of [0x00n, 0x01n, 0x03n, 0x04n, 0x20n, 0x28n, 0x2an, 0x41n, 0x44n, 0x46n, 0xffn]) expect(validateSmmuv3Cmd(cmd(op), vdevs).errno).toBe('EIO');
  });
  it('a short entry reads zero-extended; a PMap of virt_ids works as the vdev set', () => {
    expect(validateSmmuv3Cmd(new Uint8Array([0x30]), vdevs).errno).toBe(0);
  });
  it('batching: commands converted after the last issued batch never reach the hardware', () => {
    expect(smmuv3IssuedOnFailure(0)).toBe(0);
    expect(smmuv3IssuedOnFailure(62)).toBe(0);
    expect(smmuv3IssuedOnFailure(63)).toBe(63);
    expect(smmuv3IssuedOnFailure(130)).toBe(126);
  });
});
