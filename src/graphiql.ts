import type { GraphiQLOptions } from 'graphql-yoga';
import type { GatewayConfig } from './config.js';

/** What GraphiQL shows on first open: the dashboard a frontend would load. */
export const DASHBOARD_QUERY = `# One request, both upstreams, fetched in parallel.
query Dashboard {
  azureStatus { enabled state lastSyncAt }
  azureAccounts { accId tenantId }
  users(pageSize: 50) {
    totalRecords
    nodes { id userName email groups { id name } }
  }
}
`;

/** GraphiQL's first document: how to authenticate, then the dashboard. */
const GRAPHIQL_DOCUMENT = `# Every operation needs a credential: open the "Headers" tab below and set
#   { "Authorization": "Bearer <your API key or JWT>" }
# (viewer keys run queries; admin keys also run mutations).
${DASHBOARD_QUERY}`;

/** What GraphiQL's Headers tab starts with unless told otherwise (the demo puts its key there). */
export const GRAPHIQL_HEADERS: Readonly<Record<string, string>> = { Authorization: 'Bearer <your API key or JWT>' };

/** GraphiQL's settings, or false when GRAPHIQL is off. */
export function graphiqlOptions(
  config: GatewayConfig,
  headers: Readonly<Record<string, string>>,
): GraphiQLOptions | false {
  if (!config.graphiql) return false;
  return {
    title: 'NPM + Axis gateway',
    defaultQuery: config.auth.disabled ? DASHBOARD_QUERY : GRAPHIQL_DOCUMENT,
    headers: config.auth.disabled ? undefined : JSON.stringify(headers, null, 2),
    shouldPersistHeaders: false,
  };
}

/**
 * The self-contained GraphiQL page is a ~38 MB module once loaded: only load it the first
 * time someone opens GraphiQL (never, in production by default).
 */
export async function renderGraphiQLOnDemand(options: GraphiQLOptions): Promise<string> {
  return (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options);
}
