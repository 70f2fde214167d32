// Code tree-sitter could not fully read (ERROR nodes) still holds calls: a parse
// error swallows the statement around `writel(v, base + R)`, not the call itself.
// Here: where the ERROR regions of a tree are, and the accessor calls inside them
// that are unambiguous from their tokens alone, so a site there is reported (and
// marked as standing in code the parser could not fully read) instead of lost.

import type { Node } from 'web-tree-sitter';
import { matchParen } from './annotations';
import type { Range } from './types';
import { lastAtOrBefore, spanAt } from '../sorted';

/** Outermost ERROR regions as sorted, disjoint [start, end) offsets. */
export function errorRegions(root: Node): [number, number][] {
  if (!root.hasError) return [];
  const out: [number, number][] = [];
  for (const e of root.descendantsOfType('ERROR')) {
    if (!e) continue;
    const last = out[out.length - 1];
    if (last && e.startIndex < last[1]) {
      if (e.endIndex > last[1]) last[1] = e.endIndex;
      continue;
    }
    out.push([e.startIndex, e.endIndex]);
  }
  return out;
}

/** Whether offset `index` lies in one of the (sorted, disjoint) regions. */
export function inRegions(regions: readonly [number, number][], index: number): boolean {
  return spanAt(regions, index, (r) => r[0], (r) => r[1]) !== undefined;
}

export interface RecoveredCall {
  callee: string;
  /** The callee's name token. */
  calleeNode: Node;
  /** Offsets of the whole call, name to closing parenthesis (inclusive end + 1). */
  start: number;
  end: number;
  /** Each top-level argument's text, trimmed. */
  args: string[];
}

/** Characters after which a name followed by `(` is a call, not a declaration or a member. */
const BEFORE_CALL = new Set([';', '{', '}', '(', ',', '=', '!', '&', '|', '+', '-', '/', '?', ':', '<', '>', '~', '^', '%', '[', ')', '*']);
const KEYWORDS_BEFORE_CALL = new Set(['return', 'else', 'do']);
/** Words that make `name(` a declaration: `static u32 readl(`. */
const DECL_WORDS = /(?:^|[^\w])(?:void|int|char|short|long|unsigned|signed|u8|u16|u32|u64|__u8|__u16|__u32|__u64|__le16|__le32|__le64|__be16|__be32|__be64|bool|inline|static|extern|struct\s+\w+\s*\**|\w+_t)\s*\**\s*$/;

/**
 * Calls of names `isKnown` accepts, standing in ERROR regions as loose tokens (not a
 * call_expression the ordinary walk sees). Unambiguous means: a name token (not in a
 * comment or string: tokens are lexed), followed by `(` whose closing parenthesis is
 * found, preceded by an operator, a bracket, a statement end or `return`, not by a
 * type (a prototype) nor `.`/`->` (a member). `prepared` is the rewritten text the
 * tree was parsed from (same offsets as the file).
 */
export function callsInErrors(root: Node, prepared: string, regions: readonly [number, number][], isKnown: (name: string) => boolean): RecoveredCall[] {
  const out: RecoveredCall[] = [];
  if (!regions.length) return out;
  for (const e of root.descendantsOfType('ERROR')) {
    if (!e) continue;
    for (const id of e.descendantsOfType(['identifier', 'type_identifier', 'field_identifier'])) {
      if (!id || !isKnown(id.text)) continue;
      const parent = id.parent;
      // A call_expression (even inside the ERROR) is found by the ordinary walk.
      if (parent && parent.type === 'call_expression') continue;
      let k = id.endIndex;
      while (k < prepared.length && /\s/.test(prepared[k]!)) k++;
      if (prepared[k] !== '(') continue;
      const close = matchParen(prepared, k, Math.min(prepared.length, k + 4000));
      if (close < 0) continue;
      let b = id.startIndex - 1;
      while (b >= 0 && /\s/.test(prepared[b]!)) b--;
      const prev = b < 0 ? ';' : prepared[b]!;
      if (prev === '.' || (prev === '>' && prepared[b - 1] === '-')) continue;
      const lineStart = prepared.lastIndexOf('\n', id.startIndex - 1) + 1;
      const head = prepared.slice(Math.max(0, id.startIndex - 200), id.startIndex);
      if (/\w/.test(prev)) {
        const word = /(\w+)\s*$/.exec(head)?.[1];
        // `return readl(`, or a statement-like macro alone on the line above
        // (`NVRAM_CLR_CE` or `out: NVRAM_CLR_CE` then `writel(...)`); not a return type (`static u32` then `readl(`).
        const macroAbove = id.startIndex === lineStart + /^\s*/.exec(prepared.slice(lineStart, id.startIndex))![0].length &&
          /(?:^|[:;{}])\s*[A-Z][A-Z0-9_]*[A-Z0-9]\s*$/.test(prepared.slice(prepared.lastIndexOf('\n', Math.max(0, lineStart - 2)) + 1, Math.max(0, lineStart - 1)));
        if (!word || (!KEYWORDS_BEFORE_CALL.has(word) && !macroAbove)) continue;
      } else if (!BEFORE_CALL.has(prev)) continue;
      if (prev === '*' && DECL_WORDS.test(head.slice(0, head.lastIndexOf('*')))) continue;
      out.push({ callee: id.text, calleeNode: id, start: id.startIndex, end: close + 1, args: splitArgs(prepared, k, close) });
    }
  }
  // Nested ERROR nodes list a token once per enclosing ERROR.
  const seen = new Set<number>();
  return out.filter((c) => !seen.has(c.start) && !!seen.add(c.start));
}

/** The trimmed top-level arguments between `open` and `close`. */
function splitArgs(src: string, open: number, close: number): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let k = open + 1; k <= close; k++) {
    const ch = src[k];
    if (ch === '"' || ch === "'") {
      k++;
      while (k < close && src[k] !== ch && src[k] !== '\n') k += src[k] === '\\' ? 2 : 1;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if ((ch === ')' || ch === ']' || ch === '}') && k < close) depth--;
    else if ((ch === ',' && depth === 0) || k === close) {
      const a = src.slice(from, k).trim();
      if (a || k !== close || out.length) out.push(a);
      from = k + 1;
    }
  }
  return out;
}

/** The line (index into `starts`, see lineStarts) holding offset `i`. */
export function lineAt(starts: readonly number[], i: number): number {
  return Math.max(0, lastAtOrBefore(starts, i, (s) => s));
}

/** Range of [start, end) in a text, from its line starts (see lineStarts). */
export function rangeAt(starts: readonly number[], start: number, end: number): Range {
  const at = (i: number) => {
    const lo = lineAt(starts, i);
    return { line: lo, character: i - starts[lo]! };
  };
  return { start: at(start), end: at(end) };
}

/** Offsets at which each line of `text` starts. */
export function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

/**
 * Every ERROR and MISSING node of a tree as [start, end) offsets, in tree order (a
 * MISSING node is empty: start = end). Its length is countErrors(tree). Two parses
 * that give the same list failed to read the same text the same way: the editor's
 * incremental path (audit/incremental.ts) compares a slice's list with the file's.
 */
export function errorSpans(root: Node): [number, number][] {
  const out: [number, number][] = [];
  if (!root.hasError) return out;
  const cursor = root.walk();
  try {
    for (;;) {
      const node = cursor.currentNode;
      if (node.isError || node.isMissing) out.push([node.startIndex, node.endIndex]);
      if (node.hasError && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) if (!cursor.gotoParent()) return out;
    }
  } finally {
    cursor.delete();
  }
}
