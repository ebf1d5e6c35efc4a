/**
 * `npm run example:typed-client`: runs the typed client example against a gateway.
 *   GATEWAY_URL      the GraphQL endpoint (default http://localhost:4000/graphql, i.e. `npm run demo`)
 *   GATEWAY_API_KEY  an admin API key or JWT (the demo prints demo-admin-key-...)
 * Exits 1 with the gateway's error codes when it answers with GraphQL errors.
 */
import { GatewayError, formatSummary, runIntegration } from './integration.js';

const url = process.env['GATEWAY_URL'] ?? 'http://localhost:4000/graphql';
const apiKey = process.env['GATEWAY_API_KEY'];

if (apiKey === undefined || apiKey === '') {
  process.stderr.write('Set GATEWAY_API_KEY to an admin API key of the gateway (npm run demo prints one).\n');
  process.exit(1);
}

try {
  const summary = await runIntegration({ url, apiKey });
  process.stdout.write(`${formatSummary(summary)}\n`);
} catch (err) {
  if (err instanceof GatewayError) {
    process.stderr.write(`The gateway refused: ${err.message}\n`);
  } else {
    // fetch failures carry the socket error (ECONNREFUSED...) as their cause.
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    process.stderr.write(`Could not talk to ${url}: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
  }
  process.exitCode = 1;
}
