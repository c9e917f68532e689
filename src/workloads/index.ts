import { checkpointWorkload } from './checkpoint.ts';
import type { WorkloadContext } from './common.ts';
import { discardChurnWorkload } from './discard-churn.ts';
import {
  COMMON_PARAMS,
  ParamError,
  type ParamSpec,
  type ParamValue,
  parseParamValue,
} from './params.ts';
import { randomWorkload } from './random.ts';
import { replayWorkload } from './replay.ts';
import { sequentialWorkload } from './sequential.ts';
import { sparseWorkload, tbSparseWorkload } from './sparse.ts';
import type { Workload } from './types.ts';
import type { WorkloadType } from './workload-type.ts';
import { zipfWorkload } from './zipf-workload.ts';

export type { WorkloadContext } from './common.ts';
export type { GuestRequest, Workload } from './types.ts';

const TYPES: readonly WorkloadType[] = [
  sequentialWorkload,
  randomWorkload,
  sparseWorkload,
  tbSparseWorkload,
  zipfWorkload,
  checkpointWorkload,
  discardChurnWorkload,
  replayWorkload,
];

export const WORKLOAD_NAMES: readonly string[] = TYPES.map((t) => t.name);

export function getWorkloadType(name: string): WorkloadType {
  const type = TYPES.find((t) => t.name === name);
  if (!type)
    throw new ParamError(
      'type',
      `unknown workload '${name}' (known: ${WORKLOAD_NAMES.join(', ')})`,
    );
  return type;
}

/** Every parameter a workload type accepts: the common ones it keeps, plus its own. */
export function workloadParamSpecs(name: string): Record<string, ParamSpec> {
  const type = getWorkloadType(name);
  const specs: Record<string, ParamSpec> = {};
  for (const [key, spec] of Object.entries(COMMON_PARAMS))
    if (!type.excludesCommon?.includes(key)) specs[key] = spec;
  return Object.assign(specs, type.params);
}

/** Checks and converts raw parameter values (suite JSON or command-line strings). */
export function parseWorkloadParams(
  name: string,
  raw: Readonly<Record<string, unknown>>,
): Record<string, ParamValue> {
  const specs = workloadParamSpecs(name);
  const params: Record<string, ParamValue> = {};
  for (const [key, value] of Object.entries(raw)) {
    const spec = specs[key];
    if (!spec)
      throw new ParamError(
        key,
        `unknown parameter for workload '${name}' (known: ${Object.keys(specs).join(', ')})`,
      );
    params[key] = parseParamValue(key, spec, value);
  }
  return params;
}

/** A ready-to-stream workload; throws ParamError for values that do not fit the image. */
export function createWorkload(
  name: string,
  params: Readonly<Record<string, ParamValue>>,
  context: WorkloadContext,
): Workload {
  return getWorkloadType(name).create(params, context);
}
