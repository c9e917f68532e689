import type { BlockDevice } from '../../device/types.ts';
import { UsageError } from '../../util/errors.ts';
import { checkGuestRange } from '../guest-range.ts';
import type {
  CreateContext,
  FormatDriver,
  ImageFormat,
  ImageInfo,
  MapEntry,
  OpenContext,
} from '../types.ts';

/**
 * Raw: guest offset = host offset, no metadata at all. The floor every chart compares against:
 * whatever a format costs beyond raw is the price of its metadata.
 */
class RawImage implements ImageFormat {
  readonly formatName = 'raw';
  readonly #device: BlockDevice;
  readonly #readOnly: boolean;

  constructor(device: BlockDevice, readOnly: boolean) {
    this.#device = device;
    this.#readOnly = readOnly;
  }

  get virtualSizeBytes(): number {
    return this.#device.size();
  }

  read(offsetBytes: number, lengthBytes: number): Uint8Array {
    this.#checkRange(offsetBytes, lengthBytes);
    return this.#device.read(offsetBytes, lengthBytes, 'data');
  }

  write(offsetBytes: number, data: Uint8Array): void {
    this.#checkWritable();
    this.#checkRange(offsetBytes, data.length);
    this.#device.write(offsetBytes, data, 'data');
  }

  writeZeroes(offsetBytes: number, lengthBytes: number): void {
    this.#checkWritable();
    this.#checkRange(offsetBytes, lengthBytes);
    this.#device.zeroRange(offsetBytes, lengthBytes, 'data');
  }

  /** file-posix punches a hole (discard=unmap), so the range reads back as zeros. */
  discard(offsetBytes: number, lengthBytes: number): void {
    this.writeZeroes(offsetBytes, lengthBytes);
  }

  flush(): void {
    this.#device.flush();
  }

  close(): void {}

  resize(newSizeBytes: number): void {
    this.#checkWritable();
    this.#device.truncate(newSizeBytes);
  }

  map(): MapEntry[] {
    const length = this.#device.size();
    return length === 0
      ? []
      : [{ start: 0, length, depth: 0, present: true, zero: false, data: true, offset: 0 }];
  }

  info(): ImageInfo {
    const size = this.#device.size();
    return { format: 'raw', virtualSizeBytes: size, fileSizeBytes: size };
  }

  #checkRange(offsetBytes: number, lengthBytes: number): void {
    checkGuestRange(offsetBytes, lengthBytes, this.#device.size());
  }

  #checkWritable(): void {
    if (this.#readOnly) throw new UsageError('image is read-only');
  }
}

export const rawDriver: FormatDriver = {
  name: 'raw',
  createOptions: {},
  probe: () => false,
  create(context: CreateContext): void {
    for (const key of Object.keys(context.options))
      throw new UsageError(`Invalid parameter '${key}'`);
    context.device.truncate(context.sizeBytes);
  },
  open(context: OpenContext): ImageFormat {
    return new RawImage(context.device, context.readOnly);
  },
};
