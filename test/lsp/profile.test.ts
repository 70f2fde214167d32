// The server picks the #VE handler model from the workspace tree's top-level
// Makefile, like the CLI and reports: "auto" (the default) follows the tree; an
// explicit tdxAudit.profile wins and a disagreement with the tree is said once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, LspHarness, SERVER, fileUri } from './harness';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const skip = existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build';

function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-profile-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\nNAME = Curry Ramen\n');
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(dir, 'foo_nic.c'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'tdx_io.h'));
  return dir;
}

async function exportedProfile(lsp: LspHarness, dir: string): Promise<string> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const r: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['json'] });
  assert.equal(r?.cancelled, false, JSON.stringify(r));
  const report = JSON.parse(readFileSync(join(out, readdirSync(out)[0]!), 'utf8'));
  return report.provenance.profile as string;
}

test('with tdxAudit.profile "auto" a Linux 6.1.192 tree is judged as 6.1.192', { skip }, async () => {
  const dir = tree();
  const lsp = LspHarness.spawn({ profile: 'auto' });
  try {
    await lsp.initialize(dir, { trusted: false });
    assert.equal(await exportedProfile(lsp, dir), 'tdx-linux-6.1.192');
    assert.ok(!lsp.shown.some((m) => /disagrees/.test(m.message)), 'nothing to say');
  } finally {
    lsp.kill();
  }
});

test('an explicit tdxAudit.profile wins over the tree, and the disagreement is said once', { skip }, async () => {
  const dir = tree();
  const lsp = LspHarness.spawn({ profile: 'tdx-linux-5.19' });
  try {
    await lsp.initialize(dir, { trusted: false });
    assert.equal(await exportedProfile(lsp, dir), 'tdx-linux-5.19');
    await exportedProfile(lsp, dir);
    const said = lsp.shown.filter((m) => /tdxAudit\.profile tdx-linux-5\.19 .*disagrees with .*Makefile \(Linux 6\.1\.192/.test(m.message));
    assert.equal(said.length, 1, lsp.shown.map((m) => m.message).join('\n'));
  } finally {
    lsp.kill();
  }
});
