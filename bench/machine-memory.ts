/**
 * How this machine's memory behaves, measured the way the simulation uses it: the context a
 * reader needs to compare the rate figures with another machine's. A qcow2 write at 1 TiB random
 * reads at least one L2 entry nobody touched for a long time (a cache line in 128 MiB of tables),
 * and a run's first touch of its tables' memory is paid to the kernel (and, in a VM, the host).
 */
import { Rng } from '../src/util/rng.ts';

/**
 * Nanoseconds per dependent load over `spanBytes` in one cache line per step, in a random cyclic
 * order (each load's address comes from the previous one, so neither the CPU nor its prefetcher
 * can overlap them): what one cold L2-entry read costs, TLB miss included.
 */
export function randomLineLatencyNs(spanBytes: number, steps: number, seed = 1): number {
  const lineWords = 16; // 64-byte lines of Int32
  const lines = Math.floor(spanBytes / 64);
  const next = new Int32Array(lines * lineWords);
  // Sattolo's shuffle: one cycle through every line.
  const order = new Int32Array(lines);
  for (let i = 0; i < lines; i++) order[i] = i;
  const rng = new Rng(seed);
  for (let i = lines - 1; i > 0; i--) {
    const j = rng.nextInt(i);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  for (let i = 0; i < lines; i++) {
    next[(order[i] as number) * lineWords] = (order[(i + 1) % lines] as number) * lineWords;
  }
  let at = 0;
  for (let i = 0; i < 100_000; i++) at = next[at] as number; // warm the code, not the lines
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) at = next[at] as number;
  const ns = Number(process.hrtime.bigint() - t0);
  if (at < 0) throw new Error('unreachable'); // keeps the chase from being optimised away
  return ns / steps;
}

/** Milliseconds (wall, and the kernel's share) per MiB to touch `sizeBytes` of fresh memory once. */
export function firstTouchMsPerMiB(sizeBytes: number): { wallMs: number; systemMs: number } {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4096) bytes[i] = 1;
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const mib = sizeBytes / 2 ** 20;
  return { wallMs: wallNs / 1e6 / mib, systemMs: cpu.system / 1e3 / mib };
}
