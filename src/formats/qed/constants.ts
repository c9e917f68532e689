/** QED on-disk constants (docs/interop/qed_spec.txt) and QEMU 7.2's limits. */

/** "QED\0" read as a little-endian u32. */
export const QED_MAGIC = 0x00444551;
export const QED_HEADER_BYTES = 64;

export const QED_F_BACKING_FILE = 0x01;
export const QED_F_NEED_CHECK = 0x02;
export const QED_F_BACKING_FORMAT_NO_PROBE = 0x04;
/** Incompatible feature bits QEMU 7.2 understands; any other bit refuses the open. */
export const QED_FEATURE_MASK = 0x07n;
/** No compat or autoclear bits are defined; unknown autoclear bits are cleared on writable opens. */
export const QED_AUTOCLEAR_FEATURE_MASK = 0n;

export const QED_MIN_CLUSTER_BYTES = 4 * 1024;
export const QED_MAX_CLUSTER_BYTES = 64 * 1024 * 1024;
export const QED_DEFAULT_CLUSTER_BYTES = 64 * 1024;
export const QED_MIN_TABLE_CLUSTERS = 1;
export const QED_MAX_TABLE_CLUSTERS = 16;
export const QED_DEFAULT_TABLE_CLUSTERS = 4;

/** L2 entry values that are not offsets. */
export const QED_CLUSTER_UNALLOCATED = 0;
export const QED_CLUSTER_ZERO_MARKER = 1;

/** QEMU's MAX_L2_CACHE_SIZE: whole tables. */
export const QED_L2_CACHE_TABLES = 50;
/** QED_NEED_CHECK_TIMEOUT (5 s) on QEMU_CLOCK_VIRTUAL. */
export const QED_NEED_CHECK_TIMEOUT_NS = 5_000_000_000;

/** BDRV_SECTOR_SIZE: the granularity of QED's partial table and header writes. */
export const SECTOR_BYTES = 512;
