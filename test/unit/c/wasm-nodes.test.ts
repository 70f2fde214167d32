// The node index read straight from web-tree-sitter's WASM (c/wasmNodes.ts): it must
// answer what web-tree-sitter's own `descendantsOfType` answers, and must notice
// when the internals it reads change (a version bump, a reshaped accessor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Node, type Tree } from 'web-tree-sitter';
import { CParser } from '../../../server/src/c/parser';
import { INDEXED_KINDS, fieldChildOf, indexedNodesOf, kindedNodesOf, nodesOf } from '../../../server/src/c/nodeIndex';
import { WASM_NODES_VERSION, descendantsRaw, makeNode, wasmNodesStatus } from '../../../server/src/c/wasmNodes';

// Every indexed kind, nested in each other, inside ERROR nodes, after non-ASCII text
// (columns and offsets are UTF-16 code units) and after a macro with a body.
const FIXTURE = `/* é 𝔘 — non-ASCII before everything */
#define RD(p, o) readl((p)->base + (o))
typedef struct regs { u32 __iomem *ctrl; union { int a; char b; } u; } regs_t;
struct dev { void __iomem *base; struct regs *r; };
static int g = sizeof(struct dev) + _Alignof(int) + offsetof(struct dev, base);
static inline u32 rd(struct dev *d, int o) { return readl(d->base + o); }
int probe(struct dev *d, int *v) {
  typeof(d->base) b = d->base;
  int x = RD(d, 4), y[4];
  y[0] = *v = d->r->ctrl[2];
  x += rd(d, (int)sizeof(*d));
  if (x) return f(g(x), y[x & 3]);
  return *&x;
}
int broken(struct dev *d) {
  x = = readl(d->base) + ;
  struct q { int z; } w = { .z = d->r->u.a };
  return ioread32(d->base +) ) ;
}
void more(void) { TYPE_MACRO(int) t; call( ]; }
int lost( { readl(d->base); x = *p; }
void g(void) { if (x { y = readl(p->b); z[1] = 2; }
struct { int a; x = readl(d->b) ; } }
`;

const parserP = CParser.create();

async function parsed(text: string): Promise<Tree> {
  return (await parserP).parseOnce(text);
}

const sig = (n: Node) => `${n.type}@${n.startIndex}-${n.endIndex}#${n.id}`;

test(`web-tree-sitter is the version whose internals c/wasmNodes.ts reads (${WASM_NODES_VERSION})`, () => {
  const pkg = JSON.parse(readFileSync(require.resolve('web-tree-sitter').replace(/tree-sitter\.c?js$/, 'package.json'), 'utf8')) as { version: string };
  assert.equal(pkg.version, WASM_NODES_VERSION, 'web-tree-sitter changed: re-read its src/marshal.ts and lib/tree-sitter.c against c/wasmNodes.ts, then bump WASM_NODES_VERSION');
});

test('the fixture holds every indexed kind the grammar has, and some inside ERROR nodes', async () => {
  const tree = await parsed(FIXTURE);
  try {
    const kinds = new Set(tree.rootNode.descendantsOfType([...INDEXED_KINDS]).map((n) => n!.type));
    // tree-sitter-c 0.24 has no typeof_specifier (`typeof(x)` is a macro_type_specifier).
    for (const k of INDEXED_KINDS) if (tree.language.types.includes(k)) assert.ok(kinds.has(k), `fixture has no ${k}`);
    assert.ok(kinds.size >= INDEXED_KINDS.length - 1);
    const inError = tree.rootNode.descendantsOfType('ERROR').flatMap((e) => e!.descendantsOfType([...INDEXED_KINDS]));
    assert.ok(inError.length >= 3, `indexed nodes inside ERROR: ${inError.length}`);
  } finally {
    tree.delete();
  }
});

test('the internals are in use (module reached, shape and self-check passed)', async () => {
  const tree = await parsed(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression');
    const s = wasmNodesStatus();
    assert.ok(s.available, `c/wasmNodes.ts not in use: ${s.why}`);
  } finally {
    tree.delete();
  }
});

test("the raw walk reads what web-tree-sitter's descendantsOfType and Node accessors read", async () => {
  const tree = await parsed(FIXTURE);
  try {
    const types = tree.language.types;
    const symbols = types.flatMap((name, sym) => (INDEXED_KINDS.includes(name) ? [sym] : []));
    const raw = descendantsRaw(tree, symbols);
    assert.ok(raw, 'descendantsRaw answered nothing');
    const pub = tree.rootNode.descendantsOfType([...INDEXED_KINDS]).map((n) => n!);
    assert.equal(raw.count, pub.length);
    for (let i = 0; i < pub.length; i++) {
      const n = pub[i]!;
      assert.deepEqual(
        [raw.ids[i], raw.starts[i], raw.rows[i], raw.columns[i], raw.ends[i], types[raw.symbols[i]!]],
        [n.id, n.startIndex, n.startPosition.row, n.startPosition.column, n.endIndex, n.type],
        `match ${i} (${n.type})`,
      );
      const made = makeNode(tree, raw, i);
      assert.ok(made instanceof Node);
      // web-tree-sitter's own fields, in its order (0 holds the alias its accessors marshal).
      assert.deepEqual(Object.keys(made), Object.keys(n));
      assert.equal((made as unknown as { [0]: number })[0], (n as unknown as { [0]: number })[0]);
      assert.equal(sig(made), sig(n));
      assert.deepEqual(made.startPosition, n.startPosition);
      assert.equal(made.text, n.text);
      assert.equal(made.parent?.id, n.parent?.id);
      assert.equal(made.childForFieldName('body')?.id, n.childForFieldName('body')?.id);
    }
  } finally {
    tree.delete();
  }
});

test('every indexed kind, on the root and on inner nodes, answers as descendantsOfType (kinds, spans, text, nodes)', async () => {
  const tree = await parsed(FIXTURE);
  try {
    const inner = [
      tree.rootNode,
      ...tree.rootNode.descendantsOfType(['function_definition', 'compound_statement', 'ERROR', 'struct_specifier']).map((n) => n!),
    ];
    const asks: (string | string[])[] = [...INDEXED_KINDS, [...INDEXED_KINDS], ['pointer_expression', 'field_expression'], ['identifier'], ['call_expression', 'ERROR']];
    for (const at of inner) {
      for (const kinds of asks) {
        const want = at.descendantsOfType(typeof kinds === 'string' ? [kinds] : kinds).map((n) => n!);
        const found = indexedNodesOf(at, kinds);
        assert.equal(found.length, want.length, `${String(kinds)} in ${sig(at)}`);
        for (let j = 0; j < want.length; j++) {
          const w = want[j]!;
          assert.equal(`${found.kind(j)}@${found.start(j)}-${found.end(j)}`, `${w.type}@${w.startIndex}-${w.endIndex}`);
          assert.equal(found.text(j), w.text);
          assert.equal(sig(found.node(j)), sig(w));
        }
        assert.deepEqual(nodesOf(at, kinds).map(sig), want.map(sig));
        const k = kindedNodesOf(at, kinds);
        assert.deepEqual(k.kinds, want.map((n) => n.type));
        assert.deepEqual(k.ends, want.map((n) => n.endIndex));
      }
    }
  } finally {
    tree.delete();
  }
});

test('a node is made once per tree: every answer gives the same object', async () => {
  const tree = await parsed(FIXTURE);
  try {
    const a = nodesOf(tree.rootNode, 'field_expression');
    const fn = nodesOf(tree.rootNode, 'function_definition')[2]!;
    const b = nodesOf(fn, 'field_expression');
    assert.ok(b.length > 0);
    for (const n of b) assert.ok(a.includes(n), `${sig(n)} was made twice`);
  } finally {
    tree.delete();
  }
});

test('a tree parsed from a callback (no remembered text) still gives each node its text', async () => {
  const parser = await parserP;
  const src = 'int f(void) { return readl(p->base); }';
  const tree = parser.parseAt(src, 100, { row: 3, column: 0 });
  try {
    const found = indexedNodesOf(tree.rootNode, 'call_expression');
    assert.equal(found.length, 1);
    assert.equal(found.text(0), 'readl(p->base)');
    assert.equal(found.start(0), 100 + src.indexOf('readl'));
  } finally {
    tree.delete();
  }
});

test("a field child read as numbers is what childForFieldName answers (kind, span, text), or null alike", async () => {
  const tree = await parsed(FIXTURE);
  try {
    const fields = ['function', 'arguments', 'left', 'right', 'operator', 'declarator', 'value', 'body', 'type', 'name', 'argument', 'field', 'index', 'parameters', 'nonexistent_field'];
    const found = indexedNodesOf(tree.rootNode, [...INDEXED_KINDS]);
    let children = 0;
    for (let j = 0; j < found.length; j++) {
      for (const f of fields) {
        const want = found.node(j).childForFieldName(f);
        const got = found.fieldChild(j, f);
        assert.deepEqual(got, want && { kind: want.type, start: want.startIndex, end: want.endIndex, text: want.text }, `${f} of ${found.kind(j)}@${found.start(j)}`);
        if (want) children++;
      }
    }
    assert.ok(children > 100, `only ${children} field children compared`);
  } finally {
    tree.delete();
  }
});

test("a Node's field child read as numbers (fieldChildOf) is what childForFieldName answers", async () => {
  const tree = await parsed(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression'); // the first walk of the process verifies the internals
    // ERROR asked apart: web-tree-sitter 0.25.10 puts its symbol (65535) first in a
    // list its WASM side searches as sorted, and then finds only ERROR nodes.
    const all = [
      ...tree.rootNode.descendantsOfType(['call_expression', 'assignment_expression', 'init_declarator', 'field_expression', 'declaration']),
      ...tree.rootNode.descendantsOfType('ERROR'),
    ].map((n) => n!);
    let children = 0;
    for (const n of all) {
      for (const f of ['function', 'arguments', 'left', 'right', 'declarator', 'value', 'argument', 'field', 'type', 'nonexistent_field']) {
        const want = n.childForFieldName(f);
        assert.deepEqual(fieldChildOf(n, f), want && { kind: want.type, start: want.startIndex, end: want.endIndex, text: want.text }, `${f} of ${sig(n)}`);
        if (want) children++;
      }
    }
    assert.ok(children > 50, `only ${children} field children compared of ${all.length} nodes`);
    // A tree whose text is not remembered (a callback parse) asks the public API.
    const parser = await parserP;
    const cb = parser.parseAt('void f(void) { readl(x); }', 40, { row: 2, column: 0 });
    try {
      const call = cb.rootNode.descendantsOfType('call_expression')[0]!;
      assert.deepEqual(fieldChildOf(call, 'function'), { kind: 'identifier', start: call.startIndex, end: call.startIndex + 5, text: 'readl' });
    } finally {
      cb.delete();
    }
  } finally {
    tree.delete();
  }
});
