// `tdx-audit report <paths...> --out DIR [--format sarif,html,markdown,json] [--force]
//    [--baseline FILE] [--triage FILE] [--objects DIR|FILE]... [--build-dir DIR]
//    [--vmlinux FILE] [--profile P] [--no-includes]`
// Scans like `tdx-audit scan`, builds one report model and writes the chosen formats
// into DIR. A progress bar goes to stderr on a terminal only. Ctrl-C (SIGINT) stops
// the scan and writes nothing; existing report files are kept unless --force.
// Exit status: 0 written, 2 usage or I/O error or existing files kept, 130 interrupted.

import { readTextOrUndefined } from '../../fs/safeRead';
import { join, resolve } from 'node:path';
import { checkObjectPaths, commonOption, optionValue, type CommonOptions } from '../../cliOptions';
import { discoverSources as discoverTree, readSource, SiteFilter, SourceError } from '../sources';
import { AuditEngine, type FileAudit } from '../engine';
import type { ObjectInfo } from '../compiled';
import type { ReportFormat } from '../../lsp/protocol';
import { applyBaseline } from './baseline';
import { siteKeys } from './fingerprint';
import { htmlText } from './html';
import { jsonText, parseJsonReport } from './json';
import { markdownText } from './markdown';
import { buildReportModel, type ReportInputFile, type ReportModel } from './model';
import { collectProvenance, findTreeRoot, relativeTo } from './provenance';
import { sarifText } from './sarif';
import { DEEMPHASISED, loadTriage, triagePathFor } from './triage';
import { writeReportFiles, type OutputFile } from './write';

const FORMATS: ReportFormat[] = ['sarif', 'html', 'markdown', 'json'];

/** Output file name per format, fixed so CI and the editor find them. */
export const REPORT_FILE_NAMES: Record<ReportFormat, string> = {
  sarif: 'tdx-audit.sarif',
  html: 'tdx-audit.html',
  markdown: 'tdx-audit.md',
  json: 'tdx-audit.json',
};

export const REPORT_USAGE =
  'tdx-audit report <files or dirs...> --out DIR [--format sarif,html,markdown,json] [--force] [--baseline FILE] [--triage FILE] [--objects DIR|FILE]... [--build-dir DIR] [--vmlinux FILE] [--profile P] [--no-includes] [--exit-zero]';


export class ReportUsageError extends Error {}

export interface ReportOptions extends CommonOptions {
  paths: string[];
  out: string;
  formats: ReportFormat[];
  force: boolean;
  baseline?: string;
  triage?: string;
  /** Write the report but exit 0 even with error findings (as scan's --exit-zero). */
  exitZero?: boolean;
}

export function parseReportArgs(argv: string[]): ReportOptions {
  const o: ReportOptions = { paths: [], out: '', formats: [...FORMATS], force: false, profile: 'tdx-linux-6.12+', followIncludes: true, objects: [] };
  const fail = (m: string) => new ReportUsageError(m);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const shared = commonOption(argv, i, o, fail);
    if (shared >= 0) i = shared;
    else if (a === '--out' || a === '-o') o.out = optionValue(argv, ++i, a, fail);
    else if (a === '--format') {
      const fs = optionValue(argv, ++i, a, fail).split(',').map((s) => s.trim()).filter(Boolean);
      for (const f of fs) if (!FORMATS.includes(f as ReportFormat)) throw new ReportUsageError(`unknown format ${f}; one of ${FORMATS.join(', ')}`);
      o.formats = [...new Set(fs as ReportFormat[])];
    } else if (a === '--force') o.force = true;
    else if (a === '--exit-zero') o.exitZero = true;
    else if (a === '--baseline') o.baseline = optionValue(argv, ++i, a, fail);
    else if (a === '--triage') o.triage = optionValue(argv, ++i, a, fail);
    else if (a.startsWith('-')) throw new ReportUsageError(`unknown option ${a}`);
    else o.paths.push(a);
  }
  if (!o.paths.length) throw new ReportUsageError('report needs at least one file or directory');
  if (!o.out) throw new ReportUsageError('report needs --out DIR');
  if (!o.formats.length) throw new ReportUsageError('--format names no format');
  checkObjectPaths(o, fail);
  return o;
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

export interface ReportIO {
  stderr: (s: string) => void;
  stdout: (s: string) => void;
  /** Draw the progress bar (stderr is a terminal). */
  isTTY: boolean;
  columns: number;
  /** Aborts the run (SIGINT in the CLI; a test may pass its own). */
  signal?: AbortSignal;
}

/** A one-line bar on a terminal; nothing otherwise (logs and pipes stay clean). */
function progressBar(io: ReportIO): { tick: (done: number, total: number, file: string) => void; done: () => void } {
  if (!io.isTTY) return { tick: () => undefined, done: () => undefined };
  let last = 0;
  let drawn = false;
  const draw = (i: number, total: number, f: string) => {
    drawn = true;
    const width = 24;
    const filled = Math.round((i / total) * width);
    const head = `report [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${i}/${total} `;
    const room = Math.max(0, io.columns - head.length - 1);
    const name = f.length > room ? '…' + f.slice(f.length - room + 1) : f;
    io.stderr(`\r\x1b[2K${head}${room > 0 ? name : ''}`);
  };
  return {
    tick: (i: number, total: number, f: string) => {
      const now = Date.now();
      // Redrawing per file would cost more than a small file's audit.
      if (now - last >= 80 || i === total) {
        last = now;
        draw(i, total, f);
      }
    },
    done: () => {
      if (drawn) io.stderr('\r\x1b[2K');
    },
  };
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
}

/** Scans and renders without writing (the editor's export uses the same steps). */
export async function buildReport(o: Omit<ReportOptions, 'out' | 'force'>, hooks: ReportHooks = {}): Promise<ReportRun | 'cancelled'> {
  const skipped: { file: string; why: string }[] = [];
  const sources = discoverSources(o.paths, (file, why) => skipped.push({ file, why }));
  const { root, kernel } = findTreeRoot(o.paths);
  const withObjects = o.objects.length > 0 || !!o.vmlinux || !!o.buildDir;
  const read = (p: string) => readTextOrUndefined(p);
  const engine = hooks.engine ?? (await AuditEngine.create({ readFile: read }));
  if (!hooks.engine) engine.configure({
    profile: o.profile,
    followIncludes: o.followIncludes,
    // The compiled-form join happens inside the engine (compiled/match.ts) once it knows where objects are.
    objects: withObjects ? { objects: o.objects.map((p) => resolve(p)), vmlinux: o.vmlinux && resolve(o.vmlinux), buildDir: o.buildDir && resolve(o.buildDir), sourceRoot: root } : undefined,
  });
  // A caller's engine decides the profile and whether objects are read.
  const profile = engine.configuration.profile;
  const joining = !!engine.configuration.objects;

  const files: ReportInputFile[] = [];
  const filter = new SiteFilter((p) => hooks.textOf?.(p) ?? read(p));
  const objects: { source: string; info: ObjectInfo }[] = [];
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
    if (!filter.mayHoldSites(f, text)) continue;
    let audit: FileAudit;
    try {
      audit = engine.auditOnce(f, text);
    } catch (e) {
      skipped.push({ file: f, why: `analysis failed: ${(e as Error).message}` });
      continue;
    }
    if (!audit.analysis.sites.length) continue;
    if (audit.compiled) objects.push({ source: f, info: audit.compiled.object });
    // Keys now, so the text can be dropped: a whole tree's text is not kept.
    files.push({ path: f, audit, keys: siteKeys(relativeTo(root, f), text, audit.analysis.sites) });
  }
  if (hooks.signal?.aborted) return 'cancelled';

  const triagePath = o.triage ? resolve(o.triage) : triagePathFor(root);
  const triage = loadTriage(triagePath);
  if (o.triage && !triage) throw new ReportUsageError(`cannot read triage file ${o.triage}`);
  const provenance = collectProvenance({
    root,
    scope: o.paths.map((p) => resolve(p)),
    profile,
    kernel,
    // An O= build keeps its .config in the build directory.
    configCandidates: [join(root, '.config'), ...[o.buildDir, ...o.objects].filter((d): d is string => !!d).map((d) => join(resolve(d), '.config'))],
    objects,
    ...(joining && !objects.length ? { compiledNote: 'objects were given, but none held code of the audited files' } : {}),
  });
  let model = buildReportModel({ files, provenance, triage, skipped });
  if (o.baseline) {
    const text = readOrUndefined(o.baseline);
    if (text === undefined) throw new ReportUsageError(`cannot read baseline ${o.baseline}`);
    model = applyBaseline(model, parseJsonReport(text, o.baseline), o.baseline);
  }
  return { model, files: renderFormats(model, o.formats) };
}

export function renderFormats(model: ReportModel, formats: ReportFormat[]): OutputFile[] {
  const render: Record<ReportFormat, (m: ReportModel) => string> = { sarif: sarifText, html: htmlText, markdown: markdownText, json: jsonText };
  // Rendered when written, one format at a time (see OutputFile.content).
  return formats.map((f) => ({ name: REPORT_FILE_NAMES[f], content: () => render[f](model) }));
}

function defaultIO(): ReportIO {
  return {
    stderr: (s) => void process.stderr.write(s),
    stdout: (s) => void process.stdout.write(s),
    isTTY: !!process.stderr.isTTY,
    columns: process.stderr.columns || 80,
  };
}

export async function runReport(argv: string[], ioOverrides: Partial<ReportIO> = {}): Promise<number> {
  const io: ReportIO = { ...defaultIO(), ...ioOverrides };
  let o: ReportOptions;
  try {
    o = parseReportArgs(argv);
  } catch (e) {
    io.stderr(`tdx-audit: ${(e as Error).message}\nusage: ${REPORT_USAGE}\n`);
    return 2;
  }
  const ac = new AbortController();
  // SIGTERM and SIGHUP (a CI job cancelled, a terminal closed) stop the run like
  // Ctrl-C: the temp files are removed and nothing is half-written.
  let exitCode = 130;
  const onSignal = (sig: NodeJS.Signals) => {
    exitCode = sig === 'SIGTERM' ? 143 : sig === 'SIGHUP' ? 129 : 130;
    ac.abort();
  };
  const outer = io.signal;
  const forward = () => ac.abort();
  outer?.addEventListener('abort', forward);
  if (outer?.aborted) ac.abort();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  try {
    const bar = progressBar(io);
    let run: ReportRun | 'cancelled';
    try {
      run = await buildReport(o, { signal: ac.signal, progress: bar.tick });
    } finally {
      bar.done();
    }
    if (run === 'cancelled') {
      io.stderr('tdx-audit: interrupted; no report written\n');
      return exitCode;
    }
    const res = await writeReportFiles(o.out, run.files, { overwrite: o.force, signal: ac.signal });
    if (res.cancelled) {
      io.stderr('tdx-audit: interrupted; no report written\n');
      return exitCode;
    }
    if (res.exists.length && !res.written.length) {
      io.stderr(`tdx-audit: not overwriting existing report files (use --force):\n${res.exists.map((p) => `  ${p}\n`).join('')}`);
      return 2;
    }
    const c = run.model.counts;
    const b = run.model.baseline;
    io.stdout(
      `${c.findings} findings (${c.bySeverity.error} error, ${c.bySeverity.warning} warning)` +
        (b ? `; against the baseline ${b.new} new, ${b.fixed.length} fixed, ${b.unchanged} unchanged` : '') +
        `\n${res.written.map((p) => `wrote ${p}\n`).join('')}`,
    );
    // As scan: 1 when an error-severity finding exists (with a baseline, a new one;
    // a finding triaged safe, excluded or trusted does not count), so CI can fail on it.
    const failing = run.model.findings.some((f) => f.severity === 'error' && f.baseline !== 'unchanged' && !(f.triage && DEEMPHASISED.has(f.triage.status)));
    return failing && !o.exitZero ? 1 : 0;
  } catch (e) {
    io.stderr(`tdx-audit: ${e instanceof ReportUsageError ? e.message : ((e as Error).message ?? String(e))}\n`);
    return 2;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    outer?.removeEventListener('abort', forward);
  }
}
