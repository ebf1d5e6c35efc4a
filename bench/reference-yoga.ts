/**
 * Reference server: graphql-yoga as a team would first set it up. The gateway's
 * schema.graphql with the naive resolvers (naive-schema.ts) on the benchmark's undici pools,
 * Yoga's defaults and no plugins. The API key is checked in front of Yoga, as the floor
 * checks it, so every server refuses the same requests.
 */
import { createServer } from 'node:http';
import { createYoga } from 'graphql-yoga';
import { bearerCheck, listenOn } from './floor.js';
import type { BenchServer, FloorOptions } from './floor.js';
import { createNaiveSchema } from './naive-schema.js';
import type { NaiveContext } from './naive-schema.js';
import { createBenchUpstreams } from './upstream-pools.js';

export async function createNaiveYoga(options: FloorOptions & { sdl: string }): Promise<BenchServer> {
  const upstreams = await createBenchUpstreams(options);
  const authorized = bearerCheck(options.apiKey);
  const yoga = createYoga<Record<string, unknown>, NaiveContext>({
    schema: createNaiveSchema(options.sdl, upstreams),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    graphiql: false,
    landingPage: false,
  });
  const server = createServer((req, res) => {
    if (req.url !== '/health' && !authorized(req.headers.authorization)) {
      req.resume();
      const body = JSON.stringify({ errors: [{ message: 'missing or unknown API key' }] });
      res.writeHead(401, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    void yoga(req, res);
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
