import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSse } from '../helpers/sse.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/** What a browser or proxy may cache: no GraphQL answer, on GET or POST, success or error. */
describe('caching headers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { GRAPHIQL: 'true' } });
  });
  afterAll(() => stack.close());

  it('GET and POST answers are Cache-Control: no-store, errors included', async () => {
    const get = await stack.get({ query: '{ azureStatus { state } }' });
    expect(get.status).toBe(200);
    expect(get.headers['cache-control']).toBe('no-store');
    const post = await stack.gql('{ azureStatus { state } }');
    expect(post.headers['cache-control']).toBe('no-store');
    const refused = await stack.get({ query: '{ azureStatus { state } }' }, { authorization: 'Bearer nope' });
    expect(refused.status).toBe(401);
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it("a subscription stream keeps Yoga's SSE no-cache; the GraphiQL page is not touched", async () => {
    const sse = await openSse(stack.url, 'subscription { azureStatus { state } }', {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(sse.headers['cache-control']).toBe('no-cache');
    sse.close();
    const page = await request(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
    await page.body.text();
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).not.toBe('no-store');
  });
});
