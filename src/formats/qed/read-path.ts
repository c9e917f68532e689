import { ClusterKind, type ClusterRun, findCluster, newClusterRun } from './cluster.ts';
import type { QedState } from './state.ts';
import { readBackingClipped } from './write-path.ts';

/**
 * qed_aio_read_data: allocated runs are read from the file, zero clusters read as zeros,
 * unallocated ones from the backing file (zeros past its end, or without one).
 */
export class QedReadPath {
  readonly #state: QedState;
  readonly #run: ClusterRun = newClusterRun();

  constructor(state: QedState) {
    this.#state = state;
  }

  read(posBytes: number, lengthBytes: number): Uint8Array {
    const state = this.#state;
    const run = this.#run;
    findCluster(state, posBytes, lengthBytes, run);
    // The common case, one allocated run: hand back the device's buffer without a copy.
    if (run.lengthBytes === lengthBytes && run.kind === ClusterKind.Found) {
      return state.device.read(run.hostOffsetBytes, lengthBytes, 'data');
    }
    const out = new Uint8Array(lengthBytes);
    let pos = posBytes;
    const end = posBytes + lengthBytes;
    for (;;) {
      const n = run.lengthBytes;
      const at = pos - posBytes;
      if (run.kind === ClusterKind.Found) {
        out.set(state.device.read(run.hostOffsetBytes, n, 'data'), at);
      } else if (run.kind !== ClusterKind.Zero && state.backing !== undefined) {
        out.set(readBackingClipped(state.backing, pos, n), at);
      }
      pos += n;
      if (pos >= end) return out;
      findCluster(state, pos, end - pos, run);
    }
  }
}
