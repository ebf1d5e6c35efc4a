/**
 * The operations the benchmark sends. The gateway and the floor receive the SAME request
 * bytes (`POST /graphql` with `{query, operationName, variables}`); the floor dispatches on
 * `operationName` instead of parsing the document, which is exactly the work a hand-written
 * REST endpoint would skip.
 */

/** M1K runs only in the Price of Redis runs (bench/run.ts), against the gateway alone. */
export type ScenarioName = 'Q1' | 'Q2' | 'Q3' | 'M1' | 'M1K';

export interface Scenario {
  readonly name: ScenarioName;
  readonly title: string;
  readonly query: string;
  readonly variables?: Readonly<Record<string, unknown>>;
  /**
   * The upstream calls one operation makes (NPM login excluded), as `<sim>:<route>` counts:
   * what the floor does and what the gateway should do.
   */
  readonly upstreamCalls: Readonly<Record<string, number>>;
  /** Every request carries a fresh `Idempotency-Key` header (bench/load.ts). */
  readonly idempotencyKey?: true;
}

/** A seed user (simulators/seed.ts); every M1 writes the same user, which is fine. */
export const BENCH_USER_ID = 'u-0001';

/**
 * Q3's page of users. Over the bench's 1000-user tenant (bench/environment.ts) each of them is
 * in one to three of 12 groups of about 170 members: about 3 000 members in the answer (some
 * 260 KB). Thirty users would ask for about 10 000, which the gateway refuses as a whole
 * (MAX_RESPONSE_ENTITIES), as it should.
 */
export const Q3_PAGE_SIZE = 10;

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  Q1: {
    name: 'Q1',
    title: 'dashboard: status + accounts + 50 users with group names',
    query:
      'query Q1 { azureStatus { enabled state lastSyncAt } azureAccounts { accId tenantId } users(pageSize: 50) { totalRecords nodes { id userName email groups { id name } } } }',
    upstreamCalls: { 'npm:status.get': 1, 'npm:authCodes.get': 1, 'axis:users.list': 1 },
  },
  Q2: {
    name: 'Q2',
    title: 'small: one NPM field',
    query: 'query Q2 { azureStatus { state } }',
    upstreamCalls: { 'npm:status.get': 1 },
  },
  Q3: {
    name: 'Q3',
    title: `nested: ${Q3_PAGE_SIZE} users -> groups -> members with email`,
    query: `query Q3 { users(pageSize: ${Q3_PAGE_SIZE}) { nodes { id groups { id name description users { id userName email } } } } }`,
    // Level 1: the page; level 2, in parallel: every group and every user (pageSize 1000).
    upstreamCalls: { 'axis:users.list': 2, 'axis:groups.list': 1 },
  },
  M1: {
    name: 'M1',
    title: 'mutation: partial updateUser (read to lock, read fresh, merge, write, commit)',
    query:
      'mutation M1($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id firstName lastName } }',
    variables: { id: BENCH_USER_ID, input: { firstName: 'Bench' } },
    // Two reads: one learns the entities to lock (the user and its groups), one is the fresh
    // copy inside the locks (src/resolvers/Mutation.ts).
    upstreamCalls: { 'axis:users.get': 2, 'axis:users.update': 1, 'axis:commit': 1 },
  },
  M1K: {
    name: 'M1K',
    title:
      'keyed mutation: M1 with a fresh Idempotency-Key per request (claimed, then its answer stored), each connection editing a user of its own',
    query:
      'mutation M1K($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id firstName lastName } }',
    variables: { id: BENCH_USER_ID, input: { firstName: 'Bench' } },
    upstreamCalls: { 'axis:users.get': 2, 'axis:users.update': 1, 'axis:commit': 1 },
    idempotencyKey: true,
  },
};

/** What `--scenarios` names and every server runs; M1K is the gateway's alone. */
export const SCENARIO_NAMES: readonly ScenarioName[] = ['Q1', 'Q2', 'Q3', 'M1'];

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(value);
}

/** The JSON body both servers receive. */
export function requestBody(scenario: Scenario): string {
  return JSON.stringify({
    query: scenario.query,
    operationName: scenario.name,
    ...(scenario.variables === undefined ? {} : { variables: scenario.variables }),
  });
}

/** Upstream calls per operation in total (the sum of `upstreamCalls`). */
export function totalCalls(scenario: Scenario): number {
  return Object.values(scenario.upstreamCalls).reduce((a, b) => a + b, 0);
}
