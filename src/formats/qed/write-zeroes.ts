/**
 * How QEMU's block layer (bdrv_co_do_pwrite_zeroes) feeds a write-zeroes request to a driver that
 * only accepts cluster-aligned zero writes: an unaligned head up to the first cluster boundary, the
 * aligned bulk in pieces of at most INT_MAX rounded down to the alignment, and an unaligned tail.
 * Unaligned pieces are refused by QED (ENOTSUP) and become ordinary writes of a zero buffer of at
 * most 16 MiB (MAX_BOUNCE_BUFFER). The piece boundaries matter: each piece is a separate QED
 * request, with its own L2 splits.
 */
const INT_MAX = 0x7fffffff;
const MAX_BOUNCE_BUFFER_BYTES = 32768 * 512;

export function splitWriteZeroes(
  offsetBytes: number,
  lengthBytes: number,
  alignmentBytes: number,
  emit: (offsetBytes: number, lengthBytes: number, aligned: boolean) => void,
): void {
  const maxWriteZeroes = Math.floor(INT_MAX / alignmentBytes) * alignmentBytes;
  let head = offsetBytes % alignmentBytes;
  const tail = (offsetBytes + lengthBytes) % alignmentBytes;
  let offset = offsetBytes;
  let bytes = lengthBytes;
  while (bytes > 0) {
    let num = bytes;
    if (head) {
      num = Math.min(bytes, MAX_BOUNCE_BUFFER_BYTES, alignmentBytes - head);
      head = (head + num) % alignmentBytes;
    } else if (tail && num > alignmentBytes) {
      num -= tail;
    }
    if (num > maxWriteZeroes) num = maxWriteZeroes;
    const aligned = offset % alignmentBytes === 0 && num % alignmentBytes === 0;
    if (aligned) {
      emit(offset, num, true);
    } else {
      num = Math.min(num, MAX_BOUNCE_BUFFER_BYTES);
      emit(offset, num, false);
    }
    offset += num;
    bytes -= num;
  }
}
