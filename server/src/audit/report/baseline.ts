// Baseline diff: what changed since an earlier report, by fingerprint. Line numbers
// are not compared (they move with every unrelated edit); a finding whose rule,
// function, expression and occurrence are the same is the same finding.

import { asDoc, type ReportDoc, type ReportSource } from './doc';
import { type JsonFinding, type JsonReport } from './json';
import { type BaselineSummary, type ReportModel } from './model';

export interface BaselineDiff {
  new: JsonFinding[];
  fixed: JsonFinding[];
  unchanged: JsonFinding[];
}

export function diffReports(current: Pick<JsonReport, 'findings'>, baseline: Pick<JsonReport, 'findings'>): BaselineDiff {
  const before = new Set(baseline.findings.map((f) => f.fingerprint));
  const now = new Set(current.findings.map((f) => f.fingerprint));
  return {
    new: current.findings.filter((f) => !before.has(f.fingerprint)),
    unchanged: current.findings.filter((f) => before.has(f.fingerprint)),
    fixed: baseline.findings.filter((f) => !now.has(f.fingerprint)),
  };
}

/** Each current finding new or unchanged (by fingerprint), and the summary with the fixed ones. */
function marks(fingerprints: readonly string[], baseline: Pick<JsonReport, 'findings'>, source: string): { marks: ('new' | 'unchanged')[]; summary: BaselineSummary } {
  const before = new Set(baseline.findings.map((f) => f.fingerprint));
  const now = new Set(fingerprints);
  const m = fingerprints.map((fp) => (before.has(fp) ? ('unchanged' as const) : ('new' as const)));
  const isNew = m.filter((x) => x === 'new').length;
  return {
    marks: m,
    summary: {
      source,
      new: isNew,
      unchanged: m.length - isNew,
      fixed: baseline.findings.filter((f) => !now.has(f.fingerprint)).map((f) => ({ fingerprint: f.fingerprint, rule: f.rule, file: f.file, function: f.function, line: f.line, message: f.message })),
    },
  };
}

/** The model with each finding marked new/unchanged and the fixed ones listed. */
export function applyBaseline(model: ReportModel, baseline: Pick<JsonReport, 'findings'>, source: string): ReportModel {
  const b = marks(model.findings.map((f) => f.fingerprint), baseline, source);
  return { ...model, findings: model.findings.map((f, i) => ({ ...f, baseline: b.marks[i]! })), baseline: b.summary };
}

/** The same for a document (a spooled run): keys marked now, each finding when it is read. */
export function applyBaselineToDoc(source: ReportSource, baseline: Pick<JsonReport, 'findings'>, label: string): ReportDoc {
  const doc = asDoc(source);
  const b = marks(doc.keys.map((k) => k.fingerprint), baseline, label);
  return {
    ...doc,
    keys: doc.keys.map((k, i) => ({ ...k, baseline: b.marks[i]! })),
    finding: (i) => ({ ...doc.finding(i), baseline: b.marks[i]! }),
    baseline: b.summary,
  };
}
