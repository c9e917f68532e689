import { describe, expect, it } from 'vitest';
import type { CostedOp } from '../src/device/cost-model.ts';
import { HDD_PARAMETERS, HddCostModel } from '../src/device/cost-models.ts';

const MS = 1_000_000;
const CAPACITY = 4e12;
const HALF_ROTATION_NS = 60e9 / 7200 / 2;
// Seek curve constants recomputed from the datasheet figures (HC310: 0.23 ms single track,
// 7.4 ms average read): settle + k·sqrt(d / capacity), k = (average − settle)·15/8.
const READ_SLOPE_MS = ((7.4 - 0.23) * 15) / 8;
const WRITE_SLOPE_MS = ((8.2 - 0.32) * 15) / 8;

function zonedBandwidth(offset: number): number {
  return 175e6 - (175e6 - 83e6) * Math.min(1, offset / CAPACITY);
}

describe('hdd cost model (7200 rpm, HC310 seeks, ES.3 zones)', () => {
  it('uses the datasheet parameters', () => {
    expect(HDD_PARAMETERS.rpm).toBe(7200);
    expect(HDD_PARAMETERS.averageSeekReadNs).toBe(7.4 * MS);
    expect(HDD_PARAMETERS.averageSeekWriteNs).toBe(8.2 * MS);
    expect(HDD_PARAMETERS.singleTrackSeekReadNs).toBe(0.23 * MS);
    expect(HDD_PARAMETERS.outerBandwidthBytesPerSecond).toBe(175e6);
    expect(HDD_PARAMETERS.innerBandwidthBytesPerSecond).toBe(83e6);
  });

  it('a 4 KiB random read = seek(distance) + half a rotation + transfer', () => {
    const model = new HddCostModel();
    const offset = 1e12; // a quarter of the platter away from the head at 0
    const seekNs = (0.23 + READ_SLOPE_MS * Math.sqrt(offset / CAPACITY)) * MS;
    const transferNs = (4096 * 1e9) / zonedBandwidth(offset);
    expect(model.costNs('read', offset, 4096)).toBe(
      Math.round(seekNs + HALF_ROTATION_NS + transferNs),
    );
    // 6.95 ms seek + 4.17 ms rotation + 0.027 ms transfer
    expect(model.costNs('read', 3e12, 4096)).toBeGreaterThan(10 * MS);
  });

  it('a sequential follow-on read pays only the transfer', () => {
    const model = new HddCostModel();
    model.costNs('read', 1e12, 4096);
    expect(model.costNs('read', 1e12 + 4096, 4096)).toBe(
      Math.round((4096 * 1e9) / zonedBandwidth(1e12 + 4096)),
    );
  });

  it('writes use the write seek curve', () => {
    const model = new HddCostModel();
    const offset = 1e12;
    const seekNs = (0.32 + WRITE_SLOPE_MS * Math.sqrt(offset / CAPACITY)) * MS;
    expect(model.costNs('write', offset, 4096)).toBe(
      Math.round(seekNs + HALF_ROTATION_NS + (4096 * 1e9) / zonedBandwidth(offset)),
    );
  });

  it('the seek curve averages 7.4 ms (read) / 8.2 ms (write) over random start and end points', () => {
    const model = new HddCostModel();
    const steps = 400;
    let readSum = 0;
    let writeSum = 0;
    let count = 0;
    for (let i = 0; i < steps; i++) {
      for (let j = 0; j < steps; j++) {
        const distance = (Math.abs(i - j) / steps) * CAPACITY + CAPACITY / steps / 2;
        readSum += model.seekNs(distance, 'read');
        writeSum += model.seekNs(distance, 'write');
        count++;
      }
    }
    expect(readSum / count / MS).toBeCloseTo(7.4, 1);
    expect(writeSum / count / MS).toBeCloseTo(8.2, 1);
    // Full stroke and a very short seek bracket the curve.
    expect(model.seekNs(CAPACITY, 'read') / MS).toBeCloseTo(0.23 + READ_SLOPE_MS, 6);
    expect(model.seekNs(1, 'read') / MS).toBeCloseTo(0.23, 2);
    expect(model.seekNs(0, 'read')).toBe(0);
  });

  it('a short forward skip within a track waits for the gap to pass under the head', () => {
    const model = new HddCostModel();
    model.costNs('write', 0, 4096);
    const gap = 60_000;
    expect(model.costNs('write', 4096 + gap, 4096)).toBe(
      Math.round((gap * 1e9) / zonedBandwidth(4096) + (4096 * 1e9) / zonedBandwidth(4096 + gap)),
    );
    // Far cheaper than a seek plus half a rotation.
    expect(model.costNs('write', 4096 + gap + 4096 + gap, 4096)).toBeLessThan(
      HALF_ROTATION_NS / 10,
    );
  });

  it('a forward skip of almost a whole track costs no more than a seek plus half a rotation', () => {
    const model = new HddCostModel();
    model.costNs('read', 0, 4096);
    const trackBytes = 175e6 * (60 / 7200);
    const gap = Math.floor(trackBytes * 0.95);
    const seekAndRotationNs =
      (0.23 + READ_SLOPE_MS * Math.sqrt(gap / CAPACITY)) * MS + HALF_ROTATION_NS;
    expect(model.positioningNs(4096 + gap, 'read')).toBeCloseTo(seekAndRotationNs, 3);
    expect(model.positioningNs(4096 + gap, 'read')).toBeLessThan(
      (gap * 1e9) / zonedBandwidth(4096),
    );
  });

  it('transfer rate falls from the outer to the inner zone, or is a fixed average', () => {
    const zoned = new HddCostModel();
    expect(zoned.bandwidthAt(0)).toBe(175e6);
    expect(zoned.bandwidthAt(CAPACITY)).toBe(83e6);
    expect(zoned.bandwidthAt(CAPACITY / 2)).toBe(129e6);
    const average = new HddCostModel({ bandwidth: 'average' });
    expect(average.bandwidthAt(0)).toBe(129e6);
    const small = new HddCostModel({ parameters: { capacityBytes: 1e9 } });
    expect(small.bandwidthAt(1e9)).toBe(83e6);
  });

  it('flush costs one revolution (derived); zero ranges and truncates cost nothing and leave the head', () => {
    const model = new HddCostModel();
    expect(model.costNs('flush', 0, 0)).toBe(Math.round(60e9 / 7200));
    model.costNs('read', 0, 4096);
    expect(model.costNs('zero', 2e12, 1 << 20)).toBe(0);
    expect(model.costNs('truncate', 0, 0)).toBe(0);
    expect(model.headBytes).toBe(4096);
  });

  it('a batch is served in elevator order; queue depth 1 serves it in submission order', () => {
    const ops: CostedOp[] = [3e12, 1e12, 2e12].map((offsetBytes) => ({
      op: 'read',
      offsetBytes,
      lengthBytes: 4096,
    }));
    const sortedReference = new HddCostModel();
    const sortedNs = [1e12, 2e12, 3e12].reduce(
      (sum, offset) => sum + sortedReference.costNs('read', offset, 4096),
      0,
    );
    const fifoReference = new HddCostModel();
    const fifoNs = ops.reduce(
      (sum, op) => sum + fifoReference.costNs('read', op.offsetBytes, 4096),
      0,
    );
    expect(new HddCostModel().batchCostNs(ops, 32)).toBe(sortedNs);
    expect(new HddCostModel().batchCostNs(ops, 1)).toBe(fifoNs);
    expect(sortedNs).toBeLessThan(fifoNs);
  });

  it('the elevator sweeps up from the head and then wraps to the lowest offset (C-LOOK)', () => {
    const model = new HddCostModel();
    model.costNs('read', 2e12, 4096);
    const reference = new HddCostModel();
    reference.costNs('read', 2e12, 4096);
    const expected = reference.costNs('read', 3e12, 4096) + reference.costNs('read', 1e12, 4096);
    const ops: CostedOp[] = [
      { op: 'read', offsetBytes: 1e12, lengthBytes: 4096 },
      { op: 'read', offsetBytes: 3e12, lengthBytes: 4096 },
    ];
    expect(model.batchCostNs(ops, 8)).toBe(expected);
  });

  it('a flush in a batch is a barrier: nothing after it is reordered before it', () => {
    const ops: CostedOp[] = [
      { op: 'write', offsetBytes: 3e12, lengthBytes: 4096 },
      { op: 'flush', offsetBytes: 0, lengthBytes: 0 },
      { op: 'write', offsetBytes: 1e12, lengthBytes: 4096 },
    ];
    const reference = new HddCostModel();
    const expected = ops.reduce(
      (sum, op) => sum + reference.costNs(op.op, op.offsetBytes, op.lengthBytes),
      0,
    );
    expect(new HddCostModel().batchCostNs(ops, 32)).toBe(expected);
  });

  it('reset forgets the head position', () => {
    const model = new HddCostModel();
    model.costNs('read', 1e12, 4096);
    model.reset();
    expect(model.headBytes).toBe(0);
    expect(model.costNs('read', 0, 4096)).toBe(Math.round((4096 * 1e9) / 175e6));
  });
});
