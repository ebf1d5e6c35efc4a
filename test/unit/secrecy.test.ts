import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets } from '../../src/logger.js';
import { SecretSet, secretsInBody, secretsInHeaders, withoutSecrets } from '../../src/secrecy.js';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';

const PASSWORD = 'Zq81-app-password-x7Hd';
const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3NzaC1yc2EAAAADAQAB\n-----END OPENSSH PRIVATE KEY-----';

describe('SecretSet', () => {
  const secrets = new SecretSet([PASSWORD, KEY, 'short']);

  it('finds a secret whole, any 8-character fragment of it, and its JSON-escaped forms', () => {
    expect(secrets.leaksInto(`invalid request: {"app_passwd":"${PASSWORD}"}`)).toBe(true);
    expect(secrets.leaksInto(`value starts ${PASSWORD.slice(0, 8)} and stops`)).toBe(true);
    expect(secrets.leaksInto(`tail: ${PASSWORD.slice(-9)}`)).toBe(true);
    expect(secrets.leaksInto(JSON.stringify({ body: JSON.stringify({ k: KEY }) }))).toBe(true);
    expect(secrets.leaksInto(encodeURIComponent(PASSWORD))).toBe(true);
    expect(secrets.leaksInto('a short one')).toBe(true);
    expect(secrets.leaksInto('A user with userName grace.hopper already exists')).toBe(false);
    expect(secrets.leaksInto(PASSWORD.slice(0, 7))).toBe(false);
  });

  it('scrub replaces every run of a fragment', () => {
    expect(secrets.scrub(`pw=${PASSWORD}; again ${PASSWORD}`)).toBe('pw=[redacted]; again [redacted]');
  });
  it('agrees with a window-by-window scan on random texts salted with fragments (the rolling hash misses nothing)', () => {
    const grams = new Set<string>();
    for (const s of [PASSWORD, KEY, JSON.stringify(KEY).slice(1, -1)])
      for (let i = 0; i + 8 <= s.length; i++) grams.add(s.slice(i, i + 8));
    const naive = (text: string) => {
      for (let i = 0; i + 8 <= text.length; i++) if (grams.has(text.slice(i, i + 8))) return true;
      return text.includes('short');
    };
    let seed = 7;
    const next = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ \\n"{}:';
    let leaked = 0;
    for (let round = 0; round < 2000; round++) {
      let text = '';
      for (let i = next(120); i > 0; i--) text += alphabet[next(alphabet.length)];
      if (next(3) === 0) {
        const from = next(PASSWORD.length - 8);
        const at = next(text.length + 1);
        text = text.slice(0, at) + PASSWORD.slice(from, from + 8 + next(4)) + text.slice(at);
      }
      expect(secrets.leaksInto(text)).toBe(naive(text));
      if (naive(text)) leaked++;
    }
    expect(leaked).toBeGreaterThan(300);
  });
});

describe('withoutSecrets', () => {
  const sent = new SecretSet([PASSWORD]);
  it('keeps a clean text and id, drops a text or id holding a secret, and texts quoting credentials', () => {
    expect(withoutSecrets({ errorId: 'Conflict', text: 'userName taken' }, sent)).toEqual({
      errorId: 'Conflict',
      text: 'userName taken',
    });
    expect(withoutSecrets({ errorId: 'BadRequest', text: `bad: ${PASSWORD}` }, sent)).toEqual({
      errorId: 'BadRequest',
    });
    expect(withoutSecrets({ errorId: `{"pw":"${PASSWORD}"}`, text: 'x' }, sent)).toEqual({ text: 'x' });
    expect(withoutSecrets({ text: 'headers: {"authorization":"Bearer abc"}' }, sent)).toEqual({});
    expect(withoutSecrets({ text: 'password must be 12 characters' }, sent)).toEqual({});
  });

  it('reads the secrets of a call from its headers and body', () => {
    expect(secretsInHeaders({ authorization: 'Bearer tok-123', accept: 'application/json' })).toEqual([
      'Bearer tok-123',
      'tok-123',
    ]);
    expect(
      secretsInBody({ user_credentials: { username: 'admin', password: 'pw' }, list: [{ app_passwd: 'ap' }] }),
    ).toEqual(['pw', 'ap']);
  });
});

describe('logger', () => {
  it('never writes an UpstreamError text, alone or inside another error, and scrubs configured secrets', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('trace', sink, { secrets: new SecretSet([PASSWORD]) });
    const upstream = new UpstreamError('http', 'npm', { status: 400, errorId: 'X', text: 'echo: secret-text-9x' });
    logger.error({ err: upstream }, 'failed');
    logger.error({ err: Object.assign(new Error('wrapped'), { originalError: upstream }) }, 'failed');
    logger.info(`a careless line with ${PASSWORD}`);
    const all = lines.join('');
    expect(all).not.toContain('secret-text-9x');
    expect(all).not.toContain(PASSWORD);
    expect(all).toContain('"errorId":"X"');
    expect(all).toContain('[redacted]');
  });
});

describe('logger redaction by key', () => {
  const capture = () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return { lines, logger: createLogger('trace', sink) };
  };

  it('censors secret keys at the top, nested, inside arrays and in child bindings, and leaves the rest', () => {
    const { lines, logger } = capture();
    const logged = {
      password: 'pw-top-1',
      userName: 'grace',
      headers: { authorization: 'Bearer tok-2', cookie: 'c=cookie-3', accept: 'application/json' },
      body: { account: { app_passwd: 'app-4' }, users: [{ sshPrivateKey: 'key-5', email: 'g@x' }] },
      variables: { input: { anything: 'var-6' } },
      req: { headers: { authorization: 'Basic auth-7' } },
    };
    logger.child({ token: 'child-8', requestId: 'r1' }).info(logged, 'line');
    const line = lines.join('');
    for (const secret of ['pw-top-1', 'tok-2', 'cookie-3', 'app-4', 'key-5', 'var-6', 'auth-7', 'child-8'])
      expect(line).not.toContain(secret);
    const parsed = JSON.parse(line) as {
      userName: string;
      headers: unknown;
      body: { users: unknown[] };
      requestId: string;
    };
    expect(parsed.userName).toBe('grace');
    expect(parsed.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      accept: 'application/json',
    });
    expect(parsed.body.users[0]).toEqual({ sshPrivateKey: '[redacted]', email: 'g@x' });
    expect(parsed.requestId).toBe('r1');
    // The caller's object is not changed.
    expect(logged.headers.authorization).toBe('Bearer tok-2');
    expect(logged.body.users[0]!.sshPrivateKey).toBe('key-5');
  });

  it('leaves errors to their serializer and objects without secrets untouched', () => {
    const clean = { a: 1, b: { c: [1, 2, { d: 'x' }] } };
    expect(redactSecrets(clean)).toBe(clean);
    const err = Object.assign(new Error('boom'), { code: 'E1' });
    const { lines, logger } = capture();
    logger.error({ err }, 'failed');
    expect(JSON.parse(lines[0]!)).toMatchObject({ err: { type: 'Error', message: 'boom', code: 'E1' } });
  });
});
