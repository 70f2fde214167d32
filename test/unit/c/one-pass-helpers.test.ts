// The shortcuts the analyses take past WASM (BENCHMARKS.md "One pass per tree"):
// each must answer what the slower way answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CParser } from '../../../server/src/c/parser';
import { C_WORD_RE, someWord } from '../../../server/src/c/syntax';
import { isUnevaluated } from '../../../server/src/c/iomem';
import { kindedNodesOf, mayBeInside, nodesOf } from '../../../server/src/c/nodeIndex';
import { withTree } from './helpers';

const wordsByRegex = (text: string) => [...text.matchAll(C_WORD_RE)].map((m) => m[0]);
const wordsByScan = (text: string) => {
  const out: string[] = [];
  someWord(text, (w) => {
    out.push(w);
    return false;
  });
  return out;
};

test('someWord reads the words C_WORD_RE matches, in order, ASCII or not', () => {
  const samples = [
    'readl(d->base + 0x1f) | $x9 * _y_ - 9abc + a9b',
    'p->régs[i] = 0',
    'a\\u00e9b + \\U0001F600x + c',
    'x𝔘y + z',
    '', '0x', '__iomem', 'a.b->c', '#define A(x) x##1',
  ];
  const alphabet = 'ab_$Z09 ->.()x\t\n\\ué';
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 500; i++) {
    let t = '';
    const len = Math.floor(rnd() * 24);
    for (let j = 0; j < len; j++) t += alphabet[Math.floor(rnd() * alphabet.length)];
    samples.push(t);
  }
  for (const s of samples) assert.deepEqual(wordsByScan(s), wordsByRegex(s), JSON.stringify(s));
});

test('someWord stops at the first word its visitor takes', () => {
  const seen: string[] = [];
  assert.equal(someWord('a b c d', (w) => (seen.push(w), w === 'b')), true);
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(someWord('a b', () => false), false);
});

test('kindedNodesOf gives each node its end, and mayBeInside never misses a sizeof/typeof ancestor', async () => {
  const parser = await CParser.create();
  const src = [
    'int f(int *p, struct s *q) {',
    '  int a = sizeof(*p) + *p;',
    '  typeof(q->x) b = q->x;',
    '  return sizeof(struct s) + q->y[1] + (int)sizeof q->z;',
    '}',
    'int g = sizeof(int);',
  ].join('\n');
  withTree(parser, src, (root) => {
    const k = kindedNodesOf(root, ['pointer_expression', 'field_expression', 'subscript_expression']);
    assert.ok(k.nodes.length >= 6);
    k.nodes.forEach((n, i) => {
      assert.equal(k.ends[i], n.endIndex);
      assert.equal(k.kinds[i], n.type);
    });
    let inside = 0;
    for (const n of k.nodes) {
      // The climb the shortcut stands for: any sizeof/typeof ancestor.
      let climbed = false;
      for (let p = n.parent; p; p = p.parent) if (/^(sizeof_expression|typeof_specifier|macro_type_specifier)$/.test(p.type)) climbed = true;
      if (climbed) {
        inside++;
        assert.equal(mayBeInside(n, ['sizeof_expression', 'alignof_expression', 'offsetof_expression', 'typeof_specifier', 'macro_type_specifier']), true, n.text);
      }
    }
    assert.ok(inside >= 2, 'the fixture has dereferences inside sizeof');
    // Outside every sizeof: answered "no" without a climb, and isUnevaluated agrees.
    const outside = k.nodes.filter((n) => n.text === '*p' && n.startIndex > src.indexOf(') + *p') - 1);
    assert.equal(outside.length, 1);
    assert.equal(mayBeInside(outside[0]!, ['sizeof_expression']), false);
    assert.equal(isUnevaluated(outside[0]!), false);
    for (const n of k.nodes) {
      if (!n.text.startsWith('*p') && !n.text.startsWith('q->')) continue;
      let expected = false;
      for (let p = n.parent; p; p = p.parent) {
        if (/^(sizeof_expression|alignof_expression|offsetof_expression|typeof_specifier|macro_type_specifier)$/.test(p.type)) { expected = true; break; }
        if (p.type === 'function_definition' || p.type === 'compound_statement') break;
      }
      assert.equal(isUnevaluated(n), expected, n.text);
    }
    assert.ok(nodesOf(root, 'sizeof_expression').length >= 3);
  });
});

test('ranges from the line starts are the ranges tree-sitter gives (tabs, CRLF, non-ASCII, astral characters)', async () => {
  const parser = await CParser.create();
  const src = [
    '/* é 𝔘 */ static int f(void *régs)\r',
    '{\r',
    '\tu32 v = readl(régs + 0x10); /* 😀 */ writel(v, régs);\r',
    '\t*(u32 *)régs = "𝔘𝔘" [0] + v;\r',
    '\treturn v;\r',
    '}\r',
    '',
  ].join('\n');
  const { lineStarts, rangeAt } = await import('../../../server/src/c/errorRegions');
  const { rangeOf } = await import('../../../server/src/c/syntax');
  withTree(parser, src, (root) => {
    const starts = lineStarts(src);
    const k = kindedNodesOf(root, ['call_expression', 'pointer_expression', 'subscript_expression', 'init_declarator']);
    assert.equal(k.nodes.length, 5);
    k.nodes.forEach((n, i) => assert.deepEqual(rangeAt(starts, n.startIndex, k.ends[i]!), rangeOf(n), n.text));
  });
});

test('nodesOf answers what descendantsOfType answers, for any node and any set of indexed kinds, asked in any order', async () => {
  const parser = await CParser.create();
  const { generate } = await import('../../bench/bigfile');
  const src = generate(12_000);
  withTree(parser, src, (root) => {
    const sets: (string | string[])[] = [
      'call_expression', 'declaration', ['init_declarator', 'assignment_expression'],
      ['pointer_expression', 'subscript_expression', 'field_expression'], ['struct_specifier', 'declaration', 'call_expression'],
    ];
    const ids = (ns: (import('web-tree-sitter').Node | null)[]) => ns.map((n) => n!.id);
    // Asked of the root first and of sub-nodes later, then the other way round (each set's selection is built on first use).
    const subjects = [root, ...root.descendantsOfType(['function_definition', 'compound_statement', 'struct_specifier']).slice(0, 40).map((n) => n!)];
    for (const order of [subjects, [...subjects].reverse()]) {
      for (const n of order) {
        for (const kinds of sets) {
          const k = kindedNodesOf(n, kinds);
          assert.deepEqual(ids(k.nodes), ids(n.descendantsOfType(typeof kinds === 'string' ? [kinds] : kinds)), `${n.type} ${String(kinds)}`);
          k.nodes.forEach((x, i) => assert.equal(k.ends[i], x.endIndex));
        }
      }
    }
  });
});
