import { QED_L2_CACHE_TABLES } from './constants.ts';

/**
 * QEMU's QED L2 cache: up to 50 whole tables, clean copies only (table updates are written
 * through at once). Entries live in insertion order and a lookup does not reorder them, so
 * eviction is FIFO, not LRU.
 *
 * QEMU reference-counts entries and evicts from the head only entries nobody but the cache holds.
 * In this synchronous engine a request drops its table before loading the next one (as QEMU's
 * qed_read_l2_table does), so at insertion time the cache is the only holder of every entry and
 * eviction always takes the head: the same choice QEMU makes for one request at a time.
 */
export class L2Cache {
  readonly capacity: number;
  // Map iterates in insertion order: exactly QEMU's tail-queue.
  readonly #tables = new Map<number, Float64Array>();
  #lastOffset = -1;
  #lastTable: Float64Array | undefined;
  hits = 0;
  misses = 0;

  constructor(capacity = QED_L2_CACHE_TABLES) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#tables.size;
  }

  find(offsetBytes: number): Float64Array | undefined {
    if (offsetBytes === this.#lastOffset) {
      this.hits++;
      return this.#lastTable;
    }
    const table = this.#tables.get(offsetBytes);
    if (table) {
      this.hits++;
      this.#lastOffset = offsetBytes;
      this.#lastTable = table;
    } else {
      this.misses++;
    }
    return table;
  }

  /** Commits a table read or created by a request; returns the cached copy (QEMU keeps the older one). */
  insert(offsetBytes: number, table: Float64Array): Float64Array {
    const existing = this.#tables.get(offsetBytes);
    if (existing) return existing;
    while (this.#tables.size >= this.capacity) {
      const head = this.#tables.keys().next().value as number;
      this.#tables.delete(head);
      if (head === this.#lastOffset) {
        this.#lastOffset = -1;
        this.#lastTable = undefined;
      }
    }
    this.#tables.set(offsetBytes, table);
    return table;
  }

  /** Cached offsets, head (next to evict) first. */
  offsets(): number[] {
    return [...this.#tables.keys()];
  }

  clear(): void {
    this.#tables.clear();
    this.#lastOffset = -1;
    this.#lastTable = undefined;
  }
}
