import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { leanTakes } from '../../src/front/lean-front.js';

function req(method: string, url: string, headers: Record<string, string>): IncomingMessage {
  return { method, url, headers } as unknown as IncomingMessage;
}

const json = { 'content-type': 'application/json' };

describe('leanTakes: the lean front decides from the method, path and headers alone', () => {
  it.each([
    ['no Accept', {}],
    ['*/*', { accept: '*/*' }],
    ['application/json', { accept: 'application/json' }],
    ['graphql-response+json, json', { accept: 'application/graphql-response+json, application/json;q=0.9' }],
    ['a charset on the body', { 'content-type': 'application/json; charset=utf-8' }],
  ])('takes a JSON POST to /graphql: %s', (_, headers) => {
    expect(leanTakes(req('POST', '/graphql', { ...json, ...headers }))).toBe(true);
  });

  it.each([
    ['GET', req('GET', '/graphql?query=%7B__typename%7D', {})],
    ['SSE', req('POST', '/graphql', { ...json, accept: 'text/event-stream' })],
    ['SSE among others', req('POST', '/graphql', { ...json, accept: 'application/json, text/event-stream' })],
    ['multipart', req('POST', '/graphql', { ...json, accept: 'multipart/mixed' })],
    ['HTML', req('POST', '/graphql', { ...json, accept: 'text/html' })],
    ['text/plain body', req('POST', '/graphql', { 'content-type': 'text/plain' })],
    ['no body type', req('POST', '/graphql', {})],
    ['application/graphql+json body', req('POST', '/graphql', { 'content-type': 'application/graphql+json' })],
    ['a query string', req('POST', '/graphql?x=1', json)],
    ['another path', req('POST', '/graphql/', json)],
    ['/health', req('GET', '/health', {})],
    ['a preflight', req('OPTIONS', '/graphql', {})],
  ])('leaves the rest to Yoga: %s', (_, request) => {
    expect(leanTakes(request)).toBe(false);
  });
});
