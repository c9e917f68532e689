import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { exploreCrashStates } from '../src/crash/explorer.ts';
import { writeReproducer } from '../src/crash/reproducer.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir } from './helpers/qemu-compare.ts';

// The explorer's finding about QEMU holds for QEMU itself: on the crashed image (NEED_CHECK
// lost, an L2 update survived) QEMU 7.2 opens without a check, `qemu-img check` finds the
// corruption, and the guest's read of the written data fails.
describeWithQemu('QED NEED_CHECK crash window in real QEMU', () => {
  it('qemu-img check reports the corruption and qemu-io reads fail', () => {
    const result = exploreCrashStates(
      { format: 'qed', workload: 'random', seed: 1 },
      { maxStates: 400 },
    );
    const finding = result.failures.find((f) => f.behaviour?.name === 'qed-need-check-unflushed');
    if (!finding) throw new Error('the explorer did not find the window');
    const dir = makeTempDir('qedlab-crash-qemu-');
    const files = writeReproducer(result.run, finding, dir, 'repro');

    const info = spawnSync('qemu-img', ['info', '--output=json', '-f', 'qed', files.image], {
      encoding: 'utf8',
    });
    expect(JSON.parse(info.stdout)['dirty-flag']).toBe(false);
    const check = spawnSync('qemu-img', ['check', '-f', 'qed', files.image], { encoding: 'utf8' });
    expect(check.status).toBe(2);
    const verify = spawnSync(
      'sh',
      ['-c', `qemu-io -f qed '${files.image}' < '${files.verifyScript}'`],
      {
        encoding: 'utf8',
      },
    );
    expect(`${verify.stdout}${verify.stderr}`).toMatch(/read failed: Invalid argument/);
  });
});
