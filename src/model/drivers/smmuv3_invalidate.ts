/**
 * ARM SMMUv3 vIOMMU invalidation commands [6.14]
 * (arm-smmu-v3-iommufd.c: arm_vsmmu_convert_user_cmd,
 * arm_vsmmu_cache_invalidate; kernel-semantics §8), as a pure validator for
 * the SMMUv3 hardware profile: `IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3` (1),
 * `struct iommu_viommu_arm_smmuv3_invalidate { __le64 cmd[2]; }`, 16 bytes.
 *
 * The whole array is read first (iommu_copy_struct_from_full_user_array:
 * shorter entries zero-extended, longer ones need zero tails else E2BIG,
 * EFAULT) — the caller's part. Then per command, by opcode (cmd[0] bits 7:0):
 * - TLBI_NSNH_ALL (0x30) -> rewritten to NH_ALL of the vIOMMU's VMID;
 *   TLBI_NH_ALL (0x10): every ASID, every address.
 * - TLBI_NH_ASID (0x11): every address of ASID cmd[0][63:48].
 * - TLBI_NH_VA (0x12): ASID cmd[0][63:48], address cmd[1][63:12]; with a
 *   range (TG = cmd[1][11:10] != 0: granule 4K/16K/64K, NUM = cmd[0][16:12],
 *   SCALE = cmd[0][24:20]) (NUM+1) << SCALE granules, else the one page.
 * - TLBI_NH_VAA (0x13): as NH_VA for every ASID.
 *   (The VMID field of all TLBI commands is overwritten with the vIOMMU's.)
 * - ATC_INV (0x40), CFGI_CD (0x05), CFGI_CD_ALL (0x06): the stream ID
 *   cmd[0][63:32] is a *virtual* SID and must be the virt_id of a vDEVICE of
 *   this vIOMMU, else EIO (it is replaced by the physical SID).
 * - any other opcode -> EIO.
 *
 * Batching quirk of the 6.14 driver: commands are issued in batches of
 * CMDQ_BATCH_ENTRIES - 1 (63) converted commands; a command that fails to
 * convert ends the request with entry_num = its index, although the commands
 * converted since the last issued batch were never sent to the hardware
 * (`smmuv3IssuedOnFailure`).
 */
import type { Validated } from './inv_coverage.js';

export const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1;
export const SMMUV3_CMD_SIZE = 16;
export const CMDQ_OP_CFGI_CD = 0x05;
export const CMDQ_OP_CFGI_CD_ALL = 0x06;
export const CMDQ_OP_TLBI_NH_ALL = 0x10;
export const CMDQ_OP_TLBI_NH_ASID = 0x11;
export const CMDQ_OP_TLBI_NH_VA = 0x12;
export const CMDQ_OP_TLBI_NH_VAA = 0x13;
export const CMDQ_OP_TLBI_NSNH_ALL = 0x30;
export const CMDQ_OP_ATC_INV = 0x40;
/** CMDQ_BATCH_ENTRIES (BITS_PER_LONG) on 64-bit. */
export const CMDQ_BATCH_ENTRIES = 64;

const bits = (v: bigint, hi: number, lo: number): bigint => (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
const U64_MAX = 0xffff_ffff_ffff_ffffn;

function u64le(b: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i] ?? 0);
  return v;
}

/**
 * One SMMUv3 command of a vIOMMU invalidation array. `vdevs` answers whether
 * a virtual SID is the virt_id of a vDEVICE of this vIOMMU (a PMap or Set of
 * virt_ids fits). Entries shorter than 16 bytes read as zero-extended.
 */
export function validateSmmuv3Cmd(entry: Uint8Array, vdevs: { has(virtId: bigint): boolean }): Validated {
  const c0 = u64le(entry, 0);
  const c1 = u64le(entry, 8);
  const op = Number(c0 & 0xffn);
  switch (op) {
    case CMDQ_OP_TLBI_NSNH_ALL:
    case CMDQ_OP_TLBI_NH_ALL:
      return { errno: 0, cover: { all: true, scope: '*', tags: [] } };
    case CMDQ_OP_TLBI_NH_ASID:
      return { errno: 0, cover: { all: false, scope: `asid:${bits(c0, 63, 48)}`, span: { start: 0n, last: U64_MAX }, tags: [] } };
    case CMDQ_OP_TLBI_NH_VA:
    case CMDQ_OP_TLBI_NH_VAA: {
      const addr = c1 & ~0xfffn;
      const tg = Number(bits(c1, 11, 10));
      let size = 4096n;
      if (tg) {
        const granule = [0n, 4096n, 16384n, 65536n][tg]!;
        size = (bits(c0, 16, 12) + 1n) * (1n << bits(c0, 24, 20)) * granule;
      }
      const end = addr + size - 1n;
      const scope = op === CMDQ_OP_TLBI_NH_VA ? `asid:${bits(c0, 63, 48)}` : '*';
      return { errno: 0, cover: { all: false, scope, span: { start: addr, last: end > U64_MAX ? U64_MAX : end }, tags: [] } };
    }
    case CMDQ_OP_ATC_INV:
    case CMDQ_OP_CFGI_CD:
    case CMDQ_OP_CFGI_CD_ALL: {
      const vsid = bits(c0, 63, 32);
      if (!vdevs.has(vsid)) return { errno: 'EIO' };
      const ssid = bits(c0, 31, 12);
      const tag = op === CMDQ_OP_ATC_INV ? `atc:${vsid}` : op === CMDQ_OP_CFGI_CD ? `cd:${vsid}:${ssid}` : `cd:${vsid}:*`;
      return { errno: 0, cover: { all: false, scope: '', tags: [tag] } };
    }
    default:
      return { errno: 'EIO' };
  }
}

/**
 * arm_vsmmu_cache_invalidate when command `failedAt` fails to convert: how
 * many of the commands before it reached the hardware (whole batches of 63).
 * entry_num is reported as `failedAt` regardless.
 */
export function smmuv3IssuedOnFailure(failedAt: number): number {
  const batch = CMDQ_BATCH_ENTRIES - 1;
  return Math.floor(failedAt / batch) * batch;
}
