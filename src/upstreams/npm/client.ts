import type { Logger } from 'pino';
import { UpstreamError } from '../../errors.js';
import type { UpstreamHttp, UpstreamRequest } from '../http.js';
import type { NpmTokenSource } from './auth.js';
import { azureAccountsWire, cloudStatusWire, toAuthCodeWire } from './types.js';
import type { AzureAccount, AzureAccountWrite, CloudStatus } from './types.js';

const BASE = '/api/npm.azure_config/1.0';

/**
 * Error ids after which a fresh login can help. Riverbed's own Python client logs in again
 * once on these and retries; a 401 means the appliance rejected the request before doing
 * anything, so repeating even a POST cannot apply it twice.
 */
const RELOGIN_ERROR_IDS = new Set(['AUTH_EXPIRED_TOKEN', 'AUTH_INVALID_TOKEN', 'AUTH_INVALID_SESSION']);

/** Domain methods over the Riverbed NPM Azure Integration API. */
export class NpmClient {
  constructor(
    private readonly http: UpstreamHttp,
    private readonly tokens: NpmTokenSource,
    private readonly logger: Logger,
  ) {}

  getStatus(signal?: AbortSignal): Promise<CloudStatus> {
    return this.call({ route: 'status.get', method: 'GET', path: `${BASE}/status`, schema: cloudStatusWire, signal });
  }

  listAccounts(signal?: AbortSignal): Promise<AzureAccount[]> {
    return this.call({
      route: 'authCodes.get',
      method: 'GET',
      path: `${BASE}/auth_codes`,
      schema: azureAccountsWire,
      signal,
    });
  }

  async setSyncEnabled(enabled: boolean): Promise<void> {
    await this.call({
      route: 'syncStatus.put',
      method: 'PUT',
      path: `${BASE}/sync/status`,
      body: { status: enabled ? 'ENABLED' : 'DISABLED' },
    });
  }

  async syncNow(): Promise<void> {
    await this.call({ route: 'sync.post', method: 'POST', path: `${BASE}/sync` });
  }

  async upsertAccounts(accounts: AzureAccountWrite[]): Promise<void> {
    await this.call({
      route: 'authCodes.put',
      method: 'PUT',
      path: `${BASE}/auth_codes`,
      body: accounts.map(toAuthCodeWire),
    });
  }

  async deleteAccounts(accIds: string[]): Promise<void> {
    await this.call({
      route: 'authCodes.delete',
      method: 'DELETE',
      path: `${BASE}/auth_codes`,
      body: accIds.map((acc_id) => ({ acc_id })),
    });
  }

  get logins(): number {
    return this.tokens.logins;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async call<T>(req: Omit<UpstreamRequest<T>, 'headers'>): Promise<T> {
    const token = await this.tokens.token();
    try {
      return await this.http.request({ ...req, headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      if (
        !(err instanceof UpstreamError) ||
        err.status !== 401 ||
        !RELOGIN_ERROR_IDS.has(err.errorId ?? '') ||
        !this.tokens.invalidate(token)
      ) {
        throw err;
      }
      this.logger.info(
        { upstream: 'npm', route: req.route, errorId: err.errorId },
        'NPM token rejected; logging in again once',
      );
      const fresh = await this.tokens.token();
      return this.http.request({ ...req, headers: { authorization: `Bearer ${fresh}` } });
    }
  }
}
