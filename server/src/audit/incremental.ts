// Re-analysis of an open document after an edit inside one function body.
//
// A full audit of a 10,000-line driver costs ~400 ms of CPU per keystroke, almost
// all of it analyses of functions the edit did not touch. When the edit (the span
// between the common prefix and suffix of the old and new text) lies inside one
// function's braces, only that function's sites can change, unless the function
// hands facts to others. What a function can hand on, and how each is covered:
//  - accessor wrappers: only static inline functions and macros become wrappers; an
//    edit in a wrapper, in a static inline function that becomes one, or one that
//    touches a directive line, is audited whole;
//  - `__iomem` declarations outside function bodies: not in the edited span by
//    construction; bodies holding `__iomem` are analysed with the edited one;
//  - MMIO provenance (provenance.ts): globals, struct fields, return values and
//    static functions' parameters a function sets. When the edited function sets
//    none (before and after), the previous run's events (what each flow did that
//    others see, and when) of the blanked functions are replayed into the slice's run
//    at the points where they happened, and what the edited function's own flows did
//    must be what they did before; else the functions that set any of them in the
//    previous audit (its trace) are analysed with the edited one, and the facts the
//    new run derives must equal the previous ones moved by the edit; otherwise the
//    whole file is audited.
// The analysed text is the new text with every other function body blanked (same
// length, newlines kept), so positions are file positions; the sites of the blanked
// functions are the previous audit's, moved by the edit's line and column delta.
// Parse errors the edit leaves alone (ixgbe_main.c: an `#ifdef` giving a function
// two headers) are kept in the slice as they stand: the functions they touch are not
// blanked, the edited function may not touch one, and the slice must fail to parse
// exactly where the previous text did, moved by the edit (every ERROR and MISSING
// node). Anything this cannot vouch for (another parse error, a structural change, a
// range of a kept site that overlaps the edit, the round cap of the provenance
// fixpoint) falls back to the full audit, which is always right.

import type { CParser, Node } from '../c/parser';
import { analyzeFile, nestingHint, NESTING_HINT_LIMIT, type FileResult, type FunctionSpan } from '../c/analyze';
import type { ProvenanceTrace, TraceEvent } from '../c/provenance';
import { emptyKnowledge, mergeKnowledge, type Knowledge, type Wrapper } from '../c/knowledge';
import { commonEnds, diffEdit, type ParsedFile } from '../c/parser';
import { errorSpans, lineAt } from '../c/errorRegions';
import { functionView } from '../c/functions';
import type { FunctionView, Position, Range, Site, SourceAnalysis } from '../c/types';
import { C_WORD_RE, someWord } from '../c/syntax';
import { blankedText } from '../c/regions';
import { lastAtOrBefore } from '../sorted';

/** What the previous audit of a document left for the next edit. */
export interface AnalysisMemory {
  text: string;
  /** The analysis's own sites (before any compiled-form additions), in analysis order. */
  sites: Site[];
  table: FunctionSpan[];
  callsFrom: Map<string, Set<string>>;
  trace: ProvenanceTrace;
  /** What the headers taught, as text: another value means another analysis. */
  imported: string;
  /** The file's own wrappers (static inline functions and macros), at this text's positions. */
  wrappers: Map<string, Wrapper>;
  functions: FunctionView[];
  /** Every ERROR and MISSING node of the file's parse, [start, end) at this text's offsets (errorSpans). */
  errors: [number, number][];
  /** An upper bound of nestingHint(text) (its exact value after a full analysis). */
  hint: number;
  /** Offsets at which each line of `text` starts. */
  lineStarts: number[];
  /** Per definition of `table`, what the slice took of its text (its text is unchanged until an edit lands in it). */
  blanks: (BlankMemo | undefined)[];
  /**
   * Top-level declarations the slice may leave out (declarationsOf), at this text's
   * offsets: prototypes, tables, module parameters; never a type's definition.
   */
  decls: TopDeclaration[];
  /** The file's macros (`#define` lines) as their name and the words of their body (factNames). */
  macros: [string, string[]][];
  /**
   * The words through which a function can read what the trace's facts hold
   * (factNames), or undefined until first needed.
   */
  factWords?: Set<string>;
}

/** A top-level declaration the slice leaves out unless the kept text names what it declares. */
interface TopDeclaration {
  start: number;
  end: number;
  /** The names it declares. */
  names: string[];
  /** The words of its text (named once it is kept: an initialiser's names). */
  words: string[];
  /** Its text compacted. */
  blank?: string;
}

/** What blanking one definition needs of its text, kept while the text is unchanged. */
interface BlankMemo {
  /**
   * It holds `__iomem`, or a directive other than a conditional branch that could not
   * be kept alone (keptDirectives): never blanked. Undefined until the definition is
   * to be blanked: a kept one needs only its words, and keptDirectives parses a body
   * holding a `#define` twice (igb_clean_tx_irq, 4.8 KB: at every keystroke in it).
   */
  never?: boolean;
  /** Its body's directives kept (a `#define` the kept code may read), [start, end) relative to its body's inside (keptDirectives). */
  directives?: [number, number][];
  /** The compacted stretches between them. */
  gaps?: string[];
  /** The words of its text (read when it is kept). */
  words?: string[];
  /** Its body's inside, compacted; the whole definition, compacted. */
  body?: string;
  whole?: string;
}

export function emptyTrace(): ProvenanceTrace {
  return { writers: new Set(), facts: new Map(), plain: new Set(), plainBy: new Map(), capped: false, events: [] };
}

/** The memory a full analysis leaves, or undefined when an edit could not reuse it. */
export function memoryOf(text: string, parsed: ParsedFile, result: FileResult, trace: ProvenanceTrace, imported: string): AnalysisMemory | undefined {
  if (trace.capped || parsed.prepared.text.length !== text.length) return undefined;
  const hint = nestingHint(text);
  if (hint > NESTING_HINT_LIMIT) return undefined;
  const errors = errorSpans(parsed.tree.rootNode);
  if (errors.length !== result.analysis.parseErrors) return undefined;
  // A definition inside another (a function pasted into a body: a parse error) would be
  // blanked inside the one kept around it, or blanked twice.
  if (result.table.some((d, i) => i > 0 && d.start < result.table[i - 1]!.end)) return undefined;
  return { text, sites: [...result.analysis.sites], table: result.table, callsFrom: result.callsFrom, trace, imported, wrappers: new Map(result.exports.wrappers), functions: result.analysis.functions, errors, hint, lineStarts: lineStartsOf(text), blanks: [], macros: macrosOf(text), decls: declarationsOf(parsed.tree.rootNode, text, errors) };
}

/**
 * The file's top-level declarations that declare only names (a prototype, a table,
 * `module_param(...)`): no type's definition (a struct's fields are read by name),
 * no `__iomem`, no directive, no parse error near it, and every declarator's name
 * known. What they declare matters to the kept text only through those names. And
 * its top-level comments alone on their lines (declaring nothing: always left out).
 */
function declarationsOf(root: Node, text: string, errors: readonly [number, number][]): TopDeclaration[] {
  const out: TopDeclaration[] = [];
  for (const n of root.children) {
    if (!n || (n.type !== 'declaration' && n.type !== 'comment') || n.hasError) continue;
    const start = n.startIndex;
    const end = n.endIndex;
    if (errors.some(([a, b]) => a <= end && start <= b)) continue;
    if (n.type === 'comment') {
      // A comment alone on its lines is whitespace to the compiler (kernel-doc: a third
      // of igb_main.c's slice), unless a line continued into it.
      const lineStart = text.lastIndexOf('\n', start - 1) + 1;
      const lineEnd = text.indexOf('\n', end);
      if (/^[ \t]*$/.test(text.slice(lineStart, start)) && /^[ \t\r]*$/.test(text.slice(end, lineEnd < 0 ? text.length : lineEnd)) && !/\\\r?\n$/.test(text.slice(Math.max(0, lineStart - 3), lineStart))) {
        out.push({ start, end, names: [], words: [] });
      }
      continue;
    }
    const own = text.slice(start, end);
    if (own.includes('__iomem') || DIRECTIVE_RE.test(own) || n.descendantsOfType(['field_declaration_list', 'enumerator_list']).length) continue;
    const names: string[] = [];
    let known = true;
    for (const d of n.childrenForFieldName('declarator')) {
      const name = d && nameOf(d);
      if (name) names.push(name);
      else known = false;
    }
    if (known && names.length) out.push({ start, end, names, words: own.match(C_WORD_RE) ?? [] });
  }
  return out;
}

/** The name a declarator declares (through pointers, arrays, parameters lists, initialisers). */
function nameOf(d: Node): string | undefined {
  let x: Node | null = d;
  for (let guard = 0; x && guard < 64; guard++) {
    if (x.type === 'identifier') return x.text;
    if (!['pointer_declarator', 'array_declarator', 'function_declarator', 'init_declarator', 'parenthesized_declarator', 'attributed_declarator'].includes(x.type)) return undefined;
    x = x.childForFieldName('declarator') ?? (x.type === 'parenthesized_declarator' || x.type === 'attributed_declarator' ? x.namedChild(0) : null);
  }
  return undefined;
}

/** Every `#define` of the text (continuations joined), as its name and the words of the rest. */
export function macrosOf(text: string): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const m of text.matchAll(/^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)((?:[^\n]*\\\r?\n)*[^\n]*)/gm)) out.push([m[1]!, m[2]!.match(C_WORD_RE) ?? []]);
  return out;
}

/**
 * The words a function's text must name to read anything the trace's facts hold:
 * the slot name of each fact (a field, a global, a function whose return value or
 * parameter carries MMIO), each plain entry's name, and, closed over the file's
 * macros, the name of every macro whose body names one of these (a macro of the
 * file is expanded where it is called). A function naming none of them reads no
 * fact: what provenance.ts finds in it is what it finds with every other body blanked.
 */
export function factNames(trace: ProvenanceTrace, macros: readonly [string, string[]][]): Set<string> {
  const out = new Set<string>();
  for (const key of [...trace.facts.keys(), ...trace.plain, ...trace.plainBy.keys()]) {
    const m = /([A-Za-z_$][\w$]*)$/.exec(key);
    if (m) out.add(m[1]!);
  }
  if (!out.size) return out;
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, words] of macros) {
      if (out.has(name) || !words.some((w) => out.has(w))) continue;
      out.add(name);
      grew = true;
    }
  }
  return out;
}

/** A stable text of what the headers taught (compared between two audits). */
export function knowledgeKey(k: Knowledge): string {
  if (!k.wrappers.size && !k.fields.size && !k.globals.size && !k.plainFields.size) return '';
  return JSON.stringify([[...k.wrappers], [...k.fields], [...k.plainFields], [...k.globals]]);
}

/** Why an edit cannot be taken incrementally (the full audit runs instead). */
class Fallback extends Error {}

export interface IncrementalResult {
  analysis: SourceAnalysis;
  memory: AnalysisMemory;
  /** The text analysed: other bodies blanked (what the tests check of the blanking). */
  slice: string;
  /**
   * How the facts other functions hand on were had: the edited function names none
   * (`alone`), the previous run's events replayed (`replayed`), the functions that set
   * them analysed with it (`writers`); `same` for the same text again.
   */
  path: 'alone' | 'replayed' | 'writers' | 'same';
}

/**
 * The analysis of `text` from the memory of the previous text's, re-analysing only
 * the edited function; `fallback` says why the full analysis must run instead.
 */
export function analyseEdit(parser: CParser, mem: AnalysisMemory, text: string, file: string, imported: Knowledge, importedKey: string): IncrementalResult | { fallback: string } {
  try {
    if (importedKey !== mem.imported) fallback('the headers taught something else');
    return analyse(parser, mem, text, file, imported, importedKey);
  } catch (e) {
    if (e instanceof Fallback) return { fallback: e.message };
    throw e;
  }
}

function fallback(why: string): never {
  throw new Fallback(why);
}

function analyse(parser: CParser, mem: AnalysisMemory, text: string, file: string, imported: Knowledge, importedKey: string): IncrementalResult {
  const old = mem.text;
  const edit = editOf(old, text, mem.lineStarts);
  // The same text again (a refresh): the same analysis.
  if (!edit) return { analysis: { sites: [...mem.sites], functions: mem.functions, parseErrors: mem.errors.length }, memory: mem, slice: text, path: 'same' };
  const { start, oldEnd, delta } = edit;
  // The function whose braces hold the whole edit.
  const k = mem.table.findIndex((d) => d.bodyStart >= 0 && d.bodyStart < start && oldEnd < d.bodyEnd);
  if (k < 0) return fallback('the edit is not inside one function body');
  const fn = mem.table[k]!;
  // A wrapper's callers' sites are made of its chain: an edit in one audits the whole file.
  // A static inline function that is none may become one: the slice's run says (below).
  if (fn.isStatic && fn.isInline && mem.wrappers.has(fn.name)) return fallback('a static inline wrapper');
  if (mem.table.some((d, i) => i !== k && d.name === fn.name)) return fallback('another definition has that name'); // callsFrom is by name
  const newBody = text.slice(fn.bodyStart, fn.bodyEnd + delta);
  const oldBody = old.slice(fn.bodyStart, fn.bodyEnd);
  // Conditional branches and `#define`/`#undef` lines the edit leaves alone are parsed
  // in the slice as in the file (the body is kept whole). A macro's body is analysed
  // with the file's macros, not the function's statements (the slice's run skips macro
  // bodies): the sites inside a `#define` of the edited body are the previous audit's,
  // moved (`defineSpans`), as its wrappers are. Any other directive (`#include`,
  // `#pragma`, ...), or a directive line the edit adds, removes or changes, changes what
  // the previous audit decided about the file. (igb_main.c: igb_probe, igb_clean_tx_irq
  // and igb_can_reuse_rx_page hold a `#define`; every keystroke in them audited the
  // whole file.)
  const dirs = directives(oldBody);
  if (dirs.some((d) => !CONDITIONAL_RE.test(d) && !DEFINE_RE.test(d))) return fallback('a directive in the body');
  if (!sameLines(dirs, directives(newBody))) return fallback('a directive in the body changed');
  const defines = dirs.some((d) => DEFINE_RE.test(d)) ? defineSpans(oldBody, fn.bodyStart) : [];
  if (defines === undefined) return fallback('a directive in the body');
  const hint = hintAfter(mem.hint, old, text, edit);
  if (hint > NESTING_HINT_LIMIT) return fallback('generated nesting');
  // A parse error in or next to the edited function may be changed by the edit.
  const touchesError = (d: FunctionSpan) => mem.errors.some(([a, b]) => a <= d.end && d.start <= b);
  if (touchesError(fn)) return fallback('a parse error in or next to the edited function');

  const at = (i: number) => (i >= oldEnd ? i + delta : i);
  const table: FunctionSpan[] = mem.table.map((d, i) =>
    i === k
      ? { ...d, end: d.end + delta, bodyEnd: d.bodyEnd + delta, range: shiftRange(edit, d.range, true) }
      : i < k
        ? d
        : { ...d, start: at(d.start), end: at(d.end), bodyStart: at(d.bodyStart), bodyEnd: at(d.bodyEnd), range: shiftRange(edit, d.range) },
  );

  // The text analysed: other bodies blanked unless they hand facts on.
  // A function that neither set a fact nor names one (factNames) is analysed alone:
  // the facts stand as the previous audit found them, and the slice's run need only
  // show that the function sets none now (writers re-analysed to compare their facts
  // were most of each slice: igb_probe's 13 KB at every keystroke in igb_main.c).
  const relevantBefore = relevantPlain(mem.trace);
  const factWords = (mem.factWords ??= factNames(mem.trace, mem.macros));
  const hands = mem.trace.writers.has(fn.start) || [...mem.trace.plainBy.values()].some((by) => by.has(fn.start));
  const alone = !hands && !namesAny(text.slice(fn.start, fn.end + delta), factWords);
  // A function that names a fact but sets none is analysed without the writers too: what
  // their flows did is replayed into the slice's run at the points of the run where the
  // previous run did it (ProvenanceTrace.replay), so the function reads at each point
  // what it read in a full run (igb_main.c: igb_clean_tx_irq reads `tail`, whose writers
  // made its slice 37-40 KB instead of 15-20). Not when a field or global was given
  // normal memory (M:, S:): those are read before the run's rounds, not replayed.
  const needed = new Set<number>();
  // A function a parse error touches stays whole: blanking it could change how the error reads.
  const keep = (d: FunctionSpan, i: number) => i === k || needed.has(mem.table[i]!.start) || d.bodyStart < 0 || (mem.errors.length > 0 && touchesError(mem.table[i]!));
  // A function no kept body names goes whole (its header too: a prototype-free
  // definition still costs a parse, a scope and a type walk); one that is named keeps
  // its header (its parameters and return type are what a call reads).
  // Other definitions' texts are unchanged: what was read of them is kept (`blanks`).
  const blanks = mem.blanks.slice(0, table.length);
  blanks[k] = undefined;
  const memo = (i: number): BlankMemo => {
    let b = blanks[i];
    if (!b) {
      blanks[i] = b = {};
      // The previous memory's too when definition i is not the edited one (its text is
      // the same in both), so an edit analysed from the same memory again (a warm-up's
      // made-up keystroke, AuditEngine.warmEdit) finds it read.
      if (i !== k) mem.blanks[i] ??= b;
    }
    return b;
  };
  /** How definition i may be blanked (memo's `never` and `directives`), read once. */
  const blankable = (d: FunctionSpan, i: number): BlankMemo => {
    const b = memo(i);
    if (b.never === undefined) {
      const all = text.slice(d.start, d.end);
      // Conditional branches go with the body (an `#if` left open or closed twice by the
      // blanking shows as a parse error or another table, and the full audit runs); any
      // other directive (a `#define` the kept code may read) stays.
      const other = DIRECTIVE_RE.test(all) && !directives(all).every((x) => CONDITIONAL_RE.test(x));
      const kept = other && d.bodyStart >= 0 && !all.includes('__iomem') ? keptDirectives(parser, text, d) : undefined;
      if (kept === undefined) b.never = all.includes('__iomem') || other;
      else {
        b.never = false;
        b.directives = kept;
      }
    }
    return b;
  };
  // Nor when a definition the slice keeps anyway (a parse error touches it, it has no
  // body, it is never blanked) or file scope sets a fact: the slice's run would set it
  // again beside its replayed events (ixgbe_main.c: ixgbe_probe holds `__iomem`).
  const keptWriter = () => mem.trace.writers.has(-1) || table.some((d, i) => i !== k && mem.trace.writers.has(mem.table[i]!.start) && (keep(d, i) || !!blankable(d, i).never));
  const seeded = !alone && !hands && !!mem.trace.events && ![...relevantBefore].some((p) => p.startsWith('M:') || p.startsWith('S:')) && !keptWriter();
  // Otherwise the functions that set facts are analysed with it. A fact of the plain
  // kind (a set of names) needs one function that adds it: the first.
  if (!alone && !seeded) {
    for (const w of mem.trace.writers) needed.add(w);
    for (const [key, by] of mem.trace.plainBy) if (relevantBefore.has(key)) needed.add(Math.min(...by));
  }
  const named = new Set<string>();
  table.forEach((d, i) => {
    if (!keep(d, i)) return;
    const b = memo(i);
    for (const w of (b.words ??= text.slice(d.start, d.end).match(C_WORD_RE) ?? [])) named.add(w);
  });
  const removed = new Set<number>();
  const parts: string[] = [];
  let from = 0;
  // The lines inside a blanked span are left empty (their line ends kept), so the
  // slice is a fraction of the file (igb_main.c: 85 KB instead of 279 KB prepared,
  // scanned and parsed at every keystroke) while every line and
  // column stays the file's: a position in the slice is the file position. Offsets
  // are not: `toFile` maps one back (never needed inside a blanked span).
  let sliceAt = 0;
  const regionEnds: number[] = [];
  const dropped: number[] = [];
  /** Each blanked span's start and end in the file (the new text). */
  const blankedFrom: number[] = [];
  const blankedTo: number[] = [];
  const blankOut = (a: number, b: number, blank: string) => {
    parts.push(text.slice(from, a), blank);
    blankedFrom.push(a);
    blankedTo.push(b);
    sliceAt += a - from + blank.length;
    regionEnds.push(sliceAt);
    dropped.push((dropped[dropped.length - 1] ?? 0) + (b - a - blank.length));
    from = b;
  };
  // Top-level declarations no kept text names go too (igb_main.c: ~100 prototypes, the
  // PCI table); a kept one's words are named in turn (an initialiser naming a table).
  const decls = mem.decls.map((x) => (x.start < fn.start ? x : { ...x, start: at(x.start), end: at(x.end) }));
  const keptDecl = decls.map(() => false);
  for (let grew = true; grew; ) {
    grew = false;
    decls.forEach((x, j) => {
      if (keptDecl[j] || !x.names.some((w) => named.has(w))) return;
      keptDecl[j] = true;
      grew = true;
      for (const w of x.words) named.add(w);
    });
  }
  const regions: [number, number, () => string][] = [];
  decls.forEach((x, j) => {
    if (!keptDecl[j]) regions.push([x.start, x.end, () => (x.blank = mem.decls[j]!.blank ??= compacted(text.slice(x.start, x.end), text[x.end]))]);
  });
  table.forEach((d, i) => {
    if (keep(d, i)) return;
    const m = blankable(d, i);
    if (m.never) return;
    if (m.directives) {
      // The header and the directives stay; each stretch of the body between them is blanked.
      const spans = gapsOf(d.bodyStart + 1, d.bodyEnd - 1, m.directives);
      const gaps = (m.gaps ??= spans.map(([a, b]) => compacted(text.slice(a, b), text[b])));
      spans.forEach(([a, b], j) => regions.push([a, b, () => gaps[j]!]));
      return;
    }
    const whole = !named.has(d.name);
    const [a, b] = whole ? [d.start, d.end] : [d.bodyStart + 1, d.bodyEnd - 1];
    if (whole) removed.add(i);
    regions.push([a, b, () => (whole ? (m.whole ??= compacted(text.slice(a, b), text[b])) : (m.body ??= compacted(text.slice(a, b), text[b])))]);
  });
  regions.sort((x, y) => x[0] - y[0]);
  for (const [a, b, blank] of regions) {
    if (a < from) return fallback('blanked spans overlap');
    blankOut(a, b, blank());
  }
  parts.push(text.slice(from));
  const slice = parts.join('');
  const toFile = (o: number): number => {
    if (o < 0) return o;
    const j = lastAtOrBefore(regionEnds, o, (e) => e);
    return j < 0 ? o : o + dropped[j]!;
  };

  /**
   * Where file offset `o` (the new text) stands among the slice's offsets: a kept
   * character's own offset; inside a blanked span, half a character before the span's
   * blank (after every kept flow before it, before every one after it).
   */
  const toSlice = (o: number): number => {
    const j = lastAtOrBefore(blankedFrom, o, (x) => x);
    if (j < 0) return o;
    const blankStart = regionEnds[j]! - (blankedTo[j]! - blankedFrom[j]! - (dropped[j]! - (dropped[j - 1] ?? 0)));
    return o < blankedTo[j]! ? blankStart - 0.5 : o - dropped[j]!;
  };
  const isBlanked = (o: number): boolean => {
    const j = lastAtOrBefore(blankedFrom, o, (x) => x);
    return j >= 0 && o < blankedTo[j]!;
  };
  // The previous run's events, moved by the edit: those of blanked flows are replayed
  // (seeded) or kept as they were; those of kept flows are the slice's run's to repeat.
  const facts = seeded || alone ? movedFacts(edit, file, mem.trace.facts) : undefined;
  const replay: TraceEvent[] = [];
  const outside: TraceEvent[] = [];
  const repeated: TraceEvent[] = [];
  for (const e of mem.trace.events ?? []) {
    const inFn = e.at >= fn.start && e.at < fn.end;
    const moved: TraceEvent = inFn ? e : movedEvent(edit, e);
    if (!inFn && isBlanked(moved.at)) {
      outside.push(moved);
      if (seeded) {
        const key = sliceKeyOf(moved.key, toSlice);
        replay.push(moved.kind === 'slot' ? { ...moved, at: toSlice(moved.at), key, value: facts!.get(moved.key)! } : { ...moved, at: toSlice(moved.at) });
      }
    } else repeated.push(moved);
  }
  if (seeded && replay.some((e) => e.kind === 'slot' && !e.value)) return fallback('the provenance facts changed');

  // The file's wrappers come from the previous audit (static inline bodies and macros
  // are outside the edit), first as in analyze.ts, then what the headers teach.
  const wrappers = new Map<string, Wrapper>();
  for (const [name, w] of mem.wrappers) wrappers.set(name, w.chain.some((c) => c.file === file) ? { ...w, chain: w.chain.map((c) => (c.file === file ? { ...c, range: shiftRange(edit, c.range) } : c)) } : w);
  const known = emptyKnowledge();
  for (const [name, w] of wrappers) known.wrappers.set(name, w);
  mergeKnowledge(known, imported);

  // Parsed against the previous slice's tree (kept by the parser under its own key):
  // a typist's next edit is mostly in the same function, so the slice barely changes.
  const parsed = parser.parse(sliceKey(file), slice);
  {
    if (parsed.prepared.text.length !== slice.length) return fallback('the annotation rewrite changed the length');
    // The slice fails to parse exactly where the previous text did (moved): the
    // errors are the file's own, not the edit's nor the blanking's.
    const errors = errorSpans(parsed.tree.rootNode).map(([a, b]): [number, number] => [toFile(a), toFile(b)]);
    if (errors.length !== mem.errors.length || errors.some(([a, b], i) => a !== at(mem.errors[i]![0]) || b !== at(mem.errors[i]![1]))) return fallback('parse errors');
    const sliceTrace = emptyTrace();
    if (seeded) sliceTrace.replay = replay;
    const result = analyzeFile(parser, parsed, file, known, { trace: sliceTrace, skipMacroBodies: true });
    const trace = traceAt(sliceTrace, toFile);
    // The edited function, static inline, became a wrapper: every call of it is a site now.
    // (ixgbe_main.c: 8 of the bench's 80 edits land in static inline functions, none a wrapper.)
    if (fn.isStatic && fn.isInline && result.exports.wrappers.has(fn.name)) return fallback('a static inline function became a wrapper');
    // The same definitions where they were, the edited one ending where its body now ends.
    const expected = table.filter((_, i) => !removed.has(i));
    if (result.table.length !== expected.length) return fallback('the definitions changed');
    for (let i = 0; i < expected.length; i++) {
      const a = result.table[i]!;
      const b = expected[i]!;
      if (a.name !== b.name || toFile(a.start) !== b.start || toFile(a.end) !== b.end || toFile(a.bodyStart) !== b.bodyStart || toFile(a.bodyEnd) !== b.bodyEnd || a.isStatic !== b.isStatic || a.isInline !== b.isInline) return fallback('the definitions changed');
    }
    if (trace.capped) return fallback('the provenance facts changed');
    // What the edited function's flows did that others see (a variable of its own given
    // MMIO makes expressions naming it live everywhere; a field name given a plain
    // value) is what it did before, in the same rounds: else the other functions' events
    // (replayed, or kept for the next edit) may not be what a full run does now.
    // Seeded, every other kept flow did what it did too (their events are the same).
    const fnEnd = table[k]!.end;
    const inNewFn = (e: TraceEvent) => e.at >= fn.start && e.at < fnEnd;
    if (alone || seeded) {
      const sig = (e: TraceEvent, inFn: boolean) => `${e.round}\0${e.kind}\0${e.key}\0${inFn ? '' : e.at}`;
      const was = repeated.filter((e) => seeded || (e.at >= fn.start && e.at < fn.end)).map((e) => sig(e, e.at >= fn.start && e.at < fn.end)).sort();
      const now = (trace.events ?? []).filter((e) => seeded || inNewFn(e)).map((e) => sig(e, inNewFn(e))).sort();
      // Not analysed again with the writers: a function neither sets facts nor is kept
      // (one reading a field that another's now live flow gave a plain value first) may
      // find something else now. (The path of a function naming no fact took such edits
      // before this check, and kept that function's sites: a full audit finds others.)
      if (was.length !== now.length || was.some((x, i) => x !== now[i])) return fallback('what the edited function hands on changed');
    }
    if (seeded && trace.writers.size) return fallback('the edited function sets a fact');
    if (alone) {
      // It sets no fact now either (else the others may read it: the full audit runs).
      if (trace.writers.has(table[k]!.start)) return fallback('the edited function sets a fact');
    } else if (seeded) {
      // The facts are the previous ones, moved (replayed, not re-derived; none is set in the slice).
    } else if (!sameFacts(edit, file, mem.trace, trace) || !sameSet(relevantBefore, relevantPlain(trace))) return fallback('the provenance facts changed');

    // Sites: the edited function's from this run, every other one moved.
    const fnNew = table[k]!;
    const inFn = (s: Site, lo: number, hi: number, starts: number[]) => {
      const o = offsetIn(starts, s.range.start);
      return o >= lo && o < hi;
    };
    const oldStarts = mem.lineStarts;
    const newStarts = startsAfter(oldStarts, edit, text);
    // A site inside one of the edited body's `#define`s is a macro body's: kept, moved (the slice's run skips macro bodies).
    const inDefine = (s: Site) => {
      const o = offsetIn(oldStarts, s.range.start);
      return defines.some(([a, b]) => a <= o && o < b);
    };
    const gone: Site[] = [];
    const kept = mem.sites.filter((s) => !inFn(s, fn.start, fn.end, oldStarts) || (defines.length > 0 && inDefine(s)) || (gone.push(s), false)).map((s) => shiftSite(edit, file, s));
    const fresh = result.analysis.sites.filter((s) => inFn(s, fnNew.start, fnNew.end, newStarts));
    const sites = [...kept, ...fresh].sort(byPosition);

    const callsFrom = new Map(mem.callsFrom);
    const mine = result.callsFrom.get(fn.name);
    if (mine) callsFrom.set(fn.name, mine);
    else callsFrom.delete(fn.name);
    // The function view is made of the definitions (unchanged but moved, checked above),
    // each one's site count and its callees: when the edited function's sites count as
    // before and it calls what it called, the view is the previous one, moved
    // (functionView walks every function's callees again: 261 in igb_main.c, per keystroke).
    const oldMine = mem.callsFrom.get(fn.name);
    const sameView = (mine ? !!oldMine && sameSet(mine, oldMine) : !oldMine?.size) && sameCounts(gone, fresh);
    let functions: FunctionView[];
    if (sameView) functions = mem.functions.map((v, i) => (v.range === table[i]!.range ? v : { ...v, range: table[i]!.range }));
    else {
      const direct = new Map<string, number>();
      for (const s of sites) if (s.function) direct.set(s.function, (direct.get(s.function) ?? 0) + 1);
      functions = functionView(table, direct, callsFrom);
    }

    const moved = (w: number) => (w < 0 ? w : at(w));
    const writers = new Set<number>();
    for (const w of mem.trace.writers) if (w !== fn.start) writers.add(moved(w));
    if (trace.writers.has(fn.start)) writers.add(fn.start);
    // Who adds each plain fact: the previous producers but the edited function, which says anew.
    const plainBy = new Map<string, Set<number>>();
    for (const [key, by] of mem.trace.plainBy) {
      const set = new Set<number>();
      for (const w of by) if (w !== fn.start) set.add(moved(w));
      if (trace.plainBy.get(key)?.has(fn.start)) set.add(fn.start);
      if (set.size) plainBy.set(key, set);
    }
    for (const [key, by] of trace.plainBy) if (by.has(fn.start) && !plainBy.has(key)) plainBy.set(key, new Set([fn.start]));
    // Analysed alone, the slice's run saw no other function's facts: the previous ones
    // stand (no other body changed, and the edited function sets none), moved by the edit.
    const nextFacts = facts ?? trace.facts;
    const plain = new Set([...(facts ? mem.trace.plain : trace.plain), ...plainBy.keys()]);
    // The events: the blanked flows' as they were (moved), the kept flows' from this run
    // (seeded or alone: equal to the previous ones but for the edited function's).
    const events = mem.trace.events && trace.events ? [...outside, ...(facts ? [...repeated.filter((e) => !(e.at >= fn.start && e.at < fn.end)), ...trace.events.filter(inNewFn)] : trace.events)].sort(byRunOrder) : undefined;
    const nextTrace: ProvenanceTrace = { writers, facts: nextFacts, plain, plainBy, capped: false, ...(events ? { events } : {}) };
    if (facts && !sameSet(relevantBefore, relevantPlain(nextTrace))) return fallback('the provenance facts changed');
    const memory: AnalysisMemory = {
      text,
      sites,
      table,
      callsFrom,
      trace: nextTrace,
      imported: importedKey,
      wrappers,
      functions,
      errors,
      hint,
      lineStarts: newStarts,
      blanks,
      decls,
      macros: mem.macros,
      // The same facts and plain entries give the same words.
      ...(sameSet(plain, mem.trace.plain) && nextFacts.size === mem.trace.facts.size ? { factWords } : {}),
    };
    return { analysis: { sites: [...sites], functions: memory.functions, parseErrors: errors.length }, memory, slice, path: alone ? 'alone' : seeded ? 'replayed' : 'writers' };
  }
}

/**
 * A made-up keystroke for warming the incremental path (AuditEngine.warmEdit): the
 * memory's text with a space typed after the `{` of the `k`-th of `of` function
 * bodies spread over the file (static inline functions left out: an edit in a
 * wrapper audits the whole file). Undefined when the file has no such body.
 */
export function warmingText(mem: AnalysisMemory, k: number, of: number): string | undefined {
  const bodies = mem.table.filter((d) => d.bodyStart >= 0 && !(d.isStatic && d.isInline));
  const d = bodies[Math.floor(((k + 0.5) * bodies.length) / Math.max(of, 1))];
  if (!d) return undefined;
  return `${mem.text.slice(0, d.bodyStart + 1)} ${mem.text.slice(d.bodyStart + 1)}`;
}

/** The parser-cache key of a document's analysed slice (the engine forgets it with the document). */
export function sliceKey(file: string): string {
  return `${file}\0slice`;
}

const DIRECTIVE_RE = /^[ \t]*#/m;


/**
 * A blanked span whose lines are emptied but for their line ends, and but for its
 * last line's part when text follows the span on that line (`after`: the character
 * after the span; undefined at the end of the text): that part becomes spaces, so the
 * text after it keeps its columns. Lines and columns outside the span are unchanged:
 * the first line's part is followed by a line end inside the span, so nothing after
 * it on that line needs its column. (Spaces for the first and last line's parts were
 * 22 KB of igb_main.c's 38 KB slice, every header line of a function blanked whole and
 * every one-line prototype left out, rewritten and lexed at every keystroke.)
 */
export function compacted(s: string, after: string | undefined): string {
  const last = s.lastIndexOf('\n');
  const lineEnds = s.slice(0, last + 1).replace(/[^\n\r]+/g, '');
  const tail = s.slice(last + 1);
  return lineEnds + (after === undefined || after === '\n' || after === '\r' ? tail.replace(/[^\n\r]+/g, '') : blankedText(tail));
}

/** The trace of a run on the slice with its offsets (function starts, parameter slots) moved to the file's. */
function traceAt(t: ProvenanceTrace, toFile: (o: number) => number): ProvenanceTrace {
  const facts: ProvenanceTrace['facts'] = new Map();
  for (const [key, v] of t.facts) {
    const m = /^L(\d+):(.*)$/s.exec(key);
    facts.set(m ? `L${toFile(Number(m[1]))}:${m[2]}` : key, v);
  }
  const plainBy = new Map<string, Set<number>>();
  for (const [key, by] of t.plainBy) plainBy.set(key, new Set([...by].map(toFile)));
  const events = t.events?.map((e) => ({ round: e.round, at: toFile(e.at), kind: e.kind, key: e.kind === 'slot' ? sliceKeyOf(e.key, toFile) : e.key }));
  return { writers: new Set([...t.writers].map(toFile)), facts, plain: t.plain, plainBy, capped: t.capped, ...(events ? { events } : {}) };
}

/** A slot key whose offset (a static function's parameter, `L<offset>:`) is mapped by `to`. */
function sliceKeyOf(key: string, to: (o: number) => number): string {
  const m = /^L(\d+):(.*)$/s.exec(key);
  return m ? `L${to(Number(m[1]))}:${m[2]}` : key;
}

/** An event of the previous run moved by the edit (its flow is outside the edited function). */
function movedEvent(e: Edit, ev: TraceEvent): TraceEvent {
  const at = ev.at >= e.oldEnd ? ev.at + e.delta : ev.at;
  const key = ev.kind === 'slot' ? movedKey(e, ev.key) : ev.key;
  return at === ev.at && key === ev.key ? ev : { ...ev, at, key };
}

/** The order a run does its events in: by round, then by flow (stable: one flow's events in the order it did them). */
function byRunOrder(a: TraceEvent, b: TraceEvent): number {
  return a.round - b.round || a.at - b.at;
}

/** Characters nestingHint() counts as nesting (analyze.ts). */
const HINT_COUNTED_RE = /[(*&!~+\-|^?]/g;
/** Characters that end what nestingHint() counts, or change how a line is read (a directive, a continuation). */
const HINT_BOUNDARY_RE = /[;{}\n\r#\\]/;

/**
 * An upper bound of nestingHint(text) from the previous text's bound, without a pass
 * over the file: an edit that removes no boundary, adds none, and does not touch a
 * line's first character raises no count by more than the counted characters it adds.
 * Anything else is counted again.
 */
export function hintAfter(before: number, old: string, text: string, e: Edit): number {
  const removed = old.slice(e.start, e.oldEnd);
  const added = text.slice(e.start, e.oldEnd + e.delta);
  const lineStart = old.lastIndexOf('\n', e.start - 1) + 1;
  const lead = /^[ \t]*/.exec(old.slice(lineStart, e.start + 1))![0].length;
  if (HINT_BOUNDARY_RE.test(removed) || HINT_BOUNDARY_RE.test(added) || lineStart + lead >= e.start) return nestingHint(text);
  return before + (added.match(HINT_COUNTED_RE)?.length ?? 0);
}

/** The stretches of [from, to) between the directives (relative to `from`), in file offsets. */
function gapsOf(from: number, to: number, directives: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let at = from;
  for (const [a, b] of directives) {
    out.push([at, from + a]);
    at = from + b;
  }
  out.push([at, to]);
  return out;
}

/**
 * The directives of a definition's body, [start, end) relative to the body's inside
 * (between its braces), when the body may be blanked but for them, each kept whole
 * where it stands (igb_main.c's igb_probe holds a `#define`: its 13 KB were analysed
 * at every keystroke). Only when a parse of the definition alone finds the same
 * directives at the same offsets in it and in the blanked form (so no comment or
 * string made a line look like a directive, and none was cut); else undefined (the
 * body is kept whole).
 */
function keptDirectives(parser: CParser, text: string, d: FunctionSpan): [number, number][] | undefined {
  const inside = text.slice(d.bodyStart + 1, d.bodyEnd - 1);
  const spans = directiveSpans(inside);
  if (!spans?.length) return undefined;
  // Blanked in place (same length, so the offsets compare); the slice compacts the stretches.
  const parts: string[] = [];
  let from = 0;
  for (const [a, b] of spans) {
    parts.push(blankedText(inside.slice(from, a)), inside.slice(a, b));
    from = b;
  }
  parts.push(blankedText(inside.slice(from)));
  const kept = parts.join('');
  const head = text.slice(d.start, d.bodyStart + 1);
  const tail = text.slice(d.bodyEnd - 1, d.end);
  const shape = (src: string): string | undefined => {
    const tree = parser.parseOnce(src);
    try {
      if (tree.rootNode.hasError) return undefined;
      const out: string[] = [];
      for (const n of tree.rootNode.descendantsOfType(PREPROC_TYPES)) {
        if (!n) continue;
        // A branch's node ends where its last statement does (blanked: earlier); its lines are its `#` tokens.
        if (!CONDITIONAL_NODES.has(n.type)) out.push(`${n.type}@${n.startIndex}-${n.endIndex}`);
        else for (const c of n.children) if (c?.type.startsWith('#')) out.push(`${c.type}@${c.startIndex}-${c.endIndex}`);
      }
      return out.join(' ');
    } finally {
      tree.delete();
    }
  };
  const before = shape(head + inside + tail);
  return before !== undefined && before === shape(head + kept + tail) ? spans : undefined;
}

const CONDITIONAL_NODES = new Set(['preproc_if', 'preproc_ifdef', 'preproc_else', 'preproc_elif', 'preproc_elifdef']);
const PREPROC_TYPES = ['preproc_def', 'preproc_function_def', 'preproc_call', 'preproc_include', ...CONDITIONAL_NODES];

/**
 * The directives of a body's text as [start, end) (the line's start to before the
 * line end that ends it: continuations, comments spanning lines and strings read as
 * the preprocessor reads them), or undefined when a comment does not end. A `#` at
 * the start of a line inside a comment or continued from the line before is none.
 */
function directiveSpans(s: string): [number, number][] | undefined {
  const out: [number, number][] = [];
  const n = s.length;
  // One token of C: returns the index after it (a comment, a string, a continuation) or i + 1.
  const skip = (i: number): number => {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '\n') return i + 2;
    if (c === '\\' && s[i + 1] === '\r' && s[i + 2] === '\n') return i + 3;
    if (c === '/' && s[i + 1] === '*') {
      const e = s.indexOf('*/', i + 2);
      return e < 0 ? -1 : e + 2;
    }
    if (c === '/' && s[i + 1] === '/') {
      let j = i + 2;
      while (j < n && s[j] !== '\n') j += s[j] === '\\' ? 2 : 1;
      return Math.min(j, n);
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && s[j] !== c && s[j] !== '\n') j += s[j] === '\\' ? 2 : 1;
      return Math.min(j + 1, n);
    }
    return i + 1;
  };
  let i = 0;
  let lineStart = true;
  while (i < n) {
    if (lineStart) {
      lineStart = false;
      let j = i;
      while (j < n && (s[j] === ' ' || s[j] === '\t')) j++;
      if (s[j] === '#') {
        let e = j + 1;
        while (e < n && s[e] !== '\n') {
          e = skip(e);
          if (e < 0) return undefined;
        }
        const end = e > i && s[e - 1] === '\r' ? e - 1 : e;
        out.push([i, end]);
        i = e;
        continue;
      }
    }
    if (s[i] === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    i = skip(i);
    if (i < 0) return undefined;
  }
  return out;
}

/** The preprocessor lines of a body, each with its continuation lines, in order. */
function directives(body: string): string[] {
  const out: string[] = [];
  if (!DIRECTIVE_RE.test(body)) return out;
  let open: string[] | undefined;
  for (const line of body.split('\n')) {
    if (!open && !/^[ \t]*#/.test(line)) continue;
    (open ??= []).push(line);
    if (!/\\\s*$/.test(line)) {
      out.push(open.join('\n'));
      open = undefined;
    }
  }
  if (open) out.push(open.join('\n'));
  return out;
}

const CONDITIONAL_RE = /^[ \t]*#[ \t]*(?:if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b/;
const DEFINE_RE = /^[ \t]*#[ \t]*(?:define|undef)\b/;

/**
 * The `#define`/`#undef` lines of a body (its text from `{` to `}`, at file offset
 * `at`) as file offsets [start, end), read as the preprocessor reads them
 * (directiveSpans); undefined when a comment in it does not end.
 */
function defineSpans(body: string, at: number): [number, number][] | undefined {
  const spans = directiveSpans(body);
  return spans?.filter(([a, b]) => DEFINE_RE.test(body.slice(a, b))).map(([a, b]) => [a + at, b + at]);
}

function sameLines(x: readonly string[], y: readonly string[]): boolean {
  return x.length === y.length && x.every((d, i) => d === y[i]);
}

// ---------------------------------------------------------------------------------
// The edit and how it moves positions.

export interface Edit {
  /** Offsets in the old text: the changed span is [start, oldEnd); in the new text [start, oldEnd + delta). */
  start: number;
  oldEnd: number;
  delta: number;
  /** The same as positions: text at or after oldEndPos moves to newEndPos. */
  startPos: Position;
  oldEndPos: Position;
  newEndPos: Position;
}

/** The span between the common prefix and suffix (the parser's own edit, c/parser.ts); undefined for equal texts. */
export function editOf(before: string, after: string, beforeStarts?: readonly number[]): Edit | undefined {
  if (before === after) return undefined;
  if (!beforeStarts) {
    const d = diffEdit(before, after);
    const pos = (p: { row: number; column: number }): Position => ({ line: p.row, character: p.column });
    return { start: d.startIndex, oldEnd: d.oldEndIndex, delta: d.newEndIndex - d.oldEndIndex, startPos: pos(d.startPosition), oldEndPos: pos(d.oldEndPosition), newEndPos: pos(d.newEndPosition) };
  }
  // diffEdit's span, with positions from the caller's line starts.
  const { start, oldEnd, newEnd } = commonEnds(before, after);
  const delta = newEnd - oldEnd;
  const at = (starts: readonly number[], i: number): Position => {
    const line = lineAt(starts, i);
    return { line, character: i - starts[line]! };
  };
  const startPos = at(beforeStarts, start);
  // The new end from the inserted text alone (the new line starts are counted once, by the caller).
  const lastNl = newEnd > start ? after.lastIndexOf('\n', newEnd - 1) : -1;
  let lines = 0;
  for (let q = after.indexOf('\n', start); q >= 0 && q < newEnd; q = after.indexOf('\n', q + 1)) lines++;
  const newEndPos: Position = lastNl >= start ? { line: startPos.line + lines, character: newEnd - lastNl - 1 } : { line: startPos.line, character: startPos.character + (newEnd - start) };
  return { start, oldEnd, delta, startPos, oldEndPos: at(beforeStarts, oldEnd), newEndPos };
}


/** The line starts of the text after an edit, from those before it (no pass over the text outside the edit). */
export function startsAfter(before: readonly number[], e: Edit, after: string): number[] {
  // A character replaced by another within a line (a typist's usual keystroke): the same starts.
  if (e.delta === 0 && e.startPos.line === e.oldEndPos.line && e.newEndPos.line === e.startPos.line) return before as number[];
  // A line start s follows the newline at s - 1: kept when that newline is before the
  // edit, gone when it was in the replaced span, moved when it is after.
  let i = lineAt(before, e.start) + 1;
  const out = before.slice(0, i);
  for (let q = after.indexOf('\n', e.start); q >= 0 && q < e.oldEnd + e.delta; q = after.indexOf('\n', q + 1)) out.push(q + 1);
  let j = i;
  while (j < before.length && before[j]! - 1 < e.oldEnd) j++;
  for (; j < before.length; j++) out.push(before[j]! + e.delta);
  return out;
}

const cmp = (a: Position, b: Position) => a.line - b.line || a.character - b.character;

/** The position moved by the edit: the same object when it does not move (a character replaced by another moves nothing). */
function shiftPos(e: Edit, p: Position): Position {
  if (cmp(p, e.oldEndPos) < 0) return p;
  if (p.line === e.oldEndPos.line) return e.newEndPos.line === e.oldEndPos.line && e.newEndPos.character === e.oldEndPos.character ? p : { line: e.newEndPos.line, character: p.character - e.oldEndPos.character + e.newEndPos.character };
  return e.newEndPos.line === e.oldEndPos.line ? p : { line: p.line + e.newEndPos.line - e.oldEndPos.line, character: p.character };
}

/**
 * A range of text the edit did not touch, moved; a range overlapping the changed
 * span cannot be moved (its text changed) unless `around` (the edited function's
 * own range, which holds the edit).
 */
function shiftRange(e: Edit, r: Range, around = false): Range {
  if (cmp(r.end, e.startPos) <= 0) return r;
  if (cmp(r.start, e.oldEndPos) >= 0 || around) {
    const start = shiftPos(e, r.start);
    const end = shiftPos(e, r.end);
    // An unmoved range stays the same object: its site, finding, fingerprint and diagnostic are reused.
    return start === r.start && end === r.end ? r : { start, end };
  }
  return fallback('a range overlaps the edit');
}

/** The site moved by the edit; the same object when nothing of it moves (its finding is reused). */
function shiftSite(e: Edit, file: string, s: Site): Site {
  const range = shiftRange(e, s.range);
  const callRange = shiftRange(e, s.callRange);
  let moved = range !== s.range || callRange !== s.callRange;
  const via = s.via.map((v) => {
    if (v.file !== file) return v;
    const r = shiftRange(e, v.range);
    if (r === v.range) return v;
    moved = true;
    return { ...v, range: r };
  });
  let declaredAt = s.declaredAt;
  if (declaredAt && declaredAt.file === file) {
    const r = shiftRange(e, declaredAt.range);
    if (r !== declaredAt.range) {
      moved = true;
      declaredAt = { ...declaredAt, range: r };
    }
  }
  const path = s.path?.map((p) => {
    if (p.file !== file) return p;
    const r = shiftRange(e, p.range);
    if (r === p.range) return p;
    moved = true;
    return { ...p, range: r };
  });
  if (!moved) return s;
  return { ...s, range, callRange, via, ...(declaredAt ? { declaredAt } : {}), ...(path ? { path } : {}) };
}

/**
 * Whether the facts the new run derived are the previous run's, moved by the edit.
 * Slot keys of static functions' parameters carry the parameter's offset; ranges in
 * the facts are file positions.
 */
function sameFacts(e: Edit, file: string, before: ProvenanceTrace, after: ProvenanceTrace): boolean {
  if (before.facts.size !== after.facts.size) return false;
  const r = (x: { file: string; range: Range }) => (x.file === file ? shiftRange(e, x.range) : x.range);
  for (const [key, v] of before.facts) {
    const moved = movedKey(e, key);
    const w = after.facts.get(moved);
    if (!w || w.depth !== v.depth) return false;
    const a = JSON.stringify([{ ...v.origin, range: r(v.origin) }, v.steps.map((s) => ({ ...s, range: r(s) }))]);
    const b = JSON.stringify([w.origin, w.steps]);
    if (a !== b) return false;
  }
  return true;
}

/** A fact's slot key moved by the edit: static functions' parameters carry their offset (`L<offset>:`). */
function movedKey(e: Edit, key: string): string {
  const m = /^L(\d+):(.*)$/s.exec(key);
  return m ? `L${Number(m[1]) >= e.oldEnd ? Number(m[1]) + e.delta : Number(m[1])}:${m[2]}` : key;
}

/** The facts moved by the edit (slot keys carrying an offset, ranges in this file); a range the edit overlaps falls back. */
function movedFacts(e: Edit, file: string, facts: ProvenanceTrace['facts']): ProvenanceTrace['facts'] {
  const out: ProvenanceTrace['facts'] = new Map();
  const r = <T extends { file: string; range: Range }>(x: T): T => {
    if (x.file !== file) return x;
    const range = shiftRange(e, x.range);
    return range === x.range ? x : { ...x, range };
  };
  for (const [key, v] of facts) {
    const moved = movedKey(e, key);
    const origin = r(v.origin);
    let changed = origin !== v.origin;
    const steps = v.steps.map((st) => {
      const x = r(st);
      if (x !== st) changed = true;
      return x;
    });
    out.set(moved, changed ? { ...v, origin, steps } : v);
  }
  return out;
}

/** Whether `text` names any of `words` (someWord's ASCII fast path). */
function namesAny(text: string, words: ReadonlySet<string>): boolean {
  return words.size > 0 && someWord(text, (w) => words.has(w));
}

/**
 * The plain facts a run reads: a field name given a plain value matters only for a
 * field name that also holds MMIO somewhere (provenance.ts fieldProv); fields and
 * globals given normal memory always matter.
 */
export function relevantPlain(t: ProvenanceTrace): Set<string> {
  const mmioFields = new Set<string>();
  for (const k of t.facts.keys()) if (k.startsWith('F:')) mmioFields.add(k.slice(k.lastIndexOf('.') + 1));
  const out = new Set<string>();
  for (const p of t.plain) if (p.startsWith('M:') || p.startsWith('S:') || (p.startsWith('N:') && mmioFields.has(p.slice(2)))) out.add(p);
  return out;
}

/** Whether two lists of sites name each function as many times (the view's `direct` counts). */
function sameCounts(a: readonly Site[], b: readonly Site[]): boolean {
  if (a.length !== b.length) return false;
  const n = new Map<string | null, number>();
  for (const s of a) n.set(s.function, (n.get(s.function) ?? 0) + 1);
  for (const s of b) n.set(s.function, (n.get(s.function) ?? 0) - 1);
  for (const v of n.values()) if (v !== 0) return false;
  return true;
}

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

// ---------------------------------------------------------------------------------

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function offsetIn(starts: number[], p: Position): number {
  return (starts[p.line] ?? Infinity) + p.character;
}

/** The analysis's own order (analyze.ts): by start position, stable. */
function byPosition(a: Site, b: Site): number {
  return a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character;
}
