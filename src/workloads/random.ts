import { Rng } from '../util/rng.ts';
import { dataRequests, resolveCommon, slotCount, withFlushes } from './common.ts';
import type { WorkloadType } from './workload-type.ts';

/** Uniformly random aligned offsets over the working set (fio rw=randwrite / randrw). */
export const randomWorkload: WorkloadType = {
  name: 'random',
  describe: 'uniformly random aligned offsets over the working set',
  params: {},
  create(params, context) {
    const common = resolveCommon(params, context);
    const count = common.requests ?? 10_000;
    const slots = slotCount(common);
    function* offsets(): Generator<number> {
      const rng = new Rng(context.seed);
      for (let i = 0; i < count; i++) yield common.offset + rng.nextInt(slots) * common.align;
    }
    return {
      type: 'random',
      requestCount: withFlushes(count, common),
      requests: () => dataRequests(offsets(), common, context.seed),
    };
  },
};
