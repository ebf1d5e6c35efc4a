import { pino } from 'pino';
import type { Bindings, ChildLoggerOptions, DestinationStream, Logger, LevelWithSilent } from 'pino';
import { createBatchedDestination } from './log-destination.js';
import type { SecretSet } from './secrecy.js';

/**
 * Keys whose values are secrets wherever they appear in a logged object (at any depth up to
 * REDACT_DEPTH, arrays included), fixed in code (never built from input). Upstream clients
 * never log bodies or headers, so this is the second line of defence for anything a later
 * change might log by accident; the last is the scan of every finished line for the
 * configuration's secret values (LoggerOptions.secrets).
 *
 * This replaces pino's `redact` paths: the same keys, matched at every depth instead of at
 * listed paths, by one walk per line that copies only the objects it censors. pino's
 * redactor parsed its ~50 path strings on every log call: a tenth of the gateway's CPU per
 * small request.
 */
const SECRET_KEYS = new Set([
  'authorization',
  'cookie',
  'password',
  'appPassword',
  'app_passwd',
  'sshPrivateKey',
  'access_token',
  'accessToken',
  'token',
  'apiToken',
  // A GraphQL operation's variables may carry any of the above.
  'variables',
  // Client credentials: API keys, JWTs and the JWT secret (only ever in config and headers).
  'apiKey',
  'apiKeys',
  'jwt',
  'secret',
]);

const REDACT_DEPTH = 4;
const CENSOR = '[redacted]';

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * `value` with every SECRET_KEYS entry censored: the same object when it holds none, else a
 * copy (the caller's object is never changed). Class instances (errors, dates) are left to
 * their serializers.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > REDACT_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const redacted = redactSecrets(item, depth + 1);
      if (redacted !== item) (out ??= value.slice())[i] = redacted;
    }
    return (out ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = value[key];
    const redacted = SECRET_KEYS.has(key) && item !== undefined ? CENSOR : redactSecrets(item, depth + 1);
    if (redacted !== item) (out ??= { ...value })[key] = redacted;
  }
  return (out ?? value) as T;
}

/** What a log line may say about an upstream failure: never its text (an upstream may echo the request). */
function upstreamErrorFields(err: Error): Record<string, unknown> {
  const e = err as Error & { upstream?: unknown; failure?: unknown; details?: Record<string, unknown> };
  const cause = e.details?.['cause'];
  return {
    type: 'UpstreamError',
    message: err.message,
    upstream: e.upstream,
    failure: e.failure,
    status: e.details?.['status'],
    errorId: e.details?.['errorId'],
    local: e.details?.['local'],
    notSent: e.details?.['notSent'],
    ...(cause instanceof Error
      ? { cause: { type: cause.name, code: (cause as { code?: unknown }).code, message: cause.message } }
      : {}),
  };
}

const isUpstreamError = (value: unknown): value is Error => value instanceof Error && value.name === 'UpstreamError';

/**
 * pino's error serializer, except that an UpstreamError (alone, or as a GraphQLError's
 * `originalError`) is written as its code-like fields: the upstream's text stays out of
 * every log line at every level.
 */
function serializeError(err: unknown): unknown {
  if (isUpstreamError(err)) return upstreamErrorFields(err);
  if (!(err instanceof Error)) return err;
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  const original = (err as { originalError?: unknown }).originalError;
  if (isUpstreamError(original)) out['originalError'] = upstreamErrorFields(original);
  if (isUpstreamError(err.cause)) out['cause'] = upstreamErrorFields(err.cause);
  return out;
}

export interface LoggerOptions {
  /**
   * The configuration's secrets (configSecrets): the last line of defence, every run of one
   * of them in a finished log line is replaced by `[redacted]` before it is written.
   */
  secrets?: SecretSet;
}

export function createLogger(
  level: LevelWithSilent,
  destination?: DestinationStream,
  options: LoggerOptions = {},
): Logger {
  const { secrets } = options;
  const root = pino(
    {
      level,
      base: { service: 'npm-axis-gateway' },
      formatters: { log: redactSecrets, bindings: redactSecrets },
      serializers: { err: serializeError },
      ...(secrets && secrets.size > 0 ? { hooks: { streamWrite: (line: string) => secrets.scrub(line) } } : {}),
    },
    destination ?? createBatchedDestination(),
  );
  // pino formats a child's bindings without the bindings formatter: censor them on the way
  // in. Children are made with Object.create(parent), so they inherit this method too.
  type MakeChild = (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;
  const pinoChild = (Object.getPrototypeOf(root) as { child: MakeChild }).child;
  const censoredChild: MakeChild = function (bindings, childOptions) {
    return pinoChild.call(this, redactSecrets(bindings), childOptions);
  };
  (root as unknown as { child: MakeChild }).child = censoredChild;
  return root;
}
