// The report model: one structure every writer (SARIF, HTML, Markdown, JSON) renders,
// so the formats cannot disagree. Built from the engine's audits, the compiled forms
// when objects were read, the provenance, and the triage file.

import { readTextOrUndefined } from '../../fs/safeRead';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AccessorKind, Range, RuleCode, SiteKind } from '../../c/types';
import type { FileAudit, Severity } from '../engine';
import type { CompiledInstruction, FileCompiled, InstructionVerdict, ObjectInfo } from '../compiled';
import type { HandlerView } from '../../x86/handlers';
import { siteKeys, type SiteKey } from './fingerprint';
import { relativeTo, subsystemOf, type Provenance } from './provenance';
import { DEEMPHASISED, entryOf, type TriageEntry, type TriageFile } from './triage';
import type { BuildState } from '../kbuild';

export type ReportInputFile = {
  /** Absolute path (or file: URI) of the source file. */
  path: string;
  audit: FileAudit;
  /** Compiled forms; defaults to audit.compiled (the engine joins when configured with objects). */
  compiled?: FileCompiled;
  /** What the tree's .config does with the file (audit/kbuild.ts), and whether the allow-list names it. */
  build?: FileBuild;
} & (
  | {
      /** The text the audit was made from (fingerprints read the site expressions from it). */
      text: string;
      keys?: undefined;
    }
  | {
      /**
       * siteKeys(relative path, text, audit.analysis.sites), computed by a caller that
       * drops each text after auditing it (a whole tree's text does not fit in memory twice).
       */
      keys: SiteKey[];
      text?: undefined;
    }
);

/** A file's place in the TD kernel: built by its .config or not, on the driver allow-list or not. */
export interface FileBuild {
  state?: BuildState;
  why?: string;
  /** Set when an allow-list was given: the file's folder, path or driver is on it. */
  allowed?: boolean;
}

/** Shown but not counted as open work: triaged safe/excluded/trusted, or not built by this .config. */
export function deemphasisedOf(f: { triage?: TriageEntry | null; build?: FileBuild }): boolean {
  return (f.triage ? DEEMPHASISED.has(f.triage.status) : false) || f.build?.state === 'not-built';
}

export interface ReportInput {
  files: ReportInputFile[];
  provenance: Provenance;
  triage?: TriageFile;
  /** Files that were not audited, and why (unreadable, too large, analysis failed). */
  skipped?: { file: string; why: string }[];
}

/**
 * What the #VE handler does with the site. From the compiled instructions when they
 * were read (the worst of them); otherwise what the source implies: io.h accessors are
 * one MOV (emulated), `__iowrite32_copy` is rep movs, `iosubmit_cmds512` is MOVDIR64B,
 * and a raw dereference or libc call is whatever the compiler chose.
 */
export type ReportVerdict = InstructionVerdict | 'compiler-dependent';

/** Worst first: the order of columns and of "the worst instruction wins". */
export const VERDICT_ORDER: readonly ReportVerdict[] = [
  'decode-failed',
  'rejected',
  'rejected-movs',
  'rejected-string-io',
  'misemulated',
  'compiler-dependent',
  'out-of-line',
  'emulated',
  'not-intercepted',
];

/** Verdicts that mean the guest oopses (is terminated) or computes a wrong value. */
export const FAILING_VERDICTS: ReadonlySet<ReportVerdict> = new Set<ReportVerdict>(['decode-failed', 'rejected', 'rejected-movs', 'rejected-string-io', 'misemulated']);

// Without compiled forms: the handler record of the accessor's own instruction
// (Finding.handler) when it is one; else by rule. Partial: a rule added later
// defaults to compiler-dependent (nothing promised) until listed.
const SOURCE_VERDICT: Partial<Record<RuleCode, ReportVerdict>> = {
  'tdx-ve-mmio': 'emulated',
  'tdx-ve-mmio-string': 'emulated',
  'tdx-ve-port-io': 'emulated',
  'tdx-ve-port-string': 'emulated',
  'tdx-ve-msr': 'emulated',
  'tdx-ve-cpuid': 'emulated',
  'tdx-ve-hlt': 'emulated',
  'tdx-iomem-deref': 'compiler-dependent',
  'tdx-iomem-libc': 'compiler-dependent',
  'tdx-mmio-untyped-deref': 'compiler-dependent',
  'tdx-movs-copy': 'rejected-movs',
  'tdx-movdir64b': 'decode-failed',
};

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'information', 'hint'];

export interface ReportLocation {
  /** Relative to the tree root, '/'-separated (absolute when outside the root). */
  file: string;
  range: Range;
  message: string;
}

export interface ReportFinding {
  fingerprint: string;
  rule: RuleCode;
  severity: Severity;
  message: string;
  file: string;
  subsystem: string;
  function: string | null;
  /** Normalised source expression of the site (what the fingerprint hashes). */
  expression: string;
  /** Occurrence of (function, expression) within the function, from 0. */
  ordinal: number;
  range: Range;
  callRange: Range;
  accessor: string;
  base: string;
  accessorKind: AccessorKind;
  siteKind: SiteKind;
  width: number;
  address: string;
  via: { name: string; callee: string; file: string; line: number }[];
  /** The wrapper/helper bodies, the __iomem declaration, and the kernel header that defines the accessor. */
  related: ReportLocation[];
  verdict: ReportVerdict;
  /** The site stands in a region tree-sitter could not fully read (c/errorRegions.ts): found, but from loose tokens. */
  inParseError?: true;
  /** Seen in the object only: DWARF shows the accessor at a line where the source analysis found none (compiled/objectOnly.ts). */
  objectOnly?: 'inlined' | 'call';
  verdictFrom: 'compiled' | 'source';
  /**
   * What the profile's handler does with the accessor's own instruction (io.h's MOV,
   * IN/OUT, RDMSR ...: Finding.handler), when the accessor is one instruction: the
   * source verdict's reason. Each compiled instruction carries its own record.
   */
  handler?: HandlerView;
  /** Present when compiled forms were joined for the file. */
  compiled?: { instructions: CompiledInstruction[]; note?: string };
  triage?: TriageEntry;
  /** True for safe/excluded/trusted: shown, but not counted as open work. */
  deemphasised: boolean;
  /** Set once a baseline was applied. */
  baseline?: 'new' | 'unchanged';
  /** The file's build state under the tree's .config, and its place on the allow-list. */
  build?: FileBuild;
}

/** "Where the #VE lands": per function, from the object when read, else from the source view. */
export interface LandingRow {
  file: string;
  subsystem: string;
  function: string;
  /** 1-based line of the definition; null when only the object knows the symbol. */
  line: number | null;
  from: 'object' | 'source';
  /** Source view: sites in its own body, helpers it reaches them through, sites reached. */
  direct: number | null;
  via: string[];
  reached: number | null;
  isStatic: boolean | null;
  isInline: boolean | null;
  /** Object view: MMIO/port instructions the symbol holds, by verdict. */
  instructions: number | null;
  verdicts: Partial<Record<InstructionVerdict, number>> | null;
}

export interface ReportFileRow {
  file: string;
  subsystem: string;
  /** All sites the analysis found, including rules switched off. */
  sites: number;
  findings: number;
  parseErrors: number;
  ms: number;
  object?: Pick<ObjectInfo, 'path' | 'state' | 'message'>;
}

export interface SubsystemCount {
  subsystem: string;
  total: number;
  byVerdict: Partial<Record<ReportVerdict, number>>;
  bySeverity: Partial<Record<Severity, number>>;
}

export interface ReportCounts {
  findings: number;
  bySeverity: Record<Severity, number>;
  byVerdict: Partial<Record<ReportVerdict, number>>;
  byRule: Partial<Record<RuleCode, number>>;
  /** Triage status, or 'untriaged'. */
  byTriage: Record<string, number>;
  /** Sorted by total, largest first. */
  bySubsystem: SubsystemCount[];
  /** Findings in files this .config does not build (counted apart, shown faded); absent without a .config. */
  notBuilt?: number;
  /** Findings in files on the driver allow-list; absent without one. */
  allowed?: number;
}

export interface BaselineSummary {
  /** Where the baseline came from (path or label). */
  source: string;
  new: number;
  unchanged: number;
  /** Findings of the baseline that are gone. */
  fixed: { fingerprint: string; rule: string; file: string; function: string | null; line: number; message: string }[];
}

export interface ReportModel {
  provenance: Provenance;
  findings: ReportFinding[];
  functions: LandingRow[];
  files: ReportFileRow[];
  skipped: { file: string; why: string }[];
  counts: ReportCounts;
  baseline?: BaselineSummary;
}

const inc = <K extends string>(m: Partial<Record<K, number>>, k: K) => {
  m[k] = (m[k] ?? 0) + 1;
};

export function worstVerdict(vs: Iterable<ReportVerdict>): ReportVerdict | undefined {
  let best: number | undefined;
  for (const v of vs) {
    const i = VERDICT_ORDER.indexOf(v);
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best === undefined ? undefined : VERDICT_ORDER[best];
}

/**
 * A finding as one file's audit gives it. Triage, the file's build state and what
 * follows from them (deemphasised) are the run's, added by assembleReportModel.
 */
export type RowFinding = Omit<ReportFinding, 'triage' | 'deemphasised' | 'baseline' | 'build'>;

/**
 * One audited file's share of a report: plain JSON data (no audit, no tree, no
 * text), so it can cross a worker boundary, be written to a spool file, or be kept
 * by the editor's index and reused by its export. Made by reportRowsOf, put
 * together by assembleReportModel.
 */
export interface FileReportRows {
  /** The path the file was audited under (absolute, or a file: URI): the provenance names its object by it. */
  path: string;
  /** Relative to the tree root, '/'-separated. */
  file: string;
  /** In the audit's order; triage not applied. */
  findings: RowFinding[];
  /** Where the #VE lands, per function. */
  functions: LandingRow[];
  row: ReportFileRow;
  /** The object the compiled forms came from, when they were joined (provenance lists it). */
  object?: ObjectInfo;
  /** What the .config does with the file, and whether the allow-list names it. */
  build?: FileBuild;
}

/** What every file's rows of one run share: the tree root paths are relative to, and where accessors are defined. */
export interface RowScope {
  root: string;
  definitions: AccessorDefinitions;
}

/** The scope of a run over `root`; in a kernel tree findings point at the io.h line defining their accessor. */
export function rowScope(root: string, kernelTree: boolean): RowScope {
  return { root, definitions: new AccessorDefinitions(kernelTree ? root : undefined) };
}

const relIn = (root: string, p: string) => relativeTo(root, p.startsWith('file:') ? fileURLToPath(p) : p);

/** The per-file step of a report: pure, from the audit alone (no triage, no other file). */
export function reportRowsOf(f: ReportInputFile, scope: RowScope): FileReportRows {
  const rel = (p: string) => relIn(scope.root, p);
  const defs = scope.definitions;
  const file = rel(f.path);
  const subsystem = subsystemOf(file);
  const sites = f.audit.analysis.sites;
  const keys = f.keys ?? siteKeys(file, f.text, sites);
  if (keys.length !== sites.length) throw new Error(`${file}: ${keys.length} site keys for ${sites.length} sites`);
  const compiled = f.compiled ?? f.audit.compiled;
  const compiledBySite = new Map((compiled?.sites ?? []).map((s) => [s.siteIndex, s]));
  const findings: RowFinding[] = [];

  for (const fd of f.audit.findings) {
    let idx = sites.indexOf(fd.site);
    // An audit that went through structured cloning (worker, LSP) has copies, not the same objects.
    if (idx < 0) idx = sites.findIndex((s) => sameRange(s.callRange, fd.site.callRange) && s.rule === fd.rule);
    // A finding whose site is not in the analysis cannot happen with the engine; keep it, keyed alone.
    const key = idx >= 0 ? keys[idx] : siteKeys(file, f.text ?? '', [fd.site])[0];
    const sc = idx >= 0 ? compiledBySite.get(idx) : undefined;
    const compiledVerdict = sc ? worstVerdict(sc.instructions.map((i) => i.verdict)) : undefined;
    const s = fd.site;
    const related: ReportLocation[] = fd.related.map((r) => ({ file: rel(r.file), range: r.range, message: r.message }));
    const def = s.kind === 'call' ? defs.find(s.base) : undefined;
    if (def) related.push({ file: def.file, range: def.range, message: `${s.base} defined here` });
    findings.push({
      fingerprint: key.fingerprint,
      rule: fd.rule,
      severity: fd.severity,
      message: fd.message,
      file,
      subsystem,
      function: s.function,
      expression: key.expression,
      ordinal: key.ordinal,
      range: s.range,
      callRange: s.callRange,
      accessor: s.accessor,
      base: s.base,
      accessorKind: s.accessorKind,
      siteKind: s.kind,
      width: s.width,
      address: s.address,
      via: s.via.map((v) => ({ name: v.name, callee: v.callee, file: rel(v.file), line: v.range.start.line + 1 })),
      related,
      verdict: compiledVerdict ?? fd.handler?.verdict ?? SOURCE_VERDICT[fd.rule] ?? 'compiler-dependent',
      verdictFrom: compiledVerdict ? 'compiled' : 'source',
      ...(s.inParseError ? { inParseError: true as const } : {}),
      ...(s.objectOnly ? { objectOnly: s.objectOnly.how } : {}),
      ...(fd.handler ? { handler: fd.handler } : {}),
      ...(compiled
        ? { compiled: { instructions: sc?.instructions ?? fd.instructions ?? [], ...((sc?.note ?? fd.compiledNote) ? { note: sc?.note ?? fd.compiledNote } : {}) } }
        : {}),
    });
  }

  return {
    path: f.path,
    file,
    findings,
    functions: landingRows(file, subsystem, f.audit, compiled),
    row: {
      file,
      subsystem,
      sites: sites.length,
      findings: f.audit.findings.length,
      parseErrors: f.audit.analysis.parseErrors,
      ms: Math.round(f.audit.ms * 10) / 10,
      ...(compiled ? { object: { path: compiled.object.path, state: compiled.object.state, message: compiled.object.message } } : {}),
    },
    ...(compiled ? { object: compiled.object } : {}),
    ...(f.build ? { build: f.build } : {}),
  };
}

/**
 * Shares the parts of rows that repeat across files: rows that came from another
 * thread are copies, one per file, of the same handler records (HandlerView: the
 * same few dozen for a whole kernel, each larger than the finding that carries it),
 * instruction summaries and object paths. A run's main thread keeps every row until
 * the model is written; sharing them is what lets a whole kernel's rows fit.
 */
export class RowInterner {
  private readonly handlers = new Map<string, HandlerView>();
  private readonly strings = new Map<string, string>();

  private handler(h: HandlerView): HandlerView {
    const k = JSON.stringify(h);
    const hit = this.handlers.get(k);
    if (hit) return hit;
    this.handlers.set(k, h);
    return h;
  }

  private string(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    this.strings.set(s, s);
    return s;
  }

  /** The rows, with repeated parts replaced by the first equal copy (in place; the same JSON). */
  intern(r: FileReportRows): FileReportRows {
    for (const f of r.findings) {
      if (f.handler) f.handler = this.handler(f.handler);
      for (const i of f.compiled?.instructions ?? []) {
        if (i.handler) i.handler = this.handler(i.handler);
        i.object = this.string(i.object);
        i.summary = this.string(i.summary);
      }
    }
    return r;
  }
}

export interface RowsInput {
  /** Each audited file's rows, in the order the files were listed (findings are sorted here, stably). */
  rows: Iterable<FileReportRows>;
  provenance: Provenance;
  triage?: TriageFile;
  /** Files that were not audited, and why (unreadable, too large, analysis failed). */
  skipped?: { file: string; why: string }[];
}

/** A file's findings with the run's triage and the file's build state applied (in the rows' order). */
export function findingsOfRows(r: FileReportRows, triageFile: TriageFile | undefined): ReportFinding[] {
  const build = r.build;
  return r.findings.map((rf) => {
    const triage = entryOf(triageFile, rf.fingerprint);
    return { ...rf, ...(triage ? { triage } : {}), ...(build ? { build } : {}), deemphasised: deemphasisedOf({ triage, build }) };
  });
}

/** The run-wide step of a report: triage and build state on each finding, sorted, counted. */
export function assembleReportModel(input: RowsInput): ReportModel {
  const findings: ReportFinding[] = [];
  const functions: LandingRow[] = [];
  const files: ReportFileRow[] = [];
  for (const r of input.rows) {
    for (const f of findingsOfRows(r, input.triage)) findings.push(f);
    for (const fn of r.functions) functions.push(fn);
    files.push(r.row);
  }
  findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character));
  const skipped = skippedRows(input.provenance.root, input.skipped);
  return { provenance: input.provenance, findings, functions, files, skipped, counts: countFindings(findings) };
}

/** Skipped files as the report lists them: relative to the tree root. */
export function skippedRows(root: string, skipped: readonly { file: string; why: string }[] = []): { file: string; why: string }[] {
  return skipped.map((s) => ({ file: relIn(root, s.file), why: s.why }));
}

/** The model from whole audits: reportRowsOf per file, then assembleReportModel. */
export function buildReportModel(input: ReportInput): ReportModel {
  const scope = rowScope(input.provenance.root, input.provenance.kernel !== undefined);
  return assembleReportModel({ ...input, rows: input.files.map((f) => reportRowsOf(f, scope)) });
}

function sameRange(a: Range, b: Range): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;
}

function landingRows(file: string, subsystem: string, audit: FileAudit, compiled: FileCompiled | undefined): LandingRow[] {
  const src = new Map(audit.analysis.functions.map((fn) => [fn.name, fn]));
  if (compiled?.functions.length) {
    // The object knows where the #VE really lands (after inlining); the source view
    // adds the line and the helpers it came through when the symbol is a source function.
    return compiled.functions.map((o) => {
      const s = src.get(o.name);
      return {
        file,
        subsystem,
        function: o.name,
        line: s ? s.range.start.line + 1 : null,
        from: 'object' as const,
        direct: s ? s.direct : null,
        via: s ? s.via : [],
        reached: s ? s.reached : null,
        isStatic: s ? s.isStatic : null,
        isInline: s ? s.isInline : null,
        instructions: o.instructions,
        verdicts: o.verdicts,
      };
    });
  }
  return audit.analysis.functions
    .filter((fn) => fn.direct > 0 || fn.via.length > 0)
    .map((fn) => ({
      file,
      subsystem,
      function: fn.name,
      line: fn.range.start.line + 1,
      from: 'source' as const,
      direct: fn.direct,
      via: fn.via,
      reached: fn.reached,
      isStatic: fn.isStatic,
      isInline: fn.isInline,
      instructions: null,
      verdicts: null,
    }));
}

/** What counting reads of a finding (a ReportFinding or a doc.ts FindingKey). */
export type Counted = Pick<ReportFinding, 'severity' | 'verdict' | 'rule' | 'subsystem' | 'build'> & { triage?: { status: string } };

/** The run's counts, from its findings in the model's order (key order follows first appearance). */
export function countFindings(findings: Iterable<Counted>): ReportCounts {
  const bySeverity: Record<Severity, number> = { error: 0, warning: 0, information: 0, hint: 0 };
  const byVerdict: Partial<Record<ReportVerdict, number>> = {};
  const byRule: Partial<Record<RuleCode, number>> = {};
  const byTriage: Record<string, number> = {};
  const subs = new Map<string, SubsystemCount>();
  let n = 0;
  let built = false;
  let listed = false;
  let notBuilt = 0;
  let allowedN = 0;
  for (const f of findings) {
    n++;
    bySeverity[f.severity]++;
    inc(byVerdict, f.verdict);
    inc(byRule, f.rule);
    inc(byTriage, f.triage?.status ?? 'untriaged');
    let s = subs.get(f.subsystem);
    if (!s) subs.set(f.subsystem, (s = { subsystem: f.subsystem, total: 0, byVerdict: {}, bySeverity: {} }));
    s.total++;
    inc(s.byVerdict, f.verdict);
    inc(s.bySeverity, f.severity);
    if (f.build?.state !== undefined) built = true;
    if (f.build?.allowed !== undefined) listed = true;
    if (f.build?.state === 'not-built') notBuilt++;
    if (f.build?.allowed === true) allowedN++;
  }
  const bySubsystem = [...subs.values()].sort((a, b) => b.total - a.total || (a.subsystem < b.subsystem ? -1 : 1));
  return {
    findings: n, bySeverity, byVerdict, byRule, byTriage, bySubsystem,
    ...(built ? { notBuilt } : {}),
    ...(listed ? { allowed: allowedN } : {}),
  };
}

// ---------------------------------------------------------------------------------
// Where a catalogued accessor is defined in the kernel tree, so a finding can point
// at the io.h line (`build_mmio_write(writel, ...)`) that makes it a single MOV.

/** Searched in order: the x86 definition wins over the generic fallback. */
export const DEFINING_FILES = [
  'arch/x86/include/asm/io.h',
  'include/asm-generic/io.h',
  'lib/iomap.c',
  'arch/x86/lib/iomem.c',
  'include/linux/io-64-nonatomic-lo-hi.h',
  'include/linux/io-64-nonatomic-hi-lo.h',
  'arch/x86/include/asm/msr.h',
  'arch/x86/include/asm/special_insns.h',
  'arch/x86/include/asm/processor.h',
  'arch/x86/include/asm/irqflags.h',
];

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class AccessorDefinitions {
  private readonly texts = new Map<string, string[] | null>();
  private readonly cache = new Map<string, { file: string; range: Range } | null>();

  /** root undefined: not a kernel tree, nothing to find. */
  constructor(private readonly root: string | undefined) {}

  find(name: string): { file: string; range: Range } | undefined {
    if (!this.root || !/^\w+$/.test(name)) return undefined;
    if (this.cache.has(name)) return this.cache.get(name) ?? undefined;
    const port = /^(?:in|out|ins|outs)([bwl])(?:_p)?$/.exec(name);
    const patterns = [
      new RegExp(`^build_mmio_(?:read|write)\\(\\s*${escapeRe(name)}\\s*,`),
      ...(port ? [new RegExp(`^BUILDIO\\(\\s*${port[1]}\\s*,`)] : []),
      // A definition starts in column 0 with a type; calls inside bodies are indented.
      new RegExp(`^(?:static\\s+|extern\\s+)?(?:inline\\s+|__always_inline\\s+)?[A-Za-z_][\\w\\s*]*?\\b${escapeRe(name)}\\s*\\(`),
    ];
    let hit: { file: string; range: Range } | null = null;
    outer: for (const rel of DEFINING_FILES) {
      const lines = this.lines(rel);
      if (!lines) continue;
      for (const re of patterns) {
        for (let i = 0; i < lines.length; i++) {
          const m = re.exec(lines[i]);
          if (m && !lines[i].trimEnd().endsWith(';')) {
            // BUILDIO(b, b, u8) does not spell the name: point at the line start then.
            const col = Math.max(0, lines[i].search(new RegExp(`\\b${escapeRe(name)}\\b`)));
            hit = { file: rel, range: { start: { line: i, character: col }, end: { line: i, character: lines[i].length } } };
            break outer;
          }
        }
      }
    }
    this.cache.set(name, hit);
    return hit ?? undefined;
  }

  private lines(rel: string): string[] | null {
    if (!this.texts.has(rel)) {
      const text = readTextOrUndefined(join(this.root!, rel));
      const t = text === undefined ? null : text.split('\n');
      this.texts.set(rel, t);
    }
    return this.texts.get(rel)!;
  }
}
