// `scan` on worker threads, one per core (the design of the server's index pool):
// files are handed out one at a time to whichever worker is free, and the results
// are put back in path order, so the output does not depend on the number of
// threads or on which finished first. Without the bundled worker (running from
// sources under tsx), or with --jobs 1, the files are audited on this thread.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AuditConfig, AuditEngine } from '../audit/engine';
import { readSource, SiteFilter } from '../audit/sources';
import { readTextOrUndefined } from '../fs/safeRead';
import { fileResult, type ScanFileResult } from './scanOutput';

export type { ScanFileResult };
export type ScanJobResult = { kind: 'result'; result: ScanFileResult } | { kind: 'skipped'; why: string } | { kind: 'no-sites' };

/** What one file contributes to a scan (shared by the main thread and the workers). */
export function auditForScan(engine: Pick<AuditEngine, 'auditOnce'>, path: string, filter: SiteFilter): ScanJobResult {
  const src = readSource(path);
  if ('why' in src) return { kind: 'skipped', why: src.why };
  if (!filter.mayHoldSites(path, src.text)) return { kind: 'no-sites' };
  return { kind: 'result', result: fileResult(engine.auditOnce(path, src.text)) };
}

export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** The bundled worker beside this bundle (dist/scanWorker.js), if there is one. */
function workerPath(): string | undefined {
  const p = join(__dirname, 'scanWorker.js');
  return existsSync(p) ? p : undefined;
}

/**
 * Audits `files` with `jobs` threads and hands each file's result to `emit` in the
 * files' order, as soon as every earlier file is done (results that finish early
 * wait in a small reorder buffer). `local` audits on this thread (used when jobs is
 * 1 or no worker bundle exists). Returns the files skipped, with why.
 */
export async function scanFiles(
  files: readonly string[],
  config: Partial<AuditConfig>,
  jobs: number,
  local: (read: (p: string) => string | undefined) => Promise<Pick<AuditEngine, 'auditOnce' | 'mayHoldSitesThroughHeaders'>>,
  emit: (r: ScanFileResult) => void,
): Promise<{ file: string; why: string }[]> {
  const skipped: { file: string; why: string }[] = [];
  const waiting = new Map<number, ScanJobResult>();
  let nextOut = 0;
  const done = (i: number, r: ScanJobResult) => {
    waiting.set(i, r);
    while (waiting.has(nextOut)) {
      const x = waiting.get(nextOut)!;
      waiting.delete(nextOut);
      if (x.kind === 'result') emit(x.result);
      else if (x.kind === 'skipped') skipped.push({ file: files[nextOut]!, why: x.why });
      nextOut++;
    }
  };
  const read = (p: string) => readTextOrUndefined(p);
  const filters = new Map<object, SiteFilter>();
  const auditHere = (engine: Pick<AuditEngine, 'auditOnce' | 'mayHoldSitesThroughHeaders'>, i: number) => {
    let filter = filters.get(engine);
    if (!filter) filters.set(engine, (filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t))));
    try {
      done(i, auditForScan(engine, files[i]!, filter));
    } catch (e) {
      done(i, { kind: 'skipped', why: `analysis failed: ${(e as Error).message}` });
    }
  };
  const wp = workerPath();
  const threads = Math.min(jobs, files.length);
  const given = new Set<number>();
  if (threads <= 1 || !wp) {
    const engine = await local(read);
    for (let i = 0; i < files.length; i++) auditHere(engine, i);
    return skipped;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: threads }, () =>
      new Promise<void>((resolveLane, rejectLane) => {
        const w = new Worker(wp, { workerData: { config } });
        let current = -1;
        const give = () => {
          if (next >= files.length) {
            void w.terminate();
            resolveLane();
            return;
          }
          current = next++;
          given.add(current);
          w.postMessage({ id: current, path: files[current] });
        };
        w.on('message', (m: { ready?: true; fatal?: string; id?: number; result?: ScanJobResult }) => {
          if (m.fatal) return rejectLane(new Error(`a scan worker failed to start: ${m.fatal}`));
          if (m.ready) return give();
          given.delete(m.id!);
          done(m.id!, m.result!);
          give();
        });
        w.on('error', (e) => {
          // One file took its worker down: say so for that file and go on without the thread.
          if (current >= 0 && given.has(current)) {
            given.delete(current);
            done(current, { kind: 'skipped', why: `analysis failed: ${e.message}` });
          }
          resolveLane();
        });
        w.on('exit', () => resolveLane());
      }),
    ),
  );
  // Files no worker got to (every worker died): audit them here.
  if (next < files.length || given.size) {
    const engine = await local(read);
    for (const i of [...given].sort((a, b) => a - b)) auditHere(engine, i);
    for (let i = next; i < files.length; i++) auditHere(engine, i);
  }
  return skipped;
}
