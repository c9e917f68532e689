import { describe, expect, it } from 'vitest';
import { parseSizeBytes } from '../src/util/size.ts';

describe('parseSizeBytes (qemu-img size syntax, binary units)', () => {
  it.each([
    ['512', 512],
    ['64k', 65536],
    ['64K', 65536],
    ['1M', 1048576],
    ['1G', 1073741824],
    ['1T', 1099511627776],
    ['1P', 1125899906842624],
    ['1.5G', 1610612736],
    ['4096B', 4096],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each(['', 'abc', '-1', '1Q', '1.5', '0.3k', '16E'])(
    'rejects %j with a one-line error',
    (text) => {
      expect(() => parseSizeBytes(text)).toThrow(/^invalid size/);
    },
  );
});
