import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships CommonJS and ESM builds. Node (and so graphql-yoga, loaded from
    // node_modules) resolves the CommonJS one; vite would hand our sources the ESM one, and
    // yoga's `instanceof GraphQLError` would then fail for our errors. One copy for everyone.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The bench smoke run loads both cores for a minute or more; it runs on its own afterwards
    // (vitest.bench.config.ts) so it cannot disturb the socket tests' timing.
    exclude: [...configDefaults.exclude, 'test/bench/**'],
    // One private redis-server for the whole run; each test file uses its own key prefix.
    globalSetup: ['test/support/global-redis.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores: keep parallelism modest so timing-sensitive socket tests stay reliable.
    maxWorkers: 2,
  },
});
