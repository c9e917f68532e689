/** Attaches a qcow2 design variant's policy objects to an open image (variants.ts). */
import { MeteredDevice } from '../../device/metered-device.ts';
import type { BlockDevice } from '../../device/types.ts';
import { FlatRefcountModel } from './flat-refcounts.ts';
import type { Qcow2Image } from './qcow2-image.ts';
import { BackgroundReftableGrowth } from './reftable-growth.ts';
import type { Qcow2Policy } from './variants.ts';

export interface Qcow2VariantState {
  background: BackgroundReftableGrowth | undefined;
  flat: FlatRefcountModel | undefined;
}

export function applyQcow2Policy(
  image: Qcow2Image,
  policy: Qcow2Policy,
  device: BlockDevice,
): Qcow2VariantState {
  const s = image.s;
  const r = s.refcounts;
  const state: Qcow2VariantState = { background: undefined, flat: undefined };
  if (policy.reftableGrowth === 'double') r.reftableGrowth = 2;
  if (policy.reftableGrowth === 'background' && !s.readOnly) {
    const metered = device instanceof MeteredDevice ? device : undefined;
    const background = new BackgroundReftableGrowth(s, metered);
    r.afterAlloc = (offset, bytes) => background.afterAlloc(offset, bytes);
    r.beforeAlloc = (first, clusters) => background.beforeAlloc(first, clusters);
    state.background = background;
  }
  if (policy.flatRefcounts && !s.readOnly) {
    const flat = new FlatRefcountModel(s);
    r.onRefcountChange = (index, refcount) => flat.onRefcountChange(index, refcount);
    r.extraRegions = () => flat.regions();
    s.file.beforeFlush = () => flat.writeDirty();
    state.flat = flat;
  }
  return state;
}
