/**
 * Runs the floor as its own process. bench/run.ts transpiles this file and floor.ts to
 * JavaScript once and starts it on bare `node`, as the gateway's build runs; by hand,
 * `node --import tsx bench/floor-main.ts` works too. Environment, with
 * the gateway's names where they mean the same: PORT, HOST, NPM_BASE_URL, NPM_USERNAME,
 * NPM_PASSWORD, AXIS_BASE_URL, AXIS_API_TOKEN, AXIS_API_PREFIX, FLOOR_API_KEY.
 */
import { createFloor } from './floor.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`floor: ${name} is required\n`);
    process.exit(1);
  }
  return value;
}

const floor = await createFloor({
  npmBaseUrl: required('NPM_BASE_URL'),
  npmUsername: required('NPM_USERNAME'),
  npmPassword: required('NPM_PASSWORD'),
  axisBaseUrl: required('AXIS_BASE_URL'),
  axisApiToken: required('AXIS_API_TOKEN'),
  ...(process.env['AXIS_API_PREFIX'] ? { axisApiPrefix: process.env['AXIS_API_PREFIX'] } : {}),
  ...(process.env['FLOOR_API_KEY'] ? { apiKey: process.env['FLOOR_API_KEY'] } : {}),
});
const url = await floor.listen(Number(process.env['PORT'] ?? 0), process.env['HOST'] ?? '127.0.0.1');
process.stdout.write(`floor listening on ${url}\n`);

function stop(): void {
  floor.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
