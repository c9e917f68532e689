/**
 * Which slot of a metadata cache holds the table at a given offset: a hash table chained through
 * the slots themselves (each slot is in at most one chain), in typed arrays.
 *
 * A general hash map spreads a new L2 table's sixteen consecutive slices over its whole key array,
 * and its deletion shifts entries back with a rehash each; on a 1 PiB image, where every guest
 * write allocates a table, that bookkeeping was a quarter of the run. Here a slice's bucket is its
 * table number with higher bits folded in: consecutive tables take consecutive buckets (a chain of
 * one, neighbours in memory), large power-of-two strides still spread, and a removal unlinks the
 * slot from a chain of one or two.
 */
export class SlotIndex {
  /** 1 / table bytes: a table size is a power of two, so multiplying is exact (and no division). */
  readonly #perTableByte: number;
  readonly #mask: number;
  /** First slot of each bucket's chain, or -1. */
  readonly #heads: Int32Array;
  /** Next slot in the same chain, or -1. */
  readonly #next: Int32Array;
  /** The offset each slot is indexed under; -1 when it is in no chain. */
  readonly #keys: Float64Array;

  constructor(slots: number, tableBytes: number) {
    this.#perTableByte = 1 / tableBytes;
    let buckets = 16;
    while (buckets < slots * 2) buckets *= 2;
    this.#mask = buckets - 1;
    this.#heads = new Int32Array(buckets).fill(-1);
    this.#next = new Int32Array(slots).fill(-1);
    this.#keys = new Float64Array(slots).fill(-1);
  }

  /** The slot holding `offset`, or -1. */
  get(offset: number): number {
    const keys = this.#keys;
    let slot = this.#heads[this.#bucketOf(offset)] as number;
    while (slot >= 0 && keys[slot] !== offset) slot = this.#next[slot] as number;
    return slot;
  }

  /** Indexes `slot` under `offset` (the slot must be in no chain, the offset in no slot). */
  set(offset: number, slot: number): void {
    const bucket = this.#bucketOf(offset);
    this.#keys[slot] = offset;
    this.#next[slot] = this.#heads[bucket] as number;
    this.#heads[bucket] = slot;
  }

  /** Takes `slot` out of its chain, if it is in one. */
  delete(slot: number): void {
    const offset = this.#keys[slot] as number;
    if (offset < 0) return;
    const bucket = this.#bucketOf(offset);
    const after = this.#next[slot] as number;
    let at = this.#heads[bucket] as number;
    if (at === slot) {
      this.#heads[bucket] = after;
    } else {
      while ((this.#next[at] as number) !== slot) at = this.#next[at] as number;
      this.#next[at] = after;
    }
    this.#next[slot] = -1;
    this.#keys[slot] = -1;
  }

  #bucketOf(offset: number): number {
    const table = offset * this.#perTableByte;
    // Offsets below 2^31 tables (8 TiB of 4 KiB slices) in int32; past that, any 31 bits will do.
    const t = table < 0x80000000 ? table | 0 : (table % 0x80000000) | 0;
    return (t ^ (t >>> 14) ^ (t >>> 28)) & this.#mask;
  }
}
