// The audit engine: one implementation shared by the language server and the CLI.
// It owns the parser, the per-document tree cache and the header cache, and turns
// source sites into findings (rule, severity, message, related locations).
//
// API CONTRACT (the LSP server and the CLI code against this; keep it stable):
//   const engine = await AuditEngine.create({ readFile });
//   engine.configure({ severity: {...}, followIncludes: true, profile: 'tdx-linux-6.12+' });
//   const audit = engine.audit(uriOrPath, text, version);   // synchronous after create
//   audit.findings: Finding[]; audit.analysis.functions: FunctionView[]
//   hoverMarkdown(audit, position) -> markdown string or null
//   engine.forget(uriOrPath)  // drop the cached tree when a document closes
//   An audit of the same file after an edit re-analyses only the edited function when
//   the edit allows it (incremental.ts); the result is that of a full audit.

import type { HandlerView } from '../x86/handlers';
import type { Position, Range, Site, SourceAnalysis, RuleCode } from '../c/types';
import type { CompiledInstruction, FileCompiled } from './compiled';
import type { ObjectSearch } from './objects';
import type { NotFollowed } from '../c/headerIndex';
import { stampOf } from '../c/headerStamp';
import type { IncludeSetup } from '../c/includePath';
export type { NotFollowed, IncludeSetup };

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface RelatedInfo {
  file: string;
  range: Range;
  message: string;
}

export interface Finding {
  rule: RuleCode;
  severity: Severity;
  message: string;
  site: Site;
  related: RelatedInfo[];
  /** The instructions the compiler emitted for this site (when an object was read). */
  instructions?: CompiledInstruction[];
  /** Why no instruction is shown although an object was read. */
  compiledNote?: string;
  /**
   * For an accessor that is one known instruction (io.h readl/inb, rdmsr, cpuid,
   * hlt, __iowrite32_copy's rep movsl, MOVDIR64B): what the profile's handler does
   * with that instruction (audit/findings.ts siteHandler). The compiled form's own
   * records (instructions[].handler) supersede it when an object was read.
   */
  handler?: HandlerView;
}

export interface FileAudit {
  /** The URI (server) or path (CLI) the caller passed in. */
  file: string;
  version: number;
  analysis: SourceAnalysis;
  /** Findings with severity 'off' removed. */
  findings: Finding[];
  /** Wall time of parse + analysis in ms. */
  ms: number;
  /** Compiled forms, when object lookup is configured and the file is on disk. */
  compiled?: FileCompiled;
  /** Includes that were not followed (not found, not readable), each once. */
  notFollowed?: NotFollowed[];
  /**
   * The audited text and the offsets at which its lines start, when the engine keeps
   * them for the next edit (an open document's memory): fingerprints read them instead
   * of scanning the text again (fingerprint.ts findingFingerprints). `text` is the
   * string audited, so a caller holding another (a lone CR made a line end) sees it is not its own.
   */
  lines?: { text: string; starts: readonly number[] };
}

// The profile type lives with the profile table (x86/profiles.ts); re-exported
// here for the engine's callers.
import type { Profile } from '../x86/profiles';
export type { Profile };

export interface AuditConfig {
  /** Per-rule overrides; 'off' drops the finding. */
  severity: Partial<Record<RuleCode, Severity | 'off'>>;
  /** Read included headers for __iomem fields and wrappers. */
  followIncludes: boolean;
  /** Where include paths come from besides the kernel tree (compile databases). */
  includes?: IncludeSetup;
  /**
   * Keep header knowledge on disk under the tree's .tdx-audit/headers/ (or the
   * user's cache when the tree is read-only). Batch engines (host.snapshot) only.
   */
  headerCache?: boolean;
  /** The header cache's folder instead of the tree's own .tdx-audit/ (one subfolder per tree). */
  headerCacheDir?: string;
  /**
   * `auditOnce` (batch runs) parses only the function bodies that can hold a site or
   * hand one on (regions.ts); false parses every file whole. Default: on, unless the
   * environment sets TDX_AUDIT_NO_REGIONS=1 (the check script's switch).
   */
  regions?: boolean;
  profile: Profile;
  /**
   * Where to look for objects holding the file's code; undefined turns the
   * compiled-form join off (source-only audit).
   */
  objects?: ObjectSearch;
}

export interface EngineHost {
  /**
   * Reads a file the analysis needs (quoted-include headers). Return undefined when it
   * does not exist or is outside what the host allows. Paths are absolute file paths.
   */
  readFile(path: string): string | undefined;
  /**
   * The same read with the reason when it fails (`missing` lets an include search
   * go on to the next folder; anything else stops it and is listed as not followed).
   */
  tryReadFile?(path: string): { text: string } | { why: string; missing: boolean };
  /**
   * Files do not change during this engine's life (a batch run): header facts and
   * include resolutions are remembered instead of read again per audit.
   */
  snapshot?: boolean;
  /**
   * A number that changes whenever anything `file`'s header walk reads may have
   * changed (a file on disk, another open document's text), or undefined when the
   * host cannot tell. While it stays the same and the file's include lines do too,
   * the walk of the previous audit is used again (an editor's keystrokes: the walk
   * of a NIC driver's ~970 kernel headers cost more than the audit of the edit).
   */
  headerEpoch?(file: string): number | undefined;
  /**
   * A batch run's header facts already read on this thread by another walk (the
   * result cache's key walk), so the header walk does not read them again
   * (headerIndex.ts HeaderIndexOptions.known).
   */
  knownHeaderFacts?(path: string): Facts | { why: string; missing: boolean } | undefined;
}

export type { Position };

// ---------------------------------------------------------------------------------
// Implementation

import { readTextOrUndefined } from '../fs/safeRead';
import { DEFAULT_PROFILE } from '../x86/profiles';
import { lstatSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { DiskHeaderStore, headerCacheDir, type HeaderStore } from '../c/headerCache';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { analyzeFile } from '../c/analyze';
import { namesWord, scanMembersAndWords } from '../c/syntax';
import { emptyKnowledge, mergeKnowledge, type Knowledge } from '../c/knowledge';
import { CParser } from '../c/parser';
import { HeaderIndex, type DeclaredNames, type Facts, type Imports, type WordQuery } from '../c/headerIndex';
import { IncludeResolver, includeDirectives, type CompileEntry, type IncludeContext } from '../c/includePath';
import { loadCompileCommands } from './compile';
import { findingFor, DEFAULT_SEVERITY } from './findings';
import { CATALOGUE } from '../c/catalogue';
import { ObjectStore } from './objects';
import { compiledFormsThroughEdits, savedLineOf } from './compiled/edited';
import { findingAt } from './hover';
import { sameFile } from './compiled/facts';
import { functionAt, renderFunction } from './disasm';
import { applyCompiled } from './verdicts';
import { objectOnlyAsSites } from './compiled/objectOnly';
import { analyseEdit, emptyTrace, knowledgeKey, memoryOf, sliceKey, warmingText, type AnalysisMemory } from './incremental';
import { analyseInRegions, type RegionStats } from './regions';
export { hoverMarkdown } from './hover';
export { DEFAULT_SEVERITY };

export const DEFAULT_CONFIG: AuditConfig = {
  severity: {},
  followIncludes: true,
  profile: DEFAULT_PROFILE,
  ...(process.env.TDX_AUDIT_NO_REGIONS === '1' ? { regions: false } : {}),
};

/** Headers one include walk may read (the x86 kernel's whole include/ is about 7,000). */
const MAX_HEADERS_PER_WALK = 20_000;
/** Header components the index keeps (each is what one header, or one include cycle, declares). */
const MAX_HEADER_COMPONENTS = 50_000;
/** Files whose last header walk is kept (open documents, in practice). */
const MAX_KEPT_WALKS = 64;

export class AuditEngine {
  private config: AuditConfig = { ...DEFAULT_CONFIG };
  /** The last file's header walk (the pre-filter's, reused by the audit that follows). */
  private lastImports: { file: string; text: string; imports: Imports } | undefined;
  /** Each file's last header walk, kept while host.headerEpoch and its include lines stay (editor only). */
  private readonly walks = new Map<string, { epoch: number; includes: string; imports: Imports }>();
  /** Header knowledge by content (headerIndex.ts). */
  private readonly index: HeaderIndex;
  /** Disk stores of header knowledge by tree root (undefined: none could be made). */
  private readonly stores = new Map<string, HeaderStore | undefined>();
  /** Include paths per file (includePath.ts). */
  private readonly resolver: IncludeResolver;
  /** Opened objects, shared by every file (a .ko or vmlinux holds many). */
  readonly objects = new ObjectStore();
  /** Per document audited with `audit` (not `auditOnce`): what the next edit can reuse (incremental.ts). */
  private readonly memory = new Map<string, AnalysisMemory>();
  /** Per document in `memory`: the header knowledge its analysis was given (what a warm-up's edit is analysed with). */
  private readonly knowledgeOf = new Map<string, Knowledge>();
  /** How many audits re-analysed one function, and how many the whole file (tests and measurements). */
  readonly auditCounts = { incremental: 0, full: 0, why: new Map<string, number>(), paths: new Map<string, number>() };
  /**
   * The finding of each site under the current configuration: an edit keeps the
   * site objects it does not move, and their findings (messages name lines, so a
   * moved site gets a new one). Handed out as copies: the compiled-form join
   * annotates the findings of one audit.
   */
  private findingOf = new WeakMap<Site, Finding | null>();
  /** Set while `auditOnce` runs: the audit parses only the bodies that can matter (regions.ts). */
  private once = false;
  /** The region audit's last file (tests and measurements), and totals over this engine's life. */
  lastRegions: RegionStats | undefined;
  readonly regionTotals = { files: 0, chars: 0, blanked: 0, rounds: 0, whole: new Map<string, number>() };

  private constructor(
    private readonly parser: CParser,
    private readonly host: EngineHost,
  ) {
    const snapshot = host.snapshot === true;
    this.index = new HeaderIndex((members, imported) => this.analyseHeaders(members, imported), {
      snapshot,
      maxEntries: MAX_HEADER_COMPONENTS,
      maxHeadersPerWalk: MAX_HEADERS_PER_WALK,
      known: snapshot && host.knownHeaderFacts ? (p) => host.knownHeaderFacts!(p) : undefined,
      // An lstat, not a read (the read, when there is one, is the host's): a symlink
      // or anything but a regular file is not stamped, so it is always read safely.
      stamp: (p) => {
        try {
          const st = lstatSync(p, { throwIfNoEntry: false });
          return st === undefined ? null : stampOf(st);
        } catch {
          return undefined;
        }
      },
    });
    // A batch run reads each compile database once (loadCompileCommands stats it on every call).
    const dbs = new Map<string, Map<string, CompileEntry>>();
    const lookup = (db: string, f: string) => {
      try {
        if (!snapshot) return loadCompileCommands(db).get(f);
        let m = dbs.get(db);
        if (!m) dbs.set(db, (m = loadCompileCommands(db)));
        return m.get(f);
      } catch {
        return undefined; // an unreadable or malformed database describes nothing
      }
    };
    this.resolver = new IncludeResolver((p) => host.readFile(p), lookup, snapshot);
  }

  /**
   * What header texts declare, analysed together against what they import. A
   * kernel (or -I) header that names no accessor, no wrapper it imports and no
   * `__iomem` declares nothing this uses: it is not parsed (most of the kernel's
   * headers; parsing them was two thirds of a cold run).
   */
  private analyseHeaders(members: { name: string; text: string; system: boolean }[], imported: Knowledge): Knowledge {
    const out = emptyKnowledge();
    const known = (w: string) => CATALOGUE.has(w) || imported.wrappers.has(w);
    for (const m of members) {
      if (m.system && !m.text.includes('__iomem') && !namesWord(m.text, known)) continue;
      let parsed;
      try {
        parsed = this.parser.parse(undefined, m.text);
      } catch {
        continue; // a header tree-sitter cannot take teaches nothing
      }
      try {
        const own = analyzeFile(this.parser, parsed, m.name, imported).exports;
        if (m.system) {
          // A kernel header's struct fields, __iomem or plain, stay out of the
          // driver's dereference analysis, which matches fields by name only: the
          // kernel's thousands of plain `base`/`regs`/`addr` silenced 348 true
          // dereferences of drivers' own __iomem fields on drivers/ (forcedeth.c,
          // sun8i-ce-hash.c), and its __iomem ones would flag drivers' plain fields.
          // Its wrappers and __iomem globals are what it teaches.
          own.fields.clear();
          own.plainFields.clear();
        }
        mergeKnowledge(out, own);
      } finally {
        parsed.tree.delete();
      }
    }
    return out;
  }

  static async create(host: EngineHost): Promise<AuditEngine> {
    return new AuditEngine(await CParser.create(), host);
  }

  configure(cfg: Partial<AuditConfig>): void {
    this.config = { ...this.config, ...cfg, severity: { ...(cfg.severity ?? this.config.severity) } };
    this.memory.clear();
    this.walks.clear();
    this.findingOf = new WeakMap();
    if ('objects' in cfg) this.objects.refreshFolders();
  }

  get configuration(): Readonly<AuditConfig> {
    return this.config;
  }

  /**
   * Audits one document. The parser derives its own tree edit from the previous
   * text of the same file, which is never wrong (so callers pass no edit list).
   */
  audit(file: string, text: string, version: number): FileAudit {
    const t0 = performance.now();
    // LSP (and editors) end a line at a lone CR too; tree-sitter counts only LF. The
    // same-length swap keeps every offset and makes rows the lines the client has.
    if (text.includes('\r')) text = text.replace(/\r(?!\n)/g, '\n');
    const imports = this.config.followIncludes ? this.importsOf(file, text) : undefined;
    const analysis = this.analyse(file, text, imports?.knowledge ?? emptyKnowledge());
    const findings: Finding[] = [];
    const bySite = new Map<Site, Finding>();
    for (const site of analysis.sites) {
      let f: Finding | null | undefined;
      // A batch audit keeps no memory for a next one, so its findings are made fresh
      // (findingFor is a function of the site and the configuration): remembering each
      // in `findingOf` (a WeakMap entry per site, which every GC then visits) and
      // copying it would serve no later audit.
      if (this.once) f = findingFor(site, this.config);
      else {
        f = this.findingOf.get(site);
        if (f === undefined) this.findingOf.set(site, (f = findingFor(site, this.config)));
        if (f) f = { ...f };
      }
      if (f) {
        findings.push(f);
        bySite.set(site, f);
      }
    }
    const compiled = this.compiledForms(file, text, analysis);
    // Accessors only the object shows (a macro hid them from the parser) become sites too.
    if (compiled?.objectOnly) {
      for (const x of objectOnlyAsSites(compiled, analysis.sites.length, analysis.functions, text.split('\n'))) {
        analysis.sites.push(x.site);
        compiled.sites.push(x.compiled);
        const f = findingFor(x.site, this.config);
        if (f) {
          findings.push(f);
          bySite.set(x.site, f);
        }
      }
    }
    if (compiled) applyCompiled(compiled, analysis.sites, bySite);
    const mem = this.once ? undefined : this.memory.get(file);
    return {
      file,
      version,
      analysis,
      findings,
      ms: performance.now() - t0,
      ...(compiled ? { compiled } : {}),
      ...(imports?.notFollowed.length ? { notFollowed: imports.notFollowed } : {}),
      ...(mem && mem.text === text ? { lines: { text, starts: mem.lineStarts } } : {}),
    };
  }

  /**
   * The source analysis of a document: only the edited function's when the edit
   * allows it (incremental.ts), else the whole file's.
   */
  private analyse(file: string, text: string, imported: Knowledge): SourceAnalysis {
    const mem = this.memory.get(file);
    this.memory.delete(file);
    this.knowledgeOf.delete(file);
    if (mem) {
      const r = analyseEdit(this.parser, mem, text, file, imported, knowledgeKey(imported));
      if (!('fallback' in r)) {
        this.memory.set(file, r.memory);
        this.knowledgeOf.set(file, imported);
        this.auditCounts.incremental++;
        this.auditCounts.paths.set(r.path, (this.auditCounts.paths.get(r.path) ?? 0) + 1);
        return r.analysis;
      }
      this.auditCounts.why.set(r.fallback, (this.auditCounts.why.get(r.fallback) ?? 0) + 1);
    } else this.auditCounts.why.set('no memory', (this.auditCounts.why.get('no memory') ?? 0) + 1);
    this.auditCounts.full++;
    // A batch audit (no memory is kept for a next edit) parses only what can matter.
    if (this.once && this.config.regions !== false) {
      const stats: RegionStats = { chars: 0, blanked: 0, rounds: 0 };
      const r = analyseInRegions(this.parser, file, file, text, imported, stats);
      this.lastRegions = stats;
      const t = this.regionTotals;
      t.files++;
      t.chars += stats.chars;
      t.blanked += stats.blanked;
      t.rounds += stats.rounds;
      if (stats.whole) t.whole.set(stats.whole, (t.whole.get(stats.whole) ?? 0) + 1);
      if (r) return r.result.analysis;
    }
    const parsed = this.parser.parse(file, text);
    // The memory of a next edit (the provenance trace it keeps, the imports' key: a JSON
    // string of everything the headers declare) is not made for a batch audit, which
    // would forget it when it returns (auditOnce): generated and region-less files come
    // this way. The trace only records; the analysis is the same without it.
    const trace = this.once ? undefined : emptyTrace();
    const result = analyzeFile(this.parser, parsed, file, imported, trace ? { trace } : {});
    const next = trace && memoryOf(text, parsed, result, trace, knowledgeKey(imported));
    if (next) {
      this.memory.set(file, next);
      this.knowledgeOf.set(file, imported);
    }
    return result.analysis;
  }

  /**
   * The annotated disassembly of the function holding `position` (or named
   * `fn`), with the instructions the join tied to sites marked by verdict.
   * `audit` is the document's current audit (the caller has it; auditing again
   * here would repeat the parse and the join).
   */
  compiledForm(audit: FileAudit, text: string, position?: Position, fn?: string): { content: string; function: string | null; object: string | null; message: string; line?: number } {
    const path = toPath(audit.file);
    const search = this.config.objects;
    if (!path) return { content: '', function: null, object: null, message: 'Only files on disk have objects.' };
    if (!search) return { content: '', function: null, object: null, message: 'Object lookup is off (tdxAudit.objects.enable).' };
    const choice = this.objects.find(path, search);
    if (!choice.object) return { content: '', function: null, object: null, message: choice.info.message };
    const info = audit.compiled?.object ?? choice.info;
    const marks = new Map<string, CompiledInstruction>();
    for (const sc of audit.compiled?.sites ?? []) for (const i of sc.instructions) if (i.class !== 'CALL') marks.set(i.address, i);
    const bin = choice.object.bin;
    // DWARF names the file by the path it was built at, and numbers the saved text's lines.
    const unitPath = choice.unitPath ?? path;
    // The saved file, read once: the line mapping and the listing's source column both use it.
    const saved = readTextOrUndefined(path);
    const symbol = fn ?? (position ? functionAt(bin, unitPath, savedLineOf(saved, text, position.line) + 1) : undefined);
    if (!symbol) return { content: '', function: null, object: choice.object.path, message: `No code for line ${(position?.line ?? 0) + 1} in ${choice.object.path}.` };
    // The object's lines are the saved text's (an unsaved edit shifts them).
    const readSource = (p: string) => (sameFile(p, unitPath) ? saved ?? text : this.host.readFile(p));
    const r = renderFunction(bin, choice.object.path, symbol, { profile: this.config.profile, marks: info.state === 'lines-differ' ? undefined : marks, readSource });
    const line = position ? openingLine(r.content, audit, position) : undefined;
    return { content: r.content, function: r.function, object: choice.object.path, message: info.state === 'fresh' ? '' : info.message, ...(line !== undefined ? { line } : {}) };
  }

  /**
   * The join with the object holding this file's code. Never throws: a broken
   * object becomes an 'unusable' ObjectInfo with the reason.
   */
  private compiledForms(file: string, text: string, analysis: SourceAnalysis): FileCompiled | undefined {
    const search = this.config.objects;
    const path = toPath(file);
    if (!search || !path || analysis.sites.length === 0) return undefined;
    try {
      const choice = this.objects.find(path, search);
      // The saved file, not the host (which answers with an open editor's buffer).
      const diskText = () => readTextOrUndefined(path);
      // Line rows are compared with the path the object names (a tree built elsewhere);
      // an unsaved edit keeps the compiled forms of the functions it did not touch.
      return compiledFormsThroughEdits({ choice, source: choice.unitPath ?? path, text, sites: analysis.sites, functions: analysis.functions, profile: this.config.profile, diskText });
    } catch (e) {
      return { object: { path: undefined, state: 'unusable', message: `reading the object failed: ${e instanceof Error ? e.message : String(e)}` }, sites: [], functions: [] };
    }
  }

  /** Audits text that is not kept open (CLI, workspace scans): no tree is cached. */
  auditOnce(file: string, text: string): FileAudit {
    this.once = true;
    try {
      return this.audit(file, text, 0);
    } finally {
      this.once = false;
      this.forget(file);
    }
  }

  /**
   * Warms the incremental path of an open document (the editor's first keystrokes
   * after an open ran V8's code cold: 35-45 ms of server CPU each on igb_main.c, 20-30
   * once warm): the `k`-th of `of` made-up keystrokes (warmingText) is analysed as an
   * edit would be, and what it produced is dropped. The document's memory and findings
   * stay as they were; what the memory reads once of each unchanged definition is read
   * (incremental.ts `blanks`), and the document's slice tree is the made-up one's (the
   * parser derives the next edit from the two texts, so the next real edit is parsed
   * against it, as right as against any). Returns false when there is nothing to warm
   * (no memory of the document: its next edit audits the whole file); an edit that
   * falls back (a function next to a parse error) is no reason to stop.
   */
  warmEdit(file: string, k: number, of: number): boolean {
    const mem = this.memory.get(file);
    const imported = this.knowledgeOf.get(file);
    const text = mem && imported && warmingText(mem, k, of);
    if (!text) return false;
    this.warmCount++;
    const r = analyseEdit(this.parser, mem, text, file, imported, knowledgeKey(imported));
    if (!('fallback' in r)) for (const site of r.analysis.sites) if (!this.findingOf.has(site)) findingFor(site, this.config);
    return true;
  }

  /** Made-up keystrokes analysed (warmEdit), for tests and measurements. */
  warmCount = 0;

  forget(file: string): void {
    this.memory.delete(file);
    this.knowledgeOf.delete(file);
    this.walks.delete(file);
    this.parser.forget(sliceKey(file));
    this.parser.forget(file);
  }

  /** Drops what is remembered of a header (it changed on disk); a Makefile or compile database resets the include paths. */
  invalidateHeader(path: string): void {
    this.lastImports = undefined;
    this.walks.clear();
    this.index.invalidate(path);
    if (/(?:^|[\\/])(?:Makefile|compile_commands\.json)$/.test(path)) this.resolver.reset();
  }

  /**
   * What `file` imports through its includes (header index), with the includes
   * that were not followed. The include path is the compiler's (includePath.ts):
   * the file's compile_commands.json entry, else the kernel tree's x86 order, else
   * quoted includes beside the file.
   */
  private importsOf(file: string, text: string): Imports {
    // The pre-filter's walk serves the one audit that follows it, not later ones (a
    // header may be edited between two audits of the same text).
    const last = this.lastImports;
    this.lastImports = undefined;
    if (last && last.file === file && last.text === text) return last.imports;
    const epoch = this.host.snapshot ? undefined : this.host.headerEpoch?.(file);
    if (epoch === undefined) return this.computeImports(file, text);
    // The walk depends on the file only through its include lines (and their lines:
    // what was not followed is said at the include).
    const includes = JSON.stringify(includeDirectives(text));
    const hit = this.walks.get(file);
    if (hit && hit.epoch === epoch && hit.includes === includes) return hit.imports;
    const imports = this.computeImports(file, text);
    this.walks.delete(file);
    this.walks.set(file, { epoch, includes, imports });
    if (this.walks.size > MAX_KEPT_WALKS) this.walks.delete(this.walks.keys().next().value!);
    return imports;
  }

  /**
   * Whether a file that names no accessor, `__iomem` or mapping API (the cheap
   * pre-filter's test) can still hold a site through what its headers declare: it
   * calls a wrapper they define (`vp_ioread16` from <linux/virtio_pci_modern.h>),
   * names an `__iomem` global, or reaches an `__iomem` field with `->` or `.`.
   * The header walk is kept for the audit that follows.
   */
  mayHoldSitesThroughHeaders(file: string, text: string): boolean {
    if (!this.config.followIncludes) return false;
    // One scan of the file's words against every name the header index knows, then
    // those few words against the closure's components: the closure (~800 headers
    // for a driver) is merged only for a file that names something it declares, and
    // that merge is the audit's, which follows.
    const imports = this.computeImports(file, text, (names) => wordsAmong(text, names));
    if (!imports) return false;
    this.lastImports = { file, text, imports };
    return true;
  }

  private computeImports(file: string, text: string): Imports;
  private computeImports(file: string, text: string, words: WordQuery): Imports | undefined;
  private computeImports(file: string, text: string, words?: WordQuery): Imports | undefined {
    const path = toPath(file);
    if (!path) return { knowledge: emptyKnowledge(), notFollowed: [], headers: 0 };
    const asUri = file.startsWith('file:');
    const ctx = this.resolver.contextFor(path, this.config.includes);
    const read = (p: string) => {
      if (this.host.tryReadFile) return this.host.tryReadFile(p);
      const t = this.host.readFile(p);
      return t === undefined ? { why: 'not found or not readable', missing: true } : { text: t };
    };
    try {
      const name = (p: string) => (asUri ? pathToFileURL(p).toString() : p);
      return words ? this.index.importsOf(path, text, ctx, read, name, this.storeFor(ctx), words) : this.index.importsOf(path, text, ctx, read, name, this.storeFor(ctx));
    } catch (e) {
      // Headers teach; they never stop the file's own audit.
      return { knowledge: emptyKnowledge(), notFollowed: [{ include: '(all headers)', from: path, line: 0, why: `the header walk failed: ${e instanceof Error ? e.message : String(e)}` }], headers: 0 };
    }
  }

  /** The disk store of a context's tree (batch runs with headerCache on), or undefined. */
  private storeFor(ctx: IncludeContext): HeaderStore | undefined {
    if (!this.host.snapshot || !this.config.headerCache || ctx.origin.kind === 'plain') return undefined;
    const root = ctx.origin.kind === 'kernel' ? ctx.origin.root : dirname(ctx.origin.path);
    if (!this.stores.has(root)) {
      const dir = headerCacheDir(root, this.config.headerCacheDir);
      this.stores.set(root, dir ? new DiskHeaderStore(dir) : undefined);
    }
    return this.stores.get(root);
  }

  /** The include context (search path) the engine uses for a file on disk. */
  includeContextFor(file: string): IncludeContext | undefined {
    const path = toPath(file);
    return path ? this.resolver.contextFor(path, this.config.includes) : undefined;
  }

  /** Header components held by the index (for measurements). */
  get headerStats(): { components: number; analysed: number; fromDisk: number; factsFromDisk: number } {
    return { components: this.index.size, analysed: this.index.analysed, fromDisk: this.index.fromStore, factsFromDisk: this.index.factsFromStore };
  }
}

/**
 * The words of `text` among the names headers declare (plain words among the
 * callable names, words after `->`/`.` among the fields), or undefined when none is.
 */
function wordsAmong(text: string, names: DeclaredNames): { plain: Set<string>; member: Set<string> } | undefined {
  if (names.callable.size === 0 && names.fields.size === 0) return undefined;
  const plain = new Set<string>();
  const member = new Set<string>();
  // A word becomes a string only when its hash's bit is set in the set it is asked of.
  scanMembersAndWords(text, (s, e, h, isMember) => {
    const set = isMember ? names.fields : names.callable;
    if (set.mayHave(h)) {
      const w = text.slice(s, e);
      if (set.has(w)) (isMember ? member : plain).add(w);
    }
    return false;
  });
  return plain.size || member.size ? { plain, member } : undefined;
}

function toPath(file: string): string | undefined {
  if (file.startsWith('file:')) {
    try {
      return fileURLToPath(file);
    } catch {
      return undefined;
    }
  }
  // Other URI schemes (untitled:, vscode-notebook-cell:, ...) have no directory to
  // resolve includes from; a Windows drive letter is a path, not a scheme.
  return /^[a-z][a-z0-9+.-]+:/i.test(file) && !/^[a-z]:[\\/]/i.test(file) ? undefined : resolvePath(file);
}

/**
 * Where Show Compiled Form opens: the first instruction of the site under the
 * cursor (its `+0x..` row), else the first row of the cursor's source line.
 */
export function openingLine(content: string, audit: FileAudit, position: Position): number | undefined {
  const rows = content.split('\n');
  const f = findingAt(audit, position);
  const first = f?.instructions?.find((i) => i.class !== 'CALL') ?? f?.instructions?.[0];
  if (first) {
    const at = new RegExp(`^\\s+\\+0x${first.offset.toString(16)}\\s`);
    const k = rows.findIndex((r) => at.test(r));
    if (k >= 0) return k;
  }
  const onLine = new RegExp(`^; \\S+:${position.line + 1}$`);
  const k = rows.findIndex((r) => onLine.test(r));
  return k >= 0 ? k : undefined;
}

