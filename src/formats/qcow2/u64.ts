/**
 * Big-endian u64 fields as two u32 halves: qcow2 packs flags into bits 62/63 and offsets into
 * bits 9..55, which a JS number cannot hold at once. Offsets themselves fit in 2^53.
 */

export function readU32(buf: Uint8Array, pos: number): number {
  return (
    (((buf[pos] as number) << 24) |
      ((buf[pos + 1] as number) << 16) |
      ((buf[pos + 2] as number) << 8) |
      (buf[pos + 3] as number)) >>>
    0
  );
}

export function writeU32(buf: Uint8Array, pos: number, value: number): void {
  buf[pos] = value >>> 24;
  buf[pos + 1] = (value >>> 16) & 0xff;
  buf[pos + 2] = (value >>> 8) & 0xff;
  buf[pos + 3] = value & 0xff;
}

export function readU16(buf: Uint8Array, pos: number): number {
  return ((buf[pos] as number) << 8) | (buf[pos + 1] as number);
}

export function writeU16(buf: Uint8Array, pos: number, value: number): void {
  buf[pos] = (value >>> 8) & 0xff;
  buf[pos + 1] = value & 0xff;
}

/** A u64 as a number; exact below 2^53 (every offset and size the lab handles). */
export function readU64(buf: Uint8Array, pos: number): number {
  return readU32(buf, pos) * 4294967296 + readU32(buf, pos + 4);
}

export function writeU64(buf: Uint8Array, pos: number, value: number): void {
  const hi = Math.floor(value / 4294967296);
  writeU32(buf, pos, hi >>> 0);
  writeU32(buf, pos + 4, (value - hi * 4294967296) >>> 0);
}

/** 64-bit values that may exceed 2^53 (feature bitmaps, icount = -1). */
export function readU64Big(buf: Uint8Array, pos: number): bigint {
  return (BigInt(readU32(buf, pos)) << 32n) | BigInt(readU32(buf, pos + 4));
}

export function writeU64Big(buf: Uint8Array, pos: number, value: bigint): void {
  writeU32(buf, pos, Number((value >> 32n) & 0xffffffffn));
  writeU32(buf, pos + 4, Number(value & 0xffffffffn));
}

/** C's `%#x`/`%#" PRIx64`: "0x…", except that zero prints as plain "0". */
export function cHex(value: number): string {
  return value === 0 ? '0' : `0x${value.toString(16)}`;
}
