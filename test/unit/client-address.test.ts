import { describe, expect, it } from 'vitest';
import { createClientAddressOf } from '../../src/http/client-address.js';

const from = (peer: string | undefined, forwardedFor?: string) => {
  const serverContext = peer === undefined ? {} : { req: { socket: { remoteAddress: peer } } };
  const request = new Request('http://gateway/graphql', {
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  });
  return [serverContext, request] as const;
};

describe('createClientAddressOf', () => {
  it('without TRUSTED_PROXIES, the peer is the client and X-Forwarded-For is ignored', () => {
    const of = createClientAddressOf([]);
    expect(of(...from('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
    expect(of(...from('::ffff:127.0.0.1'))).toBe('127.0.0.1');
    expect(of(...from(undefined))).toBe('unknown');
  });

  it('from a trusted proxy, the rightmost untrusted hop is the client; addresses a client wrote itself are not believed', () => {
    const of = createClientAddressOf(['10.0.0.0/8', '192.0.2.7']);
    expect(of(...from('10.1.2.3', '198.51.100.1'))).toBe('198.51.100.1');
    // A chain of trusted proxies is walked through.
    expect(of(...from('10.1.2.3', '198.51.100.1, 192.0.2.7, 10.9.9.9'))).toBe('198.51.100.1');
    // A forged leftmost entry stays to the left of the first untrusted hop.
    expect(of(...from('10.1.2.3', '1.1.1.1, 198.51.100.1'))).toBe('198.51.100.1');
    // Garbage stops the walk at the last good hop.
    expect(of(...from('10.1.2.3', 'not-an-ip'))).toBe('10.1.2.3');
    // No header: the proxy itself.
    expect(of(...from('10.1.2.3'))).toBe('10.1.2.3');
    // From an untrusted peer the header means nothing.
    expect(of(...from('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('matches IPv6 ranges', () => {
    const of = createClientAddressOf(['fd00::/8']);
    expect(of(...from('fd12::1', '2001:db8::5'))).toBe('2001:db8::5');
    expect(of(...from('2001:db8::9', '2001:db8::5'))).toBe('2001:db8::9');
  });
});
