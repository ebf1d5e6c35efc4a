import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * The address a request comes from, for per-address limits and refusal logs. The socket's
 * peer is the client unless it is a trusted proxy (TRUSTED_PROXIES); then `X-Forwarded-For`
 * is read from the right, skipping further trusted hops, and the first address that is not
 * a trusted proxy is the client (the rule of Express's proxy-addr). Anything a client could
 * have written itself (hops left of the first untrusted one) is never believed.
 */
export type ClientAddressOf = (serverContext: unknown, request: Request) => string;

function normalize(address: string): string {
  // IPv4 peers of a dual-stack socket look like ::ffff:127.0.0.1.
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function createClientAddressOf(trustedProxies: readonly string[]): ClientAddressOf {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, Number(bits), type);
  }
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (serverContext, request) => {
    const peer = (serverContext as { req?: IncomingMessage } | undefined)?.req?.socket?.remoteAddress;
    // yoga.fetch in tests has no socket.
    if (peer === undefined) return 'unknown';
    let client = normalize(peer);
    if (trustedProxies.length === 0 || !isTrusted(client)) return client;
    const hops = (request.headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((h) => normalize(h.trim()))
      .filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
