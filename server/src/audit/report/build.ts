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
import { AuditEngine, type FileAudit } from '../engine';
import type { ReportFormat } from '../../lsp/protocol';
import { applyBaseline } from './baseline';
import { siteKeys } from './fingerprint';
import { htmlText } from './html';
import { jsonText, parseJsonReport } from './json';
import { markdownText } from './markdown';
import { assembleReportModel, reportRowsOf, rowScope, type FileBuild, type FileReportRows, type ReportModel } from './model';
import { parseDotConfig, treeKbuild } from '../kbuild';
import { allowed, parseAllowList, type AllowList } from '../allowList';
import { collectProvenance, findTreeRoot, readFirstConfig, relativeTo, type DotConfigText } from './provenance';
import { sarifText } from './sarif';
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
  model: ReportModel;
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
}

/** Rows with this run's build state (reused rows may come from a run with another .config). */
function withBuild(r: FileReportRows, build: FileBuild | undefined): FileReportRows {
  const { build: _old, ...rest } = r;
  return build ? { ...rest, build } : rest;
}

/** Scans and renders without writing (the editor's export uses the same steps). */
export async function buildReport(o: BuildOptions, hooks: ReportHooks = {}): Promise<ReportRun | 'cancelled'> {
  const skipped: { file: string; why: string }[] = [];
  // --shard: this run's part of the list; the provenance still names the whole scope.
  const sources = shardOf(discoverSources(o.paths, (file, why) => skipped.push({ file, why })), o.shard);
  const { root, kernel } = findTreeRoot(o.paths);
  const read = (p: string) => readTextOrUndefined(p);
  // A batch run as scan's: headers through the include path, their knowledge cached.
  const engine = hooks.engine ?? (await AuditEngine.create(batchHost()));
  if (!hooks.engine) engine.configure({
    profile: o.profile,
    followIncludes: o.followIncludes,
    headerCache: true,
    // The compiled-form join happens inside the engine (compiled/match.ts) once it knows where objects are.
    // As scan: the .o beside each source unless --no-objects, plus what the options name.
    objects: objectSearchOf(o, root, (m) => new Error(m)),
  });
  // A caller's engine decides the profile and whether objects are read.
  const profile = engine.configuration.profile;
  const joining = !!engine.configuration.objects;

  const rows: FileReportRows[] = [];
  // Read once: the build states and the provenance both come from it.
  const dotConfig = findDotConfig(o, root);
  const buildOf = buildStates(o, root, kernel !== undefined, dotConfig);
  const scope = rowScope(root, kernel !== undefined);
  // A file that only calls header wrappers (vp_ioread16) is asked of the engine before it is skipped.
  const filter = new SiteFilter((p) => hooks.textOf?.(p) ?? read(p), (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
  for (let i = 0; i < sources.length; i++) {
    // Let a SIGINT handler (or a cancellation request) run: the audit itself is synchronous.
    if (i % 8 === 0) await new Promise((r) => setImmediate(r));
    if (hooks.signal?.aborted) return 'cancelled';
    const f = sources[i];
    hooks.progress?.(i + 1, sources.length, relativeTo(root, f));
    let text: string;
    const buffered = hooks.textOf?.(f);
    if (buffered !== undefined) text = buffered;
    else {
      const src = readSource(f);
      if ('why' in src) {
        skipped.push({ file: f, why: src.why });
        continue;
      }
      text = src.text;
    }
    // Rows the caller already has for this text (the editor's index): not audited again.
    const reused = hooks.reuse?.(f, text);
    if (reused) {
      if (reused.row.sites) rows.push(withBuild(reused, buildOf(relativeTo(root, f))));
      continue;
    }
    if (!filter.mayHoldSites(f, text)) continue;
    let audit: FileAudit;
    try {
      audit = engine.auditOnce(f, text);
    } catch (e) {
      skipped.push({ file: f, why: `analysis failed: ${(e as Error).message}` });
      continue;
    }
    if (!audit.analysis.sites.length) continue;
    const build = buildOf(relativeTo(root, f));
    // Keys now, so the text can be dropped: a whole tree's text is not kept, nor its audits.
    rows.push(reportRowsOf({ path: f, audit, keys: siteKeys(relativeTo(root, f), text, audit.analysis.sites), ...(build ? { build } : {}) }, scope));
  }
  if (hooks.signal?.aborted) return 'cancelled';

  const triagePath = o.triage ? resolve(o.triage) : triagePathFor(root);
  const triage = loadTriage(triagePath);
  if (o.triage && !triage) throw new ReportUsageError(`cannot read triage file ${o.triage}`);
  const objects = rows.flatMap((r) => (r.object ? [{ source: r.path, info: r.object }] : []));
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
  let model = assembleReportModel({ rows, provenance, triage, skipped });
  if (o.baseline) {
    const text = readOrUndefined(o.baseline);
    if (text === undefined) throw new ReportUsageError(`cannot read baseline ${o.baseline}`);
    model = applyBaseline(model, parseJsonReport(text, o.baseline), o.baseline);
  }
  return { model, files: renderFormats(model, o.formats) };
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

export function renderFormats(model: ReportModel, formats: ReportFormat[]): OutputFile[] {
  const render: Record<ReportFormat, (m: ReportModel) => string> = { sarif: sarifText, html: htmlText, markdown: markdownText, json: jsonText };
  // Rendered when written, one format at a time (see OutputFile.content).
  return formats.map((f) => ({ name: REPORT_FILE_NAMES[f], content: () => render[f](model) }));
}
