import type { BlockDevice, IoKind } from '../../device/types.ts';

/**
 * A table read that stops at EOF: the part past it reads as zeros (as a read past EOF of a
 * file does) without being read. A header can claim an L1 of up to 32 MiB on a file of a few
 * KiB; the work stays proportional to the file. A table inside the file is read as one request,
 * exactly as before.
 */
export function readTableInFile(
  device: BlockDevice,
  offsetBytes: number,
  lengthBytes: number,
  kind: IoKind,
): Uint8Array {
  const fileBytes = device.size();
  if (offsetBytes + lengthBytes <= fileBytes) return device.read(offsetBytes, lengthBytes, kind);
  const table = new Uint8Array(lengthBytes);
  if (offsetBytes < fileBytes) table.set(device.read(offsetBytes, fileBytes - offsetBytes, kind));
  return table;
}
