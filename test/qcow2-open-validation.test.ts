import { expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { createQcow2, openQcow2 } from '../src/formats/qcow2/qcow2-format.ts';
import { FormatError } from '../src/util/errors.ts';

function image(mutate: (bytes: Uint8Array, view: DataView) => void): MemoryDevice {
  const device = new MemoryDevice();
  createQcow2(device, { sizeBytes: 1 << 30 });
  const bytes = device.toBytes();
  mutate(bytes, new DataView(bytes.buffer));
  return MemoryDevice.fromBytes(bytes);
}

function openError(device: MemoryDevice, readOnly = false): string {
  try {
    openQcow2({ device: new MeteredDevice(device), readOnly, forCheck: false });
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    return (error as Error).message;
  }
  return 'opened';
}

it('qcow2 open refuses bad headers with QEMU messages', () => {
  expect(openError(image((b) => b.set([0, 0, 0, 0], 0)))).toBe('Image is not in qcow2 format');
  expect(openError(image((_, v) => v.setUint32(4, 4)))).toBe('Unsupported qcow2 version 4');
  expect(openError(image((_, v) => v.setUint32(20, 22)))).toBe('Unsupported cluster size: 2^22');
  expect(openError(image((_, v) => v.setUint32(100, 96)))).toBe('qcow2 header too short');
  expect(openError(image((_, v) => v.setUint32(96, 7)))).toBe(
    'Reference count entry width too large; may not exceed 64 bits',
  );
  expect(openError(image((_, v) => v.setUint32(36, 1)))).toBe('L1 table is too small');
  expect(openError(image((_, v) => v.setUint32(56, 0)))).toBe(
    'Image does not contain a reference count table',
  );
  expect(openError(image((_, v) => v.setBigUint64(72, 2n)))).toBe(
    'qcow2: Image is corrupt; cannot be opened read/write',
  );
  expect(
    openError(
      image((_, v) => v.setBigUint64(72, 2n)),
      true,
    ),
  ).toBe('opened');
  expect(openError(image((_, v) => v.setBigUint64(72, 1n << 40n)))).toBe(
    'Unsupported qcow2 feature(s): Unknown incompatible feature: 10000000000',
  );
  expect(openError(image((_, v) => v.setBigUint64(48, 0x10001n)))).toBe(
    'Reference count table offset invalid',
  );
});
