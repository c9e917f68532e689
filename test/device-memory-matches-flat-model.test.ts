import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { zeroBytes } from '../src/device/types.ts';
import { Rng } from '../src/util/rng.ts';
import { expectBytesEqual } from './helpers/bytes.ts';

/** A plain growable byte array: the obviously-correct device the sparse one must match. */
class FlatModel {
  bytes = new Uint8Array(0);
  sizeBytes = 0;
  #ensure(end: number): void {
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
  }
  write(offset: number, data: Uint8Array): void {
    this.#ensure(offset + data.length);
    this.bytes.set(data, offset);
    this.sizeBytes = Math.max(this.sizeBytes, offset + data.length);
  }
  zero(offset: number, length: number): void {
    this.#ensure(offset + length);
    this.bytes.fill(0, offset, offset + length);
    this.sizeBytes = Math.max(this.sizeBytes, offset + length);
  }
  truncate(size: number): void {
    this.#ensure(size);
    if (size < this.sizeBytes) this.bytes.fill(0, size, this.sizeBytes);
    this.sizeBytes = size;
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const end = Math.min(offset + length, this.bytes.length);
    if (end > offset) out.set(this.bytes.subarray(offset, end));
    return out;
  }
  clone(): FlatModel {
    const copy = new FlatModel();
    copy.bytes = this.bytes.slice();
    copy.sizeBytes = this.sizeBytes;
    return copy;
  }
}

function randomOp(rng: Rng, device: MemoryDevice, model: FlatModel, spanBytes: number): void {
  const choice = rng.nextInt(100);
  const offset = rng.nextInt(spanBytes);
  const length = 1 + rng.nextInt(rng.nextInt(4) === 0 ? 20_000 : 600);
  if (choice < 55) {
    const data = new Uint8Array(length);
    // Some writes are all zeros (they must free or skip pages), some patterned.
    if (rng.nextInt(4) !== 0) for (let i = 0; i < length; i++) data[i] = rng.nextInt(256);
    device.write(offset, data, 'l2');
    model.write(offset, data);
  } else if (choice < 65) {
    device.write(offset, zeroBytes(length), 'zero-fill');
    model.write(offset, new Uint8Array(length));
  } else if (choice < 85) {
    device.zeroRange(offset, length, 'data');
    model.zero(offset, length);
  } else if (choice < 90) {
    const size = rng.nextInt(spanBytes);
    device.truncate(size);
    model.truncate(size);
  } else {
    const readLength = rng.nextInt(9000);
    expectBytesEqual(device.read(offset, readLength, 'l1'), model.read(offset, readLength));
  }
}

describe('MemoryDevice matches a flat byte array under random operations', () => {
  it.each([512, 4096])(
    'page size %d: contents, size and clones agree after 4,000 ops',
    (pageBytes) => {
      const rng = new Rng(pageBytes);
      const spanBytes = 256 * 1024;
      let device = new MemoryDevice({ pageBytes });
      let model = new FlatModel();
      const clones: Array<[MemoryDevice, FlatModel]> = [];
      for (let step = 0; step < 4000; step++) {
        randomOp(rng, device, model, spanBytes);
        if (step % 500 === 250) {
          // Both the clone and the original keep changing: copy-on-write must keep them apart.
          clones.push([device.clone(), model.clone()]);
          if (rng.nextInt(2) === 0) {
            const [d, m] = clones[clones.length - 1] as [MemoryDevice, FlatModel];
            clones[clones.length - 1] = [device, model];
            device = d;
            model = m;
          }
        }
        if (step % 97 === 0 && clones.length > 0) {
          const [d, m] = clones[rng.nextInt(clones.length)] as [MemoryDevice, FlatModel];
          randomOp(rng, d, m, spanBytes);
        }
      }
      for (const [d, m] of [[device, model] as const, ...clones]) {
        expect(d.size()).toBe(m.sizeBytes);
        expectBytesEqual(d.toBytes(), m.read(0, m.sizeBytes), 'image');
        // Memory holds only pages with a non-zero byte.
        let nonZeroPages = 0;
        for (let p = 0; p * pageBytes < m.sizeBytes; p++) {
          const page = m.bytes.subarray(p * pageBytes, (p + 1) * pageBytes);
          if (page.findIndex((b) => b !== 0) >= 0) nonZeroPages++;
        }
        expect(d.storedPages()).toBeGreaterThanOrEqual(nonZeroPages);
      }
    },
  );
});
