// The built CLI run as a child process, and what two runs of the same report may
// differ in: shared by the tests that compare reports across --jobs, shards and merges.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const CLI = join(resolve(__dirname, '../..'), 'dist/cli.js');

/** `node dist/cli.js ...args` with `env` added to this process's environment. */
export function runCli(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A report's text without what two runs may differ in: when, and how long each file took. */
export function timeless(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"ms": [\d.]+/g, '"ms": 0')
    .replace(/<td class="num">[\d.]+ ms<\/td>/g, '<td class="num">0 ms</td>')
    .replace(/\| [\d.]+ ms \|/g, '| 0 ms |');
}
