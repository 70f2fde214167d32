// The document store's TreeEdits, checked against tree-sitter itself: a tree edited
// with them and reparsed must equal a fresh parse of the new text, node for node.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';
import { DocumentStore, advance, pointAt } from '../../server/src/lsp/documents';
import { FIXTURES, REPO } from './harness';

let parser: Parser;

before(async () => {
  await Parser.init();
  parser = new Parser();
  parser.setLanguage(await Language.load(join(REPO, 'node_modules', 'tree-sitter-c', 'tree-sitter-c.wasm')));
});

function dump(tree: Tree): string[] {
  const out: string[] = [];
  const walk = (n: Node) => {
    out.push(`${n.type} ${n.startIndex}-${n.endIndex} ${n.startPosition.row}:${n.startPosition.column}-${n.endPosition.row}:${n.endPosition.column}`);
    for (const c of n.children) if (c) walk(c);
  };
  walk(tree.rootNode);
  return out;
}

test('pointAt counts rows at \\n only and columns in UTF-16 units', () => {
  const text = 'a😀b\r\ncd\re\n';
  assert.deepEqual(pointAt(text, 0), { row: 0, column: 0 });
  assert.deepEqual(pointAt(text, 3), { row: 0, column: 3 }, 'the emoji is two units');
  assert.deepEqual(pointAt(text, 5), { row: 0, column: 5 }, '\\r belongs to the row it ends');
  assert.deepEqual(pointAt(text, 6), { row: 1, column: 0 });
  assert.deepEqual(pointAt(text, 9), { row: 1, column: 3 }, 'a lone \\r is not a row break for tree-sitter');
  assert.deepEqual(pointAt(text, text.length), { row: 2, column: 0 });
});

test('advance moves over inserted text', () => {
  assert.deepEqual(advance({ row: 3, column: 4 }, ''), { row: 3, column: 4 });
  assert.deepEqual(advance({ row: 3, column: 4 }, 'é😀'), { row: 3, column: 7 });
  assert.deepEqual(advance({ row: 3, column: 4 }, 'x\r\nyz\nw'), { row: 5, column: 1 });
});

test('store: pending edits batch until taken; a full replacement forces a fresh parse', () => {
  const store = new DocumentStore();
  const uri = 'file:///t.c';
  store.open({ textDocument: { uri, languageId: 'c', version: 1, text: 'int a;\n' } });
  assert.equal(store.takeEdits(uri), undefined, 'first audit parses from scratch');
  store.change({ textDocument: { uri, version: 2 }, contentChanges: [{ range: { start: { line: 0, character: 4 }, end: { line: 0, character: 5 } }, text: 'bc' }] });
  store.change({ textDocument: { uri, version: 3 }, contentChanges: [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: 'int d;\n' }] });
  assert.equal(store.get(uri)?.text, 'int bc;\nint d;\n');
  assert.equal(store.get(uri)?.version, 3);
  const edits = store.takeEdits(uri);
  assert.equal(edits?.length, 2);
  assert.deepEqual(edits?.[0], {
    startIndex: 4, oldEndIndex: 5, newEndIndex: 6,
    startPosition: { row: 0, column: 4 }, oldEndPosition: { row: 0, column: 5 }, newEndPosition: { row: 0, column: 6 },
  });
  assert.deepEqual(store.takeEdits(uri), []);
  store.change({ textDocument: { uri, version: 4 }, contentChanges: [{ text: 'void f(void);\n' }] });
  store.change({ textDocument: { uri, version: 5 }, contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'x' }] });
  assert.equal(store.takeEdits(uri), undefined);
  store.markStale(uri);
  assert.equal(store.takeEdits(uri), undefined);
  assert.equal(store.change({ textDocument: { uri: 'file:///nope.c', version: 1 }, contentChanges: [] }), undefined);
});

test('random incremental edits: tree.edit + reparse equals a fresh parse', () => {
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const pool = ['', 'x', '\n', '\r\n', 'é😀', '{', '}', ' writel(1, p);\n', '/* c */', '"s"', '#define X 1\n', ';', 'int y = 2;\r\n'];
  let text = readFileSync(join(FIXTURES, 'foo_nic.c'), 'utf8');
  // Mixed line endings and astral characters are where offset/point arithmetic goes wrong.
  text = text.replace('struct foo_regs {\n', 'struct foo_regs { /* é😀 */\r\n').replace('#define FOO_RING', '/* lone\rcr */\n#define FOO_RING');

  const store = new DocumentStore();
  const uri = 'file:///r.c';
  store.open({ textDocument: { uri, languageId: 'c', version: 1, text } });
  store.takeEdits(uri);
  let tree = parser.parse(text)!;

  for (let round = 0; round < 150; round++) {
    const doc = store.get(uri)!;
    const changes = [];
    let len = doc.text.length;
    // Several changes per notification, each in the coordinates left by the previous one.
    for (let k = 1 + rnd(3); k > 0; k--) {
      const a = rnd(len + 1);
      const b = Math.min(len, a + rnd(12));
      const [s, e] = rnd(10) === 0 ? [b, a] : [a, b];
      const inserted = pool[rnd(pool.length)];
      // Positions as a client computes them from the text it has after the earlier changes.
      const shadow = new DocumentStore();
      const cur = currentText(doc.text, changes);
      shadow.open({ textDocument: { uri: 'file:///s.c', languageId: 'c', version: 0, text: cur } });
      const lsp = shadow.get('file:///s.c')!.lsp;
      changes.push({ range: { start: lsp.positionAt(s), end: lsp.positionAt(e) }, text: inserted });
      len = cur.length - Math.abs(e - s) + inserted.length;
    }
    store.change({ textDocument: { uri, version: doc.version + 1 }, contentChanges: changes });
    const next = store.get(uri)!.text;
    const edits = store.takeEdits(uri)!;
    for (const edit of edits) tree.edit(edit);
    if (edits.length === 1) {
      // The reparse can mask a wrong point (it recomputes what it re-reads), so check the
      // edited tree directly: nodes after the edit must have points matching their indices.
      const after = edits[0].newEndIndex;
      const walk = (n: Node) => {
        if (n.startIndex >= after) {
          assert.deepEqual(n.startPosition, pointAt(next, n.startIndex), `round ${round}: ${n.type} at ${n.startIndex} after ${JSON.stringify(edits[0])}`);
        }
        for (const c of n.children) if (c) walk(c);
      };
      walk(tree.rootNode);
    }
    const incremental = parser.parse(next, tree)!;
    const fresh = parser.parse(next)!;
    assert.deepEqual(dump(incremental), dump(fresh), `round ${round}: ${JSON.stringify(changes)}`);
    tree.delete();
    fresh.delete();
    tree = incremental;
  }
  tree.delete();
});

/** Applies LSP changes with the same library the store uses, for the generator's own bookkeeping. */
function currentText(text: string, changes: { range: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string }[]): string {
  const s = new DocumentStore();
  s.open({ textDocument: { uri: 'file:///c.c', languageId: 'c', version: 0, text } });
  s.change({ textDocument: { uri: 'file:///c.c', version: 1 }, contentChanges: changes });
  return s.get('file:///c.c')!.text;
}
