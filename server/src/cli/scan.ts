// `tdx-audit scan`: sources audited on worker threads and written per file in path
// order (scanPool.ts, scanWriter.ts), or with --vmlinux alone the whole-image
// inventory. Exit status: 0 clean, 1 an error-severity finding exists; a usage
// error is thrown as UsageError for the entry to print with the usage text.

import { resolve } from 'node:path';
import { batchHost, discoverSources, SourceError } from '../audit/sources';
import { applyTreeProfile, cacheSizeOption, checkObjectPaths, commonOption, objectSearchOf, objectsNamed, optionValue, shardOf, UsageError, type CommonOptions } from './options';
import { findTreeRoot } from '../audit/report/provenance';
import { DEFAULT_PROFILE } from '../x86/profiles';
import { AuditEngine } from '../audit/engine';
import { ObjectStore, type ObjectSearch } from '../audit/objects';
import { inventory } from '../audit/inventory';
import { inventoryThreads } from '../audit/inventoryThreads';
import { isRejected } from '../audit/verdicts';
import { instructionJson, type CompiledInstruction } from '../audit/compiled';
import { VERSION } from './scanOutput';
import { jsonWriter, textWriter } from './scanWriter';
import { defaultJobs, scanFiles, type ScanCache } from './scanPool';
import { ScanKeys } from './resultKeys';
import { boundRunCache, openRunCache } from './cacheLookup';
import { DEFAULT_CACHE_MAX_BYTES } from './resultCache';

export const SCAN_USAGE = `tdx-audit scan <files or dirs...> [--format text|json] [--profile P] [--no-includes] [--no-header-cache | --header-cache-dir DIR] [--exit-zero] [--jobs N] [--shard K/N] [--cache DIR [--cache-max-size SIZE]]
                 [--objects DIR|FILE]... [--build-dir DIR] [--source-root DIR] [--vmlinux FILE]
                 [--path-map FROM=TO]... [--no-objects]
      (the .o beside each source is read unless --no-objects; --path-map: the objects name FROM, the sources are under TO;
       --cache DIR: keep each file's result in DIR and answer unchanged files from it, for CI re-runs;
       --cache-max-size SIZE: after the run, least recently used entries go until DIR's take at most SIZE
       (bytes, or with K, M, G; default 1G; 0: no bound))
  tdx-audit scan --vmlinux FILE [--format text|json] [--profile P]      (binary inventory, no sources)`;

/** Includes not followed that a scan names on stderr (each once; a kernel tree without generated headers has many). */
const MAX_NOT_FOLLOWED_LINES = 20;

interface ScanOptions extends CommonOptions {
  paths: string[];
  format: 'text' | 'json';
  /** Report findings but exit 0 (for demos and advisory CI jobs). */
  exitZero: boolean;
  /** Keep header knowledge under the tree's .tdx-audit/headers/ (--no-header-cache: off). */
  headerCache: boolean;
  /** Where the header cache goes instead of the tree's .tdx-audit/ (a tree you must not write to). */
  headerCacheDir?: string;
  sourceRoot?: string;
  /** Worker threads (default: one per core; the vmlinux inventory: one). */
  jobs: number;
  /** --jobs was given (the inventory's default differs from the scan's). */
  jobsGiven?: boolean;
  /** Where objects are looked for; undefined with --no-objects. */
  search?: ObjectSearch;
  /** --cache DIR: the warm result cache (resultCache.ts); none unless given. */
  cacheDir?: string;
  /** --cache-max-size: DIR's entries are evicted down to this after the run (0: no bound). */
  cacheMaxBytes: number;
}

function parseScanArgs(argv: string[]): ScanOptions {
  const o: ScanOptions = { paths: [], format: 'text', profile: DEFAULT_PROFILE, followIncludes: true, exitZero: false, headerCache: true, objects: [], jobs: defaultJobs(), cacheMaxBytes: DEFAULT_CACHE_MAX_BYTES };
  const fail = (m: string) => new UsageError(m);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const shared = commonOption(argv, i, o, fail);
    if (shared >= 0) i = shared;
    else if (a === '--format') {
      const v = argv[++i];
      if (v !== 'text' && v !== 'json') throw new UsageError(`--format takes text or json, not ${v ?? 'nothing'}`);
      o.format = v;
    } else if (a === '--source-root') o.sourceRoot = optionValue(argv, ++i, a, fail);
    else if (a === '--exit-zero') o.exitZero = true;
    else if (a === '--no-header-cache') o.headerCache = false;
    else if (a === '--header-cache-dir') o.headerCacheDir = resolve(optionValue(argv, ++i, a, fail));
    else if (a === '--cache') o.cacheDir = resolve(optionValue(argv, ++i, a, fail));
    else if (a === '--cache-max-size') o.cacheMaxBytes = cacheSizeOption(argv, ++i, a, fail);
    else if (a === '--jobs' || a === '-j') {
      const v = optionValue(argv, ++i, a, fail);
      if (!/^[1-9]\d{0,2}$/.test(v)) throw new UsageError(`${a} takes a number of threads (1-999), not ${v}`);
      o.jobs = Number(v);
      o.jobsGiven = true;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else o.paths.push(a);
  }
  if (o.config || o.allowList) throw new UsageError('--config and --allow-list rank and fade the findings of a report: give them to `tdx-audit report`');
  if (!o.paths.length && !o.vmlinux) throw new UsageError('scan needs at least one file or directory (or --vmlinux FILE alone for the binary inventory)');
  // The tree the paths belong to (a kernel tree's top, else .git's): O= builds mirror it,
  // and a unit built elsewhere is matched by the source's path under it.
  if (!o.sourceRoot && o.paths.length) o.sourceRoot = findTreeRoot(o.paths.map((p) => resolve(p))).root;
  if (!o.sourceRoot) o.sourceRoot = process.cwd();
  o.search = objectSearchOf(o, o.sourceRoot, fail);
  checkObjectPaths(o, fail);
  return o;
}

/** C sources and headers under the given paths, in a stable order. */
export function collectSources(paths: string[], onSkip?: (path: string, why: string) => void): string[] {
  try {
    return discoverSources(paths, onSkip);
  } catch (e) {
    if (e instanceof SourceError) throw new UsageError(e.message);
    throw e;
  }
}


export async function runScan(argv: string[], write: (s: string) => void, warn: (s: string) => void): Promise<number> {
  const o = parseScanArgs(argv);
  if (!o.paths.length && o.vmlinux) {
    if (o.cacheDir) throw new UsageError('--cache keeps the results of source files; the vmlinux inventory has none');
    return inventoryCommand(o, write, warn);
  }
  applyTreeProfile(o, o.paths, warn);
  // Like the editor: the .o beside each source is read unless --no-objects.
  const withObjects = !!o.search;
  const config = {
    profile: o.profile,
    followIncludes: o.followIncludes,
    headerCache: o.headerCache,
    ...(o.headerCacheDir ? { headerCacheDir: o.headerCacheDir } : {}),
    objects: o.search,
  };
  const walkSkipped: { file: string; why: string }[] = [];
  const all = collectSources(o.paths, (file, why) => walkSkipped.push({ file, why }));
  const files = shardOf(all, o.shard);
  const cache = o.cacheDir ? openCache(o.cacheDir, config, warn) : undefined;
  const writer = o.format === 'json' ? jsonWriter(write, o.profile, withObjects) : textWriter(write);
  // What the end needs of each file, kept small: errors, and objects that were not fresh.
  let hasError = false;
  const missing: string[] = [];
  const stale: string[] = [];
  /** Each include not followed, once for the run (the first file that met it). */
  const notFollowed = new Map<string, { include: string; from: string; line: number; why: string }>();
  const runSkipped = await scanFiles(
    files,
    config,
    o.jobs,
    async (_read, known) => {
      const engine = await AuditEngine.create(known ? { ...batchHost(), knownHeaderFacts: known } : batchHost());
      engine.configure(config);
      return engine;
    },
    (r) => {
      if ((r.counts.error ?? 0) > 0) hasError = true;
      if (r.object && r.sites.length && r.object.state !== 'fresh') {
        // Nothing found is counted; an object that names this file by another path is said per file.
        if (r.object.state === 'missing' && r.object.message.startsWith('no object found')) missing.push(r.file);
        else stale.push(`${r.file}: ${r.object.message}`);
      }
      for (const n of r.notFollowed) {
        const k = `${n.include}\0${n.why}`;
        if (!notFollowed.has(k)) notFollowed.set(k, n);
      }
      writer.add(r);
    },
    warn,
    cache,
  );
  const skipped = [...walkSkipped, ...runSkipped];
  writer.finish(skipped, cache && { hits: cache.store.hits, audited: cache.store.misses });
  if (cache) {
    warn(cache.store.summary());
    boundRunCache(cache.store, o.cacheMaxBytes, warn);
  }
  for (const s of skipped) warn(`tdx-audit: ${s.file}: ${s.why.startsWith('skipped') ? s.why : `skipped: ${s.why}`}`);
  // Stale or broken objects are named one by one; files without any object are counted.
  for (const m of stale) warn(`tdx-audit: ${m}`);
  const nf = [...notFollowed.values()];
  for (const n of nf.slice(0, MAX_NOT_FOLLOWED_LINES)) warn(`tdx-audit: not followed: ${n.include} (${n.from}:${n.line + 1}): ${n.why}`);
  if (nf.length > MAX_NOT_FOLLOWED_LINES) warn(`tdx-audit: ... and ${nf.length - MAX_NOT_FOLLOWED_LINES} more includes not followed`);
  if (missing.length) {
    const where = objectsNamed(o) ? 'among those given or beside them' : 'beside them (--objects, --build-dir, --vmlinux name others; --no-objects reads none)';
    warn(`tdx-audit: ${missing.length} file(s) with sites have no object ${where} (e.g. ${missing.slice(0, 3).join(', ')}): source view only for them`);
  }
  return hasError && !o.exitZero ? 1 : 0;
}

/** The run's result cache (cacheLookup.ts openRunCache), or a usage error when DIR cannot hold one. */
function openCache(dir: string, config: Parameters<typeof scanFiles>[1], warn: (s: string) => void): ScanCache | undefined {
  const c = openRunCache(dir, warn);
  if (c && 'error' in c) throw new UsageError(c.error);
  return c && { store: c.store, keys: new ScanKeys(c.build, config) };
}

/** `scan --vmlinux FILE` with no sources: every accessor instruction in the image. */
async function inventoryCommand(o: ScanOptions, write: (s: string) => void, warn: (s: string) => void): Promise<number> {
  // On --jobs worker threads when the bundle has its worker (the same inventory), else here.
  // One by default: on Debian 6.1's vmlinux, quiet 2-core machine, two threads took the same
  // wall time as one (2.48 s against 2.49 s) for 30 % more CPU (each builds its own symbol index).
  let inv = await inventoryThreads(resolve(o.vmlinux!), o.profile, o.jobsGiven ? o.jobs : 1);
  if (inv && 'error' in inv) {
    warn(`tdx-audit: ${inv.error}`);
    return 2;
  }
  if (!inv) {
    const store = new ObjectStore(1);
    const r = store.load(resolve(o.vmlinux!), true);
    if ('error' in r) {
      warn(`tdx-audit: ${r.error}`);
      return 2;
    }
    const tty = process.stderr.isTTY;
    inv = inventory(r, o.profile, {
      onUnit: tty ? (k, n) => { if (k % 50 === 0) process.stderr.write(`\r  reading DWARF: unit ${k}/${n}`); } : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
  }
  const failures = inv.items.filter(isRejected);
  if (o.format === 'json') {
    write(JSON.stringify({
      tool: 'tdx-audit', version: VERSION, profile: o.profile, object: inv.object,
      units: inv.units, ms: Math.round(inv.ms),
      summary: summaryOf(inv.items),
      instructions: inv.items.map((i) => ({
        ...instructionJson(i),
        accessor: i.accessor, site: { file: i.site.file ?? null, line: i.site.line, column: i.site.column },
      })),
      functions: inv.functions,
    }, null, 2) + '\n');
  } else {
    const lines: string[] = [];
    for (const i of inv.items) {
      const where = i.site.file ? `${i.site.file}:${i.site.line}` : '?';
      lines.push(`${`${i.function}+0x${i.offset.toString(16)}`.padEnd(44)} ${i.text.padEnd(34)} ${`${i.class}/${i.size}`.padEnd(20)} ${i.verdict}${i.unreached ? ' (not reached under TDX)' : ''}  ${i.accessor} @ ${where}`);
    }
    const s = summaryOf(inv.items);
    lines.push('', `${inv.items.length} accessor instructions in ${inv.functions.length} functions (${inv.units.scanned} of ${inv.units.total} units read, ${(inv.ms / 1000).toFixed(1)} s): ` +
      Object.entries(s.byVerdict).map(([k, n]) => `${n} ${k}`).join(', '));
    write(lines.join('\n') + '\n');
  }
  return failures.length && !o.exitZero ? 1 : 0;
}

function summaryOf(items: readonly CompiledInstruction[]) {
  const byVerdict: Record<string, number> = {};
  const byClass: Record<string, number> = {};
  for (const i of items) {
    const v = i.unreached ? `${i.verdict} (unreached)` : i.verdict;
    byVerdict[v] = (byVerdict[v] ?? 0) + 1;
    byClass[i.class] = (byClass[i.class] ?? 0) + 1;
  }
  return { instructions: items.length, functions: new Set(items.map((i) => i.function)).size, byVerdict, byClass };
}
