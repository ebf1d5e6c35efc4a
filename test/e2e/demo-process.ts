import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface DemoProcess {
  /** The gateway's origin, e.g. http://127.0.0.1:43117 */
  origin: string;
  /** Everything the demo wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Stops the demo's whole process group: SIGTERM, then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const URL_LINE = /GraphiQL\s+(http:\/\/\S+)\/graphql/;

function exited(child: ChildProcess, withinMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts `npm run demo` as a user would (scripts/demo.ts under tsx, simulators and gateway in
 * one process), on ports the OS picks, and resolves once the printed gateway answers
 * `GET /ready` with 200. `node --import tsx` rather than `npm run`: one process, in its own
 * process group, so stop() reaches everything it started.
 */
export async function startDemo(readyWithinMs = 60_000, env: Record<string, string> = {}): Promise<DemoProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      NPM_SIM_PORT: '0',
      AXIS_SIM_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

  const stop = async (): Promise<void> => {
    const pid = child.pid;
    if (pid === undefined) return;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    signalGroup('SIGTERM');
    if (!(await exited(child, 5_000))) {
      signalGroup('SIGKILL');
      await exited(child, 5_000);
    }
  };

  try {
    const origin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the demo printed no GraphiQL URL')), readyWithinMs);
      const onData = () => {
        const match = URL_LINE.exec(output);
        if (match?.[1] === undefined) return;
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(match[1]);
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`the demo exited with ${code} before it was up`)));
    });
    // The gateway listens before its upstream pools are warm; /ready says when it can serve.
    const deadline = Date.now() + readyWithinMs;
    for (;;) {
      const status = await fetch(`${origin}/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`${origin}/ready did not answer 200 (last: ${status})`);
      if (child.exitCode !== null) throw new Error(`the demo exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { origin, output: () => output, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; demo output:\n${output}`, { cause: err });
  }
}
