import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships a CJS build (`main`) and an ESM build (`module`) without an `exports`
    // map. Node (production, tsx) loads the CJS build for everyone; Vite would hand our source
    // files the ESM build while Yoga, loaded by Node, gets the CJS one. Two GraphQLError
    // classes then break Yoga's instanceof checks: a parse error re-coded by useErrorCodes
    // became HTTP 500 without locations, and validation errors showed `extensions.http`.
    // Resolving to the CJS entry runs the tests against the same graphql as production.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
