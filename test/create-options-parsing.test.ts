import { describe, expect, it } from 'vitest';
import { parseBooleanOption, parseCreateOptions } from '../src/formats/create-options.ts';
import { UsageError } from '../src/util/errors.ts';

describe('parseCreateOptions (qemu-img -o syntax)', () => {
  it('splits key=value pairs; later keys override earlier ones across -o flags', () => {
    expect(parseCreateOptions(['cluster_size=65536,table_size=4', 'cluster_size=4096'])).toEqual({
      cluster_size: '4096',
      table_size: '4',
    });
  });

  it('",," escapes a comma inside a value; empty parts are ignored', () => {
    expect(parseCreateOptions(['backing_file=a,,b.img,backing_fmt=raw,'])).toEqual({
      backing_file: 'a,b.img',
      backing_fmt: 'raw',
    });
    // An escaped comma is part of the value, not a separator.
    expect(parseCreateOptions(['backing_file=a,,backing_fmt=raw'])).toEqual({
      backing_file: 'a,backing_fmt=raw',
    });
  });

  it('a value may contain "="', () => {
    expect(parseCreateOptions(['key=a=b'])).toEqual({ key: 'a=b' });
  });

  it.each(['novalue', '=x'])('rejects %j with a one-line UsageError', (text) => {
    expect(() => parseCreateOptions([text])).toThrow(UsageError);
    expect(() => parseCreateOptions([text])).toThrow(/expected key=value/);
  });

  it('reads booleans the way QEMU does', () => {
    expect(parseBooleanOption('lazy_refcounts', 'on')).toBe(true);
    expect(parseBooleanOption('lazy_refcounts', 'off')).toBe(false);
    expect(() => parseBooleanOption('lazy_refcounts', 'maybe')).toThrow(/expects 'on' or 'off'/);
  });
});
