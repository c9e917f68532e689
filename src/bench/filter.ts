import { UsageError } from '../util/errors.ts';
import { type BenchCase, sizeLabel } from './cases.ts';

/**
 * `--filter EXPR`: comma-separated terms that must all match. A term is `key=glob`, `key!=glob`
 * (`*` matches anything) with key one of group, format, variant, label, workload, type, size,
 * device, seed; or a bare word, matched as a substring of the case id. Several --filter options
 * select the union.
 */
const KEYS = [
  'group',
  'format',
  'variant',
  'label',
  'workload',
  'type',
  'size',
  'device',
  'seed',
] as const;
type Key = (typeof KEYS)[number];

type Term = { key: Key; negate: boolean; pattern: RegExp } | { substring: string };

export function parseFilter(expression: string): (c: BenchCase) => boolean {
  const terms: Term[] = expression
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((t) => {
      const m = /^([a-z]+)\s*(!?=)\s*(.*)$/.exec(t);
      if (!m) return { substring: t };
      const [, key = '', op, value = ''] = m;
      if (!(KEYS as readonly string[]).includes(key))
        throw new UsageError(`--filter: unknown key '${key}' (known: ${KEYS.join(', ')})`);
      return { key: key as Key, negate: op === '!=', pattern: globToRegExp(value) };
    });
  if (terms.length === 0) throw new UsageError('--filter: empty expression');
  return (c) =>
    terms.every((t) => {
      if ('substring' in t) return c.caseId.includes(t.substring);
      const matched = t.pattern.test(fieldOf(c, t.key));
      return t.negate ? !matched : matched;
    });
}

function fieldOf(c: BenchCase, key: Key): string {
  switch (key) {
    case 'group':
      return c.group;
    case 'format':
      return c.format;
    case 'variant':
      return c.variant;
    case 'label':
      return c.label;
    case 'workload':
      return c.workload.label;
    case 'type':
      return c.workload.type;
    case 'size':
      return sizeLabel(c.sizeBytes);
    case 'device':
      return c.device;
    case 'seed':
      return String(c.seed);
  }
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

/** Cases matching any of the expressions (all cases when there are none). */
export function filterCases(
  cases: readonly BenchCase[],
  expressions: readonly string[],
): BenchCase[] {
  if (expressions.length === 0) return [...cases];
  const predicates = expressions.map(parseFilter);
  return cases.filter((c) => predicates.some((p) => p(c)));
}
