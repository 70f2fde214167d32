// WordTable.rangeIn (c/words.ts): provenance tests every expression's words against
// the live words in each round from the table's own occurrences [lo, hi), not from a
// list kept per expression. The range must hold exactly the words idsIn answers (as
// occurrences), and be refused exactly when idsIn refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WordTable } from '../../../server/src/c/words';
import { mulberry32, type Rand } from '../../fuzz/prng';
import { nestedSpans, randomText as randomTextOf } from '../../support/wordFuzz';

const PIECES = ['a', 'b', 'Z', '_', '$', '0', '9', ' ', '-', '>', '.', '(', ')', '"', '\n', '\\', 'u', '00e9', 'é', '𝔘', '\ud800', 'x', 'ab', 'base', 'p'];
const randomText = (rand: Rand, length: number) => randomTextOf(rand, length, PIECES);

/** The distinct ids of [lo, hi) of the table's occurrences, first occurrence first. */
const distinct = (t: WordTable, r: { lo: number; hi: number }) => [...new Set(t.ids.subarray(r.lo, r.hi))];

function check(table: WordTable, a: number, b: number, label: string): 'answered' | 'refused' {
  const ids = table.idsIn(a, b);
  const r = { lo: -7, hi: -7 };
  const ok = table.rangeIn(a, b, r);
  if (!ids) {
    assert.equal(ok, false, label);
    assert.deepEqual(r, { lo: -7, hi: -7 }, `${label}: a refused range leaves out alone`);
    return 'refused';
  }
  assert.equal(ok, true, label);
  assert.ok(r.lo <= r.hi, label);
  assert.deepEqual(distinct(table, r), ids, label);
  // Every occurrence in the range lies inside the span.
  for (let k = r.lo; k < r.hi; k++) assert.ok(table.starts[k]! >= a && table.ends[k]! <= b, label);
  return 'answered';
}

test('rangeIn holds the words idsIn answers, and refuses where idsIn refuses (whole text)', () => {
  const rand = mulberry32(41);
  const n = { answered: 0, refused: 0 };
  for (let k = 0; k < 300; k++) {
    const text = randomText(rand, 10 + Math.floor(rand() * 70));
    const table = new WordTable(text);
    for (let q = 0; q < 20; q++) {
      const a = Math.floor(rand() * (text.length + 1));
      const b = a + Math.floor(rand() * (text.length - a + 1));
      n[check(table, a, b, JSON.stringify([text, a, b]))]++;
    }
  }
  assert.ok(n.answered > 1000 && n.refused > 500, JSON.stringify(n));
});

test('rangeIn over a table of some spans only: nested and disjoint spans, empty spans, the ends', () => {
  const rand = mulberry32(42);
  let answered = 0;
  for (let k = 0; k < 300; k++) {
    const text = randomText(rand, 20 + Math.floor(rand() * 60));
    const spans = nestedSpans(rand, text, 4, 4);
    const table = new WordTable(text, { length: spans.length, start: (j) => spans[j]![0], end: (j) => spans[j]![1] });
    for (const [a, b] of spans) if (check(table, a, b, JSON.stringify([text, a, b, spans])) === 'answered') answered++;
    for (const [a] of spans) check(table, a, a, JSON.stringify([text, a, 'empty']));
  }
  assert.ok(answered > 1000, `${answered} answered`);
  // No words at all, and a span past every word.
  const empty = new WordTable('  ( ) ');
  const r = { lo: -1, hi: -1 };
  assert.equal(empty.rangeIn(0, 6, r), true);
  assert.deepEqual(r, { lo: 0, hi: 0 });
  const t = new WordTable('a bb ccc');
  assert.equal(t.rangeIn(8, 8, r), true);
  assert.equal(r.lo, r.hi);
  assert.equal(t.rangeIn(3, 4, r), false, 'inside bb');
  assert.equal(t.rangeIn(0, 3, r), false, 'ends inside bb');
  assert.equal(t.rangeIn(2, 4, r), true);
  assert.deepEqual(distinct(t, r).map((id) => t.words[id]), ['bb']);
});
