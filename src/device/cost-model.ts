import type { IoOpName } from './types.ts';

/** One request as a cost model sees it. */
export interface CostedOp {
  op: IoOpName;
  offsetBytes: number;
  lengthBytes: number;
}

/**
 * Charges simulated time for host I/O. Models may keep state (an HDD's head position), so one
 * instance belongs to one device.
 */
export interface CostModel {
  readonly name: string;
  /** Simulated nanoseconds for one operation issued alone (queue depth 1). */
  costNs(op: IoOpName, offsetBytes: number, lengthBytes: number): number;
  /**
   * Simulated nanoseconds until the last of `ops` completes when they are submitted together with
   * at most `queueDepth` in flight (an HDD reorders them in elevator order; flash serves them in
   * parallel up to its channel count).
   */
  batchCostNs(ops: readonly CostedOp[], queueDepth: number): number;
  /** Forget positional state (a fresh device). */
  reset(): void;
}

/** Counts only: every operation is free. */
export class NoCostModel implements CostModel {
  readonly name = 'none';
  costNs(): number {
    return 0;
  }
  batchCostNs(): number {
    return 0;
  }
  reset(): void {}
}
