/**
 * Series styles that stay distinguishable when a chart is printed or viewed in greyscale: every
 * slot differs in colour (Okabe–Ito, colour-blind safe, without the yellow that vanishes on white),
 * in dash pattern and in marker shape, so no two lines of one chart rely on hue alone.
 */

export type MarkerShape = 'circle' | 'triangle' | 'rect' | 'rectRot' | 'crossRot' | 'star';

export interface SeriesStyle {
  color: string;
  /** Canvas setLineDash pattern in CSS pixels; empty = solid. */
  dash: number[];
  marker: MarkerShape;
}

const SLOTS: readonly SeriesStyle[] = [
  { color: '#0072B2', dash: [], marker: 'circle' },
  { color: '#D55E00', dash: [10, 5], marker: 'triangle' },
  { color: '#000000', dash: [2, 3], marker: 'rect' },
  { color: '#009E73', dash: [12, 4, 2, 4], marker: 'rectRot' },
  { color: '#CC79A7', dash: [5, 3], marker: 'crossRot' },
  { color: '#E69F00', dash: [16, 4, 4, 4, 4, 4], marker: 'star' },
  { color: '#56B4E9', dash: [1, 5], marker: 'circle' },
  { color: '#666666', dash: [20, 6], marker: 'triangle' },
];

/** Baseline formats keep one slot in every chart, so "qed" looks the same everywhere. */
const FIXED_SLOTS: Readonly<Record<string, number>> = { qed: 0, qcow2: 1, raw: 2 };

/**
 * Styles for the series of one chart, keyed by styleKey (in order). Fixed keys get their slot;
 * the rest take the free slots in order, so two series of one chart never share a style (past
 * eight series the slots repeat, which the plot layer avoids by splitting charts).
 */
export function assignSeriesStyles(keys: readonly string[]): Map<string, SeriesStyle> {
  const styles = new Map<string, SeriesStyle>();
  const used = new Set<number>();
  for (const key of keys) {
    const slot = FIXED_SLOTS[key];
    if (slot !== undefined && !used.has(slot) && !styles.has(key)) {
      styles.set(key, SLOTS[slot] as SeriesStyle);
      used.add(slot);
    }
  }
  // Other series take the slots no baseline format owns first, so vermillion stays qcow2's
  // even in a chart without qcow2; only a crowded chart borrows the baseline slots.
  const reserved = new Set(Object.values(FIXED_SLOTS));
  const order = [
    ...[...SLOTS.keys()].filter((i) => !reserved.has(i)),
    ...[...SLOTS.keys()].filter((i) => reserved.has(i)),
  ];
  let next = 0;
  for (const key of keys) {
    if (styles.has(key)) continue;
    const free = order.find((i) => !used.has(i));
    const slot = free ?? (order[next++ % order.length] as number);
    styles.set(key, SLOTS[slot] as SeriesStyle);
    used.add(slot);
  }
  return styles;
}

export interface FillStyle {
  color: string;
  /** Hatching drawn over the colour so neighbouring stack segments differ in greyscale. */
  hatch: 'none' | 'diagonal' | 'cross' | 'dots' | 'horizontal' | 'vertical';
}

/**
 * Fills for stacked bar segments (I/O kinds): lightness alternates dark/light along the stack
 * and every other segment is hatched, so adjacent segments never look alike in greyscale.
 */
const FILLS: readonly FillStyle[] = [
  { color: '#0072B2', hatch: 'none' },
  { color: '#E69F00', hatch: 'diagonal' },
  { color: '#000000', hatch: 'none' },
  { color: '#56B4E9', hatch: 'cross' },
  { color: '#D55E00', hatch: 'none' },
  { color: '#F0E442', hatch: 'dots' },
  { color: '#009E73', hatch: 'none' },
  { color: '#CC79A7', hatch: 'horizontal' },
  { color: '#999999', hatch: 'vertical' },
  { color: '#444444', hatch: 'diagonal' },
];

/**
 * Host I/O kinds keep one fill in every chart (in stacking order), so "l2" looks the same in a
 * chart that has refblocks and in one that has none.
 */
const KIND_FILL_ORDER = [
  'header',
  'l1',
  'l2',
  'refblock',
  'reftable',
  'snapshot',
  'freelist',
  'bitmap',
  'zero-fill',
];

/** Hatching per series slot, so bars of formats differ in texture as their lines do in dash. */
const SLOT_HATCHES: readonly FillStyle['hatch'][] = [
  'none',
  'diagonal',
  'none',
  'cross',
  'dots',
  'horizontal',
  'vertical',
  'diagonal',
];

/**
 * Fills for bar series: I/O kinds by their fixed order; anything else (formats and variants)
 * in the colour its line has in the line charts, hatched by slot.
 */
export function assignFillStyles(keys: readonly string[]): Map<string, FillStyle> {
  const fills = new Map<string, FillStyle>();
  if (keys.every((k) => KIND_FILL_ORDER.includes(k))) {
    for (const key of keys) {
      fills.set(key, FILLS[KIND_FILL_ORDER.indexOf(key) % FILLS.length] as FillStyle);
    }
    return fills;
  }
  const styles = assignSeriesStyles(keys);
  for (const key of keys) {
    const style = styles.get(key) as SeriesStyle;
    const slot = Math.max(0, SLOTS.indexOf(style));
    fills.set(key, {
      color: style.color,
      hatch: SLOT_HATCHES[slot % SLOT_HATCHES.length] ?? 'none',
    });
  }
  return fills;
}
