// The export's assembly: scan the scope (rows from the index's spool for unchanged
// files, the engine for the others), spool the findings, write the report files and
// count what the report holds per file. Plain data in, plain data out, so that the
// same steps run on a worker thread (exportWorker.ts, the default: its heap and its
// engine's WASM memory go back when it ends) or on the server's thread (no worker
// bundle, or a vmlinux the server's engine already holds: exportThread.ts decides).

import { join } from 'node:path';
import type { AuditEngine } from '../audit/engine';
import { buildReport, FORMATS } from '../audit/report/build';
import type { FileReportRows } from '../audit/report/model';
import { asDoc, type ReportSource } from '../audit/report/doc';
import { findTreeRoot } from '../audit/report/provenance';
import { textDecision } from '../audit/sources';
import { writeReportFiles } from '../audit/report/write';
import { readTextOrUndefined } from '../fs/safeRead';
import { objectSignature, readReusable, reuseKey, sha1, type Miss } from '../index/spool';
import { countFindings } from './counts';
import type { FindingCounts, ReportFormat } from './protocol';

/** What an export needs besides an engine: plain data (it crosses to a worker thread). */
export interface ExportJob {
  paths: string[];
  formats: ReportFormat[];
  outDir: string;
  overwrite: boolean;
  /** The engine's profile and include following (ServerSettings.engine). */
  profile: string;
  followIncludes: boolean;
  /** The index's spool folder, when there is one. */
  spool?: string;
  /** tdxAudit.build.config / allowList resolved (KernelBuild.reportOptions). */
  build?: { config?: string; allowList?: string };
}

/** What the report holds, counted per file as the workspace view counts (counts.ts). */
export interface ReportSide {
  /** Per absolute source path: the report's counts. */
  files: [string, FindingCounts][];
  /** Sources whose rows joined an object. */
  withObject: string[];
  findings: number;
}

export type ExportOutcome =
  | { cancelled: true }
  | { cancelled: false; written: string[]; exists: string[]; findings: number; side: ReportSide; reuse?: string };

export interface AssemblyHooks {
  signal: AbortSignal;
  progress: (done: number, total: number, file: string) => void;
  /** Open documents' text by path: what the report shows for them. */
  textOf: (path: string) => string | undefined;
  /** All open buffers (path, text): a header with unsaved changes turns reuse off. */
  buffers: ReadonlyMap<string | undefined, string>;
}

/** Scans, spools and writes the report; the engine audits what the index's spool cannot give. */
export async function assembleExport(job: ExportJob, engine: AuditEngine, hooks: AssemblyHooks): Promise<ExportOutcome> {
  const formats = job.formats.filter((f): f is ReportFormat => FORMATS.includes(f));
  const reuse = reuseFromIndex({ engine, spool: job.spool }, job.paths, hooks.buffers);
  const run = await buildReport(
    // The .config and allow-list the diagnostics judge by (tdxAudit.build.*), so the report's not-built marks agree with the editor's.
    { paths: job.paths, formats, profile: job.profile, followIncludes: job.followIncludes, objects: [], ...job.build } as Parameters<typeof buildReport>[0],
    {
      engine,
      signal: hooks.signal,
      textOf: hooks.textOf,
      // Findings on disk until written: the heap holds a key per finding, not the report.
      spool: true,
      ...(reuse.hook ? { reuse: reuse.hook } : {}),
      progress: hooks.progress,
    },
  );
  if (run === 'cancelled') return { cancelled: true };
  try {
    if (hooks.signal.aborted) return { cancelled: true };
    const w = await writeReportFiles(job.outDir, run.files, { overwrite: job.overwrite, signal: hooks.signal });
    if (w.cancelled) return { cancelled: true };
    return {
      cancelled: false,
      written: w.written,
      exists: w.exists,
      findings: run.doc.counts.findings,
      side: reportSide(run.doc),
      ...(reuse.hook || reuse.off ? { reuse: reuse.note() } : {}),
    };
  } finally {
    run.doc.close();
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
export function reuseFromIndex(ctx: { engine: AuditEngine; spool?: string | undefined }, paths: readonly string[], buffers: ReadonlyMap<string | undefined, string>) {
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

/** The report's counts per file (counts.ts, as the view counts), what compareWithView needs of it. */
export function reportSide(source: ReportSource): ReportSide {
  const model = asDoc(source);
  const sitesOf = new Map(model.files.map((f) => [join(model.provenance.root, f.file), f.sites] as const));
  const byFile = new Map<string, { severity: (typeof model.keys)[number]['severity']; dismissed: boolean }[]>();
  for (const f of model.keys) {
    const path = join(model.provenance.root, f.file);
    let list = byFile.get(path);
    if (!list) byFile.set(path, (list = []));
    list.push({ severity: f.severity, dismissed: f.deemphasised });
  }
  return {
    files: [...sitesOf].map(([path, sites]) => [path, countFindings(byFile.get(path) ?? [], sites)]),
    withObject: model.files.filter((f) => f.object?.path).map((f) => join(model.provenance.root, f.file)),
    findings: model.keys.length,
  };
}
