import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load.js';
import { startRedis, stopAll, tcpOpen } from '../../bench/procs.js';
import { SCENARIOS, SCENARIO_NAMES, requestBody } from '../../bench/scenarios.js';
import { startStack } from '../helpers/stack.js';

/**
 * The parts of the bench's Price of Redis that are not arithmetic: the keyed mutation really
 * is a new Idempotency-Key claim on every request, each connection can send a body of its own,
 * and the bench's redis-server is a real one with no persistence that stops with the bench.
 */

afterAll(() => stopAll());

describe('bench load: per-request headers and per-connection bodies', () => {
  it('sends a fresh Idempotency-Key with every request, and each connection its own body', async () => {
    const keys: string[] = [];
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        keys.push(String(req.headers['idempotency-key']));
        bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const own = ['{"c":0}', '{"c":1}', '{"c":2}', '{"c":3}'];
      const result = await runLoad({
        url: `http://127.0.0.1:${port}/graphql`,
        body: '{"shared":true}',
        headers: { 'content-type': 'application/json' },
        connections: 4,
        amount: 80,
        idempotencyKey: true,
        bodies: own,
      });
      expect(result.requests).toBe(80);
      expect(keys).toHaveLength(80);
      expect(new Set(keys).size).toBe(80);
      for (const key of keys) expect(key).toMatch(/^bench-[\x21\x23-\x7e]{1,249}$/);
      expect(new Set(bodies)).toEqual(new Set(own));
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("the bench's redis-server", () => {
  it('is a real redis-server on a loopback port with persistence off, gone once stopped', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'bench-redis-test-'));
    const redis = await startRedis(logDir, process.cwd());
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      client.disconnect();
      await redis.child.stop();
      rmSync(logDir, { recursive: true, force: true });
    }
    expect(await tcpOpen(redis.port)).toBe(false);
  });
});

describe('M1K, the keyed mutation the Price of Redis runs', () => {
  it('is M1 with a key: a fresh key runs the write again, the same key is a replay', async () => {
    expect(SCENARIO_NAMES).not.toContain('M1K');
    expect(SCENARIOS.M1K.upstreamCalls).toEqual(SCENARIOS.M1.upstreamCalls);
    const stack = await startStack();
    try {
      const { query, variables } = JSON.parse(requestBody(SCENARIOS.M1K)) as {
        query: string;
        variables: Record<string, unknown>;
      };
      const send = (key: string) => stack.gql(query, variables, { 'idempotency-key': key });
      const first = await send('bench-one');
      expect(first.body.errors).toBeUndefined();
      expect(first.body.data).toMatchObject({ updateUser: { id: 'u-0001', firstName: 'Bench' } });
      const second = await send('bench-two');
      expect(second.headers['idempotent-replayed']).toBeUndefined();
      expect(stack.calls()['axis:users.update']).toBe(2);
      const again = await send('bench-two');
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(stack.calls()['axis:users.update']).toBe(2);
    } finally {
      await stack.close();
    }
  });
});
