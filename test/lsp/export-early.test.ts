// An export requested right after `initialized` (a client's "export on open", a
// script) is answered with the report once the engine has loaded, not with null;
// over directory symlink loops each file is reported once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, LspHarness, SERVER, fileUri } from './harness';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('exportReport right after initialized answers the report; loops list each file once', { skip: existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-export-early-'));
  dirs.push(dir);
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(dir, 'foo_nic.c'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'tdx_io.h'));
  mkdirSync(join(dir, 'd'));
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(dir, 'd', 'a.c'));
  symlinkSync('.', join(dir, 'd', 'l1'));
  symlinkSync('.', join(dir, 'd', 'l2'));
  const out = join(dir, 'out');
  const lsp = LspHarness.spawn({ debounceMs: 50 });
  try {
    await lsp.initialize(dir, { trusted: false });
    const r: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['json'] });
    assert.equal(r?.cancelled, false, `answer: ${JSON.stringify(r)}\n${lsp.logs.join('\n')}`);
    const report = JSON.parse(readFileSync(join(out, readdirSync(out)[0]!), 'utf8')) as { files: { file: string }[] };
    assert.deepEqual(report.files.map((f) => f.file).sort(), ['d/a.c', 'foo_nic.c']);
  } finally {
    lsp.kill();
  }
});
