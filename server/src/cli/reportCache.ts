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
import type { ReportJobResult, ReportJobSettings } from '../audit/report/build';
import { DEFINING_FILES, type FileReportRows } from '../audit/report/model';
import { readSpooledRows } from '../audit/report/spool';
import type { CacheSettings, CachedTask } from './cacheJob';

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

/** What each thread of a report run keys its files with (cacheJob.ts): scan's key with the report's settings. */
export function reportCacheSettings(dir: string, build: string, settings: ReportJobSettings): CacheSettings {
  return { dir, build, task: reportKeySettings(settings) };
}

/**
 * How report's answers are kept (cacheJob.ts): a hit is handed on as rows, in the
 * files' order like an audited file's; a miss's rows, spooled by the thread that
 * audited it, are read back from the spool to be stored (one file's rows at a time).
 */
export function reportEntries(settings: ReportJobSettings): CachedTask<ReportJobResult, CachedRows> {
  return {
    valid: (file) => (v): v is CachedRows => isCachedRows(v, file),
    answer: (e) => e,
    entryOf: (r) => cachedOf(r, settings),
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
