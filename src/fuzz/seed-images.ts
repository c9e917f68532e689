/**
 * The images the fuzzer mutates, made by the lab's own engines (small clusters so a few writes
 * give several tables), and a map of where their metadata lies so mutations hit structures, not
 * guest data. Two per format: one closed cleanly, one left dirty (QED NEED_CHECK set, qcow2 lazy
 * refcounts dirty) so the repair-on-open path is fuzzed too.
 */
import { SimClock } from '../device/clock.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import { getDriver } from '../formats/registry.ts';
import { UsageError } from '../util/errors.ts';

export interface MetadataRegion {
  name: string;
  offsetBytes: number;
  lengthBytes: number;
  /** Table of 8-byte offsets (entry mutations apply); header fields are listed separately. */
  table: boolean;
}

export interface HeaderField {
  name: string;
  offsetBytes: number;
  widthBytes: 4 | 8;
}

export interface SeedImage {
  format: string;
  label: string;
  bytes: MemoryDevice;
  clusterBytes: number;
  littleEndian: boolean;
  regions: MetadataRegion[];
  headerFields: HeaderField[];
}

export const FUZZ_FORMATS = ['qed', 'qcow2'] as const;

const KIB = 1024;
const MIB = 1024 * KIB;
const SIZE_BYTES = 256 * MIB;
const WRITES: ReadonlyArray<readonly [number, number]> = [
  [0, 4 * KIB],
  [64 * KIB, 12 * KIB],
  [9 * MIB, 4 * KIB],
  [20 * MIB + 8 * KIB, 64 * KIB],
  [100 * MIB, 4 * KIB],
  [255 * MIB, 8 * KIB],
];

const QED_FIELDS: HeaderField[] = [
  { name: 'magic', offsetBytes: 0, widthBytes: 4 },
  { name: 'cluster_size', offsetBytes: 4, widthBytes: 4 },
  { name: 'table_size', offsetBytes: 8, widthBytes: 4 },
  { name: 'header_size', offsetBytes: 12, widthBytes: 4 },
  { name: 'features', offsetBytes: 16, widthBytes: 8 },
  { name: 'compat_features', offsetBytes: 24, widthBytes: 8 },
  { name: 'autoclear_features', offsetBytes: 32, widthBytes: 8 },
  { name: 'l1_table_offset', offsetBytes: 40, widthBytes: 8 },
  { name: 'image_size', offsetBytes: 48, widthBytes: 8 },
  { name: 'backing_filename_offset', offsetBytes: 56, widthBytes: 4 },
  { name: 'backing_filename_size', offsetBytes: 60, widthBytes: 4 },
];

const QCOW2_FIELDS: HeaderField[] = [
  { name: 'magic', offsetBytes: 0, widthBytes: 4 },
  { name: 'version', offsetBytes: 4, widthBytes: 4 },
  { name: 'backing_file_offset', offsetBytes: 8, widthBytes: 8 },
  { name: 'backing_file_size', offsetBytes: 16, widthBytes: 4 },
  { name: 'cluster_bits', offsetBytes: 20, widthBytes: 4 },
  { name: 'size', offsetBytes: 24, widthBytes: 8 },
  { name: 'crypt_method', offsetBytes: 32, widthBytes: 4 },
  { name: 'l1_size', offsetBytes: 36, widthBytes: 4 },
  { name: 'l1_table_offset', offsetBytes: 40, widthBytes: 8 },
  { name: 'refcount_table_offset', offsetBytes: 48, widthBytes: 8 },
  { name: 'refcount_table_clusters', offsetBytes: 56, widthBytes: 4 },
  { name: 'nb_snapshots', offsetBytes: 60, widthBytes: 4 },
  { name: 'snapshots_offset', offsetBytes: 64, widthBytes: 8 },
  { name: 'incompatible_features', offsetBytes: 72, widthBytes: 8 },
  { name: 'compatible_features', offsetBytes: 80, widthBytes: 8 },
  { name: 'autoclear_features', offsetBytes: 88, widthBytes: 8 },
  { name: 'refcount_order', offsetBytes: 96, widthBytes: 4 },
  { name: 'header_length', offsetBytes: 100, widthBytes: 4 },
];

export function seedImages(format: string): SeedImage[] {
  switch (format) {
    case 'qed':
      return [qedSeed(true), qedSeed(false)];
    case 'qcow2':
      return [qcow2Seed(true), qcow2Seed(false)];
    default:
      throw new UsageError(`the fuzzer covers ${FUZZ_FORMATS.join(', ')}, not '${format}'`);
  }
}

/** Creates, writes the seed pattern, and closes (clean) or leaves the image dirty. */
function build(format: string, options: Record<string, string>, clean: boolean): MemoryDevice {
  const driver = getDriver(format);
  const bytes = new MemoryDevice();
  driver.create({ device: new MeteredDevice(bytes), sizeBytes: SIZE_BYTES, options });
  const clock = new SimClock();
  const image = driver.open({
    device: new MeteredDevice(bytes, { clock }),
    readOnly: false,
    forCheck: false,
    clock,
  });
  WRITES.forEach(([offset, length], i) => {
    image.write(offset, new Uint8Array(length).fill(0x11 * (i + 1)));
  });
  image.writeZeroes(128 * KIB, 64 * KIB);
  if (clean && image.snapshots) {
    image.snapshots.create('fuzz', { dateSec: 0, dateNsec: 0 });
    image.write(0, new Uint8Array(4 * KIB).fill(0x77));
  }
  image.flush();
  if (clean) image.close();
  return bytes;
}

function qedSeed(clean: boolean): SeedImage {
  const cs = 4 * KIB;
  const bytes = build('qed', { cluster_size: '4k', table_size: '4' }, clean);
  const view = bytes.read(0, 64);
  const dv = new DataView(view.buffer, view.byteOffset, 64);
  const tableBytes = cs * dv.getUint32(8, true);
  const l1 = Number(dv.getBigUint64(40, true));
  const regions: MetadataRegion[] = [
    { name: 'header', offsetBytes: 0, lengthBytes: 64, table: false },
    { name: 'l1', offsetBytes: l1, lengthBytes: tableBytes, table: true },
  ];
  for (const entry of tableEntries(bytes, l1, tableBytes, true)) {
    if (entry !== 0)
      regions.push({ name: 'l2', offsetBytes: entry, lengthBytes: tableBytes, table: true });
  }
  return {
    format: 'qed',
    label: clean ? 'qed-clean' : 'qed-need-check',
    bytes,
    clusterBytes: cs,
    littleEndian: true,
    regions,
    headerFields: QED_FIELDS,
  };
}

function qcow2Seed(clean: boolean): SeedImage {
  const cs = 4 * KIB;
  const options: Record<string, string> = { cluster_size: '4k' };
  if (!clean) options.lazy_refcounts = 'on';
  const bytes = build('qcow2', options, clean);
  const view = bytes.read(0, 104);
  const dv = new DataView(view.buffer, view.byteOffset, 104);
  const l1Size = dv.getUint32(36);
  const l1 = Number(dv.getBigUint64(40));
  const reftable = Number(dv.getBigUint64(48));
  const reftableBytes = dv.getUint32(56) * cs;
  const snapshots = Number(dv.getBigUint64(64));
  const regions: MetadataRegion[] = [
    { name: 'header', offsetBytes: 0, lengthBytes: 104, table: false },
    { name: 'l1', offsetBytes: l1, lengthBytes: l1Size * 8, table: true },
    { name: 'reftable', offsetBytes: reftable, lengthBytes: reftableBytes, table: true },
  ];
  const mask = (v: number) => (Math.floor(v / 512) * 512) % 2 ** 56;
  for (const entry of tableEntries(bytes, l1, l1Size * 8, false)) {
    const offset = mask(entry);
    if (offset !== 0)
      regions.push({ name: 'l2', offsetBytes: offset, lengthBytes: cs, table: true });
  }
  for (const entry of tableEntries(bytes, reftable, reftableBytes, false)) {
    if (entry !== 0)
      regions.push({ name: 'refblock', offsetBytes: entry, lengthBytes: cs, table: false });
  }
  if (snapshots !== 0) {
    regions.push({
      name: 'snapshot-table',
      offsetBytes: snapshots,
      lengthBytes: 128,
      table: false,
    });
  }
  return {
    format: 'qcow2',
    label: clean ? 'qcow2-clean-snapshot' : 'qcow2-lazy-dirty',
    bytes,
    clusterBytes: cs,
    littleEndian: false,
    regions,
    headerFields: QCOW2_FIELDS,
  };
}

/** The 8-byte entries of a table as numbers (values above 2^53 lose low bits; fine for offsets). */
function tableEntries(
  bytes: MemoryDevice,
  offset: number,
  lengthBytes: number,
  littleEndian: boolean,
): number[] {
  const data = bytes.read(offset, lengthBytes);
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const out: number[] = [];
  for (let i = 0; i + 8 <= data.length; i += 8) out.push(Number(dv.getBigUint64(i, littleEndian)));
  return out;
}
