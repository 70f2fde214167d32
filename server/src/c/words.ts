// The C words of a text, read once. syntax.ts's `someWord` scans ASCII text without
// a backslash by character codes and anything else (a string's `\n`, a comment's
// `é`: most function bodies, many expressions) with the Unicode regex; callers that
// scan overlapping texts (provenance reads every expression's words, and an
// expression's sub-expressions are expressions) read the same characters again.
// Here:
//  - `eachWord` gives exactly `C_WORD_RE`'s matches (syntax.ts), by character codes,
//    asking the regex only at a backslash or a non-ASCII character;
//  - `WordTable` holds every word of one text (start, end, id) so that the words of
//    any span are read from it as numbers, without slicing or scanning the text.

/** `C_WORD_RE` (syntax.ts) anchored at `lastIndex`: a word starting exactly there. */
const WORD_AT = /(?:[\p{ID_Start}_$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})(?:[\p{ID_Continue}$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})*/uy;

/** Per ASCII code: 2 starts and continues a word (`[A-Za-z_$]`), 1 only continues one (a digit), 0 neither. */
const ASCII = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36) t[c] = 2;
    else if (c >= 48 && c <= 57) t[c] = 1;
  }
  return t;
})();

/**
 * Calls `visit(start, end)` for each match of `C_WORD_RE` in `text` at or after
 * `from` and before `to` (the text read as if it ended at `to`), in order.
 */
export function eachWord(text: string, from: number, to: number, visit: (start: number, end: number) => void): void {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c < 128 && c !== 92) {
      if (ASCII[c] !== 2) {
        i++;
        continue;
      }
      let j = i + 1;
      let d = 0;
      while (j < to && (d = text.charCodeAt(j)) < 128 && ASCII[d] !== 0) j++;
      // A backslash or a non-ASCII character may continue the word: the regex says.
      if (j < to && (d === 92 || d >= 128)) j = matchAt(text, i, to);
      visit(i, j);
      i = j;
      continue;
    }
    // A trail surrogate right after its lead (only where the span starts mid-pair):
    // the span's own regex reads a lone surrogate, where V8's would back up to the pair.
    const j = (c & 0xfc00) === 0xdc00 && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? i : matchAt(text, i, to);
    if (j > i) {
      visit(i, j);
      i = j;
      continue;
    }
    // No word here: the regex's scan moves on by a code point.
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < to && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
}

/** The end of the word starting at `i` (reading no further than `to`), or `i` when none does. */
function matchAt(text: string, i: number, to: number): number {
  const s = to < text.length ? text.slice(0, to) : text;
  WORD_AT.lastIndex = i;
  const m = WORD_AT.exec(s);
  return m ? i + m[0].length : i;
}

/**
 * Every C word of one text: occurrences in text order (start, end, an id per
 * distinct word). `idsIn` answers a span's distinct words as ids when no word
 * crosses the span's ends (then the span's own scan would read exactly these).
 */
export class WordTable {
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly ids: Int32Array;
  /** Id to word; ids are dense from 0 (words added by `idOf` get the next ones). */
  readonly words: string[] = [];
  private readonly byWord = new Map<string, number>();
  /** Per id, the last `idsIn` call that took it (a distinct-words stamp). */
  private seen = new Int32Array(0);
  private stamp = 0;

  constructor(readonly text: string) {
    const starts: number[] = [];
    const ends: number[] = [];
    const ids: number[] = [];
    eachWord(text, 0, text.length, (s, e) => {
      starts.push(s);
      ends.push(e);
      ids.push(this.idOf(text.slice(s, e)));
    });
    this.starts = Int32Array.from(starts);
    this.ends = Int32Array.from(ends);
    this.ids = Int32Array.from(ids);
  }

  /** The id of `word` (a new one if the text does not hold it). */
  idOf(word: string): number {
    let id = this.byWord.get(word);
    if (id === undefined) {
      id = this.words.length;
      this.words.push(word);
      this.byWord.set(word, id);
    }
    return id;
  }

  /** The id of `word` if the table has one. */
  has(word: string): number | undefined {
    return this.byWord.get(word);
  }

  /**
   * The distinct words of `text.slice(start, end)` as ids (first occurrence first), or
   * undefined when a word of the text crosses `start` or `end` (the span's own scan
   * would read a piece of it: the caller scans the span instead).
   */
  idsIn(start: number, end: number): number[] | undefined {
    const { starts, ends, ids } = this;
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! <= start) lo = mid + 1;
      else hi = mid;
    }
    // `lo`: the first word ending after `start`.
    if (lo < starts.length && starts[lo]! < start) return undefined;
    if (this.seen.length < this.words.length) {
      const grown = new Int32Array(Math.max(this.words.length, this.seen.length * 2));
      grown.set(this.seen);
      this.seen = grown;
    }
    const stamp = ++this.stamp;
    const seen = this.seen;
    const out: number[] = [];
    for (let k = lo; k < starts.length && starts[k]! < end; k++) {
      if (ends[k]! > end) return undefined;
      const id = ids[k]!;
      if (seen[id] !== stamp) {
        seen[id] = stamp;
        out.push(id);
      }
    }
    return out;
  }
}
