// The annotation rewrite's cheap first questions (c/rewriteWords.ts) against the slow
// tests they stand before: each may say "no" only where the slow test says no.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { functionMacroNames, isCaps, mayStartOperatorArg, mayStartStringTail, maySpace, REWRITE_WORD, WordFilter } from '../../../server/src/c/rewriteWords';
import { prepare } from '../../../server/src/c/annotations';
import { wordHash } from '../../../server/src/c/words';
import { xorshift32 } from '../../fuzz/prng';

/** A deterministic generator, so a failure is reproducible. */
const rng = xorshift32;

function randomText(r: () => number, alphabet: string[], max: number): string {
  let s = '';
  const n = Math.floor(r() * max);
  for (let k = 0; k < n; k++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

test('isCaps is /^[A-Z][A-Z0-9_]*[A-Z0-9]$/', () => {
  const re = /^[A-Z][A-Z0-9_]*[A-Z0-9]$/;
  const r = rng(7);
  const alphabet = ['A', 'Z', 'M', '0', '9', '5', '_', 'a', 'z', '$', 'É', '@'];
  for (const w of ['', 'A', 'AB', 'A_', 'A_B', 'A0', '_A', 'Ab', 'ABC_DEF1', 'X__', 'DEF_', '0A']) assert.equal(isCaps(w), re.test(w), w);
  for (let k = 0; k < 20000; k++) {
    const w = randomText(r, alphabet, 8);
    assert.equal(isCaps(w), re.test(w), JSON.stringify(w));
  }
});

test('mayStartStringTail is true wherever the string-prefix regex matches', () => {
  const re = /^(?:\s+[A-Z][A-Z0-9_]*)*\s*(?:"|(?:pr_fmt|__stringify)\s*\()/;
  const r = rng(11);
  const alphabet = [' ', ' ', '\t', '\n', '\u00a0', '\u2028', '"', 'pr_fmt', '__stringify', '(', 'KERN_ERR', 'X', 'p', '_', 'a', ')', ',', ';', '1'];
  let matched = 0;
  for (let k = 0; k < 40000; k++) {
    const s = randomText(r, alphabet, 7);
    const at = Math.floor(r() * 3);
    const src = 'x'.repeat(at) + s;
    const limit = 1 + Math.floor(r() * 40);
    const m = re.test(src.slice(at, at + limit));
    if (m) matched++;
    if (m) assert.ok(mayStartStringTail(src, at, limit), JSON.stringify([src, at, limit]));
  }
  assert.ok(matched > 1000, 'the regex matched often enough to test the gate');
  assert.ok(!mayStartStringTail('X(a)', 1, 200) && !mayStartStringTail('X, "s"', 1, 200) && !mayStartStringTail('X  ', 1, 200));
});

test('maySpace holds every code unit \\s matches', () => {
  for (let c = 0; c < 65536; c++) if (/\s/.test(String.fromCharCode(c))) assert.ok(maySpace(c), `U+${c.toString(16)}`);
  assert.ok(!maySpace(65) && !maySpace(44));
});

test('REWRITE_WORD is [A-Za-z_] to start a word and [A-Za-z0-9_] to go on', () => {
  for (let c = 0; c < 65536; c++) {
    const ch = String.fromCharCode(c);
    assert.equal(REWRITE_WORD[c] === 1, /[A-Za-z_]/.test(ch), `U+${c.toString(16)}`);
    assert.equal(REWRITE_WORD[c] !== 0, /\w/.test(ch), `U+${c.toString(16)}`);
  }
});

test('a WordFilter holds the hash of every word added', () => {
  const f = new WordFilter();
  const words: string[] = [];
  const r = rng(3);
  for (let k = 0; k < 500; k++) words.push(randomText(r, ['a', 'b', '_', 'Z', '1', 'q'], 12) || 'w');
  for (const w of words) f.add(w);
  for (const w of words) assert.ok(f.mayHold(wordHash(w)), w);
  let set = 0;
  for (let k = 0; k < 10000; k++) if (f.mayHold(wordHash(`zz${k}`))) set++;
  assert.ok(set < 2000, `most other words are not held (${set} of 10000)`);
});

test("the rewrite still finds the words of each of its sets (the filter before their lookups)", () => {
  // A bare annotation, one with arguments, a type argument, a word that opens no call,
  // a keyword that starts no statement macro, and one in a #define body.
  const src = [
    'static int __iomem *base;',
    'int f(void) __attribute__((unused));',
    'void g(struct list_head *p) { struct item *it = container_of(p, struct item, node); }',
    'void h(int x) {\n\tif (x)\n\t\treturn;\n\tsizeof (x) y;\n}',
    '#define R(x) ((u32 __force)(x))',
  ].join('\n');
  const p = prepare(src);
  const names = p.annotations.map((a) => a.name);
  assert.ok(names.includes('__iomem') && names.includes('__attribute__') && names.includes('__force'), names.join(','));
  assert.match(p.text, /container_of\(p, 0 {10}, node\)/);
  assert.deepEqual(p.iomem, [src.indexOf('__iomem')]);
  // `if (x)` then `return`: no statement macro made of a keyword.
  assert.ok(!names.includes('statement macro'), names.join(','));
});

test('mayStartOperatorArg is true wherever the operator-argument regex matches', () => {
  const re = /^(?:==|!=|>=|<=|&&|\|\||[<>+\-\/%&|^])(?=[ \t]*[,)])/;
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    for (const rest of [',', ')', ' ,', '= )', '=,', '&,', '|)', '< ,', 'x,']) {
      if (re.test(ch + rest)) assert.ok(mayStartOperatorArg(c), JSON.stringify(ch + rest));
    }
  }
  assert.ok(!mayStartOperatorArg(42 /* * */) && !mayStartOperatorArg(40 /* ( */) && !mayStartOperatorArg(126 /* ~ */));
});

test("functionMacroNames is the define regex's names", () => {
  const names = (s: string) => new Set([...s.matchAll(/#[ \t]*define[ \t]+([A-Za-z_]\w*)\(/g)].map((m) => m[1]!));
  const r = rng(23);
  // Each part a near-miss or a hit of the pattern, piece by piece.
  const pieces = [['#', '# ', '#\t', '##', 'x#', ''], ['define', 'defin', 'undefine'], [' ', '\t', ' \t', '', '\n'], ['A', 'b_2', '_x', '9a', 'é', ''], ['(', ' (', 'x(', '', ')'], ['', '\n', '\\\n', ' ']];
  const pick = (xs: string[]) => xs[Math.floor(r() * xs.length)]!;
  let found = 0;
  for (let k = 0; k < 30000; k++) {
    let s = '';
    for (let p = 1 + Math.floor(r() * 4); p > 0; p--) for (const xs of pieces) s += pick(xs);
    const want = names(s);
    found += want.size;
    assert.deepEqual(functionMacroNames(s), want, JSON.stringify(s));
  }
  assert.ok(found > 500, 'the regex matched often enough to test the scan');
  assert.deepEqual([...functionMacroNames('#define A(x) x\n# \tdefine\tB_1(y)\n#define C 1\n#definex D(\ndefine E(\n##define F(')].sort(), ['A', 'B_1', 'F']);
});
