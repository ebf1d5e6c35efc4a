import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { BENCH_TENANT_USERS } from '../../bench/environment.js';
import { createFloor } from '../../bench/floor.js';
import type { BenchServer, Floor } from '../../bench/floor.js';
import { createMercurius } from '../../bench/reference-mercurius.js';
import { createNaiveYoga } from '../../bench/reference-yoga.js';
import { SCENARIOS, SCENARIO_NAMES, requestBody } from '../../bench/scenarios.js';
import type { Scenario } from '../../bench/scenarios.js';
import { readSchemaSdl } from '../../src/schema.js';
import { ADMIN_KEY, AXIS_RW_TOKEN, NPM_PASSWORD, NPM_USER, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * The benchmark's ratios only mean something if the floor and the reference servers do the
 * same job as the gateway: the same answer, byte for byte, from the same upstream calls. All
 * receive the exact request the benchmark sends.
 */

let stack: Stack;
let floor: Floor;
let floorUrl: string;
/** The reference servers (naive Yoga, mercurius + graphql-jit), by the benchmark's name. */
const references: Record<'yoga' | 'mercurius', { server?: BenchServer; url: string }> = {
  yoga: { url: '' },
  mercurius: { url: '' },
};
const REFERENCES = ['yoga', 'mercurius'] as const;

beforeAll(async () => {
  // The bench's tenant (bench/environment.ts): Q3's member lists are the whole 1000-list.
  stack = await startStack({ axis: { seedUsers: BENCH_TENANT_USERS } });
  const options = {
    npmBaseUrl: stack.npmSim.url,
    npmUsername: NPM_USER,
    npmPassword: NPM_PASSWORD,
    axisBaseUrl: stack.axisSim.url,
    axisApiToken: AXIS_RW_TOKEN,
    apiKey: ADMIN_KEY,
  };
  floor = await createFloor(options);
  floorUrl = await floor.listen(0);
  const sdl = readSchemaSdl();
  for (const [name, create] of [
    ['yoga', createNaiveYoga],
    ['mercurius', createMercurius],
  ] as const) {
    const server = await create({ ...options, sdl });
    references[name] = { server, url: await server.listen(0) };
  }
});
afterAll(async () => {
  await Promise.all(REFERENCES.map((name) => references[name].server?.close()));
  await floor?.close();
  await stack?.close();
});
beforeEach(async () => {
  stack.npmSim.reset();
  stack.axisSim.reset();
  // reset() revokes NPM tokens: let every server log in again now, so the counts below are data calls only.
  for (const url of [stack.url, floorUrl, ...REFERENCES.map((name) => references[name].url)]) {
    await send(url, SCENARIOS.Q2);
  }
});

interface Answer {
  status: number;
  text: string;
  calls: Record<string, number>;
}

/** POSTs the benchmark's request and returns the raw body and the upstream data calls it caused. */
async function send(base: string, scenario: Scenario, authorization = `Bearer ${ADMIN_KEY}`): Promise<Answer> {
  stack.resetCounts();
  const res = await request(`${base}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization,
    },
    body: requestBody(scenario),
  });
  const text = await res.body.text();
  const calls: Record<string, number> = {};
  for (const [route, n] of Object.entries(stack.calls())) {
    // The NPM login happens once per token lifetime, not per operation.
    if (!route.endsWith(':total') && route !== 'npm:token.post') calls[route] = n;
  }
  return { status: res.statusCode, text, calls };
}

describe('the floor answers exactly as the gateway', () => {
  for (const name of ['Q1', 'Q2', 'M1'] as const) {
    it(`${name}: same JSON bytes, same upstream calls`, async () => {
      const scenario = SCENARIOS[name];
      const gateway = await send(stack.url, scenario);
      const fromFloor = await send(floorUrl, scenario);
      expect(gateway.status).toBe(200);
      expect(gateway.text).not.toContain('"errors"');
      expect(fromFloor.status).toBe(200);
      expect(fromFloor.text).toBe(gateway.text);
      expect(fromFloor.calls).toEqual(scenario.upstreamCalls);
      expect(gateway.calls).toEqual(scenario.upstreamCalls);
    });
  }

  it('Q3: same JSON bytes and the same three calls in two levels', async () => {
    const scenario = SCENARIOS.Q3;
    const gateway = await send(stack.url, scenario);
    const fromFloor = await send(floorUrl, scenario);
    expect(gateway.status).toBe(200);
    expect(gateway.text).not.toContain('"errors"');
    expect(fromFloor.text).toBe(gateway.text);
    expect(fromFloor.calls).toEqual(scenario.upstreamCalls);
    expect(gateway.calls).toEqual(scenario.upstreamCalls);
  });

  it('M1 really writes: the user reads back with the new first name', async () => {
    const res = await send(floorUrl, SCENARIOS.M1);
    expect(JSON.parse(res.text)).toEqual({
      data: { updateUser: { id: 'u-0001', firstName: 'Bench', lastName: expect.any(String) } },
    });
    expect(stack.axisSim.state().users.find((u) => u.id === 'u-0001')?.firstName).toBe('Bench');
    expect(stack.axisSim.state().commits).toBe(1);
  });
});

describe('the reference servers answer exactly as the gateway', () => {
  for (const reference of REFERENCES) {
    for (const name of SCENARIO_NAMES) {
      it(`${reference}, ${name}: same JSON bytes, same upstream calls`, async () => {
        const scenario = SCENARIOS[name];
        const gateway = await send(stack.url, scenario);
        // Twice: mercurius compiles a document with graphql-jit on its first repeat (jit: 1).
        const first = await send(references[reference].url, scenario);
        const second = await send(references[reference].url, scenario);
        expect(gateway.status).toBe(200);
        expect(gateway.text).not.toContain('"errors"');
        for (const answer of [first, second]) {
          expect(answer.status).toBe(200);
          expect(answer.text).toBe(gateway.text);
          expect(answer.calls).toEqual(scenario.upstreamCalls);
        }
      });
    }

    it(`${reference} refuses a request without the API key, before any upstream call`, async () => {
      const res = await send(references[reference].url, SCENARIOS.Q2, 'Bearer wrong-key');
      expect(res.status).toBe(401);
      expect(res.calls).toEqual({});
    });
  }

  it('M1 through a reference server really writes: the user reads back with the new first name', async () => {
    await send(references.mercurius.url, SCENARIOS.M1);
    expect(stack.axisSim.state().users.find((u) => u.id === 'u-0001')?.firstName).toBe('Bench');
    expect(stack.axisSim.state().commits).toBe(1);
  });
});

describe('the floor as a server', () => {
  it('logs in to NPM once at start and again once when the token is rejected', async () => {
    const before = floor.logins;
    stack.npmSim.expireTokens();
    const [a, b] = await Promise.all([send(floorUrl, SCENARIOS.Q2), send(floorUrl, SCENARIOS.Q2)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(floor.logins).toBe(before + 1);
  });

  it('refuses a request without the API key, before any upstream call', async () => {
    const res = await send(floorUrl, SCENARIOS.Q2, 'Bearer wrong-key');
    expect(res.status).toBe(401);
    expect(res.calls).toEqual({});
  });

  it('turns an upstream failure into a non-2xx answer the benchmark counts', async () => {
    stack.npmSim.addFault({ route: 'status.get', times: 1, action: { type: 'error', status: 503 } });
    const res = await send(floorUrl, SCENARIOS.Q2);
    expect(res.status).toBe(502);
  });
});
