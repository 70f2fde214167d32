// The whole-image inventory on worker threads: the main thread reads the image's
// code, symbols and DWARF other than .debug_info once into memory every thread
// shares (readSharedImage), each worker (inventoryWorker.ts) opens it, reads its
// share of the units from the file and makes its pass, and the parts are merged
// in unit order (mergeInventory), so the inventory is the one a single pass gives,
// whatever the number of threads and whichever finished first.
// Without the bundled worker beside this bundle (running from sources), with one
// thread, or for an image that is not a large plain ELF64 executable, the caller
// makes the pass on its own thread (undefined here).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { readSharedImage } from './objects';
import { mergeInventory, type Inventory, type InventoryPart } from './inventory';
import type { InventoryWorkerData } from './inventoryWorker';
import type { Profile } from '../x86/profiles';

/** The bundled worker beside this bundle (dist/inventoryWorker.js), if there is one. */
function workerPath(): string | undefined {
  const p = join(__dirname, 'inventoryWorker.js');
  return existsSync(p) ? p : undefined;
}

export async function inventoryThreads(path: string, profile: Profile, threads: number, opts: { includeMsr?: boolean } = {}): Promise<Inventory | { error: string } | undefined> {
  const wp = workerPath();
  if (threads < 2 || !wp) return undefined;
  const t0 = performance.now();
  const image = readSharedImage(path, { infoFromFile: true });
  if (!image) return undefined;
  const one = (index: number) =>
    new Promise<InventoryPart | { error: string }>((resolve) => {
      const workerData: InventoryWorkerData = { image, profile, includeMsr: opts.includeMsr ?? false, index, threads };
      const w = new Worker(wp, { workerData });
      let answered = false;
      w.once('message', (m: { part?: InventoryPart; error?: string }) => {
        answered = true;
        resolve(m.part ?? { error: m.error ?? 'no answer' });
        void w.terminate();
      });
      w.once('error', (e) => {
        if (!answered) resolve({ error: `inventory worker failed: ${e.message}` });
        answered = true;
      });
      w.once('exit', (code) => {
        if (!answered) resolve({ error: `inventory worker exited (${code}) without an answer` });
        answered = true;
      });
    });
  const parts = await Promise.all(Array.from({ length: threads }, (_, i) => one(i)));
  const failed = parts.find((p): p is { error: string } => 'error' in p);
  if (failed) return failed;
  return mergeInventory(path, profile, parts as InventoryPart[], performance.now() - t0);
}
