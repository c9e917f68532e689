/**
 * Writes a failing crash state as files a user can replay:
 *
 *   <name>.script         the guest's qemu-io commands up to the crash (ends in `abort`); run on a
 *                         fresh image it issues the host I/O the crash state was cut from
 *   <name>.crashed.<fmt>  the image the power cut left (minimized survivors applied)
 *   <name>.verify.script  qemu-io commands that fail on the crashed image where the guest's
 *                         expectation is broken (the probe write first, when it took one)
 *   <name>.txt            what failed, the crash state (epoch, surviving host writes), commands
 *   backing.raw           the backing file, when the image has one
 *
 * `qedlab io -f FMT <name>.crashed.FMT --script <name>.verify.script` (or qemu-io with the same
 * script on standard input) replays the failure; `qedlab check` shows structural ones.
 */
import * as path from 'node:path';
import type { CachedOp } from '../device/crash-states.ts';
import { writeFileAtomic } from '../report/atomic-file.ts';
import { renderCommand } from './crash-workloads.ts';
import type { CrashFailure } from './explorer.ts';
import { SECTOR_BYTES } from './guest-model.ts';
import { BACKING_FILE_NAME, type RecordedRun, requestOfOp } from './recorder.ts';
import { PROBE_BYTES, PROBE_PATTERN, probeOffset } from './verify-state.ts';

export interface ReproducerFiles {
  script: string;
  image: string;
  verifyScript: string;
  description: string;
}

export function writeReproducer(
  run: RecordedRun,
  failure: CrashFailure,
  dir: string,
  name: string,
): ReproducerFiles {
  const format = run.config.format;
  const files: ReproducerFiles = {
    script: path.join(dir, `${name}.script`),
    image: path.join(dir, `${name}.crashed.${format}`),
    verifyScript: path.join(dir, `${name}.verify.script`),
    description: path.join(dir, `${name}.txt`),
  };
  const epochStart = epochStartOp(run, failure.epoch);
  const ops = run.history.epochOps(failure.epoch);
  const lastOp =
    failure.survivors.length > 0 ? epochStart + Math.max(...failure.survivors) : epochStart - 1;
  const lastRequest = lastOp < 0 ? -1 : requestOfOp(run, lastOp);
  const script = run.commands.slice(0, lastRequest + 1).map(renderCommand);
  writeFileAtomic(files.script, `${[...script, 'abort'].join('\n')}\n`);
  writeFileAtomic(files.image, failure.image);
  if (run.backingBytes)
    writeFileAtomic(path.join(dir, BACKING_FILE_NAME), run.backingBytes.toBytes());

  const verify: string[] = [];
  const f = failure.failure;
  if (f.afterProbe)
    verify.push(`write -P 0x${PROBE_PATTERN.toString(16)} ${probeOffset(run)} ${PROBE_BYTES}`);
  if (f.sectorRange && f.expected !== undefined) {
    const [first, end] = f.sectorRange;
    verify.push(
      `read -P 0x${f.expected.toString(16)} ${first * SECTOR_BYTES} ${(end - first) * SECTOR_BYTES}`,
    );
  }
  if (!f.sectorRange) {
    // Structural failures: reading what the guest wrote walks the damaged tables (QEMU and the
    // lab both fail such a read with an I/O error).
    for (const [first, end] of run.guest.extents().slice(0, 64)) {
      verify.push(`read ${first * SECTOR_BYTES} ${(end - first) * SECTOR_BYTES}`);
    }
  }
  writeFileAtomic(files.verifyScript, `${verify.join('\n')}\n`);

  const lines = [
    `qedlab crash reproducer: ${format}${run.config.variant === 'qemu' ? '' : ` (variant ${run.config.variant})`}` +
      `${run.config.backing ? ' with a raw backing file' : ''}` +
      `${run.config.mutant ? `, mutant ${run.config.mutant}` : ''}`,
    `workload ${run.config.workload}, seed ${run.config.seed}`,
    '',
    `class: ${failure.class}${failure.behaviour ? ` (${failure.behaviour.name})` : ''}`,
    ...(failure.behaviour ? [`  ${failure.behaviour.describe}`] : []),
    `failure: ${f.kind}${f.afterProbe ? ' (after a probe write)' : ''}: ${f.message}`,
    `explained by lost ${failure.explainedBy ?? '(no single kind)'} writes`,
    '',
    `crash state: ${failure.description}; minimized to ${failure.survivors.length} surviving write(s)`,
    `durable: everything up to the flush that began epoch ${failure.epoch}` +
      ` (guest requests 0..${failure.flushRequest} flushed)`,
    'surviving writes of the epoch, in the order applied:',
    ...failure.survivors.map((i) => `  #${i} ${describeOp(ops[i] as CachedOp)}`),
    'lost writes of the epoch issued before the last survivor:',
    ...lostBefore(ops, failure.survivors).map((i) => `  #${i} ${describeOp(ops[i] as CachedOp)}`),
    '',
    'replay:',
    `  qedlab io -f ${format} ${path.basename(files.image)} --script ${path.basename(files.verifyScript)}`,
    `  qemu-io -f ${format} ${path.basename(files.image)} < ${path.basename(files.verifyScript)}`,
    `  qedlab check -f ${format} ${path.basename(files.image)}`,
    'the host I/O the state was cut from (guest commands up to the crash):',
    `  qedlab create -f ${format}${run.config.backing ? ` -o backing_file=${BACKING_FILE_NAME},backing_fmt=raw` : ''} fresh.${format} ${run.sizeBytes}`,
    `  qedlab io -f ${format} -t writeback --io-log io.jsonl --script ${path.basename(files.script)} fresh.${format}`,
  ];
  writeFileAtomic(files.description, `${lines.join('\n')}\n`);
  return files;
}

function epochStartOp(run: RecordedRun, epoch: number): number {
  let start = 0;
  for (let e = 0; e < epoch; e++) start += run.history.epochOps(e).length;
  return start;
}

function lostBefore(ops: readonly CachedOp[], survivors: readonly number[]): number[] {
  if (survivors.length === 0) return [];
  const last = Math.max(...survivors);
  const kept = new Set(survivors);
  const out: number[] = [];
  for (let i = 0; i < last && i < ops.length; i++) if (!kept.has(i)) out.push(i);
  return out;
}

export function describeOp(op: CachedOp): string {
  switch (op.op) {
    case 'write':
      return `pwrite ${op.kind} ${op.data.length}@${op.offsetBytes}`;
    case 'zero':
      return `zero ${op.kind} ${op.lengthBytes}@${op.offsetBytes}`;
    case 'truncate':
      return `ftruncate ${op.sizeBytes}`;
  }
}
