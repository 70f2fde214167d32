// Baseline diff: what changed since an earlier report, by fingerprint. Line numbers
// are not compared (they move with every unrelated edit); a finding whose rule,
// function, expression and occurrence are the same is the same finding.

import { jsonFinding, type JsonFinding, type JsonReport } from './json';
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

/** The model with each finding marked new/unchanged and the fixed ones listed. */
export function applyBaseline(model: ReportModel, baseline: Pick<JsonReport, 'findings'>, source: string): ReportModel {
  const d = diffReports({ findings: model.findings.map(jsonFinding) }, baseline);
  const isNew = new Set(d.new.map((f) => f.fingerprint));
  const summary: BaselineSummary = {
    source,
    new: d.new.length,
    unchanged: d.unchanged.length,
    fixed: d.fixed.map((f) => ({ fingerprint: f.fingerprint, rule: f.rule, file: f.file, function: f.function, line: f.line, message: f.message })),
  };
  return {
    ...model,
    findings: model.findings.map((f) => ({ ...f, baseline: isNew.has(f.fingerprint) ? 'new' : 'unchanged' })),
    baseline: summary,
  };
}
