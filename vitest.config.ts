import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // MemoryDevice checks every patched write that carries its whole content (see memory-device.ts).
    env: { QEDLAB_VERIFY_PATCHED_WRITES: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
