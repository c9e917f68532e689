const EMPTY_KEY = -1;

/**
 * Table offset → cache slot, as an open-addressing hash table in typed arrays (linear probing,
 * backward-shift deletion). A Map keyed by offsets past 2^31 (heap numbers) costs several times
 * more per lookup, and the L2 cache looks up every guest request.
 */
export class OffsetIndex {
  readonly #keys: Float64Array;
  readonly #values: Int32Array;
  readonly #mask: number;

  /** Holds at most `maxEntries` (the cache's slot count): never grows. */
  constructor(maxEntries: number) {
    let capacity = 16;
    while (capacity < maxEntries * 2) capacity *= 2;
    this.#keys = new Float64Array(capacity).fill(EMPTY_KEY);
    this.#values = new Int32Array(capacity);
    this.#mask = capacity - 1;
  }

  /** Slot of `offset`, or -1. */
  get(offset: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    let i = hashIndex(offset, mask);
    for (;;) {
      const k = keys[i];
      if (k === offset) return this.#values[i] as number;
      if (k === EMPTY_KEY) return -1;
      i = (i + 1) & mask;
    }
  }

  set(offset: number, slot: number): void {
    const keys = this.#keys;
    const mask = this.#mask;
    let i = hashIndex(offset, mask);
    for (;;) {
      const k = keys[i];
      if (k === offset || k === EMPTY_KEY) break;
      i = (i + 1) & mask;
    }
    keys[i] = offset;
    this.#values[i] = slot;
  }

  delete(offset: number): void {
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    let i = hashIndex(offset, mask);
    for (;;) {
      const k = keys[i];
      if (k === offset) break;
      if (k === EMPTY_KEY) return;
      i = (i + 1) & mask;
    }
    // Backward-shift: pull later entries of the probe run into the hole when their home allows.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j] as number;
      if (k === EMPTY_KEY) break;
      const home = hashIndex(k, mask);
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys[i] = k;
      values[i] = values[j] as number;
      i = j;
    }
    keys[i] = EMPTY_KEY;
  }
}

function hashIndex(key: number, mask: number): number {
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}
