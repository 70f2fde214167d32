// Custom LSP messages shared by the server and the VS Code client. Only method names
// and plain types live here so that the client bundle does not pull in the server's
// JSON-RPC library (or the engine) just to name a request.

import type { FunctionView, Range, RuleCode } from '../c/types';

/** Request `tdxAudit/fileSummary`: what the audit found in one open document. */
export const FileSummaryRequest = 'tdxAudit/fileSummary';

export interface FileSummaryParams {
  uri: string;
}

export type SummarySeverity = 'error' | 'warning' | 'information' | 'hint';

/** One reported finding, enough for a picker to show and reveal it. */
export interface SummaryItem {
  rule: RuleCode;
  severity: SummarySeverity;
  message: string;
  /** Callee as written, or the dereference for an __iomem deref. */
  accessor: string;
  /** The catalogued accessor it resolves to. */
  base: string;
  function: string | null;
  range: Range;
}

/**
 * `null` when the document is not open, auditing is disabled, or the engine failed
 * to start. Otherwise the audit of the document's current version: the server audits
 * pending edits first, so ranges match the text the client has.
 */
export interface FileSummary {
  uri: string;
  version: number;
  /** Every site the analysis found, including those whose rule is set to 'off'. */
  sites: number;
  errors: number;
  warnings: number;
  /** Findings of severity information or hint. */
  others: number;
  functions: FunctionView[];
  /**
   * With an object: the symbols holding this file's MMIO/port instructions (where a
   * #VE really lands, static helpers already inlined), and the object's state.
   */
  objectFunctions?: { name: string; instructions: number; verdicts: Record<string, number> }[];
  object?: { path: string | null; state: string; message: string };
  items: SummaryItem[];
  parseErrors: number;
  /** Wall time of the audit in ms. */
  ms: number;
}

/** Notification `tdxAudit/status`, server → client: health, like rust-analyzer's serverStatus. */
export const StatusNotification = 'tdxAudit/status';

export type ServerState = 'starting' | 'ready' | 'busy' | 'error';

export interface StatusParams {
  state: ServerState;
  message?: string;
}

/** What the client passes as `initializationOptions`. Every field is optional for other editors. */
export interface InitializationOptions {
  /** VS Code workspace trust. Absent (other editors) means trusted. */
  trusted?: boolean;
  /** Initial `tdxAudit` settings for clients that cannot answer workspace/configuration. */
  settings?: unknown;
  /** The client runs `command:` links in hovers (VS Code with the command trusted): the hover offers Show Compiled Form. */
  commandLinks?: boolean;
}

/**
 * Request `tdxAudit/compiledForm`: the annotated disassembly of the function around a
 * position (or named), for the "TDX: Show Compiled Form" view. `null` when no object
 * is available; `message` then says why (missing, stale, no debug info).
 */
export const CompiledFormRequest = 'tdxAudit/compiledForm';

export interface CompiledFormParams {
  uri: string;
  position?: { line: number; character: number };
  /** Symbol name; wins over position when given. */
  function?: string;
}

export interface CompiledFormResult {
  /** Text in the `tdx-disasm` language (syntaxes/tdx-disasm.tmLanguage.json). */
  content: string;
  function: string | null;
  object: string | null;
  /** Non-empty when the object is stale or missing: show it to the user. */
  message: string;
  /** 0-based line of `content` to open at: the instruction of the site under the cursor, else the cursor's source line. */
  line?: number;
}

/**
 * Request `tdxAudit/exportReport`: audits a scope and writes report files. Runs with
 * work-done progress and honours cancellation (nothing partial is written).
 */
export const ExportReportRequest = 'tdxAudit/exportReport';

export type ReportFormat = 'sarif' | 'html' | 'markdown' | 'json';

export interface ExportReportParams {
  /** A file URI, a folder URI, or omitted for the whole workspace. */
  scope?: string;
  /** Folder URI to write into. */
  outputDir: string;
  formats: ReportFormat[];
  /** Replace existing report files (the client asks the user first). */
  overwrite?: boolean;
}

export interface ExportReportResult {
  /** Written file URIs, or empty when cancelled. */
  written: string[];
  /** Files that exist and were not overwritten (overwrite was false). */
  exists: string[];
  findings: number;
  cancelled: boolean;
}

/** workspace/executeCommand: compile the file (argument: its URI) from compile_commands.json. Returns a message. */
export const CompileFileCommand = 'tdxAudit.compileFile';

/**
 * Request `tdxAudit/workspaceSummary`: the background index of the workspace
 * (source view of every C file that may hold a site). `null` before the first
 * index finished.
 */
export const WorkspaceSummaryRequest = 'tdxAudit/workspaceSummary';

export interface WorkspaceSummary {
  files: { path: string; sites: number; errors: number; warnings: number; others: number; parseErrors: number }[];
  totals: { files: number; sites: number; errors: number; warnings: number; others: number };
  skipped: number;
  capped: boolean;
  failures: { path: string; message: string }[];
  cacheHits: number;
  ms: number;
  cancelled: boolean;
}

/** Command (workspace/executeCommand): re-index the workspace now. */
export const ReindexCommand = 'tdxAudit.reindexWorkspace';

/**
 * Command: record a triage decision (arguments: uri, fingerprint, status, comment?)
 * in the tree's .tdx-audit/triage.json. Offered by the code action on each finding.
 */
export const SetTriageCommand = 'tdxAudit.setTriage';
