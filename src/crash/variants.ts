/**
 * Which engine configuration a crash run explores. A design variant (issue 6) is a named
 * configuration of an engine; until the variant registry exists the explorer knows the ones
 * expressible as create options, and refuses others by name so a typo never explores the
 * baseline by accident. When variants land, `resolveCrashVariant` is the one place to map a
 * variant name to what `create`/`open` need.
 */
import { UsageError } from '../util/errors.ts';

export interface CrashVariant {
  name: string;
  /** `-o` options for create. */
  createOptions: Readonly<Record<string, string>>;
}

const VARIANTS: Readonly<Record<string, readonly CrashVariant[]>> = {
  qed: [{ name: 'qemu', createOptions: {} }],
  qcow2: [
    { name: 'qemu', createOptions: {} },
    { name: 'lazy-refcounts', createOptions: { lazy_refcounts: 'on' } },
  ],
};

export function crashFormats(): string[] {
  return Object.keys(VARIANTS);
}

export function crashVariantNames(format: string): string[] {
  return (VARIANTS[format] ?? []).map((v) => v.name);
}

export function resolveCrashVariant(format: string, variant: string): CrashVariant {
  const list = VARIANTS[format];
  if (!list) {
    throw new UsageError(
      `the crash explorer covers ${crashFormats().join(', ')}; '${format}' has no metadata to crash`,
    );
  }
  const found = list.find((v) => v.name === variant);
  if (!found) {
    throw new UsageError(
      `unknown variant '${variant}' of ${format} (known: ${crashVariantNames(format).join(', ')})`,
    );
  }
  return found;
}
