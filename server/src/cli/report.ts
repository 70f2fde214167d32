// `tdx-audit report <paths...> --out DIR [--format sarif,html,markdown,json] [--force]
//    [--baseline FILE] [--triage FILE] [--objects DIR|FILE]... [--build-dir DIR]
//    [--vmlinux FILE] [--profile P] [--no-includes] [--shard K/N] [--cache DIR]`
// Scans like `tdx-audit scan`, builds one report model and writes the chosen formats
// into DIR. A progress bar goes to stderr on a terminal only. Ctrl-C (SIGINT) stops
// the scan and writes nothing; existing report files are kept unless --force. The
// findings wait in a private temp folder until written (report/spool.ts), removed
// at the end however the run ends.
// With --cache DIR each file's rows are kept there and unchanged files are answered
// from it (reportCache.ts); the report is the same.
// Exit status: 0 written, 2 usage or I/O error or existing files kept, 130 interrupted.

import { createHeaderShareBuffer } from '../c/headerShare';
import { DEFAULT_PROFILE } from '../x86/profiles';
import { applyTreeProfile, cacheSizeOption, checkObjectPaths, commonOption, optionValue } from './options';
import type { ReportFormat } from '../lsp/protocol';
import { buildReport, FORMATS, reportJob, ReportUsageError, type BuildOptions, type ReportJobResult, type ReportRun } from '../audit/report/build';
import { AuditEngine } from '../audit/engine';
import { batchHost, SiteFilter } from '../audit/sources';
import { readTextOrUndefined } from '../fs/safeRead';
import { defaultJobs, runPool, workerHeapMb, noteRetried, recycling, heavyFile } from './pool';
import { readSharedImage } from '../audit/objects';
import { asDoc, type ReportSource } from '../audit/report/doc';
import { writeReportFiles, type OutputFile } from '../audit/report/write';
import { resolve } from 'node:path';
import { DEFAULT_CACHE_MAX_BYTES, type ResultCache } from './resultCache';
import { boundRunCache, openRunCache } from './cacheLookup';
import { cachedReportJobs, type PooledRunJobs } from './reportCache';


export const REPORT_USAGE =
  `tdx-audit report <files or dirs...> --out DIR [--format sarif,html,markdown,json] [--force] [--baseline FILE] [--triage FILE] [--objects DIR|FILE]... [--build-dir DIR] [--vmlinux FILE] [--path-map FROM=TO]... [--no-objects] [--profile P] [--no-includes] [--exit-zero] [--jobs N] [--shard K/N] [--config .config] [--allow-list FILE] [--cache DIR [--cache-max-size SIZE]]
      (--cache DIR: keep each file's rows in DIR and answer unchanged files from it, for CI re-runs; the report is the same;
       --cache-max-size SIZE: after the run, least recently used entries go until DIR's take at most SIZE (bytes, or with K, M, G; default 1G; 0: no bound))`;


export interface ReportOptions extends BuildOptions {
  out: string;
  force: boolean;
  /** Write the report but exit 0 even with error findings (as scan's --exit-zero). */
  exitZero?: boolean;
  /** Threads auditing files (--jobs; default one per core). */
  jobs: number;
  /** --cache DIR: keep each file's rows in DIR and answer unchanged files from it (reportCache.ts); none unless given. */
  cacheDir?: string;
  /** --cache-max-size: DIR's entries are evicted down to this after the run (0: no bound). */
  cacheMaxBytes: number;
}

export function parseReportArgs(argv: string[]): ReportOptions {
  const o: ReportOptions = { paths: [], out: '', formats: [...FORMATS], force: false, profile: DEFAULT_PROFILE, followIncludes: true, objects: [], jobs: defaultJobs(), cacheMaxBytes: DEFAULT_CACHE_MAX_BYTES };
  const fail = (m: string) => new ReportUsageError(m);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const shared = commonOption(argv, i, o, fail);
    if (shared >= 0) i = shared;
    else if (a === '--out' || a === '-o') o.out = optionValue(argv, ++i, a, fail);
    else if (a === '--format') {
      o.formats = parseFormats(optionValue(argv, ++i, a, fail));
    } else if (a === '--force') o.force = true;
    else if (a === '--exit-zero') o.exitZero = true;
    else if (a === '--cache') o.cacheDir = resolve(optionValue(argv, ++i, a, fail));
    else if (a === '--cache-max-size') o.cacheMaxBytes = cacheSizeOption(argv, ++i, a, fail);
    else if (a === '--baseline') o.baseline = optionValue(argv, ++i, a, fail);
    else if (a === '--triage') o.triage = optionValue(argv, ++i, a, fail);
    else if (a === '--jobs' || a === '-j') {
      const v = optionValue(argv, ++i, a, fail);
      if (!/^[1-9]\d{0,2}$/.test(v)) throw new ReportUsageError(`${a} takes a number of threads (1-999), not ${v}`);
      o.jobs = Number(v);
    }
    else if (a.startsWith('-')) throw new ReportUsageError(`unknown option ${a}`);
    else o.paths.push(a);
  }
  if (!o.paths.length) throw new ReportUsageError('report needs at least one file or directory');
  if (!o.out) throw new ReportUsageError('report needs --out DIR');
  if (!o.formats.length) throw new ReportUsageError('--format names no format');
  // Each shard would list the other shards' findings as fixed: the baseline is applied at merge.
  if (o.shard && o.baseline) throw new ReportUsageError('--baseline applies to the whole run: give it to `tdx-audit merge`, not to each --shard');
  checkObjectPaths(o, fail);
  return o;
}

/** Which formats a --format value names (shared with merge). */
export function parseFormats(v: string): ReportFormat[] {
  const fs = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const f of fs) if (!FORMATS.includes(f as ReportFormat)) throw new ReportUsageError(`unknown format ${f}; one of ${FORMATS.join(', ')}`);
  return [...new Set(fs as ReportFormat[])];
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

export function defaultIO(): ReportIO {
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
  // The tree's Makefile decides the kernel version, as for scan; --profile wins and a disagreement is said once.
  applyTreeProfile(o, o.paths, (m) => io.stderr(`${m}\n`));
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
    const note = (m: string) => io.stderr(`${io.isTTY ? '\r\x1b[2K' : ''}${m}\n`);
    const cache = o.cacheDir ? openCache(o.cacheDir, note) : undefined;
    let runJobs = pooledJobs(o.jobs, ac.signal, note);
    if (cache) runJobs = cachedReportJobs(runJobs, cache.store, cache.build, ac.signal, note);
    let run: ReportRun | 'cancelled';
    try {
      run = await buildReport(o, { signal: ac.signal, progress: bar.tick, runJobs, spool: true });
    } finally {
      bar.done();
    }
    if (cache && run !== 'cancelled') {
      io.stderr(`${cache.store.summary()}\n`);
      boundRunCache(cache.store, o.cacheMaxBytes, note);
    }
    if (run === 'cancelled') {
      io.stderr('tdx-audit: interrupted; no report written\n');
      return exitCode;
    }
    try {
      return await writeAndSay(run.doc, run.files, o, io, ac.signal, () => exitCode);
    } finally {
      run.doc.close();
    }
  } catch (e) {
    io.stderr(`tdx-audit: ${e instanceof ReportUsageError ? e.message : ((e as Error).message ?? String(e))}\n`);
    return 2;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    outer?.removeEventListener('abort', forward);
  }
}

/** The run's result cache (cacheLookup.ts openRunCache), or a usage error when DIR cannot hold one. */
function openCache(dir: string, note: (m: string) => void): { store: ResultCache; build: string } | undefined {
  const c = openRunCache(dir, note);
  if (c && 'error' in c) throw new ReportUsageError(c.error);
  return c;
}

/** Report's files audited on `jobs` threads (pool.ts), each worker with its own engine. */
function pooledJobs(jobs: number, signal: AbortSignal, note: (m: string) => void): PooledRunJobs {
  // `headers`: with --cache, what the key pass read (reportCache.ts), so the audits do not read it again.
  return (files, job, emit, headers) => {
    // vmlinux read once, into memory the workers share, instead of once per worker; its
    // .debug_info (166 MiB of 6.1's 225) stays in the file: each worker reads the units it joins.
    const vmlinux = job.config.objects?.vmlinux;
    const image = jobs > 1 && files.length > 1 && vmlinux ? readSharedImage(vmlinux, { infoFromFile: true }) : undefined;
    const recycle = recycling(note, jobs);
    return runPool<ReportJobResult>({
      files,
      jobs,
      workerData: { task: 'report', config: job.config, report: job.settings, images: image ? [image] : [], headerShare: jobs > 1 ? (headers?.share?.() ?? createHeaderShareBuffer()) : undefined },
      local: async () => {
        const known = headers?.known;
        const engine = await AuditEngine.create(known ? { ...batchHost(), knownHeaderFacts: known } : batchHost());
        engine.configure(job.config);
        engine.objects.batchMode();
        if (image) engine.objects.shareImage(image);
        const filter = new SiteFilter((p) => readTextOrUndefined(p), (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
        return reportJob(engine, filter, job.settings);
      },
      failed: (message) => ({ kind: 'skipped', why: `analysis failed: ${message}` }),
      emit,
      signal,
      maxHeapMb: workerHeapMb(),
      retried: noteRetried(note),
      recycleMb: recycle.recycleMb,
      recycleTotalMb: recycle.recycleTotalMb,
      heavy: heavyFile,
      recycled: recycle.recycled,
      renewed: recycle.renewed,
      // Rows held for the writer (spooled rows keep a few fields per finding here).
      weigh: (x) => (x.kind === 'rows' || x.kind === 'spooled' ? 1 + x.rows.findings.length : 0),
    }).finally(recycle.done);
  };
}

/**
 * Writes the rendered files and says what was found (report and merge end alike).
 * Exit 1 when an error-severity finding is open, as scan: with a baseline, a new one;
 * a finding triaged safe, excluded or trusted does not count.
 */
export async function writeAndSay(
  source: ReportSource,
  files: OutputFile[],
  o: { out: string; force: boolean; exitZero?: boolean },
  io: ReportIO,
  signal: AbortSignal,
  interruptedCode: () => number = () => 130,
): Promise<number> {
  const res = await writeReportFiles(o.out, files, { overwrite: o.force, signal });
  if (res.cancelled) {
    io.stderr('tdx-audit: interrupted; no report written\n');
    return interruptedCode();
  }
  if (res.exists.length && !res.written.length) {
    io.stderr(`tdx-audit: not overwriting existing report files (use --force):\n${res.exists.map((p) => `  ${p}\n`).join('')}`);
    return 2;
  }
  const doc = asDoc(source);
  const c = doc.counts;
  const b = doc.baseline;
  io.stdout(
    `${c.findings} findings (${c.bySeverity.error} error, ${c.bySeverity.warning} warning)` +
      (c.notBuilt ? `; ${c.notBuilt} in files this .config does not build` : '') +
      (c.allowed !== undefined ? `; ${c.allowed} in allow-listed drivers` : '') +
      (b ? `; against the baseline ${b.new} new, ${b.fixed.length} fixed, ${b.unchanged} unchanged` : '') +
      `\n${res.written.map((p) => `wrote ${p}\n`).join('')}`,
  );
  // Faded findings (triaged safe/excluded/trusted, or in a file the .config does not build) do not fail the run.
  const failing = doc.keys.some((f) => f.severity === 'error' && f.baseline !== 'unchanged' && !f.deemphasised);
  return failing && !o.exitZero ? 1 : 0;
}
