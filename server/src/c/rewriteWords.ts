// The annotation rewrite (annotations.ts `prepare`) reads every word of every text
// a parse is given and asks each several questions: is it one of its word sets, is it
// capitalised like a macro, does a shape follow it. Most words are none of these, and
// a question asked by a Set lookup (which hashes the fresh string) or by a regex over
// a slice of the text after the word cost a third of the rewrite (drivers/net profile).
// Here are the cheap answers the rewrite asks first: each says "no" only where the
// slow test says no (test/unit/c/rewrite-words.test.ts holds them against it).

import { wordHash, wordUnits } from './words';

/** 2^14 bits: a few hundred words set about 1 % of them. */
const FILTER_LOG2 = 14;
const FILTER_MASK = (1 << (FILTER_LOG2 - 5)) - 1;

/**
 * A bit per `wordHash` (words.ts: h = 31 * h + code, the hash the rewrite computes
 * as it reads a word) of the words added: `mayHold(h)` is false for a word not
 * added, whatever the hash's collisions.
 */
export class WordFilter {
  private readonly bits = new Int32Array(1 << (FILTER_LOG2 - 5));

  add(w: string): void {
    const h = wordHash(w);
    this.bits[(h >>> 5) & FILTER_MASK]! |= 1 << (h & 31);
  }

  mayHold(hash: number): boolean {
    return (this.bits[(hash >>> 5) & FILTER_MASK]! & (1 << (hash & 31))) !== 0;
  }
}

/** Per UTF-16 code unit: STARTS for `[A-Za-z_]` (starts and continues a word of the rewrite), CONTINUES for a digit (words.ts wordUnits). */
export const REWRITE_WORD = wordUnits({ dollar: false, nonAscii: false });

/** `/^[A-Z][A-Z0-9_]*[A-Z0-9]$/.test(w)` (a macro's name) by character codes: most words fail at the first. */
export function isCaps(w: string): boolean {
  const n = w.length;
  if (n < 2) return false;
  let c = w.charCodeAt(0);
  if (c < 65 || c > 90) return false;
  for (let k = 1; k < n - 1; k++) {
    c = w.charCodeAt(k);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95)) return false;
  }
  c = w.charCodeAt(n - 1);
  return (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

/** A code unit a regex's `\s` may match: ASCII blanks, and any non-ASCII unit (left to the regex). */
export function maySpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c >= 128;
}

/**
 * Whether `^(?:\s+[A-Z][A-Z0-9_]*)*\s*(?:"|(?:pr_fmt|__stringify)\s*\()` (a string
 * prefix macro's tail: more capitalised words, then a string) can match `src` from
 * `at` within `limit` characters: the first character after ASCII blanks must be a
 * `"`, the `p` or `_` of the two names, a capital after a blank, or one the regex reads
 * as `\s` (non-ASCII).
 */
export function mayStartStringTail(src: string, at: number, limit: number): boolean {
  const end = Math.min(src.length, at + limit);
  let k = at;
  while (k < end) {
    const c = src.charCodeAt(k);
    if (c === 32 || (c >= 9 && c <= 13)) k++;
    else break;
  }
  if (k >= end) return false;
  const c = src.charCodeAt(k);
  return c === 34 || c === 112 || c === 95 || (k > at && c >= 65 && c <= 90) || c >= 128;
}

/**
 * Whether `OPERATOR_ARG_RE` (annotations.ts: `==`, `&&`, `<`, `%`, ... standing alone as a
 * macro argument) can match at a character with this code: its first character is one of
 * `= ! > < & | + - / % ^`.
 */
export function mayStartOperatorArg(c: number): boolean {
  return c === 61 || c === 33 || c === 62 || c === 60 || c === 38 || c === 124 || c === 43 || c === 45 || c === 47 || c === 37 || c === 94;
}

/**
 * The names of `/#[ \t]*define[ \t]+([A-Za-z_]\w*)\(/g`'s matches in `src` (the file's
 * function-like macros), found from each `define` by `indexOf` instead of the regex
 * trying every character of the file (it was 3 % of the rewrite on drivers/net).
 */
export function functionMacroNames(src: string): Set<string> {
  const names = new Set<string>();
  const n = src.length;
  for (let at = src.indexOf('define'); at >= 0; at = src.indexOf('define', at + 6)) {
    // `#[ \t]*` before it.
    let b = at - 1;
    while (b >= 0 && (src.charCodeAt(b) === 32 || src.charCodeAt(b) === 9)) b--;
    if (b < 0 || src.charCodeAt(b) !== 35) continue;
    // `[ \t]+` after it, then `[A-Za-z_]\w*` then `(`.
    let k = at + 6;
    while (k < n && (src.charCodeAt(k) === 32 || src.charCodeAt(k) === 9)) k++;
    if (k === at + 6 || k >= n || REWRITE_WORD[src.charCodeAt(k)] !== 1) continue;
    let e = k + 1;
    while (e < n && REWRITE_WORD[src.charCodeAt(e)] !== 0) e++;
    if (src.charCodeAt(e) === 40) names.add(src.slice(k, e));
  }
  return names;
}
