// Findings → LSP diagnostics and the fileSummary response.

import { DiagnosticSeverity, DiagnosticTag, type Diagnostic, type DiagnosticRelatedInformation } from 'vscode-languageserver';
import type { FindingTriage } from './triage';
import type { FileAudit, Finding, Severity } from '../audit/engine';
import type { FileSummary } from './protocol';
import { toUri } from './files';
import { countFindings } from './counts';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export interface DiagnosticOptions {
  /** Client supports relatedInformation; without it the related locations are appended to the message. */
  relatedInformation: boolean;
}

export function toDiagnostic(f: Finding, opts: DiagnosticOptions): Diagnostic {
  const d: Diagnostic = {
    range: f.site.range,
    severity: SEVERITY[f.severity] ?? DiagnosticSeverity.Warning,
    code: f.rule,
    source: 'tdx-audit',
    message: f.message,
  };
  if (f.related.length) {
    if (opts.relatedInformation) {
      d.relatedInformation = f.related.map(
        (r): DiagnosticRelatedInformation => ({ location: { uri: toUri(r.file), range: r.range }, message: r.message }),
      );
    } else {
      d.message += f.related.map((r) => `\n  ${r.message} (${toUri(r.file)}:${r.range.start.line + 1})`).join('');
    }
  }
  return d;
}

/**
 * Diagnostics of an audit. With triage, each carries its fingerprint in `data` (the
 * code action needs it), a triaged one names its status, and a finding someone
 * marked safe/excluded/trusted is shown as a faded hint instead of its severity.
 */
export function toDiagnostics(audit: FileAudit, opts: DiagnosticOptions, triage?: FindingTriage[]): Diagnostic[] {
  return audit.findings.map((f, i) => {
    const d = toDiagnostic(f, opts);
    const t = triage?.[i];
    if (!t) return d;
    d.data = { fingerprint: t.fingerprint, ...(t.entry ? { status: t.entry.status } : {}) };
    if (t.entry) {
      d.message = `[triaged ${t.entry.status}${t.entry.comment ? `: ${t.entry.comment}` : ''}] ${d.message}`;
      if (t.deemphasised) {
        d.severity = DiagnosticSeverity.Hint;
        d.tags = [DiagnosticTag.Unnecessary];
      }
    }
    return d;
  });
}

/**
 * The fileSummary of an audit, with the same triage the diagnostics carry: a
 * dismissed finding counts as triaged (counts.ts), as it shows as a hint.
 */
export function summarize(uri: string, audit: FileAudit, triage?: readonly FindingTriage[]): FileSummary {
  const items = audit.findings.map((f, i) => {
    const t = triage?.[i];
    return {
      rule: f.rule,
      severity: f.severity,
      message: f.message,
      accessor: f.site.accessor,
      base: f.site.base,
      function: f.site.function,
      range: f.site.range,
      ...(t?.entry ? { triage: t.entry.status } : {}),
      ...(t?.deemphasised ? { dismissed: true } : {}),
    };
  });
  const counts = countFindings(items, audit.analysis.sites.length);
  return {
    uri,
    version: audit.version,
    ...counts,
    functions: audit.analysis.functions,
    ...(audit.compiled
      ? {
          objectFunctions: audit.compiled.functions.map((f) => ({ name: f.name, instructions: f.instructions, verdicts: { ...f.verdicts } as Record<string, number> })),
          object: { path: audit.compiled.object.path ?? null, state: audit.compiled.object.state, message: audit.compiled.object.message },
        }
      : {}),
    items,
    parseErrors: audit.analysis.parseErrors,
    ms: audit.ms,
  };
}
