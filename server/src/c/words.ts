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

import { partitionPoint } from '../sorted';

/** `C_WORD_RE` (syntax.ts) anchored at `lastIndex`: a word starting exactly there. */
const WORD_AT = /(?:[\p{ID_Start}_$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})(?:[\p{ID_Continue}$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})*/uy;

export const NO_WORD = 0;
export const STARTS = 1;
/** Continues a word, does not start one (a digit). */
export const CONTINUES = 2;

/**
 * A table of the UTF-16 code units by what they are to a lexer's words: STARTS (and
 * continues) for `[A-Za-z_]`, and `$` with `dollar`, and every non-ASCII unit with
 * `nonAscii`; CONTINUES for a digit; NO_WORD for the rest. One table read per
 * character instead of a range test each. The lexers differ only in those two
 * choices: this file's and syntax.ts's word scans (WORD_CLASS), the region lexer
 * (regions.ts: a non-ASCII unit is part of a word it skips) and the rewrite
 * (rewriteWords.ts: `[A-Za-z_]\w*`, no `$`).
 */
export function wordUnits(o: { dollar: boolean; nonAscii: boolean }): Uint8Array {
  const t = new Uint8Array(65536);
  if (o.nonAscii) t.fill(STARTS, 128);
  for (let c = 0; c < 128; c++) {
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (o.dollar && c === 36)) t[c] = STARTS;
    else if (c >= 48 && c <= 57) t[c] = CONTINUES;
  }
  return t;
}

/**
 * Per UTF-16 code unit: STARTS an ASCII word (`[A-Za-z_$]`), CONTINUES (a digit),
 * NO_WORD (every other unit, ASCII or not). The word scans here and syntax.ts's read
 * ASCII by this table.
 */
export const WORD_CLASS = wordUnits({ dollar: true, nonAscii: false });

/**
 * The hash of the characters [s, e) of `text` (h = 31 * h + code): the one the word
 * scans compute as they read (WordTable's slots, WordSet's filter in wordSet.ts).
 */
export function hashOf(text: string, s: number, e: number): number {
  let h = 0;
  for (let k = s; k < e; k++) h = (Math.imul(h, 31) + text.charCodeAt(k)) | 0;
  return h;
}

/** hashOf of a whole word. */
export function wordHash(w: string): number {
  return hashOf(w, 0, w.length);
}

/**
 * Calls `visit(start, end, hash)` for each match of `C_WORD_RE` in `text` at or after
 * `from` and before `to` (the text read as if it ended at `to`), in order; `hash` is
 * the word's `hashOf`, computed as an ASCII word is read.
 */
export function eachWord(text: string, from: number, to: number, visit: (start: number, end: number, hash: number) => void): void {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c < 128 && c !== 92) {
      if (WORD_CLASS[c] !== STARTS) {
        i++;
        continue;
      }
      let h = c;
      let j = i + 1;
      let d = 0;
      while (j < to && WORD_CLASS[(d = text.charCodeAt(j))] !== NO_WORD) {
        h = (Math.imul(h, 31) + d) | 0;
        j++;
      }
      // A backslash or a non-ASCII character may continue the word: the regex says.
      if (j < to && (d === 92 || d >= 128)) {
        j = matchAt(text, i, to);
        h = hashOf(text, i, j);
      }
      visit(i, j, h);
      i = j;
      continue;
    }
    // A trail surrogate right after its lead (only where the span starts mid-pair):
    // the span's own regex reads a lone surrogate, where V8's would back up to the pair.
    const j = (c & 0xfc00) === 0xdc00 && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? i : matchAt(text, i, to);
    if (j > i) {
      visit(i, j, hashOf(text, i, j));
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
 *
 * Built in one pass that hashes each word as it reads it and finds its id in an
 * open-addressed table, comparing in place (`startsWith` at the offset): a word is
 * sliced out of the text only the first time it is seen (a slice and a Map lookup
 * per occurrence cost more than the scans of the items' texts this replaces).
 */
export class WordTable {
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly ids: Int32Array;
  /** Id to word; ids are dense from 0 (words added by `idOf` get the next ones). */
  readonly words: string[] = [];
  /** Id to the word's hash (`hashOf`). */
  private hashes: number[] = [];
  /** Open addressing: id + 1 per slot (0: empty); its size a power of two, kept under half full. */
  private slots = new Int32Array(1024);
  /** Per id, the last `idsIn` call that took it (a distinct-words stamp). */
  private seen = new Int32Array(0);
  private stamp = 0;

  /**
   * `spans` (optional): the only parts of `text` ever asked about, as [start, end)
   * pairs in order of start; a span inside another (nested) or touching none is
   * fine. Each outermost span is read as its own text (a word is cut at its ends, as
   * a slice cuts it); `idsIn` must then be asked only within one of them.
   */
  constructor(readonly text: string, spans?: { length: number; start(j: number): number; end(j: number): number }) {
    const n = text.length;
    let cap = Math.max(64, n >> 3);
    let starts = new Int32Array(cap);
    let ends = new Int32Array(cap);
    let ids = new Int32Array(cap);
    let count = 0;
    const add = (s: number, e: number, id: number) => {
      if (count === cap) {
        cap *= 2;
        const grow = (a: Int32Array) => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        starts = grow(starts);
        ends = grow(ends);
        ids = grow(ids);
      }
      starts[count] = s;
      ends[count] = e;
      ids[count++] = id;
    };
    // Each word is hashed as it is read, and its id found in place (find).
    const scan = (from: number, to: number) => eachWord(text, from, to, (s, e, h) => add(s, e, this.find(h, s, e)));
    if (!spans) scan(0, n);
    else {
      for (let j = 0; j < spans.length; ) {
        const from = spans.start(j);
        let to = spans.end(j);
        // The spans nested in this one.
        for (j++; j < spans.length && spans.start(j) < to; j++) to = Math.max(to, spans.end(j));
        scan(from, to);
      }
    }
    this.starts = starts.subarray(0, count);
    this.ends = ends.subarray(0, count);
    this.ids = ids.subarray(0, count);
  }

  /** The id of `text.slice(s, e)` (hash `h`), a new one when first seen. */
  private find(h: number, s: number, e: number): number {
    const text = this.text;
    const len = e - s;
    const mask = this.slots.length - 1;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const v = this.slots[k]!;
      if (v === 0) break;
      const w = this.words[v - 1]!;
      if (this.hashes[v - 1] === h && w.length === len && text.startsWith(w, s)) return v - 1;
    }
    return this.insert(text.slice(s, e), h);
  }

  /** Gives `word` (hash `h`, not in the table) the next id. */
  private insert(word: string, h: number): number {
    const id = this.words.length;
    this.words.push(word);
    this.hashes.push(h);
    if ((id + 1) * 2 > this.slots.length) {
      // Rehash into twice the slots.
      const slots = new Int32Array(this.slots.length * 2);
      const mask = slots.length - 1;
      for (let v = 1; v <= id; v++) {
        let k = this.hashes[v - 1]! & mask;
        while (slots[k] !== 0) k = (k + 1) & mask;
        slots[k] = v;
      }
      this.slots = slots;
    }
    const mask = this.slots.length - 1;
    let k = h & mask;
    while (this.slots[k] !== 0) k = (k + 1) & mask;
    this.slots[k] = id + 1;
    return id;
  }

  /** The id of `word` (a new one if the text does not hold it). */
  idOf(word: string): number {
    return this.has(word) ?? this.insert(word, wordHash(word));
  }

  /** The id of `word` if the table has one. */
  has(word: string): number | undefined {
    const h = wordHash(word);
    const mask = this.slots.length - 1;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const v = this.slots[k]!;
      if (v === 0) return undefined;
      if (this.hashes[v - 1] === h && this.words[v - 1] === word) return v - 1;
    }
  }

  /**
   * The distinct words of `text.slice(start, end)` as ids (first occurrence first), or
   * undefined when a word of the text crosses `start` or `end` (the span's own scan
   * would read a piece of it: the caller scans the span instead).
   */
  /**
   * Where the words of `text.slice(start, end)` are in the table, as the positions
   * [lo, hi) of `ids` (every occurrence, in order), written into `out`; false (and
   * `out` untouched) when a word crosses `start` or `end`, as `idsIn` refuses. A caller
   * that asks about the same span again reads `ids` there instead of keeping a list.
   */
  rangeIn(start: number, end: number, out: { lo: number; hi: number }): boolean {
    const { starts, ends } = this;
    // The first word ending after `start`, then the first starting at or after `end`
    // (every word before `lo` ends by `start`, so starts before `end`: hi >= lo).
    const lo = partitionPoint(starts.length, (k) => ends[k]! <= start);
    if (lo < starts.length && starts[lo]! < start) return false;
    const hi = partitionPoint(starts.length, (k) => starts[k]! < end);
    // Words do not overlap: only the last one can cross `end`.
    if (hi > lo && ends[hi - 1]! > end) return false;
    out.lo = lo;
    out.hi = hi;
    return true;
  }

  idsIn(start: number, end: number): number[] | undefined {
    const { starts, ends, ids } = this;
    // The first word ending after `start`.
    const lo = partitionPoint(starts.length, (k) => ends[k]! <= start);
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
