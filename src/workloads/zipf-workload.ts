import { Rng } from '../util/rng.ts';
import { dataRequests, resolveCommon, slotCount, withFlushes } from './common.ts';
import { IndexPermutation } from './permutation.ts';
import type { WorkloadType } from './workload-type.ts';
import { ZipfSampler } from './zipf.ts';

/**
 * A skewed hot set (fio random_distribution=zipf:θ): block ranks follow Zipf's law, and a seeded
 * permutation scatters the ranks over the working set so the hot blocks are not all at the front.
 */
export const zipfWorkload: WorkloadType = {
  name: 'zipf',
  describe: 'zipf-distributed offsets (fio random_distribution=zipf:theta) over the working set',
  params: {
    theta: {
      kind: 'number',
      help: 'zipf exponent θ (fio default 1.2); larger is more skewed',
      min: 0.01,
      max: 100,
    },
  },
  create(params, context) {
    const common = resolveCommon(params, context);
    const theta = typeof params.theta === 'number' ? params.theta : 1.2;
    const count = common.requests ?? 10_000;
    const slots = slotCount(common);
    function* offsets(): Generator<number> {
      const rng = new Rng(context.seed);
      const scatter = new IndexPermutation(slots, rng.fork());
      const sampler = new ZipfSampler(slots, theta);
      for (let i = 0; i < count; i++)
        yield common.offset + scatter.at(sampler.sample(rng) - 1) * common.align;
    }
    return {
      type: 'zipf',
      requestCount: withFlushes(count, common),
      requests: () => dataRequests(offsets(), common, context.seed),
    };
  },
};
