/**
 * What the guest may read back after a power cut, per 512-byte sector.
 *
 * Every guest write fills its range with one seeded pattern byte (qemu-io `write -P`, so a
 * reproducer script replays the same request), a zero write fills with 0, and a discard lets the
 * sector read as zeros or keep what it had (QED ignores discards, qcow2 deallocates). A sector's
 * value is identified from three sample bytes; samples that disagree mean garbage (a torn or
 * misdirected cluster), which no expectation accepts.
 *
 * Expectation after a crash whose last completed guest flush is request G: the value the sector
 * had when G completed (any of them, after a discard), or the value of any write issued after G
 * (a write after the last flush reads back as its old or its new data).
 */
export const SECTOR_BYTES = 512;

/** Marker for "garbage": the sector's sample bytes disagree. */
export const GARBAGE = -1;

/** A sector value: a pattern byte 0..255. */
type Value = number;

interface SectorEvent {
  request: number;
  /** Pattern byte written, or DISCARD. */
  value: Value;
}

const DISCARD = -2;

export interface SectorExpectation {
  sector: number;
  allowed: readonly Value[];
  got: Value;
}

export class GuestModel {
  readonly #events = new Map<number, SectorEvent[]>();
  readonly #initial: (sector: number) => Value;
  readonly #allowedCache = new Map<number, Map<number, Value[]>>();
  #extents: Array<[number, number]> | undefined;

  /** `initial`: what a sector reads as before any write (zeros, or the backing file's pattern). */
  constructor(initial: (sector: number) => Value) {
    this.#initial = initial;
  }

  write(request: number, offsetBytes: number, lengthBytes: number, pattern: Value): void {
    this.#record(request, offsetBytes, lengthBytes, pattern);
  }

  discard(request: number, offsetBytes: number, lengthBytes: number): void {
    this.#record(request, offsetBytes, lengthBytes, DISCARD);
  }

  get trackedSectors(): number {
    return this.#events.size;
  }

  /** Merged [startSector, endSector) runs of every sector ever written or discarded. */
  extents(): ReadonlyArray<readonly [number, number]> {
    if (this.#extents) return this.#extents;
    const sectors = [...this.#events.keys()].sort((a, b) => a - b);
    const out: Array<[number, number]> = [];
    for (const s of sectors) {
      const last = out[out.length - 1];
      if (last && last[1] === s) last[1] = s + 1;
      else out.push([s, s + 1]);
    }
    this.#extents = out;
    return out;
  }

  /**
   * Values sector `sector` may hold after a crash whose last completed guest flush was request
   * `flushRequest` (-1: none completed; everything since the start may or may not have landed).
   */
  allowed(sector: number, flushRequest: number): readonly Value[] {
    let perFlush = this.#allowedCache.get(flushRequest);
    if (!perFlush) {
      perFlush = new Map();
      this.#allowedCache.set(flushRequest, perFlush);
    }
    const cached = perFlush.get(sector);
    if (cached) return cached;
    const events = this.#events.get(sector) ?? [];
    let settled: Value[] = [this.#initial(sector)];
    const later: Value[] = [];
    for (const e of events) {
      if (e.request < flushRequest) {
        if (e.value === DISCARD) {
          if (!settled.includes(0)) settled = [...settled, 0];
        } else {
          settled = [e.value];
        }
      } else if (e.value === DISCARD) {
        later.push(0);
      } else {
        later.push(e.value);
      }
    }
    const out = [...new Set([...settled, ...later])];
    perFlush.set(sector, out);
    return out;
  }

  /** True when the sector was discarded by a request at or after `flushRequest`. */
  discardedSince(sector: number, flushRequest: number): boolean {
    return (this.#events.get(sector) ?? []).some(
      (e) => e.value === DISCARD && e.request >= flushRequest,
    );
  }

  /** True when a zero write covered the sector at some point. */
  zeroWritten(sector: number): boolean {
    return (this.#events.get(sector) ?? []).some((e) => e.value === 0);
  }

  /**
   * Checks the bytes read for [startSector, startSector + n): returns the first sector whose
   * value is not allowed, or undefined.
   */
  verify(
    startSector: number,
    data: Uint8Array,
    flushRequest: number,
  ): SectorExpectation | undefined {
    const n = data.length / SECTOR_BYTES;
    for (let i = 0; i < n; i++) {
      const got = sectorValue(data, i * SECTOR_BYTES);
      const sector = startSector + i;
      const allowed = this.allowed(sector, flushRequest);
      if (!allowed.includes(got)) return { sector, allowed, got };
    }
    return undefined;
  }

  #record(request: number, offsetBytes: number, lengthBytes: number, value: Value): void {
    this.#extents = undefined;
    this.#allowedCache.clear();
    const first = Math.floor(offsetBytes / SECTOR_BYTES);
    const end = Math.ceil((offsetBytes + lengthBytes) / SECTOR_BYTES);
    for (let s = first; s < end; s++) {
      let list = this.#events.get(s);
      if (!list) {
        list = [];
        this.#events.set(s, list);
      }
      list.push({ request, value });
    }
  }
}

/** The pattern byte a sector holds, from three samples; GARBAGE when they disagree. */
export function sectorValue(data: Uint8Array, offset: number): Value {
  const a = data[offset] as number;
  if (data[offset + 257] !== a || data[offset + SECTOR_BYTES - 1] !== a) return GARBAGE;
  return a;
}

export function describeValue(value: Value): string {
  if (value === GARBAGE) return 'garbage (mixed bytes)';
  return `0x${value.toString(16).padStart(2, '0')}`;
}
