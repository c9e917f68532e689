import {
  type FlashParameters,
  HDD_PARAMETERS,
  NVME_PARAMETERS,
  NVME_PLP_PARAMETERS,
  SATA_SSD_PARAMETERS,
} from '../device/cost-models.ts';
import { formatDurationNs } from './units.ts';

/** Short names for chart subtitles and table titles. */
const SHORT: Readonly<Record<string, string>> = {
  none: 'no cost model',
  hdd: 'HDD',
  'sata-ssd': 'SATA SSD',
  nvme: 'NVMe',
  'nvme-plp': 'NVMe with PLP',
};

export function deviceShortName(device: string): string {
  return SHORT[device] ?? device;
}

function flash(p: FlashParameters): string {
  const mbs = (b: number) => `${Math.round(b / 1e6).toLocaleString('en-US')} MB/s`;
  return (
    `4 KiB read ${formatDurationNs(p.fourKiBReadNs)}, write ${formatDurationNs(p.fourKiBWriteNs)}, ` +
    `${mbs(p.readBandwidthBytesPerSecond)} read, ${mbs(p.writeBandwidthBytesPerSecond)} write, ` +
    `flush ${formatDurationNs(p.flushNs)}, ${p.channels} requests in parallel`
  );
}

/** One clause describing a device model's figures, for the report's setup paragraph. */
export function describeDevice(device: string): string {
  switch (device) {
    case 'hdd': {
      const p = HDD_PARAMETERS;
      return (
        `hdd = a ${p.rpm} rpm disk (average seek ${formatDurationNs(p.averageSeekReadNs)} read, ` +
        `${formatDurationNs(p.averageSeekWriteNs)} write, ${Math.round(p.outerBandwidthBytesPerSecond / 1e6)}–` +
        `${Math.round(p.innerBandwidthBytesPerSecond / 1e6)} MB/s, flush ${formatDurationNs(p.flushNs)})`
      );
    }
    case 'sata-ssd':
      return `sata-ssd = a SATA SSD (${flash(SATA_SSD_PARAMETERS)})`;
    case 'nvme':
      return `nvme = a NAND NVMe drive without power-loss protection (${flash(NVME_PARAMETERS)})`;
    case 'nvme-plp':
      return `nvme-plp = the same drive with power-loss protection (${flash(NVME_PLP_PARAMETERS)})`;
    case 'none':
      return 'none = no cost model (every I/O free: counts only)';
    default:
      return device;
  }
}
