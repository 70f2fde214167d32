// nodeIndex.ts's fieldText: `node.childForFieldName(field)?.text` read without
// making the child's Node (an operator's or a field name's text is all most of the
// analyses' child reads want). It must answer what the public API answers, for
// every node and field, on a tree whose text is remembered (the direct WASM path)
// and on one parsed from a callback (the public API path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Node, type Tree } from 'web-tree-sitter';
import { CParser } from '../../../server/src/c/parser';
import { fieldText, nodesOf } from '../../../server/src/c/nodeIndex';

const FIXTURE = `/* é 𝔘 — non-ASCII first */
#define RD(p, o) readl((p)->base + (o))
struct dev { void __iomem *base; struct regs *r; };
int probe(struct dev *d, int *v) {
  int x = RD(d, 4), y[4];
  y[0] = *v = d->r->ctrl[2];
  x += rd(d, (int)sizeof(*d)) /* c */ ;
  x |= -x & ~*&x;
  d -> base [1] = !x ? x : x++;
  if (x) return f(g(x), y[x & 3]);
  return *&x;
}
int broken(struct dev *d) { x = = readl(d->base) + ; return ioread32(d->base +) ) ; }
`;

function allNodes(tree: Tree): Node[] {
  const out: Node[] = [];
  const visit = (n: Node) => {
    out.push(n);
    for (const c of n.children) if (c) visit(c);
  };
  visit(tree.rootNode);
  return out;
}

function check(tree: Tree): number {
  const fields = [...tree.language.fields.filter((f): f is string => !!f), 'no_such_field'];
  let found = 0;
  for (const n of allNodes(tree)) {
    for (const f of fields) {
      const want = n.childForFieldName(f)?.text;
      assert.equal(fieldText(n, f), want, `${n.type}@${n.startIndex} .${f}`);
      if (want !== undefined) found++;
    }
  }
  return found;
}

test('fieldText answers childForFieldName(...)?.text on every node and field of a remembered tree, without making the child', async () => {
  const parser = await CParser.create();
  const tree = parser.parseOnce(FIXTURE);
  try {
    nodesOf(tree.rootNode, 'call_expression'); // the first walk turns the internals on
    assert.ok(check(tree) > 100);
    // The direct path makes no Node: with childForFieldName and childForFieldId
    // refusing, the answers still come.
    const proto = Node.prototype as unknown as Record<string, unknown>;
    const saved = ['childForFieldName', 'childForFieldId'].map((k) => [k, Object.getOwnPropertyDescriptor(proto, k)!] as const);
    for (const [k, d] of saved) Object.defineProperty(proto, k, { ...d, value: () => { throw new Error(`${k} called`); } });
    try {
      const ops = nodesOf(tree.rootNode, ['assignment_expression', 'field_expression']).map((n) => fieldText(n, 'operator'));
      assert.deepEqual(ops, ['=', '=', '->', '->', '+=', '|=', '=', '->', '=', '->', '->']);
    } finally {
      for (const [k, d] of saved) Object.defineProperty(proto, k, d);
    }
  } finally {
    tree.delete();
  }
});

test('fieldText on a tree parsed from a callback (no remembered text) answers through the public API', async () => {
  const parser = await CParser.create();
  const tree = parser.parseAt(FIXTURE, 40, { row: 3, column: 0 });
  try {
    assert.ok(check(tree) > 100);
  } finally {
    tree.delete();
  }
});
