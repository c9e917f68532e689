import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { COST_MODEL_NAMES } from '../device/cost-models.ts';
import { formatNames } from '../formats/registry.ts';
import { variantProblem } from '../formats/variant-names.ts';
import { LabError } from '../util/errors.ts';
import { parseSizeBytes } from '../util/size.ts';
import { parseWorkloadParams, WORKLOAD_NAMES, workloadParamSpecs } from '../workloads/index.ts';
import { formatParamValue, ParamError, type ParamValue } from '../workloads/params.ts';
import type { FormatEntry, Suite, SuiteGroup, WorkloadEntry } from './suite-types.ts';

/** A suite file that is not valid: names the file, the key (a JSON path) and the reason. */
export class SuiteError extends LabError {
  readonly file: string;
  readonly key: string;
  readonly reason: string;
  constructor(file: string, key: string, reason: string) {
    super('SUITE', `${file}: ${key}: ${reason}`);
    this.name = 'SuiteError';
    this.file = file;
    this.key = key;
    this.reason = reason;
  }
}

const TOP_KEYS = ['name', 'description', 'seeds', 'defaults', 'groups'] as const;
/** Keys a group (or `defaults`, or a group's `quick` overrides) may hold. */
const GROUP_KEYS = [
  'name',
  'question',
  'formats',
  'workloads',
  'sizes',
  'devices',
  'seeds',
  'crashPoints',
  'crashPolicy',
  'fsck',
  'cache',
  'data',
  'quick',
] as const;
const FORMAT_KEYS = ['format', 'variant', 'label', 'options', 'sizeOptions', 'optional'] as const;

// Defined beside the format registry, so the CLI's image commands check variants without
// loading the suite reader (and its workloads and node:crypto).
export { knownVariants, variantProblem } from '../formats/variant-names.ts';

export interface LoadSuiteOptions {
  /** Apply each group's `quick` overrides and keep only the first seed. */
  quick?: boolean;
  /** Replace every group's seeds with these. */
  seeds?: number[];
}

/** Reads and validates a suite file. */
export function loadSuite(file: string, options: LoadSuiteOptions = {}): Suite {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new LabError(
      'SUITE',
      `${file}: cannot read suite: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SuiteError(file, '(file)', `not valid JSON: ${(error as Error).message}`);
  }
  return parseSuite(raw, file, options);
}

/** Validates a parsed suite; every error names `file`, the key and the reason. */
export function parseSuite(raw: unknown, file: string, options: LoadSuiteOptions = {}): Suite {
  const fail = (key: string, reason: string): never => {
    throw new SuiteError(file, key, reason);
  };
  const top = asObject(raw, '(top level)', fail);
  rejectUnknown(top, TOP_KEYS, '', fail);
  const name = top.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(name))
    fail(
      'name',
      'expected a name of letters, digits, ".", "_" or "-" (it names the results files)',
    );
  const description = optionalString(top.description, 'description', fail) ?? '';
  const topSeeds = top.seeds === undefined ? [1] : parseSeeds(top.seeds, 'seeds', fail);
  const defaults = top.defaults === undefined ? {} : asObject(top.defaults, 'defaults', fail);
  rejectUnknown(defaults, GROUP_KEYS, 'defaults.', fail);
  if ('name' in defaults) fail('defaults.name', 'a group name cannot be a default');
  if (!Array.isArray(top.groups) || top.groups.length === 0)
    fail('groups', 'expected a non-empty array of groups');
  const groups: SuiteGroup[] = [];
  const seen = new Set<string>();
  (top.groups as unknown[]).forEach((value, i) => {
    const where = `groups[${i}]`;
    const own = asObject(value, where, fail);
    rejectUnknown(own, GROUP_KEYS, `${where}.`, fail);
    let merged: Record<string, unknown> = { ...defaults, ...own };
    if (merged.quick !== undefined) {
      const quick = asObject(merged.quick, `${where}.quick`, fail);
      rejectUnknown(quick, GROUP_KEYS, `${where}.quick.`, fail);
      if ('name' in quick || 'quick' in quick)
        fail(`${where}.quick`, 'cannot override name or quick');
      if (options.quick) merged = { ...merged, ...quick };
    }
    const group = parseGroup(merged, where, topSeeds, fail);
    if (seen.has(group.name)) fail(`${where}.name`, `duplicate group name '${group.name}'`);
    seen.add(group.name);
    if (options.seeds) group.seeds = [...options.seeds];
    else if (options.quick) group.seeds = group.seeds.slice(0, 1);
    groups.push(group);
  });
  return {
    name: name as string,
    description,
    file,
    hash: createHash('sha256').update(canonicalJson(raw)).digest('hex'),
    groups,
  };
}

type Fail = (key: string, reason: string) => never;

function parseGroup(
  g: Record<string, unknown>,
  where: string,
  topSeeds: number[],
  fail: Fail,
): SuiteGroup {
  const name = g.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(name))
    fail(`${where}.name`, 'expected a group name of letters, digits, ".", "_" or "-"');
  const formats = nonEmptyArray(g.formats, `${where}.formats`, fail).map((f, i) =>
    parseFormatEntry(f, `${where}.formats[${i}]`, fail),
  );
  const workloads = nonEmptyArray(g.workloads, `${where}.workloads`, fail).flatMap((w, i) =>
    parseWorkloadEntry(w, `${where}.workloads[${i}]`, fail),
  );
  const sizesBytes = nonEmptyArray(g.sizes, `${where}.sizes`, fail).map((s, i) => {
    const key = `${where}.sizes[${i}]`;
    if (typeof s !== 'string' && typeof s !== 'number') fail(key, 'expected a size like "1T"');
    try {
      const bytes = typeof s === 'number' ? s : parseSizeBytes(s as string);
      if (!Number.isSafeInteger(bytes) || bytes < 512 || bytes % 512 !== 0)
        fail(key, `expected a positive multiple of 512 bytes, got ${JSON.stringify(s)}`);
      return bytes;
    } catch (error) {
      if (error instanceof SuiteError) throw error;
      return fail(key, (error as Error).message);
    }
  });
  const devices = nonEmptyArray(g.devices ?? ['none'], `${where}.devices`, fail).map((d, i) => {
    if (typeof d !== 'string' || !(COST_MODEL_NAMES as readonly string[]).includes(d))
      fail(
        `${where}.devices[${i}]`,
        `unknown device model ${JSON.stringify(d)} (known: ${COST_MODEL_NAMES.join(', ')})`,
      );
    return d as string;
  });
  const seeds = g.seeds === undefined ? [...topSeeds] : parseSeeds(g.seeds, `${where}.seeds`, fail);
  const crashPoints = g.crashPoints ?? 0;
  if (
    typeof crashPoints !== 'number' ||
    !Number.isInteger(crashPoints) ||
    crashPoints < 0 ||
    crashPoints > 1000
  )
    fail(
      `${where}.crashPoints`,
      `expected a whole number from 0 to 1000, got ${JSON.stringify(crashPoints)}`,
    );
  const crashPolicy = oneOf(
    g.crashPolicy ?? 'all-lost',
    ['all-lost', 'random-subset'] as const,
    `${where}.crashPolicy`,
    fail,
  );
  const fsck = g.fsck ?? true;
  if (typeof fsck !== 'boolean')
    fail(`${where}.fsck`, `expected true or false, got ${JSON.stringify(fsck)}`);
  return {
    name: name as string,
    question: optionalString(g.question, `${where}.question`, fail) ?? '',
    formats,
    workloads,
    sizesBytes,
    devices,
    seeds,
    crashPoints: crashPoints as number,
    crashPolicy,
    fsckAtEnd: fsck as boolean,
    cache: oneOf(
      g.cache ?? 'writeback',
      ['writeback', 'writethrough'] as const,
      `${where}.cache`,
      fail,
    ),
    data: oneOf(g.data ?? 'drop', ['drop', 'store'] as const, `${where}.data`, fail),
  };
}

function parseFormatEntry(value: unknown, where: string, fail: Fail): FormatEntry {
  const entry = typeof value === 'string' ? { format: value } : asObject(value, where, fail);
  rejectUnknown(entry, FORMAT_KEYS, `${where}.`, fail);
  const format = entry.format;
  const optional = entry.optional ?? false;
  if (typeof optional !== 'boolean') fail(`${where}.optional`, 'expected true or false');
  if (typeof format !== 'string' || format === '')
    fail(`${where}.format`, 'expected a format name');
  if (!optional && !formatNames().includes(format as string))
    fail(`${where}.format`, `unknown format '${format}' (known: ${formatNames().join(', ')})`);
  const variant = entry.variant ?? 'qemu';
  if (typeof variant !== 'string') fail(`${where}.variant`, 'expected a variant name');
  const problem = optional ? undefined : variantProblem(format as string, variant as string);
  if (problem !== undefined) fail(`${where}.variant`, problem);
  const label =
    optionalString(entry.label, `${where}.label`, fail) ??
    (variant === 'qemu' ? (format as string) : `${format}:${variant}`);
  const options = parseOptions(entry.options, `${where}.options`, fail);
  const sizeOptions =
    entry.sizeOptions === undefined
      ? []
      : nonEmptyArray(entry.sizeOptions, `${where}.sizeOptions`, fail).map((s, i) => {
          const key = `${where}.sizeOptions[${i}]`;
          const o = asObject(s, key, fail);
          rejectUnknown(o, ['above', 'options'], `${key}.`, fail);
          if (typeof o.above !== 'string') fail(`${key}.above`, 'expected a size like "64T"');
          let aboveBytes = 0;
          try {
            aboveBytes = parseSizeBytes(o.above as string);
          } catch (error) {
            fail(`${key}.above`, (error as Error).message);
          }
          return { aboveBytes, options: parseOptions(o.options, `${key}.options`, fail) };
        });
  return {
    format: format as string,
    variant: variant as string,
    label,
    options,
    sizeOptions,
    optional: optional as boolean,
  };
}

/**
 * One workload entry: `type`, optional `label`, and parameters. An array value sweeps that
 * parameter (one workload per value; several arrays give their cartesian product).
 */
function parseWorkloadEntry(value: unknown, where: string, fail: Fail): WorkloadEntry[] {
  const entry = asObject(value, where, fail);
  const type = entry.type;
  if (typeof type !== 'string' || !WORKLOAD_NAMES.includes(type))
    fail(
      `${where}.type`,
      `unknown workload ${JSON.stringify(type)} (known: ${WORKLOAD_NAMES.join(', ')})`,
    );
  const label = optionalString(entry.label, `${where}.label`, fail);
  const specs = workloadParamSpecs(type as string);
  const fixed: Record<string, unknown> = {};
  const swept: Array<[string, unknown[]]> = [];
  for (const [key, v] of Object.entries(entry)) {
    if (key === 'type' || key === 'label') continue;
    if (!(key in specs))
      fail(
        `${where}.${key}`,
        `unknown parameter for workload '${type}' (known: type, label, ${Object.keys(specs).join(', ')})`,
      );
    if (Array.isArray(v)) {
      if (v.length === 0) fail(`${where}.${key}`, 'an empty sweep');
      swept.push([key, v]);
    } else fixed[key] = v;
  }
  let combos: Array<Record<string, unknown>> = [fixed];
  for (const [key, values] of swept)
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return combos.map((combo) => {
    let params: Record<string, ParamValue>;
    try {
      params = parseWorkloadParams(type as string, combo);
    } catch (error) {
      if (error instanceof ParamError) return fail(`${where}.${error.key}`, error.reason);
      throw error;
    }
    const sweepText = swept.map(
      ([key]) => `${key}=${formatParamValue(specs[key], params[key] as ParamValue)}`,
    );
    const base = label ?? (type as string);
    return {
      type: type as string,
      label: sweepText.length > 0 ? `${base}(${sweepText.join(',')})` : base,
      params,
      source: where,
    };
  });
}

function parseOptions(value: unknown, where: string, fail: Fail): Record<string, string> {
  if (value === undefined) return {};
  const o = asObject(value, where, fail);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      fail(`${where}.${k}`, 'expected a string, number or boolean option value');
    out[k] = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
  }
  return out;
}

function parseSeeds(value: unknown, where: string, fail: Fail): number[] {
  const list = nonEmptyArray(value, where, fail);
  const seeds = list.map((s, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 0xffffffff)
      fail(`${where}[${i}]`, `expected a 32-bit unsigned integer seed, got ${JSON.stringify(s)}`);
    return s as number;
  });
  if (new Set(seeds).size !== seeds.length) fail(where, 'duplicate seeds');
  return seeds;
}

function asObject(value: unknown, where: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(where, `expected an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function nonEmptyArray(value: unknown, where: string, fail: Fail): unknown[] {
  if (!Array.isArray(value) || value.length === 0) fail(where, 'expected a non-empty array');
  return value as unknown[];
}

function optionalString(value: unknown, where: string, fail: Fail): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(where, `expected a string, got ${JSON.stringify(value)}`);
  return value as string;
}

function oneOf<T extends string>(
  value: unknown,
  choices: readonly T[],
  where: string,
  fail: Fail,
): T {
  if (typeof value !== 'string' || !choices.includes(value as T))
    fail(where, `expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function rejectUnknown(
  o: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  fail: Fail,
): void {
  for (const key of Object.keys(o))
    if (!known.includes(key))
      fail(`${prefix}${key}`, `unknown key (expected one of: ${known.join(', ')})`);
}

/** JSON with object keys sorted, so the hash ignores formatting and key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
