import { IO_KINDS, type IoKind } from '../device/types.ts';
import { workloadParamSpecs } from '../workloads/index.ts';
import { formatParamValue } from '../workloads/params.ts';
import type { BenchCase } from './cases.ts';
import type { FsckMeasurement } from './fsck.ts';
import type { CaseMeasurement } from './run-case.ts';

/** One result row: a flat record, the same columns in the CSV and in the JSON `rows`. */
export type ResultValue = string | number | null;
export type ResultRow = Record<string, ResultValue>;

const GIB = 1024 ** 3;
const kindColumn = (kind: IoKind): string => kind.replace('-', '_');

/** Columns that identify a case (strings, or numbers that are not measurements). */
export const IDENTITY_COLUMNS = [
  'suite',
  'group',
  'config_id',
  'case_id',
  'format',
  'variant',
  'label',
  'create_options',
  'workload',
  'workload_type',
  'workload_params',
  'virtual_size_bytes',
  'device',
  'cache',
  'seed',
  'status',
  'error',
] as const;

const PER_KIND_COLUMNS = IO_KINDS.flatMap((k) => [
  `host_write_ops_${kindColumn(k)}`,
  `host_written_bytes_${kindColumn(k)}`,
  `host_read_ops_${kindColumn(k)}`,
  `host_read_bytes_${kindColumn(k)}`,
]);

const METADATA_KINDS = IO_KINDS.filter((k) => k !== 'data' && k !== 'zero-fill');
const FOOTPRINT_COLUMNS = [
  'metadata_footprint_bytes',
  ...METADATA_KINDS.map((k) => `metadata_footprint_bytes_${kindColumn(k)}`),
];

const FSCK_COLUMNS = [
  'fsck_needed_check',
  'fsck_ms',
  'fsck_metadata_read_bytes',
  'fsck_read_ops',
  'fsck_l2_tables_read',
  'fsck_written_bytes',
  'fsck_flushes',
  'fsck_corruptions',
  'fsck_leaks',
] as const;

/**
 * Measured columns, in a fixed order. Units are in the names: `_bytes`, `_us` (request
 * latencies), `_ms` (run and fsck times, and wall time, which alone is not simulated).
 */
export const METRIC_COLUMNS = [
  'guest_requests',
  'guest_reads',
  'guest_writes',
  'guest_zero_writes',
  'guest_discards',
  'guest_flushes',
  'guest_snapshots',
  'guest_read_bytes',
  'guest_written_bytes',
  'guest_zeroed_bytes',
  'guest_discarded_bytes',
  'host_read_ops',
  'host_read_bytes',
  'host_write_ops',
  'host_written_bytes',
  'host_zero_ops',
  'host_zeroed_bytes',
  'host_flushes',
  'host_truncates',
  ...PER_KIND_COLUMNS,
  'metadata_written_bytes',
  'metadata_read_bytes',
  'metadata_written_bytes_per_guest_gib',
  ...FOOTPRINT_COLUMNS,
  'write_amplification',
  'image_file_size_bytes',
  'sim_time_ms',
  'latency_mean_us',
  'latency_p50_us',
  'latency_p99_us',
  'latency_p999_us',
  'latency_max_us',
  'latency_exact',
  'flush_latency_mean_us',
  'flush_latency_max_us',
  'snapshot_create_mean_us',
  'snapshot_create_max_us',
  'snapshot_create_last_us',
  'snapshot_delete_us',
  ...FSCK_COLUMNS,
  'fsck_points',
  'fsck_points_needed_check',
  'fsck_points_mean_ms',
  'fsck_points_max_ms',
  'fsck_points_failed',
  'wall_ms',
] as const;

export const RESULT_COLUMNS: readonly string[] = [...IDENTITY_COLUMNS, ...METRIC_COLUMNS];

/** Columns whose values depend on the machine, not the simulation (ignored by reproducibility checks). */
export const WALL_COLUMNS: readonly string[] = ['wall_ms'];

export function identityOf(c: BenchCase): ResultRow {
  const specs = workloadParamSpecs(c.workload.type);
  return {
    suite: c.suite,
    group: c.group,
    config_id: c.configId,
    case_id: c.caseId,
    format: c.format,
    variant: c.variant,
    label: c.label,
    create_options: Object.entries(c.createOptions)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    workload: c.workload.label,
    workload_type: c.workload.type,
    workload_params: Object.entries(c.workload.params)
      .map(([k, v]) => `${k}=${formatParamValue(specs[k], v)}`)
      .join(','),
    virtual_size_bytes: c.sizeBytes,
    device: c.device,
    cache: c.cache,
    seed: c.seed,
    status: 'ok',
    error: '',
  };
}

/** The row of a case that failed: identity, the error, and empty measurements. */
export function errorRow(c: BenchCase, message: string, wallMs: number): ResultRow {
  const row: ResultRow = { ...identityOf(c), status: 'error', error: message };
  for (const column of METRIC_COLUMNS) row[column] = null;
  row.wall_ms = round(wallMs, 1);
  return row;
}

export function metricsRow(c: BenchCase, m: CaseMeasurement): ResultRow {
  const row: ResultRow = identityOf(c);
  const g = m.guest;
  const h = m.host;
  const sum = (
    table: typeof h.read,
    field: 'ops' | 'bytes',
    kinds: readonly IoKind[] = IO_KINDS,
  ): number => kinds.reduce((s, k) => s + table[k][field], 0);
  const metadataKinds = METADATA_KINDS;
  Object.assign(row, {
    guest_requests: g.requests,
    guest_reads: g.reads,
    guest_writes: g.writes,
    guest_zero_writes: g.zeroWrites,
    guest_discards: g.discards,
    guest_flushes: g.flushes,
    guest_snapshots: g.snapshots,
    guest_read_bytes: g.readBytes,
    guest_written_bytes: g.writtenBytes,
    guest_zeroed_bytes: g.zeroedBytes,
    guest_discarded_bytes: g.discardedBytes,
    host_read_ops: sum(h.read, 'ops'),
    host_read_bytes: sum(h.read, 'bytes'),
    host_write_ops: sum(h.write, 'ops'),
    host_written_bytes: sum(h.write, 'bytes'),
    host_zero_ops: sum(h.zero, 'ops'),
    host_zeroed_bytes: sum(h.zero, 'bytes'),
    host_flushes: h.flushes,
    host_truncates: h.truncates,
  });
  for (const k of IO_KINDS) {
    row[`host_write_ops_${kindColumn(k)}`] = h.write[k].ops + h.zero[k].ops;
    row[`host_written_bytes_${kindColumn(k)}`] = h.write[k].bytes + h.zero[k].bytes;
    row[`host_read_ops_${kindColumn(k)}`] = h.read[k].ops;
    row[`host_read_bytes_${kindColumn(k)}`] = h.read[k].bytes;
  }
  const metadataWritten =
    sum(h.write, 'bytes', metadataKinds) + sum(h.zero, 'bytes', metadataKinds);
  Object.assign(row, {
    metadata_written_bytes: metadataWritten,
    metadata_read_bytes: sum(h.read, 'bytes', metadataKinds),
    metadata_written_bytes_per_guest_gib:
      g.writtenBytes > 0 ? round(metadataWritten / (g.writtenBytes / GIB), 1) : null,
    metadata_footprint_bytes: METADATA_KINDS.reduce(
      (total, k) => total + (m.metadataFootprintBytes[k] ?? 0),
      0,
    ),
    ...Object.fromEntries(
      METADATA_KINDS.map((k) => [
        `metadata_footprint_bytes_${kindColumn(k)}`,
        m.metadataFootprintBytes[k] ?? 0,
      ]),
    ),
    write_amplification:
      g.writtenBytes > 0 ? round(sum(h.write, 'bytes') / g.writtenBytes, 4) : null,
    image_file_size_bytes: m.imageFileSizeBytes,
    sim_time_ms: ms(m.simulatedNs),
    latency_mean_us: us(m.latency.meanNs),
    latency_p50_us: us(m.latency.p50Ns),
    latency_p99_us: us(m.latency.p99Ns),
    latency_p999_us: us(m.latency.p999Ns),
    latency_max_us: us(m.latency.maxNs),
    latency_exact: m.latency.exact ? 1 : 0,
    flush_latency_mean_us: m.flushLatency.count > 0 ? us(m.flushLatency.meanNs) : null,
    flush_latency_max_us: m.flushLatency.count > 0 ? us(m.flushLatency.maxNs) : null,
    snapshot_create_mean_us: m.snapshotLatency.count > 0 ? us(m.snapshotLatency.meanNs) : null,
    snapshot_create_max_us: m.snapshotLatency.count > 0 ? us(m.snapshotLatency.maxNs) : null,
    snapshot_create_last_us: m.snapshotLastNs === undefined ? null : us(m.snapshotLastNs),
    snapshot_delete_us: m.snapshotDeleteNs === undefined ? null : us(m.snapshotDeleteNs),
  });
  Object.assign(row, fsckColumns(m.fsckAtEnd));
  const points = m.fsckPoints.filter((p) => p.error === undefined);
  Object.assign(row, {
    fsck_points: m.fsckPoints.length,
    fsck_points_needed_check: points.filter((p) => p.neededCheck).length,
    fsck_points_mean_ms:
      points.length > 0 ? ms(points.reduce((s, p) => s + p.openNs, 0) / points.length) : null,
    fsck_points_max_ms: points.length > 0 ? ms(Math.max(...points.map((p) => p.openNs))) : null,
    fsck_points_failed: m.fsckPoints.length - points.length,
    wall_ms: round(m.wallMs, 1),
  });
  if (m.fsckAtEnd?.error !== undefined) {
    row.status = 'error';
    row.error = `reopen after power cut: ${m.fsckAtEnd.error}`;
  }
  return row;
}

function fsckColumns(f: FsckMeasurement | undefined): ResultRow {
  if (!f || f.error !== undefined) return Object.fromEntries(FSCK_COLUMNS.map((c) => [c, null]));
  return {
    fsck_needed_check: f.neededCheck ? 1 : 0,
    fsck_ms: ms(f.openNs),
    fsck_metadata_read_bytes: f.metadataReadBytes,
    fsck_read_ops: f.readOps,
    fsck_l2_tables_read: f.l2Reads,
    fsck_written_bytes: f.writtenBytes,
    fsck_flushes: f.flushes,
    fsck_corruptions: f.corruptions,
    fsck_leaks: f.leaks,
  };
}

/** Round to a fixed number of decimals so CSV text is stable (no 0.30000000000000004). */
export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

const us = (ns: number): number => round(ns / 1e3, 3);
const ms = (ns: number): number => round(ns / 1e6, 6);
