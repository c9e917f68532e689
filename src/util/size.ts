import { UsageError } from './errors.ts';

const SUFFIX_SHIFT: Record<string, number> = { b: 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 };

/**
 * Parses a size the way qemu-img does (`qemu_strtosz`): a non-negative decimal number with an
 * optional binary suffix (k, M, G, T, P, E; case-insensitive; `B` = bytes). A fraction is allowed
 * with a suffix as long as the result is a whole number of bytes ("1.5G").
 */
export function parseSizeBytes(text: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([bkmgtpe])?(?:i?b)?\s*$/i.exec(text);
  if (!match)
    throw new UsageError(
      `invalid ${what} '${text}': expected a number with an optional k, M, G, T, P or E suffix`,
    );
  const [, numberText = '', suffix] = match;
  const shift = SUFFIX_SHIFT[(suffix ?? 'b').toLowerCase()] ?? 0;
  if (!suffix && numberText.includes('.')) {
    throw new UsageError(`invalid ${what} '${text}': a fraction needs a unit suffix`);
  }
  const value = Number(numberText) * 2 ** shift;
  if (!Number.isInteger(value))
    throw new UsageError(`invalid ${what} '${text}': not a whole number of bytes`);
  if (!Number.isSafeInteger(value))
    throw new UsageError(`invalid ${what} '${text}': too large (max 8 PiB)`);
  return value;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Human-readable binary size, e.g. 1099511627776 → "1 TiB", 1536 → "1.5 KiB". */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
  return `${text.replace(/\.?0+$/, (m) => (text.includes('.') ? '' : m))} ${UNITS[unit]}`;
}
