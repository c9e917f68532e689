import { describe, expect, it } from 'vitest';
import { runFuzz } from '../src/fuzz/fuzzer.ts';

// Thousands of seeded header/table mutations of QED images: open, check, read, write, map,
// repair and close only ever end cleanly, in a repair, or in a LabError with a one-line message.
describe('fuzzing QED', () => {
  const report = runFuzz({ format: 'qed', iterations: 2000, seed: 7 });

  it('finds no defect (exception, unbounded work, multi-line message)', () => {
    const first = report.defectSamples[0];
    expect(first ? `${first.kind} at ${first.step}: ${first.message}` : 'none').toBe('none');
    expect(report.defects).toBe(0);
  });

  it('exercises refusals, repairs and clean runs', () => {
    expect(report.iterations).toBe(2000);
    expect(report.clean + report.repaired + report.labErrors + report.defects).toBe(2000);
    expect(report.labErrors).toBeGreaterThan(100);
    expect(report.repaired).toBeGreaterThan(100);
    expect(Object.keys(report.errorKinds).some((k) => k.startsWith('open: QED_'))).toBe(true);
    for (const n of Object.values(report.mutationKinds)) expect(n).toBeGreaterThan(0);
  });
});
