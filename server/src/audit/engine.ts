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

// The profile type lives with the profile table (x86/profiles.ts); re-exported
// here for the engine's callers.
import type { Profile } from '../x86/profiles';
export type { Profile };

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
import { DEFAULT_PROFILE } from '../x86/profiles';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { analyzeFile } from '../c/analyze';
import { emptyKnowledge, mergeKnowledge, type Knowledge } from '../c/knowledge';
import { CParser } from '../c/parser';
import { findingFor, DEFAULT_SEVERITY } from './findings';
import { ObjectStore } from './objects';
import { compiledFormsThroughEdits, savedLineOf } from './compiled/edited';
import { findingAt } from './hover';
import { sameFile } from './compiled/facts';
import { functionAt, renderFunction } from './disasm';
import { applyCompiled } from './verdicts';
export { hoverMarkdown } from './hover';
export { DEFAULT_SEVERITY };

export const DEFAULT_CONFIG: AuditConfig = {
  severity: {},
  followIncludes: true,
  profile: DEFAULT_PROFILE,
};

/** Headers one include walk may read (a generated tree of thousands of headers stops there). */
const MAX_HEADERS_PER_WALK = 2000;
const QUOTED_INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm;

interface HeaderEntry {
  text: string;
  knowledge: Knowledge;
  /**
   * Every header the knowledge was built from (itself, its component, all it
   * includes) with the text it had: an edit to any of them, not only to this one,
   * makes the entry stale.
   */
  deps: ReadonlyMap<string, string>;
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
    const imported = this.config.followIncludes ? this.importsOf(file, text) : emptyKnowledge();
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
    const symbol = fn ?? (position ? functionAt(bin, unitPath, savedLineOf(readTextOrUndefined(path), text, position.line) + 1) : undefined);
    if (!symbol) return { content: '', function: null, object: choice.object.path, message: `No code for line ${(position?.line ?? 0) + 1} in ${choice.object.path}.` };
    // The object's lines are the saved text's (an unsaved edit shifts them).
    const readSource = (p: string) => (sameFile(p, unitPath) ? readTextOrUndefined(path) ?? text : this.host.readFile(p));
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
   * Knowledge from the quoted includes of `file`, in include order (first definition
   * wins, as with the preprocessor).
   *
   * A header's knowledge is what it declares plus everything it includes, and must
   * not depend on which file reached it first: with a global "seen" set, a header
   * reached second in a diamond (a.c includes b.h and c.h, both include d.h) was
   * cached without d.h's knowledge, so a file's sites depended on which files were
   * audited before it. Headers are therefore taken a strongly connected component
   * of the include graph at a time (Tarjan): a header outside any cycle is analysed
   * once with what it includes; headers that include each other (with guards, C
   * sees all of them whichever comes first) share one knowledge, computed by
   * analysing each member against the others' exports until nothing new appears.
   */
  private importsOf(file: string, text: string): Knowledge {
    const out = emptyKnowledge();
    const path = toPath(file);
    if (!path) return out;
    const asUri = file.startsWith('file:');
    // Each header is read once per audit, however many includes name it.
    const texts = new Map<string, string | undefined>();
    const read = (p: string) => {
      if (!texts.has(p)) texts.set(p, this.host.readFile(p));
      return texts.get(p);
    };
    for (const m of text.matchAll(QUOTED_INCLUDE_RE)) {
      const k = this.headerKnowledge(resolvePath(dirname(path), m[1]!), asUri, read);
      if (k) mergeKnowledge(out, k);
    }
    return out;
  }

  /** The cached knowledge of a header whose text is unchanged, else undefined. */
  private cachedHeader(path: string, read: (p: string) => string | undefined): { text: string; knowledge: Knowledge } | undefined {
    const hit = this.headers.get(path);
    if (!hit) return undefined;
    for (const [p, t] of hit.deps) if (read(p) !== t) return undefined;
    return hit;
  }

  /** A header's knowledge (with all it includes), or undefined when it cannot be read. */
  private headerKnowledge(root: string, asUri: boolean, read: (p: string) => string | undefined): Knowledge | undefined {
    const hit = this.cachedHeader(root, read);
    if (hit) return hit.knowledge;
    interface Node {
      path: string;
      text: string;
      includes: string[];
      index: number;
      low: number;
      onStack: boolean;
    }
    const nodes = new Map<string, Node>();
    const stack: Node[] = [];
    const done = new Map<string, Knowledge>();
    const depsOf = new Map<string, ReadonlyMap<string, string>>();
    let budget = MAX_HEADERS_PER_WALK;
    const knowledgeOf = (p: string): Knowledge | undefined => done.get(p) ?? this.cachedHeader(p, read)?.knowledge;
    const analyse = (n: Node, imported: Knowledge): Knowledge => {
      const name = asUri ? pathToFileURL(n.path).toString() : n.path;
      const parsed = this.parser.parse(undefined, n.text);
      try {
        return analyzeFile(this.parser, parsed, name, imported).exports;
      } finally {
        parsed.tree.delete();
      }
    };
    const finish = (members: Node[]) => {
      // Path order, so the result does not depend on where the walk came in.
      members.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const inScc = new Set(members.map((m) => m.path));
      const external = emptyKnowledge();
      const deps = new Map<string, string>(members.map((m) => [m.path, m.text]));
      for (const m of members) {
        for (const q of m.includes) {
          if (inScc.has(q)) continue;
          const k = knowledgeOf(q);
          if (!k) continue;
          mergeKnowledge(external, k);
          for (const [p, t] of depsOf.get(q) ?? this.headers.get(q)?.deps ?? []) deps.set(p, t);
        }
      }
      let know = emptyKnowledge();
      const single = members.length === 1 && !members[0]!.includes.includes(members[0]!.path);
      for (let round = 0, last = -1; round <= (single ? 0 : Math.min(members.length, 4)); round++) {
        const imported = emptyKnowledge();
        mergeKnowledge(imported, know);
        mergeKnowledge(imported, external);
        const next = emptyKnowledge();
        for (const m of members) mergeKnowledge(next, analyse(m, imported));
        mergeKnowledge(next, external);
        know = next;
        const size = know.wrappers.size + know.fields.size + know.globals.size + know.plainFields.size;
        if (size === last) break;
        last = size;
      }
      for (const m of members) {
        done.set(m.path, know);
        depsOf.set(m.path, deps);
        this.headers.set(m.path, { text: m.text, knowledge: know, deps });
      }
    };
    let next = 0;
    const visit = (p: string): Node | undefined => {
      const text = read(p);
      if (text === undefined) return undefined;
      const dir = dirname(p);
      const n: Node = { path: p, text, includes: [...text.matchAll(QUOTED_INCLUDE_RE)].map((m) => resolvePath(dir, m[1]!)), index: next, low: next, onStack: true };
      next++;
      nodes.set(p, n);
      stack.push(n);
      for (const q of n.includes) {
        const seen = nodes.get(q);
        if (seen) {
          if (seen.onStack) n.low = Math.min(n.low, seen.index);
          continue;
        }
        if (done.has(q) || this.cachedHeader(q, read)) continue;
        // A pathological tree (thousands of generated headers) stops here rather than
        // recursing without bound; what lies beyond is not followed.
        if (--budget < 0) continue;
        const m = visit(q);
        if (m) n.low = Math.min(n.low, m.low);
      }
      if (n.low === n.index) {
        const members: Node[] = [];
        for (;;) {
          const m = stack.pop()!;
          m.onStack = false;
          members.push(m);
          if (m === n) break;
        }
        finish(members);
      }
      return n;
    };
    visit(root);
    return done.get(root);
  }
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
    const k = rows.findIndex((r) => new RegExp(`^\\s+\\+0x${first.offset.toString(16)}\\s`).test(r));
    if (k >= 0) return k;
  }
  const k = rows.findIndex((r) => new RegExp(`^; \\S+:${position.line + 1}$`).test(r));
  return k >= 0 ? k : undefined;
}
