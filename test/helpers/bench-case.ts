import type { BenchCase } from '../../src/bench/cases.ts';
import type { ParamValue } from '../../src/workloads/params.ts';

/** A bench case from the few fields a test cares about. */
export function benchCase(fields: {
  format: string;
  type: string;
  params: Record<string, ParamValue>;
  sizeBytes: number;
  device?: string;
  seed?: number;
  crashPoints?: number;
  createOptions?: Record<string, string>;
}): BenchCase {
  const configId = `t/${fields.format}/${fields.type}`;
  return {
    suite: 't',
    group: 't',
    format: fields.format,
    variant: 'qemu',
    label: fields.format,
    createOptions: fields.createOptions ?? {},
    workload: { type: fields.type, label: fields.type, params: fields.params, source: 'test' },
    sizeBytes: fields.sizeBytes,
    device: fields.device ?? 'none',
    seed: fields.seed ?? 1,
    crashPoints: fields.crashPoints ?? 0,
    crashPolicy: 'all-lost',
    fsckAtEnd: true,
    cache: 'writeback',
    data: 'drop',
    baseDir: '.',
    configId,
    caseId: `${configId}/seed=${fields.seed ?? 1}`,
  };
}
