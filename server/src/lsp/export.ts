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
// Where reports go when the request names no folder: exportFolder.ts.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CancellationToken, Connection, WorkDoneProgressReporter } from 'vscode-languageserver/node';
import type { AuditEngine } from '../audit/engine';
import { buildReport, FORMATS } from '../audit/report/build';
import type { FileReportRows } from '../audit/report/model';
import { asDoc, type FindingKey, type ReportSource } from '../audit/report/doc';
import { findTreeRoot } from '../audit/report/provenance';
import { textDecision } from '../audit/sources';
import { writeReportFiles } from '../audit/report/write';
import { isInside, readTextOrUndefined } from '../fs/safeRead';
import { objectSignature, readReusable, reuseKey, sha1, type Miss } from '../index/spool';
import type { ServerSettings } from './config';
import { countFindings } from './counts';
import type { DocumentStore } from './documents';
import { exportFolder } from './exportFolder';
import { uriToPath } from './files';
import type { ExportReportParams, ExportReportResult, FindingCounts, ReportFormat } from './protocol';
import type { WorkspaceView } from './workspace';

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
    const byPath = new Map(ctx.documents.all().map((d) => [uriToPath(d.uri), d.text] as const));
    const reuse = reuseFromIndex(ctx, paths, byPath);
    let last = 0;
    const run = await buildReport(
      // The .config and allow-list the diagnostics judge by (tdxAudit.build.*), so the report's not-built marks agree with the editor's.
      { paths, formats, profile: ctx.settings.engine.profile, followIncludes: ctx.settings.engine.followIncludes, objects: [], ...ctx.build },
      {
        engine: ctx.engine,
        signal: ac.signal,
        textOf: (f) => byPath.get(f),
        // Findings on disk until written: the server's heap holds a key per finding, not the report.
        spool: true,
        ...(reuse.hook ? { reuse: reuse.hook } : {}),
        progress: (done, total, file) => {
          const now = Date.now();
          if (now - last < 100 && done < total) return;
          last = now;
          progress?.report(Math.floor((100 * done) / Math.max(1, total)), `${done}/${total} ${file}`);
        },
      },
    );
    if (run === 'cancelled') return none;
    let w: Awaited<ReturnType<typeof writeReportFiles>>;
    let differences: string[];
    try {
      if (ac.signal.aborted) return none;
      w = await writeReportFiles(outDir, run.files, { overwrite: p.overwrite === true, signal: ac.signal });
      if (w.cancelled) return none;
      differences = compareWithView(run.doc, paths, ctx.view);
    } finally {
      run.doc.close();
    }
    return {
      written: w.written.map((f) => pathToFileURL(f).href),
      exists: w.exists.map((f) => pathToFileURL(f).href),
      findings: run.doc.counts.findings,
      cancelled: false,
      ...(differences.length ? { differences } : {}),
      ...(reuse.hook || reuse.off ? { reuse: reuse.note() } : {}),
    };
  } finally {
    progress?.done();
  }
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** Why files were audited although the index had read them, in the words of the result. */
const MISS_WORDS: Record<Miss, string> = {
  absent: 'not indexed (new, skipped by the index or indexed from another copy of the same text)',
  changed: 'changed since indexing (or unsaved)',
  configuration: 'indexed under another configuration (profile, severity, objects)',
  root: 'indexed under another tree root (an export of part of a tree)',
  objects: 'whose objects changed since indexing',
};

/** Rows of a file with no site: the report leaves it out, as an audit finding none would. */
function noSiteRows(path: string): FileReportRows {
  return { path, file: '', findings: [], functions: [], row: { file: '', subsystem: '', sites: 0, findings: 0, parseErrors: 0, ms: 0 } };
}

/**
 * The export's reuse hook (audit/report/build.ts ReportHooks.reuse): a file's rows
 * from the index's spool when its entry was made from this text, this engine
 * configuration, this export's tree root and the same objects; else the file is
 * audited. Counts what it took and why it did not, for the result's note.
 */
export function reuseFromIndex(ctx: Pick<ExportContext, 'engine' | 'spool'>, paths: readonly string[], buffers: ReadonlyMap<string | undefined, string>) {
  let reused = 0;
  const misses = new Map<Miss, number>();
  let off: string | undefined;
  const spool = ctx.spool;
  if (!spool) off = 'the workspace index has no rows on disk (index off, not run yet, or its cache folder could not be made)';
  // The engine reads an open header's buffer; the index read the disk.
  const dirtyHeader = [...buffers].find(([p, text]) => p !== undefined && /\.h$/.test(p) && readTextOrUndefined(p) !== text)?.[0];
  if (!off && dirtyHeader) off = `${dirtyHeader} has unsaved changes the index did not see`;
  const config = ctx.engine.configuration;
  const now = { key: reuseKey(config), root: findTreeRoot([...paths]).root, objects: (p: string) => objectSignature(ctx.engine.objects, p, config.objects) };
  const hook = off
    ? undefined
    : (path: string, text: string): FileReportRows | undefined => {
        // What the pre-filter skips is neither indexed nor audited: nothing to count.
        if (textDecision(text) === 'skip') return undefined;
        const r = readReusable(spool!, path, sha1(text), now);
        if ('miss' in r) {
          misses.set(r.miss, (misses.get(r.miss) ?? 0) + 1);
          return undefined;
        }
        reused++;
        return r.rows ?? noSiteRows(path);
      };
  const note = (): string => {
    if (off) return `every file was audited: ${off}`;
    const audited = [...misses.values()].reduce((a, b) => a + b, 0);
    const why = [...misses].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${n} ${MISS_WORDS[m]}`);
    return `${plural(reused, 'file')} taken from the workspace index unchanged; ${plural(audited, 'file')} audited${why.length ? `: ${why.join(', ')}` : ''}`;
  };
  return { hook, off, note, counts: () => ({ reused, misses: Object.fromEntries(misses) as Partial<Record<Miss, number>> }) };
}

/**
 * Why the report and the workspace view (in the same scope) count differently, one
 * sentence per cause; empty when every file's errors, warnings, others and triaged
 * agree. Counted with counts.ts on both sides, so only real differences remain.
 */
export function compareWithView(source: ReportSource, scope: readonly string[], view: WorkspaceView): string[] {
  const model = asDoc(source);
  const inScope = (path: string) => scope.some((s) => path === s || isInside(s, path));
  const report = new Map<string, FindingCounts>();
  const sitesOf = new Map(model.files.map((f) => [join(model.provenance.root, f.file), f.sites] as const));
  const byFile = new Map<string, { severity: FindingKey['severity']; dismissed: boolean }[]>();
  for (const f of model.keys) {
    const path = join(model.provenance.root, f.file);
    let list = byFile.get(path);
    if (!list) byFile.set(path, (list = []));
    list.push({ severity: f.severity, dismissed: f.deemphasised });
  }
  for (const [path, sites] of sitesOf) report.set(path, countFindings(byFile.get(path) ?? [], sites));
  const viewFiles = new Map([...view.fileCounts()].filter(([p, v]) => inScope(p) && (v.counts.sites > 0 || findingsOf(v.counts) > 0)));
  const withObject = new Set(model.files.filter((f) => f.object?.path).map((f) => join(model.provenance.root, f.file)));

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
  const findings = model.keys.length;
  if (out.length && sites !== findings) out.push(`the report has ${sites} sites and ${findings} findings: ${sites - findings} sites belong to rules set to "off" (tdxAudit.severity), which only the site counts include`);
  return out;
}

const findingsOf = (c: FindingCounts) => c.errors + c.warnings + c.others + c.triaged;
const same = (a: FindingCounts, b: FindingCounts) => a.errors === b.errors && a.warnings === b.warnings && a.others === b.others && a.triaged === b.triaged;
