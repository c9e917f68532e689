import { Rng } from '../util/rng.ts';
import { FLUSH, resolveCommon, slotCount } from './common.ts';
import { ParamError } from './params.ts';
import type { GuestRequest } from './types.ts';
import type { WorkloadType } from './workload-type.ts';

export const MAX_CHECKPOINT_SNAPSHOTS = 10_000;

/**
 * Bursts of random writes with an internal snapshot after every `snapshotEvery` writes (a VM
 * checkpointed on a schedule): the cost of snapshot N as N grows to 10,000.
 */
export const checkpointWorkload: WorkloadType = {
  name: 'checkpoint',
  describe: 'random write bursts with an internal snapshot every snapshotEvery writes',
  params: {
    snapshots: {
      kind: 'count',
      help: `internal snapshots to take (1..${MAX_CHECKPOINT_SNAPSHOTS}, default 10)`,
      min: 1,
      max: MAX_CHECKPOINT_SNAPSHOTS,
    },
    snapshotEvery: { kind: 'count', help: 'writes between snapshots (default 16)', min: 1 },
  },
  excludesCommon: ['requests'],
  create(params, context) {
    const common = resolveCommon(params, context);
    if (common.readPercent > 0)
      throw new ParamError('readPercent', 'checkpoint writes only; use zipf or random for a mix');
    const snapshots = typeof params.snapshots === 'number' ? params.snapshots : 10;
    const every = typeof params.snapshotEvery === 'number' ? params.snapshotEvery : 16;
    const slots = slotCount(common);
    function* requests(): Generator<GuestRequest> {
      const rng = new Rng(context.seed);
      let sinceFlush = 0;
      for (let s = 0; s < snapshots; s++) {
        for (let w = 0; w < every; w++) {
          yield {
            op: 'write',
            offsetBytes: common.offset + rng.nextInt(slots) * common.align,
            lengthBytes: common.bs,
          };
          if (common.flushEvery > 0 && ++sinceFlush === common.flushEvery) {
            sinceFlush = 0;
            yield FLUSH;
          }
        }
        yield { op: 'snapshot', offsetBytes: 0, lengthBytes: 0 };
      }
    }
    const writes = snapshots * every;
    const flushes = common.flushEvery > 0 ? Math.floor(writes / common.flushEvery) : 0;
    return { type: 'checkpoint', requestCount: writes + flushes + snapshots, requests };
  },
};
