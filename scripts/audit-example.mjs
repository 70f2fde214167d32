// `npm run audit`: the main job on the bundled example driver. Builds its object
// with the machine's gcc (-O2 -g, kernel-like: no SSE) into a temp directory, so the
// audit shows the instructions the compiler really emitted and the #VE handler's
// verdict on each; without gcc it says so and audits the source alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(repo, 'examples', 'acme_wdt');
const cli = join(repo, 'dist', 'cli.js');
const out = mkdtempSync(join(tmpdir(), 'tdx-audit-example-'));
try {
  const gcc = spawnSync('gcc', ['-O2', '-g', '-mno-sse', '-mno-mmx', '-c', join(example, 'acme_wdt.c'), '-o', join(out, 'acme_wdt.o')], { encoding: 'utf8' });
  const args = ['scan', example, '--exit-zero'];
  if (gcc.status === 0) {
    args.push('--objects', out);
    console.log(`(compiled examples/acme_wdt/acme_wdt.c with gcc -O2 -g into ${out}; the audit joins each site with its instructions)\n`);
  } else {
    console.log(`(gcc ${gcc.error ? 'is not installed' : `failed: ${gcc.stderr.trim().split('\n').pop()}`}: auditing the source alone, without compiled forms)\n`);
  }
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
