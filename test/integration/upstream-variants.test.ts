import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startStack, withStack } from '../helpers/stack.js';

describe('NPM reports enabled as a boolean or a string', () => {
  it.each(['boolean', 'ENABLED', 'true'] as const)('enabledFormat %s is read as a boolean', async (enabledFormat) => {
    await withStack({ npm: { enabledFormat } }, async (stack) => {
      const on = await stack.gql('{ azureStatus { enabled } }');
      expect(on.body.data).toEqual({ azureStatus: { enabled: true } });
      const off = await stack.gql('mutation { setAzureSyncEnabled(enabled: false) { enabled state } }');
      expect(off.body.data).toEqual({ setAzureSyncEnabled: { enabled: false, state: 'SYNC_DISABLED' } });
    });
  });

  it('an unknown enabled value is UPSTREAM_BAD_RESPONSE', async () => {
    await withStack({}, async (stack) => {
      stack.npmSim.addFault({
        route: 'status.get',
        action: {
          type: 'status',
          status: 200,
          body: {
            enabled: 'MAYBE',
            state: 'SYNC_NA',
            error_id: 0,
            error_text: 'OK',
            last_sync_ts: 0,
            last_success_ts: 0,
          },
        },
      });
      const res = await stack.gql('{ azureStatus { enabled } }');
      expect(codes(res)).toEqual(['UPSTREAM_BAD_RESPONSE']);
    });
  });

  it('zero timestamps mean never, and an unknown state is SYNC_NA', async () => {
    await withStack({}, async (stack) => {
      stack.npmSim.addFault({
        route: 'status.get',
        action: {
          type: 'status',
          status: 200,
          body: {
            enabled: 'true',
            state: 'SYNC_SOMETHING_NEW',
            error_id: '0',
            error_text: 'OK',
            last_sync_ts: 0,
            last_success_ts: 0,
          },
        },
      });
      const res = await stack.gql('{ azureStatus { enabled state errorId lastSyncAt lastSuccessAt } }');
      expect(res.body.data).toEqual({
        azureStatus: { enabled: true, state: 'SYNC_NA', errorId: 0, lastSyncAt: null, lastSuccessAt: null },
      });
    });
  });
});

describe("the Axis prefix of the vendor's Swagger", () => {
  it('AXIS_API_PREFIX=/api/v1.0 reaches an IdP that serves /api/v1.0/Users', async () => {
    await withStack({ env: { AXIS_API_PREFIX: '/api/v1.0' }, axis: { prefix: '/api/v1.0' } }, async (stack) => {
      const res = await stack.gql('{ users(pageSize: 2) { totalRecords } group(id: "g-001") { name } }');
      expect(res.body.errors).toBeUndefined();
      expect(stack.calls()).toMatchObject({ 'axis:users.list': 1, 'axis:groups.get': 1 });
    });
  });
});

/**
 * Appliances commonly serve self-signed certificates. An HTTPS front with a fresh
 * self-signed certificate stands in for such an appliance in front of the NPM simulator.
 */
describe('NPM over TLS with a self-signed certificate', () => {
  let dir: string;
  let front: Server;
  let frontUrl: string;
  let npmUrl: string;
  const holder = startStack();

  beforeAll(async () => {
    const stack = await holder;
    npmUrl = stack.npmSim.url;
    dir = mkdtempSync(join(tmpdir(), 'npm-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    front = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = chunks.length ? Buffer.concat(chunks) : undefined;
          request(`${npmUrl}${req.url ?? '/'}`, {
            method: req.method as 'GET',
            headers: req.headers as Record<string, string>,
            body,
          })
            .then(async (up) => {
              res.writeHead(up.statusCode, up.headers as Record<string, string>);
              res.end(Buffer.from(await up.body.arrayBuffer()));
            })
            .catch(() => res.destroy());
        });
      },
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontUrl = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await (await holder).close();
    await new Promise((resolve) => front.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  async function status(env: Record<string, string>) {
    return withStack({ env: { NPM_BASE_URL: frontUrl, ...env } }, (stack) => stack.gql('{ azureStatus { state } }'));
  }

  it('is refused by default: the certificate is not trusted', async () => {
    const res = await status({});
    expect(codes(res)).toEqual(['UPSTREAM_UNAVAILABLE']);
  });

  it('works with NPM_CA_FILE naming the certificate', async () => {
    const res = await status({ NPM_CA_FILE: join(dir, 'cert.pem') });
    expect(res.body).toEqual({ data: { azureStatus: { state: 'SYNC_SUCCEEDED' } } });
  });

  it('works with NPM_TLS_REJECT_UNAUTHORIZED=false', async () => {
    const res = await status({ NPM_TLS_REJECT_UNAUTHORIZED: 'false' });
    expect(res.body).toEqual({ data: { azureStatus: { state: 'SYNC_SUCCEEDED' } } });
  });
});

describe('GraphiQL', () => {
  it('is served as one self-contained page: no script, style or font from another host', async () => {
    await withStack({}, async (stack) => {
      const res = await request(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(res.statusCode).toBe(200);
      const html = await res.body.text();
      expect(html).toContain('GraphiQL');
      expect(html).toContain('query Dashboard');
      const external = [...html.matchAll(/<(script|link|img)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?\/\//gi)].map(
        (m) => m[0],
      );
      expect(external).toEqual([]);
    });
  });
});
