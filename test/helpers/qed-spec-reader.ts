/**
 * An independent reader of QED images written from docs/interop/qed_spec.txt alone (no engine
 * code): the oracle for geometries QEMU cannot open (table_size = 1).
 */
export interface SpecImage {
  clusterSize: number;
  tableSize: number;
  headerSize: number;
  features: number;
  l1Offset: number;
  imageSize: number;
  /** Guest bytes at `offset` as the spec defines them (no backing file: unallocated reads zero). */
  read(offset: number, length: number): Uint8Array;
  /** Every data cluster offset referenced by the L2 tables, and every L2 table offset. */
  dataClusters(): number[];
  l2Tables(): number[];
}

export function readSpecImage(bytes: Uint8Array): SpecImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  if (view.getUint32(0, true) !== 0x00444551) throw new Error('bad magic');
  const clusterSize = view.getUint32(4, true);
  const tableSize = view.getUint32(8, true);
  const headerSize = view.getUint32(12, true);
  const features = u64(16);
  const l1Offset = u64(40);
  const imageSize = u64(48);
  const entries = (tableSize * clusterSize) / 8;
  const entryAt = (tableOffset: number, index: number) =>
    tableOffset + index * 8 + 8 <= bytes.length ? u64(tableOffset + index * 8) : 0;
  const l2Tables = () => {
    const out: number[] = [];
    for (let i = 0; i < entries; i++) {
      const e = entryAt(l1Offset, i);
      if (e !== 0) out.push(e);
    }
    return out;
  };
  return {
    clusterSize,
    tableSize,
    headerSize,
    features,
    l1Offset,
    imageSize,
    read(offset, length) {
      const out = new Uint8Array(length);
      for (let pos = offset; pos < offset + length; ) {
        const clusterIndex = Math.floor(pos / clusterSize);
        const l1Index = Math.floor(clusterIndex / entries);
        const l2Index = clusterIndex % entries;
        const inCluster = pos % clusterSize;
        const n = Math.min(clusterSize - inCluster, offset + length - pos);
        const l2 = entryAt(l1Offset, l1Index);
        const data = l2 === 0 ? 0 : entryAt(l2, l2Index);
        if (data > 1) out.set(bytes.subarray(data + inCluster, data + inCluster + n), pos - offset);
        pos += n;
      }
      return out;
    },
    l2Tables,
    dataClusters() {
      const out: number[] = [];
      for (const l2 of l2Tables()) {
        for (let i = 0; i < entries; i++) {
          const e = entryAt(l2, i);
          if (e > 1) out.push(e);
        }
      }
      return out;
    },
  };
}
