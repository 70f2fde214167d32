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
}

export interface EngineHost {
  /**
   * Reads a file the analysis needs (quoted-include headers). Return undefined when it
   * does not exist or is outside what the host allows. Paths are absolute file paths.
   */
  readFile(path: string): string | undefined;
}

export type { Position };
