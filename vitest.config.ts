import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for every importer (graphql 16 has no exports
    // map). Vite would hand our sources the ESM build while Yoga and graphql-tools get the
    // CJS one: two copies, and `instanceof` checks inside graphql-js fail across them.
    // Resolve like Node does, so tests run the same module graph as production.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
