import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { loadConfig } from './src/config.js';
import { createGateway } from './src/gateway.js';
import { createLogger } from './src/logger.js';
import { createUpstreams } from './src/upstreams/index.js';
const KEY = 'bench-admin-key-0123456789abcdefghij';
const config = loadConfig({ NODE_ENV: 'production', NPM_BASE_URL: 'http://127.0.0.1:16010', NPM_USERNAME: 'admin', NPM_PASSWORD: 'demo-npm-password', AXIS_BASE_URL: 'http://127.0.0.1:16020', AXIS_API_TOKEN: 'demo-axis-rw-token', GATEWAY_API_KEYS: `b=admin:${KEY}`, RATE_LIMIT_RPS: '0', LOG_LEVEL: 'warn' });
const logger = createLogger('warn');
const upstreams = createUpstreams(config, logger);
const server = createServer(createGateway({ config, logger, upstreams }));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
const q = JSON.stringify({ query: process.env.Q2 ? '{ azureStatus { state } }' : 'query Q1 { azureStatus { enabled state lastSyncAt } azureAccounts { accId tenantId } users(pageSize: 50) { totalRecords nodes { id userName email groups { id name } } } }' });
const gc = (globalThis as { gc?: () => void }).gc!;
async function burst(n: number) {
  let i = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (i++ < n) {
      const r = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: q });
      await r.body.text();
    }
  }));
}
{ const m = process.memoryUsage(); console.log('startup', JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, (v / 1e6).toFixed(1)])))); }
await burst(300);
gc(); gc();
let m = process.memoryUsage();
console.log('warm', JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, (v / 1e6).toFixed(1)]))), 'heapUsed MB', (m.heapUsed / 1e6).toFixed(1), 'rss', (m.rss / 1e6).toFixed(1));
for (let k = 0; k < 3; k++) {
  await burst(4000);
  const before = process.memoryUsage();
  gc(); gc();
  m = process.memoryUsage();
  console.log('+4000: heapUsed before gc', (before.heapUsed / 1e6).toFixed(1), 'after gc', (m.heapUsed / 1e6).toFixed(1), 'rss', (m.rss / 1e6).toFixed(1), 'heapTotal', (m.heapTotal / 1e6).toFixed(1));
}
process.exit(0);
