import { expect } from 'vitest';

/**
 * Byte-array equality with a useful failure message (first differing offset) and without the
 * per-element cost of a deep `toEqual` on large arrays.
 */
export function expectBytesEqual(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.length);
  if (a.equals(b)) return;
  let i = 0;
  while (a[i] === b[i]) i++;
  expect(actual[i], `${what}: first difference at offset ${i}`).toBe(expected[i]);
}
