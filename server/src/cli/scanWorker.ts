// A worker thread of `scan`: its own AuditEngine (parser, header cache, object
// store); audits the files the main thread hands it, one at a time, and answers
// with the file's output pieces (scanOutput.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { AuditEngine, type AuditConfig } from '../audit/engine';
import { readTextOrUndefined } from '../fs/safeRead';
import { auditForScan, type ScanJobResult } from './scanPool';
import { batchHost, SiteFilter } from '../audit/sources';

const port = parentPort!;

async function main(): Promise<void> {
  const read = (p: string) => readTextOrUndefined(p);
  const engine = await AuditEngine.create(batchHost());
  engine.configure(workerData.config as Partial<AuditConfig>);
  const filter = new SiteFilter(read, (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
  port.on('message', (m: { id: number; path: string }) => {
    let r: ScanJobResult;
    try {
      r = auditForScan(engine, m.path, filter);
    } catch (e) {
      r = { kind: 'skipped', why: `analysis failed: ${(e as Error).message}` };
    }
    port.postMessage({ id: m.id, result: r });
  });
  port.postMessage({ ready: true });
}

main().catch((e) => {
  port.postMessage({ fatal: String((e as Error)?.stack ?? e) });
});
