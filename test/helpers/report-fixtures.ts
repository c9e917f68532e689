import { createCanvas, loadImage } from '@napi-rs/canvas';
import type { ResultsFile } from '../../src/bench/results.ts';
import { runSuite } from '../../src/bench/run-suite.ts';
import { parseSuite } from '../../src/bench/suite.ts';
import type { ChartFooter, ChartSpec } from '../../src/report/chart-spec.ts';
import { cdfFromSamples } from '../../src/report/downsample.ts';
import { Rng } from '../../src/util/rng.ts';

export const FOOTER: ChartFooter = { suite: 'tiny', seeds: [1, 2], labVersion: '0.0.0-test' };

const TIB = 2 ** 40;

/** One small spec of each chart kind, from seeded data. */
export function tinySpecs(): ChartSpec[] {
  const rng = new Rng(7);
  const latencies = (scaleNs: number) =>
    Array.from({ length: 5000 }, () => scaleNs * (1 + rng.nextFloat()));
  return [
    {
      id: 'line',
      title: 'How does fsck time grow with the virtual size?',
      subtitle: 'HDD model',
      body: {
        kind: 'line',
        x: { title: 'virtual size', unit: 'bytes', log: true },
        y: { title: 'simulated fsck time', unit: 'ns', log: true },
        series: [
          { label: 'qed', points: [1, 16, 1024].map((t) => ({ x: t * TIB, y: t * 4e6 })) },
          { label: 'qcow2', points: [1, 16, 1024].map((t) => ({ x: t * TIB, y: t * 9e6 })) },
        ],
      },
    },
    {
      id: 'cdf',
      title: 'How are request latencies distributed?',
      body: {
        kind: 'cdf',
        x: { title: 'request latency', unit: 'ns', log: true },
        series: [
          { label: 'qed', points: cdfFromSamples(latencies(1e5)) },
          { label: 'qcow2', points: cdfFromSamples(latencies(3e5)) },
        ],
      },
    },
    {
      id: 'timeline',
      title: 'Does a refcount-table growth stall a request?',
      body: {
        kind: 'timeline',
        x: { title: 'request number', unit: 'count', log: false },
        y: { title: 'request latency', unit: 'ns', log: true },
        series: [
          {
            label: 'qcow2',
            points: latencies(1e5).map((y, x) => ({ x, y: x === 3000 ? 1e9 : y })),
          },
        ],
      },
    },
    {
      id: 'bar',
      title: 'How many metadata bytes does a GiB of guest data cost?',
      body: {
        kind: 'bar',
        stacked: true,
        categoryTitle: 'workload / format',
        categories: [
          ['sequential', 'qed'],
          ['sequential', 'qcow2'],
        ],
        y: { title: 'metadata written per GiB', unit: 'bytes', log: false },
        series: [
          { label: 'l2', values: [2 ** 20, 2 ** 21] },
          { label: 'refblock', values: [0, 2 ** 19] },
        ],
      },
    },
  ];
}

export interface DecodedPng {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export async function decodePng(png: Buffer): Promise<DecodedPng> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, image.width, image.height);
  return { width: image.width, height: image.height, rgba: data.data };
}

/**
 * Pixels inside a rectangle that carry data ink: darker or more saturated than the white
 * background and the light grey grid (#e4e4e4) ever are.
 */
export function inkPixels(
  image: DecodedPng,
  area: { left: number; top: number; right: number; bottom: number },
): number {
  let ink = 0;
  for (let y = Math.ceil(area.top) + 2; y < Math.floor(area.bottom) - 2; y++) {
    for (let x = Math.ceil(area.left) + 2; x < Math.floor(area.right) - 2; x++) {
      const i = (y * image.width + x) * 4;
      const min = Math.min(image.rgba[i] ?? 0, image.rgba[i + 1] ?? 0, image.rgba[i + 2] ?? 0);
      if (min < 200) ink++;
    }
  }
  return ink;
}

/**
 * A small real suite (qed and raw, a few MiB of sparse, random and sequential writes): every
 * figure that needs fsck sweeps, latency histograms or metadata counts gets data, in well under
 * a second.
 */
export const TINY_SUITE = {
  name: 'tiny',
  description: 'charts test suite',
  seeds: [1, 2],
  groups: [
    {
      name: 'fsck-size',
      question: 'How does fsck time grow with the virtual size?',
      formats: ['qed', 'raw'],
      workloads: [{ type: 'sparse', requests: 64, bs: '64k' }],
      sizes: ['1G', '4G', '16G'],
      devices: ['hdd'],
    },
    {
      name: 'stalls',
      question: 'How are allocation stalls distributed?',
      formats: ['qed', 'raw'],
      workloads: [{ type: 'random', requests: 300, bs: '4k' }],
      sizes: ['1G'],
      devices: ['nvme'],
    },
    {
      name: 'metadata',
      question: 'How many metadata bytes per GiB of guest data?',
      formats: ['qed', 'raw'],
      workloads: [{ type: 'sequential', requests: 200, bs: '64k' }],
      sizes: ['1G'],
      devices: ['nvme'],
      fsck: false,
    },
  ],
};

export function runTinySuite(suite: object = TINY_SUITE): ResultsFile {
  return runSuite(parseSuite(suite, 'tiny.json'), { progress: false });
}
