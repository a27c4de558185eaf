/**
 * The uAPI as each modelled kernel sees it. Two kernels matter
 * (kernel-semantics §0): 6.14, which the seed header describes, and the
 * 6.12.117 oracle that recorded ../shared/captures. Their structs agree
 * except `struct iommu_hw_info` bytes 28..31 (6.12: `u8 out_max_pasid_log2;
 * u8 __reserved[3]`, 6.14: `u32 __reserved`) and the 6.14-only structs, so a
 * decoder picks the layout by version.
 */
import * as seed from './generated.js';
import * as v612 from './generated_6_12.js';
import * as selftest from './generated_selftest.js';
import * as selftest612 from './generated_selftest_6_12.js';
import * as vfio from './generated_vfio.js';
import type { ConstantTable, StructLayout } from './layout.js';

export const KERNEL_VERSIONS = ['6.12', '6.14'] as const;
export type KernelVersion = (typeof KERNEL_VERSIONS)[number];
/** The version the seed header describes; the default everywhere. */
export const DEFAULT_VERSION: KernelVersion = '6.14';

export interface Uapi {
  readonly version: KernelVersion;
  /** iommufd.h, iommufd_test.h and the VFIO structs, by C tag. */
  readonly structs: { readonly [tag: string]: StructLayout };
  /** ioctl numbers by macro name, as the headers define them. */
  readonly ioctls: { readonly [name: string]: number };
  /** Every integer #define and enumerator by C name. */
  readonly constants: ConstantTable;
}

function merge(version: KernelVersion, parts: readonly { STRUCTS: object; IOCTLS: object; CONSTANTS: object }[]): Uapi {
  // Null-prototype tables: a lookup of 'constructor' must find nothing.
  const structs: Record<string, StructLayout> = Object.create(null) as Record<string, StructLayout>;
  const ioctls: Record<string, number> = Object.create(null) as Record<string, number>;
  const constants: Record<string, number | bigint> = Object.create(null) as Record<string, number | bigint>;
  const add = <T>(table: Record<string, T>, kind: string, from: object, same: (a: T, b: T) => boolean) => {
    for (const [k, v] of Object.entries(from as Record<string, T>)) {
      const prior = table[k];
      if (prior !== undefined && !same(prior, v)) throw new Error(`uapi ${version}: ${kind} ${k} defined twice, differently`);
      table[k] = v;
    }
  };
  for (const p of parts) {
    add(structs, 'struct', p.STRUCTS, () => false);
    add(ioctls, 'ioctl', p.IOCTLS, (a, b) => a === b);
    add(constants, 'constant', p.CONSTANTS, (a, b) => a === b);
  }
  return Object.freeze({ version, structs: Object.freeze(structs), ioctls: Object.freeze(ioctls), constants: Object.freeze(constants) });
}

export const UAPI: { readonly [V in KernelVersion]: Uapi } = {
  '6.14': merge('6.14', [seed, selftest, vfio]),
  '6.12': merge('6.12', [v612, selftest612, vfio]),
};

/**
 * The layout of `struct <tag>` in a kernel version; throws if that kernel
 * has no such struct (asking for one is a bug, not a kernel answer).
 *
 * @example structLayout('iommu_hw_info', '6.12').fields[6]?.name // 'out_max_pasid_log2'
 */
export function structLayout(tag: string, version: KernelVersion = DEFAULT_VERSION): StructLayout {
  const s = UAPI[version].structs[tag];
  if (!s) throw new Error(`no struct ${tag} in the ${version} uapi`);
  return s;
}

/** A constant by C name; throws if the version does not define it. */
export function constant(name: string, version: KernelVersion = DEFAULT_VERSION): number | bigint {
  const v = UAPI[version].constants[name];
  if (v === undefined) throw new Error(`no constant ${name} in the ${version} uapi`);
  return v;
}

export function isKernelVersion(v: string): v is KernelVersion {
  return (KERNEL_VERSIONS as readonly string[]).includes(v);
}
