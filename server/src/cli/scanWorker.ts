// A worker thread of the CLI's pool (pool.ts): its own AuditEngine (parser, header
// cache, object store); audits the files the main thread hands it, one at a time (the
// pool keeps the next one queued in the port), and answers with what the task keeps
// of each: scan's output pieces (scanOutput.ts) or report's rows (audit/report/build.ts
// reportJob).
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AuditEngine, type AuditConfig } from '../audit/engine';
import { readTextOrUndefined } from '../fs/safeRead';
import { auditForScan } from './scanPool';
import { batchHost, SiteFilter } from '../audit/sources';
import { reportJob, type ReportJobSettings } from '../audit/report/build';
import type { SharedImage } from '../audit/objects';
import { shareHeadersOnThisThread } from '../c/headerShare';
import { workerFootprintMb, renewalFreed, type PoolRequest } from './pool';

const port = parentPort!;
const recycleMb = typeof workerData.recycleMb === 'number' ? (workerData.recycleMb as number) : undefined;

/** One engine and the task that audits with it. */
interface Task {
  engine: AuditEngine;
  job: (path: string) => unknown;
}

async function task(): Promise<Task> {
  const read = (p: string) => readTextOrUndefined(p);
  const engine = await AuditEngine.create(batchHost());
  engine.configure(workerData.config as Partial<AuditConfig>);
  // Each file is joined once, in path order: objects keep only the last file's decoded units.
  engine.objects.batchMode();
  // vmlinux as the main thread read it once for every worker (report.ts).
  for (const image of (workerData.images ?? []) as SharedImage[]) engine.objects.shareImage(image);
  const filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
  const job: (path: string) => unknown =
    workerData.task === 'report' ? reportJob(engine, filter, workerData.report as ReportJobSettings) : (path) => auditForScan(engine, path, filter);
  return { engine, job };
}

/** V8's full collection, asked for only when this worker renews its engine (below). */
let collect: (() => void) | undefined;
function fullGc(): void {
  if (!collect) {
    // --expose-gc gives each new context a gc(): this one's is this thread's isolate's.
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

async function main(): Promise<void> {
  // Header components the other workers of this run analyse are not analysed again here.
  shareHeadersOnThisThread(workerData.headerShare as SharedArrayBuffer | undefined);
  let current: Task | undefined = await task();
  const footprint = () => workerFootprintMb(getHeapStatistics(), current?.engine.objects.heldImageBytes() ?? 0);
  /**
   * Whether renewing has been worth it so far: a renewal that freed too little
   * (renewalFreed) is not tried again, the pool replaces this worker instead.
   */
  let renewing = true;
  /**
   * A fresh engine on this thread instead of a fresh thread: what grows in a worker is
   * its engine's header knowledge and objects; a new thread would also compile every
   * hot function again and run unoptimised meanwhile (V8's optimising compiler was
   * 18 % of a two-worker scan of drivers/, most of it again in each replacement:
   * BENCHMARKS.md, "Worker threads' own cost"). Returns the footprint before and after.
   */
  const renew = async (): Promise<{ before: number; after: number }> => {
    const before = footprint();
    current = undefined;
    fullGc();
    current = await task();
    fullGc();
    const after = footprint();
    renewing = renewalFreed(before, after);
    return { before, after };
  };
  /** Set once this worker asked to be replaced: the files queued behind that answer go to its successor (pool.ts). */
  let retiring = false;
  // Messages wait here while a renewal (asynchronous: the engine's creation) runs.
  const queue: PoolRequest[] = [];
  let busy = false;
  const drain = async () => {
    if (busy) return;
    busy = true;
    while (queue.length && !retiring) {
      const m = queue.shift()!;
      if ('renew' in m) {
        // The pool's total is passed (PoolRun.recycleTotalMb) and this worker is the largest.
        const { before, after } = await renew();
        port.postMessage({ renewed: true, before, after, footprintMb: after, ...(renewing ? {} : { retire: true }) });
        if (!renewing) retiring = true;
        continue;
      }
      let r: unknown;
      try {
        r = current!.job(m.path);
      } catch (e) {
        r = { kind: 'skipped', why: `analysis failed: ${(e as Error).message}` };
      }
      // Past the pool's threshold this worker renews its engine, and asks, with the
      // result, to be replaced when that is not enough (pool.ts PoolRun.recycleMb).
      let footprintMb = footprint();
      let renewed: { before: number; after: number } | undefined;
      if (recycleMb !== undefined && footprintMb > recycleMb && renewing) {
        renewed = await renew();
        footprintMb = renewed.after;
      }
      retiring = recycleMb !== undefined && footprintMb > recycleMb;
      // The footprint goes with every answer: the pool weighs the workers together (PoolRun.recycleTotalMb).
      port.postMessage({ id: m.id, result: r, footprintMb, ...(renewed ? { renewedBefore: renewed.before } : {}), ...(retiring ? { retire: true } : {}) });
    }
    busy = false;
  };
  port.on('message', (m: PoolRequest) => {
    if (retiring) return;
    queue.push(m);
    void drain();
  });
  port.postMessage({ ready: true });
}

main().catch((e) => {
  port.postMessage({ fatal: String((e as Error)?.stack ?? e) });
});
