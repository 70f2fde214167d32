// When c/wasmNodes.ts cannot reach web-tree-sitter's module (another caller
// initialised it first, a reshaped build), the node index uses the public API and
// answers the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CParser } from '../../../server/src/c/parser';
import { INDEXED_KINDS, indexedNodesOf, nodesOf } from '../../../server/src/c/nodeIndex';
import { registerModule, wasmNodesStatus } from '../../../server/src/c/wasmNodes';

test('an object that is not the WASM module is refused, and the index still answers as descendantsOfType', async () => {
  const parser = await CParser.create();
  registerModule({ locateFile: () => '' });
  const s = wasmNodesStatus();
  assert.equal(s.available, false);
  assert.match(s.why ?? '', /HEAP32/);
  const tree = parser.parseOnce('struct d { void __iomem *b; };\nint f(struct d *d) { int x = readl(d->b); y[1] = *p; return x; }\n');
  try {
    for (const k of INDEXED_KINDS) {
      const want = tree.rootNode.descendantsOfType(k).map((n) => `${n!.type}@${n!.startIndex}-${n!.endIndex}`);
      const found = indexedNodesOf(tree.rootNode, k);
      assert.deepEqual(Array.from({ length: found.length }, (_, j) => `${found.kind(j)}@${found.start(j)}-${found.end(j)}`), want, k);
      assert.deepEqual(nodesOf(tree.rootNode, k).map((n) => `${n.type}@${n.startIndex}-${n.endIndex}`), want, k);
    }
    const calls = indexedNodesOf(tree.rootNode, 'call_expression');
    assert.deepEqual(calls.fieldChild(0, 'function'), { kind: 'identifier', start: calls.start(0), end: calls.start(0) + 5, text: 'readl' });
    assert.equal(calls.fieldChild(0, 'no_such_field'), null);
  } finally {
    tree.delete();
  }
});
