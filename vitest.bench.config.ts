import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/** The second half of `npm test`: the benchmark at smoke scale, alone on the machine. */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/bench/**/*.test.ts'],
    exclude: [],
    maxWorkers: 1,
  },
});
