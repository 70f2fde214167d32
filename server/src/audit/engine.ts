// The audit engine: one implementation shared by the language server and the CLI.
// It owns the parser, the per-document tree cache and the header cache, and turns
// source sites into findings (rule, severity, message, related locations).
//
// API CONTRACT (the LSP server and the CLI code against this; keep it stable):
//   const engine = await AuditEngine.create({ readFile });
//   engine.configure({ severity: {...}, followIncludes: true, profile: 'tdx-linux-6.12+' });
//   const audit = engine.audit(uriOrPath, text, version, edits?);   // synchronous after create
//   audit.findings: Finding[]; audit.analysis.functions: FunctionView[]
//   hoverMarkdown(audit, position) -> markdown string or null
//   engine.forget(uriOrPath)  // drop the cached tree when a document closes

import type { Position, Range, Site, SourceAnalysis, RuleCode } from '../c/types';
import type { CompiledInstruction, FileCompiled } from './compiled';
import type { ObjectSearch } from './objects';

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
}

/** A text edit in web-tree-sitter's terms (indices are UTF-16 offsets into the document). */
export interface TreeEdit {
  startIndex: number;
  oldEndIndex: number;
  newEndIndex: number;
  startPosition: { row: number; column: number };
  oldEndPosition: { row: number; column: number };
  newEndPosition: { row: number; column: number };
}

export type Profile = 'tdx-linux-6.12+' | 'tdx-linux-6.1' | 'tdx-linux-5.19' | 'sev-es';

export interface AuditConfig {
  /** Per-rule overrides; 'off' drops the finding. */
  severity: Partial<Record<RuleCode, Severity | 'off'>>;
  /** Read quoted-include headers for __iomem fields and wrappers. */
  followIncludes: boolean;
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
}

export type { Position };

// ---------------------------------------------------------------------------------
// Implementation

import { readTextOrUndefined } from '../fs/safeRead';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { analyzeFile } from '../c/analyze';
import { emptyKnowledge, mergeKnowledge, type Knowledge } from '../c/knowledge';
import { CParser } from '../c/parser';
import { findingFor, DEFAULT_SEVERITY } from './findings';
import { ObjectStore } from './objects';
import { compiledFormsFor, sameFile } from './join';
import { functionAt, renderFunction } from './disasm';
import { applyCompiled } from './verdicts';
export { hoverMarkdown } from './hover';
export { DEFAULT_SEVERITY };

export const DEFAULT_CONFIG: AuditConfig = {
  severity: {},
  followIncludes: true,
  profile: 'tdx-linux-6.12+',
};

const MAX_INCLUDE_DEPTH = 8;
const QUOTED_INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm;

interface HeaderEntry {
  text: string;
  knowledge: Knowledge;
}

export class AuditEngine {
  private config: AuditConfig = { ...DEFAULT_CONFIG };
  /** Headers by absolute path, reanalysed only when their text changes. */
  private readonly headers = new Map<string, HeaderEntry>();
  /** Opened objects, shared by every file (a .ko or vmlinux holds many). */
  readonly objects = new ObjectStore();

  private constructor(
    private readonly parser: CParser,
    private readonly host: EngineHost,
  ) {}

  static async create(host: EngineHost): Promise<AuditEngine> {
    return new AuditEngine(await CParser.create(), host);
  }

  configure(cfg: Partial<AuditConfig>): void {
    this.config = { ...this.config, ...cfg, severity: { ...(cfg.severity ?? this.config.severity) } };
    if ('objects' in cfg) this.objects.refreshFolders();
  }

  get configuration(): Readonly<AuditConfig> {
    return this.config;
  }

  /**
   * Audits one document. `edits` are accepted for callers that have them; the parser
   * derives its own edit from the previous text, which is never wrong.
   */
  audit(file: string, text: string, version: number, edits?: TreeEdit[]): FileAudit {
    void edits;
    const t0 = performance.now();
    // LSP (and editors) end a line at a lone CR too; tree-sitter counts only LF. The
    // same-length swap keeps every offset and makes rows the lines the client has.
    if (text.includes('\r')) text = text.replace(/\r(?!\n)/g, '\n');
    const parsed = this.parser.parse(file, text);
    const imported = this.config.followIncludes ? this.importsOf(file, text).knowledge : emptyKnowledge();
    const { analysis } = analyzeFile(this.parser, parsed, file, imported);
    const findings: Finding[] = [];
    const bySite = new Map<Site, Finding>();
    for (const site of analysis.sites) {
      const f = findingFor(site, this.config);
      if (f) {
        findings.push(f);
        bySite.set(site, f);
      }
    }
    const compiled = this.compiledForms(file, text, analysis);
    if (compiled) applyCompiled(compiled, analysis.sites, bySite);
    return { file, version, analysis, findings, ms: performance.now() - t0, ...(compiled ? { compiled } : {}) };
  }

  /**
   * The annotated disassembly of the function holding `position` (or named
   * `fn`), with the instructions the join tied to sites marked by verdict.
   * `audit` is the document's current audit (the caller has it; auditing again
   * here would repeat the parse and the join).
   */
  compiledForm(audit: FileAudit, text: string, position?: Position, fn?: string): { content: string; function: string | null; object: string | null; message: string } {
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
    const symbol = fn ?? (position ? functionAt(bin, path, position.line + 1) : undefined);
    if (!symbol) return { content: '', function: null, object: choice.object.path, message: `No code for line ${(position?.line ?? 0) + 1} in ${choice.object.path}.` };
    const readSource = (p: string) => (sameFile(p, path) ? text : this.host.readFile(p));
    const r = renderFunction(bin, choice.object.path, symbol, { profile: this.config.profile, marks: info.state === 'lines-differ' ? undefined : marks, readSource });
    return { content: r.content, function: r.function, object: choice.object.path, message: info.state === 'fresh' ? '' : info.message };
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
      return compiledFormsFor({ choice, source: path, text, sites: analysis.sites, profile: this.config.profile, diskText });
    } catch (e) {
      return { object: { path: undefined, state: 'unusable', message: `reading the object failed: ${e instanceof Error ? e.message : String(e)}` }, sites: [], functions: [] };
    }
  }

  /** Audits text that is not kept open (CLI, workspace scans): no tree is cached. */
  auditOnce(file: string, text: string): FileAudit {
    try {
      return this.audit(file, text, 0);
    } finally {
      this.forget(file);
    }
  }

  forget(file: string): void {
    this.parser.forget(file);
  }

  /** Drops cached header knowledge (a header changed on disk). */
  invalidateHeader(path: string): void {
    this.headers.delete(path);
  }

  /**
   * Knowledge from the quoted includes of `file`, each header analysed with its own
   * includes. `stack` holds the headers on the current include chain only (a cycle
   * is cut there), not every header seen so far: with a global "seen" set, a header
   * reached second in a diamond (a.c includes b.h and c.h, both include d.h) was
   * cached without d.h's knowledge, and every later file including c.h missed d.h's
   * wrappers, so a file's sites depended on which files were audited before it.
   */
  private importsOf(file: string, text: string, depth = 0, stack = new Set<string>(), memo = new Map<string, HeaderResult>()): HeaderResult {
    const out = emptyKnowledge();
    const path = toPath(file);
    if (!path) return { knowledge: out, partial: false };
    if (depth > MAX_INCLUDE_DEPTH) return { knowledge: out, partial: true };
    stack.add(path);
    let partial = false;
    const asUri = file.startsWith('file:');
    for (const m of text.matchAll(QUOTED_INCLUDE_RE)) {
      const hp = resolvePath(dirname(path), m[1]);
      if (stack.has(hp)) {
        partial = true; // a cycle: this chain's knowledge lacks the header it came back to
        continue;
      }
      const h = this.header(hp, asUri, depth + 1, stack, memo);
      if (!h) continue;
      if (h.partial) partial = true;
      mergeKnowledge(out, h.knowledge);
    }
    stack.delete(path);
    return { knowledge: out, partial };
  }

  /**
   * A header's exports merged with what it includes (so includers see both). Cached
   * by path and text, unless a cycle was cut below it: what it knows then depends on
   * where the chain started.
   */
  private header(path: string, asUri: boolean, depth: number, stack: Set<string>, memo: Map<string, HeaderResult>): HeaderResult | undefined {
    // Within one audit each header is analysed once (a partial one too), which
    // bounds the work on cyclic includes.
    const seen = memo.get(path);
    if (seen) return seen;
    const text = this.host.readFile(path);
    if (text === undefined) return undefined;
    const cached = this.headers.get(path);
    if (cached && cached.text === text) return { knowledge: cached.knowledge, partial: false };
    const name = asUri ? pathToFileURL(path).toString() : path;
    const imported = this.importsOf(name, text, depth, stack, memo);
    const parsed = this.parser.parse(undefined, text);
    try {
      const { exports } = analyzeFile(this.parser, parsed, name, imported.knowledge);
      mergeKnowledge(exports, imported.knowledge);
      if (!imported.partial) this.headers.set(path, { text, knowledge: exports });
      const r = { knowledge: exports, partial: imported.partial };
      memo.set(path, r);
      return r;
    } finally {
      parsed.tree.delete();
    }
  }
}

interface HeaderResult {
  knowledge: Knowledge;
  /** A cycle was cut below: what it knows depends on where the chain started (never cached across files). */
  partial: boolean;
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
