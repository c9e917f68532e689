/**
 * Refcount block entry packing for refcount_order 0..6: sub-byte widths LSB first, then one byte,
 * then big-endian 16/32/64-bit. Refcounts above 2^53 cannot occur (refcount_max of 64-bit entries
 * is never reached by the lab), so values are numbers.
 */

export function getRefcount(block: Uint8Array, index: number, order: number): number {
  switch (order) {
    case 4:
      return ((block[index * 2] as number) << 8) | (block[index * 2 + 1] as number);
    case 0:
      return ((block[index >>> 3] as number) >>> (index & 7)) & 1;
    case 1:
      return ((block[index >>> 2] as number) >>> (2 * (index & 3))) & 3;
    case 2:
      return ((block[index >>> 1] as number) >>> (4 * (index & 1))) & 15;
    case 3:
      return block[index] as number;
    case 5: {
      const p = index * 4;
      return (
        (((block[p] as number) << 24) |
          ((block[p + 1] as number) << 16) |
          ((block[p + 2] as number) << 8) |
          (block[p + 3] as number)) >>>
        0
      );
    }
    default: {
      const p = index * 8;
      let value = 0;
      for (let i = 0; i < 8; i++) value = value * 256 + (block[p + i] as number);
      return value;
    }
  }
}

export function setRefcount(block: Uint8Array, index: number, order: number, value: number): void {
  switch (order) {
    case 4:
      block[index * 2] = value >>> 8;
      block[index * 2 + 1] = value & 0xff;
      return;
    case 0: {
      const i = index >>> 3;
      const shift = index & 7;
      block[i] = ((block[i] as number) & ~(1 << shift)) | (value << shift);
      return;
    }
    case 1: {
      const i = index >>> 2;
      const shift = 2 * (index & 3);
      block[i] = ((block[i] as number) & ~(3 << shift)) | (value << shift);
      return;
    }
    case 2: {
      const i = index >>> 1;
      const shift = 4 * (index & 1);
      block[i] = ((block[i] as number) & ~(15 << shift)) | (value << shift);
      return;
    }
    case 3:
      block[index] = value;
      return;
    case 5: {
      const p = index * 4;
      block[p] = value >>> 24;
      block[p + 1] = (value >>> 16) & 0xff;
      block[p + 2] = (value >>> 8) & 0xff;
      block[p + 3] = value & 0xff;
      return;
    }
    default: {
      const p = index * 8;
      let rest = value;
      for (let i = 7; i >= 0; i--) {
        block[p + i] = rest % 256;
        rest = Math.floor(rest / 256);
      }
    }
  }
}

/** 2^bits − 1, capped at 2^53 − 1 for 64-bit refcounts. */
export function refcountMax(order: number): number {
  return order >= 6 ? Number.MAX_SAFE_INTEGER : 2 ** (1 << order) - 1;
}
