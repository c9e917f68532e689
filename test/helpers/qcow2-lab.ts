import { FileDevice } from '../../src/device/file-device.ts';
import { MeteredDevice } from '../../src/device/metered-device.ts';
import type { IoRecord } from '../../src/device/types.ts';
import {
  createQcow2,
  openQcow2,
  parseQcow2CreateOptions,
} from '../../src/formats/qcow2/qcow2-format.ts';
import type { Qcow2Image } from '../../src/formats/qcow2/qcow2-image.ts';
import type { ImageFormat } from '../../src/formats/types.ts';

/** Creates a qcow2 image file through the lab (like `qemu-img create -f qcow2 -o ...`). */
export function labCreate(
  path: string,
  sizeBytes: number,
  options: Record<string, string> = {},
): void {
  const device = FileDevice.create(path);
  try {
    createQcow2(device, parseQcow2CreateOptions(sizeBytes, options));
  } finally {
    device.close();
  }
}

export interface LabSession {
  image: Qcow2Image;
  log: IoRecord[];
  device: MeteredDevice;
  close(): void;
  /** `abort`: drop the process without closing (caches are lost). */
  abort(): void;
}

/** Opens an image file through the lab's metered stack, logging host I/O. */
export function labOpen(
  path: string,
  options: { readOnly?: boolean; forCheck?: boolean; discardUnmap?: boolean } = {},
): LabSession {
  const file = FileDevice.open(path, { readOnly: options.readOnly ?? false });
  const log: IoRecord[] = [];
  const device = new MeteredDevice(file, { log: (r) => log.push(r) });
  const image = openQcow2({
    device,
    readOnly: options.readOnly ?? false,
    forCheck: options.forCheck ?? false,
    discardUnmap: options.discardUnmap ?? true,
  });
  return {
    image,
    log,
    device,
    close() {
      image.close();
      file.close();
    },
    abort() {
      file.close();
    },
  };
}

/** One qemu-io command applied to the lab image (the subset the comparison scripts use). */
export function applyCommand(image: ImageFormat, command: string): void {
  const parts = command.trim().split(/\s+/);
  const op = parts[0];
  const num = (s: string | undefined) => parseSize(s ?? '0');
  if (op === 'write') {
    let pattern = 0xcd;
    let zero = false;
    let unmap = false;
    const args: string[] = [];
    for (let i = 1; i < parts.length; i++) {
      const p = parts[i] as string;
      if (p === '-P') pattern = Number(parts[++i]);
      else if (p === '-z') zero = true;
      else if (p === '-u') unmap = true;
      else args.push(p);
    }
    const offset = num(args[0]);
    const length = num(args[1]);
    if (zero) image.writeZeroes(offset, length, { mayUnmap: unmap });
    else image.write(offset, new Uint8Array(length).fill(pattern));
  } else if (op === 'discard') {
    image.discard(num(parts[1]), num(parts[2]));
  } else if (op === 'flush') {
    image.flush();
  } else {
    throw new Error(`unsupported command ${command}`);
  }
}

export function parseSize(text: string): number {
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] as number;
  return Number(m[1]) * mult;
}
