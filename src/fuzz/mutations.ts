/**
 * Seeded mutations of an image's metadata. Each names what it did (the fuzzer counts outcomes per
 * mutation kind and prints a reproducer line for anything that is not a clean LabError):
 *
 * - `bit-flip`: one bit anywhere in a metadata region;
 * - `field-*`: a header field set to 0, all ones, a huge value, just past EOF, or a random value;
 * - `entry-past-eof`, `entry-self`, `entry-overlap`, `entry-header`, `entry-unaligned`,
 *   `entry-huge`, `entry-duplicate`: one table entry pointed somewhere wrong (past the end of the
 *   file, at its own table, at another table, at the header, off alignment, at 2^62, at what
 *   another entry of the same table maps: a double reference);
 * - `spray`: random bytes over part of a region;
 * - `truncate`: the file cut short inside its metadata.
 */
import type { MemoryDevice } from '../device/memory-device.ts';
import type { Rng } from '../util/rng.ts';
import type { MetadataRegion, SeedImage } from './seed-images.ts';

export const MUTATION_KINDS = [
  'bit-flip',
  'field-zero',
  'field-ones',
  'field-huge',
  'field-past-eof',
  'field-random',
  'entry-past-eof',
  'entry-self',
  'entry-overlap',
  'entry-header',
  'entry-unaligned',
  'entry-huge',
  'entry-duplicate',
  'spray',
  'truncate',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface AppliedMutation {
  kind: MutationKind;
  /** e.g. `l2@1187840 entry 3 := 9437184`. */
  detail: string;
}

/** Applies one seeded mutation to `device` (a clone of the seed's bytes). */
export function mutate(seed: SeedImage, device: MemoryDevice, rng: Rng): AppliedMutation {
  const kind = MUTATION_KINDS[rng.nextInt(MUTATION_KINDS.length)] as MutationKind;
  const fileBytes = device.size();
  const cs = seed.clusterBytes;
  switch (kind) {
    case 'bit-flip': {
      const region = pick(rng, seed.regions);
      const at = region.offsetBytes + rng.nextInt(region.lengthBytes);
      const bit = rng.nextInt(8);
      const b = device.read(at, 1);
      b[0] = (b[0] as number) ^ (1 << bit);
      device.write(at, b);
      return { kind, detail: `${region.name} byte ${at} bit ${bit}` };
    }
    case 'field-zero':
    case 'field-ones':
    case 'field-huge':
    case 'field-past-eof':
    case 'field-random': {
      const field = pick(rng, seed.headerFields);
      const max = field.widthBytes === 4 ? 0xffffffffn : 0xffffffffffffffffn;
      let value: bigint;
      if (kind === 'field-zero') value = 0n;
      else if (kind === 'field-ones') value = max;
      else if (kind === 'field-huge') value = field.widthBytes === 4 ? 0x80000000n : 1n << 62n;
      else if (kind === 'field-past-eof') value = BigInt(fileBytes + cs * rng.nextInt(4)) & max;
      else
        value =
          BigInt(rng.nextU32()) | (field.widthBytes === 8 ? BigInt(rng.nextU32()) << 32n : 0n);
      writeInt(device, field.offsetBytes, field.widthBytes, value, seed.littleEndian);
      return { kind, detail: `header ${field.name} := ${value}` };
    }
    case 'spray': {
      const region = pick(rng, seed.regions);
      const start = region.offsetBytes + rng.nextInt(region.lengthBytes);
      const length = Math.min(1 + rng.nextInt(64), region.offsetBytes + region.lengthBytes - start);
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) bytes[i] = rng.nextInt(256);
      device.write(start, bytes);
      return { kind, detail: `${region.name} ${length} random bytes at ${start}` };
    }
    case 'truncate': {
      const region = pick(rng, seed.regions);
      const size = region.offsetBytes + rng.nextInt(region.lengthBytes);
      device.truncate(size);
      return { kind, detail: `file truncated to ${size} (inside ${region.name})` };
    }
    default:
      return mutateEntry(kind, seed, device, rng);
  }
}

function mutateEntry(
  kind: MutationKind,
  seed: SeedImage,
  device: MemoryDevice,
  rng: Rng,
): AppliedMutation {
  const tables = seed.regions.filter((r) => r.table);
  const table = pick(rng, tables);
  const entries = table.lengthBytes / 8;
  // Prefer entries in use: most of a table is zeros, and a used entry is what the engine walks.
  const used: number[] = [];
  const bytes = device.read(table.offsetBytes, table.lengthBytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < entries && used.length < 64; i++) {
    if (view.getUint32(i * 8, true) !== 0 || view.getUint32(i * 8 + 4, true) !== 0) used.push(i);
  }
  const index = used.length > 0 && rng.nextInt(4) > 0 ? pick(rng, used) : rng.nextInt(entries);
  const cs = seed.clusterBytes;
  const flags = seed.format === 'qcow2' ? 1n << 63n : 0n; // keep qcow2's COPIED bit plausible
  let value: bigint;
  switch (kind) {
    case 'entry-past-eof':
      value = BigInt(Math.ceil(device.size() / cs) * cs + cs * rng.nextInt(8)) | flags;
      break;
    case 'entry-self':
      value = BigInt(table.offsetBytes) | flags;
      break;
    case 'entry-overlap': {
      const other = pick(rng, seed.regions);
      value = BigInt(Math.floor(other.offsetBytes / cs) * cs) | flags;
      break;
    }
    case 'entry-header':
      value = flags;
      break;
    case 'entry-unaligned':
      value = BigInt(cs * (1 + rng.nextInt(64)) + 512 * (1 + rng.nextInt(3))) | flags;
      break;
    case 'entry-huge':
      value = (1n << 62n) | BigInt(cs);
      break;
    default: {
      const from = used.length > 0 ? pick(rng, used) : 0;
      value = readInt(device, table.offsetBytes + from * 8, 8, seed.littleEndian);
      break;
    }
  }
  writeInt(device, table.offsetBytes + index * 8, 8, value, seed.littleEndian);
  return { kind, detail: `${table.name}@${table.offsetBytes} entry ${index} := ${value}` };
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.nextInt(items.length)] as T;
}

function readInt(device: MemoryDevice, at: number, width: 4 | 8, le: boolean): bigint {
  const b = device.read(at, width);
  const dv = new DataView(b.buffer, b.byteOffset, width);
  return width === 4 ? BigInt(dv.getUint32(0, le)) : dv.getBigUint64(0, le);
}

function writeInt(
  device: MemoryDevice,
  at: number,
  width: 4 | 8,
  value: bigint,
  le: boolean,
): void {
  const b = new Uint8Array(width);
  const dv = new DataView(b.buffer);
  if (width === 4) dv.setUint32(0, Number(value & 0xffffffffn), le);
  else dv.setBigUint64(0, value & 0xffffffffffffffffn, le);
  device.write(at, b);
}

export type { MetadataRegion };
