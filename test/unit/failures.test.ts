import { BrokenCircuitError, BulkheadRejectedError, IsolatedCircuitError, TaskCancelledError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { isBreakerFailure, localError, transportError } from '../../src/upstreams/failures.js';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';

/** An attempt still running, and one whose own deadline passed (its signal then aborted). */
const running = { timedOut: false, signal: new AbortController().signal };
const expired = { timedOut: true, signal: AbortSignal.abort() };
const withCode = (code: string) => Object.assign(new Error('undici says no'), { code });

describe('transport failures', () => {
  it('a refused connection is unavailable and was never sent, found through the cause chain', () => {
    const err = transportError('npm', new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }), running);
    expect(err).toMatchObject({ failure: 'unavailable', upstream: 'npm', details: { notSent: true } });
  });

  it('a connect timeout is a timeout that was never sent; a headers timeout may have been', () => {
    expect(transportError('axis', withCode('UND_ERR_CONNECT_TIMEOUT'), running)).toMatchObject({
      failure: 'timeout',
      details: { notSent: true },
    });
    expect(transportError('axis', withCode('UND_ERR_HEADERS_TIMEOUT'), running)).toMatchObject({
      failure: 'timeout',
      details: { notSent: false },
    });
  });

  it("the attempt's own deadline makes any error a timeout; a reset is unavailable", () => {
    expect(transportError('npm', new Error('aborted'), expired).failure).toBe('timeout');
    expect(transportError('npm', withCode('ECONNRESET'), running)).toMatchObject({
      failure: 'unavailable',
      details: { notSent: false },
    });
  });
});

describe("the gateway's own refusals", () => {
  it.each([
    ['an open circuit', new BrokenCircuitError(), { failure: 'unavailable', details: { local: 'circuit_open' } }],
    ['an isolated circuit', new IsolatedCircuitError(), { failure: 'unavailable', details: { local: 'circuit_open' } }],
    ['a full queue', new BulkheadRejectedError(1, 1), { failure: 'unavailable', details: { local: 'queue_full' } }],
  ] as const)('%s is %o and never sent', (_, err, expected) => {
    const mapped = localError('npm', err, running);
    expect(mapped).toBeInstanceOf(UpstreamError);
    expect(mapped).toMatchObject({ ...expected, details: { ...expected.details, notSent: true } });
  });

  it('a cancelled wait is the deadline when the timer fired, otherwise the caller went away', () => {
    expect(localError('axis', new TaskCancelledError(), expired)).toMatchObject({
      failure: 'timeout',
      details: { local: 'deadline', notSent: true },
    });
    // The request itself stopped (its budget ran out, or the client left): local, so the
    // circuit breaker does not count it against the upstream.
    const gone = localError('axis', new TaskCancelledError(), running) as UpstreamError;
    expect(gone).toMatchObject({ failure: 'unavailable', details: { notSent: true, local: 'cancelled' } });
    expect(isBreakerFailure(gone)).toBe(false);
  });

  it("a transfer aborted by the request's own signal is local, not an upstream failure", () => {
    const stopped = { timedOut: false, signal: AbortSignal.abort() };
    const cut = transportError('axis', Object.assign(new Error('aborted'), { name: 'AbortError' }), stopped);
    expect(cut).toMatchObject({ failure: 'unavailable', details: { local: 'cancelled' } });
    expect(isBreakerFailure(cut)).toBe(false);
    // Without an aborted signal the same error is the upstream's.
    expect(transportError('axis', new Error('socket hang up'), running).details.local).toBeUndefined();
  });

  it('passes anything else through unchanged', () => {
    const err = new UpstreamError('http', 'npm', { status: 500 });
    expect(localError('npm', err, running)).toBe(err);
  });
});

describe('what counts against the circuit breaker', () => {
  it.each([
    [new UpstreamError('unavailable', 'npm'), true],
    [new UpstreamError('timeout', 'npm'), true],
    [new UpstreamError('http', 'npm', { status: 502 }), true],
    [new UpstreamError('http', 'npm', { status: 404 }), false],
    [new UpstreamError('http', 'npm', { status: 429 }), false],
    [new UpstreamError('bad_response', 'npm'), false],
    [new UpstreamError('unavailable', 'npm', { local: 'queue_full', notSent: true }), false],
    [new Error('a bug of ours'), false],
  ] as const)('%s: %s', (err, expected) => {
    expect(isBreakerFailure(err)).toBe(expected);
  });
});
