import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, codes, raw, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const auth = { authorization: `Bearer ${ADMIN_KEY}` };
const MAX_BODY = 4096;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { MAX_REQUEST_BODY_BYTES: String(MAX_BODY) } });
});
afterAll(() => stack.close());

/**
 * Variables that make gql()'s body exactly `bytes` long (ASCII, so characters are bytes).
 * The operation declares no variable, so graphql-js ignores the padding.
 */
function paddedTo(query: string, bytes: number): Record<string, unknown> {
  const empty = JSON.stringify({ query, variables: { pad: '' } }).length;
  return { pad: 'a'.repeat(bytes - empty) };
}

describe('POST bodies: declared length, at most MAX_REQUEST_BODY_BYTES', () => {
  it('refuses a body over MAX_REQUEST_BODY_BYTES with 413', async () => {
    const res = await stack.gql('query($x: String) { __typename }', { x: 'a'.repeat(10_000) });
    expect(res.status).toBe(413);
    expect(codes(res)).toEqual(['REQUEST_ENTITY_TOO_LARGE']);
  });

  it('serves a body of exactly MAX_REQUEST_BODY_BYTES and refuses one byte more', async () => {
    const query = '{ __typename }';
    const atLimit = await stack.gql(query, paddedTo(query, MAX_BODY));
    expect(atLimit.status).toBe(200);
    expect(atLimit.body).toEqual({ data: { __typename: 'Query' } });
    const over = await stack.gql(query, paddedTo(query, MAX_BODY + 1));
    expect(over.status).toBe(413);
    expect(codes(over)).toEqual(['REQUEST_ENTITY_TOO_LARGE']);
  });

  it('a body of unknown length (chunked) is counted as it streams: served within the limit, 413 past it, before any upstream call', async () => {
    stack.resetCounts();
    const within = await raw(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: Readable.from([JSON.stringify({ query: '{ azureStatus { state } }' })]),
    });
    expect(within.status).toBe(200);
    expect(within.json()).toEqual({ data: { azureStatus: { state: 'SYNC_SUCCEEDED' } } });
    stack.resetCounts();
    const query = '{ azureStatus { state } }';
    const body = JSON.stringify({ query, variables: paddedTo(query, MAX_BODY + 1) });
    const over = await raw(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: Readable.from([body.slice(0, 2000), body.slice(2000)]),
    });
    expect(over.status).toBe(413);
    expect(over.json()).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    expect(stack.calls()).toEqual({});
  });
});

describe('POST bodies: JSON only', () => {
  it('a form-like POST is refused with 415 whatever headers it carries, and runs nothing', async () => {
    stack.resetCounts();
    // Form-like bodies (what a cross-site form can send without a preflight) are refused
    // whatever headers they carry: only JSON bodies are served.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const form = await raw(`${stack.url}/graphql`, {
        method: 'POST',
        headers: { ...auth, 'content-type': type },
        body: type.startsWith('application/x-www')
          ? 'query=mutation%7BcommitAxisChanges%7D'
          : '{"query":"{ __typename }"}',
      });
      expect(form.status).toBe(415);
      expect(form.json()).toMatchObject({ errors: [{ extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }] });
    }
    expect(stack.calls()).toEqual({});
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'application/graphql+json'])(
    'a JSON body declared as %s is served',
    async (type) => {
      const res = await stack.gql('{ __typename }', undefined, { 'content-type': type });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ data: { __typename: 'Query' } });
    },
  );
});

describe('GET parameters', () => {
  it('a GET whose variables are not JSON is 400 BAD_REQUEST, not a 500', async () => {
    const badVariables = await raw(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}&variables=%7B`, {
      method: 'GET',
      headers: auth,
    });
    expect(badVariables.status).toBe(400);
    expect(badVariables.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });

  it.each([
    ['variables', '[1]'],
    ['variables', '"text"'],
    ['extensions', '{'],
    ['extensions', '7'],
  ])('a GET whose %s is %s (not a JSON object) is 400 and names the parameter', async (name, value) => {
    const res = await stack.get({ query: '{ __typename }', [name]: value });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ message: `The "${name}" parameter must be a JSON object.`, extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('a GET with JSON-object or empty variables and extensions is served', async () => {
    for (const params of [{ variables: '{}', extensions: '{}' }, { variables: '', extensions: 'null' }, {}]) {
      const res = await stack.get({ query: '{ __typename }', ...params });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ data: { __typename: 'Query' } });
    }
  });
});
