// Export Audit Report: audits a scope with the server's engine (objects, severity
// overrides, unsaved buffers) and writes the report files, with work-done progress
// and cancellation. Says why the report's counts differ from the workspace view's
// when they do, file by file, instead of leaving two numbers to disagree.
//
// A file the background index audited from the same text, with the same engine
// configuration, tree root and objects, is not audited again: its report rows come
// from the index's spool (index/spool.ts). The report is the same as a fresh one
// (test/lsp/export-reuse.test.ts); the result says how many files came from the
// index and why the others were audited.
//
// The assembly (exportAssembly.ts: reading the spool, auditing what changed,
// spooling findings, writing the files) runs on a worker thread of its own
// (exportThread.ts) that ends once the files are written: what it held (a key per
// finding, the spool entries read, an engine's parse trees and WASM heap) goes back
// to the system instead of staying in the server's heap, which V8 never shrinks.
// Only per-file counts come back, for the comparison with the workspace view.
//
// Where reports go when the request names no folder: exportFolder.ts.

import { pathToFileURL } from 'node:url';
import type { CancellationToken, Connection, WorkDoneProgressReporter } from 'vscode-languageserver/node';
import type { AuditEngine } from '../audit/engine';
import { FORMATS } from '../audit/report/build';
import type { ReportSource } from '../audit/report/doc';
import { isInside } from '../fs/safeRead';
import type { ServerSettings } from './config';
import type { DocumentStore } from './documents';
import { assembleExport, reportSide, type ExportJob, type ExportOutcome, type ReportSide } from './exportAssembly';
import { exportFolder } from './exportFolder';
import { assembleOnWorker, exportWorkerFor, type ExportWorkerOption } from './exportThread';
import { uriToPath } from './files';
import type { ExportReportParams, ExportReportResult, FindingCounts, ReportFormat } from './protocol';
import type { WorkspaceView } from './workspace';

export { reuseFromIndex } from './exportAssembly';

export interface ExportContext {
  connection: Connection;
  workDoneProgress: boolean;
  engine: AuditEngine;
  documents: DocumentStore;
  folders: readonly string[];
  settings: ServerSettings;
  view: WorkspaceView;
  /** The index's spool of report rows (index/indexer.ts), when there is one. */
  spool?: string;
  /** tdxAudit.build.config / allowList resolved (KernelBuild.reportOptions; none when untrusted). */
  build?: { config?: string; allowList?: string };
  /** The worker thread the assembly runs on (exportThread.ts); none: the server's thread. */
  worker?: ExportWorkerOption;
}

export async function exportReport(
  p: ExportReportParams,
  token: CancellationToken,
  attached: WorkDoneProgressReporter | undefined,
  ctx: ExportContext,
): Promise<ExportReportResult> {
  const none: ExportReportResult = { written: [], exists: [], findings: 0, cancelled: true };
  const ac = new AbortController();
  token.onCancellationRequested(() => ac.abort());
  let progress: WorkDoneProgressReporter | undefined;
  try {
    const scopePath = p.scope ? uriToPath(p.scope) : undefined;
    const paths = scopePath ? [scopePath] : [...ctx.folders];
    const outDir = typeof p.outputDir === 'string' ? uriToPath(p.outputDir) : exportFolder(ctx.settings.export.folder, ctx.folders);
    if (!paths.length || !outDir) throw new Error('nothing to audit: open a folder or give a file or folder scope');
    const formats = (Array.isArray(p.formats) && p.formats.length ? p.formats : FORMATS).filter((f): f is ReportFormat => FORMATS.includes(f));
    // The client's own progress (its workDoneToken) when it sent one; else one we create.
    if (p.workDoneToken !== undefined && attached) {
      progress = attached;
      attached.begin('TDX: exporting audit report', 0, 'finding C files', true);
    } else if (ctx.workDoneProgress) {
      const created = await ctx.connection.window.createWorkDoneProgress();
      progress = created;
      created.begin('TDX: exporting audit report', 0, 'finding C files', true);
      created.token.onCancellationRequested(() => ac.abort());
    }
    const buffers = ctx.documents.all().map((d) => [d.uri, d.text] as [string, string]);
    const job: ExportJob = {
      paths,
      formats,
      outDir,
      overwrite: p.overwrite === true,
      profile: ctx.settings.engine.profile,
      followIncludes: ctx.settings.engine.followIncludes,
      ...(ctx.spool ? { spool: ctx.spool } : {}),
      ...(ctx.build ? { build: ctx.build } : {}),
    };
    let last = 0;
    const onProgress = (done: number, total: number, file: string) => {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      progress?.report(Math.floor((100 * done) / Math.max(1, total)), `${done}/${total} ${file}`);
    };
    const worker = exportWorkerFor(ctx.worker);
    let out: ExportOutcome;
    if (worker.path) {
      const images = ctx.engine.objects.sharedImages();
      out = await assembleOnWorker(worker.path, { job, config: ctx.engine.configuration, folders: [...ctx.folders], buffers, images }, {
        signal: ac.signal,
        progress: onProgress,
        log: (m) => ctx.connection.console.log(m),
        ...(ctx.worker?.resourceLimits ? { resourceLimits: ctx.worker.resourceLimits } : {}),
      });
    } else {
      if (worker.why) ctx.connection.console.log(`Export Audit Report runs on the server's thread: ${worker.why}`);
      const byPath = new Map(buffers.map(([uri, text]) => [uriToPath(uri), text] as const));
      out = await assembleExport(job, ctx.engine, { signal: ac.signal, progress: onProgress, textOf: (f) => byPath.get(f), buffers: byPath });
    }
    if (out.cancelled) return none;
    const differences = compareSides(out.side, paths, ctx.view);
    return {
      written: out.written.map((f) => pathToFileURL(f).href),
      exists: out.exists.map((f) => pathToFileURL(f).href),
      findings: out.findings,
      cancelled: false,
      ...(differences.length ? { differences } : {}),
      ...(out.reuse !== undefined ? { reuse: out.reuse } : {}),
    };
  } finally {
    progress?.done();
  }
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/**
 * Why the report and the workspace view (in the same scope) count differently, one
 * sentence per cause; empty when every file's errors, warnings, others and triaged
 * agree. Counted with counts.ts on both sides, so only real differences remain.
 */
export function compareWithView(source: ReportSource, scope: readonly string[], view: WorkspaceView): string[] {
  return compareSides(reportSide(source), scope, view);
}

/** compareWithView from the report's per-file counts (what an export's worker thread sends back). */
export function compareSides(side: ReportSide, scope: readonly string[], view: WorkspaceView): string[] {
  const inScope = (path: string) => scope.some((s) => path === s || isInside(s, path));
  const report = new Map(side.files);
  const viewFiles = new Map([...view.fileCounts()].filter(([p, v]) => inScope(p) && (v.counts.sites > 0 || findingsOf(v.counts) > 0)));
  const withObject = new Set(side.withObject);

  let onlyReport = 0;
  let onlyView = 0;
  const differ = { compiled: 0, other: 0 };
  for (const [path, r] of report) {
    const v = viewFiles.get(path);
    if (!v) {
      if (findingsOf(r)) onlyReport++;
      continue;
    }
    if (same(r, v.counts)) continue;
    if (v.from === 'index' && withObject.has(path)) differ.compiled++;
    else differ.other++;
  }
  for (const [path, v] of viewFiles) if (!report.has(path) && findingsOf(v.counts)) onlyView++;
  const state = view.query().index.state;
  const out: string[] = [];
  if (state !== 'done' && (onlyReport || differ.compiled || differ.other)) out.push(`the workspace index is ${state === 'running' ? 'still running' : state === 'off' ? 'off (tdxAudit.index.enable)' : state}, so the view does not yet hold every file`);
  if (onlyReport) out.push(`${plural(onlyReport, 'file')} with findings in the report ${onlyReport === 1 ? 'is' : 'are'} not in the workspace view (not indexed: the index skipped or failed on ${onlyReport === 1 ? 'it' : 'them'}, or ran before ${onlyReport === 1 ? 'it' : 'they'} changed)`);
  if (onlyView) out.push(`${plural(onlyView, 'file')} of the workspace view ${onlyView === 1 ? 'is' : 'are'} not in the report (the report's walk skipped ${onlyView === 1 ? 'it' : 'them'}: see its "skipped" list)`);
  if (differ.compiled) out.push(`${plural(differ.compiled, 'file')} count differently because the report joined compiled forms the index did not read (a vmlinux, which the index's threads do not open, or objects rebuilt since indexing); open a file to see the editor's own audit`);
  if (differ.other) out.push(`${plural(differ.other, 'file')} changed between the index (or the editor's audit) and the export`);
  const sites = [...report.values()].reduce((n, c) => n + c.sites, 0);
  const findings = side.findings;
  if (out.length && sites !== findings) out.push(`the report has ${sites} sites and ${findings} findings: ${sites - findings} sites belong to rules set to "off" (tdxAudit.severity), which only the site counts include`);
  return out;
}

const findingsOf = (c: FindingCounts) => c.errors + c.warnings + c.others + c.triaged;
const same = (a: FindingCounts, b: FindingCounts) => a.errors === b.errors && a.warnings === b.warnings && a.others === b.others && a.triaged === b.triaged;
