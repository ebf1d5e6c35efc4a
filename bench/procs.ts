/**
 * Child processes of the benchmark (simulators, gateway, floor) and what /proc says about
 * them. Every child is started here and registered, so one call (or the process exiting for
 * any reason) stops them all.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { Socket, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

// A last resort for any way out (an exception, process.exit): no orphan keeps a port.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A port the OS says is free now (there is a small window before the child binds it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  logDir: string;
  /** Every URL must answer 2xx before the child counts as started. */
  healthUrls: string[];
  /** Or, for a child that speaks no HTTP: true once it is up (asked again every 100 ms). */
  ready?: () => Promise<boolean>;
  timeoutMs?: number;
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await request(url, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300;
  } catch {
    return false;
  }
}

/**
 * Starts a child with stdout and stderr in `<logDir>/<name>.log` and waits for its health
 * URLs. The environment is exactly `env` plus PATH and HOME: nothing of the benchmark's own
 * (NODE_OPTIONS, npm_*) leaks in.
 */
export async function startChild(options: StartOptions): Promise<Child> {
  const logFile = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logFile, 'w');
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env };
  if (process.env['HOME'] !== undefined) env['HOME'] = process.env['HOME'];
  const child = spawn(options.command, options.args, { cwd: options.cwd, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  running.add(child);
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = signal ?? String(code);
      resolve();
    });
    // A command that is not installed: spawn fails with ENOENT and no 'exit' follows.
    child.once('error', (err) => {
      running.delete(child);
      exited ??= err.message;
      resolve();
    });
  });
  if (child.pid === undefined) {
    await gone;
    throw new Error(`${options.name} did not start (${exited ?? 'no pid'}): ${tail(logFile)}`);
  }
  const pid = child.pid;

  const handle: Child = {
    name: options.name,
    pid,
    logFile,
    async stop(graceMs = 5_000) {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const checks = [
    ...options.healthUrls.map((url) => ({ what: url, up: () => healthy(url) })),
    ...(options.ready === undefined ? [] : [{ what: 'its ready check', up: options.ready }]),
  ];
  for (const { what: url, up } of checks) {
    while (!(await up())) {
      if (exited !== undefined) {
        throw new Error(`${options.name} exited (${exited}) before ${url} answered:\n${tail(logFile)}`);
      }
      if (Date.now() > deadline) {
        await handle.stop();
        throw new Error(`${options.name}: ${url} did not answer in time:\n${tail(logFile)}`);
      }
      await sleep(100);
    }
  }
  return handle;
}

/** Whether something accepts TCP connections on the loopback port. */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/**
 * A `redis-server` of the benchmark's own on a free loopback port, with no persistence
 * (`--save '' --appendonly no`): the Redis the gateway's REDIS_URL runs point at. Stopped
 * with every other child.
 */
export async function startRedis(logDir: string, cwd: string): Promise<{ child: Child; url: string; port: number }> {
  const port = await freePort();
  const child = await startChild({
    name: 'redis',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    cwd,
    logDir,
    env: {},
    healthUrls: [],
    ready: () => tcpOpen(port),
  }).catch((err: unknown) => {
    throw new Error(
      `could not start redis-server (install it, e.g. apt-get install redis-server, or pass --no-redis): ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  return { child, url: `redis://127.0.0.1:${port}`, port };
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          // Generous: a process under --cpu-prof writes its profile on the way out.
          setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
        }),
    ),
  );
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK` (the unit of utime/stime in /proc/<pid>/stat), normally 100. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * User + system CPU time of a whole process (all its threads: the event loop, the GC
 * helpers, libuv's pool) in milliseconds, from /proc/<pid>/stat fields 14 and 15. The
 * resolution is one clock tick (10 ms at 100 Hz), so measure over whole seconds.
 */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicksPerSecond();
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return match === null ? Number.NaN : Number(match[1]);
}

/** Resident set size now, in MB (MiB). */
export function rssMb(pid: number): number {
  return statusKb(pid, 'VmRSS') / 1024;
}

/** Peak resident set size since the process started, in MB (MiB). */
export function peakRssMb(pid: number): number {
  return statusKb(pid, 'VmHWM') / 1024;
}
