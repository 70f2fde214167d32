// What every writer (JSON, SARIF, HTML, Markdown) reads: a report document. It holds
// in memory only what ordering, grouping and counting need (one small FindingKey per
// finding, in the model's order) and hands out each whole finding when a writer asks
// for it by its index. Two kinds exist: one over an in-memory ReportModel (tests,
// merge, small runs) and one over a spool on disk (spool.ts: a whole kernel's
// findings, read back as they are written). The writers cannot tell them apart, so
// both print the same bytes.

import type { Severity } from '../engine';
import type { BaselineSummary, FileBuild, LandingRow, ReportCounts, ReportFileRow, ReportFinding, ReportModel, ReportVerdict, RowFinding } from './model';
import type { Provenance } from './provenance';
import type { TriageEntry } from './triage';
import type { RuleCode } from '../../c/types';

/**
 * What the writers decide by without reading a finding: tier, group, order, counts,
 * whether the HTML page lists it. The same fields as ReportFinding where they exist.
 */
export interface FindingKey {
  file: string;
  /** 0-based start of the site's range. */
  line: number;
  character: number;
  function: string | null;
  severity: Severity;
  verdict: ReportVerdict;
  verdictFrom: 'compiled' | 'source';
  rule: RuleCode;
  subsystem: string;
  fingerprint: string;
  deemphasised: boolean;
  triage?: TriageEntry;
  build?: FileBuild;
  baseline?: 'new' | 'unchanged';
  /** Among warnings, the likeliest failure first (sections.ts warningRisk of the message). */
  risk: number;
}

export interface ReportDoc {
  provenance: Provenance;
  counts: ReportCounts;
  /** One key per finding, in the model's order (file, line, column; stable). */
  keys: readonly FindingKey[];
  /** The finding at index i of the model's order (a fresh copy when read from disk). */
  finding(i: number): ReportFinding;
  /** "Where the #VE lands", in the files' order. */
  functionCount: number;
  functions(): Iterable<LandingRow>;
  files: ReportFileRow[];
  skipped: { file: string; why: string }[];
  baseline?: BaselineSummary;
  /** Frees what the document holds outside the heap (its spool); reading after it throws. */
  close(): void;
}

/** Risk of a warning, from its message's first words (findings.ts writes them). */
export function warningRisk(f: { message: string }): number {
  return /^likely (?:oops|terminates)\b/.test(f.message) ? 0 : /^likely mis-emulated\b/.test(f.message) ? 1 : 2;
}

/** The key fields a file's row already holds: triage, build and baseline come when the report is assembled. */
export type RowKey = Pick<FindingKey, 'file' | 'line' | 'character' | 'function' | 'severity' | 'verdict' | 'verdictFrom' | 'rule' | 'subsystem' | 'fingerprint' | 'risk'>;

export function rowKeyOf(f: RowFinding): RowKey {
  return {
    file: f.file,
    line: f.range.start.line,
    character: f.range.start.character,
    function: f.function,
    severity: f.severity,
    verdict: f.verdict,
    verdictFrom: f.verdictFrom,
    rule: f.rule,
    subsystem: f.subsystem,
    fingerprint: f.fingerprint,
    risk: warningRisk(f),
  };
}

export function keyOf(f: ReportFinding): FindingKey {
  return {
    ...rowKeyOf(f),
    deemphasised: f.deemphasised,
    ...(f.triage ? { triage: f.triage } : {}),
    ...(f.build ? { build: f.build } : {}),
    ...(f.baseline ? { baseline: f.baseline } : {}),
  };
}

/** The model's order: by file (code units), then line, then column; Array.sort is stable. */
export function byPosition(a: { file: string; line: number; character: number }, b: { file: string; line: number; character: number }): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.character - b.character;
}

const docs = new WeakMap<ReportModel, ReportDoc>();

/** The document over an in-memory model (made once per model: writers share its sections). */
export function docOfModel(model: ReportModel): ReportDoc {
  let d = docs.get(model);
  if (!d) {
    d = {
      provenance: model.provenance,
      counts: model.counts,
      keys: model.findings.map(keyOf),
      finding: (i) => model.findings[i]!,
      functionCount: model.functions.length,
      functions: () => model.functions,
      files: model.files,
      skipped: model.skipped,
      ...(model.baseline ? { baseline: model.baseline } : {}),
      close: () => undefined,
    };
    docs.set(model, d);
  }
  return d;
}

/** Writers take either; a model is read through its document. */
export type ReportSource = ReportModel | ReportDoc;

export const asDoc = (x: ReportSource): ReportDoc => ('keys' in x ? x : docOfModel(x));
