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

export interface ScanRun {
  results: ScanFileResult[];
  skipped: { file: string; why: string }[];
}

/**
 * Audits `files` with `jobs` threads. `local` audits on this thread (used when
 * jobs is 1 or no worker bundle exists).
 */
export async function scanFiles(files: readonly string[], config: Partial<AuditConfig>, jobs: number, local: () => Promise<Pick<AuditEngine, 'auditOnce'>>): Promise<ScanRun> {
  const out: (ScanJobResult | undefined)[] = new Array(files.length);
  const filter = new SiteFilter((p) => readTextOrUndefined(p));
  const wp = workerPath();
  const threads = Math.min(jobs, files.length);
  if (threads <= 1 || !wp) {
    const engine = await local();
    files.forEach((f, i) => {
      try {
        out[i] = auditForScan(engine, f, filter);
      } catch (e) {
        out[i] = { kind: 'skipped', why: `analysis failed: ${(e as Error).message}` };
      }
    });
  } else {
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
            w.postMessage({ id: current, path: files[current] });
          };
          w.on('message', (m: { ready?: true; fatal?: string; id?: number; result?: ScanJobResult }) => {
            if (m.fatal) return rejectLane(new Error(`a scan worker failed to start: ${m.fatal}`));
            if (m.ready) return give();
            out[m.id!] = m.result;
            give();
          });
          w.on('error', (e) => {
            // One file took its worker down: say so for that file and go on without the thread.
            if (current >= 0 && !out[current]) out[current] = { kind: 'skipped', why: `analysis failed: ${e.message}` };
            resolveLane();
          });
          w.on('exit', () => resolveLane());
        }),
      ),
    );
    // Files a dead worker never got to: audit them here.
    const missing = files.map((_, i) => i).filter((i) => !out[i]);
    if (missing.length) {
      const engine = await local();
      for (const i of missing) out[i] = auditForScan(engine, files[i]!, filter);
    }
  }
  const results: ScanFileResult[] = [];
  const skipped: { file: string; why: string }[] = [];
  out.forEach((r, i) => {
    if (r?.kind === 'result') results.push(r.result);
    else if (r?.kind === 'skipped') skipped.push({ file: files[i]!, why: r.why });
  });
  return { results, skipped };
}
