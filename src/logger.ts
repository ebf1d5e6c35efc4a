import { pino } from 'pino';
import type { DestinationStream, Logger, LevelWithSilent } from 'pino';
import type { SecretSet } from './secrecy.js';

/**
 * Every path that can hold a secret, fixed in code (never built from input). Upstream
 * clients never log bodies or headers, so these are the second line of defence for
 * anything a later change might log by accident.
 */
const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  '*.authorization',
  'password',
  '*.password',
  'appPassword',
  '*.appPassword',
  '*.*.appPassword',
  'app_passwd',
  '*.app_passwd',
  '*.*.app_passwd',
  'sshPrivateKey',
  '*.sshPrivateKey',
  '*.*.sshPrivateKey',
  'access_token',
  '*.access_token',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'apiToken',
  '*.apiToken',
  'variables',
  '*.variables',
  // Client credentials: API keys, JWTs and the JWT secret (only ever in config and headers).
  'apiKey',
  '*.apiKey',
  'apiKeys',
  '*.apiKeys',
  'jwt',
  '*.jwt',
  'secret',
  '*.secret',
  'headers.cookie',
  'req.headers.cookie',
];

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
  return pino(
    {
      level,
      base: { service: 'npm-axis-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
      ...(secrets && secrets.size > 0 ? { hooks: { streamWrite: (line: string) => secrets.scrub(line) } } : {}),
    },
    destination,
  );
}
