// The fast Node accessors of c/wasmNodes.ts: installed on Node.prototype after the
// process's first walk passes its checks, they must answer exactly what
// web-tree-sitter's own accessors answer (kinds, ends, end positions, parents,
// children, field children), on every node of a tree with ERROR nodes, non-ASCII
// text and macros, and must step aside when the internals are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Node, type Tree } from 'web-tree-sitter';
import { CParser } from '../../../server/src/c/parser';
import { nodesOf } from '../../../server/src/c/nodeIndex';
import { FAST_ACCESSORS, fastAccessorsStatus, registerModule, setFastAccessors } from '../../../server/src/c/wasmNodes';

const FIXTURE = `/* é 𝔘 — non-ASCII first */
#define RD(p, o) readl((p)->base + (o))
#define WR(p, o, v) do { writel((v), (p)->base + (o)); } while (0)
typedef struct regs { u32 __iomem *ctrl; union { int a; char b; } u; } regs_t;
struct dev { void __iomem *base; struct regs *r; int (*cb)(int); };
static int g = sizeof(struct dev) + offsetof(struct dev, base);
static inline u32 rd(struct dev *d, int o) { return readl(d->base + o); }
int probe(struct dev *d, int *v) {
  int x = RD(d, 4), y[4];
  y[0] = *v = d->r->ctrl[2];
  x += rd(d, (int)sizeof(*d)) /* comment */ ;
  for (int i = 0; i < 3; i++) x |= i ? x & 1 : -x;
  switch (x) { case 1: x++; break; default: WR(d, 8, x); }
  if (x) return f(g(x), y[x & 3]);
  return *&x;
}
int broken(struct dev *d) {
  x = = readl(d->base) + ;
  return ioread32(d->base +) ) ;
}
void g(void) { if (x { y = readl(p->b); z[1] = 2; }
`;

const parserP = CParser.create();

/** A node as the transfer buffer carries it (what two answers must share). */
const ident = (n: Node | null | undefined) =>
  n ? `${n.id}:${n.startIndex}:${n.startPosition.row}/${n.startPosition.column}:${(n as unknown as { [0]: number })[0]}` : 'null';

/** Every node of the tree, through `children` (each a fresh list per call). */
function allNodes(tree: Tree): Node[] {
  const out: Node[] = [];
  const visit = (n: Node) => {
    out.push(n);
    for (const c of n.children) if (c) visit(c);
  };
  visit(tree.rootNode);
  return out;
}

/** What every replaced accessor answers on `n` (its lists asked of a fresh copy: they are cached on the node). */
function answers(tree: Tree, n: Node, again: () => Node): string[] {
  const out: string[] = [];
  out.push(`typeId ${n.typeId}`, `type ${n.type}`, `endIndex ${n.endIndex}`, `endPosition ${JSON.stringify(n.endPosition)}`);
  out.push(`text ${n.text}`, `parent ${ident(n.parent)}`, `childCount ${n.childCount}`, `namedChildCount ${n.namedChildCount}`);
  for (const i of [-1, 0, 1, 2, n.childCount - 1, n.childCount, 1000]) out.push(`child(${i}) ${ident(n.child(i))}`, `namedChild(${i}) ${ident(n.namedChild(i))}`);
  out.push(`children ${again().children.map(ident).join(',')}`, `namedChildren ${again().namedChildren.map(ident).join(',')}`);
  const fields = tree.language.fields;
  for (let f = 0; f < fields.length; f++) {
    const name = fields[f];
    if (name) out.push(`field ${name} ${ident(n.childForFieldName(name))} ${n.childrenForFieldName(name).map(ident).join(',')} ${ident(n.childForFieldId(f))}`);
  }
  out.push(`field none ${ident(n.childForFieldName('no_such_field'))} ${n.childrenForFieldName('no_such_field').length}`);
  return out;
}

test('the fast accessors are installed after the first walk passes its checks', async () => {
  const tree = (await parserP).parseOnce(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression');
    const s = fastAccessorsStatus();
    assert.ok(s.installed, `fast accessors not installed: ${s.why}`);
    for (const name of FAST_ACCESSORS) {
      const d = Object.getOwnPropertyDescriptor(Node.prototype, name)!;
      assert.ok(!String(d.get ?? d.value).includes('marshalNode'), `${name} is still web-tree-sitter's`);
    }
  } finally {
    tree.delete();
  }
});

test("every fast accessor answers what web-tree-sitter's answers, on every node of the fixture", async () => {
  const tree = (await parserP).parseOnce(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression');
    assert.ok(setFastAccessors(true));
    const fast = allNodes(tree);
    const fastAnswers = fast.map((n) => answers(tree, n, () => copy(n)));
    assert.equal(setFastAccessors(false), false);
    const slow = allNodes(tree);
    assert.equal(fast.length, slow.length);
    assert.ok(fast.length > 300, `fixture has ${fast.length} nodes`);
    assert.ok(slow.some((n) => n.type === 'ERROR'));
    for (let i = 0; i < slow.length; i++) {
      assert.equal(ident(fast[i]), ident(slow[i]), `node ${i}`);
      // The fast Node has web-tree-sitter's own fields, in its order.
      assert.ok(fast[i] instanceof Node);
      assert.deepEqual(Object.keys(fast[i]!), Object.keys(slow[i]!));
      assert.deepEqual(fastAnswers[i], answers(tree, slow[i]!, () => copy(slow[i]!)), `node ${i} (${slow[i]!.type})`);
    }
  } finally {
    setFastAccessors(true);
    tree.delete();
  }
});

/** A fresh Node of the same node (its `children` cache empty), made by web-tree-sitter. */
function copy(n: Node): Node {
  const p = n.parent;
  if (!p) return n.tree.rootNode;
  for (const c of p.children) if (c && c.id === n.id) return p.child(p.children.indexOf(c))!;
  throw new Error('child not found under its parent');
}

test('putting the originals back restores web-tree-sitter\'s descriptors, and installing again works', async () => {
  const tree = (await parserP).parseOnce(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression');
    setFastAccessors(false);
    for (const name of FAST_ACCESSORS) {
      const d = Object.getOwnPropertyDescriptor(Node.prototype, name)!;
      assert.ok(String(d.get ?? d.value).includes('marshalNode') || name.startsWith('childFor') || name.startsWith('childrenFor'), `${name} not restored`);
    }
    assert.equal(fastAccessorsStatus().installed, false);
    assert.ok(setFastAccessors(true));
    assert.ok(fastAccessorsStatus().installed);
  } finally {
    tree.delete();
  }
});

test('when the internals are refused the originals are back, and nodes still answer', async () => {
  const parser = await parserP;
  const tree = parser.parseOnce(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression');
    assert.ok(fastAccessorsStatus().installed);
    const before = tree.rootNode.descendantsOfType('call_expression').map((n) => `${n!.type}@${n!.startIndex}-${n!.endIndex}:${n!.childForFieldName('function')?.text}`);
    registerModule({ locateFile: () => '' });
    assert.equal(fastAccessorsStatus().installed, false);
    assert.ok(String(Object.getOwnPropertyDescriptor(Node.prototype, 'endIndex')!.get).includes('marshalNode'));
    const after = tree.rootNode.descendantsOfType('call_expression').map((n) => `${n!.type}@${n!.startIndex}-${n!.endIndex}:${n!.childForFieldName('function')?.text}`);
    assert.deepEqual(after, before);
  } finally {
    tree.delete();
  }
});
