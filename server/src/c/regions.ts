// The top-level brace blocks of a C file, found by a lexer (no parse), and the
// text with some of them blanked.
//
// A batch audit (audit/regions.ts) parses a file with the bodies of the function
// definitions that cannot hold a site blanked: same length, line ends kept, so every
// offset, row and column of the parse is the file's. This module only delimits:
// which `{ ... }` at file scope a function body may be, as the compiler's lexer sees
// the text (comments, strings, character literals, line continuations, directive
// lines). Whatever it cannot delimit with certainty makes the whole file `unsure`
// (the caller then parses it whole): an unterminated comment, braces that do not
// balance, a conditional group (`#if` ... `#endif`) whose branches leave the brace
// depth different or that opens and closes in different blocks (`#ifdef X` giving
// a function two headers: which one the parse takes is not the lexer's to say).

import { NO_WORD, STARTS, wordUnits } from './words';

/** One `{ ... }` at file scope. */
export interface TopBlock {
  /** Offset of the `{` and of the matching `}`. */
  open: number;
  close: number;
  /**
   * The last significant character before the `{` (comments, blanks and directive
   * lines skipped) is `)`: a function body (or a macro call tree-sitter may read as
   * one; the caller checks the parse agrees).
   */
  afterParen: boolean;
  /** Offset where the definition's header may start: after the previous `;`, `}` or directive line at file scope. */
  headerStart: number;
  /** A directive other than a conditional one (`#define`, `#undef`, `#include`, `#pragma`, ...) stands inside. */
  otherDirective: boolean;
  /**
   * A shape inside that tree-sitter is known not to read, whose error region can
   * swallow the functions after it (drivers/atm/fore200e.c): a directive where no
   * statement ends (after a character other than `;`, `{`, `}` or `:`: in an
   * expression, `writel(A\n#ifdef X\n| B\n#endif\n, p)`, or as an `if`'s
   * statement), or `if`/`while`/`switch`/`for` not followed by `(`.
   */
  midStatementDirective: boolean;
}

export type Blocks = { blocks: TopBlock[] } | { unsure: string };

const CONDITIONAL_OPEN = new Set(['if', 'ifdef', 'ifndef']);
const CONDITIONAL_BRANCH = new Set(['elif', 'elifdef', 'elifndef', 'else']);
/** Keywords whose condition stands in parentheses. */
const CONDITION_KEYWORDS = new Set(['if', 'while', 'switch', 'for']);

/**
 * Per UTF-16 code unit: STARTS for `[A-Za-z_$]` and any non-ASCII unit (a word of C as
 * the lexer skips it), CONTINUES for a digit, NO_WORD for the rest (a range test per
 * character was half of the lexer's word time).
 */
const WORD_UNIT = wordUnits({ dollar: true, nonAscii: true });

/** What a statement (or a label) ends with: a directive after one stands between statements. */
const STATEMENT_END = new Set([';', '{', '}', ':']);

/**
 * The file-scope brace blocks of `text`, or why the lexer cannot vouch for them.
 * Linear in the text.
 */
export function topBlocks(text: string): Blocks {
  const n = text.length;
  const blocks: TopBlock[] = [];
  let depth = 0;
  let current: TopBlock | undefined;
  let lastSig = '';
  let headerStart = 0;
  /** Each open conditional group: the depth and block (index, -1 at file scope) at its `#if`. */
  const groups: { depth: number; block: number }[] = [];
  let lineStart = true;
  let i = 0;
  const blockIndex = () => (depth > 0 ? blocks.length - 1 : -1);

  // A comment from `i` (at `/`): the index after it, or -1 when it does not end.
  const comment = (i: number): number => {
    if (text.charCodeAt(i + 1) === 42 /* * */) {
      const e = text.indexOf('*/', i + 2);
      return e < 0 ? -1 : e + 2;
    }
    // `//` to the line end; a continuation carries it onto the next line.
    let j = i + 2;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 10) break;
      if (c === 92 /* \ */ && continuation(j) > 0) {
        j += continuation(j);
        continue;
      }
      j++;
    }
    return j;
  };
  // The length of a line continuation at `j` (`\` then LF or CRLF), or 0.
  const continuation = (j: number): number => {
    if (text.charCodeAt(j) !== 92) return 0;
    const c = text.charCodeAt(j + 1);
    if (c === 10) return 2;
    if (c === 13 && text.charCodeAt(j + 2) === 10) return 3;
    return 0;
  };
  // A string or character literal from `i` (at its quote): the index after it. An
  // unterminated one ends at the line end (the compiler rejects it; the parse says so).
  const literal = (i: number): number => {
    const q = text.charCodeAt(i);
    let j = i + 1;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === q) return j + 1;
      if (c === 10) return j;
      if (c === 92) {
        const k = continuation(j);
        j += k > 0 ? k : 2;
        continue;
      }
      j++;
    }
    return n;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (lineStart) {
      // Blanks before a `#` keep the line a directive line.
      if (c === 32 || c === 9 || c === 12 || c === 11 || c === 13) {
        i++;
        continue;
      }
      const k = continuation(i);
      if (k > 0) {
        i += k;
        continue;
      }
      if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42) {
        // A comment before the `#` on the same line (rare) still leaves a directive line.
        const e = comment(i);
        if (e < 0) return { unsure: 'a comment does not end' };
        if (text.slice(i, e).includes('\n')) lineStart = false; // the `#` is no longer first on its line
        else {
          i = e;
          continue;
        }
      } else lineStart = false;
      if (c === 35 /* # */) {
        const d = directiveAt(i);
        if (typeof d === 'string') return { unsure: d };
        i = d;
        continue;
      }
    }
    if (c === 10) {
      lineStart = true;
      i++;
      continue;
    }
    if (c === 92) {
      const k = continuation(i);
      if (k > 0) {
        i += k;
        continue;
      }
    }
    if (c === 47 /* / */ && (text.charCodeAt(i + 1) === 42 || text.charCodeAt(i + 1) === 47)) {
      const e = comment(i);
      if (e < 0) return { unsure: 'a comment does not end' };
      i = e;
      continue;
    }
    if (c === 34 /* " */ || c === 39 /* ' */) {
      i = literal(i);
      lastSig = '"';
      continue;
    }
    if (c === 123 /* { */) {
      if (depth === 0) {
        current = { open: i, close: -1, afterParen: lastSig === ')', headerStart, otherDirective: false, midStatementDirective: false };
        blocks.push(current);
      }
      depth++;
    } else if (c === 125 /* } */) {
      if (depth === 0) return { unsure: 'a `}` closes nothing' };
      depth--;
      if (depth === 0) {
        current!.close = i;
        current = undefined;
        headerStart = i + 1;
      }
    } else if (c === 59 /* ; */ && depth === 0) headerStart = i + 1;
    if (WORD_UNIT[c] === STARTS) {
      let j = i + 1;
      while (j < n && WORD_UNIT[text.charCodeAt(j)] !== NO_WORD) j++;
      // `if ACPI_FAILURE(x)`: a keyword whose condition a macro supplies, parens and
      // all. tree-sitter cannot read it (drivers/platform/x86/thinkpad_acpi.c).
      // (Only a word starting as one of them is sliced: most words of a body are not.)
      if (depth > 0 && j - i <= 6 && (c === 105 || c === 119 || c === 115 || c === 102) && CONDITION_KEYWORDS.has(text.slice(i, j))) {
        let k = j;
        while (k < n && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9 || text.charCodeAt(k) === 10 || text.charCodeAt(k) === 13)) k++;
        if (text.charCodeAt(k) !== 40 /* ( */ && text.charCodeAt(k) !== 47 /* a comment: not judged */) current!.midStatementDirective = true;
      }
      lastSig = text[j - 1]!;
      i = j;
      continue;
    }
    if (c !== 32 && c !== 9 && c !== 13 && c !== 12 && c !== 11) lastSig = text[i]!;
    i++;
  }
  if (depth !== 0) return { unsure: 'a `{` is not closed' };
  if (groups.length) return { unsure: 'an `#if` is not closed' };
  return { blocks };

  // A directive line from its `#`: the index of the line end that ends it, or why it is unsure.
  function directiveAt(at: number): number | string {
    let j = at + 1;
    while (j < n && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9 || continuation(j) > 0)) j += continuation(j) || 1;
    const m = /^[A-Za-z_]\w*/.exec(text.slice(j, j + 16));
    const name = m ? m[0] : '';
    let e = j;
    while (e < n) {
      const c = text.charCodeAt(e);
      if (c === 10) break;
      if (c === 92 && continuation(e) > 0) {
        e += continuation(e);
        continue;
      }
      if (c === 47 && (text.charCodeAt(e + 1) === 42 || text.charCodeAt(e + 1) === 47)) {
        const x = comment(e);
        if (x < 0) return 'a comment does not end';
        e = x;
        continue;
      }
      if (c === 34 || c === 39) {
        e = literal(e);
        continue;
      }
      e++;
    }
    if (depth > 0 && !STATEMENT_END.has(lastSig)) current!.midStatementDirective = true;
    if (CONDITIONAL_OPEN.has(name)) groups.push({ depth, block: blockIndex() });
    else if (CONDITIONAL_BRANCH.has(name) || name === 'endif') {
      const g = groups[groups.length - 1];
      if (!g) return `an #${name} without its #if`;
      if (g.depth !== depth || g.block !== blockIndex()) return 'a conditional group changes the brace depth between its branches';
      if (name === 'endif') groups.pop();
    } else if (depth > 0) current!.otherDirective = true;
    if (depth === 0) headerStart = e;
    return e;
  }
}

/**
 * `s` with every character but line ends a space (same length: offsets, rows and columns
 * stay; a run per line: a replacement per character cost ~10 ms an editor slice).
 */
export function blankedText(s: string): string {
  return s.replace(/[^\n\r]+/g, (run) => ' '.repeat(run.length));
}

/** `text` with the inside of each block (between its braces) blanked; `blocks` in file order. */
export function blankInsides(text: string, blocks: readonly Pick<TopBlock, 'open' | 'close'>[]): string {
  if (!blocks.length) return text;
  const parts: string[] = [];
  let from = 0;
  for (const b of blocks) {
    parts.push(text.slice(from, b.open + 1), blankedText(text.slice(b.open + 1, b.close)));
    from = b.close;
  }
  parts.push(text.slice(from));
  return parts.join('');
}

/** The blanked insides of `blocks` (in file order) as BlankSpans (c/annotations.ts): [open + 1, close) each. */
export function insideSpans(blocks: readonly Pick<TopBlock, 'open' | 'close'>[]): number[] {
  const out: number[] = [];
  for (const b of blocks) if (b.close > b.open + 1) out.push(b.open + 1, b.close);
  return out;
}

/** A part of a text tree-sitter reads (web-tree-sitter's Range: UTF-16 offsets and columns). */
export interface IncludedRange {
  startIndex: number;
  endIndex: number;
  startPosition: { row: number; column: number };
  endPosition: { row: number; column: number };
}

/**
 * The parts of `text` outside `skip` ([start, end) pairs, flat, in order, disjoint)
 * as tree-sitter's included ranges, each with its row and column: the parser then
 * never reads the skipped characters, and every node keeps the offset, row and
 * column it has in the whole text. Left out are blank insides of blocks only
 * (BlankSpans), so the tokens read, and the tree, are the whole text's.
 */
export function rangesOutside(text: string, skip: readonly number[]): IncludedRange[] {
  const out: IncludedRange[] = [];
  let row = 0;
  let lineStart = 0;
  let nl = text.indexOf('\n');
  const at = (index: number) => {
    while (nl >= 0 && nl < index) {
      row++;
      lineStart = nl + 1;
      nl = text.indexOf('\n', nl + 1);
    }
    return { row, column: index - lineStart };
  };
  let from = 0;
  for (let k = 0; k < skip.length; k += 2) {
    const a = skip[k]!;
    const b = skip[k + 1]!;
    if (a > from) out.push({ startIndex: from, endIndex: a, startPosition: at(from), endPosition: at(a) });
    from = b;
  }
  out.push({ startIndex: from, endIndex: text.length, startPosition: at(from), endPosition: at(text.length) });
  return out;
}

/**
 * The names a definition's header may declare: each word directly followed by `(`
 * (the function's name, and attribute-like macros: a few extra words only keep more).
 */
export function headerNames(header: string): string[] {
  const out: string[] = [];
  for (const m of header.matchAll(/([A-Za-z_$][\w$]*)\s*\(/g)) out.push(m[1]!);
  return out;
}

/** Whether a definition's header makes it a helper its callers inline (static or inline). */
export function headerIsHelper(header: string): boolean {
  return /\b(?:static|inline|__inline|__inline__|__always_inline)\b/.test(header);
}
