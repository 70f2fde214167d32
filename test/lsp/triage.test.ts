// Triage worth keeping (issue 17): the quick fix carries the diagnostic's severity
// (so a client can ask why before an error or warning is dismissed), and a decision
// is recorded with its reason, who made it (git's global identity or the OS user)
// and when.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, LspHarness, SERVER, fileUri } from './harness';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a triage decision keeps its reason, author and time; the quick fix passes the severity', { skip: existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-triage-'));
  dirs.push(dir);
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(dir, 'foo_nic.c'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'tdx_io.h'));
  const lsp = LspHarness.spawn({ debounceMs: 20 });
  try {
    await lsp.initialize(dir, { trusted: true });
    const uri = fileUri(join(dir, 'foo_nic.c'));
    await lsp.open(uri, readFileSync(join(dir, 'foo_nic.c'), 'utf8'));
    const diags = await lsp.diagnosticsFor(uri, 1);
    const d = diags.find((x) => (x.data as { fingerprint?: string } | undefined)?.fingerprint)!;
    assert.ok(d, 'a diagnostic with a fingerprint');
    const actions: any[] = await lsp.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    const safe = actions.find((a) => a.command?.arguments?.[2] === 'safe');
    assert.ok(safe, JSON.stringify(actions));
    assert.equal(safe.command.arguments[4], d.severity, 'the severity rides along');
    const [u, fp] = safe.command.arguments;
    const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.setTriage', arguments: [u, fp, 'safe', 'reviewed: the BAR is never mapped in a TD'] });
    assert.match(String(msg), /^safe: saved in /);
    const file = JSON.parse(readFileSync(join(dir, '.tdx-audit', 'triage.json'), 'utf8'));
    const e = file.entries[fp];
    assert.equal(e.status, 'safe');
    assert.equal(e.comment, 'reviewed: the BAR is never mapped in a TD');
    assert.ok(typeof e.who === 'string' && e.who.length > 0, `who: ${e.who}`);
    assert.ok(!Number.isNaN(Date.parse(e.when)), `when: ${e.when}`);
  } finally {
    lsp.kill();
  }
});

test('a raw MMIO dereference gets a quick fix that rewrites it with the accessor of its width', { skip: existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-fixit-'));
  dirs.push(dir);
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'tdx_io.h'));
  const text = '#include "tdx_io.h"\nstruct regs { unsigned int ctrl; };\nvoid kick(struct regs __iomem *r)\n{\n\tr->ctrl |= 4;\n}\n';
  const lsp = LspHarness.spawn({ debounceMs: 20 });
  try {
    await lsp.initialize(dir, { trusted: false });
    const uri = fileUri(join(dir, 'kick.c'));
    await lsp.open(uri, text);
    const diags = await lsp.diagnosticsFor(uri, 1);
    const d = diags.find((x) => x.range.start.line === 4)!;
    assert.ok(d, JSON.stringify(diags));
    const actions: any[] = await lsp.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    const fix = actions.find((a) => a.edit);
    assert.ok(fix, JSON.stringify(actions.map((a) => a.title)));
    assert.equal(fix.title, 'TDX: Use readl()/writel()');
    assert.deepEqual(fix.edit.changes[uri], [{ range: { start: { line: 4, character: 1 }, end: { line: 4, character: 13 } }, newText: 'writel(readl(&r->ctrl) | 4, &r->ctrl)' }]);
  } finally {
    lsp.kill();
  }
});
