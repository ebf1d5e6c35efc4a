/**
 * Runs one reference server as its own process: `reference-main.js yoga` or
 * `reference-main.js mercurius`. bench/run.ts transpiles it with the floor and starts it on
 * bare `node`; by hand, `node --import tsx bench/reference-main.ts mercurius` works too. The
 * floor's environment (see floor-main.ts) plus BENCH_SCHEMA_FILE, the SDL to serve
 * (default `schema.graphql` in the working directory).
 */
import { readFileSync } from 'node:fs';
import type { BenchServer, FloorOptions } from './floor.js';
import { createMercurius } from './reference-mercurius.js';
import { createNaiveYoga } from './reference-yoga.js';

const FACTORIES: Record<string, (options: FloorOptions & { sdl: string }) => Promise<BenchServer>> = {
  yoga: createNaiveYoga,
  mercurius: createMercurius,
};

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`reference: ${name} is required\n`);
    process.exit(1);
  }
  return value;
}

const which = process.argv[2] ?? '';
const factory = FACTORIES[which];
if (factory === undefined) {
  process.stderr.write(`usage: reference-main <${Object.keys(FACTORIES).join('|')}>\n`);
  process.exit(2);
}
const server = await factory({
  npmBaseUrl: required('NPM_BASE_URL'),
  npmUsername: required('NPM_USERNAME'),
  npmPassword: required('NPM_PASSWORD'),
  axisBaseUrl: required('AXIS_BASE_URL'),
  axisApiToken: required('AXIS_API_TOKEN'),
  ...(process.env['AXIS_API_PREFIX'] ? { axisApiPrefix: process.env['AXIS_API_PREFIX'] } : {}),
  ...(process.env['FLOOR_API_KEY'] ? { apiKey: process.env['FLOOR_API_KEY'] } : {}),
  sdl: readFileSync(process.env['BENCH_SCHEMA_FILE'] ?? 'schema.graphql', 'utf8'),
});
const url = await server.listen(Number(process.env['PORT'] ?? 0), process.env['HOST'] ?? '127.0.0.1');
process.stdout.write(`${which} reference listening on ${url}\n`);

function stop(): void {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
