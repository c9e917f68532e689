import { describe, expect, it } from 'vitest';
import { assignFillStyles, assignSeriesStyles } from '../src/report/chart-style.ts';

/** Relative luminance proxy, as a greyscale printout renders the colour. */
const grey = (hex: string) => {
  const n = Number.parseInt(hex.slice(1), 16);
  return Math.round(0.299 * ((n >> 16) & 255) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255));
};

describe('series stay distinguishable in greyscale', () => {
  it('gives every series of a chart its own dash pattern and marker, not only its own colour', () => {
    const keys = ['qed', 'qcow2', 'raw', 'qed:freelist', 'qed:bitmap', 'qcow2:lazy-refcounts'];
    const styles = [...assignSeriesStyles(keys).values()];
    expect(styles).toHaveLength(keys.length);
    expect(new Set(styles.map((s) => s.color)).size).toBe(keys.length);
    expect(new Set(styles.map((s) => JSON.stringify(s.dash))).size).toBe(keys.length);
  });

  it('keeps the baseline formats in the same style in every chart', () => {
    const a = assignSeriesStyles(['qcow2', 'qed']);
    const b = assignSeriesStyles(['qed:freelist', 'raw', 'qed', 'qcow2']);
    expect(a.get('qed')).toEqual(b.get('qed'));
    expect(a.get('qcow2')).toEqual(b.get('qcow2'));
    expect(b.get('qed:freelist')).not.toEqual(b.get('qed'));
  });

  it('alternates plain and hatched fills so adjacent stack segments differ in greyscale', () => {
    const kinds = [
      'header',
      'l1',
      'l2',
      'refblock',
      'reftable',
      'snapshot',
      'freelist',
      'zero-fill',
    ];
    const fills = kinds.map((k) => assignFillStyles(kinds).get(k));
    for (let i = 1; i < fills.length; i++) {
      const a = fills[i - 1];
      const b = fills[i];
      if (a === undefined || b === undefined) throw new Error('missing fill');
      const differentTexture = (a.hatch === 'none') !== (b.hatch === 'none');
      expect(differentTexture || Math.abs(grey(a.color) - grey(b.color)) > 40).toBe(true);
    }
  });
});

describe('I/O kinds keep their fill whatever else is in the chart', () => {
  it('gives l2 the same fill with and without refblocks and zero-fill', () => {
    const all = assignFillStyles(['header', 'l1', 'l2', 'refblock', 'reftable', 'zero-fill']);
    const some = assignFillStyles(['l2', 'reftable']);
    expect(some.get('l2')).toEqual(all.get('l2'));
    expect(some.get('reftable')).toEqual(all.get('reftable'));
    expect(some.get('l2')).not.toEqual(some.get('reftable'));
  });
});
