import { defineConfig } from 'vitest/config';

/**
 * `npm run test:oracle`: the tests that boot the real kernel under QEMU
 * (test/oracle/*.oracle.ts). They skip, saying why, where QEMU, gcc or the
 * oracle kit are missing. `npm test` (and .ci/run) never runs them.
 */
export default defineConfig({
  test: {
    include: ['test/oracle/**/*.oracle.ts'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
