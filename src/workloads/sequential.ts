import { dataRequests, resolveCommon, withFlushes } from './common.ts';
import type { WorkloadType } from './workload-type.ts';

/**
 * Fill from the start of the working set, one block after another (an OS install, a dd of an
 * image); wraps around when `requests` asks for more than one pass.
 */
export const sequentialWorkload: WorkloadType = {
  name: 'sequential',
  describe: 'fill the working set front to back (default: one full pass)',
  params: {},
  create(params, context) {
    const common = resolveCommon(params, context);
    const passBlocks = Math.floor(common.workingSet / common.bs);
    const count = common.requests ?? passBlocks;
    function* offsets(): Generator<number> {
      for (let i = 0; i < count; i++) yield common.offset + (i % passBlocks) * common.bs;
    }
    return {
      type: 'sequential',
      requestCount: withFlushes(count, common),
      requests: () => dataRequests(offsets(), common, context.seed),
    };
  },
};
