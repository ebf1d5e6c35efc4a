import type { Logger } from 'pino';
import { UpstreamError } from '../upstream-error.js';
import type { CallContext, UpstreamHttp, UpstreamRequest } from '../http.js';
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

  getStatus(call?: CallContext): Promise<CloudStatus> {
    return this.send({ route: 'status.get', method: 'GET', path: `${BASE}/status`, schema: cloudStatusWire, call });
  }

  listAccounts(call?: CallContext): Promise<AzureAccount[]> {
    return this.send({
      route: 'authCodes.get',
      method: 'GET',
      path: `${BASE}/auth_codes`,
      schema: azureAccountsWire,
      call,
    });
  }

  async setSyncEnabled(enabled: boolean, call?: CallContext): Promise<void> {
    await this.send({
      route: 'syncStatus.put',
      method: 'PUT',
      path: `${BASE}/sync/status`,
      body: { status: enabled ? 'ENABLED' : 'DISABLED' },
      call,
    });
  }

  async syncNow(call?: CallContext): Promise<void> {
    await this.send({ route: 'sync.post', method: 'POST', path: `${BASE}/sync`, call });
  }

  async upsertAccounts(accounts: AzureAccountWrite[], call?: CallContext): Promise<void> {
    await this.send({
      route: 'authCodes.put',
      method: 'PUT',
      path: `${BASE}/auth_codes`,
      body: accounts.map(toAuthCodeWire),
      call,
    });
  }

  async deleteAccounts(accIds: string[], call?: CallContext): Promise<void> {
    await this.send({
      route: 'authCodes.delete',
      method: 'DELETE',
      path: `${BASE}/auth_codes`,
      body: accIds.map((acc_id) => ({ acc_id })),
      call,
    });
  }

  private async send<T>(req: Omit<UpstreamRequest<T>, 'headers'>): Promise<T> {
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
