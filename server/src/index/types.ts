// Messages between the workspace indexer and its worker threads, and what the
// index holds per file. Plain data only (structured clone).
//
// The index keeps a compact summary per file (counts, the content hash, and one
// small record per finding with its triage fingerprint), never an audit, a syntax
// tree or a site's ranges and chains: a workspace of 10,000 files with sites keeps
// only what the workspace view (lsp/workspace.ts) shows and applies triage to.

import type { AuditConfig, Severity } from '../audit/engine';
import type { RuleCode } from '../c/types';

export interface IndexedFinding {
  rule: RuleCode;
  severity: Severity;
  /** 0-based line and UTF-16 column of the accessor (or dereference). */
  line: number;
  character: number;
  function: string | null;
  accessor: string;
  message: string;
  /**
   * The finding's triage fingerprint (audit/report/fingerprint.ts), the key of
   * .tdx-audit/triage.json and of SARIF partialFingerprints: stable across edits
   * above the site. Computed against the tree root the language server uses.
   */
  fingerprint: string;
}

export interface IndexedFile {
  path: string;
  /** sha1 of the text that was audited (an export re-audits only files whose text differs). */
  hash: string;
  sites: number;
  errors: number;
  warnings: number;
  others: number;
  parseErrors: number;
  ms: number;
  findings: IndexedFinding[];
}

export type ToWorker =
  /** `spool`: the folder report rows are written to (spool.ts); none without it. */
  | { type: 'config'; config: AuditConfig; folders: string[]; spool?: string }
  /** `headersOnly`: the text names nothing itself; audit it only if its headers' wrappers or `__iomem` names appear in it. */
  | { type: 'audit'; id: number; path: string; text: string; hash: string; headersOnly?: boolean };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: number; file: IndexedFile }
  | { type: 'no-sites'; id: number }
  | { type: 'error'; id: number; path: string; message: string };
