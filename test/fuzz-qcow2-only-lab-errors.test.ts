import { describe, expect, it } from 'vitest';
import { runFuzz } from '../src/fuzz/fuzzer.ts';

// Thousands of seeded header/table mutations of qcow2 images (a snapshot table and a dirty
// lazy-refcounts image among the seeds): only clean runs, repairs, or one-line LabErrors.
describe('fuzzing qcow2', () => {
  const report = runFuzz({ format: 'qcow2', iterations: 1000, seed: 7 });

  // Marked `fails` for known qcow2 engine defects the fuzzer found (reported to the qcow2 engine's
  // owner; remove `.fails` once fixed): the snapshot-table read grows to 64 MiB on a truncated
  // table (qcow2-format.ts readSnapshots), a refcount-table entry with high bits set makes the
  // repair grow the file towards 2^63 bytes, and an l1_size far past EOF makes open/check read
  // over 2000x the file.
  it.fails('finds no defect (exception, unbounded work, multi-line message)', () => {
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
