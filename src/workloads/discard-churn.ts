import { Rng } from '../util/rng.ts';
import { formatSize } from '../util/size.ts';
import { FLUSH, resolveCommon } from './common.ts';
import { ParamError } from './params.ts';
import type { GuestRequest } from './types.ts';
import type { WorkloadType } from './workload-type.ts';

/**
 * Write/discard cycles (a guest filesystem creating and deleting files with discard on): each
 * cycle fills a random extent with sequential writes and then discards all of it. Formats that
 * cannot reuse freed space (QED has no discard at all) grow; qcow2 frees and reallocates.
 */
export const discardChurnWorkload: WorkloadType = {
  name: 'discard-churn',
  describe: 'fill a random extent, discard it, repeat (requests = writes in total)',
  params: {
    extent: { kind: 'size', help: 'bytes written then discarded per cycle (default 1M)', min: 512 },
  },
  create(params, context) {
    const common = resolveCommon(params, context);
    if (common.readPercent > 0) throw new ParamError('readPercent', 'discard-churn writes only');
    const extent = typeof params.extent === 'number' ? params.extent : 1024 * 1024;
    if (extent % common.bs !== 0)
      throw new ParamError('extent', `must be a multiple of bs (${formatSize(common.bs)})`);
    if (extent > common.workingSet)
      throw new ParamError('extent', `${formatSize(extent)} is larger than the working set`);
    const writes = common.requests ?? 10_000;
    const perExtent = extent / common.bs;
    const extentSlots = Math.floor(common.workingSet / extent);
    const cycles = Math.ceil(writes / perExtent);
    function* requests(): Generator<GuestRequest> {
      const rng = new Rng(context.seed);
      let written = 0;
      let sinceFlush = 0;
      while (written < writes) {
        const start = common.offset + rng.nextInt(extentSlots) * extent;
        const n = Math.min(perExtent, writes - written);
        for (let i = 0; i < n; i++) {
          yield { op: 'write', offsetBytes: start + i * common.bs, lengthBytes: common.bs };
          if (common.flushEvery > 0 && ++sinceFlush === common.flushEvery) {
            sinceFlush = 0;
            yield FLUSH;
          }
        }
        written += n;
        yield { op: 'discard', offsetBytes: start, lengthBytes: n * common.bs };
      }
    }
    const flushes = common.flushEvery > 0 ? Math.floor(writes / common.flushEvery) : 0;
    return { type: 'discard-churn', requestCount: writes + cycles + flushes, requests };
  },
};
