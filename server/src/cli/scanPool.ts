// `scan` on worker threads (pool.ts): each file's output pieces (scanOutput.ts) come
// back in path order, so the output does not depend on the number of threads.

import type { AuditConfig, AuditEngine } from '../audit/engine';
import { readSource, SiteFilter } from '../audit/sources';
import { readTextOrUndefined } from '../fs/safeRead';
import { fileResult, isScanFileResult, type ScanFileResult } from './scanOutput';
import type { ResultCache } from './resultCache';
import { ThreadCache, unmark, type CacheMark, type CacheSettings, type CachedTask } from './cacheJob';
import { runPool, workerHeapMb, recycling, noteRetried, heavyFile } from './pool';
import { createHeaderShareBuffer } from '../c/headerShare';

export { defaultJobs } from './pool';
export type { ScanFileResult };
export type ScanJobResult = { kind: 'result'; result: ScanFileResult } | { kind: 'skipped'; why: string } | { kind: 'no-sites' };

/** What one file contributes to a scan (shared by the main thread and the workers); `src`: its text when already read. */
export function auditForScan(engine: Pick<AuditEngine, 'auditOnce'>, path: string, filter: SiteFilter, src?: { text: string }): ScanJobResult {
  const read = src ?? readSource(path);
  if ('why' in read) return { kind: 'skipped', why: read.why };
  if (!filter.mayHoldSites(path, read.text)) return { kind: 'no-sites' };
  return { kind: 'result', result: fileResult(engine.auditOnce(path, read.text)) };
}

/** What a result held for the writer weighs (pool.ts PoolRun.weigh): its rows, and one for the file. */
export function scanResultWeight(x: ScanJobResult): number {
  if (x.kind !== 'result') return 0;
  const r = x.result;
  return 1 + r.sites.length + r.functions.length + r.instructions.length + r.objectFunctions.length;
}

/** The result cache of a run (--cache): where entries are (the main thread's, which counts and warns), and what each thread keys with. */
export interface ScanCache {
  store: ResultCache;
  settings: CacheSettings;
}

/** What a cache entry holds: the job's answer, for a file with or without sites (a skip is not kept: it may pass). */
type CachedJob = { kind: 'result'; result: ScanFileResult } | { kind: 'no-sites' };

/** How scan's answers are kept in the cache (cacheJob.ts). */
export const SCAN_ENTRIES: CachedTask<ScanJobResult, CachedJob> = {
  valid: (file) => (v): v is CachedJob => isCachedJob(v, file),
  answer: (e) => e,
  entryOf: (r) => (r.kind === 'skipped' ? undefined : r),
};

/** A thread's engine: `known` (with --cache) gives it the header facts its key walks read. */
export type LocalEngine = (
  read: (p: string) => string | undefined,
  known?: (p: string) => ReturnType<ThreadCache['knownHeaderFacts']>,
) => Promise<Pick<AuditEngine, 'auditOnce' | 'mayHoldSitesThroughHeaders'>>;

/**
 * Audits `files` with `jobs` threads and hands each file's result to `emit` in the
 * files' order. `local` makes an engine on this thread (used when jobs is 1 or no
 * worker bundle exists). With `cache`, each thread keys its file first and answers it
 * from DIR when the entry is there, auditing (and storing) only the others
 * (cacheJob.ts). Returns the files skipped, with why.
 */
export async function scanFiles(
  files: readonly string[],
  config: Partial<AuditConfig>,
  jobs: number,
  local: LocalEngine,
  emit: (r: ScanFileResult) => void,
  note: (m: string) => void = () => {},
  cache?: ScanCache,
): Promise<{ file: string; why: string }[]> {
  const skipped: { file: string; why: string }[] = [];
  if (!files.length) return skipped;
  const recycle = recycling(note, jobs);
  const read = (p: string) => readTextOrUndefined(p);
  await runPool<ScanJobResult & CacheMark>({
    files,
    jobs,
    workerData: { task: 'scan', config, headerShare: jobs > 1 ? createHeaderShareBuffer() : undefined, cache: cache?.settings },
    local: async () => {
      const keyed = cache ? new ThreadCache(cache.settings, config) : undefined;
      const engine = await local(read, keyed?.knownHeaderFacts);
      // Each file is joined once, in path order: objects keep only the last file's decoded units.
      if ('objects' in engine) (engine as AuditEngine).objects.batchMode();
      const filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
      const audit = (path: string, src?: { text: string }) => auditForScan(engine, path, filter, src);
      return keyed ? keyed.job(audit, SCAN_ENTRIES) : audit;
    },
    failed: (message) => ({ kind: 'skipped', why: `analysis failed: ${message}` }),
    emit: (i, marked) => {
      const x = cache ? unmark(marked, cache.store) : marked;
      if (x.kind === 'result') emit(x.result);
      else if (x.kind === 'skipped') skipped.push({ file: files[i]!, why: x.why });
    },
    maxHeapMb: workerHeapMb(),
    retried: noteRetried(note),
    recycleMb: recycle.recycleMb,
    recycleTotalMb: recycle.recycleTotalMb,
    heavy: heavyFile,
    recycled: recycle.recycled,
    renewed: recycle.renewed,
    weigh: scanResultWeight,
  });
  recycle.done();
  return skipped;
}

function isCachedJob(v: unknown, file: string): v is CachedJob {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { kind?: unknown; result?: unknown };
  return (o.kind === 'no-sites' && Object.keys(o).length === 1) || (o.kind === 'result' && isScanFileResult(o.result, file));
}
