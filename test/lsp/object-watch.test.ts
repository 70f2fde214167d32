// Watching objects (issue 16, item 3): when the user's own make rebuilds the object
// beside an open source, the editor's diagnostics move to the new compiled form
// without a save or reopen. The built server over stdio; objects built here with gcc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LspHarness, SERVER, fileUri, positionOf } from './harness';
import { GCC_FLAGS, compileObject, copyFormsFixture, skipWithoutGcc } from '../support/gcc';

const FIX = resolve(__dirname, '../fixtures');
let dir = '';
let lsp: LspHarness;
let uri = '';
let text = '';

before(async () => {
  if (skipWithoutGcc) return;
  assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
  dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-watch-'));
  copyFormsFixture(dir, FIX);
  lsp = LspHarness.spawn({ debounceMs: 50 });
  await lsp.initialize(dir);
  uri = fileUri(join(dir, 'forms.c'));
  text = readFileSync(join(dir, 'forms.c'), 'utf8');
  await lsp.open(uri, text, 1);
});
after(() => {
  lsp?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rmwMessage = (ds: readonly { range: { start: { line: number } }; message: unknown }[]) => String(ds.find((d) => d.range.start.line === positionOf(text, 'd->r->ctrl').line)?.message);

test('an object built (or rebuilt) beside an open source is read when the watcher says so', { skip: skipWithoutGcc }, async () => {
  const first = await lsp.diagnosticsFor(uri, 1);
  assert.doesNotMatch(rmwMessage(first), /or dword ptr/, 'no object yet: the source verdict');
  compileObject('forms.c', dir, GCC_FLAGS.forms);
  const n = lsp.diagnostics.length;
  await lsp.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(join(dir, 'forms.o')), type: 1 }] });
  const next = await lsp.nextDiagnostics(uri, n);
  assert.match(rmwMessage(next.diagnostics), /or dword ptr \[rax\],1/, 'the new object\'s instruction');

  // Rebuilt without debug info: the store must not keep the old copy.
  compileObject('forms.c', dir, ['-O2', '-mno-sse']);
  const m = lsp.diagnostics.length;
  await lsp.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(join(dir, 'forms.o')), type: 2 }] });
  const again = await lsp.nextDiagnostics(uri, m);
  assert.doesNotMatch(rmwMessage(again.diagnostics), /or dword ptr/, 'the rebuilt object has no DWARF: no compiled form');
});
