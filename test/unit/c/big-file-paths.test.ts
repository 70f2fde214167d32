// The big-file fixes (BENCHMARKS.md, "The 21 MB file: quadratic paths"): each
// shortcut must answer what the scan it replaces answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepare } from '../../../server/src/c/annotations';
import { addField, emptyKnowledge, fieldIn, type IomemDecl } from '../../../server/src/c/knowledge';
import { CParser } from '../../../server/src/c/parser';
import { collectFunctions } from '../../../server/src/c/functions';
import { collectDeclarations, LocalScopes } from '../../../server/src/c/iomem';
import { kindedNodesOf } from '../../../server/src/c/nodeIndex';
import { withTree } from './helpers';

const ZERO = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const decl = (name: string, struct: string | undefined, file = 'a.h'): IomemDecl => ({ name, depth: 1, file, range: ZERO, ...(struct === undefined ? {} : { struct }) });

test('a one-line comment inside a #define body is blanked in every #define, whatever comments stand between them', () => {
  // The search for the next `/*` is remembered between #defines: a define before a
  // comment of plain code, one after it, one with two comments, one with a trailing
  // comment (left alone: nothing of the body follows it) and one after the last comment.
  const src = [
    '#define A 1',
    'int x; /* plain code */',
    '#define B(x) (x /* one */ + 1)',
    '#define C 2',
    '#define D(p) (p /* a */ + /* b */ 2)',
    '#define E 3 /* tail */',
    '#define F(q) (q + 4)',
    'int y; /* last */',
    '#define G(r) (r /* after */ - 1)',
    '',
  ].join('\n');
  const out = prepare(src).text;
  const line = (i: number) => out.split('\n')[i];
  assert.equal(line(1), 'int x; /* plain code */');
  assert.equal(line(2), '#define B(x) (x           + 1)');
  assert.equal(line(4), '#define D(p) (p         +         2)');
  assert.equal(line(5), '#define E 3 /* tail */');
  assert.equal(line(8), '#define G(r) (r             - 1)');
  assert.equal(out.length, src.length);
});

test('fieldIn answers as a scan of the list for the first declaration of a struct, short or long, as the list grows', () => {
  const scan = (list: IomemDecl[], s: string | undefined) => list.find((d) => d.struct === s);
  const k = emptyKnowledge();
  const structs = [undefined, 's0', 's1', 's2', 's0', 's3', undefined];
  for (let i = 0; i < 40; i++) structs.push(`t${i % 17}`);
  let n = 0;
  for (const s of structs) {
    addField(k, decl('base', s, `f${n++}.h`));
    const list = k.fields.get('base')!;
    // Every struct asked after every addition: the index is extended, never stale.
    for (const q of [undefined, 's0', 's3', 't0', 't16', 'none']) assert.equal(fieldIn(list, q), scan(list, q), `${q} after ${n}`);
  }
  // One declaration per struct, the first of each kept.
  const list = k.fields.get('base')!;
  assert.equal(list.length, new Set(structs).size);
  assert.equal(fieldIn(list, 's0')?.file, 'f1.h');
  assert.equal(fieldIn(list, undefined)?.file, 'f0.h');
});

test('a label at the end of a block becomes a statement, with blanks before its colon or not; other words followed by blanks are left', () => {
  const src = 'int f(int a)\n{\n\tif (a)\n\t\tgoto out;\n\ta = a ? 1 : 2;\nout:\n}\nint g(void)\n{\n\tx();\ndone \t :\n}\nint h(void)\n{\n\ty();\nerr:\n#ifdef X\n\tz();\n#endif\n\treturn 0;\n}\n';
  const out = prepare(src).text;
  assert.equal(out.split('\n')[5], 'out;');
  assert.equal(out.split('\n')[10], 'done \t ;');
  assert.equal(out.split('\n')[15], 'err;');
  assert.equal(out.split('\n')[4], '\ta = a ? 1 : 2;');
  assert.equal(out.length, src.length);
});

test('collectDeclarations: __iomem fields keep their struct, typedef and range; plain fields and declarators are only names', async () => {
  const src = [
    'struct a { void __iomem *base; u32 flags, *plain; u8 __iomem *x, *y; };',
    'typedef struct b_tag { int n; void __iomem *base; } B;',
    'typedef struct { char __iomem *win; long len; } C;',
    'struct d { u32 v __iomem; void __iomem *base, count; };',
    'static void __iomem *g = 0;',
    '',
  ].join('\n');
  const parser = await CParser.create();
  const parsed = parser.parse(undefined, src);
  try {
    const k = emptyKnowledge();
    const root = parsed.tree.rootNode;
    collectDeclarations(parsed.tree, parsed.prepared.iomem, 'f.c', collectFunctions(root, parsed.prepared.annotations), k, new LocalScopes(root, src));
    const show = (d: IomemDecl) => `${d.name}@${d.range.start.line}:${d.range.start.character}-${d.range.end.character} ${d.struct ?? '-'}${d.typedef ? `/${d.typedef}` : ''} depth ${d.depth}`;
    assert.deepEqual([...k.fields.values()].flat().map(show), [
      'base@0:25-29 a depth 1', 'base@1:44-48 b_tag/B depth 1', 'base@3:40-44 d depth 1',
      'x@0:62-63 a depth 1', 'y@0:66-67 a depth 1',
      'win@2:31-34 C depth 1',
    ]);
    assert.deepEqual([...k.plainFields].sort(), ['count', 'flags', 'len', 'n', 'plain', 'v']);
    assert.deepEqual([...k.globals.keys()], ['g']);
  } finally {
    parsed.tree.delete();
  }
});

test('the rewrite keeps every other code unit as it was: non-ASCII, astral and lone surrogates', () => {
  const src = 'static void __iomem *régs; /* \ud800 lone, \udc00 too, 😀 */\nint f(void) { return 0; }\n';
  const out = prepare(src).text;
  assert.equal(out, src.replace('__iomem', '       '));
});

test('kinds left out of the node index (parameter_declaration) are still answered, alone or beside indexed kinds', async () => {
  const parser = await CParser.create();
  const { generate } = await import('../../bench/bigfile');
  withTree(parser, generate(6_000), (root) => {
    const ids = (ns: ({ id: number } | null)[]) => ns.map((n) => n!.id);
    for (const n of [root, ...root.descendantsOfType('function_definition').map((x) => x!)]) {
      for (const kinds of [['parameter_declaration'], ['declaration', 'parameter_declaration'], ['parameter_declaration', 'call_expression']]) {
        const k = kindedNodesOf(n, kinds);
        const want = n.descendantsOfType(kinds);
        assert.ok(want.length > 0 || n !== root);
        assert.deepEqual(ids(k.nodes), ids(want), String(kinds));
        k.nodes.forEach((x, i) => {
          assert.equal(k.ends[i], x.endIndex);
          assert.equal(k.kinds[i], x.type);
        });
      }
    }
  });
});
