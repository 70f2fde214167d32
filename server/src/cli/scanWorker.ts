// A worker thread of the CLI's pool (pool.ts): its own AuditEngine (parser, header
// cache, object store); audits the files the main thread hands it, one at a time (the
// pool keeps the next one queued in the port), and answers with what the task keeps
// of each: scan's output pieces (scanOutput.ts) or report's rows (audit/report/build.ts
// reportJob).
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { AuditEngine, type AuditConfig } from '../audit/engine';
import { readTextOrUndefined } from '../fs/safeRead';
import { auditForScan } from './scanPool';
import { batchHost, SiteFilter } from '../audit/sources';
import { reportJob, type ReportJobSettings } from '../audit/report/build';
import type { SharedImage } from '../audit/objects';
import { shareHeadersOnThisThread } from '../c/headerShare';
import { workerFootprintMb } from './pool';

const port = parentPort!;
const recycleMb = typeof workerData.recycleMb === 'number' ? (workerData.recycleMb as number) : undefined;

async function main(): Promise<void> {
  const read = (p: string) => readTextOrUndefined(p);
  // Header components the other workers of this run analyse are not analysed again here.
  shareHeadersOnThisThread(workerData.headerShare as SharedArrayBuffer | undefined);
  const engine = await AuditEngine.create(batchHost());
  engine.configure(workerData.config as Partial<AuditConfig>);
  // Each file is joined once, in path order: objects keep only the last file's decoded units.
  engine.objects.batchMode();
  // vmlinux as the main thread read it once for every worker (report.ts).
  for (const image of (workerData.images ?? []) as SharedImage[]) engine.objects.shareImage(image);
  const filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
  const job: (path: string) => unknown =
    workerData.task === 'report' ? reportJob(engine, filter, workerData.report as ReportJobSettings) : (path) => auditForScan(engine, path, filter);
  /** Set once this worker asked to be replaced: the files queued behind that answer go to its successor (pool.ts). */
  let retiring = false;
  port.on('message', (m: { id: number; path: string }) => {
    if (retiring) return;
    let r: unknown;
    try {
      r = job(m.path);
    } catch (e) {
      r = { kind: 'skipped', why: `analysis failed: ${(e as Error).message}` };
    }
    // Past the pool's threshold this worker asks, with the result, to be replaced (pool.ts PoolRun.recycleMb).
    const footprintMb = workerFootprintMb(getHeapStatistics(), engine.objects.heldImageBytes());
    retiring = recycleMb !== undefined && footprintMb > recycleMb;
    // The footprint goes with every answer: the pool weighs the workers together (PoolRun.recycleTotalMb).
    port.postMessage({ id: m.id, result: r, footprintMb, ...(retiring ? { retire: true } : {}) });
  });
  port.postMessage({ ready: true });
}

main().catch((e) => {
  port.postMessage({ fatal: String((e as Error)?.stack ?? e) });
});
