import { describe, expect, it } from 'vitest';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { type QedImage, qedDriver } from '../src/formats/qed/qed-format.ts';
import { exploreVariant } from './helpers/variant-crash.ts';

const CS = 65536;
const VARIANT = 'bitmap';

function open(
  mem: MemoryDevice,
  clock = new SimClock(),
): { image: QedImage; device: MeteredDevice } {
  const device = new MeteredDevice(mem, { clock });
  const image = qedDriver.open({
    device,
    readOnly: false,
    forCheck: false,
    clock,
    variant: VARIANT,
  }) as QedImage;
  return { image, device };
}

function filled(): { mem: MemoryDevice; image: QedImage; clock: SimClock; device: MeteredDevice } {
  const mem = new MemoryDevice();
  qedDriver.create({
    device: new MeteredDevice(mem),
    sizeBytes: 1024 ** 3,
    options: {},
    variant: VARIANT,
  });
  const clock = new SimClock();
  const { image, device } = open(mem, clock);
  for (let i = 0; i < 16; i++) image.write(i * CS, new Uint8Array(CS).fill(5));
  image.flush();
  return { mem, image, clock, device };
}

/**
 * QED `bitmap`: a non-authoritative used-cluster bitmap written before each sync and used to find
 * free clusters; after an unclean shutdown (NEED_CHECK set) the L1/L2 scan rebuilds it.
 */
describe('QED bitmap variant', () => {
  it('writes the bitmap before the sync and reuses discarded clusters', () => {
    const { mem, image, device } = filled();
    expect(device.counters.writeOps[IO_KIND_INDEX.bitmap]).toBeGreaterThan(0);
    image.discard(0, 4 * CS);
    const size = mem.size();
    for (let i = 0; i < 4; i++) image.write((200 + i) * CS, new Uint8Array(CS).fill(6));
    image.flush();
    expect(mem.size()).toBe(size);
    expect(image.state.freeSpace?.reusedClusters).toBe(4);
    expect(image.check('none')).toMatchObject({ corruptions: 0, leaks: 0 });
  });

  it('reusing a freed cluster makes NEED_CHECK durable first, so a crash rescans', () => {
    const { image, clock, device } = filled();
    clock.sleepNs(10e9); // the need-check timer clears the flag
    expect(image.info().dirty).toBe(false);
    image.discard(0, CS);
    const flushes = device.counters.flushes;
    image.write(300 * CS, new Uint8Array(CS).fill(8));
    expect(image.info().dirty).toBe(true);
    expect(device.counters.flushes).toBeGreaterThan(flushes);
  });

  it('trusted after a clean close; ignored (rebuilt from L1/L2) when NEED_CHECK is set', () => {
    const { mem, image } = filled();
    image.discard(0, 6 * CS);
    image.close();
    const clean = open(MemoryDevice.fromBytes(mem.toBytes()));
    expect(clean.image.state.freeSpace?.freeClusters).toBe(6);
    expect(clean.image.state.freeSpace?.rebuiltByScan).toBe(false);
    expect(clean.device.counters.readOps[IO_KIND_INDEX.l2]).toBe(0);
    // Set NEED_CHECK by hand: the bitmap is no longer the authority.
    const dirty = MemoryDevice.fromBytes(mem.toBytes());
    const header = dirty.read(0, 64, 'header').slice();
    header[16] = (header[16] as number) | 2;
    dirty.write(0, header, 'header');
    const rescanned = open(dirty);
    expect(rescanned.device.counters.readOps[IO_KIND_INDEX.l2]).toBe(1);
    expect(rescanned.image.state.freeSpace?.rebuiltByScan).toBe(true);
    expect(rescanned.image.check('none')).toMatchObject({ corruptions: 0, leaks: 0 });
  });

  it('power cuts at random points: reopen finds no corruption and flushed data reads back', () => {
    for (const workload of ['discard-churn', 'mixed']) {
      const result = exploreVariant('qed', VARIANT, workload, { states: 200 });
      expect(result.statesExplored).toBeGreaterThanOrEqual(150);
      expect(result.violations).toBe(0);
    }
  });
});
