/**
 * Secrecy as an invariant: no byte of a secret the gateway holds or has sent upstream may
 * reach a response or a log line, whatever an upstream answers. An upstream that echoes its
 * request in an error (a 400 quoting the body, a proxy quoting the headers) would otherwise
 * carry the NPM password, a token, an `app_passwd` or an SSH key to a caller.
 *
 * Every upstream call knows its secrets: the gateway's own credentials (SecretSet, built
 * once from config, plus the NPM access token of the moment) and the secret fields of the
 * call's body and headers. The upstream layer checks the error text and id against them
 * before an `UpstreamError` is made; a text that holds any fragment of a secret (any run of
 * MIN_FRAGMENT characters, raw, JSON-escaped once or twice, URL- or base64-encoded) is
 * dropped whole, so the caller gets the gateway's own message for that error instead.
 */
import type { GatewayConfig } from './config.js';

/** The shortest run of a secret that counts as leaking it. */
const MIN_FRAGMENT = 8;

/** Keys whose string values are secrets, in any body the gateway sends upstream. */
const SECRET_FIELDS = new Set([
  'password',
  'app_passwd',
  'appPassword',
  'sshPrivateKey',
  'access_token',
  'refresh_token',
  'token',
  'secret_key',
  'client_secret',
]);

/** The forms in which a secret can come back inside an upstream's (JSON) error text. */
function encodings(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  const forms = [secret, once, twice, encodeURIComponent(secret), Buffer.from(secret, 'utf8').toString('base64')];
  return [...new Set(forms)];
}

/*
 * Every log line is checked against the configuration's secrets, so the check must not
 * allocate per character: a rolling hash over each MIN_FRAGMENT-long window is looked up
 * first, and only a hash hit slices the window to compare it.
 */
const HASH_BASE = 31;
/** HASH_BASE ** (MIN_FRAGMENT - 1), modulo 2^32. */
const HASH_TOP = Array.from({ length: MIN_FRAGMENT - 1 }).reduce<number>((h) => Math.imul(h, HASH_BASE), 1);

function windowHash(text: string, from: number): number {
  let h = 0;
  for (let i = from; i < from + MIN_FRAGMENT; i++) h = (Math.imul(h, HASH_BASE) + text.charCodeAt(i)) | 0;
  return h;
}

/** The start of the first MIN_FRAGMENT-long window of `text` whose hash is in `hashes` and that is in `grams`, from `from` on; -1 when none. */
function findGram(text: string, from: number, hashes: Set<number>, grams: Set<string>): number {
  if (text.length - from < MIN_FRAGMENT) return -1;
  let h = windowHash(text, from);
  for (let i = from; ; i++) {
    if (hashes.has(h) && grams.has(text.slice(i, i + MIN_FRAGMENT))) return i;
    if (i + MIN_FRAGMENT >= text.length) return -1;
    h =
      (Math.imul((h - Math.imul(text.charCodeAt(i), HASH_TOP)) | 0, HASH_BASE) + text.charCodeAt(i + MIN_FRAGMENT)) | 0;
  }
}

/** A set of secret values, checked by fragment: any MIN_FRAGMENT-long run of one of their encodings. */
export class SecretSet {
  private readonly grams = new Set<string>();
  /** windowHash of every gram. */
  private readonly hashes = new Set<number>();
  /** Secrets shorter than MIN_FRAGMENT are matched whole. */
  private readonly short = new Set<string>();
  private readonly known = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  get size(): number {
    return this.known.size;
  }

  add(secret: string | undefined): this {
    if (secret === undefined || secret === '' || this.known.has(secret)) return this;
    this.known.add(secret);
    for (const form of encodings(secret)) {
      if (form.length < MIN_FRAGMENT) this.short.add(form);
      else
        for (let i = 0; i + MIN_FRAGMENT <= form.length; i++) {
          this.grams.add(form.slice(i, i + MIN_FRAGMENT));
          this.hashes.add(windowHash(form, i));
        }
    }
    return this;
  }

  /** True when `text` holds any fragment of any secret of this set. */
  leaksInto(text: string): boolean {
    if (this.known.size === 0 || text === '') return false;
    for (const s of this.short) if (text.includes(s)) return true;
    return findGram(text, 0, this.hashes, this.grams) !== -1;
  }

  /** Every run of `text` that is a fragment of a secret, replaced by `censor`. */
  scrub(text: string, censor = '[redacted]'): string {
    if (!this.leaksInto(text)) return text;
    const hidden = new Uint8Array(text.length);
    for (
      let i = findGram(text, 0, this.hashes, this.grams);
      i !== -1;
      i = findGram(text, i + 1, this.hashes, this.grams)
    ) {
      hidden.fill(1, i, i + MIN_FRAGMENT);
    }
    for (const s of this.short) {
      for (let at = text.indexOf(s); at !== -1; at = text.indexOf(s, at + 1)) hidden.fill(1, at, at + s.length);
    }
    let out = '';
    for (let i = 0; i < text.length; i++) {
      if (hidden[i] === 0) out += text[i];
      else if (i === 0 || hidden[i - 1] === 0) out += censor;
    }
    return out;
  }
}

/** The secret values a request body carries: strings under SECRET_FIELDS keys, at any depth. */
export function secretsInBody(body: unknown, into: string[] = [], depth = 0): string[] {
  if (depth > 10 || body === null || typeof body !== 'object') return into;
  if (Array.isArray(body)) {
    for (const item of body) secretsInBody(item, into, depth + 1);
    return into;
  }
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === 'string' && SECRET_FIELDS.has(key)) into.push(value);
    else secretsInBody(value, into, depth + 1);
  }
  return into;
}

/** The credentials in request headers: the whole value and, for `Bearer x` / `Basic x`, the credential alone. */
export function secretsInHeaders(headers: Record<string, string> | undefined, into: string[] = []): string[] {
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower !== 'authorization' && lower !== 'cookie' && !lower.includes('token') && !lower.includes('key')) continue;
    into.push(value);
    const credential = /^\s*\S+\s+(\S+)\s*$/.exec(value)?.[1];
    if (credential !== undefined) into.push(credential);
  }
  return into;
}

/** Words that mark a text as quoting credentials even when no known secret is in it. */
const CREDENTIAL_MARKERS =
  /authori[sz]ation|password|passwd|private.?key|-----BEGIN|secret|cookie|api.?key|access.?token|\[redacted\]/i;

/** A vendor error id worth showing: a short identifier, not free text. */
const ERROR_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The upstream's error text and id as the rest of the gateway may see them: each is kept
 * only when it holds no fragment of the call's secrets and does not quote credentials;
 * otherwise it is dropped and the gateway's own message for the error is all a caller gets.
 */
export function withoutSecrets(
  vendor: { errorId?: string; text?: string },
  ...secrets: SecretSet[]
): { errorId?: string; text?: string } {
  const out: { errorId?: string; text?: string } = {};
  const { errorId, text } = vendor;
  const leaks = (value: string) => secrets.some((set) => set.leaksInto(value));
  if (errorId !== undefined && ERROR_ID.test(errorId) && !leaks(errorId)) out.errorId = errorId;
  if (text !== undefined && !CREDENTIAL_MARKERS.test(text) && !leaks(text)) out.text = text;
  return out;
}

/** Every secret the configuration holds: upstream credentials, client API keys, the JWT secret, exporter headers. */
export function configSecrets(config: GatewayConfig): SecretSet {
  const npmAuth = config.npm.auth;
  return new SecretSet([
    npmAuth.kind === 'password' ? npmAuth.password : npmAuth.accessToken,
    config.axis.apiToken,
    ...config.auth.apiKeys.map((k) => k.key),
    config.auth.jwt?.secret,
    config.metrics.token,
    ...Object.values(config.tracing?.headers ?? {}),
  ]);
}

/** True when a text (already checked for known secrets) still reads like it quotes credentials. */
export function quotesCredentials(text: string): boolean {
  return CREDENTIAL_MARKERS.test(text);
}
