/**
 * What a service integration does with the gateway, fully typed: the documents in
 * generated/graphql.ts carry their variables and result types, so graphql-request checks
 * what we send and types what comes back. Copy this folder, keep your own operations.graphql,
 * and run `npm run codegen` after changing it.
 */
import { randomUUID } from 'node:crypto';
import { ClientError, GraphQLClient } from 'graphql-request';
import { CreateUserDocument, DashboardDocument, DeleteUserDocument } from './generated/graphql.js';
import type { AzureSyncState } from './generated/graphql.js';

export interface IntegrationOptions {
  /** The gateway's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** An API key (or JWT) of the gateway; the mutations need the admin role. */
  apiKey: string;
  /** Where the sample user is created; unique per run so parallel runs do not collide. */
  userName?: string;
}

export interface IntegrationSummary {
  azure: { enabled: boolean; state: AzureSyncState } | null;
  azureAccounts: number;
  totalUsers: number;
  /** userName and group names of the first few users. */
  firstUsers: Array<{ userName: string; groups: string[] }>;
  /** The user created and deleted again by the round trip. */
  roundTrip: { id: string; userName: string; deleted: boolean };
}

/** One entry of a GraphQL `errors` array, as this client reports it. */
export interface GatewayErrorDetail {
  /** The gateway's stable `extensions.code` (UNAUTHENTICATED, FORBIDDEN, UPSTREAM_TIMEOUT...). */
  code: string;
  message: string;
  path?: string;
}

/**
 * The gateway answered with GraphQL errors. Callers branch on `codes` (never on messages),
 * and quote `requestId` to whoever runs the gateway: its logs carry the same id.
 */
export class GatewayError extends Error {
  constructor(
    readonly operation: string,
    readonly details: readonly GatewayErrorDetail[],
    readonly requestId: string,
    readonly httpStatus: number,
  ) {
    super(
      `${operation} failed (HTTP ${httpStatus}, request id ${requestId}): ` +
        details.map((d) => `${d.code}: ${d.message}${d.path ? ` (at ${d.path})` : ''}`).join('; '),
    );
    this.name = 'GatewayError';
  }

  get codes(): string[] {
    return this.details.map((d) => d.code);
  }
}

function toGatewayError(operation: string, err: ClientError, requestId: string): GatewayError {
  const details = (err.response.errors ?? []).map((e): GatewayErrorDetail => {
    const code = e.extensions?.['code'];
    return {
      code: typeof code === 'string' ? code : 'UNKNOWN',
      message: e.message,
      ...(e.path ? { path: e.path.join('.') } : {}),
    };
  });
  if (details.length === 0) {
    // Not a GraphQL answer at all (a proxy's error page, say): say what came back.
    details.push({ code: 'NO_GRAPHQL_RESPONSE', message: err.response.body.slice(0, 200) });
  }
  return new GatewayError(
    operation,
    details,
    err.response.headers.get('x-request-id') ?? requestId,
    err.response.status,
  );
}

/**
 * Runs `send` with a fresh `x-request-id` (and `Idempotency-Key` for mutations), turning a
 * GraphQL error answer into a GatewayError. The idempotency key is made once per logical
 * call: a retry of the same call must send the same key, so the gateway replays the first
 * answer instead of creating a second user.
 */
async function call<T>(
  operation: string,
  send: (headers: Record<string, string>) => Promise<T>,
  idempotencyKey?: string,
): Promise<T> {
  const requestId = `typed-client-${randomUUID()}`;
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
  try {
    return await send(headers);
  } catch (err) {
    if (err instanceof ClientError) throw toGatewayError(operation, err, requestId);
    throw err;
  }
}

/** The dashboard read, then a createUser/deleteUser round trip that leaves nothing behind. */
export async function runIntegration({
  url,
  apiKey,
  userName = `typed-client-${randomUUID().slice(0, 8)}`,
}: IntegrationOptions): Promise<IntegrationSummary> {
  const client = new GraphQLClient(url, { headers: { authorization: `Bearer ${apiKey}` } });

  const dashboard = await call('Dashboard', (requestHeaders) =>
    client.request({ document: DashboardDocument, variables: { pageSize: 5 }, requestHeaders }),
  );

  const created = await call(
    'CreateUser',
    (requestHeaders) =>
      client.request({
        document: CreateUserDocument,
        variables: {
          input: { userName, email: `${userName}@example.com`, firstName: 'Typed', lastName: 'Client' },
        },
        requestHeaders,
      }),
    randomUUID(),
  );
  const { id } = created.createUser;
  const removed = await call(
    'DeleteUser',
    (requestHeaders) => client.request({ document: DeleteUserDocument, variables: { id }, requestHeaders }),
    randomUUID(),
  ).catch((err: unknown) => {
    process.stderr.write(`warning: user ${id} (${userName}) was created but not deleted; delete it by hand\n`);
    throw err;
  });

  return {
    azure: dashboard.azureStatus && { enabled: dashboard.azureStatus.enabled, state: dashboard.azureStatus.state },
    azureAccounts: dashboard.azureAccounts?.length ?? 0,
    totalUsers: dashboard.users?.totalRecords ?? 0,
    firstUsers: (dashboard.users?.nodes ?? []).map((u) => ({
      userName: u.userName,
      groups: u.groups.map((g) => g.name),
    })),
    roundTrip: { id, userName: created.createUser.userName, deleted: removed.deleteUser === id },
  };
}

export function formatSummary(summary: IntegrationSummary): string {
  const azure = summary.azure ? `${summary.azure.state}, sync ${summary.azure.enabled ? 'on' : 'off'}` : 'unknown';
  return [
    `Azure sync: ${azure}; ${summary.azureAccounts} Azure account(s)`,
    `Users: ${summary.totalUsers} in all; first ${summary.firstUsers.length}:`,
    ...summary.firstUsers.map((u) => `  ${u.userName} (${u.groups.join(', ') || 'no groups'})`),
    `Round trip: created ${summary.roundTrip.userName} (${summary.roundTrip.id}), ${
      summary.roundTrip.deleted ? 'deleted it again' : 'could NOT delete it'
    }`,
  ].join('\n');
}
