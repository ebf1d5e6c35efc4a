import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:e2e`: GraphiQL in a real browser (Debian's Chromium) against `npm run demo`.
 * Kept apart from `npm test`, which must run without a browser: vitest.config.ts only picks
 * up `*.test.ts`, these files are `*.e2e.ts`.
 */
export default defineConfig({
  // The same module graph as the unit and integration tests (one graphql-js copy).
  resolve: base.resolve,
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    // The demo starts in a few seconds and GraphiQL's page is ~40 MB of JavaScript: generous
    // bounds, while every wait inside the tests is on a condition, never a fixed delay.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
