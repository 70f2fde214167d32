// The document store: incremental changes applied in order with LSP's own
// TextDocument, versions kept, unknown documents ignored. (The parser derives its
// tree edit from the previous text itself: c/parser.ts, tested in test/unit/c.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DocumentStore } from '../../server/src/lsp/documents';

test('store: ranged and full changes apply in order and keep the version', () => {
  const store = new DocumentStore();
  const uri = 'file:///t.c';
  store.open({ textDocument: { uri, languageId: 'c', version: 1, text: 'int a;\n' } });
  store.change({ textDocument: { uri, version: 2 }, contentChanges: [{ range: { start: { line: 0, character: 4 }, end: { line: 0, character: 5 } }, text: 'bc' }] });
  store.change({ textDocument: { uri, version: 3 }, contentChanges: [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: 'int d;\n' }] });
  assert.equal(store.get(uri)?.text, 'int bc;\nint d;\n');
  assert.equal(store.get(uri)?.version, 3);
  store.change({ textDocument: { uri, version: 4 }, contentChanges: [{ text: 'void f(void);\n' }, { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'x' }] });
  assert.equal(store.get(uri)?.text, 'xvoid f(void);\n');
  // A notification with no changes still carries a new version.
  store.change({ textDocument: { uri, version: 5 }, contentChanges: [] });
  assert.equal(store.get(uri)?.version, 5);
  assert.equal(store.change({ textDocument: { uri: 'file:///nope.c', version: 1 }, contentChanges: [] }), undefined);
  assert.equal(store.close(uri), true);
  assert.equal(store.get(uri), undefined);
});
