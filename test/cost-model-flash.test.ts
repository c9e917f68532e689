import { describe, expect, it } from 'vitest';
import type { CostedOp } from '../src/device/cost-model.ts';
import {
  createCostModel,
  FlashCostModel,
  NVME_PARAMETERS,
  NVME_PLP_PARAMETERS,
  SATA_SSD_PARAMETERS,
} from '../src/device/cost-models.ts';

const US = 1000;

function randomReads(count: number, lengthBytes = 4096): CostedOp[] {
  return Array.from({ length: count }, (_, i) => ({
    op: 'read' as const,
    offsetBytes: ((i * 7919) % 100_000) * 4096,
    lengthBytes,
  }));
}

describe('flash cost models (sata-ssd, nvme, nvme-plp)', () => {
  it('sata-ssd: a 4 KiB random read costs the 850 EVO QD1 figure (100 µs), a write 25 µs', () => {
    const model = createCostModel('sata-ssd');
    expect(model.costNs('read', 123 * 4096, 4096)).toBe(100 * US);
    expect(model.costNs('write', 0, 4096)).toBe(25 * US);
  });

  it('sata-ssd: a 1 MiB read = latency + size over 540 MB/s', () => {
    const model = createCostModel('sata-ssd');
    const latencyNs = 100 * US - (4096 * 1e9) / 540e6;
    expect(model.costNs('read', 0, 1 << 20)).toBe(
      Math.round(latencyNs + ((1 << 20) * 1e9) / 540e6),
    );
    const writeLatencyNs = 25 * US - (4096 * 1e9) / 520e6;
    expect(model.costNs('write', 0, 1 << 20)).toBe(
      Math.round(writeLatencyNs + ((1 << 20) * 1e9) / 520e6),
    );
  });

  it('random and sequential cost the same (no positional state)', () => {
    const model = createCostModel('nvme');
    const first = model.costNs('read', 0, 4096);
    expect(model.costNs('read', 4096, 4096)).toBe(first);
    expect(model.costNs('read', 2 ** 40, 4096)).toBe(first);
  });

  it('nvme: 4 KiB read 77.9 µs (P3700), write 20 µs, 2,800/2,000 MB/s', () => {
    const model = createCostModel('nvme');
    expect(model.costNs('read', 0, 4096)).toBe(77_900);
    expect(model.costNs('write', 0, 4096)).toBe(20_000);
    expect(model.costNs('read', 0, 1 << 20)).toBe(
      Math.round(77_900 - (4096 * 1e9) / 2800e6 + ((1 << 20) * 1e9) / 2800e6),
    );
  });

  it('flush: 2 ms sata-ssd (derived), 1,643 µs nvme without PLP, 35 µs with PLP', () => {
    expect(createCostModel('sata-ssd').costNs('flush', 0, 0)).toBe(2_000_000);
    expect(createCostModel('nvme').costNs('flush', 0, 0)).toBe(1_643_000);
    expect(createCostModel('nvme-plp').costNs('flush', 0, 0)).toBe(35_000);
    expect(NVME_PARAMETERS.powerLossProtection).toBe(false);
    expect(NVME_PLP_PARAMETERS.powerLossProtection).toBe(true);
    expect(SATA_SSD_PARAMETERS.powerLossProtection).toBe(false);
  });

  it('a zero range costs one write command without transfer; truncate is free', () => {
    const model = createCostModel('nvme');
    expect(model.costNs('zero', 0, 1 << 30)).toBe(Math.round(20_000 - (4096 * 1e9) / 2000e6));
    expect(model.costNs('truncate', 0, 0)).toBe(0);
  });

  it('a batch at queue depth 1 costs the sum of its requests', () => {
    const model = createCostModel('sata-ssd');
    const ops = randomReads(50);
    const sum = ops.reduce((s, op) => s + model.costNs(op.op, op.offsetBytes, op.lengthBytes), 0);
    expect(Math.abs(model.batchCostNs(ops, 1) - sum)).toBeLessThanOrEqual(50);
  });

  it('nvme at QD16 reaches the P3700 QD16 figure: 167.2k 4 KiB random-read IOPS (±5%)', () => {
    const model = createCostModel('nvme');
    const ops = randomReads(10_000);
    const iops = ops.length / (model.batchCostNs(ops, 16) / 1e9);
    expect(iops).toBeGreaterThan(167_200 * 0.95);
    expect(iops).toBeLessThan(167_200 * 1.05);
  });

  it('sata-ssd at QD32 reaches the 850 EVO QD32 read figure: ~98k IOPS (±5%)', () => {
    const model = createCostModel('sata-ssd');
    const ops = randomReads(10_000);
    const iops = ops.length / (model.batchCostNs(ops, 32) / 1e9);
    expect(iops).toBeGreaterThan(98_000 * 0.95);
    expect(iops).toBeLessThan(98_000 * 1.05);
  });

  it('parallelism is capped by the channel count, and large transfers by the link', () => {
    const model = new FlashCostModel('nvme', NVME_PARAMETERS);
    const ops = randomReads(1300);
    expect(model.batchCostNs(ops, 13)).toBe(model.batchCostNs(ops, 64));
    expect(model.batchCostNs(ops, 4)).toBeGreaterThan(model.batchCostNs(ops, 13));
    const big = randomReads(100, 1 << 20);
    const linkBoundNs = (100 * (1 << 20) * 1e9) / 2800e6;
    expect(model.batchCostNs(big, 16)).toBeGreaterThanOrEqual(Math.floor(linkBoundNs));
  });

  it('a flush in a batch waits for everything before it', () => {
    const model = createCostModel('nvme');
    const write: CostedOp = { op: 'write', offsetBytes: 0, lengthBytes: 4096 };
    const flush: CostedOp = { op: 'flush', offsetBytes: 0, lengthBytes: 0 };
    expect(model.batchCostNs([write, write, flush, write], 16)).toBe(
      Math.round(20_000 + (4096 * 1e9) / 2000e6 + 1_643_000 + 20_000),
    );
  });
});
