import { Rng } from '../../src/util/rng.ts';

/**
 * Seeded random qemu-io scripts for format tests: pattern writes at any 512-aligned offset and
 * length (some straddling cluster and L2-table boundaries), zero writes (cluster-aligned and not),
 * and flushes, concentrated in a few regions so big-table geometries stay small on disk. Keeps
 * the expected content per 512-byte sector so `verifyCommands` can check every pattern.
 */
export interface RandomScriptOptions {
  seed: number;
  sizeBytes: number;
  clusterSizeBytes: number;
  /** Guest bytes one L2 table maps (cs · cs·ts/8). */
  l2CoverageBytes: number;
  count: number;
  /** Largest write in clusters (default 3). */
  maxClusters?: number;
  /** How many hot regions the writes go to (default 3). */
  regions?: number;
}

export interface RandomScript {
  commands: string[];
  /** Sector index → pattern byte (0 = zeros) for every sector the script wrote. */
  expected: Map<number, number>;
}

const SECTOR = 512;

export function randomQemuIoScript(options: RandomScriptOptions): RandomScript {
  const rng = new Rng(options.seed);
  const cs = options.clusterSizeBytes;
  const maxClusters = options.maxClusters ?? 3;
  const sectors = options.sizeBytes / SECTOR;
  const span = Math.min(options.sizeBytes, 8 * cs * maxClusters);
  const centers: number[] = [];
  for (let i = 0; i < (options.regions ?? 3); i++) {
    // Half the regions sit on an L2 boundary, so requests cross from one table to the next.
    const boundary =
      Math.floor(
        rng.nextInt(Math.max(1, Math.floor(options.sizeBytes / options.l2CoverageBytes))),
      ) * options.l2CoverageBytes;
    const center = i % 2 === 0 && boundary > 0 ? boundary : rng.nextInt(options.sizeBytes);
    centers.push(Math.floor(center / SECTOR) * SECTOR);
  }
  const commands: string[] = [];
  const expected = new Map<number, number>();
  for (let n = 0; n < options.count; n++) {
    const roll = rng.nextFloat();
    if (roll < 0.08) {
      commands.push('flush');
      continue;
    }
    const center = centers[rng.nextInt(centers.length)] as number;
    let startSector = Math.floor((center - span / 2 + rng.nextInt(span)) / SECTOR);
    startSector = Math.max(0, Math.min(sectors - 1, startSector));
    let lengthSectors = 1 + rng.nextInt((maxClusters * cs) / SECTOR);
    if (roll < 0.2) {
      // Cluster-aligned zero write: the efficient path (entries set to 1).
      const csSectors = cs / SECTOR;
      startSector = Math.floor(startSector / csSectors) * csSectors;
      lengthSectors = csSectors * (1 + rng.nextInt(maxClusters));
    }
    lengthSectors = Math.min(lengthSectors, sectors - startSector);
    if (lengthSectors <= 0) continue;
    const offset = startSector * SECTOR;
    const length = lengthSectors * SECTOR;
    if (roll < 0.28) {
      commands.push(`write -z ${offset} ${length}`);
      for (let s = 0; s < lengthSectors; s++) expected.set(startSector + s, 0);
    } else {
      const pattern = 1 + rng.nextInt(255);
      commands.push(`write -P 0x${pattern.toString(16)} ${offset} ${length}`);
      for (let s = 0; s < lengthSectors; s++) expected.set(startSector + s, pattern);
    }
  }
  return { commands, expected };
}

/** `read -P` commands covering every written sector, one per run of equal pattern. */
export function verifyCommands(expected: Map<number, number>): string[] {
  const sectors = [...expected.keys()].sort((a, b) => a - b);
  const commands: string[] = [];
  let i = 0;
  while (i < sectors.length) {
    const start = sectors[i] as number;
    const pattern = expected.get(start) as number;
    let end = start + 1;
    i++;
    while (i < sectors.length && sectors[i] === end && expected.get(end) === pattern) {
      end++;
      i++;
    }
    commands.push(`read -P 0x${pattern.toString(16)} ${start * SECTOR} ${(end - start) * SECTOR}`);
  }
  return commands;
}
