/**
 * Simulator of the Riverbed NPM Azure Integration API (`npm.azure_config` 1.0)
 * plus the appliance login it needs (`mgmt.aaa` 1.0 token).
 *
 * Contract: /work/shared/upstream-docs/riverbed-npm-azure-config-api.txt and
 * upstream-facts.md ("Riverbed NPM"). Every error body is
 * `{"error_id": "<ID>", "error_text": "..."}` with the ids and statuses of the
 * document's error table. Behaviour the documents leave open is marked
 * "sim choice" below.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { describeZodError } from './faults.js';
import { SEED_AZURE_ACCOUNTS } from './seed.js';
import type { SeedAzureAccount } from './seed.js';
import type {
  Route,
  RouteLookup,
  SimRequest,
  SimResponse,
  SimServerOptions,
  SimVendor,
  Simulator,
} from './sim-server.js';
import { NO_CONTENT, bearerToken, createSimServer, jsonReply, parseJsonBody } from './sim-server.js';

const NPM_TOKEN_PATH = '/api/mgmt.aaa/1.0/token';
const NPM_AZURE_BASE_PATH = '/api/npm.azure_config/1.0';

const NPM_ROUTE_NAMES = [
  'token.post',
  'status.get',
  'syncStatus.put',
  'sync.post',
  'authCodes.get',
  'authCodes.put',
  'authCodes.delete',
] as const;

/**
 * How GET /status renders `enabled`. The document types it as string but its
 * example shows `true` (upstream-facts.md), so clients must accept all three.
 */
type NpmEnabledFormat = 'boolean' | 'ENABLED' | 'true';

type NpmSyncState =
  'SYNC_INITIALIZING' | 'SYNC_FAILED' | 'SYNC_SUCCEEDED' | 'SYNC_SUCCEEDED_WITH_WARNING' | 'SYNC_DISABLED' | 'SYNC_NA';

export interface NpmSimulatorOptions {
  readonly username?: string;
  readonly password?: string;
  /** Tokens valid without login until `expireTokens()`; `reset()` makes them valid again. */
  readonly staticTokens?: readonly string[];
  /** Access token lifetime; Riverbed appliances use about 15 minutes. */
  readonly tokenTtlSeconds?: number;
  readonly enabledFormat?: NpmEnabledFormat;
  /** How long POST /sync stays in SYNC_INITIALIZING; 0 completes the sync synchronously. */
  readonly syncDurationMs?: number;
  readonly log?: boolean;
  /** Uniform in [0, 1) for fault rules with `probability`; seed it for deterministic tests. Default `Math.random`. */
  readonly random?: () => number;
  /** Sees every API request (route name and headers) as it arrives: tests check what the gateway sends. */
  readonly onRequest?: SimServerOptions['onRequest'];
  /** Clock in epoch milliseconds, injectable so tests can age tokens. */
  readonly now?: () => number;
}

interface NpmSimState {
  readonly accounts: readonly SeedAzureAccount[];
  readonly sync: {
    readonly enabled: boolean;
    readonly state: NpmSyncState;
    readonly last_sync_ts: number;
    readonly last_success_ts: number;
    readonly error_id: number;
    readonly error_text: string;
    readonly inProgress: boolean;
  };
  readonly tokens: { readonly issued: number; readonly static: number };
}

export type NpmSimulator = Simulator<NpmSimState>;

/** Error id of a failed sync; the document lists no sync error ids, so this is a sim choice. */
const NPM_SYNC_AUTH_FAILURE_ERROR_ID = 1001;

/** An account whose app_passwd is this literal makes the next sync fail (demo hook). */
export const NPM_INVALID_APP_PASSWD = 'invalid';

const DEFAULT_ERROR_IDS: Readonly<Record<number, string>> = {
  400: 'REQUEST_INVALID_INPUT',
  401: 'AUTH_REQUIRED',
  403: 'AUTH_FORBIDDEN',
  404: 'RESOURCE_NOT_FOUND',
  405: 'HTTP_INVALID_METHOD',
  // No 413 id in the table; Riverbed reports oversized input as malformed input.
  413: 'REQUEST_INVALID_INPUT',
};

const DEFAULT_ERROR_TEXTS: Readonly<Record<string, string>> = {
  INTERNAL_ERROR: 'Internal server error.',
  AUTH_REQUIRED: 'The requested resource requires authentication.',
  AUTH_INVALID_CREDENTIALS: 'Invalid username and/or password.',
  AUTH_INVALID_SESSION: 'Session ID is invalid.',
  AUTH_FORBIDDEN: 'User is not authorized to access the requested resource.',
  AUTH_INVALID_TOKEN: 'OAuth access token is invalid.',
  AUTH_EXPIRED_TOKEN: 'OAuth access token is expired.',
  RESOURCE_NOT_FOUND: 'Requested resource was not found.',
  HTTP_INVALID_METHOD: 'Requested method is not available for this resource.',
  REQUEST_INVALID_INPUT: 'Malformed input structure.',
};

function npmError(status: number, errorId?: string, text?: string): SimResponse {
  const id = errorId ?? DEFAULT_ERROR_IDS[status] ?? 'INTERNAL_ERROR';
  return jsonReply(status, { error_id: id, error_text: text ?? DEFAULT_ERROR_TEXTS[id] ?? 'Error.' });
}

const nonBlank = z.string().regex(/\S/, 'must be a non-empty string');

const tokenRequestSchema = z.object({
  user_credentials: z.object({ username: z.string(), password: z.string() }),
  generate_refresh_token: z.boolean().optional(),
});

const syncStatusSchema = z.object({ status: z.enum(['ENABLED', 'DISABLED']) });

const authCodesPutSchema = z.array(
  z.object({
    tenant_id: nonBlank,
    subscription_id: nonBlank,
    acc_id: nonBlank,
    app_id: nonBlank,
    app_passwd: nonBlank,
  }),
);

const authCodesDeleteSchema = z.array(z.object({ acc_id: nonBlank }));

interface TokenRecord {
  expiresAtMs: number;
  readonly isStatic: boolean;
}

/** Replaced, never mutated, on every change: GET /status caches its answer per record. */
interface SyncRecord {
  readonly enabled: boolean;
  readonly state: NpmSyncState;
  readonly lastSyncTs: number;
  readonly lastSuccessTs: number;
  readonly errorId: number;
  readonly errorText: string;
}

/** Above this many tokens, logins prune tokens that expired over an hour ago (bounded memory under load). */
const TOKEN_PRUNE_THRESHOLD = 10_000;

export function createNpmSimulator(options: NpmSimulatorOptions = {}): NpmSimulator {
  const username = options.username ?? 'admin';
  const password = options.password ?? 'demo-npm-password';
  const staticTokens = options.staticTokens ?? [];
  const ttlMs = (options.tokenTtlSeconds ?? 900) * 1000;
  const enabledFormat = options.enabledFormat ?? 'boolean';
  const syncDurationMs = options.syncDurationMs ?? 300;
  const now = options.now ?? Date.now;
  const nowSeconds = (): number => Math.floor(now() / 1000);

  const tokens = new Map<string, TokenRecord>();
  // Map keeps insertion order and an upsert of an existing key keeps its place,
  // which is the order GET /auth_codes answers in.
  const accounts = new Map<string, SeedAzureAccount>();
  let accountsJson: Buffer | undefined;
  let sync: SyncRecord = seedSync();
  let statusJson: { readonly of: SyncRecord; readonly body: Buffer } | undefined;
  let syncTimer: NodeJS.Timeout | undefined;

  function seedSync(): SyncRecord {
    // A realistic steady state: the last periodic sync finished 17 minutes ago.
    const ts = nowSeconds() - 17 * 60;
    return { enabled: true, state: 'SYNC_SUCCEEDED', lastSyncTs: ts, lastSuccessTs: ts, errorId: 0, errorText: 'OK' };
  }

  function seedTokens(): void {
    tokens.clear();
    for (const token of staticTokens) tokens.set(token, { expiresAtMs: Number.POSITIVE_INFINITY, isStatic: true });
  }

  function resetData(): void {
    accounts.clear();
    for (const account of SEED_AZURE_ACCOUNTS) accounts.set(account.acc_id, { ...account });
    accountsJson = undefined;
    sync = seedSync();
    seedTokens();
  }

  function cancelSync(): void {
    if (syncTimer !== undefined) clearTimeout(syncTimer);
    syncTimer = undefined;
  }

  function finishSync(): void {
    syncTimer = undefined;
    if (!sync.enabled) return;
    let invalid: string | undefined;
    for (const account of accounts.values()) {
      if (account.app_passwd === NPM_INVALID_APP_PASSWD) {
        invalid = account.acc_id;
        break;
      }
    }
    const ts = nowSeconds();
    if (invalid !== undefined) {
      sync = {
        ...sync,
        state: 'SYNC_FAILED',
        errorId: NPM_SYNC_AUTH_FAILURE_ERROR_ID,
        errorText: `Failed to authenticate Azure account ${invalid}: invalid client secret`,
      };
    } else if (accounts.size === 0) {
      sync = {
        ...sync,
        state: 'SYNC_SUCCEEDED_WITH_WARNING',
        lastSuccessTs: ts,
        errorId: 0,
        errorText: 'No Azure accounts configured',
      };
    } else {
      sync = { ...sync, state: 'SYNC_SUCCEEDED', lastSuccessTs: ts, errorId: 0, errorText: 'OK' };
    }
  }

  function formatEnabled(enabled: boolean): boolean | string {
    if (enabledFormat === 'ENABLED') return enabled ? 'ENABLED' : 'DISABLED';
    if (enabledFormat === 'true') return enabled ? 'true' : 'false';
    return enabled;
  }

  /** Undefined when the bearer token is valid, else the Riverbed 401. */
  function authenticate(req: SimRequest): SimResponse | undefined {
    const token = bearerToken(req.headers);
    if (token === undefined) return npmError(401, 'AUTH_REQUIRED');
    const record = tokens.get(token);
    if (record === undefined) return npmError(401, 'AUTH_INVALID_TOKEN');
    if (now() >= record.expiresAtMs) return npmError(401, 'AUTH_EXPIRED_TOKEN');
    return undefined;
  }

  function pruneTokens(): void {
    if (tokens.size < TOKEN_PRUNE_THRESHOLD) return;
    const cutoff = now() - 3_600_000;
    for (const [token, record] of tokens) {
      if (!record.isStatic && record.expiresAtMs < cutoff) tokens.delete(token);
    }
  }

  /** Wraps an azure_config handler with the bearer check. */
  function authed(handle: (req: SimRequest) => SimResponse): Route['handle'] {
    return (req) => authenticate(req) ?? handle(req);
  }

  const login: Route['handle'] = (req) => {
    const body = parseJsonBody(req.body);
    if (!body.ok) return npmError(400, 'REQUEST_INVALID_INPUT', body.reason);
    const parsed = tokenRequestSchema.safeParse(body.value);
    if (!parsed.success) return npmError(400, 'REQUEST_INVALID_INPUT', describeZodError(parsed.error));
    const creds = parsed.data.user_credentials;
    if (creds.username !== username || creds.password !== password) return npmError(401, 'AUTH_INVALID_CREDENTIALS');
    pruneTokens();
    const token = randomBytes(32).toString('base64url');
    const expiresAtMs = now() + ttlMs;
    tokens.set(token, { expiresAtMs, isStatic: false });
    return jsonReply(201, { access_token: token, token_type: 'bearer', expires_at: Math.floor(expiresAtMs / 1000) });
  };

  const getStatus = authed(() => {
    // Encoded once per sync record: the benchmark reads the status far more often than it changes.
    if (statusJson?.of !== sync) {
      const body = JSON.stringify({
        enabled: formatEnabled(sync.enabled),
        error_text: sync.errorText,
        last_sync_ts: sync.lastSyncTs,
        last_success_ts: sync.lastSuccessTs,
        error_id: sync.errorId,
        state: sync.state,
      });
      statusJson = { of: sync, body: Buffer.from(body, 'utf8') };
    }
    return { status: 200, body: statusJson.body };
  });

  const putSyncStatus = authed((req) => {
    const body = parseJsonBody(req.body);
    if (!body.ok) return npmError(400, 'REQUEST_INVALID_INPUT', body.reason);
    const parsed = syncStatusSchema.safeParse(body.value);
    if (!parsed.success) return npmError(400, 'REQUEST_INVALID_INPUT', 'status must be ENABLED or DISABLED');
    if (parsed.data.status === 'DISABLED') {
      cancelSync();
      sync = { ...sync, enabled: false, state: 'SYNC_DISABLED' };
    } else if (!sync.enabled) {
      // Re-enabled accounts have not been synced yet: "not available" until the next sync.
      sync = { ...sync, enabled: true, state: 'SYNC_NA', errorId: 0, errorText: 'OK' };
    }
    return NO_CONTENT;
  });

  const postSync = authed(() => {
    // Sim choice: the document does not say what a sync of disabled accounts
    // does; answering 400 makes "you forgot to enable sync" visible to callers.
    if (!sync.enabled) return npmError(400, 'REQUEST_INVALID_INPUT', 'sync is disabled');
    cancelSync();
    sync = { ...sync, state: 'SYNC_INITIALIZING', lastSyncTs: nowSeconds(), errorId: 0, errorText: 'OK' };
    if (syncDurationMs <= 0) {
      finishSync();
    } else {
      syncTimer = setTimeout(finishSync, syncDurationMs);
      syncTimer.unref();
    }
    return NO_CONTENT;
  });

  const getAuthCodes = authed(() => {
    // Encoded once per change: the benchmark reads this far more often than it writes.
    accountsJson ??= Buffer.from(
      JSON.stringify(
        Array.from(accounts.values(), (a) => ({
          tenant_id: a.tenant_id,
          subscription_id: a.subscription_id,
          acc_id: a.acc_id,
          app_id: a.app_id,
        })),
      ),
      'utf8',
    );
    return { status: 200, body: accountsJson };
  });

  const putAuthCodes = authed((req) => {
    const body = parseJsonBody(req.body);
    if (!body.ok) return npmError(400, 'REQUEST_INVALID_INPUT', body.reason);
    // Validate every element before storing any: the upsert is all or nothing.
    const parsed = authCodesPutSchema.safeParse(body.value);
    if (!parsed.success) return npmError(400, 'REQUEST_INVALID_INPUT', describeZodError(parsed.error));
    for (const a of parsed.data) {
      accounts.set(a.acc_id, {
        tenant_id: a.tenant_id,
        subscription_id: a.subscription_id,
        acc_id: a.acc_id,
        app_id: a.app_id,
        app_passwd: a.app_passwd,
      });
    }
    if (parsed.data.length > 0) accountsJson = undefined;
    return NO_CONTENT;
  });

  const deleteAuthCodes = authed((req) => {
    const body = parseJsonBody(req.body);
    if (!body.ok) return npmError(400, 'REQUEST_INVALID_INPUT', body.reason);
    const parsed = authCodesDeleteSchema.safeParse(body.value);
    if (!parsed.success) return npmError(400, 'REQUEST_INVALID_INPUT', describeZodError(parsed.error));
    // Sim choice: an unknown id fails the whole request and deletes nothing,
    // so a caller never has to guess which part of a batch was applied.
    const missing = parsed.data.filter((a) => !accounts.has(a.acc_id)).map((a) => a.acc_id);
    if (missing.length > 0) {
      return npmError(404, 'RESOURCE_NOT_FOUND', `Azure account not found: ${[...new Set(missing)].join(', ')}`);
    }
    for (const a of parsed.data) accounts.delete(a.acc_id);
    if (parsed.data.length > 0) accountsJson = undefined;
    return NO_CONTENT;
  });

  const routes = new Map<string, Map<string, Route>>([
    [NPM_TOKEN_PATH, new Map([['POST', { name: 'token.post', shape: 'object', handle: login }]])],
    [`${NPM_AZURE_BASE_PATH}/status`, new Map([['GET', { name: 'status.get', shape: 'object', handle: getStatus }]])],
    [
      `${NPM_AZURE_BASE_PATH}/sync/status`,
      new Map([['PUT', { name: 'syncStatus.put', shape: 'empty', handle: putSyncStatus }]]),
    ],
    [`${NPM_AZURE_BASE_PATH}/sync`, new Map([['POST', { name: 'sync.post', shape: 'empty', handle: postSync }]])],
    [
      `${NPM_AZURE_BASE_PATH}/auth_codes`,
      new Map<string, Route>([
        ['GET', { name: 'authCodes.get', shape: 'array', handle: getAuthCodes }],
        ['PUT', { name: 'authCodes.put', shape: 'empty', handle: putAuthCodes }],
        ['DELETE', { name: 'authCodes.delete', shape: 'empty', handle: deleteAuthCodes }],
      ]),
    ],
  ]);

  const vendor: SimVendor<NpmSimState> = {
    label: 'npm-sim',
    contentType: 'application/json',
    routeNames: NPM_ROUTE_NAMES,
    // Wildcard faults model an outage of the Azure integration; login breaks only when a rule names it.
    faultExemptRoutes: ['token.post'],
    lookup(method, pathname): RouteLookup {
      const byMethod = routes.get(pathname);
      if (byMethod === undefined) return { kind: 'notFound' };
      const route = byMethod.get(method);
      if (route === undefined) return { kind: 'methodNotAllowed', allow: [...byMethod.keys()] };
      return { kind: 'route', route, params: [] };
    },
    errorReply: npmError,
    state: () => ({
      accounts: Array.from(accounts.values(), (a) => ({ ...a })),
      sync: {
        enabled: sync.enabled,
        state: sync.state,
        last_sync_ts: sync.lastSyncTs,
        last_success_ts: sync.lastSuccessTs,
        error_id: sync.errorId,
        error_text: sync.errorText,
        inProgress: syncTimer !== undefined,
      },
      tokens: {
        issued: [...tokens.values()].filter((t) => !t.isStatic).length,
        static: staticTokens.length,
      },
    }),
    resetData,
    expireTokens() {
      // New logins still issue fresh, valid tokens.
      for (const record of tokens.values()) record.expiresAtMs = Number.NEGATIVE_INFINITY;
    },
    dispose: cancelSync,
  };

  resetData();
  return createSimServer(vendor, { log: options.log, random: options.random, onRequest: options.onRequest });
}
