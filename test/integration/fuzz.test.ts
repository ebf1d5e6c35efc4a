/**
 * Thousands of random requests at POST/GET /graphql of the real gateway (over loopback,
 * against the real simulators), each checked against the GraphQL-over-HTTP contract:
 *
 * - no 5xx, and every request gets an answer;
 * - a JSON body (also inside text/event-stream and multipart/mixed) holds `data` and/or a
 *   non-empty `errors`, each error with a string `message` and a known `extensions.code`,
 *   never INTERNAL_SERVER_ERROR;
 * - nothing leaks: no stack trace, source path, masked "Unexpected error", or upstream secret;
 * - afterwards the gateway still answers, and it logged no error/fatal line and no secret.
 *
 * It asserts the contract, not which known code a given input gets, so it holds while auth,
 * limits and rate limiting are added. Violations are collected, not thrown at the first one:
 * a failure lists every distinct problem with one reproducing request.
 *
 * Deterministic by default; explore other inputs with
 *   FUZZ_SEED=$RANDOM npx vitest run test/integration/fuzz.test.ts
 * and scale the request count with FUZZ_SCALE=4.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import fc from 'fast-check';
import { buildSchema } from 'graphql';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_PATH } from '../../scripts/persisted-operations.js';
import type { ErrorCode } from '../../src/errors.js';
import { SCHEMA_PATH } from '../../src/schema.js';
import {
  WRITE_ONLY_MARK,
  deepJsonText,
  fuzzString,
  generatedOperation,
  hostileDocument,
  jsonText,
  mutatedDocument,
  variableValue,
} from '../helpers/graphql-arbitraries.js';
import type { GeneratedOperation } from '../helpers/graphql-arbitraries.js';
import {
  ADMIN_KEY,
  AXIS_RO_TOKEN,
  AXIS_RW_TOKEN,
  NPM_PASSWORD,
  NPM_USER,
  VIEWER_KEY,
  startStack,
} from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20_260_701);
const SCALE = Number(process.env['FUZZ_SCALE'] ?? 1);
const CONCURRENCY = 16;
/** An answer slower than this is a violation: the gateway hung on the input. */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Every `extensions.code` a client may see: the gateway's ErrorCode union. `satisfies` makes
 * a new ErrorCode fail typecheck here until it is listed. INTERNAL_SERVER_ERROR is in the
 * union but never acceptable for input: it means an unexpected, masked failure.
 */
const ALLOWED_ERROR_CODES: ReadonlySet<string> = new Set(
  Object.keys({
    BAD_USER_INPUT: true,
    NOT_FOUND: true,
    CONFLICT: true,
    UPSTREAM_AUTH_FAILED: true,
    UPSTREAM_RATE_LIMITED: true,
    UPSTREAM_ERROR: true,
    UPSTREAM_UNAVAILABLE: true,
    UPSTREAM_TIMEOUT: true,
    UPSTREAM_BAD_RESPONSE: true,
    GRAPHQL_PARSE_FAILED: true,
    GRAPHQL_VALIDATION_FAILED: true,
    UNAUTHENTICATED: true,
    FORBIDDEN: true,
    RATE_LIMITED: true,
    IDEMPOTENCY_KEY_REUSED: true,
    ENTITY_BUSY: true,
    ENTITY_LOCK_UNAVAILABLE: true,
    IDEMPOTENCY_UNAVAILABLE: true,
    PERSISTED_OPERATION_NOT_FOUND: true,
    PERSISTED_OPERATION_REQUIRED: true,
    BAD_REQUEST: true,
    OPERATION_RESOLUTION_FAILURE: true,
    REQUEST_ENTITY_TOO_LARGE: true,
    UNSUPPORTED_MEDIA_TYPE: true,
    AUTH_RATE_LIMITED: true,
    SUBSCRIPTION_LIMIT_EXCEEDED: true,
    COST_LIMIT_EXCEEDED: true,
    REQUEST_BUDGET_EXCEEDED: true,
  } satisfies Record<
    | Exclude<ErrorCode, 'INTERNAL_SERVER_ERROR'>
    | 'UNAUTHENTICATED'
    | 'FORBIDDEN'
    | 'RATE_LIMITED'
    | 'IDEMPOTENCY_KEY_REUSED',
    true
  >),
);

/** Values that must never reach a response or a log line. */
const SECRETS: Record<string, string> = { NPM_PASSWORD, AXIS_RW_TOKEN, AXIS_RO_TOKEN, ADMIN_KEY, VIEWER_KEY };

/** Signs of internals in an error. Each counts only when the request did not contain it (graphql-js echoes input). */
const LEAKS: ReadonlyArray<readonly [string, RegExp]> = [
  ['stack trace', /\n\s*at |\s{4}at \S/],
  ['masked "Unexpected error"', /Unexpected error/i],
  ['source path', /\/src\/|node_modules|file:\/\//],
];

const schema = buildSchema(readFileSync(SCHEMA_PATH, 'utf8'));

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

type Kind = 'corpus' | 'generated' | 'mutated' | 'hostile' | 'variables' | 'body' | 'get' | 'headers';

interface FuzzRequest {
  method: string;
  /** Path and query string. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: string;
  /** Bytes for a raw socket: a header undici refuses to send (CR, LF, NUL, non-Latin-1). */
  raw?: string;
}

const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
  authorization: `Bearer ${ADMIN_KEY}`,
};

function postJson(body: string, headers: Record<string, string | string[]> = {}): FuzzRequest {
  return { method: 'POST', path: '/graphql', headers: { ...JSON_HEADERS, ...headers }, body };
}

/** Valid documents, as README-style clients send them; mutated and recombined below. */
const SAMPLE_DOCUMENTS = [
  '{ __typename }',
  'query Dashboard { azureStatus { enabled state lastSyncAt } azureAccounts { accId tenantId } users(pageSize: 50) { totalRecords nodes { id userName email groups { id name } } } }',
  '{ user(id: "u-0001") { id userName email firstName lastName enabled expiration hasSshPrivateKey groups { id name } } }',
  '{ east: azureAccount(accId: "prod-eastus") { accId subscriptionId appId } west: azureAccount(accId: "staging-westeurope") { accId } }',
  '{ groups(pageSize: 2) { totalRecords nodes { id name description users { id userName } } } }',
  'query Page($n: Int, $p: Int) { users(pageSize: $n, pageNumber: $p) { pageNumber totalPages nodes { id } } }',
  'mutation { setAzureSyncEnabled(enabled: true) { enabled state } }',
  'mutation { syncAzureAccounts { state lastSyncAt } }',
  'mutation($i: CreateUserInput!) { createUser(input: $i) { id userName groups { name } } }',
  'mutation { updateGroup(id: "g-002", input: { description: "Field and inside sales" }) { name description } }',
  'query A { __typename } query B { azureStatus { state } }',
  '{ ...F } fragment F on Query { azureStatus { enabled } }',
];

/** Documents whose variables are fuzzed, with the declared type of each variable. */
const VARIABLE_DOCUMENTS: ReadonlyArray<{ query: string; variables: Record<string, string> }> = [
  { query: 'query($id: ID!) { user(id: $id) { id userName } }', variables: { id: 'ID!' } },
  {
    query: 'query($n: Int, $p: Int) { users(pageSize: $n, pageNumber: $p) { totalRecords nodes { id } } }',
    variables: { n: 'Int', p: 'Int' },
  },
  {
    query: 'query($id: ID!, $b: Boolean!) { group(id: $id) @include(if: $b) { id name } }',
    variables: { id: 'ID!', b: 'Boolean!' },
  },
  {
    query: 'mutation($i: CreateUserInput!) { createUser(input: $i) { id email } }',
    variables: { i: 'CreateUserInput!' },
  },
  {
    query: 'mutation($id: ID!, $i: UpdateUserInput!) { updateUser(id: $id, input: $i) { id expiration } }',
    variables: { id: 'ID!', i: 'UpdateUserInput!' },
  },
  {
    query: 'mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }',
    variables: { a: '[AzureAccountInput!]!' },
  },
  { query: 'mutation($ids: [ID!]!) { deleteAzureAccounts(accIds: $ids) }', variables: { ids: '[ID!]!' } },
  {
    query: 'mutation($i: CreateGroupInput!) { createGroup(input: $i) { id users { id } } }',
    variables: { i: 'CreateGroupInput!' },
  },
  {
    query: 'mutation($id: ID!, $i: UpdateGroupInput!) { updateGroup(id: $id, input: $i) { id } }',
    variables: { id: 'ID!', i: 'UpdateGroupInput!' },
  },
  { query: 'mutation($e: Boolean!) { setAzureSyncEnabled(enabled: $e) { enabled } }', variables: { e: 'Boolean!' } },
];

const sampleDocument = fc.constantFrom(...SAMPLE_DOCUMENTS);
const anyDocument = fc.oneof(
  sampleDocument,
  generatedOperation(schema).map((op) => op.query),
);

/** Percent-encodes the UTF-8 bytes of `s` (lone surrogates become U+FFFD, as a browser would send them). */
function percentEncode(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

// Operations generated from the schema, with their variables.
const generatedRequest: fc.Arbitrary<FuzzRequest> = generatedOperation(schema).map((op) =>
  postJson(JSON.stringify(op)),
);

// Valid documents with random character edits.
const mutatedRequest: fc.Arbitrary<FuzzRequest> = fc
  .oneof(
    sampleDocument.map((query): GeneratedOperation => ({ query, variables: { n: 5, i: { userName: 'x' } } })),
    generatedOperation(schema),
  )
  .chain((op) => mutatedDocument(op.query).map((query) => postJson(JSON.stringify({ ...op, query }))));

// Random strings, unicode, lone surrogates, NUL, deep nesting and 100 KB as the document.
const hostileRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(hostileDocument, fc.constantFrom('json', 'json', 'json', 'graphql', 'get'))
  .map(([doc, how]) => {
    if (how === 'json') return postJson(JSON.stringify({ query: doc }));
    if (how === 'graphql') return postJson(doc, { 'content-type': 'application/graphql' });
    return {
      method: 'GET',
      path: `/graphql?query=${percentEncode(doc.slice(0, 3000))}`,
      headers: { accept: JSON_HEADERS.accept, authorization: JSON_HEADERS.authorization },
    };
  });

// Random variables: right types, wrong types, deep nesting, -0, 1e309, __proto__ keys.
const variablesText: fc.Arbitrary<string> = fc.constantFrom(...VARIABLE_DOCUMENTS).chain((doc) => {
  const entries = Object.entries(doc.variables).map(([name, type]) =>
    fc
      .oneof(
        { weight: 5, arbitrary: variableValue(schema, type).map((v) => JSON.stringify(v)) },
        { weight: 3, arbitrary: jsonText },
        { weight: 1, arbitrary: deepJsonText },
        { weight: 1, arbitrary: fc.constant(undefined) },
      )
      .map((text) => (text === undefined ? undefined : `${JSON.stringify(name)}:${text}`)),
  );
  const extra = fc.array(
    fc
      .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', ''), jsonText)
      .map(([k, v]) => `"${k}":${v}`),
    { maxLength: 2 },
  );
  const variables = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.tuple(...entries), extra)
        .map(([own, more]) => `{${[...own.filter((e) => e !== undefined), ...more].join(',')}}`),
    },
    { weight: 2, arbitrary: jsonText },
    { weight: 1, arbitrary: deepJsonText },
  );
  return variables.map((vars) => `{"query":${JSON.stringify(doc.query)},"variables":${vars}}`);
});
const variablesRequest: fc.Arbitrary<FuzzRequest> = variablesText.map((body) => postJson(body));

// Random bodies, content types and methods.
const paramText = fc.oneof(
  sampleDocument.map((q) => JSON.stringify(q)),
  jsonText,
  fc.constantFrom('null', '""', '5', '{}', '[]'),
);
const bodyObjectText = fc
  .record(
    {
      query: paramText,
      query2: paramText,
      variables: fc.oneof(jsonText, deepJsonText),
      operationName: fc.oneof(fc.constantFrom('"Nowhere"', '""', '7', 'null', '"Dashboard"', '"A"'), jsonText),
      extensions: fc.oneof(jsonText, fc.constant('{"persistedQuery":{"version":1,"sha256Hash":"0000"}}')),
      extra: fc.tuple(fc.constantFrom('__proto__', 'constructor', 'documentId', 'id', 'batch'), jsonText),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const parts: string[] = [];
    if (r.query !== undefined) parts.push(`"query":${r.query}`);
    if (r.query2 !== undefined) parts.push(`"query":${r.query2}`);
    if (r.variables !== undefined) parts.push(`"variables":${r.variables}`);
    if (r.operationName !== undefined) parts.push(`"operationName":${r.operationName}`);
    if (r.extensions !== undefined) parts.push(`"extensions":${r.extensions}`);
    if (r.extra !== undefined) parts.push(`"${r.extra[0]}":${r.extra[1]}`);
    return `{${parts.join(',')}}`;
  });
const multipartText = fc
  .array(
    fc.tuple(
      fc.constantFrom('operations', 'map', '0', 'variables.file', 'x"y', ''),
      fc.oneof(bodyObjectText, jsonText, fuzzString),
    ),
    {
      maxLength: 4,
    },
  )
  .map(
    (parts) =>
      `${parts.map(([name, value]) => `--fuzz\r\nContent-Disposition: form-data; name="${name}"${name === '0' ? '; filename="a.txt"' : ''}\r\n\r\n${value}\r\n`).join('')}--fuzz--\r\n`,
  );
const formText = fc
  .array(
    fc.tuple(
      fc.constantFrom('query', 'variables', 'operationName', 'extensions', '%zz', ''),
      fc.oneof(anyDocument, jsonText, fuzzString),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${percentEncode(v)}`).join('&'));
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/graphql-response+json',
  'application/graphql',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'multipart/form-data',
  'text/plain',
  'application/xml',
  'application/json, text/plain',
  ';',
  '',
];
const bodyRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    shaped: fc.oneof(
      { weight: 5, arbitrary: bodyObjectText.map((body) => ({ body, type: 'application/json' })) },
      {
        weight: 2,
        arbitrary: fc
          .array(bodyObjectText, { maxLength: 3 })
          .map((items) => ({ body: `[${items.join(',')}]`, type: 'application/json' })),
      },
      { weight: 2, arbitrary: jsonText.map((body) => ({ body, type: 'application/json' })) },
      { weight: 2, arbitrary: fuzzString.map((body) => ({ body, type: 'application/json' })) },
      { weight: 1, arbitrary: fc.constant({ body: '', type: 'application/json' }) },
      { weight: 2, arbitrary: multipartText.map((body) => ({ body, type: 'multipart/form-data; boundary=fuzz' })) },
      { weight: 2, arbitrary: formText.map((body) => ({ body, type: 'application/x-www-form-urlencoded' })) },
    ),
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { freq: 3, nil: undefined }),
    method: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  })
  .map(({ shaped, contentType, method }) => {
    const type = contentType ?? shaped.type;
    const headers: Record<string, string> = { accept: JSON_HEADERS.accept, authorization: JSON_HEADERS.authorization };
    if (type !== '') headers['content-type'] = type;
    return { method, path: '/graphql', headers, body: shaped.body };
  });

// GET with random query strings.
const getRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    params: fc.array(
      fc.tuple(
        fc.constantFrom('query', 'query', 'variables', 'operationName', 'extensions', 'query', '', '__proto__'),
        fc.oneof(anyDocument, jsonText, fuzzString, fc.constantFrom('mutation { commitAxisChanges }', '{', 'null')),
      ),
      { maxLength: 4 },
    ),
    broken: fc.option(fc.constantFrom('%zz', '%E0%A4%A', '%', '&&', '=', '%00', '+', '#frag'), {
      freq: 4,
      nil: undefined,
    }),
    // text/html gets GraphiQL, a page of megabytes: a few are enough.
    accept: fc.oneof(
      {
        weight: 40,
        arbitrary: fc.constantFrom(
          'application/json',
          'application/graphql-response+json',
          '*/*',
          'text/event-stream',
          '',
        ),
      },
      { weight: 1, arbitrary: fc.constant('text/html') },
    ),
  })
  .map(({ params, broken, accept }) => {
    const query = params.map(([k, v]) => `${k}=${percentEncode(v.slice(0, 2000))}`).join('&') + (broken ?? '');
    const headers: Record<string, string> = { authorization: JSON_HEADERS.authorization };
    if (accept !== '') headers['accept'] = accept;
    return { method: 'GET', path: `/graphql?${query}`, headers };
  });

// Random headers: Accept, x-request-id (long, odd, duplicated), Authorization, Content-Type, raw illegal bytes.
const latin1HeaderValue = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constant('\t'),
  ),
  maxLength: 200,
});
const requestIdValue = fc.oneof(
  fc.uuid(),
  latin1HeaderValue,
  fc.constantFrom('', '-', '../../etc/passwd', '<script>', '${jndi:ldap://x}', 'a b', 'id,other'),
  fc.noBias(fc.integer({ min: 100, max: 12_000 })).map((n) => 'r'.repeat(n)),
);
const acceptValue = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/graphql-response+json',
    'application/graphql-response+json, application/json;q=0.9',
    '*/*',
    'text/event-stream',
    'multipart/mixed',
    'multipart/mixed; deferSpec=20220824',
    'text/html',
    'application/xml',
    'application/json;q=0',
    'text/*',
    ';;;,,,=',
    '',
  ),
  latin1HeaderValue,
);
const authorizationValue = fc.constantFrom(
  `Bearer ${ADMIN_KEY}`,
  `Bearer ${ADMIN_KEY}`,
  `Bearer ${ADMIN_KEY}`,
  `Bearer ${ADMIN_KEY}`,
  `Bearer ${ADMIN_KEY}`,
  `bearer ${ADMIN_KEY}`,
  `Bearer ${VIEWER_KEY}`,
  'Bearer',
  'Bearer wrong-key',
  `Basic ${Buffer.from(`${NPM_USER}:x`).toString('base64')}`,
  '',
);
const rawHeaderValue = fc.oneof(
  fc.constantFrom('a\r\nx-injected: 1', 'a\nb', 'a\u0000b', 'a\rb', 'é😀\ud800', '\u0100\u2028'),
  fc.noBias(fc.integer({ min: 16_000, max: 40_000 })).map((n) => 'r'.repeat(n)),
);
const headersRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    doc: anyDocument,
    accept: fc.option(acceptValue, { nil: undefined }),
    requestId: fc.option(fc.oneof(requestIdValue, fc.array(requestIdValue, { minLength: 2, maxLength: 3 })), {
      nil: undefined,
    }),
    authorization: authorizationValue,
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=UTF-8',
      'application/json;charset=utf-16le',
      'Application/JSON',
    ),
    extra: fc.array(
      fc.tuple(
        fc.constantFrom(
          'x-forwarded-for',
          'origin',
          'x-apollo-operation-name',
          'apollo-require-preflight',
          'graphql-client-name',
          'cookie',
          'idempotency-key',
          'x-api-key',
        ),
        latin1HeaderValue,
      ),
      { maxLength: 3 },
    ),
    raw: fc.option(rawHeaderValue, { freq: 10, nil: undefined }),
  })
  .map(({ doc, accept, requestId, authorization, contentType, extra, raw }) => {
    const body = JSON.stringify({ query: doc });
    if (raw !== undefined) {
      return {
        method: 'POST',
        path: '/graphql',
        headers: { 'x-request-id': raw },
        body,
        raw:
          `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${ADMIN_KEY}\r\nX-Request-Id: ${raw}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      };
    }
    const headers: Record<string, string | string[]> = { 'content-type': contentType };
    for (const [name, value] of extra) headers[name] = value;
    if (accept !== undefined) headers['accept'] = accept;
    if (requestId !== undefined) headers['x-request-id'] = requestId;
    if (authorization !== '') headers['authorization'] = authorization;
    return { method: 'POST', path: '/graphql', headers, body };
  });

const get = (path: string): FuzzRequest => ({
  method: 'GET',
  path,
  headers: { accept: JSON_HEADERS.accept, authorization: JSON_HEADERS.authorization },
});
const missingVariables = {
  definitions: Array.from({ length: 51 }, (_, i) => `$v${i}: Boolean!`).join(', '),
  selections: Array.from({ length: 51 }, (_, i) => `a${i}: __typename @include(if: $v${i})`).join(' '),
};

/**
 * Inputs that broke the gateway once, or that the random kinds reach only now and then: every
 * run sends them, so a fixed bug stays fixed whatever the seed.
 */
const CORPUS: FuzzRequest[] = [
  // Yoga parses GET and form-urlencoded `variables`/`extensions` with a bare JSON.parse.
  get('/graphql?query=%7B__typename%7D&variables=%7B'),
  get('/graphql?query=%7B__typename%7D&extensions=%7B'),
  postJson('query=%7B__typename%7D&variables=%7B', { 'content-type': 'application/x-www-form-urlencoded' }),
  // Deep nesting overflows the parser's or the validator's stack.
  postJson(JSON.stringify({ query: `{ ${'a { '.repeat(12_000)}b${' }'.repeat(12_000)} }` })),
  postJson(JSON.stringify({ query: `{ user(id: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}) { id } }` })),
  postJson(JSON.stringify({ query: `{ ${'... on Query { '.repeat(3000)}__typename${' }'.repeat(3000)} }` })),
  // A lone surrogate survives JSON and graphql-js, then breaks encodeURIComponent in a loader.
  postJson('{"query":"query($id: ID!) { user(id: $id) { id } }","variables":{"id":"\\ud800"}}'),
  postJson('{"query":"query($id: ID!) { group(id: $id) { id } }","variables":{"id":"a\\udfffb"}}'),
  // More than 50 variable errors: graphql-js appends "Too many errors..." and no error gets a code.
  postJson(JSON.stringify({ query: `query(${missingVariables.definitions}) { ${missingVariables.selections} }` })),
  postJson(JSON.stringify({ query: 'subscription { azureStatus { state } }' })),
  postJson(JSON.stringify({ query: 'query A { __typename } query B { __typename }' })),
  postJson(JSON.stringify({ query: '{ __typename }', operationName: 'Nowhere' })),
  postJson(''),
  postJson('[{"query":"{ __typename }"}]'),
  postJson('--x\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--x--\r\n', {
    'content-type': 'multipart/form-data; boundary=x',
  }),
  postJson('{"query":"query($n: Int) { users(pageSize: $n) { totalRecords } }","variables":{"__proto__":{"n":1}}}'),
  postJson('{"query":"query($n: Int) { users(pageSize: $n) { totalRecords } }","variables":{"n":1e309}}'),
  postJson('{"query":"query($n: Int) { users(pageSize: $n) { totalRecords } }","variables":{"n":-0}}'),
];

const sampled =
  (arbitrary: fc.Arbitrary<FuzzRequest>, runs: number) =>
  (seed: number): FuzzRequest[] =>
    fc.sample(arbitrary, { seed, numRuns: Math.round(runs * SCALE) });

const KINDS: ReadonlyArray<{ kind: Kind; generate: (seed: number) => FuzzRequest[] }> = [
  { kind: 'corpus', generate: () => CORPUS },
  { kind: 'generated', generate: sampled(generatedRequest, 1200) },
  { kind: 'mutated', generate: sampled(mutatedRequest, 600) },
  { kind: 'hostile', generate: sampled(hostileRequest, 500) },
  { kind: 'variables', generate: sampled(variablesRequest, 600) },
  { kind: 'body', generate: sampled(bodyRequest, 500) },
  { kind: 'get', generate: sampled(getRequest, 400) },
  { kind: 'headers', generate: sampled(headersRequest, 400) },
];

// ---------------------------------------------------------------------------
// Sending and checking
// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function send(agent: Agent, base: string, req: FuzzRequest): Promise<Answer> {
  if (req.raw !== undefined) return sendRaw(base, req.raw);
  const res = await request(`${base}${req.path}`, {
    dispatcher: agent,
    method: req.method as 'POST',
    headers: req.headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    headersTimeout: ANSWER_TIMEOUT_MS,
    bodyTimeout: ANSWER_TIMEOUT_MS,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** One request over a fresh socket, for bytes undici refuses to send; only the status line is parsed. */
function sendRaw(base: string, bytes: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // write, not end: the request says Connection: close, so the server ends the socket; a
    // half-close raced with the answer under load and read as "no answer".
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.from(bytes, 'utf8')));
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      if (status === undefined) reject(new Error(`no HTTP answer (${text.length} bytes)`));
      else resolve({ status: Number(status), headers: {}, text });
    });
  });
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The GraphQL result payloads of an answer, by content type; `undefined` = not a GraphQL body. */
function payloads(answer: Answer, contentType: string): string[] | undefined {
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === 'application/json' || media === 'application/graphql-response+json') return [answer.text];
  if (media === 'text/event-stream') {
    return answer.text
      .split(/\n\n/)
      .filter((event) => /^event: next$/m.test(event))
      .map((event) =>
        event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n'),
      );
  }
  if (media === 'multipart/mixed') {
    const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1] ?? '-';
    return answer.text
      .split(`--${boundary}`)
      .map((part) => /\r?\n\r?\n([\s\S]*)$/.exec(part)?.[1]?.trim() ?? '')
      .filter((part) => part.startsWith('{'));
  }
  return undefined;
}

interface Tally {
  requests: Map<Kind, number>;
  /** Milliseconds spent generating and sending, per kind, and the slowest answer. */
  timing: Map<Kind, { generateMs: number; sendMs: number; slowestMs: number; slowest: string }>;
  statuses: Map<Kind, Map<number, number>>;
  codes: Map<string, number>;
  /** violation -> count and the first request that showed it */
  violations: Map<string, { count: number; example: string }>;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The contract violations of one answer; also counts its status and error codes. */
function check(req: FuzzRequest, answer: Answer, kind: Kind, tally: Tally): string[] {
  const problems: string[] = [];
  const statuses = tally.statuses.get(kind) ?? new Map<number, number>();
  tally.statuses.set(kind, statuses);
  bump(statuses, answer.status);
  if (answer.status >= 500) problems.push(`HTTP ${answer.status}`);

  const whole = `${answer.text}\n${JSON.stringify(answer.headers)}`;
  for (const [name, secret] of Object.entries(SECRETS)) {
    if (whole.includes(secret)) problems.push(`secret ${name} in the response`);
  }
  const requestId = header(answer, 'x-request-id');
  if (requestId !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(requestId)) {
    problems.push('unsafe x-request-id echoed');
  }
  if (req.raw !== undefined || req.method === 'HEAD' || answer.status === 204 || answer.status === 304) return problems;

  const contentType = header(answer, 'content-type') ?? '';
  if (contentType === '') {
    if (answer.text !== '') problems.push('body without content-type');
    if (answer.status < 400) problems.push(`HTTP ${answer.status} without a body`);
    return problems;
  }
  if (/^text\/html/i.test(contentType)) {
    if (req.method !== 'GET') problems.push(`text/html answer to ${req.method}`);
    return problems;
  }
  const bodies = payloads(answer, contentType);
  if (bodies === undefined) return [...problems, `unexpected content-type ${contentType.split(';')[0]}`];
  if (bodies.length === 0) problems.push(`no GraphQL result in the ${contentType.split(';')[0]} body`);

  const sent = `${req.path}\n${req.body ?? ''}`;
  for (const body of bodies) {
    let result: unknown;
    try {
      result = JSON.parse(body);
    } catch {
      problems.push('body is not JSON');
      continue;
    }
    if (typeof result !== 'object' || result === null || Array.isArray(result)) {
      problems.push('body is not a JSON object');
      continue;
    }
    const { errors } = result as { errors?: unknown };
    if (errors !== undefined && (!Array.isArray(errors) || errors.length === 0))
      problems.push('errors is not a non-empty array');
    if (!('data' in result) && !Array.isArray(errors)) problems.push('neither data nor errors');
    for (const error of Array.isArray(errors) ? (errors as unknown[]) : []) {
      const { message, extensions } = (error ?? {}) as { message?: unknown; extensions?: { code?: unknown } };
      const code = extensions?.code;
      bump(tally.codes, typeof code === 'string' ? code : '(none)');
      if (typeof message !== 'string') problems.push('error without a string message');
      if (typeof code !== 'string') {
        problems.push(`error without extensions.code: ${shape(String(message))}`);
      } else if (code === 'INTERNAL_SERVER_ERROR') {
        problems.push('INTERNAL_SERVER_ERROR');
      } else if (!ALLOWED_ERROR_CODES.has(code)) {
        problems.push(`unknown error code ${code}`);
      }
      const text = JSON.stringify(error);
      for (const [name, pattern] of LEAKS)
        if (pattern.test(text) && !pattern.test(sent)) problems.push(`${name} in an error`);
    }
  }
  return problems;
}

/** A message with its quoted parts and numbers blanked, so one kind of problem is one entry. */
function shape(message: string): string {
  return message
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\d+/g, 'N')
    .slice(0, 120);
}

/** How a failing request is shown: enough to replay it, bounded in size. */
function describeRequest(req: FuzzRequest): string {
  const clip = (s: string, n: number) =>
    s.length > n ? `${JSON.stringify(s.slice(0, n))}... (${s.length} chars)` : JSON.stringify(s);
  const headers = Object.fromEntries(
    Object.entries(req.headers)
      .filter(([name]) => name !== 'authorization' || req.headers[name] !== JSON_HEADERS.authorization)
      .map(([name, value]) => [name, typeof value === 'string' ? value.slice(0, 120) : value]),
  );
  const body = req.body === undefined ? '' : ` body=${clip(req.body, 400)}`;
  return `${req.method} ${clip(req.path, 300)} headers=${JSON.stringify(headers)}${req.raw === undefined ? '' : ' (raw socket)'}${body}`;
}

/** Sends every request, at most CONCURRENCY in flight, and records what each answer broke. */
async function fuzz(stack: Stack, agent: Agent, kind: Kind, requests: FuzzRequest[], tally: Tally): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (next < requests.length) {
      const req = requests[next++] as FuzzRequest;
      bump(tally.requests, kind);
      let problems: string[];
      const started = performance.now();
      try {
        const answer = await send(agent, stack.url, req);
        const ms = performance.now() - started;
        const timing = tally.timing.get(kind);
        if (timing !== undefined && ms > timing.slowestMs) {
          timing.slowestMs = Math.round(ms);
          timing.slowest = describeRequest(req).slice(0, 300);
        }
        problems = check(req, answer, kind, tally);
      } catch (err) {
        const code = (err as { code?: string }).code ?? (err as Error).message;
        problems = [`no answer (${code})`];
      }
      for (const problem of problems) {
        const key = `${kind}: ${problem}`;
        const seen = tally.violations.get(key);
        if (seen === undefined) tally.violations.set(key, { count: 1, example: describeRequest(req) });
        else seen.count += 1;
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
}

function violationsOf(tally: Tally, kind: Kind): string[] {
  return [...tally.violations]
    .filter(([key]) => key.startsWith(`${kind}: `))
    .map(([key, { count, example }]) => `${key} (x${count}), e.g. ${example}`);
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

describe(`fuzzing /graphql (FUZZ_SEED=${SEED})`, () => {
  let stack: Stack;
  let agent: Agent;
  const started = Date.now();
  const tally: Tally = {
    requests: new Map(),
    timing: new Map(),
    statuses: new Map(),
    codes: new Map(),
    violations: new Map(),
  };

  beforeAll(async () => {
    // With the shipped manifest, so `documentId` and `extensions.persistedQuery` inputs reach
    // the persisted-operations plugin (arbitrary documents stay allowed, as by default).
    stack = await startStack({ env: { PERSISTED_OPERATIONS_FILE: MANIFEST_PATH } });
    agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 10_000 });
  });
  afterAll(async () => {
    const statusTotals = new Map<number, number>();
    for (const byStatus of tally.statuses.values()) {
      for (const [status, n] of byStatus) statusTotals.set(status, (statusTotals.get(status) ?? 0) + n);
    }
    const sorted = <K>(m: Map<K, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));
    console.log(
      JSON.stringify(
        {
          seed: SEED,
          seconds: Math.round((Date.now() - started) / 100) / 10,
          requests: {
            total: [...tally.requests.values()].reduce((a, b) => a + b, 0),
            ...Object.fromEntries(tally.requests),
          },
          timing: Object.fromEntries(tally.timing),
          statuses: sorted(statusTotals),
          statusesByKind: Object.fromEntries([...tally.statuses].map(([kind, m]) => [kind, sorted(m)])),
          errorCodes: sorted(tally.codes),
          violations: [...tally.violations.keys()],
        },
        null,
        2,
      ),
    );
    await agent?.close();
    await stack?.close();
  });
  beforeEach(() => {
    // Each kind starts from the seed data, so a seed replays the same upstream state.
    stack.npmSim.reset();
    stack.axisSim.reset();
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))(
    '%s requests: every answer keeps the GraphQL-over-HTTP contract',
    async (_name, { kind, generate }) => {
      const generating = performance.now();
      const requests = generate(SEED + KINDS.findIndex((k) => k.kind === kind));
      const timing = { generateMs: Math.round(performance.now() - generating), sendMs: 0, slowestMs: 0, slowest: '' };
      tally.timing.set(kind, timing);
      const sending = performance.now();
      await fuzz(stack, agent, kind, requests, tally);
      timing.sendMs = Math.round(performance.now() - sending);
      expect(violationsOf(tally, kind)).toEqual([]);
    },
    60_000,
  );

  it('the gateway still answers, and logged no error line and no secret', async () => {
    const res = await stack.gql('{ __typename }');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
    const health = await request(`${stack.url}/health`);
    await health.body.dump();
    expect(health.statusCode).toBe(200);

    const problems = new Map<string, number>();
    for (const line of stack.logs) {
      for (const [name, secret] of Object.entries({ ...SECRETS, WRITE_ONLY_MARK })) {
        if (line.includes(secret)) bump(problems, `secret ${name} in a log line`);
      }
      if (/"level":(50|60)\b/.test(line)) {
        const entry = JSON.parse(line) as { msg?: string; err?: { type?: string; message?: string } };
        const level = /"level":(\d+)/.exec(line)?.[1] ?? '';
        bump(
          problems,
          `level ${level}: ${entry.msg ?? ''}: ${entry.err?.type ?? ''}: ${shape(entry.err?.message ?? '')}`,
        );
      }
    }
    expect(Object.fromEntries(problems)).toEqual({});
  });
});
