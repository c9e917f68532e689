import { VolatileCacheDevice } from '../../src/device/volatile-cache-device.ts';

export const PAGE = 4096;

export function block(value: number, length = PAGE): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/**
 * The hand-built sequence the crash-policy tests share:
 * epoch 0 (made durable by a flush): A at 0, B at 4 KiB.
 * epoch 1 (pending): C over A at 0; D at 8 KiB (extends); zero B's page; truncate to 16 KiB.
 */
export function twoEpochDevice(): VolatileCacheDevice {
  const device = new VolatileCacheDevice();
  device.write(0, block(0xa), 'l1');
  device.write(PAGE, block(0xb), 'l2');
  device.flush();
  device.write(0, block(0xc), 'l1');
  device.write(2 * PAGE, block(0xd), 'l2');
  device.zeroRange(PAGE, PAGE, 'zero-fill');
  device.truncate(4 * PAGE);
  return device;
}

/** Expected image of `twoEpochDevice` when exactly the pending ops in `survivors` (issue order) survive. */
export function expectedTwoEpochImage(survivors: readonly number[]): Uint8Array {
  let size = 2 * PAGE;
  let image = new Uint8Array(8 * PAGE);
  image.fill(0xa, 0, PAGE);
  image.fill(0xb, PAGE, 2 * PAGE);
  for (const i of survivors) {
    if (i === 0) image.fill(0xc, 0, PAGE);
    if (i === 1) {
      image.fill(0xd, 2 * PAGE, 3 * PAGE);
      size = Math.max(size, 3 * PAGE);
    }
    if (i === 2) image.fill(0, PAGE, 2 * PAGE);
    if (i === 3) {
      image.fill(0, 4 * PAGE);
      size = 4 * PAGE;
    }
  }
  image = image.slice(0, size);
  return image;
}
