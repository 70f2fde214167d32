// iomem.ts collectDeclarations: the plain field names (the plain twins of __iomem field
// names) are read as numbers for a declaration of one bare name (`int irq;`, `int f : 3;`)
// and through the declarators' Nodes otherwise. Both must give what the declarators'
// names give (declaredName of each `declarator` child), in document order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'web-tree-sitter';
import { CParser } from '../../../server/src/c/parser';
import { collectDeclarations, LocalScopes } from '../../../server/src/c/iomem';
import { collectFunctions } from '../../../server/src/c/functions';
import { emptyKnowledge } from '../../../server/src/c/knowledge';
import { declaredName } from '../../../server/src/c/syntax';
import { mulberry32 } from '../../fuzz/prng';

const SHAPES = [
  'int irq;', 'unsigned long flags ;', 'int a : 3;', 'u8 b:1 ;', 'int a, b;', 'int a,b,c;', 'int *p;', 'char name[32];',
  'int a __attribute__((aligned(8)));', 'int a /* c */;', 'void (*fn)(int, int);', 'struct { int x; int y, z; } s;',
  'union { u32 w; u16 h[2]; };', 'int a : WIDTH;', 'int a b;', 'int;', 'struct inner *next, *prev;', 'u32 r __aligned(4);',
  'int é;', 'long q; ', 'int a\n\t:\t2;',
];

/** What the declarators' Nodes name, for every field declaration outside `skip`, in order. */
function byNodes(root: Node, skip: (d: Node) => boolean): string[] {
  const out: string[] = [];
  for (const decl of root.descendantsOfType('field_declaration')) {
    if (!decl || skip(decl)) continue;
    for (const d of decl.childrenForFieldName('declarator')) {
      const named = d && declaredName(d);
      if (named) out.push(named.name);
    }
  }
  return out;
}

test('plain field names, read as numbers or through Nodes, are what the declarators name, in order', async () => {
  const parser = await CParser.create();
  const rand = mulberry32(51);
  let fast = 0;
  for (let k = 0; k < 60; k++) {
    const structs: string[] = [];
    for (let s = 0; s < 4; s++) {
      const fields = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => '\t' + SHAPES[Math.floor(rand() * SHAPES.length)]!);
      // One __iomem field in the first struct puts the pass in play.
      if (s === 0) fields.splice(Math.floor(rand() * fields.length), 0, '\tvoid __iomem *base;');
      structs.push(`struct s${k}_${s} {\n${fields.join('\n')}\n};`);
    }
    const text = structs.join('\n') + '\nint f(void) { return 0; }\n';
    const parsed = parser.parse(undefined, text);
    try {
      const root = parsed.tree.rootNode;
      const defs = collectFunctions(root, parsed.prepared.annotations);
      const kn = emptyKnowledge();
      collectDeclarations(parsed.tree, parsed.prepared.iomem, '/t/f.c', defs, kn, new LocalScopes(root, text));
      // The __iomem declaration's own record adds nothing plain (one declarator, __iomem).
      const expected = [...new Set(byNodes(root, (d) => text.slice(d.startIndex, d.endIndex).includes('__iomem')))];
      assert.deepEqual([...kn.plainFields], expected, text);
      assert.deepEqual([...kn.fields.keys()], ['base']);
      fast += (text.match(/\t(?:int irq|unsigned long flags |int a : 3|u8 b:1 |long q)/g) ?? []).length;
    } finally {
      parsed.tree.delete();
    }
  }
  assert.ok(fast > 50, `${fast} one-name fields`);
});
