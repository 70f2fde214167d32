// Small helpers over tree-sitter-c nodes shared by the site finders.

import type { Node } from 'web-tree-sitter';
import type { Range } from './types';
import { NO_WORD, STARTS, WORD_CLASS, wordHash } from './words';

/**
 * C identifiers as tree-sitter and gcc read them: Unicode letters, `$`, and `\u`/`\U`
 * universal character names, never split (an ASCII-only `[A-Za-z_]\w*` reads `régs`
 * as `r` and `gs`, so a set of names tested word by word misses it). Global: use with
 * matchAll.
 */
export const C_WORD_RE = /(?:[\p{ID_Start}_$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})(?:[\p{ID_Continue}$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})*/gu;

/** `C_WORD_RE` with the `->` or `.` before the word when it is a member access (group 1), the word in group 2. */
export const C_MEMBER_OR_WORD_RE = /(->|\.)?\s*((?:[\p{ID_Start}_$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})(?:[\p{ID_Continue}$]|\\u[\dA-Fa-f]{4}|\\U[\dA-Fa-f]{8})*)/gu;

/**
 * A character outside ASCII, or a backslash before `u`/`U` (a universal character
 * name): text the plain scans below do not read. Any other backslash (a macro's line
 * continuation, `\n` in a string) is a character no word holds, as for the regex.
 */
const NOT_PLAIN_RE = /[\u0080-\uffff]|\\[uU]/;

/**
 * Calls `visit` with each C word of `text` in order (what `C_WORD_RE` matches) until
 * it returns true; returns whether it did. ASCII text without a backslash (nearly all
 * C) is scanned by character codes, without the Unicode regex (a hot path: every
 * expression's words are tested against a set of names).
 */
export function someWord(text: string, visit: (w: string) => boolean): boolean {
  if (NOT_PLAIN_RE.test(text)) {
    for (const m of text.matchAll(C_WORD_RE)) if (visit(m[0])) return true;
    return false;
  }
  const n = text.length;
  for (let i = 0; i < n; i++) {
    if (WORD_CLASS[text.charCodeAt(i)] !== STARTS) continue;
    let j = i + 1;
    while (j < n && WORD_CLASS[text.charCodeAt(j)] !== NO_WORD) j++;
    if (visit(text.slice(i, j))) return true;
    i = j; // text[j] continues no word, so it starts none either
  }
  return false;
}

/** Whether some C word of `text` is one `known` takes. */
export function namesWord(text: string, known: (w: string) => boolean): boolean {
  return someWord(text, known);
}


/** A character the plain scan does not read: outside ASCII, or a backslash before `u`/`U` (a universal character name). */
function notPlainAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c >= 128) return true;
  if (c !== 92) return false;
  const d = text.charCodeAt(i + 1);
  return d === 117 || d === 85;
}

/**
 * Calls `visit` with each C word of `text` as `C_MEMBER_OR_WORD_RE` reads it (its
 * start, end, wordHash, and whether `->` or `.` comes before it) until `visit`
 * returns true; returns whether it did. ASCII is read by character codes, hashing as
 * it goes: a word is a member when the characters between it and the word before,
 * whitespace aside, end with `.` or `->` (where the regex's match for it starts).
 * At the first character the plain scan does not read, the regex takes over from
 * the end of the last word visited (its matches from there are the ones it would
 * have found from the start: they begin where the previous one ends).
 */
export function scanMembersAndWords(text: string, visit: (start: number, end: number, hash: number, member: boolean) => boolean): boolean {
  const n = text.length;
  let afterMember = false;
  let resume = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (WORD_CLASS[c] !== STARTS) {
      if (c === 46) afterMember = true; // .
      else if (c === 62) afterMember = i > 0 && text.charCodeAt(i - 1) === 45; // ->
      else if (c === 32 || (c >= 9 && c <= 13)) continue; // \s keeps it
      else if (notPlainAt(text, i)) return scanByRegex(text, resume, visit);
      else afterMember = false;
      continue;
    }
    let h = c;
    let j = i + 1;
    for (; j < n; j++) {
      const d = text.charCodeAt(j);
      if (WORD_CLASS[d] === NO_WORD) break;
      h = (Math.imul(h, 31) + d) | 0;
    }
    // A letter outside ASCII or a `\u` name may continue the word: the regex reads it.
    if (j < n && notPlainAt(text, j)) return scanByRegex(text, resume, visit);
    if (visit(i, j, h, afterMember)) return true;
    afterMember = false;
    resume = j;
    i = j - 1; // text[j] starts no word but may be the `.` or `->` of the next
  }
  return false;
}

function scanByRegex(text: string, from: number, visit: (start: number, end: number, hash: number, member: boolean) => boolean): boolean {
  // Its own regex object (lastIndex is state; V8 compiles the source once).
  const re = new RegExp(C_MEMBER_OR_WORD_RE.source, 'gu');
  re.lastIndex = from;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const end = m.index + m[0].length;
    const w = m[2]!;
    if (visit(end - w.length, end, wordHash(w), m[1] !== undefined)) return true;
  }
  return false;
}

/** Whether `text` names a word `plain` takes, or after `->` or `.` a member `member` takes (what `C_MEMBER_OR_WORD_RE` reads). */
export function namesMemberOrWord(text: string, plain: (w: string) => boolean, member: (w: string) => boolean): boolean {
  return scanMembersAndWords(text, (s, e, _h, m) => {
    const w = text.slice(s, e);
    return m ? member(w) : plain(w);
  });
}

/** A call's arguments, comments between them left out. */
export function callArguments(call: Node): Node[] {
  return (call.childForFieldName('arguments')?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
}

export function rangeOf(node: Node): Range {
  return {
    start: { line: node.startPosition.row, character: node.startPosition.column },
    end: { line: node.endPosition.row, character: node.endPosition.column },
  };
}

/**
 * The identifier a declarator declares, how many pointer/array levels wrap it, and
 * how many of the innermost are arrays (`u8 sig[4]` 1, `u32 r[2][4]` 2, `u8 *p[4]` 1,
 * `u8 (*p)[4]` 0): the declared object is an array when that is above 0, and its
 * name in an expression is then an address, not a load (C11 6.3.2.1p3).
 */
export function declaredName(declarator: Node | null): { name: string; node: Node; depth: number; arrays: number } | null {
  let depth = 0;
  let arrays = 0;
  let d = declarator;
  for (let guard = 0; d && guard < 64; guard++) {
    switch (d.type) {
      case 'identifier':
      case 'field_identifier':
      case 'type_identifier':
        return { name: d.text, node: d, depth, arrays };
      case 'pointer_declarator':
      case 'array_declarator':
        depth++;
        // Walking from the outside in, the levels nearest the name come last.
        arrays = d.type === 'array_declarator' ? arrays + 1 : 0;
        d = d.childForFieldName('declarator');
        break;
      case 'init_declarator':
      case 'parenthesized_declarator':
      case 'attributed_declarator':
        d = d.childForFieldName('declarator') ?? d.namedChild(0);
        break;
      default:
        return null; // function declarators and anything else declare no data pointer
    }
  }
  return null;
}

/** Name of a function_definition (through pointer-returning declarators). */
export function functionName(def: Node): { name: string; node: Node; params: Node | null } | null {
  let d = def.childForFieldName('declarator');
  for (let guard = 0; d && guard < 16; guard++) {
    if (d.type === 'function_declarator') {
      const inner = d.childForFieldName('declarator');
      if (inner?.type === 'identifier') return { name: inner.text, node: inner, params: d.childForFieldName('parameters') };
      // `int (*f(void))(int)` and the like: keep descending.
      d = inner;
      continue;
    }
    d = d.childForFieldName('declarator');
  }
  return null;
}

/** Parameter names of a parameter_list, in order. */
export function parameterNames(params: Node | null): string[] {
  if (!params) return [];
  const names: string[] = [];
  for (const p of params.namedChildren) {
    if (p?.type !== 'parameter_declaration') continue;
    names.push(declaredName(p.childForFieldName('declarator'))?.name ?? '');
  }
  return names;
}

/** Skips parentheses and casts to the expression that carries the value. */
export function unwrap(node: Node): Node {
  let n = node;
  for (let guard = 0; guard < 64; guard++) {
    if (n.type === 'parenthesized_expression' && n.namedChildCount === 1) n = n.namedChild(0)!;
    else if (n.type === 'cast_expression') n = n.childForFieldName('value') ?? n;
    else break;
  }
  return n;
}

/** Every identifier that appears in an expression (not field names). */
export function identifiersIn(node: Node): Set<string> {
  const out = new Set<string>();
  if (node.type === 'identifier') out.add(node.text);
  for (const id of node.descendantsOfType('identifier')) if (id) out.add(id.text);
  return out;
}

export function isInside(node: Node, types: ReadonlySet<string>, stop?: Node): boolean {
  for (let p = node.parent; p && p.id !== stop?.id; p = p.parent) if (types.has(p.type)) return true;
  return false;
}

/** The expression inside any parentheses around it. */
export function unparen(n: Node): Node {
  let x = n;
  while (x.type === 'parenthesized_expression' && x.namedChildCount === 1) x = x.namedChild(0)!;
  return x;
}
