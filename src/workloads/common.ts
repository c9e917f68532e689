import { Rng } from '../util/rng.ts';
import { formatSize } from '../util/size.ts';
import { ParamError, type ParamValue } from './params.ts';
import type { GuestRequest } from './types.ts';

/** What every generator receives besides its own parameters. */
export interface WorkloadContext {
  virtualSizeBytes: number;
  seed: number;
  /** Directory that relative file names (replay traces) are resolved against. */
  baseDir?: string;
}

/** The common fio-like parameters, resolved against the image's virtual size. */
export interface CommonParams {
  bs: number;
  requests: number | undefined;
  offset: number;
  workingSet: number;
  align: number;
  readPercent: number;
  flushEvery: number;
}

export function resolveCommon(
  params: Readonly<Record<string, ParamValue>>,
  context: WorkloadContext,
): CommonParams {
  const num = (key: string): number | undefined => {
    const v = params[key];
    return typeof v === 'number' ? v : undefined;
  };
  const bs = num('bs') ?? 4096;
  const offset = num('offset') ?? 0;
  const align = num('align') ?? bs;
  if (bs % 512 !== 0) throw new ParamError('bs', `must be a multiple of 512, got ${bs}`);
  if (align % 512 !== 0) throw new ParamError('align', `must be a multiple of 512, got ${align}`);
  if (offset % 512 !== 0)
    throw new ParamError('offset', `must be a multiple of 512, got ${offset}`);
  if (offset >= context.virtualSizeBytes)
    throw new ParamError(
      'offset',
      `${formatSize(offset)} is past the end of a ${formatSize(context.virtualSizeBytes)} image`,
    );
  const workingSet = num('workingSet') ?? context.virtualSizeBytes - offset;
  if (offset + workingSet > context.virtualSizeBytes)
    throw new ParamError(
      'workingSet',
      `offset + workingSet (${formatSize(offset + workingSet)}) exceeds the ${formatSize(context.virtualSizeBytes)} image`,
    );
  if (bs > workingSet)
    throw new ParamError(
      'bs',
      `${formatSize(bs)} is larger than the working set (${formatSize(workingSet)})`,
    );
  return {
    bs,
    requests: num('requests'),
    offset,
    workingSet,
    align,
    readPercent: num('readPercent') ?? 0,
    flushEvery: num('flushEvery') ?? 0,
  };
}

/** Number of aligned slots where a request of `bs` fits inside the working set. */
export function slotCount(common: CommonParams): number {
  return Math.floor((common.workingSet - common.bs) / common.align) + 1;
}

export const FLUSH: Readonly<GuestRequest> = Object.freeze({
  op: 'flush',
  offsetBytes: 0,
  lengthBytes: 0,
});

/**
 * Turns a stream of offsets into data requests: reads with probability readPercent (drawn from
 * its own seeded stream, so the read mix never moves the offsets), and a flush after every
 * `flushEvery` data requests.
 */
export function* dataRequests(
  offsets: Iterable<number>,
  common: CommonParams,
  seed: number,
): Generator<GuestRequest> {
  const mixRng = new Rng((seed ^ 0x5bd1e995) >>> 0);
  const readShare = common.readPercent / 100;
  let sinceFlush = 0;
  for (const offsetBytes of offsets) {
    const isRead = readShare > 0 && (readShare >= 1 || mixRng.nextFloat() < readShare);
    yield { op: isRead ? 'read' : 'write', offsetBytes, lengthBytes: common.bs };
    if (common.flushEvery > 0 && ++sinceFlush === common.flushEvery) {
      sinceFlush = 0;
      yield FLUSH;
    }
  }
}

/** Request count including the flushes `dataRequests` adds. */
export function withFlushes(dataCount: number, common: CommonParams): number {
  return dataCount + (common.flushEvery > 0 ? Math.floor(dataCount / common.flushEvery) : 0);
}
