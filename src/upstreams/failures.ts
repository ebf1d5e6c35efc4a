import { BrokenCircuitError, BulkheadRejectedError, IsolatedCircuitError, TaskCancelledError } from 'cockatiel';
import { UpstreamError } from './upstream-error.js';
import type { UpstreamName } from './upstream-error.js';

/**
 * What a failed attempt means: undici's and cockatiel's errors turned into `UpstreamError`s
 * (matched on their stable `code` or class, never on a message), and which of those count
 * against an upstream's health.
 */

/** The request never reached the upstream. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** The `code` of an error or of the first error in its `cause` chain that has one. */
function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined && cause !== err) return errorCode(cause);
  }
  return undefined;
}

/** How an attempt's signal ended: its own deadline, or the request stopping it (attempt-signal.ts). */
export interface AttemptEnd {
  readonly timedOut: boolean;
  readonly signal: { readonly aborted: boolean };
}

/** A request that got no usable answer. */
export function transportError(upstream: UpstreamName, err: unknown, attempt: AttemptEnd): UpstreamError {
  const code = errorCode(err);
  const notSent = code !== undefined && CONNECT_CODES.has(code);
  // The request itself stopped (its budget ran out, or the client left): says nothing about the upstream.
  if (attempt.signal.aborted && !attempt.timedOut)
    return new UpstreamError('unavailable', upstream, { cause: err, notSent, local: 'cancelled' });
  if (attempt.timedOut || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new UpstreamError('timeout', upstream, { cause: err, notSent });
  }
  // Connection refused or reset, TLS failures, aborted caller signals and anything else
  // undici can raise: the upstream could not be used, which is what a client needs to know.
  return new UpstreamError('unavailable', upstream, { cause: err, notSent });
}

/** cockatiel's own refusals, as upstream errors a client understands; anything else as is. */
export function localError(upstream: UpstreamName, err: unknown, attempt: AttemptEnd): unknown {
  if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError)
    return new UpstreamError('unavailable', upstream, { local: 'circuit_open', notSent: true });
  if (err instanceof BulkheadRejectedError)
    return new UpstreamError('unavailable', upstream, { local: 'queue_full', notSent: true });
  if (err instanceof TaskCancelledError)
    return attempt.timedOut
      ? new UpstreamError('timeout', upstream, { local: 'deadline', notSent: true })
      : new UpstreamError('unavailable', upstream, { notSent: true, cause: err, local: 'cancelled' });
  return err;
}

/** Failures that say something about the upstream's health (not ours, not the caller's input). */
export function isBreakerFailure(err: Error): boolean {
  if (!(err instanceof UpstreamError) || err.details.local !== undefined) return false;
  if (err.failure === 'unavailable' || err.failure === 'timeout') return true;
  return err.failure === 'http' && (err.status ?? 0) >= 500;
}
