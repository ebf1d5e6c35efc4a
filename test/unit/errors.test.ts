import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  GatewayError,
  codeForUpstreamError,
  codeOf,
  errorCodeOf,
  maskError,
  sanitizeUpstreamText,
  toGatewayError,
} from '../../src/errors.js';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';

const http = (upstream: 'npm' | 'axis', status: number, errorId?: string) =>
  new UpstreamError('http', upstream, { status, ...(errorId ? { errorId } : {}) });

describe('the upstream error table', () => {
  it.each([
    [http('npm', 400, 'REQUEST_INVALID_INPUT'), 'BAD_USER_INPUT'],
    [http('npm', 400, 'URI_INVALID_PARAMETER'), 'BAD_USER_INPUT'],
    [http('npm', 400, 'URI_MISSING_PARAMETER'), 'BAD_USER_INPUT'],
    [http('npm', 400, 'HTTP_INVALID_HEADER'), 'BAD_USER_INPUT'],
    [http('axis', 400, 'BadRequest'), 'BAD_USER_INPUT'],
    [http('axis', 400), 'BAD_USER_INPUT'],
    [http('npm', 404, 'RESOURCE_NOT_FOUND'), 'NOT_FOUND'],
    [http('axis', 404, 'NotFound'), 'NOT_FOUND'],
    [http('axis', 409, 'Conflict'), 'CONFLICT'],
    [http('npm', 401, 'AUTH_EXPIRED_TOKEN'), 'UPSTREAM_AUTH_FAILED'],
    [http('npm', 403, 'AUTH_FORBIDDEN'), 'UPSTREAM_AUTH_FAILED'],
    [http('axis', 401, 'Unauthorized'), 'UPSTREAM_AUTH_FAILED'],
    [http('axis', 403, 'Forbidden'), 'UPSTREAM_AUTH_FAILED'],
    [http('axis', 429, 'TooManyRequests'), 'UPSTREAM_RATE_LIMITED'],
    [http('npm', 429), 'UPSTREAM_RATE_LIMITED'],
    [http('npm', 500, 'INTERNAL_ERROR'), 'UPSTREAM_ERROR'],
    [http('npm', 405, 'HTTP_INVALID_METHOD'), 'UPSTREAM_ERROR'],
    [http('axis', 502), 'UPSTREAM_ERROR'],
    [http('axis', 503, 'ServiceUnavailable'), 'UPSTREAM_ERROR'],
    [new UpstreamError('unavailable', 'npm'), 'UPSTREAM_UNAVAILABLE'],
    [new UpstreamError('timeout', 'axis'), 'UPSTREAM_TIMEOUT'],
    [new UpstreamError('bad_response', 'axis', { status: 200 }), 'UPSTREAM_BAD_RESPONSE'],
  ])('%s becomes %s', (err, code) => {
    expect(codeForUpstreamError(err)).toBe(code);
  });

  it('carries upstream, status and the vendor error id, never a body', () => {
    const mapped = toGatewayError(
      new UpstreamError('http', 'npm', { status: 404, errorId: 'RESOURCE_NOT_FOUND', text: 'no acc_1' }),
    );
    expect(mapped.extensions).toEqual({
      code: 'NOT_FOUND',
      upstream: 'npm',
      upstreamStatus: 404,
      upstreamErrorId: 'RESOURCE_NOT_FOUND',
    });
    expect(mapped.message).toContain('no acc_1');
  });

  it('keeps URLs and bearer tokens out of messages', () => {
    expect(sanitizeUpstreamText('see https://npm.example.com/api?x=1 now')).toBe('see <url> now');
    expect(sanitizeUpstreamText('bad header Bearer abc.def')).toBe('bad header Bearer <redacted>');
    expect(sanitizeUpstreamText('x'.repeat(500))?.length).toBe(200);
    const mapped = toGatewayError(
      new UpstreamError('http', 'axis', { status: 401, text: 'token secret-123 rejected at https://x' }),
    );
    expect(mapped.message).not.toContain('secret-123');
  });
});

describe('maskError', () => {
  it('turns an upstream failure inside a resolver error into its code', () => {
    const wrapped = new GraphQLError('boom', {
      originalError: new UpstreamError('timeout', 'npm'),
      path: ['azureStatus'],
    });
    const masked = maskError(wrapped, 'Unexpected error.') as GraphQLError;
    expect(masked.extensions['code']).toBe('UPSTREAM_TIMEOUT');
    expect(masked.path).toEqual(['azureStatus']);
  });

  it('hides unexpected errors and their details', () => {
    const wrapped = new GraphQLError('secret internals at /srv/x', {
      originalError: new TypeError('secret internals'),
    });
    const masked = maskError(wrapped, 'Unexpected error.') as GraphQLError;
    expect(masked.message).toBe('Unexpected error.');
    expect(masked.extensions['code']).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(masked.toJSON())).not.toContain('secret internals');
  });
});

describe('reading an error code back', () => {
  it('a GatewayError carries its code, typed and in extensions', () => {
    const err = new GatewayError('NOT_FOUND', 'gone');
    expect(err.code).toBe('NOT_FOUND');
    expect(err.extensions['code']).toBe('NOT_FOUND');
    expect(toGatewayError(new UpstreamError('timeout', 'axis')).code).toBe('UPSTREAM_TIMEOUT');
  });

  it('reads through a located error to the upstream failure or the GatewayError inside', () => {
    const located = (originalError: Error) => new GraphQLError('wrapped', { originalError });
    expect(errorCodeOf(located(new UpstreamError('unavailable', 'npm')))).toBe('UPSTREAM_UNAVAILABLE');
    expect(errorCodeOf(located(new GatewayError('CONFLICT', 'taken')))).toBe('CONFLICT');
  });

  it('a code outside the ErrorCode set, or none, is not ours: INTERNAL_SERVER_ERROR to a client', () => {
    const foreign = new GraphQLError('from a library', { extensions: { code: 'SOMETHING_ELSE' } });
    expect(errorCodeOf(foreign)).toBeUndefined();
    expect(codeOf(foreign)).toBe('INTERNAL_SERVER_ERROR');
    expect(codeOf(new TypeError('a bug'))).toBe('INTERNAL_SERVER_ERROR');
    expect(codeOf(new GraphQLError('coded', { extensions: { code: 'RATE_LIMITED' } }))).toBe('RATE_LIMITED');
  });
});
