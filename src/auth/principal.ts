import type { Role } from '../config.js';

/** Who is calling: the outcome of client authentication, used for roles, rate limits, audit and idempotency. */
export interface Principal {
  kind: 'api_key' | 'jwt' | 'anonymous';
  /** API key name or JWT subject: stable per caller, safe to log, never a secret. */
  id: string;
  roles: ReadonlySet<Role>;
}

/** With auth disabled (development, or AUTH_DISABLED=true), everyone is an admin. */
export const ANONYMOUS_ADMIN: Principal = { kind: 'anonymous', id: 'anonymous', roles: new Set(['viewer', 'admin']) };

/** admin implies viewer. */
export function rolesFor(role: Role): ReadonlySet<Role> {
  return role === 'admin' ? new Set(['viewer', 'admin']) : new Set(['viewer']);
}
