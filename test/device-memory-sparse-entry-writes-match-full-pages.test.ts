import { expect, it } from 'vitest';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { Rng } from '../src/util/rng.ts';
import { expectBytesEqual } from './helpers/bytes.ts';

const PAGE = 4096;
const BLOCK = 32;
const PAGES = 24;
/** A sparse page of 4 KiB with 32-byte blocks: a 192-byte header and chunks of four blocks. */
const HEADER_BYTES = 192;
const CHUNK_BYTES = 4 * BLOCK;
const MAX_SPARSE_BLOCKS = 56;

/**
 * Table entries written one at a time into blocks a sparse page does not hold yet (QED's usual L2
 * update, which has a path of its own) leave the bytes a device of full pages holds, and take
 * the memory the sparse layout promises: one block alone in 32 bytes, then a header and one
 * chunk per four blocks, a full page past 56 blocks. Zero entries into blocks not held store
 * nothing. Clones sharing a page's last chunk each keep their own entries.
 */
it('entries written into new blocks of sparse pages read back as on full pages, at the promised cost', () => {
  const rng = new Rng(99);
  const sparse = new MemoryDevice();
  const full = new MemoryDevice({ compactBytes: 0 });
  const blocks = Array.from({ length: PAGES }, () => new Set<number>());
  const expectedStoredBytes = () => {
    let bytes = 0;
    for (const held of blocks) {
      if (held.size === 0) continue;
      if (held.size === 1) bytes += BLOCK;
      else if (held.size > MAX_SPARSE_BLOCKS) bytes += PAGE;
      else bytes += HEADER_BYTES + Math.ceil(held.size / 4) * CHUNK_BYTES;
    }
    return bytes;
  };
  for (let i = 0; i < 3000; i++) {
    const page = rng.nextInt(PAGES);
    // Pages fill at different rates: some stay sparse, some pass 56 blocks.
    const at = page * PAGE + rng.nextInt(page < 4 ? PAGE / 8 : 24) * 8;
    const entry = new Uint8Array(8);
    if (rng.nextInt(5) !== 0) {
      entry[rng.nextInt(8)] = 1 + rng.nextInt(255);
      blocks[page]?.add(Math.floor((at % PAGE) / BLOCK));
    }
    sparse.write(at, entry, 'l2');
    full.write(at, entry, 'l2');
    if (i % 100 === 0) expect(sparse.storedBytes()).toBe(expectedStoredBytes());
  }
  expect(sparse.storedBytes()).toBe(expectedStoredBytes());
  expectBytesEqual(sparse.toBytes(), full.toBytes());
  for (let at = 0; at < PAGES * PAGE; at += 8) expect(sparse.readU64(at)).toBe(full.readU64(at));

  // A clone shares every chunk: a new block landing in a shared last chunk copies it first.
  const clone = sparse.clone();
  const fullClone = full.clone();
  for (let i = 0; i < 400; i++) {
    const page = 4 + rng.nextInt(PAGES - 4);
    const at = page * PAGE + (24 + rng.nextInt(PAGE / 8 - 24)) * 8;
    const entry = Uint8Array.of(1 + rng.nextInt(255), 0, 0, 0, rng.nextInt(2), 0, 0, 0);
    const [a, b] = rng.nextInt(2) === 0 ? [sparse, full] : [clone, fullClone];
    a.write(at, entry, 'l2');
    b.write(at, entry, 'l2');
  }
  expectBytesEqual(sparse.toBytes(), full.toBytes());
  expectBytesEqual(clone.toBytes(), fullClone.toBytes());
});
