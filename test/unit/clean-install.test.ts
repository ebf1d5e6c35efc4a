import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

// `npm ci` on the Node the README names must not print EBADENGINE: each warning is a package
// that says it does not support this Node. A dry run of the lockfile in a scratch directory
// does the same engine check as the real install without touching node_modules.
describe('clean install', () => {
  it('npm ci on this Node prints no engine warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clean-install-'));
    try {
      copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
      copyFileSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
      const { stdout, stderr } = await run(
        'npm',
        ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'],
        { cwd: dir, env: { ...process.env, npm_config_loglevel: 'warn' } },
      );
      const output = stdout + stderr;
      expect(output).toMatch(/added \d+ packages/);
      const unsupported = [...output.matchAll(/package: '([^']+)'/g)].map((m) => m[1]);
      expect(unsupported).toEqual([]);
      expect(output).not.toContain('EBADENGINE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
