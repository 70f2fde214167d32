// A batch audit's blanked function bodies are left out of the annotation rewrite's
// reading (annotations.ts `prepare`'s BlankSpans) and of tree-sitter's (c/parser.ts:
// included ranges around them, c/regions.ts `rangesOutside`). Both must give what
// reading the blanks gives: the same rewrite, and a tree whose every node has the
// kind, offset, row and column of the whole text's parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepare } from '../../../server/src/c/annotations';
import { CParser, type Node } from '../../../server/src/c/parser';
import { blankInsides, insideSpans, rangesOutside, topBlocks, type TopBlock } from '../../../server/src/c/regions';

/** Every node as kind, offsets, rows and columns, in tree order. */
function nodes(root: Node): string[] {
  const out: string[] = [];
  const c = root.walk();
  for (;;) {
    const n = c.currentNode;
    out.push(`${n.type}${n.isMissing ? '!' : ''} ${n.startIndex}-${n.endIndex} ${n.startPosition.row}:${n.startPosition.column}-${n.endPosition.row}:${n.endPosition.column}`);
    if (c.gotoFirstChild()) continue;
    while (!c.gotoNextSibling()) {
      if (!c.gotoParent()) {
        c.delete();
        return out;
      }
    }
  }
}

/** The file's bodies (every block after `)`) blanked but those named in `keep`. */
function blanked(src: string, keep: (inside: string) => boolean): { text: string; blocks: TopBlock[] } {
  const lexed = topBlocks(src);
  assert.ok('blocks' in lexed, 'the lexer delimits the fixture');
  const blocks = lexed.blocks.filter((b) => b.afterParen && !keep(src.slice(b.open + 1, b.close)));
  return { text: blankInsides(src, blocks), blocks };
}

// CRLF lines, a tab, a non-ASCII character before a body on its line (UTF-16 columns
// differ from bytes), a one-line body, a body right after a directive, an annotation
// and an iterator macro the rewrite changes in a kept body, an empty body, and a
// parse error after a blanked body.
const SRC = [
  '#include <linux/io.h>\r\n',
  'static const char *name = "é→";\tstatic int one(int x) { return x + 1; }\r\n',
  'static void __iomem *base;\n',
  '#define REG(x) ((x) * 4)\n',
  'static int two(struct list_head *h)\n{\n\tstruct item *it;\n\tlist_for_each_entry(it, h, node)\n\t\tit->n++;\n\treturn 0;\n}\n',
  'static void poke(void)\n{\n\twritel(1, base + REG(2));\n}\n',
  'static void empty(void) {}\n',
  'static int three(int y)\r\n{\r\n\tint z = y << 2;\r\n\r\n\treturn z;\r\n}\r\n',
  'static int broken(int y) { return y +; }\n',
  'int last(void)\n{\n\treturn two(0);\n}',
].join('');

test('a parse that leaves the blanked insides out has the whole text\'s tree, node for node', async () => {
  const parser = await CParser.create();
  const { text, blocks } = blanked(SRC, (inside) => inside.includes('writel') || inside.includes('y +;'));
  const spans = insideSpans(blocks);
  assert.ok(spans.length >= 8, 'several bodies are blanked');
  const whole = parser.parse(undefined, text);
  const partial = parser.parse(undefined, text, spans);
  assert.deepEqual(nodes(partial.tree.rootNode), nodes(whole.tree.rootNode));
  assert.equal(partial.prepared.text, whole.prepared.text);
  assert.deepEqual(partial.prepared.annotations, whole.prepared.annotations);
  assert.deepEqual(partial.prepared.iomem, whole.prepared.iomem);
  assert.ok(partial.tree.rootNode.hasError, 'the kept body\'s error is in the tree');
  // tree-sitter read only the ranges: each starts where a skipped span ends.
  const ranges = rangesOutside(text, spans);
  assert.equal(ranges.length, spans.length / 2 + 1);
  for (let k = 0; k < spans.length; k += 2) assert.equal(ranges[k / 2 + 1]!.startIndex, spans[k + 1]);
  whole.tree.delete();
  partial.tree.delete();
});

test('the included ranges carry the row and UTF-16 column of their ends', () => {
  const text = 'a\r\né {   }\nx {\n  \n}';
  const r = rangesOutside(text, [6, 9, 14, 18]);
  assert.deepEqual(r.map((x) => [x.startIndex, x.endIndex, x.startPosition, x.endPosition]), [
    [0, 6, { row: 0, column: 0 }, { row: 1, column: 3 }],
    [9, 14, { row: 1, column: 6 }, { row: 2, column: 3 }],
    [18, 19, { row: 4, column: 0 }, { row: 4, column: 1 }],
  ]);
});

test('the rewrite jumps over blank spans as if it had read them, line ends included', () => {
  // A span whose blanks end a line before a directive: the `#` still stands at a line start.
  // (GNU named variadic parameters are rewritten in a directive only.)
  const src = 'int f(void) {      \n#define dbg(fmt, args...) pr_debug(fmt, ##args)\n  int __iomem *p; }\nint g(void) {   \n\n   }\n';
  const a = src.indexOf('{') + 1;
  const b = src.indexOf('{', a) + 1;
  const spans = [a, src.indexOf('#'), b, src.indexOf('}', b)];
  assert.equal(src.slice(spans[0], spans[1]).trim(), '');
  assert.equal(src.slice(spans[2], spans[3]).trim(), '');
  assert.deepEqual(prepare(src, spans), prepare(src));
  assert.ok(prepare(src).annotations.some((a) => a.name === 'named variadic parameter'));
});
