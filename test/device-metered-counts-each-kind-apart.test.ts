import { expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KINDS } from '../src/device/types.ts';

/**
 * Every op the metered device counts lands under its own kind and no other: each kind gets a
 * different number of ops and bytes of every op type (read, readInto, noteRead, write,
 * writePatched, zeroRange), and the snapshot must give each kind back exactly its own.
 */
it('counts every op type under its own kind, for every kind', () => {
  const device = new MeteredDevice(new MemoryDevice());
  IO_KINDS.forEach((kind, k) => {
    const ops = k + 1;
    for (let i = 0; i < ops; i++) {
      const at = (k * 16 + i) * 4096;
      device.read(at, 512 + k, kind);
      device.readInto(at, new Uint8Array(256 + k), kind);
      device.noteRead(at, 128 + k, kind);
      device.write(at, new Uint8Array(64 + k).fill(1), kind);
      device.writePatched(at, 1024 + k, { base: 'zero', patches: [] }, kind);
      device.zeroRange(at, 2048 + k, kind);
    }
  });
  const counts = device.counters.snapshot();
  IO_KINDS.forEach((kind, k) => {
    const ops = k + 1;
    expect(counts.read[kind], kind).toEqual({
      ops: 3 * ops,
      bytes: ops * (512 + k + 256 + k + 128 + k),
    });
    expect(counts.write[kind], kind).toEqual({ ops: 2 * ops, bytes: ops * (64 + k + 1024 + k) });
    expect(counts.zero[kind], kind).toEqual({ ops, bytes: ops * (2048 + k) });
  });
});
