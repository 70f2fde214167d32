// Whole-workspace features over stdio: the background index (worker threads,
// content cache), report export with overwrite protection, and triage set by the
// code action and carried into diagnostics.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LspHarness, SERVER, fileUri, positionOf } from './harness';

const FIX = resolve(__dirname, '../fixtures/drivers');

describe('workspace features over LSP', () => {
  let dir = '';
  let lsp: LspHarness;

  before(async () => {
    assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
    dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-ws-'));
    mkdirSync(join(dir, '.git'));
    mkdirSync(join(dir, 'drivers', 'net'), { recursive: true });
    copyFileSync(join(FIX, 'foo_nic.c'), join(dir, 'drivers', 'net', 'foo_nic.c'));
    copyFileSync(join(FIX, 'tdx_io.h'), join(dir, 'drivers', 'net', 'tdx_io.h'));
    // Same content under another name: one parse, one cache hit.
    copyFileSync(join(FIX, 'foo_nic.c'), join(dir, 'drivers', 'net', 'foo_nic_copy.c'));
    writeFileSync(join(dir, 'drivers', 'plain.c'), 'int add(int a, int b) { return a + b; }\n');
    mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
    copyFileSync(join(FIX, 'foo_nic.c'), join(dir, 'node_modules', 'x', 'skipped.c'));
    lsp = LspHarness.spawn({ debounceMs: 50 });
    await lsp.initialize(dir);
  });
  after(() => {
    lsp?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the workspace is indexed in the background: pre-filtered, node_modules skipped, identical content parsed once', async () => {
    let s: any = null;
    for (let i = 0; i < 150 && !s; i++) {
      s = await lsp.conn.sendRequest('tdxAudit/workspaceSummary');
      if (!s) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(s, 'index finished');
    const names = s.files.map((f: any) => f.path.slice(dir.length + 1)).sort();
    assert.deepEqual(names, ['drivers/net/foo_nic.c', 'drivers/net/foo_nic_copy.c', 'drivers/net/tdx_io.h']);
    assert.equal(s.skipped, 1, 'plain.c names no accessor');
    assert.equal(s.cacheHits, 1);
    const nic = s.files.find((f: any) => f.path.endsWith('foo_nic.c'));
    assert.ok(nic.sites > 5 && nic.errors >= 1);
    // Re-indexing unchanged files parses nothing again.
    const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.reindexWorkspace', arguments: [] });
    assert.match(String(msg), /Indexed 3 files/);
    const again: any = await lsp.conn.sendRequest('tdxAudit/workspaceSummary');
    assert.equal(again.cacheHits, 3);
  });

  test('export writes all four formats, and refuses to replace them unless asked', async () => {
    const out = join(dir, 'reports');
    const r: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['sarif', 'html', 'markdown', 'json'] });
    assert.equal(r.cancelled, false);
    assert.equal(r.written.length, 4);
    assert.ok(r.findings > 10);
    const sarif = JSON.parse(readFileSync(join(out, 'tdx-audit.sarif'), 'utf8'));
    assert.equal(sarif.version, '2.1.0');
    const again: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['json'] });
    assert.deepEqual(again.written, []);
    assert.equal(again.exists.length, 1);
    const forced: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['json'], overwrite: true });
    assert.equal(forced.written.length, 1);
  });

  test('a triage code action records the decision; the diagnostic then carries it and fades', async () => {
    const path = join(dir, 'drivers', 'net', 'foo_nic.c');
    const uri = fileUri(path);
    const text = readFileSync(path, 'utf8');
    await lsp.open(uri, text, 1);
    const diags = await lsp.diagnosticsFor(uri, 1);
    const line = positionOf(text, 'fp->ovl->ctrl').line;
    const d = diags.find((x) => x.range.start.line === line)!;
    assert.ok((d.data as any)?.fingerprint, 'diagnostics carry the fingerprint');
    const actions: any[] = await lsp.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    const safe = actions.find((a) => a.title === 'TDX triage: mark as safe');
    assert.ok(safe, `actions: ${actions.map((a) => a.title).join(', ')}`);
    const before = lsp.diagnostics.length;
    await lsp.conn.sendRequest('workspace/executeCommand', safe.command);
    const triageFile = JSON.parse(readFileSync(join(dir, '.tdx-audit', 'triage.json'), 'utf8'));
    assert.equal(triageFile.entries[(d.data as any).fingerprint].status, 'safe');
    const p = await lsp.nextDiagnostics(uri, before);
    const after = p.diagnostics.find((x) => x.range.start.line === line)!;
    assert.match(String(after.message), /^\[triaged safe\]/);
    assert.equal(after.severity, 4);
    assert.deepEqual(after.tags, [1]);
  });
});
