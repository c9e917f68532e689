import { describe, expect, it } from 'vitest';
import { wrapLines } from '../src/report/chart-kinds.ts';

describe('long chart titles wrap at spaces instead of running off the canvas', () => {
  it('keeps a short title on one line', () => {
    expect(wrapLines('How long does the open take?', 72)).toBe('How long does the open take?');
  });

  it('splits a long title into lines no wider than the limit, keeping every word', () => {
    const title =
      'QED clean timer: how often is the header written, and how often does a crash force a scan?';
    const lines = wrapLines(title, 72);
    expect(Array.isArray(lines)).toBe(true);
    expect((lines as string[]).every((l) => l.length <= 72)).toBe(true);
    expect((lines as string[]).join(' ')).toBe(title);
  });
});
