// c/words.ts: one read of a text's words must answer what scanning each span does
// (provenance reads every expression's words from the table instead of its text).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { C_WORD_RE, someWord } from '../../../server/src/c/syntax';
import { eachWord, WordTable } from '../../../server/src/c/words';
import { mulberry32 } from '../../fuzz/prng';

const byRegex = (text: string) => [...text.matchAll(C_WORD_RE)].map((m) => `${m.index}:${m[0]}`);
const byEachWord = (text: string, from = 0, to = text.length) => {
  const out: string[] = [];
  eachWord(text, from, to, (s, e) => out.push(`${s - from}:${text.slice(s, e)}`));
  return out;
};
const bySomeWord = (text: string) => {
  const out = new Set<string>();
  someWord(text, (w) => {
    out.add(w);
    return false;
  });
  return [...out];
};

/** Random text over characters that start, continue, break and escape words (surrogates too). */
function randomText(rand: () => number, length: number): string {
  const pieces = ['a', 'b', 'Z', '_', '$', '0', '9', ' ', '-', '>', '.', '(', ')', '"', '\n', '\\', 'u', '00e9', 'U0001F600', 'é', '𝔘', '\u0301', '\ud800', '\udc00', 'x', 'ab'];
  let s = '';
  while (s.length < length) s += pieces[Math.floor(rand() * pieces.length)]!;
  return s;
}

test('eachWord gives C_WORD_RE\'s matches, ASCII or not, and bounded at `to` as a slice would be', () => {
  const samples = ['readl(d->base + 0x1f) | $x9 * _y_', 'p->régs[i] = 0', 'a\\u00e9b + \\U0001F600x + c\\', 'x𝔘y + z', 'é\u0301a', '\\u00e', '"%s\\n", x', ''];
  const rand = mulberry32(15);
  for (let k = 0; k < 400; k++) samples.push(randomText(rand, 1 + Math.floor(rand() * 40)));
  for (const s of samples) {
    assert.deepEqual(byEachWord(s), byRegex(s), JSON.stringify(s));
    const from = Math.floor(rand() * s.length);
    const to = from + Math.floor(rand() * (s.length - from + 1));
    assert.deepEqual(byEachWord(s, from, to), byRegex(s.slice(from, to)), JSON.stringify([s, from, to]));
  }
});

test('WordTable.idsIn answers a span\'s distinct words as someWord reads them, or undefined when a word crosses its ends', () => {
  const rand = mulberry32(16);
  let answered = 0;
  let refused = 0;
  for (let k = 0; k < 300; k++) {
    const text = randomText(rand, 20 + Math.floor(rand() * 60));
    const table = new WordTable(text);
    for (let q = 0; q < 20; q++) {
      const a = Math.floor(rand() * text.length);
      const b = a + Math.floor(rand() * (text.length - a + 1));
      const ids = table.idsIn(a, b);
      const crosses = [...text.matchAll(C_WORD_RE)].some((m) => (m.index! < a && m.index! + m[0].length > a) || (m.index! < b && m.index! + m[0].length > b));
      if (crosses) {
        assert.equal(ids, undefined, JSON.stringify([text, a, b]));
        refused++;
        continue;
      }
      assert.ok(ids, JSON.stringify([text, a, b]));
      assert.deepEqual(ids.map((id) => table.words[id]), bySomeWord(text.slice(a, b)), JSON.stringify([text, a, b]));
      answered++;
    }
  }
  assert.ok(answered > 1000 && refused > 500, `${answered} answered, ${refused} refused`);
});

test('WordTable ids: one per distinct word, and words not in the text get new ones', () => {
  const t = new WordTable('a b a c');
  assert.deepEqual(t.idsIn(0, 7)!.map((i) => t.words[i]), ['a', 'b', 'c']);
  assert.equal(t.has('zz'), undefined);
  const id = t.idOf('zz');
  assert.equal(t.words[id], 'zz');
  assert.equal(t.idOf('a'), t.has('a'));
});
