import { readU64, writeU64 } from './u64.ts';

/** Refcount table entry: bits 9..63 refblock offset, bits 0..8 reserved. */
const REFT_RESERVED = 0x1ff;

export function parseRefcountTable(bytes: Uint8Array, entries: number): Float64Array {
  const table = new Float64Array(entries);
  for (let i = 0; i < entries; i++) {
    const raw = readU64(bytes, i * 8);
    table[i] = raw - (raw % 512 === 0 ? 0 : raw % 512);
  }
  return table;
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
