import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration tests share one lab (network namespaces, a bridge): never run files in parallel.
    fileParallelism: false,
    pool: 'forks',
  },
});
