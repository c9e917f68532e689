/**
 * QEMU's host I/O on one image file, from `strace -f -s 0` output: the writes, zero ranges
 * (fallocate), flushes and truncates on the descriptors `openat` returned for that file. Split
 * "<unfinished ...>" / "<... resumed>" lines are joined and calls keep the order they started
 * in; `close` is tracked so a reused descriptor number is not confused with the image. The
 * reads (`pread64`) come separately, for the tests that compare what an open reads.
 */
import * as path from 'node:path';

export type HostIoOp =
  | { op: 'write'; offset: number; length: number }
  | { op: 'zero'; offset: number; length: number }
  | { op: 'flush' }
  | { op: 'truncate'; size: number };

/** The syscalls the trace needs (strace -e trace=...). */
export const STRACE_CALLS =
  'openat,close,pwrite64,pwritev,pwritev2,fdatasync,fsync,fallocate,ftruncate';

interface FileCall {
  name: string;
  /** The arguments after the descriptor's, split at commas. */
  fields: string[];
  ret: number;
}

/**
 * The calls on descriptors `openat` returned for `fileName` (open and close themselves left out),
 * in the order they started, with strace's split lines joined.
 */
function callsOnFile(trace: string, fileName: string): FileCall[] {
  const calls: string[] = [];
  const pending = new Map<string, number>();
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = m[1] as string;
    const body = m[2] as string;
    if (body.endsWith('<unfinished ...>')) {
      pending.set(pid, calls.length);
      calls.push(body.slice(0, -'<unfinished ...>'.length));
    } else if (body.startsWith('<...')) {
      const index = pending.get(pid);
      pending.delete(pid);
      if (index === undefined) continue;
      calls[index] = `${calls[index]}${body.replace(/^<\.\.\. \w+ resumed>/, '')}`;
    } else {
      calls.push(body);
    }
  }
  const fds = new Set<number>();
  const onFile: FileCall[] = [];
  for (const call of calls) {
    const m = /^(\w+)\((.*)\)\s*=\s*(-?\d+)/.exec(call);
    if (!m) continue;
    const name = m[1] as string;
    const args = m[2] as string;
    const ret = Number(m[3]);
    if (name === 'openat') {
      const opened = /^[^,]+,\s*"((?:[^"\\]|\\.)*)"/.exec(args)?.[1];
      if (ret >= 0) {
        if (opened !== undefined && path.basename(opened) === fileName) fds.add(ret);
        else fds.delete(ret);
      }
      continue;
    }
    const fd = Number(/^(\d+)/.exec(args)?.[1] ?? -1);
    if (!fds.has(fd)) continue;
    if (name === 'close') {
      fds.delete(fd);
      continue;
    }
    onFile.push({ name, fields: args.split(',').map((s) => s.trim()), ret });
  }
  return onFile;
}

export function parseStraceForFile(trace: string, fileName: string): HostIoOp[] {
  const ops: HostIoOp[] = [];
  for (const { name, fields, ret } of callsOnFile(trace, fileName)) {
    switch (name) {
      case 'pwrite64':
      case 'pwritev':
      case 'pwritev2': {
        if (ret < 0) break;
        // pwritev2 has a flags argument after the offset.
        const offset = name === 'pwritev2' ? fields[fields.length - 2] : fields[fields.length - 1];
        ops.push({ op: 'write', offset: Number(offset), length: ret });
        break;
      }
      case 'fdatasync':
      case 'fsync':
        if (ret === 0) ops.push({ op: 'flush' });
        break;
      case 'fallocate':
        if (ret === 0) {
          ops.push({
            op: 'zero',
            offset: Number(fields[fields.length - 2]),
            length: Number(fields[fields.length - 1]),
          });
        }
        break;
      case 'ftruncate':
        if (ret === 0) ops.push({ op: 'truncate', size: Number(fields[fields.length - 1]) });
        break;
    }
  }
  return ops;
}

/** The `pread64` calls on `fileName` (strace -e trace=openat,close,pread64): requested lengths. */
export function parseStraceReadsForFile(
  trace: string,
  fileName: string,
): Array<{ offset: number; length: number }> {
  const reads: Array<{ offset: number; length: number }> = [];
  for (const { name, fields } of callsOnFile(trace, fileName)) {
    if (name !== 'pread64') continue;
    reads.push({
      length: Number(fields[fields.length - 2]),
      offset: Number(fields[fields.length - 1]),
    });
  }
  return reads;
}

export function formatHostIoOp(op: HostIoOp | undefined): string {
  if (!op) return '(none)';
  switch (op.op) {
    case 'write':
      return `pwrite ${op.length}@${op.offset}`;
    case 'zero':
      return `zero ${op.length}@${op.offset}`;
    case 'flush':
      return 'fdatasync';
    case 'truncate':
      return `ftruncate ${op.size}`;
  }
}
