import { describe, expect, it } from 'vitest';
import { renderSpec } from '../src/report/chart-kinds.ts';
import { decodePng, FOOTER, inkPixels, tinySpecs } from './helpers/report-fixtures.ts';

describe('every chart kind renders to a 1600×900 PNG with data in its plot area', () => {
  for (const spec of tinySpecs()) {
    it(`${spec.body.kind} chart`, async () => {
      const { png, plotArea } = renderSpec(spec, FOOTER);
      const image = await decodePng(png);
      expect([image.width, image.height]).toEqual([1600, 900]);
      // the plot area is a real part of the picture, not a sliver
      expect(plotArea.right - plotArea.left).toBeGreaterThan(1000);
      expect(plotArea.bottom - plotArea.top).toBeGreaterThan(450);
      expect(inkPixels(image, plotArea)).toBeGreaterThan(500);
      // opaque white background (transparent PNGs turn black in dark-mode mail clients)
      expect([...image.rgba.subarray(0, 4)]).toEqual([255, 255, 255, 255]);
    });
  }

  it('a chart without data has no ink in its plot area (the check above can fail)', async () => {
    const [line] = tinySpecs();
    if (line?.body.kind !== 'line') throw new Error('fixture changed');
    const empty = { ...line, body: { ...line.body, series: [] } };
    const { png, plotArea } = renderSpec(empty, FOOTER);
    expect(inkPixels(await decodePng(png), plotArea)).toBe(0);
  });
});
