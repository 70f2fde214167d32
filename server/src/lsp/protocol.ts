// Custom LSP messages shared by the server and the VS Code client (rust-analyzer's
// lsp_ext.ts): each request or notification is one typed constant binding its
// method to its parameter and result types, imported by both sides. Only
// vscode-languageserver-protocol is imported, which both vscode-languageserver and
// vscode-languageclient are built on, so the client bundle pulls in no server code.
// Other editors (Neovim, Emacs) send the same method strings.

import { NotificationType, RequestType, RequestType0, type WorkDoneProgressParams } from 'vscode-languageserver-protocol';
import type { FunctionView, Range, RuleCode } from '../c/types';

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
  /** The triage status recorded for this finding, if any. */
  triage?: string;
  /** Marked safe, excluded or trusted: counted as triaged, not by its severity. */
  dismissed?: boolean;
  /** In a file the TD kernel's .config does not build: counted as not built, not by its severity. */
  notBuilt?: boolean;
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
  /** Errors nobody dismissed: what the Problems panel shows as errors (counts.ts). */
  errors: number;
  warnings: number;
  /** Findings of severity information or hint. */
  others: number;
  /** Findings someone marked safe, excluded or trusted (shown as faded hints). */
  triaged: number;
  /** Findings in a file the TD kernel's .config does not build (faded, at most information). */
  notBuilt: number;
  /** The file's place in the TD kernel, when a .config or allow-list says something (kernelBuild.ts). */
  build?: { state?: string; why?: string; allowed?: boolean; config?: string };
  functions: FunctionView[];
  /**
   * With an object: the symbols holding this file's MMIO/port instructions (where a
   * #VE really lands, static helpers already inlined), and the object's state.
   */
  objectFunctions?: { name: string; instructions: number; verdicts: Record<string, number> }[];
  object?: { path: string | null; state: string; message: string };
  /** Dismissed ones (triage) included, with their status. */
  items: SummaryItem[];
  parseErrors: number;
  /** Wall time of the audit in ms. */
  ms: number;
}

/** Request `tdxAudit/fileSummary`: what the audit found in one open document. */
export const FileSummaryRequest = new RequestType<FileSummaryParams, FileSummary | null, void>('tdxAudit/fileSummary');

export type ServerState = 'starting' | 'ready' | 'busy' | 'error';

export interface StatusParams {
  state: ServerState;
  message?: string;
}

/** Notification `tdxAudit/status`, server → client: health, like rust-analyzer's serverStatus. */
export const StatusNotification = new NotificationType<StatusParams>('tdxAudit/status');

/** What the client passes as `initializationOptions`. Every field is optional for other editors. */
export interface InitializationOptions {
  /** VS Code workspace trust. Absent (other editors) means trusted. */
  trusted?: boolean;
  /** Initial `tdxAudit` settings for clients that cannot answer workspace/configuration. */
  settings?: unknown;
  /** The client runs `command:` links in hovers (VS Code with the command trusted): the hover offers Show Compiled Form. */
  commandLinks?: boolean;
}

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
 * Request `tdxAudit/compiledForm`: the annotated disassembly of the function around a
 * position (or named), for the "TDX: Show Compiled Form" view. `null` when no object
 * is available; `message` then says why (missing, stale, no debug info).
 */
export const CompiledFormRequest = new RequestType<CompiledFormParams, CompiledFormResult | null, void>('tdxAudit/compiledForm');

export type ReportFormat = 'sarif' | 'html' | 'markdown' | 'json';

export interface ExportReportParams extends WorkDoneProgressParams {
  /** A file URI, a folder URI, or omitted for the whole workspace. */
  scope?: string;
  /**
   * Folder URI to write into. Omitted: tdxAudit.export.folder, by default
   * ~/tdx-audit-reports/<workspace folder name> (outside the tree, see config.ts).
   */
  outputDir?: string;
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
  /**
   * Why the report's counts differ from the workspace view's (index and open
   * editors), when they do: one sentence per cause. Empty when they agree.
   */
  differences?: string[];
  /** How many files came from the workspace index unchanged, how many were audited and why. */
  reuse?: string;
}

/**
 * Request `tdxAudit/exportReport`: audits a scope and writes report files. Runs with
 * work-done progress (on the client's workDoneToken when it sends one) and honours
 * cancellation (nothing partial is written).
 */
export const ExportReportRequest = new RequestType<ExportReportParams, ExportReportResult | null, void>('tdxAudit/exportReport');

/** workspace/executeCommand: compile the file (argument: its URI) from compile_commands.json. Returns a message. */
export const CompileFileCommand = 'tdxAudit.compileFile';

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

/**
 * Request `tdxAudit/workspaceSummary`: the background index of the workspace
 * (source view of every C file that may hold a site). `null` before the first
 * index finished.
 */
export const WorkspaceSummaryRequest = new RequestType0<WorkspaceSummary | null, void>('tdxAudit/workspaceSummary');

/** The groups of the workspace view, errors first. A dismissed finding is in 'triaged', one in a file the .config does not build in 'not-built', whatever its severity. */
export const FINDING_GROUPS = ['error', 'warning', 'information', 'hint', 'triaged', 'not-built'] as const;
export type FindingGroup = (typeof FINDING_GROUPS)[number];

/** Counts that every view shares (status item, List Sites, tree view, Problems). */
export interface FindingCounts {
  sites: number;
  errors: number;
  warnings: number;
  /** Information and hint. */
  others: number;
  /** Marked safe, excluded or trusted. */
  triaged: number;
  /** In files the TD kernel's .config does not build (not triaged). */
  notBuilt: number;
}

export interface WorkspaceFindingsParams {
  /** With `uri`: the findings of that group in that file. Without: the group and file counts. */
  group?: FindingGroup;
  uri?: string;
}

export interface WorkspaceFinding {
  rule: RuleCode;
  severity: SummarySeverity;
  message: string;
  accessor: string;
  function: string | null;
  line: number;
  character: number;
  triage?: string;
  /** Marked safe, excluded or trusted: in the 'triaged' group. */
  dismissed?: boolean;
  /** In a file the .config does not build: in the 'not-built' group. */
  notBuilt?: boolean;
}

export interface WorkspaceFindings {
  totals: FindingCounts & { files: number };
  /** Every group in FINDING_GROUPS order, also when empty. */
  groups: { group: FindingGroup; count: number; files: { uri: string; count: number; from: 'editor' | 'index' }[] }[];
  /** The findings asked for with `group` and `uri`, in line order. */
  findings?: WorkspaceFinding[];
  index: { state: 'off' | 'running' | 'done' | 'cancelled' | 'failed'; files: number; ms: number; failures: number; capped: boolean };
}

/**
 * Request `tdxAudit/workspaceFindings`: the workspace view, the background index's
 * findings with every file open in (or audited by) the editor taken from its own
 * audit, triage applied, so its counts are the diagnostics'.
 */
export const WorkspaceFindingsRequest = new RequestType<WorkspaceFindingsParams, WorkspaceFindings, void>('tdxAudit/workspaceFindings');

/** Notification `tdxAudit/workspaceChanged`, server → client: the workspace view changed (index progress, an audit, a triage); ask again. */
export const WorkspaceChangedNotification = new NotificationType<{ totals: FindingCounts & { files: number }; indexing: boolean }>('tdxAudit/workspaceChanged');

/** Command (workspace/executeCommand): re-index the workspace now. */
export const ReindexCommand = 'tdxAudit.reindexWorkspace';

/**
 * Command: record a triage decision (arguments: uri, fingerprint, status, comment?)
 * in the tree's .tdx-audit/triage.json. Offered by the code action on each finding.
 */
export const SetTriageCommand = 'tdxAudit.setTriage';
