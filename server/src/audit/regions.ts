// A batch audit that parses only the function bodies that can matter.
//
// Most of a driver's functions hold no site and hand nothing to one that does, yet
// the full audit parses and walks them (a scan's profile: tree-sitter's parse and
// the analyses, each a quarter of the CPU). Here the bodies of file-scope function
// definitions are blanked before the parse (c/regions.ts: same length, line ends
// kept, so every position of the analysis is the file's) unless they name a word
// the analyses can act on; the headers stay, so the function table is the file's.
//
// What a body can contribute to the analysis (c/analyze.ts and what it calls), and
// how each is kept:
//  - call sites: a catalogued accessor or a wrapper (imported from headers, or the
//    file's own macros and static inlines: closed over below) named in it;
//  - `__iomem` declarations and dereferences, and memcpy/memset on them: the body
//    names `__iomem`, an `__iomem` field or global (imported or the file's own);
//  - MMIO provenance (c/provenance.ts): a mapping API named in it, or any slot the
//    run's trace holds a fact of (incremental.ts factNames: fields, globals, return
//    values, static functions' parameters, closed over the file's macros);
//  - the function view (c/functions.ts): a body calling a static or inline helper
//    that holds or reaches sites gives the caller `via` and `reached`;
//  - macros and wrappers defined inside a body (`#define` in a function): never blanked.
// Seeds are guessed from the words alone (so that one parse is usually enough); after
// the analysis, every blanked body that names a word the result says matters is
// unblanked and the file analysed again, to a fixpoint. The parse must agree with the
// lexer (each blanked block is a function body of the parse), else the file is audited
// whole, as is every file the lexer cannot delimit (c/regions.ts `unsure`) and
// generated code (nestingHint over the limit: its depth check must see the whole tree).
//
// Parse errors: blanking hides the ERROR and MISSING nodes of a skipped body, and an
// error in a body can make an ERROR region that swallows the functions after it
// (drivers/atm/fore200e.c: a directive inside an expression; its 8 sites were marked
// "in code the parser could not fully read" by the whole parse only). Bodies holding
// the shapes tree-sitter is known to trip on are kept (c/regions.ts
// `midStatementDirective`); for the rest the audit's `parseErrors` counts the errors
// of the text it parsed (README, `scan` JSON): on Linux 6.1, 7 of drivers/' 7,209
// files and 4 of arch/x86's 270 count fewer than the whole parse (macros used as
// syntax); no site, function row or instruction differs (BENCHMARKS.md).

import type { CParser, ParsedFile } from '../c/parser';
import { analyzeFile, nestingHint, NESTING_HINT_LIMIT, type FileResult } from '../c/analyze';
import { CATALOGUE, MAPPING_APIS } from '../c/catalogue';
import type { Knowledge } from '../c/knowledge';
import { blankInsides, headerIsHelper, headerNames, insideSpans, topBlocks, type TopBlock } from '../c/regions';
import { eachWord } from '../c/words';
import { emptyTrace, factNames, macrosOf } from './incremental';

/**
 * Inline assembly: its operands are macros more often than not (`EAX_EDX_RET(val, low,
 * high)`, `CALL_NOSPEC`, `__FORCE_ORDER`), which tree-sitter cannot read; kept so the
 * parse errors of arch/x86 are counted as a whole parse counts them.
 */
const ASM_RE = /\b(?:asm|__asm__|__asm)\b/;

/** Rounds of unblanking before the file is audited whole. */
const MAX_ROUNDS = 4;

/** What the region audit did with one file (measurements and tests). */
export interface RegionStats {
  /** Characters of the file, and of them the characters blanked in the text analysed. */
  chars: number;
  blanked: number;
  /** Analyses run (1 when the seeds were right). */
  rounds: number;
  /** Why the file was analysed whole, when it was. */
  whole?: string;
  /** When given: per kept body (the offset of its `{`), the word that kept it and how (`seed`, `matter`). */
  kept?: Map<number, string>;
}

export interface RegionResult {
  parsed: ParsedFile;
  result: FileResult;
  stats: RegionStats;
}

interface Candidate extends TopBlock {
  /** The body's inside, as written. */
  inside: string;
  header: string;
  blank: boolean;
}

/**
 * The analysis of `text` with the bodies that cannot matter blanked, or undefined
 * (with `stats.whole` saying why) when the file must be analysed whole. The parse is
 * kept under `key` (the caller forgets it, as after a full parse).
 */
export function analyseInRegions(parser: CParser, key: string, file: string, text: string, imported: Knowledge, stats: RegionStats): RegionResult | undefined {
  stats.chars = text.length;
  stats.blanked = 0;
  stats.rounds = 0;
  if (nestingHint(text) > NESTING_HINT_LIMIT) return whole(stats, 'generated nesting');
  const lexed = topBlocks(text);
  if ('unsure' in lexed) return whole(stats, lexed.unsure);
  const candidates: Candidate[] = [];
  for (const b of lexed.blocks) {
    const inside = text.slice(b.open + 1, b.close);
    const never = !b.afterParen ? 'no function body' : b.otherDirective ? 'a directive' : b.midStatementDirective || ASM_RE.test(inside) ? 'a shape the parser trips on' : inside.includes('__iomem') ? '__iomem' : undefined;
    if (never) {
      stats.kept?.set(b.open, never);
      continue;
    }
    // Fields named, not spread: a spread per body was a fifth of this function's own time.
    candidates.push({
      open: b.open, close: b.close, afterParen: b.afterParen, headerStart: b.headerStart, otherDirective: b.otherDirective,
      midStatementDirective: b.midStatementDirective, inside, header: text.slice(b.headerStart, b.open), blank: true,
    });
  }
  if (!candidates.length) return whole(stats, 'no body to blank');

  // Which bodies name each word (one pass over each body): the seeds and the
  // fixpoint's words are looked up here, not searched for in every body again.
  const namedBy = new Map<string, Candidate[]>();
  // (c/words.ts reads a body's words as someWord reads its inside, without the
  // Unicode regex for a body with a backslash in it: most, by their strings' `\n`.)
  for (const c of candidates) {
    eachWord(text, c.open + 1, c.close, (s, e) => {
      const w = text.slice(s, e);
      const l = namedBy.get(w);
      if (!l) namedBy.set(w, [c]);
      else if (l[l.length - 1] !== c) l.push(c);
    });
  }
  const macros = macrosOf(text);
  // Seeds: what a body must name to hold a site or hand one on, guessed from words:
  // catalogued accessors, mapping APIs, `__iomem` and the names declared with it,
  // what the headers teach, then (closed over) the file's macros naming a seed and
  // the static and inline functions whose kept bodies name one.
  const seeds = new Set<string>();
  /** A seed whatever the file says: the catalogue, the mapping APIs, `__iomem`, what the headers teach. */
  const given = (w: string) => w === '__iomem' || CATALOGUE.has(w) || MAPPING_APIS.has(w) || imported.wrappers.has(w) || imported.globals.has(w) || imported.fields.has(w);
  for (const m of text.matchAll(/__iomem\b[\s*]*(?:const\b[\s*]*)?([A-Za-z_$][\w$]*)/g)) seeds.add(m[1]!);
  for (const w of namedBy.keys()) if (given(w)) seeds.add(w);
  const queue = [...seeds];
  const isSeed = (w: string) => seeds.has(w) || given(w);
  const addSeed = (w: string) => {
    if (seeds.has(w)) return;
    seeds.add(w);
    queue.push(w);
  };
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, words] of macros) {
      if (!seeds.has(name) && words.some(isSeed)) {
        addSeed(name);
        grew = true;
      }
    }
    while (queue.length) {
      const w = queue.pop()!;
      for (const c of namedBy.get(w) ?? []) {
        if (!c.blank) continue;
        c.blank = false;
        stats.kept?.set(c.open, `seed ${w}`);
        if (headerIsHelper(c.header)) for (const h of headerNames(c.header)) addSeed(h);
        grew = true;
      }
    }
  }

  let parsed: ParsedFile | undefined;
  for (;;) {
    const blanked = candidates.filter((c) => c.blank);
    if (!blanked.length) {
      if (parsed) parser.forget(key);
      return whole(stats, 'every body matters');
    }
    if (stats.rounds >= MAX_ROUNDS) {
      if (parsed) parser.forget(key);
      return whole(stats, 'the fixpoint did not settle');
    }
    stats.rounds++;
    // A fresh parse each round (not an edit of the last tree): the text analysed is
    // parsed as the full audit parses the file.
    if (parsed) parser.forget(key);
    // The blanked insides are left out of the rewrite's and tree-sitter's reading.
    parsed = parser.parse(key, blankInsides(text, blanked), insideSpans(blanked));
    const trace = emptyTrace();
    const result = analyzeFile(parser, parsed, file, imported, { trace });
    // The parse agrees with the lexer: each blanked block is a function body.
    const bodies = new Set(result.table.map((d) => `${d.bodyStart}:${d.bodyEnd}`));
    if (blanked.some((c) => !bodies.has(`${c.open}:${c.close + 1}`))) {
      parser.forget(key);
      return whole(stats, 'a blanked block is no function body of the parse');
    }
    // What the result says matters: the file's wrappers and `__iomem` names, the
    // provenance facts' words, and the helpers that hold or reach sites.
    const matter = factNames(trace, macros);
    for (const k of [result.exports.wrappers, result.exports.fields, result.exports.globals]) for (const w of k.keys()) matter.add(w);
    for (const f of result.analysis.functions) if ((f.isStatic || f.isInline) && (f.direct > 0 || f.reached > 0)) matter.add(f.name);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [name, words] of macros) {
        if (!matter.has(name) && words.some((w) => matter.has(w))) {
          matter.add(name);
          grew = true;
        }
      }
    }
    let unblanked = false;
    for (const w of matter) {
      for (const c of namedBy.get(w) ?? []) {
        if (!c.blank) continue;
        c.blank = false;
        stats.kept?.set(c.open, `matter ${w}`);
        unblanked = true;
      }
    }
    if (unblanked) continue;
    for (const c of blanked) stats.blanked += c.close - c.open - 1;
    return { parsed, result, stats };
  }
}

function whole(stats: RegionStats, why: string): undefined {
  stats.whole = why;
  return undefined;
}
