import { pino } from 'pino';
import type { DestinationStream, Logger, LevelWithSilent } from 'pino';

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

export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'npm-axis-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
