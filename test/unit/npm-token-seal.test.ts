import { describe, expect, it } from 'vitest';
import { openToken, sealToken, tokenSealKey } from '../../src/upstreams/npm/auth.js';

/** The fleet's NPM token is sealed in Redis with a key derived from the NPM credentials. */

const key = tokenSealKey({ username: 'admin', password: 'npm-password' });
const where = 'fleet:npm:token';
const entry = { token: 'eyJhbGciOi.live-appliance-token', renewAt: 1_765_000_000_000 };

describe('sealToken / openToken', () => {
  it('round-trips the token and its renewal time, and the sealed value holds neither in plain text', () => {
    const sealed = sealToken(key, where, entry);
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(entry.token);
    expect(Buffer.from(sealed.split('.')[2]!, 'base64url').toString('latin1')).not.toContain('live-appliance');
    expect(openToken(key, where, sealed)).toEqual(entry);
  });

  it('uses a fresh IV each time: the same token never seals to the same value', () => {
    expect(sealToken(key, where, entry)).not.toBe(sealToken(key, where, entry));
  });

  it('does not open with other credentials, under another Redis key, tampered, or when it is not a sealed value', () => {
    const sealed = sealToken(key, where, entry);
    expect(openToken(tokenSealKey({ username: 'admin', password: 'another' }), where, sealed)).toBeUndefined();
    expect(openToken(tokenSealKey({ username: 'other', password: 'npm-password' }), where, sealed)).toBeUndefined();
    expect(openToken(key, 'other:npm:token', sealed)).toBeUndefined();
    const [v, iv, body, tag] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(openToken(key, where, [v, iv, flipped.toString('base64url'), tag].join('.'))).toBeUndefined();
    expect(openToken(key, where, `${entry.token}\n${entry.renewAt}`)).toBeUndefined();
    expect(openToken(key, where, 'v1.a.b')).toBeUndefined();
  });
});
