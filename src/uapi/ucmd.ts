/**
 * How the kernel takes an ioctl argument struct in from user memory, before
 * any handler runs. Two conventions:
 *
 * - iommufd (`size` first): main.c:iommufd_fops_ioctl reads the u32 `size`,
 *   refuses `size < min_size`, then include/linux/uaccess.h:
 *   copy_struct_from_user checks the bytes past sizeof and copies
 *   (kernel-semantics §1.3 steps 2, 4, 5). Matching the ioctl number (step 3,
 *   ENOTTY) sits between the size read and the minimum check; that is the
 *   dispatcher's job, so a caller that has a bad number never gets here.
 * - VFIO (`argsz` first): the handler copies `minsz` bytes and refuses
 *   `argsz < minsz`; bytes past minsz are never read (§5.1, §11.4).
 *
 * `userBytes` is the memory readable at the argument pointer: `null` when
 * the pointer itself faults, shorter than the struct when it runs into
 * unmapped memory.
 */
import type { Fields } from '../events/event.js';
import type { StructLayout } from './layout.js';
import { decodeStruct } from './struct.js';

export type UcmdErrno = 'EFAULT' | 'EINVAL' | 'E2BIG';
export type UcmdResult = { readonly errno: UcmdErrno } | { readonly errno: 0; readonly fields: Fields };

/**
 * The iommufd intake, first failing check wins:
 * 1. the `size` word is unreadable -> EFAULT;
 * 2. `size < minSize` -> EINVAL;
 * 3. `size > sizeof`: a non-zero byte in `[sizeof, size)` -> E2BIG, the tail
 *    running into unreadable memory -> EFAULT (check_zeroed_user);
 * 4. fewer than `min(size, sizeof)` readable bytes -> EFAULT;
 * 5. fields, from the first `min(size, sizeof)` bytes, zero-extended.
 *
 * @example copyStructFromUser(STRUCTS.iommu_destroy, 8, hexToBytes('0c00000001000000ff000000'), 12) // { errno: 'E2BIG' }
 */
export function copyStructFromUser(
  layout: StructLayout,
  minSize: number,
  userBytes: Uint8Array | null,
  size: number,
): UcmdResult {
  if (userBytes === null || userBytes.length < 4) return { errno: 'EFAULT' };
  if (size < minSize) return { errno: 'EINVAL' };
  if (size > layout.size) {
    const readable = userBytes.subarray(layout.size, Math.min(size, userBytes.length));
    // check_zeroed_user stops at the first non-zero word; memory it cannot
    // read after only zeroes is a fault. (The kernel reads word-aligned
    // chunks; at byte granularity a non-zero byte before the fault wins.)
    if (readable.some((b) => b !== 0)) return { errno: 'E2BIG' };
    if (userBytes.length < size) return { errno: 'EFAULT' };
  }
  const copied = Math.min(size, layout.size);
  if (userBytes.length < copied) return { errno: 'EFAULT' };
  return { errno: 0, fields: decodeStruct(layout, userBytes.subarray(0, copied)) };
}

/**
 * The VFIO intake (`copy_from_user(&x, arg, minsz)` then `x.argsz < minsz`):
 * fewer than `minsz` readable bytes -> EFAULT; `argsz < minsz` -> EINVAL;
 * else the fields, with everything past `minsz` reading as zero because the
 * kernel never looks there.
 *
 * @example copyArgszFromUser(STRUCTS.vfio_iommu_type1_dma_map, 32, bytes) // { errno: 0, fields: { argsz: 32, ... } }
 */
export function copyArgszFromUser(layout: StructLayout, minsz: number, userBytes: Uint8Array | null): UcmdResult {
  if (userBytes === null || userBytes.length < minsz) return { errno: 'EFAULT' };
  const fields = decodeStruct(layout, userBytes.subarray(0, minsz));
  const argsz = fields['argsz'];
  if (typeof argsz !== 'number') throw new Error(`copyArgszFromUser: struct ${layout.name} has no u32 argsz`);
  if (argsz < minsz) return { errno: 'EINVAL' };
  return { errno: 0, fields };
}
