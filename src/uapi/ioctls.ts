/**
 * Every ioctl the model knows, as one table: the model's analogue of
 * `iommufd_ioctl_ops[]` in main.c (`IOCTL_OP(ioctl, handler, struct, last)`)
 * plus the VFIO numbers the iommufd and the VFIO device cdev accept, and the
 * IOMMU_TEST_OP_* sub-commands of IOMMU_TEST_CMD.
 *
 * Numbers come from the generated header data; only what a header cannot say
 * is written here: which struct an ioctl takes, its last mandatory member
 * (kernel-semantics §1.2, §5.1, §11.4), the size convention, and which union
 * member of `struct iommu_test_cmd` each test op reads (selftest.c:iommufd_test).
 */
import { IOCTLS as IOMMUFD_NUMBERS } from './generated.js';
import { IOCTLS as SELFTEST_NUMBERS } from './generated_selftest.js';
import { IOCTLS as VFIO_NUMBERS } from './generated_vfio.js';
import { offsetofend } from './layout.js';
import { KERNEL_VERSIONS, UAPI, structLayout, type KernelVersion } from './versions.js';

/**
 * How the argument announces its length:
 * - `size`: iommufd's leading `u32 size`, checked by copy_struct_from_user
 *   (EINVAL below the minimum, E2BIG for non-zero bytes past sizeof);
 * - `argsz`: VFIO's leading `u32 argsz`; only `minsz` bytes are read, the
 *   rest is ignored (no E2BIG);
 * - `int`: the argument is an integer, not a pointer (VFIO_CHECK_EXTENSION...).
 */
export type SizeConvention = 'size' | 'argsz' | 'int';

/** The file the ioctl is made on. */
export type IoctlFile = 'iommufd' | 'vfio_device' | 'vfio_group';

interface Spec {
  readonly struct: string | null;
  readonly last: string | null;
  readonly convention: SizeConvention;
  readonly file: IoctlFile;
  readonly versions: readonly KernelVersion[];
}

const BOTH: readonly KernelVersion[] = KERNEL_VERSIONS;
const ONLY_6_14: readonly KernelVersion[] = ['6.14'];

/** An iommufd ioctl: `size` convention, minimum size offsetofend(struct, last). */
const iommufd = (struct: string, last: string, versions = BOTH): Spec => ({
  struct,
  last,
  convention: 'size',
  file: 'iommufd',
  versions,
});
/** A VFIO ioctl with an argsz struct: `minsz` = offsetofend(struct, last). */
const vfio = (struct: string, last: string, file: IoctlFile = 'iommufd'): Spec => ({
  struct,
  last,
  convention: 'argsz',
  file,
  versions: BOTH,
});
const vfioInt: Spec = { struct: null, last: null, convention: 'int', file: 'iommufd', versions: BOTH };

const SPECS = {
  IOMMU_DESTROY: iommufd('iommu_destroy', 'id'),
  IOMMU_IOAS_ALLOC: iommufd('iommu_ioas_alloc', 'out_ioas_id'),
  IOMMU_IOAS_ALLOW_IOVAS: iommufd('iommu_ioas_allow_iovas', 'allowed_iovas'),
  IOMMU_IOAS_COPY: iommufd('iommu_ioas_copy', 'src_iova'),
  IOMMU_IOAS_IOVA_RANGES: iommufd('iommu_ioas_iova_ranges', 'out_iova_alignment'),
  IOMMU_IOAS_MAP: iommufd('iommu_ioas_map', 'iova'),
  IOMMU_IOAS_UNMAP: iommufd('iommu_ioas_unmap', 'length'),
  IOMMU_OPTION: iommufd('iommu_option', 'val64'),
  IOMMU_VFIO_IOAS: iommufd('iommu_vfio_ioas', '__reserved'),
  // Fields from data_type on are optional (older user space), hence min 24.
  IOMMU_HWPT_ALLOC: iommufd('iommu_hwpt_alloc', '__reserved'),
  // out_capabilities is optional, hence min 32.
  IOMMU_GET_HW_INFO: iommufd('iommu_hw_info', '__reserved'),
  IOMMU_HWPT_SET_DIRTY_TRACKING: iommufd('iommu_hwpt_set_dirty_tracking', '__reserved'),
  IOMMU_HWPT_GET_DIRTY_BITMAP: iommufd('iommu_hwpt_get_dirty_bitmap', 'data'),
  IOMMU_HWPT_INVALIDATE: iommufd('iommu_hwpt_invalidate', '__reserved'),
  IOMMU_FAULT_QUEUE_ALLOC: iommufd('iommu_fault_alloc', 'out_fault_fd'),
  IOMMU_IOAS_MAP_FILE: iommufd('iommu_ioas_map_file', 'iova', ONLY_6_14),
  IOMMU_VIOMMU_ALLOC: iommufd('iommu_viommu_alloc', 'out_viommu_id', ONLY_6_14),
  IOMMU_VDEVICE_ALLOC: iommufd('iommu_vdevice_alloc', 'virt_id', ONLY_6_14),
  IOMMU_IOAS_CHANGE_PROCESS: iommufd('iommu_ioas_change_process', '__reserved', ONLY_6_14),
  // CONFIG_IOMMUFD_TEST kernels only (both the oracle and the model have it).
  IOMMU_TEST_CMD: iommufd('iommu_test_cmd', 'last'),

  // VFIO type1 container emulation on the iommufd (vfio_compat.c).
  VFIO_GET_API_VERSION: vfioInt,
  VFIO_CHECK_EXTENSION: vfioInt,
  VFIO_SET_IOMMU: vfioInt,
  VFIO_IOMMU_GET_INFO: vfio('vfio_iommu_type1_info', 'iova_pgsizes'),
  VFIO_IOMMU_MAP_DMA: vfio('vfio_iommu_type1_dma_map', 'size'),
  VFIO_IOMMU_UNMAP_DMA: vfio('vfio_iommu_type1_dma_unmap', 'size'),
  // Known so that it can be refused: iommufd_vfio_ioctl returns ENOTTY for it.
  VFIO_IOMMU_DIRTY_PAGES: vfio('vfio_iommu_type1_dirty_bitmap', 'flags'),

  // VFIO device cdev (drivers/vfio/device_cdev.c), on /dev/vfio/devices/vfioN.
  VFIO_DEVICE_BIND_IOMMUFD: vfio('vfio_device_bind_iommufd', 'out_devid', 'vfio_device'),
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: vfio('vfio_device_attach_iommufd_pt', 'pt_id', 'vfio_device'),
  VFIO_DEVICE_DETACH_IOMMUFD_PT: vfio('vfio_device_detach_iommufd_pt', 'flags', 'vfio_device'),

  // The legacy VFIO group file (drivers/vfio/group.c), /dev/vfio/<group>. Its other three ioctls
  // take no struct (an int pointer, a string, nothing): their events spell the argument out
  // (model/vfio_group.ts), and their numbers are in the generated header data.
  VFIO_GROUP_GET_STATUS: vfio('vfio_group_status', 'flags', 'vfio_group'),
} as const satisfies Record<string, Spec>;

export type IoctlName = keyof typeof SPECS;

export interface IoctlDef {
  readonly name: IoctlName;
  /** Full request number (`_IO(';', nr)`, so direction and size bits are 0). */
  readonly cmd: number;
  /** `cmd & 0xff`, what iommufd_fops_ioctl indexes its table with. */
  readonly nr: number;
  /** C struct tag of the argument; `null` for integer-argument ioctls. */
  readonly struct: string | null;
  /** sizeof(struct); 0 for integer-argument ioctls. */
  readonly sizeof: number;
  /** offsetofend(struct, lastMandatory): iommufd's min size / VFIO's minsz. */
  readonly minSize: number;
  readonly lastMandatory: string | null;
  /** Kernels that implement it; elsewhere the number is unknown (ENOTTY). */
  readonly versions: readonly KernelVersion[];
  readonly convention: SizeConvention;
  readonly file: IoctlFile;
}

const NUMBERS: { readonly [name: string]: number } = { ...IOMMUFD_NUMBERS, ...SELFTEST_NUMBERS, ...VFIO_NUMBERS };

function define(name: IoctlName, spec: Spec): IoctlDef {
  const cmd = NUMBERS[name];
  if (cmd === undefined) throw new Error(`ioctls: ${name} is not defined by any header`);
  // Layouts that matter for size checks agree between versions (a test checks
  // that); the 6.14 one is also the only one that has the 6.14-only structs.
  const layout = spec.struct ? structLayout(spec.struct, '6.14') : null;
  return Object.freeze({
    name,
    cmd,
    nr: cmd & 0xff,
    struct: spec.struct,
    sizeof: layout?.size ?? 0,
    minSize: layout && spec.last ? offsetofend(layout, spec.last) : 0,
    lastMandatory: spec.last,
    versions: spec.versions,
    convention: spec.convention,
    file: spec.file,
  });
}

/** Every ioctl, in request-number order. */
export const IOCTL_TABLE: readonly IoctlDef[] = Object.freeze(
  (Object.entries(SPECS) as [IoctlName, Spec][]).map(([n, s]) => define(n, s)).sort((a, b) => a.cmd - b.cmd),
);

export const IOCTLS: { readonly [N in IoctlName]: IoctlDef } = Object.freeze(
  Object.fromEntries(IOCTL_TABLE.map((d) => [d.name, d])) as { [N in IoctlName]: IoctlDef },
);

export function isIoctlName(name: string): name is IoctlName {
  return Object.hasOwn(SPECS, name);
}

/**
 * The ioctl a request number means on a given file in a given kernel, or
 * `undefined` when that kernel does not know it there (the model then
 * answers ENOTTY, after the size read for iommufd numbers, §1.3).
 *
 * @example ioctlByCmd(0x3b8f, '6.12') // undefined: no IOAS_MAP_FILE in 6.12
 */
export function ioctlByCmd(cmd: number, version: KernelVersion = '6.14', file: IoctlFile = 'iommufd'): IoctlDef | undefined {
  return IOCTL_TABLE.find((d) => d.cmd === cmd && d.file === file && d.versions.includes(version));
}

// ---------------------------------------------------------------- IOMMU_TEST_CMD ops

/** Which `struct iommu_test_cmd` union member each op reads (selftest.c:iommufd_test). */
const TEST_OP_MEMBERS = {
  IOMMU_TEST_OP_ADD_RESERVED: 'add_reserved',
  IOMMU_TEST_OP_MOCK_DOMAIN: 'mock_domain',
  IOMMU_TEST_OP_MD_CHECK_MAP: 'check_map',
  IOMMU_TEST_OP_MD_CHECK_REFS: 'check_refs',
  IOMMU_TEST_OP_CREATE_ACCESS: 'create_access',
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: 'destroy_access_pages',
  IOMMU_TEST_OP_ACCESS_PAGES: 'access_pages',
  IOMMU_TEST_OP_ACCESS_RW: 'access_rw',
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: 'memory_limit',
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: 'mock_domain_replace',
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: 'access_replace_ioas',
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: 'mock_domain_flags',
  IOMMU_TEST_OP_DIRTY: 'dirty',
  IOMMU_TEST_OP_MD_CHECK_IOTLB: 'check_iotlb',
  IOMMU_TEST_OP_TRIGGER_IOPF: 'trigger_iopf',
  IOMMU_TEST_OP_DEV_CHECK_CACHE: 'check_dev_cache',
} as const;

export type TestOpName = keyof typeof TEST_OP_MEMBERS;

export interface TestOpDef {
  readonly name: TestOpName;
  /** The `op` value (`IOMMU_TEST_OP_*` from iommufd_test.h). */
  readonly op: number;
  /** The union member of `struct iommu_test_cmd` it uses. */
  readonly member: (typeof TEST_OP_MEMBERS)[TestOpName];
  /** Kernels whose mock driver has it; others answer EOPNOTSUPP. */
  readonly versions: readonly KernelVersion[];
}

/** The test ops by op number (1..16). */
export const TEST_OPS: readonly TestOpDef[] = Object.freeze(
  (Object.entries(TEST_OP_MEMBERS) as [TestOpName, TestOpDef['member']][])
    .map(([name, member]) => {
      const versions = KERNEL_VERSIONS.filter((v) => UAPI[v].constants[name] !== undefined);
      const op = UAPI['6.14'].constants[name];
      if (typeof op !== 'number') throw new Error(`ioctls: ${name} is not defined by the 6.14 selftest header`);
      return Object.freeze({ name, op, member, versions });
    })
    .sort((a, b) => a.op - b.op),
);

export function isTestOpName(name: string): name is TestOpName {
  return Object.hasOwn(TEST_OP_MEMBERS, name);
}

/** @example testOpByNumber(2)?.name // 'IOMMU_TEST_OP_MOCK_DOMAIN' */
export function testOpByNumber(op: number, version: KernelVersion = '6.14'): TestOpDef | undefined {
  return TEST_OPS.find((d) => d.op === op && d.versions.includes(version));
}

export function testOpByName(name: string, version: KernelVersion = '6.14'): TestOpDef | undefined {
  return TEST_OPS.find((d) => d.name === name && d.versions.includes(version));
}
