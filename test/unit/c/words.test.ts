// c/words.ts: one read of a text's words must answer what scanning each span does
// (provenance reads every expression's words from the table instead of its text).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { C_WORD_RE, someWord } from '../../../server/src/c/syntax';
import { eachWord, WordTable } from '../../../server/src/c/words';
import { mulberry32, type Rand } from '../../fuzz/prng';
import { nestedSpans, randomText as randomTextOf } from '../../support/wordFuzz';

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
const PIECES = ['a', 'b', 'Z', '_', '$', '0', '9', ' ', '-', '>', '.', '(', ')', '"', '\n', '\\', 'u', '00e9', 'U0001F600', 'é', '𝔘', '\u0301', '\ud800', '\udc00', 'x', 'ab'];
const randomText = (rand: Rand, length: number) => randomTextOf(rand, length, PIECES);

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

test('WordTable over some spans only: each outermost span read as its own slice, queries inside one answered as someWord reads them', () => {
  const rand = mulberry32(17);
  let answered = 0;
  for (let k = 0; k < 300; k++) {
    const text = randomText(rand, 30 + Math.floor(rand() * 60));
    // Nested and disjoint spans in document order (a parent before the spans inside it).
    const spans = nestedSpans(rand, text, 5, 6);
    spans.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
    const table = new WordTable(text, { length: spans.length, start: (j) => spans[j]![0], end: (j) => spans[j]![1] });
    for (const [a, b] of spans) {
      // The outermost span holding [a, b): the text its scan read.
      const outer = spans.find(([x, y]) => x <= a && y >= b && !spans.some(([p, q]) => p < x && q > x))!;
      const piece = text.slice(outer[0], outer[1]);
      const crosses = [...piece.matchAll(C_WORD_RE)].some((m) => {
        const s = outer[0] + m.index!;
        const e = s + m[0].length;
        return (s < a && e > a) || (s < b && e > b);
      });
      const ids = table.idsIn(a, b);
      if (crosses) {
        assert.equal(ids, undefined, JSON.stringify([text, a, b]));
        continue;
      }
      assert.deepEqual(ids?.map((id) => table.words[id]), bySomeWord(text.slice(a, b)), JSON.stringify([text, a, b, spans]));
      answered++;
    }
  }
  assert.ok(answered > 1000, `${answered} answered`);
});

test('WordTable ids: one per distinct word, and words not in the text get new ones', () => {
  const t = new WordTable('a b a c');
  assert.deepEqual(t.idsIn(0, 7)!.map((i) => t.words[i]), ['a', 'b', 'c']);
  assert.equal(t.has('zz'), undefined);
  const id = t.idOf('zz');
  assert.equal(t.words[id], 'zz');
  assert.equal(t.idOf('a'), t.has('a'));
  // `Aa` and `BB` hash alike (31 * 65 + 97 = 31 * 66 + 66): two words, told apart in place.
  const c = new WordTable('Aa BB Aa x BB');
  assert.deepEqual(c.idsIn(0, 13)!.map((i) => c.words[i]), ['Aa', 'BB', 'x']);
  assert.deepEqual([...c.ids], [0, 1, 0, 2, 1]);
  // Enough distinct words to grow the table's slots and occurrence arrays.
  const many = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
  const m = new WordTable(many + ' ' + many);
  assert.equal(m.words.length, 3000);
  assert.deepEqual(m.idsIn(0, many.length)!.map((i) => m.words[i]), many.split(' '));
  assert.equal(m.has('w2999'), 2999);
});
