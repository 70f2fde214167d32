// Runs an export's assembly (exportAssembly.ts) on a worker thread (exportWorker.ts)
// that ends once the report is written. The server's heap never shrinks (V8 keeps
// the pages it grew to) and neither does a tree-sitter WASM heap; an ended worker's
// isolate and WASM memory go back to the system. So what an export of a large tree
// holds while it runs (spool entries read, a key per finding, an engine's trees and
// header knowledge) no longer stays in the server after it: only the per-file counts
// the comparison with the workspace view needs come back.
//
// A worker that dies (out of heap, a crash) fails the export with a clear error; the
// server's own state was never touched, so it keeps serving. The worker's spool
// folder and any half-written report file are removed.

import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { AuditConfig } from '../audit/engine';
import type { SharedImage } from '../audit/objects';
import { REPORT_FILE_NAMES } from '../audit/report/build';
import type { ExportJob, ExportOutcome } from './exportAssembly';

/** Where the export's worker script is, and (for tests) limits to start it with. */
export interface ExportWorkerOption {
  path: string;
  resourceLimits?: ResourceLimits;
}

/** What the worker starts with (workerData): plain data only. */
export interface ExportWorkerInput {
  job: ExportJob;
  /** The server engine's configuration (severity overrides, objects, profile). */
  config: AuditConfig;
  /** Workspace folders: headers are read only inside them, as the server's engine does. */
  folders: string[];
  /** Open documents (uri, text): the report shows their text, not the disk's. */
  buffers: [string, string][];
  /**
   * Linked images the server's engine holds, in memory threads share
   * (ObjectStore.sharedImages): the worker opens vmlinux from these bytes while the
   * file is unchanged, instead of reading it again.
   */
  images?: SharedImage[];
}

export type ToExportWorker = { type: 'cancel' };
export type FromExportWorker =
  | { type: 'progress'; done: number; total: number; file: string }
  | { type: 'log'; message: string }
  | { type: 'done'; outcome: ExportOutcome }
  | { type: 'failed'; message: string };

/**
 * The worker to use, or why the export runs on the server's thread: no worker
 * configured or built. A vmlinux in the configuration no longer keeps the export on
 * the server's thread (where it blocked diagnostics and hovers for the whole
 * export): the worker is handed the image's bytes the server holds (images).
 */
export function exportWorkerFor(option: ExportWorkerOption | undefined): { path?: string; why?: string } {
  if (!option) return {};
  if (!existsSync(option.path)) return { why: `no export worker at ${option.path}` };
  return { path: option.path };
}

export interface WorkerRunOptions {
  signal: AbortSignal;
  progress: (done: number, total: number, file: string) => void;
  log: (message: string) => void;
  resourceLimits?: ResourceLimits;
}

/** Runs the assembly on a new worker thread; settles once the thread has ended. */
export function assembleOnWorker(script: string, input: ExportWorkerInput, o: WorkerRunOptions): Promise<ExportOutcome> {
  // The worker's findings spool (audit/report/spool.ts, under the OS temp folder)
  // goes in a folder of ours, so that nothing of it survives a worker that dies.
  const temp = mkdtempSync(join(tmpdir(), 'tdx-audit-export-'));
  return new Promise<ExportOutcome>((resolve, reject) => {
    let outcome: ExportOutcome | undefined;
    let failure: string | undefined;
    let died: Error | undefined;
    const worker = new Worker(script, {
      workerData: input,
      env: { ...process.env, TMPDIR: temp },
      ...(o.resourceLimits ? { resourceLimits: o.resourceLimits } : {}),
    });
    const thread = worker.threadId;
    const cancel = () => worker.postMessage({ type: 'cancel' } satisfies ToExportWorker);
    if (o.signal.aborted) cancel();
    else o.signal.addEventListener('abort', cancel, { once: true });
    worker.on('message', (m: FromExportWorker) => {
      if (m.type === 'progress') o.progress(m.done, m.total, m.file);
      else if (m.type === 'log') o.log(m.message);
      else {
        if (m.type === 'done') outcome = m.outcome;
        else failure = m.message;
        // Everything is written (or it failed): end the thread now, its memory with it.
        void worker.terminate();
      }
    });
    worker.on('error', (e) => (died = e));
    worker.on('exit', (code) => {
      o.signal.removeEventListener('abort', cancel);
      rmSync(temp, { recursive: true, force: true });
      if (outcome) {
        o.log(`Export Audit Report: assembled on worker thread ${thread}, which has ended`);
        return resolve(outcome);
      }
      removePartialReport(input.job);
      if (failure !== undefined) return reject(new Error(failure));
      const why = died ? `${died.message}${(died as NodeJS.ErrnoException).code ? ` (${(died as NodeJS.ErrnoException).code})` : ''}` : `it exited with code ${code}`;
      reject(new Error(`the export's worker thread ended before the report was written: ${why}. No report file was written; the editor's diagnostics and workspace view are unchanged.`));
    });
  });
}

/** The temporary files report/write.ts makes before it commits (`.<name>.<pid>.<hex>.tmp`), left by a worker that died. */
function removePartialReport(job: ExportJob): void {
  let base: string;
  try {
    base = realpathSync(job.outDir);
  } catch {
    return;
  }
  const names = new Set(job.formats.map((f) => REPORT_FILE_NAMES[f]));
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(e);
    if (m && names.has(m[1]!) && Number(m[2]) === process.pid) rmSync(join(base, e), { force: true });
  }
}
