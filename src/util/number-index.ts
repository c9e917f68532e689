const EMPTY_KEY = -1;
/** `get` of a missing key. */
export const MISSING = -1;

/**
 * Open-addressing hash table (linear probing, backward-shift deletion) from a non-negative
 * integer key (page index, table offset) to an int32 value, in typed arrays: no per-entry heap
 * objects, and keys past 2^31 (offsets beyond 2 GiB, page indexes beyond 8 TiB) cost nothing
 * extra, where a Map keyed by them looks up heap numbers.
 */
export class NumberIndex {
  keys: Float64Array;
  values: Int32Array;
  mask: number;
  size = 0;

  /** `capacity` is a power of two; the table doubles when three quarters full. */
  constructor(capacity = 64) {
    this.keys = new Float64Array(capacity).fill(EMPTY_KEY);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  /** An index that never grows while it holds at most `maxEntries` (a cache's slot count). */
  static withRoomFor(maxEntries: number): NumberIndex {
    let capacity = 16;
    while (capacity < maxEntries * 2) capacity *= 2;
    return new NumberIndex(capacity);
  }

  clone(): NumberIndex {
    const copy = new NumberIndex(1);
    copy.keys = this.keys.slice();
    copy.values = this.values.slice();
    copy.mask = this.mask;
    copy.size = this.size;
    return copy;
  }

  /** The value of `key`, or MISSING. */
  get(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = hashIndex(key, mask);
    for (;;) {
      const k = keys[i];
      if (k === key) return this.values[i] as number;
      if (k === EMPTY_KEY) return MISSING;
      i = (i + 1) & mask;
    }
  }

  set(key: number, value: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = hashIndex(key, mask);
    for (;;) {
      const k = keys[i];
      if (k === key) {
        this.values[i] = value;
        return;
      }
      if (k === EMPTY_KEY) break;
      i = (i + 1) & mask;
    }
    keys[i] = key;
    this.values[i] = value;
    this.size++;
    if (this.size * 4 > (mask + 1) * 3) this.#grow();
  }

  delete(key: number): void {
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let i = hashIndex(key, mask);
    for (;;) {
      const k = keys[i];
      if (k === key) break;
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
    this.size--;
  }

  forEach(callback: (key: number, value: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k !== EMPTY_KEY) callback(k, this.values[i] as number);
    }
  }

  #grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldKeys.length * 2;
    this.keys = new Float64Array(capacity).fill(EMPTY_KEY);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i] as number;
      if (k !== EMPTY_KEY) this.set(k, oldValues[i] as number);
    }
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
