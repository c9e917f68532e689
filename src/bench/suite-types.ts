import type { ParamValue } from '../workloads/params.ts';

/**
 * A suite as the runner uses it, after validation: like a fio job file, groups of sweeps
 * (formats × variants × workloads × sizes × devices × seeds), each group answering one question.
 */
export interface Suite {
  name: string;
  description: string;
  /** Path the suite was read from (relative file names in it resolve against its directory). */
  file: string;
  /** sha256 of the suite's canonical JSON (keys sorted): identifies what was run. */
  hash: string;
  groups: SuiteGroup[];
}

export type CrashPolicyName = 'all-lost' | 'random-subset';

export interface FormatEntry {
  format: string;
  variant: string;
  /** Name of the line on a chart; defaults to the format (plus `:variant` when not qemu). */
  label: string;
  /** `-o` create options. */
  options: Record<string, string>;
  /** Extra create options from a virtual size upwards (QED's table_size 16 above 64 TiB). */
  sizeOptions: Array<{ aboveBytes: number; options: Record<string, string> }>;
  /** Skip, rather than reject, when the format is not registered in this build. */
  optional: boolean;
}

export interface WorkloadEntry {
  type: string;
  /** Label for rows and charts; defaults to the type plus any swept parameter values. */
  label: string;
  params: Record<string, ParamValue>;
  /** Where it came from in the suite file (`groups[0].workloads[1]`), for error messages. */
  source: string;
}

export interface SuiteGroup {
  name: string;
  question: string;
  formats: FormatEntry[];
  /** Already expanded over array-valued (swept) parameters. */
  workloads: WorkloadEntry[];
  sizesBytes: number[];
  devices: string[];
  seeds: number[];
  /** Power cuts at seeded random request indices, each followed by a measured reopen. */
  crashPoints: number;
  crashPolicy: CrashPolicyName;
  /** Power cut after the last request, then a measured reopen. */
  fsckAtEnd: boolean;
  /** writethrough = a flush after every write (QEMU cache=writethrough, qemu-io's default). */
  cache: 'writeback' | 'writethrough';
  /** drop = guest data is not stored (metadata only); store keeps it (slower, more memory). */
  data: 'drop' | 'store';
}
