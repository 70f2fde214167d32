// `report --cache DIR`: the warm result cache (resultCache.ts) for report's per-file
// step. An entry holds what one file gives a report before anything of the run is
// applied to it: its rows (audit/report/model.ts FileReportRows), or that it has no
// site. Its key is scan's (resultKeys.ts: the build, the audit's settings, the file's
// text, its include closure, its objects and a vmlinux by bytes) with what else
// reaches the rows (reportKeySettings below).
//
// What is not in the key, because it is applied after the per-file step, on the main
// thread, to cached and audited rows alike (audit/report/build.ts): the .config and
// Kbuild's Makefiles (a file's build state, withBuild), the allow list, the triage
// file, the baseline, the formats and --shard (which files, not what each gives).
// Whole-run parts are never cached: the provenance (kernel version, .config options,
// the objects counted from the rows) and the document are made each run.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readTextOrUndefined } from '../fs/safeRead';
import type { ReportHooks, ReportJobResult, ReportJobSettings } from '../audit/report/build';
import { DEFINING_FILES, type FileReportRows } from '../audit/report/model';
import { readSpooledRows } from '../audit/report/spool';
import { stampOf, type ResultCache } from './resultCache';
import { ENTRY_CHANGED, lookUpAll, takeHit } from './cacheLookup';
import { ScanKeys, type HeaderClosures } from './resultKeys';
import { createHeaderShareBuffer, HeaderShare } from '../c/headerShare';

type RunJobs = NonNullable<ReportHooks['runJobs']>;

/** What the audits of a cached run take from its key pass: the headers it read (ScanKeys.headers). */
export interface KnownHeaders {
  /** The workers' header share, made holding the key pass's header facts (HeaderClosures.publish); asked for only when there are workers. */
  share?: () => SharedArrayBuffer;
  /** The same facts for an engine on this thread (engine.ts EngineHost.knownHeaderFacts). */
  known?: (p: string) => ReturnType<HeaderClosures['known']>;
}

/** Report's pool (cli/report.ts), given the headers a cached run's key pass read. */
export type PooledRunJobs = (...a: [...Parameters<RunJobs>, KnownHeaders?]) => ReturnType<RunJobs>;


/** What an entry holds: a file's rows, or that it has none (a skip is not kept: it may pass). */
type CachedRows = { kind: 'rows'; rows: FileReportRows } | { kind: 'none' };

/**
 * The report settings that reach a file's rows besides the audit's: the tree root
 * (paths, fingerprints and subsystems are relative to it) and, in a kernel tree, the
 * files where accessors are defined (a finding points at their io.h line: model.ts
 * AccessorDefinitions reads them, and they are not all in any include closure). The
 * spool folder is the run's own temp folder: not in it.
 */
export function reportKeySettings(settings: ReportJobSettings): { task: string } & Record<string, unknown> {
  let definitions: string | null = null;
  if (settings.kernelTree) {
    const h = createHash('sha256');
    for (const rel of DEFINING_FILES) {
      const text = readTextOrUndefined(join(settings.root, rel));
      h.update(`${rel}\0${text === undefined ? 'absent' : createHash('sha256').update(text).digest('hex')}\0`);
    }
    definitions = h.digest('hex');
  }
  return { task: 'report rows 1', root: settings.root, kernelTree: settings.kernelTree, definitions };
}

/**
 * `run` (report's pool, cli/report.ts) with the cache in front: every file's key and
 * entry first, on this thread (a warm run starts no worker and reads no vmlinux);
 * hits are handed to `emit` as rows at their turn, in the files' order, and only the
 * misses go to `run`, their rows stored as they come back (read back from the spool
 * a worker wrote them to). Returns early, having emitted less, when `signal` aborts.
 */
export function cachedReportJobs(run: PooledRunJobs, store: ResultCache, build: string, signal: AbortSignal, note: (m: string) => void): RunJobs {
  return async (files, job, emit) => {
    const keys = new ScanKeys(build, job.config, reportKeySettings(job.settings));
    const valid = (file: string) => (v: unknown): v is CachedRows => isCachedRows(v, file);
    // As scan's (scanPool.ts scanFiles): every file looked up first (cacheLookup.ts).
    const found = await lookUpAll(files, store, keys, valid, (v) => v.kind === 'none', note, signal);
    if (!found) return;
    const { keyed, toAudit } = found;
    let next = 0;
    /** Hands the hits before `upTo` to emit. */
    const answered = (upTo: number) => {
      for (; next < upTo; next++) {
        const hit = takeHit(found, next, store, valid(files[next]!));
        if (hit === 'changed') emit(next, { kind: 'skipped', why: ENTRY_CHANGED });
        else if (hit) emit(next, hit);
      }
    };
    if (toAudit.length) {
      // The audits take the headers the key pass read instead of reading them again.
      const headers: KnownHeaders = {};
      if (keys.headers) {
        const h = keys.headers;
        headers.known = (p) => h.known(p);
        headers.share = () => {
          const buffer = createHeaderShareBuffer();
          h.publish(new HeaderShare(buffer));
          return buffer;
        };
      }
      await run(
        toAudit.map((i) => files[i]!),
        job,
        (j, r) => {
          const i = toAudit[j]!;
          answered(i);
          next = i + 1;
          const k = keyed[i];
          // Kept only when the file is what it was when its key was made (not edited meanwhile).
          if (k && stampOf(files[i]!) === k.stamp) {
            let entry: CachedRows | undefined;
            try {
              entry = cachedOf(r, job.settings);
            } catch (e) {
              note(`tdx-audit: cache: the rows of ${files[i]} could not be read back to store (${(e as Error).message}): not stored`);
            }
            if (entry) store.put(k.key, entry);
          }
          emit(i, r);
        },
        headers,
      );
    }
    // The rest are hits; spooling them is synchronous work too.
    while (next < files.length) {
      if (signal.aborted) return;
      answered(Math.min(files.length, next + 64));
      await new Promise((r) => setImmediate(r));
    }
  };
}

/** What to store of a file's answer: its rows (a worker's spooled rows are read back), or none; a skip or a failure is not stored. */
function cachedOf(r: ReportJobResult, settings: ReportJobSettings): CachedRows | undefined {
  if (r.kind === 'none') return { kind: 'none' };
  if (r.kind === 'rows') return { kind: 'rows', rows: r.rows };
  if (r.kind === 'spooled' && settings.spoolDir) return { kind: 'rows', rows: readSpooledRows(settings.spoolDir, r.rows) };
  return undefined;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arrayOf = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);
const isPosition = (v: unknown) => isObject(v) && typeof v.line === 'number' && typeof v.character === 'number';
const isRange = (v: unknown) => isObject(v) && isPosition(v.start) && isPosition(v.end);
const isString = (v: unknown) => typeof v === 'string';

/** A finding as the spool and its keys read it (doc.ts rowKeyOf): the fields a wrong type would silently turn into another key. */
function isRowFinding(v: unknown): boolean {
  return (
    isObject(v) &&
    ['fingerprint', 'rule', 'severity', 'message', 'file', 'subsystem', 'verdict', 'verdictFrom', 'expression', 'accessor'].every((k) => isString(v[k])) &&
    (v.function === null || isString(v.function)) &&
    isRange(v.range) &&
    isRange(v.callRange) &&
    Array.isArray(v.via) &&
    Array.isArray(v.related)
  );
}

function isCachedRows(v: unknown, file: string): v is CachedRows {
  if (!isObject(v)) return false;
  if (v.kind === 'none') return Object.keys(v).length === 1;
  if (v.kind !== 'rows' || !isObject(v.rows)) return false;
  const r = v.rows;
  const row = r.row;
  return (
    r.path === file &&
    isString(r.file) &&
    arrayOf(r.findings, isRowFinding) &&
    arrayOf(r.functions, (x) => isObject(x) && isString(x.function) && isString(x.file)) &&
    isObject(row) &&
    row.file === r.file &&
    ['sites', 'findings', 'parseErrors', 'ms'].every((k) => typeof row[k] === 'number') &&
    (r.object === undefined || (isObject(r.object) && isString(r.object.state) && isString(r.object.message))) &&
    r.build === undefined
  );
}
