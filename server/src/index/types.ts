// Messages between the workspace indexer and its worker threads, and what the
// index holds per file. Plain data only (structured clone).

import type { AuditConfig, Severity } from '../audit/engine';
import type { RuleCode } from '../c/types';

export interface IndexedFinding {
  rule: RuleCode;
  severity: Severity;
  line: number;
  character: number;
  function: string | null;
  accessor: string;
  message: string;
}

export interface IndexedFile {
  path: string;
  sites: number;
  errors: number;
  warnings: number;
  others: number;
  parseErrors: number;
  ms: number;
  findings: IndexedFinding[];
}

export type ToWorker =
  | { type: 'config'; config: AuditConfig; folders: string[] }
  /** `headersOnly`: the text names nothing itself; audit it only if its headers' wrappers or `__iomem` names appear in it. */
  | { type: 'audit'; id: number; path: string; text: string; headersOnly?: boolean };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: number; file: IndexedFile }
  | { type: 'no-sites'; id: number }
  | { type: 'error'; id: number; path: string; message: string };
