/**
 * Which engine configuration a crash run explores. A design variant (issue 6) is a named
 * configuration of an engine: the driver lists its variants (`FormatDriver.variants`, `name` or
 * `name=value`) and receives the name at create and open. The explorer adds the variants that are
 * plain create options (qcow2 `lazy-refcounts`) when the driver does not list them itself, and
 * refuses unknown names so a typo never explores the baseline by accident.
 */
import { getDriver } from '../formats/registry.ts';
import { UsageError } from '../util/errors.ts';

export interface CrashVariant {
  /** As given (`qemu` for the baseline). */
  name: string;
  /** `-o` options for create. */
  createOptions: Readonly<Record<string, string>>;
  /** Passed to the driver's create and open (undefined: the baseline or an option variant). */
  engineVariant: string | undefined;
}

const OPTION_VARIANTS: Readonly<Record<string, Readonly<Record<string, Record<string, string>>>>> =
  {
    qcow2: { 'lazy-refcounts': { lazy_refcounts: 'on' } },
  };

const CRASH_FORMATS = ['qed', 'qcow2'] as const;

export function crashFormats(): string[] {
  return [...CRASH_FORMATS];
}

export function crashVariantNames(format: string): string[] {
  const driver = getDriver(format);
  const names = new Set(['qemu', ...Object.keys(driver.variants ?? {})]);
  for (const name of Object.keys(OPTION_VARIANTS[format] ?? {})) names.add(name);
  return [...names];
}

export function resolveCrashVariant(format: string, variant: string): CrashVariant {
  if (!(CRASH_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(
      `the crash explorer covers ${CRASH_FORMATS.join(', ')}; '${format}' has no metadata to crash`,
    );
  }
  if (variant === 'qemu') return { name: 'qemu', createOptions: {}, engineVariant: undefined };
  const key = variant.split('=')[0] as string;
  const driver = getDriver(format);
  if (driver.variants && key in driver.variants) {
    return { name: variant, createOptions: {}, engineVariant: variant };
  }
  const options = OPTION_VARIANTS[format]?.[variant];
  if (options) return { name: variant, createOptions: options, engineVariant: undefined };
  throw new UsageError(
    `unknown variant '${variant}' of ${format} (known: ${crashVariantNames(format).join(', ')})`,
  );
}
