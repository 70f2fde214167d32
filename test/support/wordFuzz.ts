// Random C-ish texts and nested spans for the word table's tests (words.test.ts,
// word-range.test.ts): each test draws its own pieces and gaps, so its samples stay as
// they were written.
import type { Rand } from '../fuzz/prng';

/** Pieces drawn at random until the text is at least `length` long. */
export function randomText(rand: Rand, length: number, pieces: readonly string[]): string {
  let s = '';
  while (s.length < length) s += pieces[Math.floor(rand() * pieces.length)]!;
  return s;
}

/**
 * Nested and disjoint spans over `text` in document order, a parent before the spans
 * inside it: the first starts below `firstGap`, a span is 2-21 long, each holds inner
 * spans while a coin says so, and the next outer span starts below `gap` after the last.
 */
export function nestedSpans(rand: Rand, text: string, firstGap: number, gap: number): [number, number][] {
  const spans: [number, number][] = [];
  let at = Math.floor(rand() * firstGap);
  while (at < text.length - 2) {
    const end = Math.min(text.length, at + 2 + Math.floor(rand() * 20));
    spans.push([at, end]);
    let inner = at + Math.floor(rand() * 3);
    while (inner < end - 1 && rand() < 0.6) {
      const ie = inner + 1 + Math.floor(rand() * (end - inner - 1));
      spans.push([inner, ie]);
      inner = ie + Math.floor(rand() * 3);
    }
    at = end + Math.floor(rand() * gap);
  }
  return spans;
}
