import type { IoKind } from '../../device/types.ts';
import { QED_CLUSTER_UNALLOCATED } from './constants.ts';
import type { QedState } from './state.ts';
import { QedTable } from './table.ts';

/** A device that can submit reads together (MeteredDevice charges them as one batch). */
interface BatchReader {
  readBatch(
    requests: ReadonlyArray<{ offsetBytes: number; lengthBytes: number }>,
    queueDepth: number,
    kind: IoKind,
  ): Uint8Array[];
}

function canReadBatch(device: unknown): device is BatchReader {
  return typeof (device as Partial<BatchReader>).readBatch === 'function';
}

/** L2 tables read per window: enough for an elevator to sort, bounded in memory. */
const WINDOW_TABLES = 256;

/**
 * The parallel-check variant's reader ("we can read L2s in parallel"): the check walks L1 in
 * order as QEMU's does, but L2 tables are read a window at a time with `queueDepth` requests in
 * flight, charged by the cost model's batchCostNs (an HDD serves them in elevator order, flash in
 * parallel up to its channels). Tables are used straight from the read, not through the cache.
 */
export class L2Prefetcher {
  readonly #state: QedState;
  readonly #queueDepth: number;
  readonly #tables = new Map<number, QedTable>();
  readonly #enabled: boolean;

  constructor(state: QedState, queueDepth: number) {
    this.#state = state;
    this.#queueDepth = queueDepth;
    this.#enabled = canReadBatch(state.device);
  }

  /** The table at `l2Offset` (L1 entry `l1Index`), or undefined to read it the usual way. */
  get(l1Index: number, l2Offset: number): QedTable | undefined {
    if (!this.#enabled) return undefined;
    const key = l1Index;
    let table = this.#tables.get(key);
    if (table === undefined) {
      this.#fill(l1Index);
      table = this.#tables.get(key);
    }
    if (table === undefined) return undefined;
    this.#tables.delete(key);
    return this.#offsets.get(key) === l2Offset ? table : undefined;
  }

  readonly #offsets = new Map<number, number>();

  #fill(fromIndex: number): void {
    const state = this.#state;
    this.#tables.clear();
    this.#offsets.clear();
    const indices: number[] = [];
    const requests: Array<{ offsetBytes: number; lengthBytes: number }> = [];
    const seen = new Set<number>();
    for (let i = fromIndex; i < state.tableEntries && indices.length < WINDOW_TABLES; i++) {
      const offset = state.l1Table.get(i);
      if (offset === QED_CLUSTER_UNALLOCATED || !state.isTableOffsetValid(offset)) continue;
      if (seen.has(offset)) continue;
      seen.add(offset);
      indices.push(i);
      requests.push({ offsetBytes: offset, lengthBytes: state.tableBytes });
    }
    if (requests.length === 0) return;
    const reader = state.device as unknown as BatchReader;
    const data = reader.readBatch(requests, this.#queueDepth, 'l2');
    indices.forEach((i, k) => {
      this.#tables.set(i, new QedTable(data[k] as Uint8Array));
      this.#offsets.set(i, (requests[k] as { offsetBytes: number }).offsetBytes);
    });
  }
}
