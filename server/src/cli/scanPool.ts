// `scan` on worker threads (pool.ts): each file's output pieces (scanOutput.ts) come
// back in path order, so the output does not depend on the number of threads.

import type { AuditConfig, AuditEngine } from '../audit/engine';
import { readSource, SiteFilter } from '../audit/sources';
import { readTextOrUndefined } from '../fs/safeRead';
import { fileResult, type ScanFileResult } from './scanOutput';
import { runPool, workerHeapMb, recycling, noteRetried, heavyFile } from './pool';
import { createHeaderShareBuffer } from '../c/headerShare';

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
 * Audits `files` with `jobs` threads and hands each file's result to `emit` in the
 * files' order. `local` makes an engine on this thread (used when jobs is 1 or no
 * worker bundle exists). Returns the files skipped, with why.
 */
export async function scanFiles(
  files: readonly string[],
  config: Partial<AuditConfig>,
  jobs: number,
  local: (read: (p: string) => string | undefined) => Promise<Pick<AuditEngine, 'auditOnce' | 'mayHoldSitesThroughHeaders'>>,
  emit: (r: ScanFileResult) => void,
  note: (m: string) => void = () => {},
): Promise<{ file: string; why: string }[]> {
  const skipped: { file: string; why: string }[] = [];
  const recycle = recycling(note, jobs);
  const read = (p: string) => readTextOrUndefined(p);
  await runPool<ScanJobResult>({
    files,
    jobs,
    workerData: { task: 'scan', config, headerShare: jobs > 1 ? createHeaderShareBuffer() : undefined },
    local: async () => {
      const engine = await local(read);
      // Each file is joined once, in path order: objects keep only the last file's decoded units.
      if ('objects' in engine) (engine as AuditEngine).objects.batchMode();
      const filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
      return (path) => auditForScan(engine, path, filter);
    },
    failed: (message) => ({ kind: 'skipped', why: `analysis failed: ${message}` }),
    emit: (i, x) => {
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
