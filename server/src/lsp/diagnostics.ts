// Findings → LSP diagnostics and the fileSummary response.

import { DiagnosticSeverity, DiagnosticTag, type Diagnostic, type DiagnosticRelatedInformation } from 'vscode-languageserver';
import type { FindingTriage } from './triage';
import type { FileAudit, Finding, Severity } from '../audit/engine';
import type { FileSummary } from './protocol';
import { toUri } from './files';
import { countFindings } from './counts';
import type { BuildInfo } from './kernelBuild';

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

/** A file the .config does not build (a triage decision is applied first, and wins). */
export const notBuilt = (build: BuildInfo | undefined): boolean => build?.state === 'not-built';

/** The words a not-built finding's message starts with, and its hover says. */
export function notBuiltText(build: BuildInfo): string {
  return `not built in this .config: ${build.why ?? 'no Kbuild rule builds it'}`;
}

/**
 * Diagnostics of an audit. With triage, each carries its fingerprint in `data` (the
 * code action needs it), a triaged one names its status, and a finding someone
 * marked safe/excluded/trusted is shown as a faded hint instead of its severity.
 *
 * In a file the TD kernel's .config does not build (`build`), every finding is
 * faded (DiagnosticTag.Unnecessary), says so first, and is information at most: the
 * guest this .config describes never runs the code, so it is no error of that
 * guest, but the defect is real for every kernel that does build the driver (another
 * .config, a distribution kernel, a module loaded later), so it stays listed in
 * Problems (hints are not) rather than disappearing; a hint stays a hint.
 */
export function toDiagnostics(audit: FileAudit, opts: DiagnosticOptions, triage?: FindingTriage[], build?: BuildInfo): Diagnostic[] {
  const aside = notBuilt(build);
  const buildData = build && (build.state !== undefined || build.allowed !== undefined) ? { build: { ...(build.state ? { state: build.state, why: build.why } : {}), ...(build.allowed !== undefined ? { allowed: build.allowed } : {}) } } : {};
  const buildKey = build ? JSON.stringify([build.state, build.why, build.allowed]) : '';
  return audit.findings.map((f, i) => {
    const t = triage?.[i];
    // An edit keeps the site objects (and their findings' text) of every function it
    // did not touch: the same inputs give the same diagnostic, built once.
    const hit = lastDiagnostic.get(f.site);
    if (hit && sameInputs(hit, f, opts, t, buildKey)) return hit.diagnostic;
    const d = diagnosticOf(f, opts, t, aside, build, buildData);
    lastDiagnostic.set(f.site, { rule: f.rule, severity: f.severity, message: f.message, related: f.related, range: f.site.range, relatedInformation: opts.relatedInformation, fingerprint: t?.fingerprint, status: t?.entry?.status, comment: t?.entry?.comment, deemphasised: t?.deemphasised, buildKey, diagnostic: d });
    return d;
  });
}

/** What a site's last diagnostic was made of (toDiagnostics's reuse). */
interface Made {
  rule: Finding['rule'];
  severity: Severity;
  message: string;
  related: Finding['related'];
  range: Finding['site']['range'];
  relatedInformation: boolean;
  fingerprint: string | undefined;
  status: string | undefined;
  comment: string | undefined;
  deemphasised: boolean | undefined;
  buildKey: string;
  diagnostic: Diagnostic;
}

/**
 * Each site's last diagnostic. Sites are immutable (an edit that moves one makes a
 * new object); findings are per-audit copies, so what a diagnostic reads of the
 * finding, its triage and the file's build state is compared here.
 */
const lastDiagnostic = new WeakMap<Finding['site'], Made>();

function sameInputs(m: Made, f: Finding, opts: DiagnosticOptions, t: FindingTriage | undefined, buildKey: string): boolean {
  return (
    m.rule === f.rule &&
    m.severity === f.severity &&
    m.message === f.message &&
    m.related === f.related &&
    m.range === f.site.range &&
    m.relatedInformation === opts.relatedInformation &&
    m.fingerprint === t?.fingerprint &&
    m.status === t?.entry?.status &&
    m.comment === t?.entry?.comment &&
    m.deemphasised === t?.deemphasised &&
    m.buildKey === buildKey
  );
}

function diagnosticOf(f: Finding, opts: DiagnosticOptions, t: FindingTriage | undefined, aside: boolean, build: BuildInfo | undefined, buildData: { build?: object }): Diagnostic {
  const d = toDiagnostic(f, opts);
  if (aside) {
    d.message = `[${notBuiltText(build!)}] ${d.message}`;
    d.severity = Math.max(d.severity ?? DiagnosticSeverity.Warning, DiagnosticSeverity.Information) as DiagnosticSeverity;
    d.tags = [DiagnosticTag.Unnecessary];
  }
  if (t || buildData.build) d.data = { ...(t ? { fingerprint: t.fingerprint } : {}), ...(t?.entry ? { status: t.entry.status } : {}), ...buildData };
  if (!t) return d;
  if (t.entry) {
    d.message = `[triaged ${t.entry.status}${t.entry.comment ? `: ${t.entry.comment}` : ''}] ${d.message}`;
    if (t.deemphasised) {
      d.severity = DiagnosticSeverity.Hint;
      d.tags = [DiagnosticTag.Unnecessary];
    }
  }
  return d;
}

/**
 * Lines the hover adds above the finding's own text: the file's place in the TD
 * kernel (not built, allow-listed) and, in an untrusted workspace, why no compiled
 * form is shown. Markdown; empty when there is nothing to say.
 */
export function hoverNotes(build: BuildInfo | undefined, trusted: boolean): string[] {
  const out: string[] = [];
  if (build?.state === 'not-built') {
    out.push(`**${notBuiltText(build)}**${build.config ? ` (\`${build.config}\`)` : ''}: the guest this .config builds never runs this code, so the finding is set aside (faded, information at most, not counted as open work); it still holds for every kernel that builds the file.`);
  } else if (build?.state === 'built-in' || build?.state === 'module') {
    out.push(`Built ${build.state === 'module' ? 'as a module' : 'into the kernel'} by this .config (${build.why}).`);
  }
  if (build?.allowed === true) out.push('**Allow-listed**: a driver the TD runs (tdxAudit.build.allowList), so this finding is reachable in the guest.');
  else if (build?.allowed === false) out.push('Not on the driver allow-list (tdxAudit.build.allowList).');
  if (!trusted) out.push('_Restricted mode: no object file of this workspace is read, so the instruction the compiler emitted is not shown. Trust the folder to see it._');
  return out;
}

/** The hover with the notes after its title line (the verdict follows them). */
export function withHoverNotes(markdown: string, notes: readonly string[]): string {
  if (!notes.length) return markdown;
  const cut = markdown.indexOf('\n\n');
  const head = cut < 0 ? markdown : markdown.slice(0, cut);
  const rest = cut < 0 ? '' : markdown.slice(cut);
  return `${head}\n\n${notes.join('\n\n')}${rest}`;
}

/**
 * The fileSummary of an audit, with the same triage and build state the
 * diagnostics carry: a dismissed finding counts as triaged, one in a file the
 * .config does not build as not built (counts.ts), as they show faded.
 */
export function summarize(uri: string, audit: FileAudit, triage?: readonly FindingTriage[], build?: BuildInfo): FileSummary {
  const aside = notBuilt(build);
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
      ...(aside ? { notBuilt: true } : {}),
    };
  });
  const counts = countFindings(items, audit.analysis.sites.length);
  return {
    uri,
    version: audit.version,
    ...counts,
    ...(build && (build.state !== undefined || build.allowed !== undefined) ? { build: { state: build.state, why: build.why, allowed: build.allowed, config: build.config } } : {}),
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
