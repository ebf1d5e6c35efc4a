/**
 * The floor: the cheapest honest server for the benchmark's operations, to measure the
 * gateway against. A hand-written node:http server and one keep-alive undici Pool per
 * upstream (bench/upstream-pools.ts, pipelining 1, like the gateway's), no GraphQL, no validation, no logging, no
 * per-request objects beyond what the answer needs. For each scenario it makes exactly the
 * upstream calls the operation needs, in parallel where they are independent, and answers
 * with byte-for-byte the JSON the gateway returns (same fields, same order).
 *
 * It receives the same request as the gateway (`POST /graphql`, `{query, operationName,
 * variables}`) and dispatches on `operationName`: parsing and executing the document is
 * precisely the work a gateway adds over this.
 *
 * It serves the simulators' data and assumes their shapes (no zod); an upstream status
 * outside 2xx becomes a 502, which the benchmark counts as an error.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Q3_PAGE_SIZE } from './scenarios.js';
import { UpstreamStatusError, createBenchUpstreams, enabledFlag, mergedUser, syncState } from './upstream-pools.js';
import type {
  AxisGroupWire,
  AxisPageWire,
  AxisUserWire,
  BenchUpstreamOptions,
  NpmAccountWire,
  NpmStatusWire,
  UpdateUserVariables,
} from './upstream-pools.js';

export interface FloorOptions extends BenchUpstreamOptions {
  /** When set, requests need `Authorization: Bearer <apiKey>`, as the gateway's API keys do. */
  readonly apiKey?: string;
}

/** What the benchmark starts: the floor and the two reference servers alike. */
export interface BenchServer {
  readonly server: Server;
  /** Listens and resolves the base URL, e.g. `http://127.0.0.1:54321`. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** NPM logins so far (1 after start; one more per rejected token). */
  readonly logins: number;
}

export type Floor = BenchServer;

/** Binds a node:http server and resolves its base URL. */
export function listenOn(server: Server, port = 0, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(`http://${host}:${(server.address() as AddressInfo).port}`);
    });
  });
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/** The gateway's DateTime: epoch seconds to ISO, 0 or absent is "never" (null). */
function isoFromEpoch(seconds: number | null | undefined): string | null {
  return seconds ? new Date(seconds * 1000).toISOString() : null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function errorBody(message: string): string {
  return JSON.stringify({ errors: [{ message }] });
}

/**
 * Whether a request carries `Authorization: Bearer <apiKey>` (always, with no key), compared
 * in constant time. The reference servers check the key the same way.
 */
export function bearerCheck(apiKey: string | undefined): (authorization: string | undefined) => boolean {
  if (apiKey === undefined) return () => true;
  const expected = Buffer.from(`Bearer ${apiKey}`);
  return (given) =>
    given !== undefined && given.length === expected.length && timingSafeEqual(Buffer.from(given), expected);
}

/** Builds the floor and logs in to NPM once; `listen()` binds it. */
export async function createFloor(options: FloorOptions): Promise<Floor> {
  const upstreams = await createBenchUpstreams(options);
  const { npmGet, axisCall } = upstreams;
  const authorized = bearerCheck(options.apiKey);

  async function q1(): Promise<string> {
    const [status, accounts, page] = await Promise.all([
      npmGet<NpmStatusWire>('/status'),
      npmGet<NpmAccountWire[]>('/auth_codes'),
      axisCall<AxisPageWire<AxisUserWire>>('GET', '/users?pageSize=50&pageNumber=1'),
    ]);
    return JSON.stringify({
      data: {
        azureStatus: {
          enabled: enabledFlag(status.enabled),
          state: syncState(status.state),
          lastSyncAt: isoFromEpoch(status.last_sync_ts),
        },
        azureAccounts: accounts.map((a) => ({ accId: a.acc_id, tenantId: a.tenant_id })),
        users: {
          totalRecords: page.totalRecords,
          nodes: (page.data ?? []).map((u) => ({
            id: u.id,
            userName: u.userName,
            email: u.email,
            groups: (u.groups ?? []).map((g) => ({ id: g.id, name: g.value })),
          })),
        },
      },
    });
  }

  async function q2(): Promise<string> {
    const status = await npmGet<NpmStatusWire>('/status');
    return JSON.stringify({ data: { azureStatus: { state: syncState(status.state) } } });
  }

  async function q3(): Promise<string> {
    const page = await axisCall<AxisPageWire<AxisUserWire>>('GET', `/users?pageSize=${Q3_PAGE_SIZE}&pageNumber=1`);
    const [groups, users] = await Promise.all([
      axisCall<AxisPageWire<AxisGroupWire>>('GET', '/groups?pageSize=1000&pageNumber=1'),
      axisCall<AxisPageWire<AxisUserWire>>('GET', '/users?pageSize=1000&pageNumber=1'),
    ]);
    const groupById = new Map((groups.data ?? []).map((g) => [g.id, g]));
    const userById = new Map((users.data ?? []).map((u) => [u.id, u]));
    return JSON.stringify({
      data: {
        users: {
          nodes: (page.data ?? []).map((u) => ({
            id: u.id,
            groups: (u.groups ?? []).map((ref) => {
              const group = groupById.get(ref.id);
              if (group === undefined) throw new Error(`group ${ref.id} is not in the list`);
              return {
                id: ref.id,
                name: ref.value,
                description: group.description ?? null,
                users: (group.users ?? []).map((m) => {
                  const member = userById.get(m.id);
                  if (member === undefined) throw new Error(`user ${m.id} is not in the list`);
                  return { id: m.id, userName: m.value, email: member.email };
                }),
              };
            }),
          })),
        },
      },
    });
  }

  async function m1(variables: UpdateUserVariables): Promise<string> {
    const { id, input } = variables;
    const path = `/users/${encodeURIComponent(id)}`;
    // The gateway reads twice: once to learn which entities to lock (the user and its groups),
    // once inside the locks for the fresh copy it merges. Writes of one entity serialised are
    // part of a correct answer, so the floor pays the same two reads (one process needs no lock).
    await axisCall<AxisUserWire>('GET', path);
    const current = await axisCall<AxisUserWire>('GET', path);
    // Axis PUT replaces the whole user: the same merge the gateway does.
    const updated = await axisCall<AxisUserWire>('PUT', path, mergedUser(current, input));
    await axisCall<undefined>('POST', '/commit');
    return JSON.stringify({
      data: { updateUser: { id: updated.id, firstName: updated.firstName, lastName: updated.lastName } },
    });
  }

  async function graphql(text: string): Promise<string | undefined> {
    const body = JSON.parse(text) as { operationName?: string; variables?: unknown };
    switch (body.operationName) {
      case 'Q1':
        return q1();
      case 'Q2':
        return q2();
      case 'Q3':
        return q3();
      case 'M1':
        return m1(body.variables as UpdateUserVariables);
      default:
        return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/health') {
      req.resume();
      reply(res, 200, '{"status":"ok"}');
      return;
    }
    if (req.url !== '/graphql' || req.method !== 'POST') {
      req.resume();
      reply(res, 404, errorBody('not found'));
      return;
    }
    const text = await readBody(req);
    if (!authorized(req.headers.authorization)) {
      reply(res, 401, errorBody('missing or unknown API key'));
      return;
    }
    let answer: string | undefined;
    try {
      answer = await graphql(text);
    } catch (err) {
      const status = err instanceof UpstreamStatusError ? 502 : 500;
      reply(res, status, errorBody(err instanceof Error ? err.message : 'failed'));
      return;
    }
    if (answer === undefined) reply(res, 400, errorBody('unknown operationName'));
    else reply(res, 200, answer);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, errorBody('failed'));
      else res.destroy();
    });
  });

  return {
    server,
    listen: (port, host) => listenOn(server, port, host),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstreams.close();
    },
    get logins() {
      return upstreams.logins;
    },
  };
}
