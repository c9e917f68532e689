/**
 * What a workload hands the runner: one guest request at a time. Generators are streams (a
 * billion-request run never materialises a list), seeded, and know nothing of formats or devices.
 */
export type GuestOp = 'read' | 'write' | 'zero' | 'discard' | 'flush' | 'snapshot' | 'sleep';

export interface GuestRequest {
  op: GuestOp;
  /** Guest offset; 0 for flush, snapshot and sleep. */
  offsetBytes: number;
  /** Guest length; 0 for flush, snapshot and sleep. */
  lengthBytes: number;
  /** Simulated idle time for `sleep` (qemu-io `sleep MS`, fio iolog v3 timestamps). */
  durationNs?: number;
  /** Fill byte for writes (qemu-io `write -P`); the runner picks one when absent. */
  pattern?: number;
}

/** A prepared workload: call `requests()` for a fresh stream (each call replays the same one). */
export interface Workload {
  readonly type: string;
  /** How many requests the stream yields, when known up front (progress bars, crash points). */
  readonly requestCount: number | undefined;
  requests(): Iterable<GuestRequest>;
}
