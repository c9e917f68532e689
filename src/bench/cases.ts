import * as path from 'node:path';
import { formatNames } from '../formats/registry.ts';
import { formatSize } from '../util/size.ts';
import { createWorkload } from '../workloads/index.ts';
import { ParamError } from '../workloads/params.ts';
import { SuiteError } from './suite.ts';
import type { CrashPolicyName, Suite, WorkloadEntry } from './suite-types.ts';

/** One run: a format configuration, a workload, a virtual size, a device model and a seed. */
export interface BenchCase {
  suite: string;
  group: string;
  format: string;
  variant: string;
  label: string;
  /** Create options in effect (the entry's, plus any sizeOptions for this size). */
  createOptions: Record<string, string>;
  workload: WorkloadEntry;
  sizeBytes: number;
  device: string;
  seed: number;
  crashPoints: number;
  crashPolicy: CrashPolicyName;
  fsckAtEnd: boolean;
  cache: 'writeback' | 'writethrough';
  data: 'drop' | 'store';
  /** Directory the suite's relative file names resolve against. */
  baseDir: string;
  /** `group/label/workload/size/device` — the same configuration across seeds. */
  configId: string;
  /** configId plus `/seed=N`. */
  caseId: string;
}

export interface Expansion {
  cases: BenchCase[];
  /** Optional formats left out because this build has no driver for them. */
  skippedFormats: string[];
}

/** `1 TiB` → `1TiB`: sizes as they appear in case ids. */
export function sizeLabel(bytes: number): string {
  return formatSize(bytes).replace(' ', '');
}

/**
 * Expands a suite into cases, in a stable order (group, format, workload, size, device, seed).
 * Every workload is instantiated once per size, so a parameter that does not fit a size (a density
 * too high for it, a working set past its end) is a suite error before anything runs.
 */
export function expandSuite(suite: Suite): Expansion {
  const cases: BenchCase[] = [];
  const skipped = new Set<string>();
  const known = formatNames();
  const baseDir = path.dirname(path.resolve(suite.file));
  for (const group of suite.groups) {
    for (const entry of group.formats) {
      if (!known.includes(entry.format)) {
        skipped.add(entry.format);
        continue;
      }
      for (const workload of group.workloads) {
        for (const sizeBytes of group.sizesBytes) {
          try {
            createWorkload(workload.type, workload.params, {
              virtualSizeBytes: sizeBytes,
              seed: 1,
              baseDir,
            });
          } catch (error) {
            if (error instanceof ParamError)
              throw new SuiteError(
                suite.file,
                `${workload.source}.${error.key}`,
                `at size ${sizeLabel(sizeBytes)}: ${error.reason}`,
              );
            throw error;
          }
          const createOptions = { ...entry.options };
          for (const extra of entry.sizeOptions)
            if (sizeBytes > extra.aboveBytes) Object.assign(createOptions, extra.options);
          for (const device of group.devices) {
            const configId = [
              group.name,
              entry.label,
              workload.label,
              sizeLabel(sizeBytes),
              device,
            ].join('/');
            for (const seed of group.seeds) {
              cases.push({
                suite: suite.name,
                group: group.name,
                format: entry.format,
                variant: entry.variant,
                label: entry.label,
                createOptions,
                workload,
                sizeBytes,
                device,
                seed,
                crashPoints: group.crashPoints,
                crashPolicy: group.crashPolicy,
                fsckAtEnd: group.fsckAtEnd,
                cache: group.cache,
                data: group.data,
                baseDir,
                configId,
                caseId: `${configId}/seed=${seed}`,
              });
            }
          }
        }
      }
    }
  }
  return { cases, skippedFormats: [...skipped].sort() };
}
