// Building a report: what the CLI (`tdx-audit report`) and the language server's
// export share. Scans the paths with an engine (the caller's, or a fresh one),
// builds one report model with provenance, triage and baseline, and renders the
// chosen formats lazily. No argv, no terminal, no file writing here: cli.ts parses
// arguments and draws the progress bar, write.ts writes the files.

import { readTextOrUndefined } from '../../fs/safeRead';
import { join, resolve } from 'node:path';
import type { CommonOptions } from '../../cliOptions';
import { objectSearchOf, shardOf } from '../../cliOptions';
import { batchHost, discoverSources as discoverTree, readSource, SiteFilter, SourceError } from '../sources';
import { AuditEngine, type AuditConfig, type FileAudit } from '../engine';
import type { ReportFormat } from '../../lsp/protocol';
import { applyBaseline, applyBaselineToDoc } from './baseline';
import { asDoc, docOfModel, type ReportDoc, type ReportSource } from './doc';
import { siteKeys } from './fingerprint';
import { htmlChunks } from './html';
import { jsonReportChunks, parseJsonReport, type JsonExtras, type JsonReport } from './json';
import { markdownText } from './markdown';
import { assembleReportModel, reportRowsOf, RowInterner, rowScope, skippedRows, type FileBuild, type FileReportRows, type ReportModel, type RowScope } from './model';
import { ReportSpool, RowSpoolWriter, type SpooledRows } from './spool';
import { parseDotConfig, treeKbuild } from '../kbuild';
import { allowed, parseAllowList, type AllowList } from '../allowList';
import { collectProvenance, findTreeRoot, readFirstConfig, relativeTo, type DotConfigText } from './provenance';
import { sarifChunks } from './sarif';
import { loadTriage, triagePathFor } from './triage';
import type { OutputFile } from './write';

export const FORMATS: ReportFormat[] = ['sarif', 'html', 'markdown', 'json'];

/** Output file name per format, fixed so CI and the editor find them. */
export const REPORT_FILE_NAMES: Record<ReportFormat, string> = {
  sarif: 'tdx-audit.sarif',
  html: 'tdx-audit.html',
  markdown: 'tdx-audit.md',
  json: 'tdx-audit.json',
};

export class ReportUsageError extends Error {}

/** What to report on and how: the CLI's options without the output folder. */
export interface BuildOptions extends CommonOptions {
  paths: string[];
  formats: ReportFormat[];
  baseline?: string;
  triage?: string;
  /** --config: the .config that says which files the TD kernel builds (default: the tree's, or the O= build's). */
  config?: string;
  /** --allow-list: the drivers a TD runs (audit/allowList.ts); their findings rank first. */
  allowList?: string;
}

/** C sources and headers under the given paths, absolute, in a stable order. */
export function discoverSources(paths: string[], onSkip?: (path: string, why: string) => void): string[] {
  try {
    return discoverTree(paths, onSkip);
  } catch (e) {
    if (e instanceof SourceError) throw new ReportUsageError(e.message);
    throw e;
  }
}

/** Headers: never /dev/zero, a FIFO or a 50 GB file (fs/safeRead). */
const readOrUndefined = (p: string) => readTextOrUndefined(p);

export interface ReportRun {
  /** What the writers read; close() it once the files are written (a spooled run's findings are on disk). */
  doc: ReportDoc;
  /** The model itself, when the run kept its findings in memory (no `spool` hook). */
  model?: ReportModel;
  /** The chosen formats, each rendered in pieces when written. */
  files: OutputFile[];
}

/** What a caller other than the CLI (the language server) plugs into a report run. */
export interface ReportHooks {
  /** Cancels the run; 'cancelled' is returned and nothing is rendered. */
  signal?: AbortSignal;
  /** Called before each file is audited (work-done progress in the editor, the bar in a terminal). */
  progress?: (done: number, total: number, file: string) => void;
  /**
   * An engine configured by the caller (severity overrides, object search): used as
   * is. Without one a fresh engine is made from the options.
   */
  engine?: AuditEngine;
  /** Text of a file when the caller has a newer one than the disk (unsaved editor buffers). */
  textOf?: (path: string) => string | undefined;
  /**
   * The rows of a file the caller already audited from exactly this text (the editor's
   * index): returned rows are used as they are and the file is not audited again;
   * undefined audits it. Rows with no sites leave the file out, as an audit finding none
   * would. This run's .config and allow-list decide the rows' build state.
   */
  reuse?: (path: string, text: string) => FileReportRows | undefined;
  /**
   * Audits the files elsewhere (the CLI's worker threads: cli/pool.ts) with engines
   * configured by `job.config`, each file by reportJob(job.settings); `emit` gets each
   * file's result in the files' order. Used only when the run has no engine, textOf or
   * reuse of the caller's. Returns early (having emitted less) when `signal` aborts.
   */
  runJobs?: (files: readonly string[], job: { config: Partial<AuditConfig>; settings: ReportJobSettings }, emit: (index: number, r: ReportJobResult) => void) => Promise<void>;
  /**
   * Keep the findings on disk (spool.ts) as each file's rows arrive, and read them
   * back while the files are written: the heap holds a small key per finding instead
   * of every finding of the run. The output is the same.
   */
  spool?: boolean;
}

/** Rows with this run's build state (reused rows may come from a run with another .config). */
function withBuild(r: FileReportRows, build: FileBuild | undefined): FileReportRows {
  const { build: _old, ...rest } = r;
  return build ? { ...rest, build } : rest;
}

/**
 * What one file gives a report: its rows, its rows as written to the run's spool by
 * the thread that audited it (ReportJobSettings.spoolDir), why it was skipped, or
 * nothing (no site).
 */
export type ReportJobResult =
  | { kind: 'rows'; rows: FileReportRows }
  | { kind: 'spooled'; rows: SpooledRows }
  /** The rows could not be written to the spool (a full or vanished temp folder): the run fails, it does not skip the file. */
  | { kind: 'spool-failed'; why: string }
  | { kind: 'skipped'; why: string }
  | { kind: 'none' };

/** What a thread auditing a report's files needs besides the engine's configuration (plain data, for a worker). */
export interface ReportJobSettings {
  /** The tree root paths are relative to. */
  root: string;
  /** A kernel tree: findings point at the io.h line defining their accessor. */
  kernelTree: boolean;
  /**
   * The run's spool folder (ReportSpool.dir): the thread writes each file's rows there
   * itself and answers with where they are, so a large driver's rows are never copied
   * to the main thread and held there while they are spooled.
   */
  spoolDir?: string;
}

/** A file's text audited into rows (its keys taken now, so neither the text nor the audit is kept). */
function rowsOfText(engine: Pick<AuditEngine, 'auditOnce'>, filter: SiteFilter, scope: RowScope, path: string, text: string): ReportJobResult {
  if (!filter.mayHoldSites(path, text)) return { kind: 'none' };
  let audit: FileAudit;
  try {
    audit = engine.auditOnce(path, text);
  } catch (e) {
    return { kind: 'skipped', why: `analysis failed: ${(e as Error).message}` };
  }
  if (!audit.analysis.sites.length) return { kind: 'none' };
  return { kind: 'rows', rows: reportRowsOf({ path, audit, keys: siteKeys(relativeTo(scope.root, path), text, audit.analysis.sites) }, scope) };
}

/** The per-file task of a report on a thread of its own (cli/scanWorker.ts): read, filter, audit, rows. */
export function reportJob(engine: Pick<AuditEngine, 'auditOnce'>, filter: SiteFilter, settings: ReportJobSettings): (path: string) => ReportJobResult {
  const scope = rowScope(settings.root, settings.kernelTree);
  const dir = settings.spoolDir;
  const writer = dir ? new RowSpoolWriter(dir) : undefined;
  return (path) => {
    const src = readSource(path);
    if ('why' in src) return { kind: 'skipped', why: src.why };
    const r = rowsOfText(engine, filter, scope, path, src.text);
    if (!writer || r.kind !== 'rows') return r;
    try {
      return { kind: 'spooled', rows: writer.write(r.rows) };
    } catch (e) {
      return { kind: 'spool-failed', why: (e as Error).message };
    }
  };
}

/** Scans and renders without writing (the editor's export uses the same steps). */
export async function buildReport(o: BuildOptions, hooks: ReportHooks = {}): Promise<ReportRun | 'cancelled'> {
  const skipped: { file: string; why: string }[] = [];
  // --shard: this run's part of the list; the provenance still names the whole scope.
  const sources = shardOf(discoverSources(o.paths, (file, why) => skipped.push({ file, why })), o.shard);
  const { root, kernel } = findTreeRoot(o.paths);
  // A batch run as scan's: headers through the include path, their knowledge cached.
  // The compiled-form join happens inside the engine (compiled/match.ts) once it knows where objects are.
  // As scan: the .o beside each source unless --no-objects, plus what the options name.
  const config: Partial<AuditConfig> | undefined = hooks.engine
    ? undefined
    : { profile: o.profile, followIncludes: o.followIncludes, headerCache: true, objects: objectSearchOf(o, root, (m) => new Error(m)) };
  // A caller's engine decides the profile and whether objects are read.
  const profile = hooks.engine ? hooks.engine.configuration.profile : o.profile;
  const joining = hooks.engine ? !!hooks.engine.configuration.objects : !!config?.objects;

  const rows: FileReportRows[] = [];
  // The triage applies to findings as they are spooled: read before the run.
  const triagePath = o.triage ? resolve(o.triage) : triagePathFor(root);
  const triage = loadTriage(triagePath);
  if (o.triage && !triage) throw new ReportUsageError(`cannot read triage file ${o.triage}`);
  const spool = hooks.spool ? new ReportSpool(triage) : undefined;
  // Whatever ends the run early (an error, a cancellation) removes the spool's folder.
  try {
    return await runAndAssemble();
  } catch (e) {
    spool?.close();
    throw e;
  }

  async function runAndAssemble(): Promise<ReportRun | 'cancelled'> {
    // Read once: the build states and the provenance both come from it.
    const dotConfig = findDotConfig(o, root);
    const buildOf = buildStates(o, root, kernel !== undefined, dotConfig);
    const settings: ReportJobSettings = { root, kernelTree: kernel !== undefined, ...(spool ? { spoolDir: spool.dir } : {}) };
    /** The first file whose rows a worker could not spool: the run ends with it once the pool is done. */
    let spoolFailed: string | undefined;
    const take = (f: string, r: ReportJobResult) => {
      if (r.kind === 'skipped') skipped.push({ file: f, why: r.why });
      else if (r.kind === 'spool-failed') spoolFailed ??= `cannot write the findings of ${f} to the report's temp folder: ${r.why}`;
      else if (r.kind === 'spooled') {
        if (!spool) throw new Error(`${f}: rows were spooled by a run that keeps them in memory`);
        spool.addSpooled(r.rows, buildOf(relativeTo(root, f)));
      } else if (r.kind === 'rows') {
        const withState = withBuild(r.rows, buildOf(relativeTo(root, f)));
        if (spool) spool.add(withState);
        else rows.push(withState);
      }
    };
    if (hooks.runJobs && config && !hooks.textOf && !hooks.reuse) {
      // Audited elsewhere (the CLI's worker threads); in the files' order come back, with a
      // spool, where each file's rows were written (ReportSpool.addSpooled), else the rows,
      // each a copy: what repeats across files is shared again.
      const interner = new RowInterner();
      await hooks.runJobs(sources, { config, settings }, (i, r) => {
        hooks.progress?.(i + 1, sources.length, relativeTo(root, sources[i]!));
        // Spooled rows are written out at once: nothing of them is kept to share.
        take(sources[i]!, r.kind === 'rows' && !spool ? { kind: 'rows', rows: interner.intern(r.rows) } : r);
      });
    } else {
      const engine = hooks.engine ?? (await AuditEngine.create(batchHost()));
      if (config) engine.configure(config);
      // A file that only calls header wrappers (vp_ioread16) is asked of the engine before it is skipped.
      const filter = new SiteFilter((p) => hooks.textOf?.(p) ?? readOrUndefined(p), (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
      const scope = rowScope(root, kernel !== undefined);
      for (let i = 0; i < sources.length; i++) {
        // Let a SIGINT handler (or a cancellation request) run: the audit itself is synchronous.
        if (i % 8 === 0) await new Promise((r) => setImmediate(r));
        if (hooks.signal?.aborted) {
          spool?.close();
          return 'cancelled';
        }
        const f = sources[i]!;
        hooks.progress?.(i + 1, sources.length, relativeTo(root, f));
        const text = hooks.textOf?.(f) ?? readSource(f);
        if (typeof text !== 'string' && 'why' in text) {
          take(f, { kind: 'skipped', why: text.why });
          continue;
        }
        const t = typeof text === 'string' ? text : text.text;
        // Rows the caller already has for this text (the editor's index): not audited again.
        const reused = hooks.reuse?.(f, t);
        if (reused) {
          if (reused.row.sites) take(f, { kind: 'rows', rows: reused });
          continue;
        }
        take(f, rowsOfText(engine, filter, scope, f, t));
      }
    }
    if (hooks.signal?.aborted) {
      spool?.close();
      return 'cancelled';
    }
    if (spoolFailed) throw new Error(spoolFailed);

    const objects = spool ? spool.objects : rows.flatMap((r) => (r.object ? [{ source: r.path, info: r.object }] : []));
    const provenance = collectProvenance({
      root,
      scope: o.paths.map((p) => resolve(p)),
      profile,
      kernel,
      // An O= build keeps its .config in the build directory.
      ...(dotConfig ? { dotConfig } : { configCandidates: [] }),
      objects,
      ...(joining && !objects.length ? { compiledNote: 'objects were given, but none held code of the audited files' } : {}),
    });
    let baseline: JsonReport | undefined;
    if (o.baseline) {
      const text = readOrUndefined(o.baseline);
      if (text === undefined) throw new ReportUsageError(`cannot read baseline ${o.baseline}`);
      baseline = parseJsonReport(text, o.baseline);
    }
    let model: ReportModel | undefined;
    let doc: ReportDoc;
    if (spool) {
      doc = spool.finish(provenance, skippedRows(root, skipped));
      if (baseline) doc = applyBaselineToDoc(doc, baseline, o.baseline!);
    } else {
      model = assembleReportModel({ rows, provenance, triage, skipped });
      if (baseline) model = applyBaseline(model, baseline, o.baseline!);
      doc = docOfModel(model);
    }
    return { doc, ...(model ? { model } : {}), files: reportFiles(doc, o.formats, o.shard ? { shard: o.shard } : {}) };
  }
}

/** Where a tree keeps its .config: the tree itself, then an O= build directory or an objects folder. */
function configCandidates(o: BuildOptions, root: string): string[] {
  return [join(root, '.config'), ...[o.buildDir, ...o.objects].filter((d): d is string => !!d).map((d) => join(resolve(d), '.config'))];
}

/** The .config the run judges by: --config (unreadable: a usage error), else the tree's or an O= build's. */
function findDotConfig(o: BuildOptions, root: string): DotConfigText | undefined {
  if (!o.config) return readFirstConfig(configCandidates(o, root));
  const found = readFirstConfig([resolve(o.config)]);
  if (!found) throw new ReportUsageError(`cannot read .config ${o.config}`);
  return found;
}

/**
 * Per file (tree-relative): what the .config builds (Kbuild's Makefiles, audit/kbuild.ts)
 * and whether the allow-list names it. Only inside a kernel tree; an allow-list named
 * on the command line that cannot be read is a usage error.
 */
function buildStates(o: BuildOptions, root: string, kernelTree: boolean, dotConfig: DotConfigText | undefined): (rel: string) => FileBuild | undefined {
  const config = dotConfig && (kernelTree || o.config) ? parseDotConfig(dotConfig.text) : undefined;
  let list: AllowList | undefined;
  if (o.allowList) {
    const text = readOrUndefined(o.allowList);
    if (text === undefined) throw new ReportUsageError(`cannot read allow-list ${o.allowList}`);
    list = parseAllowList(text);
  }
  if (!config && !list) return () => undefined;
  const kb = kernelTree ? treeKbuild(root) : undefined;
  return (rel) => {
    const v = config && kb ? kb.verdict(rel, config) : undefined;
    const allowedHere = list ? allowed(list, rel, kb ? kb.objectsOf(rel) : []) : undefined;
    return { ...(v ? { state: v.state, why: v.why } : {}), ...(allowedHere !== undefined ? { allowed: allowedHere } : {}) };
  };
}

/**
 * The report files of the chosen formats, each written in pieces (write.ts gathers
 * them into 1 MB writes): JSON and SARIF finding by finding, HTML row by row, so a
 * whole tree's report is never one string, and findings are read from the document as
 * they are printed. Markdown is one string: it lists failing sites and warnings and
 * counts the informational rest, so it stays small whatever the tree. The one table
 * of formats the CLI, merge and the editor's export all write through.
 */
export function reportFiles(source: ReportSource, formats: readonly ReportFormat[], extras: JsonExtras = {}): OutputFile[] {
  const doc = asDoc(source);
  const pieces: Record<ReportFormat, () => Iterable<string>> = {
    json: () => jsonReportChunks(doc, extras),
    sarif: () => sarifChunks(doc),
    html: () => htmlChunks(doc),
    markdown: () => [markdownText(doc)],
  };
  return formats.map((f) => ({ name: REPORT_FILE_NAMES[f], content: { chunks: pieces[f] } }));
}
