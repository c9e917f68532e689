import { Rng } from '../util/rng.ts';
import { formatSize } from '../util/size.ts';
import type { WorkloadContext } from './common.ts';
import { type CommonParams, dataRequests, resolveCommon, withFlushes } from './common.ts';
import { ParamError, type ParamSpec, type ParamValue } from './params.ts';
import { IndexPermutation } from './permutation.ts';
import type { Workload } from './types.ts';
import type { WorkloadType } from './workload-type.ts';

/**
 * Writes scattered evenly over the whole working set: the address space is cut into `requests`
 * equal strata and each gets exactly one request, at a seeded random aligned position inside it,
 * visited in seeded random order. That is the 2010 thread's worst case for a table scan: at
 * 0.003 % density with 64 KiB writes on 1 TiB, one write lands in each 2 GiB span, so every QED
 * L2 table exists and holds a single entry.
 */
function createSparse(
  type: string,
  params: Readonly<Record<string, ParamValue>>,
  context: WorkloadContext,
  defaultRequests: number | undefined,
): Workload {
  const common = resolveCommon(params, context);
  const density = typeof params.density === 'number' ? params.density : undefined;
  let count = common.requests ?? defaultRequests;
  if (density !== undefined) {
    if (common.requests !== undefined)
      throw new ParamError('density', 'give either density or requests, not both');
    count = Math.max(1, Math.round((density * common.workingSet) / common.bs));
  }
  if (count === undefined) throw new ParamError('density', 'sparse needs density or requests');
  const strataBytes = common.workingSet / count;
  if (strataBytes < common.bs)
    throw new ParamError(
      density !== undefined ? 'density' : 'requests',
      `${count} requests of ${formatSize(common.bs)} do not fit one per stratum in ${formatSize(common.workingSet)}; use random or sequential`,
    );
  const order = params.order === 'ascending' ? 'ascending' : 'random';
  const place = params.place === 'start' ? 'start' : 'random';
  const n = count;
  function* offsets(): Generator<number> {
    const rng = new Rng(context.seed);
    const permutation = order === 'random' ? new IndexPermutation(n, rng.fork()) : undefined;
    for (let i = 0; i < n; i++) {
      const stratum = permutation ? permutation.at(i) : i;
      yield stratumOffset(common, strataBytes, stratum, place === 'random' ? rng : undefined);
    }
  }
  return {
    type,
    requestCount: withFlushes(n, common),
    requests: () => dataRequests(offsets(), common, context.seed),
  };
}

function stratumOffset(
  common: CommonParams,
  strataBytes: number,
  stratum: number,
  rng: Rng | undefined,
): number {
  const lo = Math.floor(stratum * strataBytes);
  const hi = Math.floor((stratum + 1) * strataBytes);
  const first = Math.ceil(lo / common.align) * common.align;
  const last = Math.floor((hi - common.bs) / common.align) * common.align;
  if (!rng || last <= first) return common.offset + first;
  return common.offset + first + rng.nextInt((last - first) / common.align + 1) * common.align;
}

const PLACEMENT_PARAMS: Readonly<Record<string, ParamSpec>> = {
  order: {
    kind: 'enum',
    choices: ['random', 'ascending'],
    help: 'visit the strata in seeded random order (default) or front to back',
  },
  place: {
    kind: 'enum',
    choices: ['random', 'start'],
    help: 'each write at a random aligned spot in its stratum (default) or at its start',
  },
};

export const sparseWorkload: WorkloadType = {
  name: 'sparse',
  describe: 'one write per equal stratum of the working set, at a given allocation density',
  params: {
    density: {
      kind: 'fraction',
      help: 'fraction of the working set written, e.g. "0.003%" (alternative to requests)',
    },
    ...PLACEMENT_PARAMS,
  },
  create: (params, context) => createSparse('sparse', params, context, undefined),
};

/**
 * The same number of sparse writes whatever the virtual size: swept over 1 TiB → 1 PiB it shows
 * how the fsck cost scales with the size of the disk rather than with the data on it.
 */
export const tbSparseWorkload: WorkloadType = {
  name: 'tb-sparse',
  describe: 'a fixed number of sparse writes (default 4096) spread over any virtual size',
  params: { ...PLACEMENT_PARAMS },
  create: (params, context) => createSparse('tb-sparse', params, context, 4096),
};
