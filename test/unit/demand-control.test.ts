import { readFileSync, readdirSync } from 'node:fs';
import { buildSchema, getOperationAST, Kind, parse } from 'graphql';
import type { FragmentDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_LIST_SIZE, estimateCost } from '../../src/demand-control.js';
import { readSchemaSdl } from '../../src/schema.js';

const schema = buildSchema(readSchemaSdl());
const MAX = loadConfig({ NPM_BASE_URL: 'http://npm', NPM_ACCESS_TOKEN: 't', AXIS_API_TOKEN: 't' }).maxOperationCost;

function cost(query: string, variables: Record<string, unknown> = {}): number {
  const document = parse(query);
  const operation = getOperationAST(document);
  if (!operation) throw new Error('no operation');
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  return estimateCost({ schema, operation, fragments, variables });
}

describe('demand control: the cost estimate counts list sizes (@listSize in schema.graphql)', () => {
  it('counts pageSize as the length of nodes, and its default when omitted', () => {
    expect(cost('{ users(pageSize: 50) { totalRecords nodes { id email } } }')).toBe(1 + 50);
    expect(cost('{ users { nodes { id } } }')).toBe(1 + 100);
    expect(cost('query($n: Int) { users(pageSize: $n) { nodes { id } } }', { n: 7 })).toBe(1 + 7);
    // Scalars cost nothing: a page's totals alone are one object.
    expect(cost('{ groups(pageSize: 1000) { totalRecords } }')).toBe(1);
  });

  it('counts User.groups as 5, Group.users as 25 and any other list as 10', () => {
    expect(cost('{ user(id: "u") { groups { id } } }')).toBe(1 + 5);
    expect(cost('{ group(id: "g") { users { id } } }')).toBe(1 + 25);
    expect(cost('{ azureAccounts { accId } }')).toBe(10);
    expect(cost('mutation { upsertAzureAccounts(accounts: []) { accId } }')).toBe(DEFAULT_LIST_SIZE);
  });

  it('multiplies along nested lists', () => {
    expect(cost('{ groups(pageSize: 1000) { nodes { users { email } } } }')).toBe(1 + 1000 * (1 + 25));
    expect(cost('{ users(pageSize: 1000) { nodes { groups { users { email } } } } }')).toBe(
      1 + 1000 * (1 + 5 * (1 + 25)),
    );
  });

  it('honours @skip/@include and counts fragments where they are spread', () => {
    expect(cost('query($b: Boolean!) { users(pageSize: 10) @include(if: $b) { nodes { id } } }', { b: false })).toBe(0);
    expect(
      cost(
        '{ a: users(pageSize: 10) { ...P } b: users(pageSize: 10) { ...P } } fragment P on UserPage { nodes { id } }',
      ),
    ).toBe(2 * (1 + 10));
    expect(cost('{ users(pageSize: 10) { nodes { ... on User { groups { id } } } } }')).toBe(1 + 10 * (1 + 5));
  });

  it('lets every README example and persisted operation through, the dashboard at 312', () => {
    expect(cost(readFileSync('operations/Dashboard.graphql', 'utf8'))).toBe(312);
    for (const file of readdirSync('operations')) {
      expect(cost(readFileSync(`operations/${file}`, 'utf8')), file).toBeLessThanOrEqual(MAX);
    }
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(blocks.length).toBeGreaterThan(5);
    for (const block of blocks) {
      if (!/^\s*(query|mutation|subscription|\{)/m.test(block)) continue;
      expect(cost(block), block).toBeLessThanOrEqual(MAX);
    }
  });

  it('refuses, at the default limit, the attacks of issue 11', () => {
    expect(MAX).toBe(50_000);
    expect(cost('{ groups(pageSize: 1000) { nodes { users { email } } } }')).toBeLessThanOrEqual(MAX);
    for (const attack of [
      '{ users(pageSize:1000){ nodes { groups { users { groups { users { id } } } } } } }',
      '{ users(pageSize: 1000) { nodes { groups { users { email } } } } }',
    ])
      expect(cost(attack), attack).toBeGreaterThan(MAX);
  });
});
