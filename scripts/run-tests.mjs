// Runs node's test runner over test/**/*.test.ts (Node 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs [dir or .test.ts file...]   (default: test/unit test/fuzz test/lsp test/cli test/adversarial test/dynamic test/e2e)
// test/e2e drives real editors (code-server + Chromium, Neovim, Emacs); each test
// skips, saying what is missing, when its editor is not installed (.ci/run installs them).
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['test/unit', 'test/fuzz', 'test/lsp', 'test/cli', 'test/adversarial', 'test/dynamic', 'test/e2e'];
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d).sort()) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.test.ts')) files.push(p);
  }
};
for (const r of roots) {
  if (!existsSync(r)) continue;
  if (statSync(r).isDirectory()) walk(r);
  else files.push(r);
}
if (!files.length) {
  console.error('no test files found under', roots.join(' '));
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
