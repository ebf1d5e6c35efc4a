import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistedOperationId } from '../../src/persisted-operations.js';
import { MANIFEST_PATH, readOperations } from '../../scripts/persisted-operations.js';
import { startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * The README's examples are part of the product: each ```graphql block preceded by an
 * `<!-- upstream calls: npm=N axis=M -->` marker runs here, in order, against the demo
 * data, and must succeed with exactly the upstream calls the marker states.
 */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/<!-- upstream calls: npm=(\d+) axis=(\d+) -->\s*```graphql\n([\s\S]*?)```/g)].map(
  (m) => ({ npm: Number(m[1]), axis: Number(m[2]), query: m[3]!.trim() }),
);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.gql('{ azureStatus { state } }'); // the NPM login, once per token lifetime
});
afterAll(() => stack.close());

describe('README examples', () => {
  it('are found', () => {
    expect(examples.length).toBeGreaterThanOrEqual(15);
  });

  it.each(examples.map((e, i) => [i + 1, e.query.split('\n')[0], e] as const))(
    '#%i %s',
    async (_n, _title, example) => {
      stack.resetCounts();
      const res = await stack.gql(example.query);
      expect(res.body.errors).toBeUndefined();
      const counts = stack.calls();
      expect({ npm: counts['npm:total'] ?? 0, axis: counts['axis:total'] ?? 0 }).toEqual({
        npm: example.npm,
        axis: example.axis,
      });
    },
  );
});

/**
 * The same examples are the persisted operations the repository ships (operations/*.graphql,
 * compiled into persisted-operations.json): the two lists hold the same documents, verbatim,
 * so an example edited in one place and not the other fails here.
 */
describe('README examples as persisted operations', () => {
  const operations = readOperations().operations;

  it('are exactly the operations in operations/, verbatim (the subscription example included)', () => {
    const subscription = /<!-- subscription example -->\s*```graphql\n([\s\S]*?)```/.exec(readme)?.[1]?.trim();
    expect(subscription).toBeDefined();
    expect([...examples.map((e) => e.query), subscription].sort()).toEqual(operations.map((o) => o.document).sort());
  });

  it('each example is in its own file, named after its operation', () => {
    for (const op of operations) {
      const name = op.file.replace(/\.graphql$/, '');
      expect(op.document).toMatch(new RegExp(`^(query|mutation|subscription) ${name} [({]`));
    }
  });

  describe('sent by documentId with PERSISTED_OPERATIONS_ONLY=true', () => {
    let persisted: Stack;
    beforeAll(async () => {
      persisted = await startStack({
        env: { PERSISTED_OPERATIONS_FILE: MANIFEST_PATH, PERSISTED_OPERATIONS_ONLY: 'true' },
      });
      await persisted.post({ documentId: persistedOperationId(examples[0]!.query) }); // the NPM login
    });
    afterAll(() => persisted.close());

    it.each(examples.map((e, i) => [i + 1, e.query.split('\n')[0], e] as const))(
      '#%i %s',
      async (_n, _title, example) => {
        persisted.resetCounts();
        const res = await persisted.post({ documentId: `sha256:${persistedOperationId(example.query)}` });
        expect(res.body.errors).toBeUndefined();
        const counts = persisted.calls();
        expect({ npm: counts['npm:total'] ?? 0, axis: counts['axis:total'] ?? 0 }).toEqual({
          npm: example.npm,
          axis: example.axis,
        });
      },
    );
  });
});
