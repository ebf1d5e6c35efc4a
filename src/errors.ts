import { GraphQLError } from 'graphql';
import { maskError as yogaMaskError } from 'graphql-yoga';
import { UpstreamError } from './upstreams/upstream-error.js';
import type { UpstreamName } from './upstreams/upstream-error.js';
import { quotesCredentials } from './secrecy.js';

/**
 * The one place where failures become GraphQL errors. The upstream layer throws
 * `UpstreamError` (what happened on the wire); `toGatewayError` turns it into a stable
 * `extensions.code` that clients match on. Anything else that escapes a resolver is masked.
 */

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UPSTREAM_AUTH_FAILED'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_ERROR'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  /** Yoga's: several operations and no (or an unknown) operationName. */
  | 'OPERATION_RESOLUTION_FAILURE'
  /** Yoga's: the body is larger than MAX_REQUEST_BODY_BYTES (413). */
  | 'REQUEST_ENTITY_TOO_LARGE'
  /** The request's Content-Type is not application/json (415). */
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  /** Too many failed authentications from one client address (AUTH_FAILURE_LIMIT a minute; 429). */
  | 'AUTH_RATE_LIMITED'
  /** A subscription past MAX_SUBSCRIPTIONS_PER_CALLER or MAX_SUBSCRIPTIONS (429). */
  | 'SUBSCRIPTION_LIMIT_EXCEEDED'
  | 'IDEMPOTENCY_KEY_REUSED'
  /** Another write to the same user or group held its lock past the bounded wait; nothing was changed. */
  | 'ENTITY_BUSY'
  /** REDIS_URL set and Redis unreachable: an update that needs the fleet's entity lock is not made. */
  | 'ENTITY_LOCK_UNAVAILABLE'
  /** A mutation with an Idempotency-Key while the shared idempotency store (Redis) is unreachable (503). */
  | 'IDEMPOTENCY_UNAVAILABLE'
  /** A documentId (or Apollo sha256Hash) that the persisted-operations manifest does not hold (400). */
  | 'PERSISTED_OPERATION_NOT_FOUND'
  /** A query text while PERSISTED_OPERATIONS_ONLY=true (400). */
  | 'PERSISTED_OPERATION_REQUIRED'
  /** Demand control: the operation's estimated cost is over MAX_OPERATION_COST (400). */
  | 'COST_LIMIT_EXCEEDED'
  /** The request crossed a limit of its execution budget (upstream calls, entities) and was stopped (400). */
  | 'REQUEST_BUDGET_EXCEEDED'
  | 'INTERNAL_SERVER_ERROR';

/** The same set at run time, for reading a code back off an error; `satisfies` keeps it complete. */
const ERROR_CODES: ReadonlySet<string> = new Set(
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
    BAD_REQUEST: true,
    OPERATION_RESOLUTION_FAILURE: true,
    REQUEST_ENTITY_TOO_LARGE: true,
    UNSUPPORTED_MEDIA_TYPE: true,
    UNAUTHENTICATED: true,
    FORBIDDEN: true,
    RATE_LIMITED: true,
    AUTH_RATE_LIMITED: true,
    SUBSCRIPTION_LIMIT_EXCEEDED: true,
    IDEMPOTENCY_KEY_REUSED: true,
    ENTITY_BUSY: true,
    ENTITY_LOCK_UNAVAILABLE: true,
    IDEMPOTENCY_UNAVAILABLE: true,
    PERSISTED_OPERATION_NOT_FOUND: true,
    PERSISTED_OPERATION_REQUIRED: true,
    COST_LIMIT_EXCEEDED: true,
    REQUEST_BUDGET_EXCEEDED: true,
    INTERNAL_SERVER_ERROR: true,
  } satisfies Record<ErrorCode, true>),
);

function isErrorCode(value: string): value is ErrorCode {
  return ERROR_CODES.has(value);
}

const VENDOR: Record<UpstreamName, string> = { npm: 'Riverbed NPM', axis: 'Axis IdP' };

export class GatewayError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { code, ...extensions } });
  }
}

/**
 * `instanceof GraphQLError` is not reliable: graphql 16 ships CJS and ESM builds, and a
 * process can load both (a bundler or test runner resolving `module`, Node resolving
 * `main`), each with its own class. graphql-js names every error it makes, so check that.
 */
export function isGraphQLError(err: unknown): err is GraphQLError {
  return err instanceof Error && err.name === 'GraphQLError';
}

/** Invalid input, found before any upstream call. `fields` are paths such as `input.email`. */
export function badUserInput(problems: Array<{ field: string; message: string }>): GatewayError {
  const text = problems.map((p) => `${p.field} ${p.message}`).join('; ');
  return new GatewayError('BAD_USER_INPUT', `Invalid input: ${text}`, {
    fields: problems.map((p) => p.field),
  });
}

const BAD_INPUT_IDS = new Set([
  'REQUEST_INVALID_INPUT',
  'URI_INVALID_PARAMETER',
  'URI_MISSING_PARAMETER',
  'HTTP_INVALID_HEADER',
  'BadRequest',
]);
const NOT_FOUND_IDS = new Set(['RESOURCE_NOT_FOUND', 'NotFound']);

/** The error table of the README, as code. The vendor's error id wins over the bare status. */
export function codeForUpstreamError(err: UpstreamError): ErrorCode {
  switch (err.failure) {
    case 'unavailable':
      return 'UPSTREAM_UNAVAILABLE';
    case 'timeout':
      return 'UPSTREAM_TIMEOUT';
    case 'bad_response':
      return 'UPSTREAM_BAD_RESPONSE';
    case 'http':
      break;
  }
  const { status = 0, errorId } = err.details;
  if (errorId !== undefined) {
    if (BAD_INPUT_IDS.has(errorId)) return 'BAD_USER_INPUT';
    if (NOT_FOUND_IDS.has(errorId)) return 'NOT_FOUND';
    if (errorId === 'Conflict') return 'CONFLICT';
  }
  // Rate limiting and auth are told by the status: proxies in front of an appliance send
  // 429/401 with whatever id (or none) they like.
  if (status === 429) return 'UPSTREAM_RATE_LIMITED';
  if (status === 401 || status === 403) return 'UPSTREAM_AUTH_FAILED';
  if (errorId === 'INTERNAL_ERROR' || errorId === 'HTTP_INVALID_METHOD') return 'UPSTREAM_ERROR';
  if (status === 400) return 'BAD_USER_INPUT';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  return 'UPSTREAM_ERROR';
}

/**
 * Upstream texts may echo request details. The upstream layer has already dropped any text
 * holding a fragment of a secret (secrecy.ts); here a text that still reads like it quotes
 * credentials is dropped too, and the rest is kept short and free of URLs before a client
 * sees it. Bodies, headers and URLs are never copied into extensions.
 */
export function sanitizeUpstreamText(text: string | undefined): string | undefined {
  if (text === undefined || quotesCredentials(text)) return undefined;
  const clean = text
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/bearer\s+\S+/gi, 'Bearer <redacted>')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean === '') return undefined;
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

function messageFor(code: ErrorCode, err: UpstreamError): string {
  const vendor = VENDOR[err.upstream];
  const text = sanitizeUpstreamText(err.details.text);
  switch (code) {
    case 'BAD_USER_INPUT':
      return `${vendor} rejected the input${text ? `: ${text}` : '.'}`;
    case 'NOT_FOUND':
      return `${vendor} could not find the resource${text ? `: ${text}` : '.'}`;
    case 'CONFLICT':
      return `${vendor} refused the change because it conflicts with existing data${text ? `: ${text}` : '.'}`;
    case 'UPSTREAM_AUTH_FAILED':
      return `${vendor} rejected the gateway's service credentials (missing, expired, or without the needed permission).`;
    case 'UPSTREAM_RATE_LIMITED':
      return `${vendor} is rate limiting the gateway; try again later.`;
    case 'UPSTREAM_UNAVAILABLE':
      if (err.details.local === 'circuit_open')
        return `${vendor} is failing; the gateway is not calling it for a few seconds. Try again shortly.`;
      if (err.details.local === 'queue_full') return `${vendor} is overloaded with calls from the gateway; try again.`;
      return `${vendor} is unreachable.`;
    case 'UPSTREAM_TIMEOUT':
      return `${vendor} did not answer in time.`;
    case 'UPSTREAM_BAD_RESPONSE':
      return `${vendor} sent a response the gateway could not understand.`;
    default:
      return `${vendor} failed to process the request.`;
  }
}

export function toGatewayError(err: UpstreamError): GatewayError {
  const code = codeForUpstreamError(err);
  const extensions: Record<string, unknown> = { upstream: err.upstream };
  if (err.details.status !== undefined) extensions['upstreamStatus'] = err.details.status;
  if (err.details.errorId !== undefined) extensions['upstreamErrorId'] = err.details.errorId;
  if (err.details.retryAfterMs !== undefined)
    extensions['retryAfterSeconds'] = Math.ceil(err.details.retryAfterMs / 1000);
  return new GatewayError(code, messageFor(code, err), extensions);
}

/**
 * The GraphQL error code an error would be given, for logs and callers that branch on it;
 * undefined for an error that is not ours (no code, or a code outside ErrorCode).
 */
export function errorCodeOf(err: unknown): ErrorCode | undefined {
  if (err instanceof UpstreamError) return codeForUpstreamError(err);
  if (isGraphQLError(err)) {
    const code = err.extensions?.['code'];
    if (typeof code === 'string') return isErrorCode(code) ? code : undefined;
    if (err.originalError) return errorCodeOf(err.originalError);
  }
  return undefined;
}

/** The code a client sees for an error: one without a code of ours is masked as INTERNAL_SERVER_ERROR. */
export function codeOf(err: unknown): ErrorCode {
  return errorCodeOf(err) ?? 'INTERNAL_SERVER_ERROR';
}

/**
 * What a failed write did upstream, as far as the gateway knows (for idempotency):
 * - `not_applied`: nothing was changed (never sent, refused with a 4xx, or checked by the
 *   gateway afterwards): a retry with the same key runs again;
 * - `unknown`: the request left and no definite answer came back (timeout, reset, 5xx, an
 *   unreadable success): not the key's final answer either; the retry runs again and the
 *   resolvers settle it (a create is looked up by its unique name).
 * Errors without an outcome (and successes) are final and replayed for the key's TTL.
 */
export type WriteOutcome = 'not_applied' | 'unknown';

const OUTCOMES = new WeakMap<object, WriteOutcome>();

export function markOutcome<E extends object>(error: E, outcome: WriteOutcome): E {
  OUTCOMES.set(error, outcome);
  return error;
}

/** An upstream failure's outcome, from what happened on the wire. */
export function upstreamOutcome(err: UpstreamError): WriteOutcome {
  if (err.details.notSent === true) return 'not_applied';
  if (err.failure === 'http') return (err.status ?? 0) >= 500 ? 'unknown' : 'not_applied';
  return 'unknown';
}

/** The outcome an error stands for (marked on it, on its original error, or read off an UpstreamError). */
export function outcomeOf(error: unknown): WriteOutcome | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const marked = OUTCOMES.get(error);
  if (marked !== undefined) return marked;
  if (error instanceof UpstreamError) return upstreamOutcome(error);
  const original = (error as { originalError?: unknown }).originalError;
  return original === undefined || original === error ? undefined : outcomeOf(original);
}

/**
 * Yoga's `maskedErrors.maskError`: upstream failures get their stable code and position,
 * our own GraphQL errors pass through, everything else becomes a masked
 * INTERNAL_SERVER_ERROR. The original is never attached, even in development, because
 * it can carry URLs and upstream bodies.
 */
export function maskError(error: unknown, message: string): Error {
  const located = isGraphQLError(error) ? error : undefined;
  const original = located ? located.originalError : error;
  if (original instanceof UpstreamError) {
    const mapped = toGatewayError(original);
    const masked = new GraphQLError(mapped.message, {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
      extensions: mapped.extensions,
    });
    // A resolver may have marked it already (a retry of an unknown outcome keeps it unknown).
    markOutcome(masked, outcomeOf(original) ?? upstreamOutcome(original));
    return masked;
  }
  // Our own GatewayErrors (and graphql-js validation errors) are meant for the client.
  if (located && (original === undefined || isGraphQLError(original))) return located;
  return yogaMaskError(error, message, false);
}
