import { UsageError } from '../util/errors.ts';

/** Rejects a guest request that is not whole bytes inside the virtual disk (as qemu-io does). */
export function checkGuestRange(offsetBytes: number, lengthBytes: number, sizeBytes: number): void {
  if (
    !Number.isSafeInteger(offsetBytes) ||
    !Number.isSafeInteger(lengthBytes) ||
    offsetBytes < 0 ||
    lengthBytes < 0 ||
    offsetBytes + lengthBytes > sizeBytes
  ) {
    throw new UsageError(`request ${offsetBytes}+${lengthBytes} is past the end of the image`);
  }
}
