import { readU64, writeU64 } from './u64.ts';

/** Refcount table entry: bits 9..63 refblock offset, bits 0..8 reserved. */
const REFT_RESERVED = 0x1ff;

/** 512 zero entries (4 KiB): unused reftable space, skipped with one memcmp. */
const ZERO_BLOCK_ENTRIES = 512;
const ZERO_BLOCK = Buffer.alloc(ZERO_BLOCK_ENTRIES * 8);

/** Bytes [startBytes, startBytes + 4 KiB) of `bytes` exist and are all zero. */
function zeroBlockAt(whole: Buffer, startBytes: number): boolean {
  const endBytes = startBytes + ZERO_BLOCK.length;
  return (
    endBytes <= whole.length &&
    whole.compare(ZERO_BLOCK, 0, ZERO_BLOCK.length, startBytes, endBytes) === 0
  );
}

/**
 * The reftable's entries as refblock offsets. Most of a reftable is unused (zeros): 512 of them
 * at a time are skipped with a memcmp, since the loop runs at open, before its code is
 * optimised, where decoding each of a default image's 8,192 entries took about 10 ms.
 */
export function parseRefcountTable(bytes: Uint8Array, entries: number): Float64Array {
  const table = new Float64Array(entries);
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < entries; i++) {
    if (
      i % ZERO_BLOCK_ENTRIES === 0 &&
      i + ZERO_BLOCK_ENTRIES <= entries &&
      zeroBlockAt(whole, i * 8)
    ) {
      i += ZERO_BLOCK_ENTRIES - 1;
      continue;
    }
    const raw = readU64(bytes, i * 8);
    table[i] = raw - (raw % 512 === 0 ? 0 : raw % 512);
  }
  return table;
}

/**
 * The index of the last non-zero entry among the first `size` of `table`, or 0: from the end,
 * skipping blocks of 512 zero entries with a memcmp each (see parseRefcountTable).
 */
export function lastNonZeroIndex(table: Float64Array, size: number): number {
  const whole = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  let i = size - 1;
  while (i > 0) {
    const blockStart = i - (ZERO_BLOCK_ENTRIES - 1);
    if (blockStart > 0 && zeroBlockAt(whole, blockStart * 8)) {
      i = blockStart - 1;
      continue;
    }
    if (table[i] !== 0) break;
    i--;
  }
  return i;
}

/** Raw entries including reserved bits, for check. */
export function refcountTableReservedBits(bytes: Uint8Array, index: number): number {
  return (
    (bytes[index * 8 + 7] as number) |
    ((((bytes[index * 8 + 6] as number) & 1) << 8) & REFT_RESERVED)
  );
}

export function serializeRefcountTable(table: Float64Array, entries: number): Uint8Array {
  const bytes = new Uint8Array(entries * 8);
  const n = Math.min(entries, table.length);
  for (let i = 0; i < n; i++) writeU64(bytes, i * 8, table[i] as number);
  return bytes;
}

/**
 * qcow2_refcount_metadata_size: refblocks and reftable clusters needed to cover `clusters` plus
 * themselves, by fixed-point iteration; `generous` adds half the table once, as QEMU does when the
 * table grows (not exact).
 */
export function refcountMetadataSize(
  clusters: number,
  clusterSize: number,
  refcountOrder: number,
  generous: boolean,
): { bytes: number; refblocks: number; tableClusters: number } {
  const blocksPerTableCluster = clusterSize / 8;
  const refcountsPerBlock = (clusterSize * 8) / 2 ** refcountOrder;
  let table = 0;
  let blocks = 0;
  let n = 0;
  let last: number;
  let total = clusters;
  let generousLeft = generous;
  do {
    last = n;
    blocks = Math.ceil((total + table + blocks) / refcountsPerBlock);
    table = Math.ceil(blocks / blocksPerTableCluster);
    n = total + blocks + table;
    if (n === last && generousLeft) {
      total += Math.ceil(table / 2);
      n = 0;
      generousLeft = false;
    }
  } while (n !== last);
  return { bytes: (blocks + table) * clusterSize, refblocks: blocks, tableClusters: table };
}
