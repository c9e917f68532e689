import { TWO_32 } from './constants.ts';
import { readU32, writeU32 } from './u64.ts';

/**
 * L1 and L2 entry codecs. Entries are big-endian u64 in a table buffer; these helpers read the two
 * halves in place so the hot path allocates nothing.
 *
 * L1: bits 9..55 L2 offset, bit 63 COPIED, reserved 0x7f000000000001ff.
 * L2 (standard): bit 0 ZERO, bits 9..55 host offset, bit 62 COMPRESSED, bit 63 COPIED,
 * reserved 0x3f000000000001fe.
 */

export const HI_COPIED = 0x80000000;
export const HI_COMPRESSED = 0x40000000;
const HI_OFFSET_MASK = 0x00ffffff;
const LO_OFFSET_MASK = 0xfffffe00;
export const L1_HI_RESERVED = 0x7f000000;
export const L1_LO_RESERVED = 0x1ff;
export const L2_HI_RESERVED = 0x3f000000;
export const L2_LO_RESERVED = 0x1fe;

export enum ClusterType {
  Unallocated = 0,
  ZeroPlain = 1,
  ZeroAlloc = 2,
  Normal = 3,
  Compressed = 4,
}

export function entryHi(table: Uint8Array, index: number): number {
  return readU32(table, index * 8);
}

export function entryLo(table: Uint8Array, index: number): number {
  return readU32(table, index * 8 + 4);
}

/** Bits 9..55: the host (L2) or table (L1) offset. */
export function entryOffset(table: Uint8Array, index: number): number {
  const pos = index * 8;
  return (
    (readU32(table, pos) & HI_OFFSET_MASK) * TWO_32 +
    ((readU32(table, pos + 4) & LO_OFFSET_MASK) >>> 0)
  );
}

export function entryCopied(table: Uint8Array, index: number): boolean {
  return ((table[index * 8] as number) & 0x80) !== 0;
}

export function entryIsZero(table: Uint8Array, index: number): boolean {
  return (table[index * 8] as number) === 0 && readU32(table, index * 8 + 4) === 0;
}

/** Writes `offset` (cluster aligned) with optional COPIED and ZERO flags. */
export function setEntry(
  table: Uint8Array,
  index: number,
  offset: number,
  copied: boolean,
  zeroFlag = false,
): void {
  const hi = Math.floor(offset / TWO_32);
  const lo = offset - hi * TWO_32;
  writeU32(table, index * 8, ((copied ? HI_COPIED : 0) | hi) >>> 0);
  writeU32(table, index * 8 + 4, (lo | (zeroFlag ? 1 : 0)) >>> 0);
}

export function setEntryRaw(table: Uint8Array, index: number, hi: number, lo: number): void {
  writeU32(table, index * 8, hi >>> 0);
  writeU32(table, index * 8 + 4, lo >>> 0);
}

export function clusterTypeOf(hi: number, lo: number): ClusterType {
  if (hi & HI_COMPRESSED) return ClusterType.Compressed;
  const hasOffset = (hi & HI_OFFSET_MASK) !== 0 || (lo & LO_OFFSET_MASK) !== 0;
  if (lo & 1) return hasOffset ? ClusterType.ZeroAlloc : ClusterType.ZeroPlain;
  return hasOffset ? ClusterType.Normal : ClusterType.Unallocated;
}

export function offsetOf(hi: number, lo: number): number {
  return (hi & HI_OFFSET_MASK) * TWO_32 + ((lo & LO_OFFSET_MASK) >>> 0);
}

export function clusterType(table: Uint8Array, index: number): ClusterType {
  return clusterTypeOf(entryHi(table, index), entryLo(table, index));
}

/** A compressed descriptor: host byte offset and stored length (may span into the next cluster). */
export interface CompressedDescriptor {
  hostOffsetBytes: number;
  storedBytes: number;
}

/** Decodes bit 62 entries: x = 62 − (cluster_bits − 8) offset bits, then additional sectors. */
export function decodeCompressed(
  hi: number,
  lo: number,
  clusterBits: number,
): CompressedDescriptor {
  const x = 62 - (clusterBits - 8);
  const value = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
  const offsetMask = (1n << BigInt(x)) - 1n;
  const hostOffsetBytes = Number(value & offsetMask);
  const sectors = Number(value >> BigInt(x));
  return { hostOffsetBytes, storedBytes: (sectors + 1) * 512 - (hostOffsetBytes & 511) };
}
