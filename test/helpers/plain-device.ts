import type { BlockDevice } from '../../src/device/types.ts';

/**
 * `device` with only the six BlockDevice methods: no readInto, noteRead or writePatched. Engines
 * take their slow, obviously-right paths on it (fetch every table they read, write whole
 * buffers), which is what the fast paths are compared with.
 */
export function plainBlockDevice(device: BlockDevice): BlockDevice {
  return {
    read: (o, l, k) => device.read(o, l, k),
    write: (o, d, k) => device.write(o, d, k),
    zeroRange: (o, l, k) => device.zeroRange(o, l, k),
    flush: () => device.flush(),
    size: () => device.size(),
    truncate: (s) => device.truncate(s),
  };
}
