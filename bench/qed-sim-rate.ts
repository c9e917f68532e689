/**
 * How fast the QED engine simulates: seeded random 4 KiB writes into a default 1 TiB image on a
 * MemoryDevice (dataMode 'drop': metadata kept, guest data dropped) behind a MeteredDevice, the
 * stack the bench runner uses. Random over the whole TiB, most requests allocate and miss the
 * 50-table L2 cache (512 tables), which QEMU would answer with a 256 KiB table read each time.
 *
 *   npx tsx bench/qed-sim-rate.ts [writes=1000000] [spanGiB=1024]
 *
 * Wall-clock figures (CPU time too, which is steadier on a shared machine).
 */
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { IO_KIND_INDEX } from '../src/device/types.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { Rng } from '../src/util/rng.ts';

const writes = Number(process.argv[2] ?? 1_000_000);
const spanBytes = Number(process.argv[3] ?? 1024) * 2 ** 30;
const clock = new SimClock();
const memory = new MemoryDevice({ dataMode: 'drop' });
qedDriver.create({ device: memory, sizeBytes: 2 ** 40, options: {} });
const device = new MeteredDevice(memory, { clock });
const image = qedDriver.open({ device, readOnly: false, forCheck: false, clock });
const rng = new Rng(1);
const offsets = new Float64Array(writes);
for (let i = 0; i < writes; i++) offsets[i] = rng.nextInt(spanBytes / 4096) * 4096;
const block = new Uint8Array(4096).fill(0xab);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < writes; i++) {
  image.write(offsets[i] as number, block);
  clock.runDueTimers();
}
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const l2Reads = device.counters.readOps[IO_KIND_INDEX.l2] ?? 0;
console.log(
  `${writes} random 4 KiB writes over ${spanBytes / 2 ** 30} GiB of a 1 TiB QED image: ` +
    `${wallMs.toFixed(0)} ms wall (${Math.round((writes / wallMs) * 1000)}/s), ` +
    `${cpuMs.toFixed(0)} ms CPU (${Math.round((writes / cpuMs) * 1000)}/s); ` +
    `${l2Reads} L2 table reads charged; image file ${(device.size() / 2 ** 30).toFixed(1)} GiB`,
);
