import { z } from 'zod';
import type { VendorErrorBody } from '../http.js';

/**
 * Wire shapes of the Riverbed NPM `npm.azure_config` 1.0 API and their parsing into domain
 * types. Snake_case never leaves this file.
 */

const AZURE_SYNC_STATES = [
  'SYNC_INITIALIZING',
  'SYNC_FAILED',
  'SYNC_SUCCEEDED',
  'SYNC_SUCCEEDED_WITH_WARNING',
  'SYNC_DISABLED',
  'SYNC_NA',
] as const;
type AzureSyncState = (typeof AZURE_SYNC_STATES)[number];

export interface CloudStatus {
  enabled: boolean;
  state: AzureSyncState;
  errorId: number | null;
  errorText: string | null;
  lastSyncAt: Date | null;
  lastSuccessAt: Date | null;
}

export interface AzureAccount {
  accId: string;
  tenantId: string;
  subscriptionId: string;
  appId: string;
}

export interface AzureAccountWrite extends AzureAccount {
  /** Write-only secret; sent as `app_passwd`, never read back. */
  appPassword: string;
}

/**
 * The document types `enabled` as a string while its example shows `true`; appliances
 * answer with either, so accept booleans and the strings "true"/"false"/"ENABLED"/"DISABLED".
 */
const enabledFlag = z.union([
  z.boolean(),
  z
    .string()
    .transform((v) => v.trim().toUpperCase())
    .pipe(z.enum(['TRUE', 'FALSE', 'ENABLED', 'DISABLED']))
    .transform((v) => v === 'TRUE' || v === 'ENABLED'),
]);

/** Epoch seconds; 0 or absent means "never". */
const epochSeconds = z
  .number()
  .nonnegative()
  .nullish()
  .transform((v) => (v ? new Date(v * 1000) : null));

/** Documented as a number; tolerate numeric strings, keep anything else as "no number". */
const errorNumber = z
  .union([z.number(), z.string()])
  .nullish()
  .transform((v) => {
    if (v === null || v === undefined) return null;
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isInteger(n) && Math.abs(n) <= 2 ** 31 - 1 ? n : null;
  });

/**
 * The document lists six states. A state a newer appliance release might add is shown as
 * SYNC_NA ("not available") rather than failing the whole status, which would also hide
 * `enabled` and the timestamps.
 */
const syncState = z.string().transform((v): AzureSyncState => {
  const upper = v.toUpperCase();
  return (AZURE_SYNC_STATES as readonly string[]).includes(upper) ? (upper as AzureSyncState) : 'SYNC_NA';
});

export const cloudStatusWire = z
  .object({
    enabled: enabledFlag,
    state: syncState,
    error_id: errorNumber,
    error_text: z.string().nullish(),
    last_sync_ts: epochSeconds,
    last_success_ts: epochSeconds,
  })
  .transform((w): CloudStatus => ({
    enabled: w.enabled,
    state: w.state,
    errorId: w.error_id,
    errorText: w.error_text ?? null,
    lastSyncAt: w.last_sync_ts,
    lastSuccessAt: w.last_success_ts,
  }));

export const azureAccountsWire = z.array(
  z
    .object({
      acc_id: z.string(),
      tenant_id: z.string(),
      subscription_id: z.string(),
      app_id: z.string(),
    })
    .transform((w): AzureAccount => ({
      accId: w.acc_id,
      tenantId: w.tenant_id,
      subscriptionId: w.subscription_id,
      appId: w.app_id,
    })),
);

export const tokenWire = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_at: z.number().optional(),
});

export function toAuthCodeWire(account: AzureAccountWrite) {
  return {
    acc_id: account.accId,
    tenant_id: account.tenantId,
    subscription_id: account.subscriptionId,
    app_id: account.appId,
    app_passwd: account.appPassword,
  };
}

/** Riverbed error body on every REST service: `{error_id, error_text, error_info?}`. */
export function parseNpmErrorBody(body: unknown): VendorErrorBody {
  if (typeof body !== 'object' || body === null) return {};
  const { error_id, error_text } = body as { error_id?: unknown; error_text?: unknown };
  return {
    ...(typeof error_id === 'string' ? { errorId: error_id } : {}),
    ...(typeof error_text === 'string' ? { text: error_text } : {}),
  };
}
