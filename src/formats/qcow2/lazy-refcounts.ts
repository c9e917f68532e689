import { INCOMPAT_DIRTY } from './constants.ts';
import type { Qcow2State } from './state.ts';
import { writeU64Big } from './u64.ts';

const DIRTY = BigInt(INCOMPAT_DIRTY);

/**
 * qcow2_mark_dirty: before the first L2 update that leaves refcounts behind, the 8-byte
 * incompatible_features field at offset 72 is written with the dirty bit, then flushed.
 */
export function markDirty(s: Qcow2State): void {
  const h = s.headerCluster.header;
  if (h.incompatibleFeatures & DIRTY) return;
  const bytes = new Uint8Array(8);
  writeU64Big(bytes, 0, h.incompatibleFeatures | DIRTY);
  s.device.write(72, bytes, 'header');
  s.device.flush();
  h.incompatibleFeatures |= DIRTY;
}

/** qcow2_flush_caches: L2 cache, refblocks unless dirty, then fdatasync. */
export function flushCaches(s: Qcow2State): void {
  writeCaches(s);
  s.device.flush();
}

/** qcow2_write_caches: the refblock cache is skipped while the dirty bit covers it. */
export function writeCaches(s: Qcow2State): void {
  s.l2Cache.flushToOs();
  if (s.needAccurateRefcounts) s.refcounts.refblockCache.flushToOs();
}

/** qcow2_mark_clean: clear the bit, flush both caches, rewrite the header cluster. */
export function markClean(s: Qcow2State): void {
  const h = s.headerCluster.header;
  if (!(h.incompatibleFeatures & DIRTY)) return;
  h.incompatibleFeatures &= ~DIRTY;
  flushCaches(s);
  s.updateHeader();
}
