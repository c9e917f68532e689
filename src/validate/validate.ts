/**
 * `qedlab validate`: the same qemu-io script through the installed QEMU (qemu-io under strace)
 * and through the lab, from the same `qemu-img create`d file, compared three ways — the final
 * image bytes, the `map` layouts (`qemu-img map --output=json` vs the lab's), and the host I/O
 * sequences (writes, zero ranges, flushes, truncates; reads are left out: they change nothing).
 * Reports the first difference of each, so a user can check the model against their own QEMU.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatMapJson } from '../cli/commands/map.ts';
import { openImageFile } from '../cli/image-file.ts';
import { type QemuIoCommand, QemuIoSession } from '../cli/qemu-io-script.ts';
import type { IoRecord } from '../device/types.ts';
import { LabError } from '../util/errors.ts';
import { formatHostIoOp, type HostIoOp, parseStraceForFile, STRACE_CALLS } from './strace.ts';

export interface ValidateOptions {
  format: string;
  /** `qemu-img create -o`. */
  createOptions?: string;
  sizeBytes: number;
  /** Script lines (qemu-io commands) and their parsed form. */
  scriptLines: readonly string[];
  commands: readonly QemuIoCommand[];
  cacheMode: 'writeback' | 'writethrough';
  /** Scratch directory (kept: the two images and the trace stay there for inspection). */
  dir: string;
}

export interface Comparison {
  same: boolean;
  /** One line naming the first difference (undefined when the same). */
  firstDifference: string | undefined;
}

export interface ValidateResult {
  image: Comparison;
  map: Comparison;
  io: Comparison;
  qemuOps: number;
  labOps: number;
  qemuImage: string;
  labImage: string;
  /** qemu-io's own error output, when it printed any. */
  qemuErrors: string[];
}

export function validateScript(options: ValidateOptions): ValidateResult {
  requireTools();
  fs.mkdirSync(options.dir, { recursive: true });
  const template = path.join(options.dir, `template.${options.format}`);
  const createArgs = ['create', '-q', '-f', options.format];
  if (options.createOptions) createArgs.push('-o', options.createOptions);
  createArgs.push(template, String(options.sizeBytes));
  const created = run('qemu-img', createArgs, options.dir);
  if (created.status !== 0) {
    throw new LabError('QEMU_CREATE', `qemu-img create failed: ${firstLine(created.stderr)}`);
  }
  const qemuImage = path.join(options.dir, `qemu.${options.format}`);
  const labImage = path.join(options.dir, `lab.${options.format}`);
  fs.copyFileSync(template, qemuImage);
  fs.copyFileSync(template, labImage);

  const trace = `${qemuImage}.strace`;
  const qemu = run(
    'strace',
    [
      '-f',
      '-s',
      '0',
      '-o',
      trace,
      '-e',
      `trace=${STRACE_CALLS}`,
      'qemu-io',
      '-t',
      options.cacheMode,
      '-f',
      options.format,
      path.basename(qemuImage),
    ],
    options.dir,
    `${options.scriptLines.join('\n')}\n`,
  );
  const qemuErrors = `${qemu.stdout}\n${qemu.stderr}`
    .split('\n')
    .filter((l) => /failed|error|Pattern verification/i.test(l))
    .map((l) => l.replace(/^qemu-io> /, ''));
  const qemuOps = parseStraceForFile(fs.readFileSync(trace, 'utf8'), path.basename(qemuImage));

  const labOps = runLab(labImage, options);
  const qemuMap = run(
    'qemu-img',
    ['map', '--output=json', '-f', options.format, qemuImage],
    options.dir,
  );
  if (qemuMap.status !== 0) {
    throw new LabError('QEMU_MAP', `qemu-img map failed: ${firstLine(qemuMap.stderr)}`);
  }
  return {
    image: compareBytes(
      new Uint8Array(fs.readFileSync(qemuImage)),
      new Uint8Array(fs.readFileSync(labImage)),
    ),
    map: compareMaps(qemuMap.stdout, labMap(labImage, options.format)),
    io: compareIo(qemuOps, labOps),
    qemuOps: qemuOps.length,
    labOps: labOps.length,
    qemuImage,
    labImage,
    qemuErrors,
  };
}

/** Like `qedlab io -t MODE --script`: open, run, close (unless `abort`), logging the host I/O. */
function runLab(imagePath: string, options: ValidateOptions): HostIoOp[] {
  const records: IoRecord[] = [];
  const opened = openImageFile(imagePath, {
    format: options.format,
    log: (r) => records.push(r),
  });
  try {
    const session = new QemuIoSession(opened.image, opened.clock, {
      writethrough: options.cacheMode === 'writethrough',
    });
    try {
      session.runAll(options.commands);
    } finally {
      if (!session.aborted) opened.image.close();
    }
  } finally {
    opened.release();
  }
  const ops: HostIoOp[] = [];
  for (const r of records) {
    if (r.op === 'write' || r.op === 'zero')
      ops.push({ op: r.op, offset: r.offset, length: r.length });
    else if (r.op === 'flush') ops.push({ op: 'flush' });
    else if (r.op === 'truncate') ops.push({ op: 'truncate', size: r.size });
  }
  return ops;
}

function labMap(imagePath: string, format: string): string {
  const opened = openImageFile(imagePath, { format, readOnly: true, forCheck: true });
  try {
    return formatMapJson(opened.image.map());
  } finally {
    opened.release();
  }
}

export function compareBytes(qemu: Uint8Array, lab: Uint8Array): Comparison {
  const n = Math.min(qemu.length, lab.length);
  for (let i = 0; i < n; i++) {
    if (qemu[i] !== lab[i]) {
      return {
        same: false,
        firstDifference: `byte ${i} (0x${i.toString(16)}): qemu 0x${(qemu[i] as number).toString(16)}, lab 0x${(lab[i] as number).toString(16)}`,
      };
    }
  }
  if (qemu.length !== lab.length) {
    return {
      same: false,
      firstDifference: `file length: qemu ${qemu.length} bytes, lab ${lab.length} bytes`,
    };
  }
  return { same: true, firstDifference: undefined };
}

/** Compares `qemu-img map --output=json` texts entry by entry (whitespace ignored). */
export function compareMaps(qemuJson: string, labJson: string): Comparison {
  const q = JSON.parse(qemuJson) as unknown[];
  const l = JSON.parse(labJson) as unknown[];
  const n = Math.max(q.length, l.length);
  for (let i = 0; i < n; i++) {
    const a = JSON.stringify(q[i] ?? null);
    const b = JSON.stringify(l[i] ?? null);
    if (a !== b) return { same: false, firstDifference: `map entry ${i}: qemu ${a}, lab ${b}` };
  }
  return { same: true, firstDifference: undefined };
}

export function compareIo(qemu: readonly HostIoOp[], lab: readonly HostIoOp[]): Comparison {
  const n = Math.max(qemu.length, lab.length);
  for (let i = 0; i < n; i++) {
    if (JSON.stringify(qemu[i]) !== JSON.stringify(lab[i])) {
      return {
        same: false,
        firstDifference: `host op #${i}: qemu ${formatHostIoOp(qemu[i])}, lab ${formatHostIoOp(lab[i])}`,
      };
    }
  }
  return { same: true, firstDifference: undefined };
}

function requireTools(): void {
  for (const tool of ['qemu-img', 'qemu-io', 'strace']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      throw new LabError('NO_QEMU', `validate needs ${tool} (apt-get install qemu-utils strace)`);
    }
  }
}

function run(
  tool: string,
  args: readonly string[],
  cwd: string,
  input?: string,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(tool, [...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    ...(input === undefined ? {} : { input }),
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
