import { describe, expect, it } from 'vitest';
import { runFuzz } from '../src/fuzz/fuzzer.ts';

// Thousands of seeded header/table mutations of qcow2 images (a snapshot table and a dirty
// lazy-refcounts image among the seeds): only clean runs, repairs, or one-line LabErrors.
describe('fuzzing qcow2', () => {
  const report = runFuzz({ format: 'qcow2', iterations: 1000, seed: 7 });

  it('finds no defect (exception, unbounded work, multi-line message)', () => {
    const first = report.defectSamples[0];
    const text = first
      ? `${first.kind} at ${first.step}: ${first.message} (${first.mutations.map((m) => m.detail).join('; ')})`
      : 'none';
    expect(text).toBe('none');
  });

  it('exercises refusals and repairs', () => {
    expect(report.clean + report.repaired + report.labErrors + report.defects).toBe(1000);
    expect(report.labErrors).toBeGreaterThan(100);
    expect(report.repaired).toBeGreaterThan(50);
  });
});
