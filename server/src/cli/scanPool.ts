// `scan` on worker threads (pool.ts): each file's output pieces (scanOutput.ts) come
// back in path order, so the output does not depend on the number of threads.

import type { AuditConfig, AuditEngine } from '../audit/engine';
import { readSource, SiteFilter } from '../audit/sources';
import { readTextOrUndefined } from '../fs/safeRead';
import { fileResult, isScanFileResult, type ScanFileResult } from './scanOutput';
import { stampOf, type ResultCache } from './resultCache';
import { ENTRY_CHANGED, lookUpAll, takeHit } from './cacheLookup';
import type { HeaderClosures, ScanKeys } from './resultKeys';
import { runPool, workerHeapMb, recycling, noteRetried, heavyFile } from './pool';
import { createHeaderShareBuffer, HeaderShare } from '../c/headerShare';

export { defaultJobs } from './pool';
export type { ScanFileResult };
export type ScanJobResult = { kind: 'result'; result: ScanFileResult } | { kind: 'skipped'; why: string } | { kind: 'no-sites' };

/** What one file contributes to a scan (shared by the main thread and the workers). */
export function auditForScan(engine: Pick<AuditEngine, 'auditOnce'>, path: string, filter: SiteFilter): ScanJobResult {
  const src = readSource(path);
  if ('why' in src) return { kind: 'skipped', why: src.why };
  if (!filter.mayHoldSites(path, src.text)) return { kind: 'no-sites' };
  return { kind: 'result', result: fileResult(engine.auditOnce(path, src.text)) };
}

/** What a result held for the writer weighs (pool.ts PoolRun.weigh): its rows, and one for the file. */
export function scanResultWeight(x: ScanJobResult): number {
  if (x.kind !== 'result') return 0;
  const r = x.result;
  return 1 + r.sites.length + r.functions.length + r.instructions.length + r.objectFunctions.length;
}

/**
 * A thread's engine; `known` (a --cache run) gives it the header facts the key pass
 * read (engine.ts EngineHost.knownHeaderFacts).
 */
export type LocalEngine = (
  read: (p: string) => string | undefined,
  known?: (p: string) => ReturnType<HeaderClosures['known']>,
) => Promise<Pick<AuditEngine, 'auditOnce' | 'mayHoldSitesThroughHeaders'>>;

/** The result cache of a run (--cache): where entries are, and how a file's key is made. */
export interface ScanCache {
  store: ResultCache;
  keys: ScanKeys;
}

/** What a cache entry holds: the job's answer, for a file with or without sites (a skip is not kept: it may pass). */
type CachedJob = { kind: 'result'; result: ScanFileResult } | { kind: 'no-sites' };

/**
 * Audits `files` with `jobs` threads and hands each file's result to `emit` in the
 * files' order. `local` makes an engine on this thread (used when jobs is 1 or no
 * worker bundle exists). With `cache`, files whose entry is there are answered from
 * it and only the others are audited (and stored). Returns the files skipped, with why.
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
  if (!cache) return auditFiles(files, config, jobs, local, emit, note);
  const { store, keys } = cache;
  // Every file's key and entry first, on this thread: a warm run starts no worker
  // (cacheLookup.ts; the five trees of issue 15 make 24 MB of entries).
  const valid = (file: string) => (v: unknown): v is CachedJob => isCachedJob(v, file);
  const found = (await lookUpAll(files, store, keys, valid, (v) => v.kind === 'no-sites', note))!;
  const { keyed, toAudit } = found;
  // The audits take the headers the key pass read instead of reading them again: on
  // this thread from the key walk itself, on workers through the run's header share.
  const known = keys.headers && ((p: string) => keys.headers!.known(p));
  let share: SharedArrayBuffer | undefined;
  if (toAudit.length && jobs > 1 && keys.headers) {
    share = createHeaderShareBuffer();
    keys.headers.publish(new HeaderShare(share));
  }
  // Skips in the files' order: the audit's, and a hit whose entry went bad since it was read.
  const skipped: { file: string; why: string }[] = [];
  let next = 0;
  const answered = (upTo: number) => {
    for (; next < upTo; next++) {
      const hit = takeHit(found, next, store, valid(files[next]!));
      if (hit === 'changed') skipped.push({ file: files[next]!, why: ENTRY_CHANGED });
      else if (hit?.kind === 'result') emit(hit.result);
    }
  };
  await auditFiles(
    toAudit.map((i) => files[i]!),
    config,
    jobs,
    (read) => local(read, known),
    emit,
    note,
    share,
    (j, x) => {
      const i = toAudit[j]!;
      answered(i);
      next = i + 1;
      if (x.kind === 'skipped') skipped.push({ file: files[i]!, why: x.why });
      const k = keyed[i];
      // Kept only when the file is what it was when its key was made (not edited meanwhile).
      if (k && x.kind !== 'skipped' && stampOf(files[i]!) === k.stamp) store.put(k.key, x);
    },
  );
  answered(files.length);
  return skipped;
}

function isCachedJob(v: unknown, file: string): v is CachedJob {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { kind?: unknown; result?: unknown };
  return (o.kind === 'no-sites' && Object.keys(o).length === 1) || (o.kind === 'result' && isScanFileResult(o.result, file));
}

/**
 * The audit of `files` on the pool; `share`: the workers' header share when the caller
 * made (and filled) it; `before` sees each answer before it is emitted.
 */
async function auditFiles(
  files: readonly string[],
  config: Partial<AuditConfig>,
  jobs: number,
  local: LocalEngine,
  emit: (r: ScanFileResult) => void,
  note: (m: string) => void,
  share?: SharedArrayBuffer,
  before?: (index: number, x: ScanJobResult) => void,
): Promise<{ file: string; why: string }[]> {
  const skipped: { file: string; why: string }[] = [];
  if (!files.length) return skipped;
  const recycle = recycling(note, jobs);
  const read = (p: string) => readTextOrUndefined(p);
  await runPool<ScanJobResult>({
    files,
    jobs,
    workerData: { task: 'scan', config, headerShare: jobs > 1 ? (share ?? createHeaderShareBuffer()) : undefined },
    local: async () => {
      const engine = await local(read);
      // Each file is joined once, in path order: objects keep only the last file's decoded units.
      if ('objects' in engine) (engine as AuditEngine).objects.batchMode();
      const filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
      return (path) => auditForScan(engine, path, filter);
    },
    failed: (message) => ({ kind: 'skipped', why: `analysis failed: ${message}` }),
    emit: (i, x) => {
      before?.(i, x);
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
