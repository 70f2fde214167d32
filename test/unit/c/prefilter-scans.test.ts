// The pre-filter's fast paths (BENCHMARKS.md "The pre-filter's reads and header
// walk"): each must answer exactly what the slower way it replaced answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { C_MEMBER_OR_WORD_RE, namesMemberOrWord, scanMembersAndWords } from '../../../server/src/c/syntax';
import { wordHash } from '../../../server/src/c/words';
import { WordSet } from '../../../server/src/c/wordSet';
import { mulberry32, piecesText } from '../../fuzz/prng';
import { hasIncludeLine, namesSite } from '../../../server/src/audit/sources';
import { HeaderIndex, type WordQuery } from '../../../server/src/c/headerIndex';
import { emptyKnowledge, type Knowledge } from '../../../server/src/c/knowledge';
import { includeDirectives, kernelContext } from '../../../server/src/c/includePath';
import { CATALOGUE, CATALOGUE_NAMES_RE, MAPPING_APIS, MAPPING_NAMES_RE } from '../../../server/src/c/catalogue';

/** What namesMemberOrWord answered before its plain scan: the regex over every word. */
function byRegex(text: string, plain: (w: string) => boolean, member: (w: string) => boolean): boolean {
  for (const m of text.matchAll(C_MEMBER_OR_WORD_RE)) if (m[1] ? member(m[2]!) : plain(m[2]!)) return true;
  return false;
}

/** Every word the scan hands each side, in order. */
function seen(f: typeof namesMemberOrWord, text: string): string[] {
  const out: string[] = [];
  f(text, (w) => (out.push(`w:${w}`), false), (w) => (out.push(`m:${w}`), false));
  return out;
}

test('namesMemberOrWord reads plain and member words as C_MEMBER_OR_WORD_RE does', () => {
  const samples = [
    'p->regs + q . base + r.\n\tx - > y -->z a.5b 1.e3 .x ->->y',
    'readl(d->base + 0x1f) | $x9 * _y_ - 9abc + a9b',
    '#define W(x) \\\n\twritel(x, p->\\\nio)',
    'p->régs[i] = 0',
    'a\\u00e9b + p->\\U0001F600x + c',
    'x𝔘y + s.z',
    '', '.', '->', '-', '>', 'a.', '.a', '- >a', '\v.\f\rb',
    'a->b.c é x->y', 'p->q\u00a0.r s', 'ab\\u00e9 c.d', 'x.y\u2028->z',
  ];
  const alphabet = 'ab_$Z09 ->.()x\t\n\v\f\r\\uUé';
  const rnd = mulberry32(15);
  for (let i = 0; i < 3000; i++) {
    let t = '';
    const len = Math.floor(rnd() * 28);
    for (let j = 0; j < len; j++) t += alphabet[Math.floor(rnd() * alphabet.length)];
    samples.push(t);
  }
  for (const s of samples) {
    const want = seen(byRegex, s);
    assert.deepEqual(seen(namesMemberOrWord, s), want, JSON.stringify(s));
    // The scan under it gives each word's place and hash.
    const got: string[] = [];
    scanMembersAndWords(s, (a, b, h, m) => {
      assert.equal(h, wordHash(s.slice(a, b)), JSON.stringify(s));
      got.push(`${m ? 'm' : 'w'}:${s.slice(a, b)}`);
      return false;
    });
    assert.deepEqual(got, want, JSON.stringify(s));
  }
  // And it stops at the first word taken.
  const order: string[] = [];
  assert.equal(namesMemberOrWord('a b->c d', (w) => (order.push(w), false), (w) => (order.push(w), w === 'c')), true);
  assert.deepEqual(order, ['a', 'b', 'c']);
});

test('namesSite (one regex) answers what its three tests answered', () => {
  const old = (t: string) => CATALOGUE_NAMES_RE.test(t) || t.includes('__iomem') || MAPPING_NAMES_RE.test(t);
  // Every catalogued and mapping name (memory-returning ones too, which do not count),
  // whole, cut, glued to word characters or not.
  const names = [...CATALOGUE.keys(), ...MAPPING_APIS.keys(), '__iomem', 'x__iomem_', 'inline', 'readlx'];
  const glue = ['', '', ' ', '(', '_', 'x', '9', '.', '->', '\n', 'é', '$'];
  const rnd = mulberry32(152);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  let yes = 0;
  for (let i = 0; i < 4000; i++) {
    let t = '';
    for (let k = Math.floor(rnd() * 3); k >= 0; k--) {
      let n = pick(names);
      if (rnd() < 0.3) n = n.slice(0, Math.max(1, Math.floor(rnd() * n.length)));
      t += pick(glue) + n + pick(glue);
    }
    const want = old(t);
    if (want) yes++;
    assert.equal(namesSite(t), want, JSON.stringify(t));
  }
  assert.ok(yes > 500 && yes < 3500, `both answers are exercised (${yes} of 4000 name something)`);
});

test('the header walk answers the pre-filter from the words it is asked, as the merged closure would', () => {
  // What each header declares, by a fake analysis: `wrap:` lines are wrappers, `glob:`
  // globals, `field:` __iomem fields.
  const analyse = (members: { text: string }[]): Knowledge => {
    const k = emptyKnowledge();
    for (const m of members)
      for (const [, kind, n] of m.text.matchAll(/^(wrap|glob|field):(\w+)$/gm)) {
        const d = { name: n!, struct: 's', file: '', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } } as never;
        if (kind === 'wrap') k.wrappers.set(n!, { name: n! } as never);
        else if (kind === 'glob') k.globals.set(n!, d);
        else k.fields.set(n!, [d]);
      }
    return k;
  };
  const files: Record<string, string> = {
    '/k/Makefile': 'VERSION = 6\nPATCHLEVEL = 1\n',
    '/k/include/linux/a.h': '#include <linux/b.h>\nwrap:rd_a\n',
    '/k/include/linux/b.h': 'glob:g_base\nfield:regs\n',
    '/k/include/linux/other.h': 'wrap:rd_other\nfield:other_regs\n',
  };
  const read = (p: string) => (files[p] !== undefined ? { text: files[p]! } : { why: 'no such file', missing: true });
  const ctx = kernelContext('/k');
  for (const snapshot of [false, true]) {
    const idx = new HeaderIndex(analyse, { snapshot });
    const asked: string[][][] = [];
    const ask = (plain: string[], member: string[]): WordQuery => (names) => {
      asked.push([[...names.callable].sort(), [...names.fields].sort()]);
      const p = new Set(plain.filter((w) => names.callable.has(w)));
      const m = new Set(member.filter((w) => names.fields.has(w)));
      return p.size || m.size ? { plain: p, member: m } : undefined;
    };
    const q = (plain: string[], member: string[]) =>
      idx.importsOf('/k/drivers/x.c', '#include <linux/a.h>\n', ctx, read, (p) => p, undefined, ask(plain, member)) !== undefined;
    // The index learns other.h's names through another file.
    assert.ok(idx.importsOf('/k/drivers/y.c', '#include <linux/other.h>\n', ctx, read, (p) => p, undefined, ask(['rd_other'], [])));
    assert.equal(q([], []), false, 'no word asked');
    assert.equal(q(['rd_other'], ['other_regs']), false, "another closure's names are not this one's");
    assert.equal(q(['regs'], ['rd_a', 'g_base']), false, 'a field named as a plain word, a wrapper or global after ->');
    assert.equal(q(['rd_a'], []), true, 'a wrapper of the included header');
    assert.equal(q(['g_base'], []), true, 'a global two includes down');
    assert.equal(q([], ['regs']), true, 'an __iomem field after -> or .');
    assert.deepEqual(asked.at(-1), [['g_base', 'rd_a', 'rd_other'], ['other_regs', 'regs']], 'asked against every name the index knows');
    // Passing gives the whole closure's imports, as without the question.
    const full = idx.importsOf('/k/drivers/x.c', '#include <linux/a.h>\n', ctx, read, (p) => p, undefined, ask(['rd_a'], []))!;
    assert.deepEqual([...full.knowledge.wrappers.keys(), ...full.knowledge.globals.keys(), ...full.knowledge.fields.keys()], ['rd_a', 'g_base', 'regs']);
  }
});

test('a WordSet answers has() as a Set does, and its filter never says no to a word it holds', () => {
  const ws = new WordSet();
  const plain = new Set<string>();
  const rnd = mulberry32(2026);
  const word = () => {
    let w = '';
    for (let n = 1 + Math.floor(rnd() * 12); n > 0; n--) w += 'abcdefghij_$XYZ0123'[Math.floor(rnd() * 19)];
    return w;
  };
  for (let i = 0; i < 20000; i++) {
    const w = word();
    ws.add(w);
    plain.add(w);
  }
  assert.equal(ws.size, plain.size);
  assert.deepEqual([...ws].sort(), [...plain].sort());
  let other = 0;
  let said = 0;
  for (let i = 0; i < 20000; i++) {
    const w = word() + 'q';
    assert.equal(ws.has(w), false);
    other++;
    if (ws.mayHave(wordHash(w))) said++;
  }
  for (const w of plain) assert.ok(ws.mayHave(wordHash(w)) && ws.has(w), w);
  assert.ok(said < other * 0.1, `the filter lets few other words through (${said} of ${other})`);
});

test('hasIncludeLine answers what /^[ \\t]*#[ \\t]*include/m answers', () => {
  const re = /^[ \t]*#[ \t]*include/m;
  const parts = ['#', 'include', 'includ', ' ', '\t', '\n', '\r', '\u2028', '\u2029', '\u0085', '\v', 'x', '#include', '/*', '"', 'e'];
  const rnd = mulberry32(1515);
  const samples = ['#include <a.h>', '  #  include', 'x #include', '#\tinclude', '# define include', '\r#include', '\u2028 #include', 'a\n\t#include_next', '##include', ''];
  for (let i = 0; i < 5000; i++) {
    samples.push(piecesText(rnd, parts, 9));
  }
  let yes = 0;
  for (const t of samples) {
    const want = re.test(t);
    if (want) yes++;
    assert.equal(hasIncludeLine(t), want, JSON.stringify(t));
  }
  assert.ok(yes > 300 && yes < samples.length - 300, `both answers are exercised (${yes})`);
});

test('includeDirectives finds what the include regex over the whole text found', () => {
  // The directives as read before (every position tried by the regex).
  const INCLUDE_RE = /^[ \t]*#[ \t]*include(_next)?[ \t]*(?:"([^"\n]+)"|<([^>\n]+)>|([A-Za-z_]\w*))/gm;
  const byRegex = (text: string) => {
    const out: { spec: string; kind: string; next: boolean; line: number }[] = [];
    let line = 0;
    let from = 0;
    for (const m of text.matchAll(INCLUDE_RE)) {
      for (let i = text.indexOf('\n', from); i >= 0 && i < m.index!; i = text.indexOf('\n', i + 1)) line++;
      from = m.index!;
      const next = !!m[1];
      if (m[2] !== undefined) out.push({ spec: m[2], kind: 'quote', next, line });
      else if (m[3] !== undefined) out.push({ spec: m[3], kind: 'angle', next, line });
      else out.push({ spec: m[4]!, kind: 'macro', next, line });
    }
    return out;
  };
  const parts = ['#', 'include', '_next', ' ', '\t', '\n', '\r', '\u2028', '"a.h"', '<b.h>', 'M_H', '"', '<', '>', 'x', '#include "c.h"', 'include"d.h"', '"e\u2028#include <f.h>"'];
  const rnd = mulberry32(3316);
  const samples = ['#include <a.h>\n  #  include_next "b.h"\n#include M\n', '#include "x\u2028#include <y.h>"\n#include <z.h>', '#include\n#include <a.h>'];
  for (let i = 0; i < 6000; i++) {
    samples.push(piecesText(rnd, parts, 12));
  }
  let found = 0;
  for (const t of samples) {
    const want = byRegex(t);
    found += want.length;
    assert.deepEqual(includeDirectives(t), want, JSON.stringify(t));
  }
  assert.ok(found > 1000, `directives are found (${found})`);
});
