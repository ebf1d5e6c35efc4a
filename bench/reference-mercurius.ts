/**
 * Reference server: fastify + mercurius with graphql-jit (`jit: 1`: a document is compiled
 * on its first repeat), the lean Node GraphQL stack. The same schema.graphql and naive
 * resolvers as the naive Yoga (naive-schema.ts) on the same undici pools; the API key is
 * checked in an onRequest hook, as the floor checks it.
 */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { bearerCheck } from './floor.js';
import type { BenchServer, FloorOptions } from './floor.js';
import { createNaiveSchema } from './naive-schema.js';
import { createBenchUpstreams } from './upstream-pools.js';

export async function createMercurius(options: FloorOptions & { sdl: string }): Promise<BenchServer> {
  const upstreams = await createBenchUpstreams(options);
  const authorized = bearerCheck(options.apiKey);
  const app = Fastify({ logger: false });
  app.get('/health', async () => ({ status: 'ok' }));
  app.addHook('onRequest', async (req, reply) => {
    if (req.url !== '/health' && !authorized(req.headers.authorization)) {
      return reply.code(401).send({ errors: [{ message: 'missing or unknown API key' }] });
    }
    return undefined;
  });
  await app.register(mercurius, {
    schema: createNaiveSchema(options.sdl, upstreams),
    path: '/graphql',
    jit: 1,
    graphiql: false,
    // A fresh object per request: the resolvers' per-request memo of the 1000-lists.
    context: () => ({}),
  });
  await app.ready();
  return {
    server: app.server,
    listen: (port = 0, host = '127.0.0.1') => app.listen({ port, host }),
    async close() {
      await app.close();
      await upstreams.close();
    },
    get logins() {
      return upstreams.logins;
    },
  };
}
