/**
 * Struct layouts as data: what tools/gen_uapi.ts extracts from the uAPI C
 * headers, and what the codec walks. Offsets are the x86-64 SysV ABI ones
 * (`__u64` is 8-aligned), the only platform the model describes
 * (kernel-semantics §0).
 */

/**
 * Scalar member types. The `__le*` / `__aligned_le64` spellings map to the
 * plain unsigned type: the platform is little-endian, so the bytes agree.
 * `ptr` is a C pointer member (8 bytes); it decodes like a u64.
 */
export type ScalarType = 'u8' | 's8' | 'u16' | 's16' | 'u32' | 's32' | 'u64' | 's64' | 'ptr';
export type FieldType = ScalarType | 'struct' | 'union';

/** One member of a struct or union. */
export interface FieldLayout {
  /**
   * The C member name; `''` for an anonymous struct/union member (as the
   * union inside `struct iommu_test_cmd`), whose members are, as in C11,
   * members of the enclosing struct.
   */
  readonly name: string;
  readonly type: FieldType;
  /** Byte offset from the start of the enclosing aggregate. */
  readonly offset: number;
  /** `sizeof` the member: all elements for an array, 0 for a flexible array. */
  readonly size: number;
  /** Arrays only: element count, 0 for a flexible array member (`x[]`). */
  readonly count?: number;
  /** Arrays only: bytes per element. */
  readonly stride?: number;
  /** Named nested struct/union type (`struct vfio_info_cap_header header`). */
  readonly struct?: string;
  /** Nested struct/union members; offsets relative to this member. */
  readonly fields?: readonly FieldLayout[];
}

export interface StructLayout {
  readonly name: string;
  /** Top-level `union foo {...}` declarations are `'union'`; absent means struct. */
  readonly kind?: 'union';
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
}

/** Numeric constants by C name (`#define`s and enumerators). Values beyond 2^53 are bigints. */
export type ConstantTable = { readonly [name: string]: number | bigint };

/**
 * The member called `name`, looking through anonymous aggregates the way C
 * name lookup does; `undefined` if there is none.
 *
 * @example fieldOf(STRUCTS.iommu_test_cmd, 'mock_domain')?.offset // 16
 */
export function fieldOf(layout: { readonly fields: readonly FieldLayout[] }, name: string): FieldLayout | undefined {
  for (const f of layout.fields) {
    if (f.name === name) return f;
    if (f.name === '' && f.fields) {
      const inner = fieldOf({ fields: f.fields }, name);
      if (inner) return { ...inner, offset: f.offset + inner.offset };
    }
  }
  return undefined;
}

/**
 * `offsetofend(struct, member)`: how the kernel states an ioctl's minimum size
 * (`IOCTL_OP(..., last)` in main.c, `minsz` in VFIO). Throws if the member
 * does not exist, because a misspelt name would silently give a wrong size.
 *
 * @example offsetofend(STRUCTS.iommu_hwpt_alloc, '__reserved') // 24
 */
export function offsetofend(layout: StructLayout, member: string): number {
  const f = fieldOf(layout, member);
  if (!f) throw new Error(`offsetofend: struct ${layout.name} has no member '${member}'`);
  return f.offset + f.size;
}
