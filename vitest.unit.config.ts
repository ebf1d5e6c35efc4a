import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:unit`: the tests that start no gateway and no child process, for a quick
 * loop while editing: pure code (test/unit), each simulator on its own (test/simulators)
 * and the benchmark's statistics. `npm test` still runs everything, these included.
 */
export default defineConfig({
  // The same module graph as `npm test` (one graphql-js copy).
  resolve: base.resolve,
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts', 'test/simulators/**/*.test.ts', 'test/bench/harness.test.ts'],
    // Starts the simulators' program with tsx in child processes: seconds per test.
    exclude: [...configDefaults.exclude, 'test/simulators/main.test.ts'],
  },
});
