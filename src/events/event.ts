/**
 * Events: the immutable, serialisable facts a trace is made of.
 *
 * One event is either an ioctl (named by its uAPI macro, e.g. `IOMMU_IOAS_MAP`,
 * `VFIO_IOMMU_MAP_DMA`, or a mock-driver test op `IOMMU_TEST_OP_MOCK_DOMAIN`
 * which travels through `IOMMU_TEST_CMD`) or an environment happening
 * (`mmap`, `munmap`, `fork`, `exit`, `close`, fault-fd `read`/`write`, ...).
 *
 * Values: every `__u64` / `__aligned_u64` field is a `bigint`; 32-bit and
 * smaller fields are `number`; union members of `struct iommu_test_cmd` are
 * nested objects named after the member (`{ id, mock_domain: {...} }`); byte
 * buffers are `Uint8Array`. Nothing else (no Maps, classes, functions): an
 * event must survive msgpack and JSON round trips unchanged.
 */

export const EVENT_SCHEMA_VERSION = 1;

/** A decoded field value. */
export type Value = bigint | number | string | boolean | null | Uint8Array | Value[] | { [k: string]: Value };
export type Fields = { [k: string]: Value };

/**
 * The memory an ioctl's pointers reach, as the kernel found it: the bytes at
 * the pointer, or `null` when the pointer could not be read (EFAULT).
 */
export type Buffers = { [field: string]: Uint8Array | null };

/** What a real kernel answered (captures) or a scenario expects. */
export interface Recorded {
  /** 0 on success, else the errno name (`'EINVAL'`). */
  errno: 0 | string;
  /** Non-negative return value where it is not 0 (VFIO_GET_API_VERSION, fault-fd read/write byte counts). */
  ret?: number;
  /** Fields written back into the argument struct, by uAPI name. */
  out?: Fields;
  /** Bytes written through pointers (allowed_iovas, dirty bitmaps, hw_info data, fault records...). */
  bufs?: Buffers;
}

export interface Event {
  /** uAPI macro name or environment op name. */
  op: string;
  /** Process that made the call (default 1). */
  pid?: number;
  /** File descriptor the call was made on (default: the process's current iommufd). */
  fd?: number;
  /**
   * Struct fields by uAPI name (`size` excluded unless it differs from
   * sizeof), or `null` when the argument pointer itself was unreadable.
   */
  args: Fields | null;
  /** The `size`/`argsz` the caller passed when it is not sizeof(struct). */
  size?: number;
  /** Bytes after sizeof(struct) in the caller's buffer (size > sizeof). */
  tail?: Uint8Array;
  /** Memory behind the struct's pointers. */
  bufs?: Buffers;
  /** The recorded answer, when the trace carries one. */
  rec?: Recorded;
  /** Where this event came from (capture seq, scenario step): for reports only. */
  src?: string;
}

/**
 * The answer of the model to one event.
 * `unmodelled` marks an op the model does not handle: distinct from every
 * kernel errno, and counted as a failure by `conform` and `replay`.
 */
export interface Result extends Recorded {
  unmodelled?: string;
  /**
   * Buffers whose bytes came (partly) from memory the trace does not
   * describe (a real program's CPU stores are not recorded): they cannot be
   * verified against a recording.
   */
  unknown?: string[];
}

export const OK: Result = Object.freeze({ errno: 0 }) as Result;
export function err(errno: string, out?: Fields): Result {
  return out ? { errno, out } : { errno };
}

/**
 * The integer a number or bigint member stands for, as a bigint: a number's
 * integer part (an untrusted trace may give 1.5; BigInt() would throw), 0
 * for NaN or an infinity.
 */
export function intOf(v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}
