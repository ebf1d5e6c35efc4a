import { hash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../config.js';
import { rolesFor } from './principal.js';
import type { Principal } from './principal.js';

/**
 * SHA-256 of a secret: fixed-length, so `timingSafeEqual` on two digests leaks nothing about length.
 * The one-shot `crypto.hash` (no Hash object per call: this runs on every request).
 */
export const digest = (text: string): Buffer => hash('sha256', text, 'buffer');

/**
 * Matches a presented bearer credential against the configured API keys in constant time:
 * both sides are hashed to 32 bytes (so length leaks nothing) and every key is compared,
 * match or not. Only the digests are kept in memory after start.
 */
export class ApiKeyRegistry {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(keys: readonly ApiKeyConfig[]) {
    this.entries = keys.map((k) => ({
      digest: digest(k.key),
      principal: { kind: 'api_key', id: k.name, roles: rolesFor(k.role) },
    }));
  }

  match(credential: string): Principal | undefined {
    const presented = digest(credential);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented)) found = entry.principal;
    }
    return found;
  }
}
