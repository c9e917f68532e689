/** qcow2 on-disk constants (docs/interop/qcow2.txt; QEMU 7.2 limits). */

export const QCOW2_MAGIC = 0x514649fb;
export const QCOW2_V2_HEADER_BYTES = 72;
export const QCOW2_V3_HEADER_BYTES = 112;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
export const DEFAULT_CLUSTER_BITS = 16;
export const DEFAULT_REFCOUNT_ORDER = 4;

export const INCOMPAT_DIRTY = 1;
export const INCOMPAT_CORRUPT = 2;
export const INCOMPAT_DATA_FILE = 4;
export const INCOMPAT_COMPRESSION = 8;
export const INCOMPAT_EXTL2 = 16;
/** The incompatible bits QEMU 7.2 understands. */
export const INCOMPAT_MASK = 0x1f;
/** The ones this lab implements (no external data file, no extended L2). */
export const INCOMPAT_LAB_MASK = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION;
export const COMPAT_LAZY_REFCOUNTS = 1;
export const AUTOCLEAR_BITMAPS = 1;
export const AUTOCLEAR_DATA_FILE_RAW = 2;
export const AUTOCLEAR_MASK = 3;

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

/** QEMU's limits (qcow2.h). */
export const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
export const MAX_L1_BYTES = 32 * 1024 * 1024;
export const MAX_SNAPSHOTS = 65536;
export const MAX_BACKING_NAME_BYTES = 1023;
export const MAX_L2_CACHE_BYTES = 32 * 1024 * 1024;
export const MIN_REFCOUNT_CACHE_CLUSTERS = 4;
export const MIN_L2_CACHE_ENTRIES = 2;
/** 2^32: multiply the high word of a u64 by this. */
export const TWO_32 = 4294967296;

/** Discard pass-through classes (qcow2_discard_type). */
export const DISCARD_NEVER = 0;
export const DISCARD_ALWAYS = 1;
export const DISCARD_REQUEST = 2;
export const DISCARD_SNAPSHOT = 3;
export const DISCARD_OTHER = 4;
export type DiscardType = 0 | 1 | 2 | 3 | 4;

/** Negative errno return codes used where QEMU's control flow depends on them. */
export const EIO = -5;
export const EAGAIN = -11;
export const EINVAL = -22;
export const EFBIG = -27;
export const ENOTSUP = -95;
