import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimClock } from '../device/clock.ts';
import { FileDevice } from '../device/file-device.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import type { IoRecord } from '../device/types.ts';
import { getDriver, probeDriver } from '../formats/registry.ts';
import type { BackingOpener, ImageFormat } from '../formats/types.ts';
import { LabError } from '../util/errors.ts';
import { checkedVariant } from './commands/variants.ts';

export interface OpenImageOptions {
  /** `-f`; probed from the header when omitted (as qemu-img does). */
  format?: string | undefined;
  readOnly?: boolean;
  forCheck?: boolean;
  clock?: SimClock;
  log?: (record: IoRecord) => void;
  /** Design variant to open with (`--variant`); validated against the driver. */
  variant?: string | undefined;
}

export interface OpenedImage {
  image: ImageFormat;
  device: MeteredDevice;
  clock: SimClock;
  /** Closes the file descriptors (and those of backing files); does not close the image. */
  release(): void;
}

/** Opens an image file through the metered device stack, backing files resolved like QEMU. */
export function openImageFile(filePath: string, options: OpenImageOptions = {}): OpenedImage {
  const clock = options.clock ?? new SimClock();
  const readOnly = options.readOnly ?? false;
  const file = FileDevice.open(filePath, { readOnly });
  const device = new MeteredDevice(file, options.log ? { clock, log: options.log } : { clock });
  const releases: Array<() => void> = [() => file.close()];
  try {
    const driver = options.format ? getDriver(options.format) : probeDriver(file.read(0, 512));
    const variant = checkedVariant(driver.name, options.variant);
    const image = driver.open({
      ...(variant === undefined ? {} : { variant }),
      device,
      readOnly,
      forCheck: options.forCheck ?? false,
      clock,
      openBacking: backingOpener(filePath, clock, releases),
    });
    return {
      image,
      device,
      clock,
      release: () => {
        for (const r of releases) r();
      },
    };
  } catch (error) {
    for (const r of releases) r();
    throw error;
  }
}

/**
 * Backing files open read-only, relative to the overlay's directory, with their own (unlogged)
 * device: the lab, like QEMU's strace comparisons, accounts the overlay's host I/O only.
 */
export function backingOpener(
  overlayPath: string,
  clock: SimClock,
  releases: Array<() => void>,
): BackingOpener {
  return (name, format) => {
    const resolved = path.isAbsolute(name) ? name : path.join(path.dirname(overlayPath), name);
    if (!fs.existsSync(resolved)) {
      throw new LabError(
        'BACKING',
        `Could not open backing file '${name}': No such file or directory`,
      );
    }
    const file = FileDevice.open(resolved, { readOnly: true });
    releases.push(() => file.close());
    const device = new MeteredDevice(file, { clock });
    const driver = format ? getDriver(format) : probeDriver(file.read(0, 512));
    return driver.open({
      device,
      readOnly: true,
      forCheck: false,
      clock,
      openBacking: backingOpener(resolved, clock, releases),
    });
  };
}
