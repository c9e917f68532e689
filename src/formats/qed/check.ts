import { FileDevice } from '../../device/file-device.ts';
import { LabError } from '../../util/errors.ts';
import type { CheckResult } from '../types.ts';
import { loadL2Table } from './cluster.ts';
import { QED_CLUSTER_UNALLOCATED, QED_CLUSTER_ZERO_MARKER } from './constants.ts';
import { L2Prefetcher } from './parallel-check.ts';
import type { QedState } from './state.ts';
import type { QedTable } from './table.ts';
import { canNoteReads } from './table-shadow.ts';

/**
 * qed_check: walk L1 and every L2, mark the clusters they reference, and report
 *  - invalid table/data offsets (corruptions; zeroed when fixing),
 *  - clusters referenced twice (corruptions QED cannot fix),
 *  - clusters nothing references (leaks; never repaired: QED has no free list),
 *  - allocated and fragmented data clusters.
 * With `fix`, a table with zeroed entries is rewritten whole, and when nothing unfixable is
 * left NEED_CHECK is cleared (flush, then the 64-byte header).
 *
 * Cluster indices are byte offset ÷ cluster size. QEMU 7.2 divides by (cs − 1) in
 * qed_bytes_to_clusters, which shifts indices once the file passes cs − 1 clusters and
 * reports false leaks on consistent images; the lab does not reproduce that bug.
 */
export function qedCheck(state: QedState, fix: boolean): CheckResult {
  const cs = state.clusterSizeBytes;
  const ts = state.tableSizeClusters;
  const nclusters = Math.floor(state.fileSizeBytes / cs);
  const used = new Uint8Array(Math.ceil(nclusters / 8));
  const result: CheckResult = {
    format: 'qed',
    checkErrors: 0,
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    totalClusters: Math.ceil(state.imageSizeBytes / cs),
    allocatedClusters: 0,
    fragmentedClusters: 0,
    messages: [],
  };

  /** Marks n clusters from `offsetBytes`; false if any was already referenced. */
  const markUsed = (offsetBytes: number, n: number): boolean => {
    let duplicates = 0;
    let cluster = Math.floor(offsetBytes / cs);
    for (let i = 0; i < n; i++, cluster++) {
      const mask = 1 << (cluster & 7);
      const byte = cluster >>> 3;
      if ((used[byte] as number) & mask) duplicates++;
      used[byte] = (used[byte] as number) | mask;
    }
    result.corruptions += duplicates;
    return duplicates === 0;
  };

  markUsed(state.l1TableOffsetBytes, ts);
  state.freeSpace?.markOwned(markUsed);
  const l1 = state.l1Table;
  // parallel-check variant: L2 tables read n at a time in flight (QEMU reads one at a time).
  const prefetch =
    state.policy.checkQueueDepth > 1
      ? new L2Prefetcher(state, state.policy.checkQueueDepth)
      : undefined;
  // Buffers of tables this check read and the L2 cache has since evicted: the next miss reads
  // into one of them. Reading 8,192 tables into fresh memory cost the check more in page faults
  // than the reads themselves.
  const spare: QedTable[] = [];
  const own = new Set<QedTable>();
  const window = fix ? undefined : TableWindow.over(state);
  let invalidL1 = 0;
  let lastError: unknown;
  for (let i = 0; i < state.tableEntries; i++) {
    const l2Offset = l1.get(i);
    if (l2Offset === QED_CLUSTER_UNALLOCATED) continue;
    if (!state.isTableOffsetValid(l2Offset)) {
      if (fix) {
        l1.set(i, 0);
        result.corruptionsFixed++;
      } else {
        result.corruptions++;
      }
      invalidL1++;
      continue;
    }
    if (!markUsed(l2Offset, ts)) continue; // a table overlapping another is skipped
    let table: QedTable;
    try {
      const prefetched = prefetch?.get(i, l2Offset);
      if (prefetched !== undefined) {
        table = prefetched;
      } else {
        const reuse = spare.pop();
        const missesBefore = state.l2Cache.misses;
        state.l2Cache.lastEvicted = undefined;
        table = loadL2Table(state, l2Offset, i, false, reuse, window?.filler(i));
        if (reuse !== undefined && table !== reuse) spare.push(reuse);
        const fromShadow = state.tableShadow.get(l2Offset * state.clusterSizeInverse) === table;
        if (state.l2Cache.misses !== missesBefore && !fromShadow) own.add(table);
        const evicted = state.l2Cache.lastEvicted;
        if (evicted !== undefined && own.delete(evicted)) spare.push(evicted);
      }
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      result.checkErrors++;
      lastError = error;
      continue;
    }
    let invalidL2 = 0;
    let lastOffset = 0;
    const entries = state.tableEntries;
    const blocks = Buffer.from(table.bytes.buffer, table.bytes.byteOffset, table.bytes.length);
    for (let j = 0; j < entries; j++) {
      // A block of 512 unallocated entries changes nothing: skip it with one memcmp (sparse
      // tables are mostly such blocks, and a JS loop over them dominated the check's CPU time).
      if ((j & ZERO_BLOCK_MASK) === 0 && j + ZERO_BLOCK_ENTRIES <= entries) {
        const start = j * 8;
        if (
          blocks.compare(ZERO_BLOCK, 0, ZERO_BLOCK_BYTES, start, start + ZERO_BLOCK_BYTES) === 0
        ) {
          j += ZERO_BLOCK_MASK;
          continue;
        }
      }
      const offset = table.get(j);
      if (offset === QED_CLUSTER_UNALLOCATED || offset === QED_CLUSTER_ZERO_MARKER) continue;
      result.allocatedClusters = (result.allocatedClusters as number) + 1;
      if (lastOffset !== 0 && lastOffset + cs !== offset) {
        result.fragmentedClusters = (result.fragmentedClusters as number) + 1;
      }
      lastOffset = offset;
      if (!state.isClusterOffsetValid(offset)) {
        if (fix) {
          table.set(j, 0);
          result.corruptionsFixed++;
        } else {
          result.corruptions++;
        }
        invalidL2++;
        continue;
      }
      markUsed(offset, 1);
    }
    if (invalidL2 > 0 && fix) state.device.write(l2Offset, table.bytes, 'l2');
  }
  if (invalidL1 > 0 && fix) {
    state.device.write(state.l1TableOffsetBytes, l1.bytes, 'l1');
  }
  if (lastError === undefined) {
    state.freeSpace?.reconcileScan(used, nclusters, fix, result);
    // Only a complete scan can tell what is unreferenced.
    for (let c = state.headerSizeClusters; c < nclusters; c++) {
      if (!((used[c >>> 3] as number) & (1 << (c & 7)))) result.leaks++;
    }
    if (fix) {
      state.freeSpace?.adoptLeaks(used, nclusters, result);
      markClean(state, result);
    }
  }
  return result;
}

const ZERO_BLOCK_ENTRIES = 512;
const ZERO_BLOCK_MASK = ZERO_BLOCK_ENTRIES - 1;
const ZERO_BLOCK_BYTES = ZERO_BLOCK_ENTRIES * 8;
const ZERO_BLOCK = Buffer.alloc(ZERO_BLOCK_BYTES);

const WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Read-ahead for a check that repairs nothing, on a real file: when the next tables in L1 order
 * lie one after another in the file (as appending allocation leaves them), one pread fetches up
 * to 8 MiB of them and each table is then charged to the metered device with `noteRead`, so the
 * lab's I/O log, counters and simulated time are exactly those of one read per table. A cold
 * page cache gets a few large sequential reads instead of thousands of 256 KiB ones.
 */
class TableWindow {
  readonly #state: QedState;
  readonly #file: FileDevice;
  readonly #buffer = new Uint8Array(WINDOW_BYTES);
  #start = 0;
  #end = 0;

  private constructor(state: QedState, file: FileDevice) {
    this.#state = state;
    this.#file = file;
  }

  static over(state: QedState): TableWindow | undefined {
    const inner = (state.device as { inner?: unknown }).inner;
    if (!(inner instanceof FileDevice) || !canNoteReads(state.device)) return undefined;
    if (state.tableBytes * 2 > WINDOW_BYTES) return undefined;
    return new TableWindow(state, inner);
  }

  /** A `fill` for loadL2Table, for the table of L1 entry `l1Index`. */
  filler(l1Index: number): (offsetBytes: number, out: Uint8Array) => boolean {
    return (offsetBytes, out) => {
      const length = out.length;
      if (offsetBytes < this.#start || offsetBytes + length > this.#end) {
        this.#start = offsetBytes;
        this.#end = this.#windowEnd(l1Index, offsetBytes);
        this.#file.readInto(offsetBytes, this.#buffer.subarray(0, this.#end - offsetBytes));
      }
      const from = offsetBytes - this.#start;
      out.set(this.#buffer.subarray(from, from + length));
      return true;
    };
  }

  /** End of the run of tables, in L1 order and ascending in the file, that fits the window. */
  #windowEnd(l1Index: number, offsetBytes: number): number {
    const state = this.#state;
    const tableBytes = state.tableBytes;
    let end = offsetBytes + tableBytes;
    let last = offsetBytes;
    for (let i = l1Index + 1; i < state.tableEntries; i++) {
      const next = state.l1Table.get(i);
      if (next === QED_CLUSTER_UNALLOCATED) continue;
      if (next <= last || next + tableBytes - offsetBytes > WINDOW_BYTES) break;
      if (!state.isTableOffsetValid(next)) break;
      last = next;
      end = next + tableBytes;
    }
    return end;
  }
}

/** qed_check_mark_clean: only when nothing unfixable or unreadable is left. */
function markClean(state: QedState, result: CheckResult): void {
  if (result.corruptions > 0 || result.checkErrors > 0) return;
  if (!state.needCheck) return;
  state.device.flush();
  state.setNeedCheck(false);
  state.writeHeaderSync();
}
