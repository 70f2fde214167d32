// The value flows of a function body as a lexer sees them (no parse): what provenance
// (c/provenance.ts) could turn into a fact another function reads.
//
// The region audit (audit/regions.ts) parses only the bodies that can matter, and a
// body matters when it names a word the analysis will give a fact: a field stored
// from ioremap() in one function is read in another. These flows let it foresee
// those words before the parse instead of finding them after it and parsing the file
// again. A flow here is a guess, never a fact: the parse and provenance decide; a
// wrong guess only keeps a body (or leaves one to the region audit's next round).

import { NO_WORD, STARTS, WORD_CLASS } from './words';

/** One simple assignment, initialiser or `return` of a body. */
export interface LexFlow {
  /**
   * Where the value goes: `field` for `a->f = ...` / `a.f = ...` (a struct field, by
   * name), `name` for `x = ...` / `T *x = ...` (a variable, by name), `return` for
   * `return ...` (the function's return value; `to` is empty).
   */
  kind: 'field' | 'name' | 'return';
  to: string;
  /** The value's text: [from, end) of the text scanned. */
  from: number;
  end: number;
}

/** One argument list of a call by name: `name(...)`, the list's inside [from, end). */
export interface LexCall {
  name: string;
  from: number;
  end: number;
}

const enum Ch {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Bang = 33,
  Quote = 34,
  Percent = 37,
  Amp = 38,
  Apos = 39,
  LParen = 40,
  RParen = 41,
  Star = 42,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Slash = 47,
  Semi = 59,
  Lt = 60,
  Eq = 61,
  Gt = 62,
  LBracket = 91,
  Backslash = 92,
  RBracket = 93,
  Caret = 94,
  LBrace = 123,
  Pipe = 124,
  RBrace = 125,
}

const isBlank = (c: number) => c === Ch.Space || c === Ch.Tab || c === Ch.Lf || c === Ch.Cr || c === 11 || c === 12;

/**
 * The flows and the calls of `text` between `from` and `to` (a body's inside).
 * Comments and literals are skipped; a value ends at a `;`, at a `,` at its own
 * depth, or at the bracket that closes around it (`if ((x = f()) != NULL)`).
 */
export function lexFlows(text: string, from: number, to: number): { flows: LexFlow[]; calls: LexCall[] } {
  const flows: LexFlow[] = [];
  const calls: LexCall[] = [];
  /** The open brackets' positions ((, [, {), for the calls' argument lists. */
  const open: number[] = [];
  /** Per open `(`: the name before it when it is a call's list. */
  const callee: (string | undefined)[] = [];
  /** The last word read and where it ended (the name before a `(`). */
  let lastWord = '';
  let lastWordEnd = -1;
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c === Ch.Slash && text.charCodeAt(i + 1) === Ch.Star) {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 || e + 2 > to ? to : e + 2;
      continue;
    }
    if (c === Ch.Slash && text.charCodeAt(i + 1) === Ch.Slash) {
      const e = text.indexOf('\n', i + 2);
      i = e < 0 || e > to ? to : e;
      continue;
    }
    if (c === Ch.Quote || c === Ch.Apos) {
      i = skipLiteral(text, i, to);
      lastWord = '';
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < to && isWordPart(text.charCodeAt(j))) j++;
      const w = text.slice(i, j);
      if (w === 'return') {
        const end = valueEnd(text, j, to);
        flows.push({ kind: 'return', to: '', from: j, end });
      }
      lastWord = w;
      lastWordEnd = j;
      i = j;
      continue;
    }
    if (c === Ch.LParen || c === Ch.LBracket || c === Ch.LBrace) {
      open.push(i);
      let name: string | undefined;
      if (c === Ch.LParen && lastWord && onlyBlanks(text, lastWordEnd, i)) name = lastWord;
      callee.push(name);
    } else if (c === Ch.RParen || c === Ch.RBracket || c === Ch.RBrace) {
      const at = open.pop();
      const name = callee.pop();
      if (at !== undefined && name !== undefined && c === Ch.RParen) calls.push({ name, from: at + 1, end: i });
    } else if (c === Ch.Eq && text.charCodeAt(i + 1) !== Ch.Eq) {
      // (`<=`, `|=`, `>>=`, `!=`: no word stands right before their `=`: lhsBefore finds none.)
      const lhs = lhsBefore(text, i, from);
      if (lhs) flows.push({ kind: lhs.field ? 'field' : 'name', to: lhs.name, from: i + 1, end: valueEnd(text, i + 1, to) });
    } else if (c === Ch.Eq && text.charCodeAt(i + 1) === Ch.Eq) {
      i += 2;
      lastWord = '';
      continue;
    }
    if (!isBlank(c)) lastWord = '';
    i++;
  }
  return { flows, calls };
}

/** `[A-Za-z_$]`: words.ts's table of the word scans. */
function isWordStart(c: number): boolean {
  return WORD_CLASS[c] === STARTS;
}

/** `[A-Za-z_$0-9]` (false past the text's end: a NaN code reads no entry). */
function isWordPart(c: number): boolean {
  return WORD_CLASS[c]! > NO_WORD;
}

function onlyBlanks(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (!isBlank(text.charCodeAt(k))) return false;
  return true;
}

/** The index after a string or character literal starting at `i` (its end, or the line's, or `to`). */
function skipLiteral(text: string, i: number, to: number): number {
  const q = text.charCodeAt(i);
  let j = i + 1;
  while (j < to) {
    const c = text.charCodeAt(j);
    if (c === q) return j + 1;
    if (c === Ch.Lf) return j;
    j += c === Ch.Backslash ? 2 : 1;
  }
  return to;
}

/** Where a value starting at `i` ends: a `;`, a `,` at its depth, or a closing bracket below it. */
function valueEnd(text: string, i: number, to: number): number {
  let depth = 0;
  for (let j = i; j < to; j++) {
    const c = text.charCodeAt(j);
    if (c === Ch.Quote || c === Ch.Apos) {
      j = skipLiteral(text, j, to) - 1;
      continue;
    }
    if (c === Ch.Slash && text.charCodeAt(j + 1) === Ch.Star) {
      const e = text.indexOf('*/', j + 2);
      if (e < 0 || e + 2 > to) return to;
      j = e + 1;
      continue;
    }
    if (c === Ch.Semi) return j;
    if (c === Ch.LParen || c === Ch.LBracket || c === Ch.LBrace) depth++;
    else if (c === Ch.RParen || c === Ch.RBracket || c === Ch.RBrace) {
      if (depth === 0) return j;
      depth--;
    } else if (c === Ch.Comma && depth === 0) return j;
  }
  return to;
}

/**
 * What stands before the `=` at `eq`: the last word of an lvalue, and whether it is a
 * member (`->f`, `.f`). Subscripts are stepped over (`a->f[i] = ...` stores into the
 * field `f`); anything else (`*p`, `(x)`, a cast) gives the word before `=` as a name
 * or nothing.
 */
function lhsBefore(text: string, eq: number, from: number): { name: string; field: boolean } | undefined {
  let j = eq - 1;
  while (j >= from && isBlank(text.charCodeAt(j))) j--;
  // `a->f[i][j] = ...`
  while (j >= from && text.charCodeAt(j) === Ch.RBracket) {
    let depth = 0;
    for (; j >= from; j--) {
      const c = text.charCodeAt(j);
      if (c === Ch.RBracket) depth++;
      else if (c === Ch.LBracket && --depth === 0) break;
    }
    j--;
    while (j >= from && isBlank(text.charCodeAt(j))) j--;
  }
  const end = j + 1;
  while (j >= from && isWordPart(text.charCodeAt(j))) j--;
  const start = j + 1;
  if (start >= end || !isWordStart(text.charCodeAt(start))) return undefined;
  while (j >= from && isBlank(text.charCodeAt(j))) j--;
  const c = text.charCodeAt(j);
  const field = (c === Ch.Dot && text.charCodeAt(j - 1) !== Ch.Dot) || (c === Ch.Gt && text.charCodeAt(j - 1) === Ch.Minus);
  return { name: text.slice(start, end), field };
}

/**
 * The parameter names of a definition's header (the text before its `{`): the last
 * word of each top-level item of its last parenthesised list (`void __iomem *base`,
 * `u32 regs[4]`). A function-pointer parameter gives a wrong word or none: a guess.
 */
export function parameterNamesOf(header: string): string[] {
  const close = header.lastIndexOf(')');
  if (close < 0) return [];
  let depth = 0;
  let open = -1;
  for (let j = close; j >= 0; j--) {
    const c = header.charCodeAt(j);
    if (c === Ch.RParen) depth++;
    else if (c === Ch.LParen && --depth === 0) {
      open = j;
      break;
    }
  }
  if (open < 0) return [];
  const out: string[] = [];
  let level = 0;
  let last = '';
  for (let j = open + 1; j < close; j++) {
    const c = header.charCodeAt(j);
    if (c === Ch.LParen || c === Ch.LBracket) level++;
    else if (c === Ch.RParen || c === Ch.RBracket) level--;
    else if (level === 0 && c === Ch.Comma) {
      if (last) out.push(last);
      last = '';
    } else if (level === 0 && isWordStart(c)) {
      let k = j + 1;
      while (k < close && isWordPart(header.charCodeAt(k))) k++;
      last = header.slice(j, k);
      j = k - 1;
    }
  }
  if (last) out.push(last);
  return out;
}

/**
 * Whether the value written in [from, end) can carry what `carrier` words carry, read
 * as provenance evaluates a value (c/provenance.ts `compute`): through casts,
 * parentheses, `+`/`-`, the conditional operator's branches, an assignment's right
 * side, subscripts and `*`, and `&`; a member access carries by its member's name
 * (`p->regs`), or by its base under `&`; a call carries when it is of a carrier (a
 * mapping API, a function returning one) or of a `transparent` name (a macro of the
 * file) given a carrying argument. Any other operator (`==`, `&&`, `|`, `<<`, `!`,
 * `sizeof`) or call (`readl(base + 4)`) makes a value that carries nothing. A guess
 * on the side of carrying where the text is ambiguous.
 */
export function valueCarries(text: string, from: number, end: number, carrier: (w: string) => boolean, transparent: (w: string) => boolean): boolean {
  const t = tokens(text, from, end);
  return new ValueReader(t, carrier, transparent).value(0, t.kind.length);
}

/** Token kinds. */
const WORD = 1;
const NUMBER = 2;
const LITERAL = 3;
const OPEN = 4;
const CLOSE = 5;
const OP = 6;

interface Tokens {
  kind: number[];
  /** The word or operator (brackets: their character), '' for numbers and literals. */
  text: string[];
  /** For an OPEN: the index of its CLOSE (or the end). */
  match: number[];
}

const OPERATORS_3 = new Set(['<<=', '>>=', '...']);
const OPERATORS_2 = new Set(['->', '++', '--', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '##']);

function tokens(text: string, from: number, end: number): Tokens {
  const kind: number[] = [];
  const out: string[] = [];
  const match: number[] = [];
  const open: number[] = [];
  let i = from;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (isBlank(c) || c === Ch.Backslash) {
      i++;
      continue;
    }
    if (c === Ch.Slash && text.charCodeAt(i + 1) === Ch.Star) {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 || e + 2 > end ? end : e + 2;
      continue;
    }
    if (c === Ch.Slash && text.charCodeAt(i + 1) === Ch.Slash) {
      const e = text.indexOf('\n', i + 2);
      i = e < 0 || e > end ? end : e;
      continue;
    }
    if (c === Ch.Quote || c === Ch.Apos) {
      i = skipLiteral(text, i, end);
      kind.push(LITERAL);
      out.push('');
      match.push(-1);
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < end && isWordPart(text.charCodeAt(j))) j++;
      kind.push(WORD);
      out.push(text.slice(i, j));
      match.push(-1);
      i = j;
      continue;
    }
    if (c >= 48 && c <= 57) {
      let j = i + 1;
      while (j < end && (isWordPart(text.charCodeAt(j)) || text.charCodeAt(j) === Ch.Dot)) j++;
      kind.push(NUMBER);
      out.push('');
      match.push(-1);
      i = j;
      continue;
    }
    if (c === Ch.LParen || c === Ch.LBracket || c === Ch.LBrace) {
      open.push(kind.length);
      kind.push(OPEN);
      out.push(text[i]!);
      match.push(-1);
      i++;
      continue;
    }
    if (c === Ch.RParen || c === Ch.RBracket || c === Ch.RBrace) {
      const o = open.pop();
      if (o !== undefined) match[o] = kind.length;
      kind.push(CLOSE);
      out.push(text[i]!);
      match.push(-1);
      i++;
      continue;
    }
    const three = text.slice(i, i + 3);
    const two = text.slice(i, i + 2);
    const op = OPERATORS_3.has(three) ? three : OPERATORS_2.has(two) ? two : text[i]!;
    kind.push(OP);
    out.push(op);
    match.push(-1);
    i += op.length;
  }
  // An unclosed bracket (a value cut by its end) spans to the end.
  for (const o of open) match[o] = kind.length;
  return { kind, text: out, match };
}

/** Prefix operators provenance follows (`&x`, `*p`, `+x`); other unary operators make a value it does not. */
const FOLLOWED_PREFIX = new Set(['&', '*', '+']);
/** Binary operators provenance follows. */
const FOLLOWED_BINARY = new Set(['+', '-']);

class ValueReader {
  constructor(
    private readonly t: Tokens,
    private readonly carrier: (w: string) => boolean,
    private readonly transparent: (w: string) => boolean,
  ) {}

  /** The value of tokens [lo, hi): a conditional, an assignment, or operands joined by operators. */
  value(lo: number, hi: number): boolean {
    const { kind, text, match } = this.t;
    // The conditional operator: the value is one of its branches, not its condition.
    let question = -1;
    let assign = -1;
    for (let k = lo; k < hi; k++) {
      if (kind[k] === OPEN) {
        k = Math.min(match[k]!, hi);
        continue;
      }
      if (kind[k] !== OP) continue;
      if (text[k] === '?' && question < 0) question = k;
      else if (text[k] === '=' && question < 0) assign = k;
    }
    if (question >= 0) {
      let depth = 0;
      for (let k = question + 1; k < hi; k++) {
        if (kind[k] === OPEN) {
          k = Math.min(match[k]!, hi);
          continue;
        }
        if (kind[k] !== OP) continue;
        if (text[k] === '?') depth++;
        else if (text[k] === ':' && depth-- === 0) return this.value(question + 1, k) || this.value(k + 1, hi);
      }
      return this.value(question + 1, hi);
    }
    if (assign >= 0) return this.value(assign + 1, hi);
    // Operands and the operators between them.
    let carries = false;
    let k = lo;
    while (k < hi) {
      const operandEnd = this.operandEnd(k, hi);
      if (operandEnd === k) return carries; // not a value this reader knows
      if (this.operand(k, operandEnd)) carries = true;
      k = operandEnd;
      if (k >= hi) break;
      if (kind[k] !== OP || !FOLLOWED_BINARY.has(text[k]!)) return false; // `==`, `&&`, `|`, `<<`, ...: no provenance
      k++;
    }
    return carries;
  }

  /** Where the operand starting at `k` ends: its prefix operators and casts, its primary, its postfix parts. */
  private operandEnd(k: number, hi: number): number {
    const { kind, text, match } = this.t;
    // Prefix operators and casts.
    while (k < hi) {
      if (kind[k] === OP && text[k] !== '->' && text[k] !== '.') {
        k++;
        continue;
      }
      if (kind[k] === OPEN && text[k] === '(' && this.isCast(k, hi)) {
        k = match[k]! + 1;
        continue;
      }
      if (kind[k] === WORD && text[k] === 'sizeof') {
        // `sizeof(x)` is the whole operand (its parentheses are no cast).
        if (kind[k + 1] === OPEN && text[k + 1] === '(') return Math.min(match[k + 1]! + 1, hi);
        k++;
        continue;
      }
      break;
    }
    if (k >= hi) return k;
    // The primary.
    if (kind[k] === OPEN) k = match[k]! + 1;
    else if (kind[k] === WORD || kind[k] === NUMBER || kind[k] === LITERAL) {
      k++;
      while (k < hi && kind[k] === LITERAL) k++; // "a" "b"
    } else return k;
    // Postfix parts.
    while (k < hi) {
      if (kind[k] === OPEN && (text[k] === '(' || text[k] === '[')) k = match[k]! + 1;
      else if (kind[k] === OP && (text[k] === '->' || text[k] === '.') && kind[k + 1] === WORD) k += 2;
      else if (kind[k] === OP && (text[k] === '++' || text[k] === '--')) k++;
      else break;
    }
    return Math.min(k, hi);
  }

  /** `(` at `k` opens a cast: its inside is words and `*` only, and an operand follows it. */
  private isCast(k: number, hi: number): boolean {
    const { kind, text, match } = this.t;
    const close = match[k]!;
    if (close >= hi || close === k + 1) return false;
    for (let j = k + 1; j < close; j++) if (kind[j] !== WORD && !(kind[j] === OP && text[j] === '*')) return false;
    const next = close + 1;
    if (next >= hi) return false;
    return kind[next] === WORD || kind[next] === NUMBER || kind[next] === LITERAL || (kind[next] === OPEN && text[next] === '(') || (kind[next] === OP && ['&', '*', '-', '+', '!', '~', '++', '--'].includes(text[next]!));
  }

  /** Whether the operand [lo, hi) carries. */
  private operand(lo: number, hi: number): boolean {
    const { kind, text, match } = this.t;
    let address = false;
    let k = lo;
    while (k < hi) {
      if (kind[k] === OP && text[k] !== '->' && text[k] !== '.') {
        if (!FOLLOWED_PREFIX.has(text[k]!)) return false; // `!x`, `~x`, `-x`, `++x`
        if (text[k] === '&') address = true;
        k++;
        continue;
      }
      if (kind[k] === OPEN && text[k] === '(' && this.isCast(k, hi)) {
        k = match[k]! + 1;
        continue;
      }
      if (kind[k] === WORD && text[k] === 'sizeof') return false;
      break;
    }
    if (k >= hi) return false;
    // The primary, and a call's callee.
    let base = false;
    let p = k + 1;
    if (kind[k] === OPEN) {
      const close = Math.min(match[k]!, hi);
      base = text[k] === '(' && this.value(k + 1, close);
      p = close + 1;
    } else if (kind[k] === WORD) {
      const w = text[k]!;
      if (kind[p] === OPEN && text[p] === '(' && p < hi) {
        const close = Math.min(match[p]!, hi);
        base = this.carrier(w) || (this.transparent(w) && this.anyArgument(p + 1, close));
        p = close + 1;
      } else base = this.carrier(w);
    }
    // Postfix: the last member named decides, unless the address of the base is taken.
    let member: string | undefined;
    while (p < hi) {
      if (kind[p] === OPEN) p = match[p]! + 1;
      else if (kind[p] === OP && (text[p] === '->' || text[p] === '.') && kind[p + 1] === WORD) {
        member = text[p + 1];
        p += 2;
      } else p++;
    }
    if (member === undefined) return base;
    if (this.carrier(member)) return true;
    // `&regs->ctrl`: an address inside what the base points at.
    return address && base;
  }

  /** Whether any comma-separated value of [lo, hi) carries. */
  private anyArgument(lo: number, hi: number): boolean {
    const { kind, text, match } = this.t;
    let from = lo;
    for (let k = lo; k <= hi; k++) {
      if (k < hi && kind[k] === OPEN) {
        k = Math.min(match[k]!, hi - 1);
        continue;
      }
      if (k === hi || (kind[k] === OP && text[k] === ',')) {
        if (k > from && this.value(from, k)) return true;
        from = k + 1;
      }
    }
    return false;
  }
}

/** The comma-separated items of [from, end) (a call's argument list) as spans, at its own depth. */
export function itemsOf(text: string, from: number, end: number): [number, number][] {
  const out: [number, number][] = [];
  let depth = 0;
  let start = from;
  for (let j = from; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === Ch.Quote || c === Ch.Apos) {
      j = skipLiteral(text, j, end) - 1;
      continue;
    }
    if (c === Ch.LParen || c === Ch.LBracket || c === Ch.LBrace) depth++;
    else if (c === Ch.RParen || c === Ch.RBracket || c === Ch.RBrace) depth--;
    else if (c === Ch.Comma && depth === 0) {
      out.push([start, j]);
      start = j + 1;
    }
  }
  out.push([start, end]);
  return out;
}
