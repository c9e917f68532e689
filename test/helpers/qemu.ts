import { execFileSync, spawnSync } from 'node:child_process';
import { describe } from 'vitest';

/** True when qemu-img, qemu-io and strace are all on PATH. */
export function qemuAvailable(): boolean {
  return ['qemu-img', 'qemu-io', 'strace'].every(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
  );
}

const REQUIRED = process.env.REQUIRE_QEMU === '1';
const AVAILABLE = qemuAvailable();

if (!AVAILABLE && REQUIRED) {
  throw new Error(
    'REQUIRE_QEMU=1 but qemu-img/qemu-io/strace are not installed (apt-get install qemu-utils strace)',
  );
}
if (!AVAILABLE) {
  console.warn(
    'qemu-img/qemu-io/strace not found: QEMU comparison tests are skipped (CI requires them)',
  );
}

/**
 * `describe` for tests that compare with QEMU. Skipped, with the reason printed above, where QEMU
 * is absent; under REQUIRE_QEMU=1 (CI) its absence is an error instead.
 */
// Reason for skipIf: QEMU is an external tool; these tests cannot run without it.
export const describeWithQemu = describe.skipIf(!AVAILABLE);

/** Runs qemu-img with arguments, returning stdout; throws with stderr on a non-zero exit. */
export function qemuImg(args: readonly string[]): string {
  return execFileSync('qemu-img', [...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs qemu-img and returns exit status, stdout and stderr without throwing. */
export function qemuImgStatus(args: readonly string[]): {
  status: number;
  stdout: string;
  stderr: string;
} {
  const result = spawnSync('qemu-img', [...args], { encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
