import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BudgetDevice } from '../src/fuzz/budget-device.ts';
import { headerFields, openMemory, putU32, smallQcow2 } from './helpers/qcow2-malformed.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuImgCheckJson } from './helpers/qemu-compare.ts';

/** QEMU's largest L1 (32 MiB of entries) on an image of a few dozen KiB. */
const L1_ENTRIES = (32 * 1024 * 1024) / 8;

function imageWithHugeL1() {
  const memory = smallQcow2({ snapshots: 1 });
  expect(headerFields(memory).l1Size).toBe(1);
  putU32(memory, 36, L1_ENTRIES);
  return memory;
}

// An l1_size within QEMU's limit but far past EOF: the part of the table past EOF reads as
// zeros, so open and check read about the file, not the 32 MiB the header claims, nor an L2 for
// every entry.
describe('qcow2: l1_size far past EOF', () => {
  it('open and check read work proportional to the file', () => {
    const memory = imageWithHugeL1();
    const budget = new BudgetDevice(memory);
    const image = openMemory(budget, { readOnly: true, forCheck: true });
    const result = image.check('none');
    expect(result.corruptions).toBeGreaterThan(0);
    expect(budget.readBytes).toBeLessThan(8 * memory.size());
    const writable = openMemory(new BudgetDevice(memory), { readOnly: false, forCheck: false });
    expect(writable.read(0, 8192)[0]).toBe(1);
  });
});

describeWithQemu('qcow2: l1_size far past EOF, against qemu-img', () => {
  it('the lab check reports what qemu-img check reports', () => {
    const memory = imageWithHugeL1();
    const file = path.join(makeTempDir('qcow2-l1-eof-'), 'a.qcow2');
    fs.writeFileSync(file, memory.toBytes());
    const qemu = qemuImgCheckJson(file, 'qcow2');
    const lab = openMemory(memory, { readOnly: true, forCheck: true }).check('none');
    expect({
      corruptions: lab.corruptions,
      leaks: lab.leaks,
      allocated: lab.allocatedClusters,
      fragmented: lab.fragmentedClusters,
      end: lab.imageEndOffsetBytes,
    }).toEqual({
      corruptions: qemu.json.corruptions,
      leaks: qemu.json.leaks ?? 0,
      allocated: qemu.json['allocated-clusters'],
      fragmented: qemu.json['fragmented-clusters'],
      end: qemu.json['image-end-offset'],
    });
  });
});
