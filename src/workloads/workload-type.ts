import type { WorkloadContext } from './common.ts';
import type { ParamSpec, ParamValue } from './params.ts';
import type { Workload } from './types.ts';

/** One kind of workload: its own parameters (on top of COMMON_PARAMS) and its generator. */
export interface WorkloadType {
  readonly name: string;
  readonly describe: string;
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** Common parameters this type does not accept (e.g. replay takes its requests from a file). */
  readonly excludesCommon?: readonly string[];
  create(params: Readonly<Record<string, ParamValue>>, context: WorkloadContext): Workload;
}
