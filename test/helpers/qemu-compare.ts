/**
 * Run the same qemu-io script through QEMU and through the lab, and compare what each did.
 *
 * API (used by the QED tests, the qcow2 tests and later issues):
 *
 *   const run = compareWithQemuIo({
 *     format: 'qed',                          // any format both qemu-io and the lab know
 *     createOptions: 'cluster_size=4k',       // qemu-img create -o (optional)
 *     sizeBytes: 1 << 30,                     // or a qemu-img size string ('1T')
 *     script: ['write -P 0xaa 0 4k', 'flush'],// qemu-io commands, one per element
 *     cacheMode: 'writeback',                 // qemu-io -t / qedlab io -t
 *   });
 *   run.qemu.image / run.lab.image            // final bytes of both image files
 *   run.qemu.ops / run.lab.ops                // normalized host I/O on the image file
 *   firstIoDifference(run.qemu.ops, run.lab.ops)   // undefined when identical, else where
 *   firstByteDifference(run.qemu.image, run.lab.image)  // -1 when identical
 *
 * Both runs start from the same file, made by `qemu-img create` (so this compares the write
 * path; compare creation separately). QEMU's host I/O is captured with
 *   strace -f -s 0 -e trace=openat,close,pwrite64,pwritev,pwritev2,fdatasync,fsync,fallocate,ftruncate
 * on the file descriptors that openat returned for the image path (close tracked so reused
 * descriptor numbers are not confused); strace's split "unfinished ... resumed" lines are joined
 * and calls are ordered by when they started. The lab's I/O comes from `qedlab io --io-log`,
 * run in-process. Reads are left out of both: only writes, zero ranges, flushes and truncates
 * change the file, and those are what the comparison is about.
 *
 * Other helpers: `qemuImgCheckJson`, `qemuImgMapJson`, `qemuIoRun` (e.g. read -P verification),
 * `runLabCli` (the lab's CLI in-process, capturing output and exit code), `makeTempDir`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { buildCli } from '../../src/cli/main.ts';
import { parseIoLog } from '../../src/device/io-log.ts';
import { LabError } from '../../src/util/errors.ts';

// The strace parser is the one `qedlab validate` uses; the tests compare through the same code.
import {
  formatHostIoOp,
  type HostIoOp,
  parseStraceForFile,
  STRACE_CALLS,
} from '../../src/validate/strace.ts';

export { formatHostIoOp, type HostIoOp, parseStraceForFile };

export interface RunOutput {
  image: Uint8Array;
  ops: HostIoOp[];
  status: number;
  stdout: string;
  stderr: string;
  imagePath: string;
}

export interface CompareOptions {
  format: string;
  createOptions?: string;
  sizeBytes: number | string;
  script: readonly string[];
  cacheMode: 'writeback' | 'writethrough';
  /** Scratch directory (a fresh temp dir when omitted). */
  dir?: string;
  /** Extra files to place next to the images first (e.g. a backing file): name → bytes. */
  files?: Record<string, Uint8Array>;
}

export interface CompareRun {
  qemu: RunOutput;
  lab: RunOutput;
  dir: string;
}

const TEMP_DIRS: string[] = [];
// Registered while the importing test file is collected: its scratch directories go when it ends.
afterAll(() => {
  for (const dir of TEMP_DIRS.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed after the importing test file's tests. */
export function makeTempDir(prefix = 'qedlab-cmp-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  TEMP_DIRS.push(dir);
  return dir;
}

export function compareWithQemuIo(options: CompareOptions): CompareRun {
  const dir = options.dir ?? makeTempDir();
  for (const [name, bytes] of Object.entries(options.files ?? {})) {
    fs.writeFileSync(path.join(dir, name), bytes);
  }
  const template = path.join(dir, `template.${options.format}`);
  const createArgs = ['create', '-q', '-f', options.format];
  if (options.createOptions) createArgs.push('-o', options.createOptions);
  createArgs.push(template, String(options.sizeBytes));
  const created = spawnSync('qemu-img', createArgs, { cwd: dir, encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`qemu-img create failed: ${created.stderr}`);
  const qemuPath = path.join(dir, `qemu.${options.format}`);
  const labPath = path.join(dir, `lab.${options.format}`);
  fs.copyFileSync(template, qemuPath);
  fs.copyFileSync(template, labPath);
  const qemu = straceQemuIo(qemuPath, options.format, options.cacheMode, options.script);
  const lab = runLabIo(labPath, options.format, options.cacheMode, options.script);
  return { qemu, lab, dir };
}

/** qemu-io with the script on standard input, under strace; host I/O on the image file only. */
export function straceQemuIo(
  imagePath: string,
  format: string,
  cacheMode: 'writeback' | 'writethrough',
  script: readonly string[],
): RunOutput {
  const tracePath = `${imagePath}.strace`;
  const result = spawnSync(
    'strace',
    [
      '-f',
      '-s',
      '0',
      '-o',
      tracePath,
      '-e',
      `trace=${STRACE_CALLS}`,
      'qemu-io',
      '-t',
      cacheMode,
      '-f',
      format,
      path.basename(imagePath),
    ],
    {
      cwd: path.dirname(imagePath),
      input: `${script.join('\n')}\n`,
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    },
  );
  const ops = parseStraceForFile(fs.readFileSync(tracePath, 'utf8'), path.basename(imagePath));
  return {
    image: new Uint8Array(fs.readFileSync(imagePath)),
    ops,
    status: result.status ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    imagePath,
  };
}

/** `qedlab io --io-log` in-process; the log is reduced to the ops that change the file. */
export function runLabIo(
  imagePath: string,
  format: string,
  cacheMode: 'writeback' | 'writethrough',
  script: readonly string[],
): RunOutput {
  const scriptPath = `${imagePath}.script`;
  const logPath = `${imagePath}.iolog`;
  fs.writeFileSync(scriptPath, `${script.join('\n')}\n`);
  const cli = runLabCli([
    'io',
    '-q',
    '-f',
    format,
    '-t',
    cacheMode,
    '--script',
    scriptPath,
    '--io-log',
    logPath,
    imagePath,
  ]);
  const ops: HostIoOp[] = [];
  if (fs.existsSync(logPath)) {
    for (const r of parseIoLog(fs.readFileSync(logPath, 'utf8'))) {
      if (r.op === 'write' || r.op === 'zero')
        ops.push({ op: r.op, offset: r.offset, length: r.length });
      else if (r.op === 'flush') ops.push({ op: 'flush' });
      else if (r.op === 'truncate') ops.push({ op: 'truncate', size: r.size });
    }
  }
  return { image: new Uint8Array(fs.readFileSync(imagePath)), ops, ...cli, imagePath };
}

export interface IoDifference {
  index: number;
  qemu: HostIoOp | undefined;
  lab: HostIoOp | undefined;
  /** A few ops of context either side, rendered one per line, for assertion messages. */
  context: string;
}

function sameOp(a: HostIoOp | undefined, b: HostIoOp | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The first index where the two sequences differ, or undefined when they are identical. */
export function firstIoDifference(
  qemu: readonly HostIoOp[],
  lab: readonly HostIoOp[],
): IoDifference | undefined {
  const n = Math.max(qemu.length, lab.length);
  for (let i = 0; i < n; i++) {
    if (!sameOp(qemu[i], lab[i])) {
      const lines: string[] = [];
      for (let j = Math.max(0, i - 3); j < Math.min(n, i + 4); j++) {
        lines.push(
          `${j === i ? '>' : ' '} #${j}: qemu ${formatHostIoOp(qemu[j])} | lab ${formatHostIoOp(lab[j])}`,
        );
      }
      return { index: i, qemu: qemu[i], lab: lab[i], context: lines.join('\n') };
    }
  }
  return undefined;
}

/** First differing byte offset (a length difference counts at the shorter length), or -1. */
export function firstByteDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

function run(tool: string, args: readonly string[], input?: string): ToolResult {
  const result = spawnSync(tool, [...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    ...(input === undefined ? {} : { input }),
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** `qemu-img check --output=json [-r MODE]`: exit status and the parsed JSON object. */
export function qemuImgCheckJson(
  imagePath: string,
  format: string,
  repair?: 'leaks' | 'all',
): { status: number; json: Record<string, unknown>; stderr: string } {
  const args = ['check', '--output=json', '-f', format];
  if (repair) args.push('-r', repair);
  const r = run('qemu-img', [...args, imagePath]);
  let json: Record<string, unknown> = {};
  const start = r.stdout.indexOf('{');
  if (start >= 0) json = JSON.parse(r.stdout.slice(start)) as Record<string, unknown>;
  return { status: r.status, json, stderr: r.stderr };
}

/** `qemu-img map --output=json`, raw text and parsed entries. */
export function qemuImgMapJson(
  imagePath: string,
  format: string,
): { text: string; entries: unknown[] } {
  const r = run('qemu-img', ['map', '--output=json', '-f', format, imagePath]);
  if (r.status !== 0) throw new Error(`qemu-img map failed: ${r.stderr}`);
  return { text: r.stdout, entries: JSON.parse(r.stdout) as unknown[] };
}

/** qemu-io with commands on standard input (e.g. `read -P 0xaa 0 4k` checks); -t writeback. */
export function qemuIoRun(
  imagePath: string,
  format: string,
  commands: readonly string[],
): ToolResult {
  const r = run(
    'qemu-io',
    ['-t', 'writeback', '-f', format, imagePath],
    `${commands.join('\n')}\n`,
  );
  return r;
}

/** qemu-io's output says so when a `read -P` differs; its exit status alone does not on stdin. */
export function qemuIoPatternFailures(result: ToolResult): string[] {
  return `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((l) => /Pattern verification failed|error|failed/i.test(l));
}

/**
 * The lab's CLI in-process (synchronous commands only): exit status and what it printed, captured
 * from process.stdout/stderr and console for the duration of the call. A LabError is reported as
 * the CLI reports it (`qedlab: <message>`, its exit code).
 */
export function runLabCli(args: readonly string[]): ToolResult {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const log = console.log;
  const error = console.error;
  const savedExitCode = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  console.log = (...parts: unknown[]) => {
    stdout += `${parts.join(' ')}\n`;
  };
  console.error = (...parts: unknown[]) => {
    stderr += `${parts.join(' ')}\n`;
  };
  let status = 0;
  try {
    buildCli(args).parse();
    status = Number(process.exitCode ?? 0);
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    stderr += `qedlab: ${e.message.split('\n')[0]}\n`;
    status = e.exitCode;
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    console.log = log;
    console.error = error;
    process.exitCode = savedExitCode;
  }
  return { status, stdout, stderr };
}
