/**
 * The guest programs the crash explorer records: short (a few hundred requests, since every
 * crash state is reopened and verified) and made of qemu-io commands, so a violation's script
 * prefix replays with `qedlab io` or `qemu-io` as it is.
 *
 * Idle periods longer than QED's 5 s need-check timer are mixed in: the timer clearing the flag
 * and the next allocating write setting it again is a path a crash must be tried on.
 */
import type { QemuIoCommand } from '../cli/qemu-io-script.ts';
import { UsageError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import { createWorkload, parseWorkloadParams } from '../workloads/index.ts';

/** Fill byte of the backing file; guest writes never use it, so a leak of it is visible. */
export const BACKING_PATTERN = 0xb5;
/** Bytes of the backing file filled with BACKING_PATTERN (the rest reads as zeros). */
export const BACKING_FILLED_BYTES = 16 * 1024 * 1024;
/** Virtual size of every crash image: several QED and qcow2 L2 tables' worth. */
export const CRASH_IMAGE_BYTES = 4 * 1024 * 1024 * 1024;
/** Idle time inserted between bursts: longer than QED's need-check timer. */
export const IDLE_MS = 6000;

const KIB = 1024;
const MIB = 1024 * KIB;

interface RegistryWorkload {
  type: string;
  params: Record<string, string | number>;
  idleEvery: number;
}

const REGISTRY_WORKLOADS: Readonly<Record<string, RegistryWorkload>> = {
  random: {
    type: 'random',
    params: { requests: 128, bs: '4k', workingSet: '16M', flushEvery: 6 },
    idleEvery: 40,
  },
  sequential: {
    type: 'sequential',
    params: { requests: 96, bs: '16k', workingSet: '16M', flushEvery: 8 },
    idleEvery: 32,
  },
  'discard-churn': {
    type: 'discard-churn',
    params: { requests: 128, bs: '16k', extent: '256k', workingSet: '8M', flushEvery: 8 },
    idleEvery: 48,
  },
  sparse: {
    type: 'sparse',
    params: { requests: 40, bs: '64k', flushEvery: 4 },
    idleEvery: 16,
  },
};

/** `mixed` first: it takes every write path (partial, whole-cluster, zero, discard, far). */
export const CRASH_WORKLOAD_NAMES: readonly string[] = [
  'mixed',
  ...Object.keys(REGISTRY_WORKLOADS),
];

/** The default workloads of `bench:crash` for a format. */
export const DEFAULT_CRASH_WORKLOADS: readonly string[] = CRASH_WORKLOAD_NAMES;

export function crashWorkload(name: string, seed: number, sizeBytes: number): QemuIoCommand[] {
  if (name === 'mixed') return mixedWorkload(seed, sizeBytes);
  const spec = REGISTRY_WORKLOADS[name];
  if (!spec) {
    throw new UsageError(
      `unknown crash workload '${name}' (known: ${CRASH_WORKLOAD_NAMES.join(', ')})`,
    );
  }
  const params = parseWorkloadParams(spec.type, spec.params);
  const workload = createWorkload(spec.type, params, { virtualSizeBytes: sizeBytes, seed });
  const patterns = new Rng(seed ^ 0x5eed);
  const out: QemuIoCommand[] = [];
  let sinceIdle = 0;
  for (const r of workload.requests()) {
    switch (r.op) {
      case 'write':
        out.push(write(r.offsetBytes, r.lengthBytes, pickPattern(patterns)));
        break;
      case 'zero':
        out.push(zero(r.offsetBytes, r.lengthBytes));
        break;
      case 'discard':
        out.push({ op: 'discard', offsetBytes: r.offsetBytes, lengthBytes: r.lengthBytes });
        break;
      case 'flush':
        out.push({ op: 'flush' });
        break;
      case 'sleep':
        out.push({ op: 'sleep', ms: Math.round((r.durationNs ?? 0) / 1e6) });
        break;
      default:
        continue;
    }
    if (++sinceIdle === spec.idleEvery) {
      sinceIdle = 0;
      out.push({ op: 'sleep', ms: IDLE_MS });
    }
  }
  return out;
}

/**
 * Seeded mix over a 16 MiB working set plus a few far writes: partial-cluster writes (COW),
 * whole 64 KiB writes, zero writes, discards, flushes and idle periods.
 */
function mixedWorkload(seed: number, sizeBytes: number): QemuIoCommand[] {
  const rng = new Rng(seed);
  const workingSet = 16 * MIB;
  const out: QemuIoCommand[] = [];
  for (let i = 0; i < 160; i++) {
    const roll = rng.nextFloat();
    if (roll < 0.45) {
      const len = (1 + rng.nextInt(4)) * 4 * KIB;
      out.push(write(rng.nextInt((workingSet - len) / (4 * KIB)) * 4 * KIB, len, pickPattern(rng)));
    } else if (roll < 0.6) {
      out.push(write(rng.nextInt(workingSet / (64 * KIB)) * 64 * KIB, 64 * KIB, pickPattern(rng)));
    } else if (roll < 0.66) {
      // Far writes: new L2 tables (and L1 entries) beyond the working set.
      const slots = Math.floor((sizeBytes - workingSet - 128 * KIB) / (64 * KIB));
      const offset = workingSet + rng.nextInt(slots) * 64 * KIB;
      out.push(write(offset, 4 * KIB * (1 + rng.nextInt(16)), pickPattern(rng)));
    } else if (roll < 0.72) {
      out.push(zero(rng.nextInt(workingSet / (64 * KIB)) * 64 * KIB, 64 * KIB));
    } else if (roll < 0.76) {
      out.push({
        op: 'discard',
        offsetBytes: rng.nextInt(workingSet / (64 * KIB)) * 64 * KIB,
        lengthBytes: 64 * KIB,
      });
    } else if (roll < 0.94) {
      out.push({ op: 'flush' });
    } else {
      out.push({ op: 'sleep', ms: IDLE_MS });
    }
  }
  return out;
}

function write(offsetBytes: number, lengthBytes: number, pattern: number): QemuIoCommand {
  return { op: 'write', offsetBytes, lengthBytes, pattern, zero: false, mayUnmap: false };
}

function zero(offsetBytes: number, lengthBytes: number): QemuIoCommand {
  return { op: 'write', offsetBytes, lengthBytes, pattern: 0, zero: true, mayUnmap: false };
}

/** 1..255 except the backing file's byte (0 is what zero writes and holes read as). */
function pickPattern(rng: Rng): number {
  for (;;) {
    const p = 1 + rng.nextInt(255);
    if (p !== BACKING_PATTERN) return p;
  }
}

/** One qemu-io script line for a command (the reproducer's script). */
export function renderCommand(c: QemuIoCommand): string {
  switch (c.op) {
    case 'write':
      if (c.zero) return `write -z${c.mayUnmap ? ' -u' : ''} ${c.offsetBytes} ${c.lengthBytes}`;
      return `write -P 0x${c.pattern.toString(16)} ${c.offsetBytes} ${c.lengthBytes}`;
    case 'read':
      return `read${c.pattern === undefined ? '' : ` -P 0x${c.pattern.toString(16)}`} ${c.offsetBytes} ${c.lengthBytes}`;
    case 'discard':
      return `discard ${c.offsetBytes} ${c.lengthBytes}`;
    case 'flush':
      return 'flush';
    case 'abort':
      return 'abort';
    case 'sleep':
      return `sleep ${c.ms}`;
  }
}
