import type { HostIoOp } from './qemu-compare.ts';

/**
 * Host I/O split at flushes, each epoch's writes sorted: QEMU issues the data writes of one
 * request's AIO tasks from worker threads, so two data writes between the same pair of flushes
 * may reach the kernel in either order. What a crash can leave behind depends only on the epochs.
 */
export function flushEpochs(ops: readonly HostIoOp[]): string[] {
  const epochs: string[] = [];
  let current: string[] = [];
  for (const op of ops) {
    if (op.op === 'flush') {
      epochs.push(current.sort().join(','));
      current = [];
    } else if (op.op === 'truncate') {
      current.push(`t${op.size}`);
    } else {
      current.push(`${op.op[0]}${op.offset}+${op.length}`);
    }
  }
  epochs.push(current.sort().join(','));
  return epochs;
}
