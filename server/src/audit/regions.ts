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
//    values, closed over the file's macros; of the plain facts those relevantPlain
//    says a run reads), or the static function whose parameter a caller gave MMIO;
//  - the function view (c/functions.ts): a body calling a static or inline helper
//    that holds or reaches sites gives the caller `via` and `reached`;
//  - macros and wrappers defined inside a body (`#define` in a function): never blanked.
// Seeds are guessed before the parse so that one parse is usually enough: from the
// words (a body kept whatever it names counts too: a helper among them makes its
// callers matter), and from the flows the kept bodies write (audit/foresight.ts:
// `p->regs = ioremap(...)` makes `regs` a seed). After the analysis, every blanked body
// that names a word the result says matters is unblanked and the file analysed again,
// to a fixpoint: the safety net for what the seeds did not foresee. The parse must agree with the
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
import { Foresight } from './foresight';
import { emptyTrace, factNames, macrosOf, relevantPlain } from './incremental';

/**
 * Inline assembly: its operands are macros more often than not (`EAX_EDX_RET(val, low,
 * high)`, `CALL_NOSPEC`, `__FORCE_ORDER`), which tree-sitter cannot read; kept so the
 * parse errors of arch/x86 are counted as a whole parse counts them.
 */
const ASM_RE = /\b(?:asm|__asm__|__asm)\b/;

/** A mapping API whose value provenance takes as MMIO (somewhere: `mmioIn`), as MAPPING_NAMES_RE lists them. */
function mapsMmio(w: string): boolean {
  const api = MAPPING_APIS.get(w);
  return !!api && (api.returns !== 'memory' || !!api.mmioIn);
}

/** Rounds of unblanking before the file is audited whole. */
const MAX_ROUNDS = 4;

/** What the region audit did with one file (measurements and tests). */
export interface RegionStats {
  /** Characters of the file, and of them the characters blanked in the text analysed. */
  chars: number;
  blanked: number;
  /** Analyses run (1 when the seeds were right). */
  rounds: number;
  /** Characters handed to the parser as code, summed over the rounds (blanked insides left out). */
  read?: number;
  /** Why the file was analysed whole, when it was. */
  whole?: string;
  /** When given: per kept body (the offset of its `{`), the word that kept it and how (`seed`, `matter`). */
  kept?: Map<number, string>;
  /** When given: per word that unblanked a body after a round, what made it matter (fact kind, wrapper, helper, macro). */
  matterKinds?: Map<string, string>;
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
  /** A seed named in it was met (its header's names were seeded when it is a helper). */
  seeded: boolean;
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
  stats.read = 0;
  if (nestingHint(text) > NESTING_HINT_LIMIT) return whole(stats, 'generated nesting');
  const lexed = topBlocks(text);
  if ('unsure' in lexed) return whole(stats, lexed.unsure);
  /** Every function body: those that may be blanked, and those kept whatever they name (`never`). */
  const bodies: Candidate[] = [];
  const candidates: Candidate[] = [];
  for (const b of lexed.blocks) {
    if (!b.afterParen) {
      stats.kept?.set(b.open, 'no function body');
      continue;
    }
    const inside = text.slice(b.open + 1, b.close);
    const never = b.otherDirective ? 'a directive' : b.midStatementDirective || ASM_RE.test(inside) ? 'a shape the parser trips on' : inside.includes('__iomem') ? '__iomem' : undefined;
    if (never) stats.kept?.set(b.open, never);
    // Fields named, not spread: a spread per body was a fifth of this function's own time.
    const c: Candidate = {
      open: b.open, close: b.close, afterParen: b.afterParen, headerStart: b.headerStart, otherDirective: b.otherDirective,
      midStatementDirective: b.midStatementDirective, inside, header: text.slice(b.headerStart, b.open), blank: !never, seeded: false,
    };
    bodies.push(c);
    if (!never) candidates.push(c);
  }
  if (!candidates.length) return whole(stats, 'no body to blank');

  // Which bodies name each word (one pass over each body): the seeds and the
  // fixpoint's words are looked up here, not searched for in every body again.
  // Bodies kept whatever they name are read too: a static helper among them that
  // names a seed makes its callers matter (a body kept for a directive or `__iomem`
  // holds sites as often as any).
  const namedBy = new Map<string, Candidate[]>();
  // (c/words.ts reads a body's words as someWord reads its inside, without the
  // Unicode regex for a body with a backslash in it: most, by their strings' `\n`.)
  for (const c of bodies) {
    eachWord(text, c.open + 1, c.close, (s, e) => {
      const w = text.slice(s, e);
      const l = namedBy.get(w);
      if (!l) namedBy.set(w, [c]);
      else if (l[l.length - 1] !== c) l.push(c);
    });
  }
  // Seeds: what a body must name to hold a site or hand one on, guessed from words:
  // catalogued accessors, mapping APIs, `__iomem` and the names declared with it,
  // what the headers teach, then (closed over) the file's macros naming a seed and
  // the static and inline functions whose bodies name one; and the words provenance
  // will make facts of (`foresee` below).
  const seeds = new Set<string>();
  /** A seed whatever the file says: the catalogue, the mapping APIs, `__iomem`, what the headers teach. */
  const given = (w: string) => w === '__iomem' || CATALOGUE.has(w) || MAPPING_APIS.has(w) || imported.wrappers.has(w) || imported.globals.has(w) || imported.fields.has(w);
  const declaredIomem = new Set<string>();
  for (const m of text.matchAll(/__iomem\b[\s*]*(?:const\b[\s*]*)?([A-Za-z_$][\w$]*)/g)) declaredIomem.add(m[1]!);
  for (const w of declaredIomem) seeds.add(w);
  for (const w of namedBy.keys()) if (given(w)) seeds.add(w);
  // Every candidate names one of these seeds: the fixpoint below keeps every body
  // naming a seed and never blanks one again, so it could only end in the whole file.
  // Said here, before the file's macros, the foresight's reading of every kept body's
  // flows and the closure (the 21 MB generated file: ~1.5 s of its audit for that answer).
  if (namingSeeds(candidates, seeds, namedBy, stats) === candidates.length) return whole(stats, 'every body matters');
  const macros = macrosOf(text);
  const queue = [...seeds];
  const isSeed = (w: string) => seeds.has(w) || given(w);
  const addSeed = (w: string) => {
    if (seeds.has(w)) return;
    seeds.add(w);
    queue.push(w);
  };
  /** A body kept for what it names (its header's names seeded when it is a helper: its callers then matter). */
  const keep = (c: Candidate, why: string) => {
    if (c.blank) {
      c.blank = false;
      stats.kept?.set(c.open, why);
    }
    if (c.seeded) return;
    c.seeded = true;
    if (headerIsHelper(c.header)) for (const h of headerNames(c.header)) addSeed(h);
  };
  const macroNames = new Set(macros.map(([name]) => name));
  const foresight = new Foresight(text, bodies, namedBy, (w) => mapsMmio(w) || declaredIomem.has(w) || imported.globals.has(w) || imported.fields.has(w), (w) => MAPPING_APIS.has(w) && !mapsMmio(w), (w) => macroNames.has(w), addSeed, keep);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, words] of macros) {
      if (!seeds.has(name) && words.some(isSeed)) {
        addSeed(name);
        grew = true;
      }
      if (!foresight.sources.has(name) && words.some((w) => foresight.sources.has(w))) foresight.addSource(name);
    }
    if (foresight.settle()) grew = true;
    while (queue.length) {
      const w = queue.pop()!;
      for (const c of namedBy.get(w) ?? []) {
        if (c.seeded) continue;
        keep(c, `seed ${w}`);
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
    let read = text.length;
    for (const c of blanked) read -= c.close - c.open - 1;
    stats.read = (stats.read ?? 0) + read;
    // A fresh parse each round (not an edit of the last tree): the text analysed is
    // parsed as the full audit parses the file.
    if (parsed) parser.forget(key);
    // The blanked insides are left out of the rewrite's and tree-sitter's reading.
    parsed = parser.parse(key, blankInsides(text, blanked), insideSpans(blanked));
    const trace = emptyTrace();
    const result = analyzeFile(parser, parsed, file, imported, { trace });
    // The parse agrees with the lexer: each blanked block is a function body.
    const parsedBodies = new Set(result.table.map((d) => `${d.bodyStart}:${d.bodyEnd}`));
    if (blanked.some((c) => !parsedBodies.has(`${c.open}:${c.close + 1}`))) {
      parser.forget(key);
      return whole(stats, 'a blanked block is no function body of the parse');
    }
    // What the result says matters: the file's wrappers and `__iomem` names, the
    // provenance facts' words, and the helpers that hold or reach sites.
    // Of the plain facts only those a run reads (incremental.ts relevantPlain): a field
    // given a plain value somewhere matters only when it also holds MMIO, and then its
    // name is a fact's slot word already. Bodies naming such a field and nothing else
    // (`len`, `data`) read and write nothing provenance looks at.
    // A static function's parameter given MMIO by a caller (an `L` slot, keyed by where
    // the parameter is declared) is read by that function's body alone: the body is
    // unblanked, not every body naming a variable of that name (`addr`, `val`).
    const facts = new Map(trace.facts);
    const owners: Candidate[] = [];
    for (const k of trace.facts.keys()) {
      if (!k.startsWith('L')) continue;
      const at = Number.parseInt(k.slice(1), 10);
      const owner = bodies.find((c) => c.headerStart <= at && at < c.open);
      if (owner) {
        owners.push(owner);
        facts.delete(k);
      }
    }
    const matter = factNames({ ...trace, facts, plain: relevantPlain(trace), plainBy: new Map() }, macros);
    const kinds = stats.matterKinds ? new Map<string, string>() : undefined;
    if (kinds) {
      for (const key of [...trace.facts.keys(), ...relevantPlain(trace)]) {
        const m = /([A-Za-z_$][\w$]*)$/.exec(key);
        if (m && !kinds.has(m[1]!)) kinds.set(m[1]!, `fact ${key.startsWith('L') ? 'L(param)' : key.startsWith('S:') ? 'S:' : key.slice(0, 2)}`);
      }
      for (const w of matter) if (!kinds.has(w)) kinds.set(w, 'fact macro');
      for (const w of result.exports.wrappers.keys()) if (!kinds.has(w)) kinds.set(w, 'wrapper');
      for (const w of result.exports.fields.keys()) if (!kinds.has(w)) kinds.set(w, 'iomem field');
      for (const w of result.exports.globals.keys()) if (!kinds.has(w)) kinds.set(w, 'iomem global');
      for (const f of result.analysis.functions) if ((f.isStatic || f.isInline) && (f.direct > 0 || f.reached > 0) && !kinds.has(f.name)) kinds.set(f.name, 'helper');
    }
    for (const k of [result.exports.wrappers, result.exports.fields, result.exports.globals]) for (const w of k.keys()) matter.add(w);
    for (const f of result.analysis.functions) if ((f.isStatic || f.isInline) && (f.direct > 0 || f.reached > 0)) matter.add(f.name);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [name, words] of macros) {
        if (!matter.has(name) && words.some((w) => matter.has(w))) {
          matter.add(name);
          if (kinds && !kinds.has(name)) kinds.set(name, 'macro');
          grew = true;
        }
      }
    }
    let unblanked = false;
    for (const c of owners) {
      if (!c.blank) continue;
      c.blank = false;
      stats.kept?.set(c.open, 'matter a parameter');
      stats.matterKinds?.set('(parameter)', 'fact L(param)');
      unblanked = true;
    }
    for (const w of matter) {
      for (const c of namedBy.get(w) ?? []) {
        if (!c.blank) continue;
        c.blank = false;
        stats.kept?.set(c.open, `matter ${w}`);
        if (kinds) stats.matterKinds!.set(w, kinds.get(w) ?? '?');
        unblanked = true;
      }
    }
    if (unblanked) continue;
    for (const c of blanked) stats.blanked += c.close - c.open - 1;
    return { parsed, result, stats };
  }
}

/**
 * How many of `candidates` name one of `seeds` (by `namedBy`). When that is all of
 * them and `stats.kept` is asked for, each is given the reason `seed w`: the last
 * seed naming it in `seeds`' order, the one the fixpoint's queue (popped from the
 * end) would meet first. (The fixpoint may meet a macro or a helper's parameter
 * first; the reasons are for tests and measurements, the outcome is the same.)
 */
function namingSeeds(candidates: readonly Candidate[], seeds: ReadonlySet<string>, namedBy: ReadonlyMap<string, readonly Candidate[]>, stats: RegionStats): number {
  const by = new Map<Candidate, string>();
  for (const w of seeds) for (const c of namedBy.get(w) ?? []) if (c.blank) by.set(c, w);
  if (by.size === candidates.length && stats.kept) for (const [c, w] of by) stats.kept.set(c.open, `seed ${w}`);
  return by.size;
}

function whole(stats: RegionStats, why: string): undefined {
  stats.whole = why;
  return undefined;
}
