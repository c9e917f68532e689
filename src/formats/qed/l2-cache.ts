import { NumberIndex } from '../../util/number-index.ts';
import { QED_L2_CACHE_TABLES } from './constants.ts';
import type { QedTable } from './table.ts';

/**
 * QEMU's QED L2 cache: up to 50 whole tables, clean copies only (table updates are written
 * through at once). Entries live in insertion order and a lookup does not reorder them, so
 * eviction is FIFO, not LRU. Tables are identified by a key (the engine uses the table's first
 * cluster index, which identifies it as its offset does).
 *
 * QEMU reference-counts entries and evicts from the head only entries nobody but the cache holds.
 * In this synchronous engine a request drops its table before loading the next one (as QEMU's
 * qed_read_l2_table does), so at insertion time the cache is the only holder of every entry and
 * eviction always takes the head: the same choice QEMU makes for one request at a time.
 *
 * QEMU walks its list of 50 entries; here a per-L1-index hint of where the table was last found
 * makes the common repeat lookup O(1), and a key → position map answers the rest (a random
 * workload over a big image misses on most lookups: a walk of all 50 keys per miss cost more
 * than the rest of the lookup). Which entry is found, and which is evicted, is the list's choice.
 */
export class L2Cache {
  readonly capacity: number;
  /** Ring of entries in insertion order; `#head` is the oldest. */
  readonly #keys: Float64Array;
  readonly #tables: Array<QedTable | undefined>;
  #head = 0;
  #size = 0;
  /** Key → ring position of every cached entry. */
  readonly #positions: NumberIndex;
  /** Hint index (an L1 index) → ring position where its table was last seen, or -1. */
  readonly #hints: Int32Array;
  hits = 0;
  misses = 0;
  /** The table the last `insert` evicted (undefined if it evicted none), for buffer reuse. */
  lastEvicted: QedTable | undefined;

  constructor(capacity = QED_L2_CACHE_TABLES, hintSlots = 0) {
    this.capacity = capacity;
    this.#keys = new Float64Array(capacity).fill(-1);
    this.#tables = new Array<QedTable | undefined>(capacity).fill(undefined);
    this.#hints = new Int32Array(hintSlots).fill(-1);
    // Room for four times the entries: every miss deletes a key and inserts one, and a sparser
    // table keeps the probe runs a deletion walks short.
    this.#positions = NumberIndex.withRoomFor(capacity * 4);
  }

  get size(): number {
    return this.#size;
  }

  /** The cached table for `key`; `hint` is an L1 index (or -1) remembering where it was found. */
  find(key: number, hint = -1): QedTable | undefined {
    const keys = this.#keys;
    if (hint >= 0 && hint < this.#hints.length) {
      const p = this.#hints[hint] as number;
      if (p >= 0 && keys[p] === key) {
        this.hits++;
        return this.#tables[p];
      }
    }
    const position = this.#position(key);
    if (position < 0) {
      this.misses++;
      return undefined;
    }
    if (hint >= 0 && hint < this.#hints.length) this.#hints[hint] = position;
    this.hits++;
    return this.#tables[position];
  }

  /**
   * Commits a table read or created by a request; returns the cached copy (QEMU keeps the older
   * one). `knownAbsent`: the caller's `find` just missed, so the scan for an older copy is skipped.
   */
  insert(key: number, table: QedTable, hint = -1, knownAbsent = false): QedTable {
    if (!knownAbsent) {
      const existing = this.#position(key);
      if (existing >= 0) return this.#tables[existing] as QedTable;
    }
    let position: number;
    if (this.#size >= this.capacity) {
      position = this.#head;
      // (Not `% capacity`: an integer division on every miss.)
      this.#head = position + 1 === this.capacity ? 0 : position + 1;
      this.lastEvicted = this.#tables[position];
      this.#positions.delete(this.#keys[position] as number);
    } else {
      position = (this.#head + this.#size) % this.capacity;
      this.#size++;
      this.lastEvicted = undefined;
    }
    this.#keys[position] = key;
    this.#tables[position] = table;
    this.#positions.set(key, position);
    if (hint >= 0 && hint < this.#hints.length) this.#hints[hint] = position;
    return table;
  }

  /** Cached keys, head (next to evict) first. */
  keys(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#size; i++)
      out.push(this.#keys[(this.#head + i) % this.capacity] as number);
    return out;
  }

  /** Ring position of `key`, or -1. */
  #position(key: number): number {
    return this.#positions.get(key);
  }
}
