// The whole-image inventory on worker threads: the main thread reads the image's
// code, symbols and DWARF other than .debug_info once into memory every thread
// shares (readSharedImage), it and each worker (inventoryWorker.ts) open it, read
// their share of the units from the file and make their pass, and the parts are merged
// in unit order (mergeInventory), so the inventory is the one a single pass gives,
// whatever the number of threads and whichever finished first.
// Without the bundled worker beside this bundle (running from sources), with one
// thread, or for an image that is not a large plain ELF64 executable, the caller
// makes the pass on its own thread (undefined here).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ObjectStore, readSharedImage } from './objects';
import { inventoryPart, mergeInventory, type Inventory, type InventoryPart } from './inventory';
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
  // Workers start first: each loads its bundle while this thread reads the image.
  // This thread makes share 0 itself (and the assembly helpers): one isolate, one
  // bundle load and one symbol index fewer than a worker per share.
  const workers = Array.from({ length: threads - 1 }, (_, k) => {
    const workerData: InventoryWorkerData = { profile, includeMsr: opts.includeMsr ?? false, index: k + 1, threads };
    return new Worker(wp, { workerData });
  });
  const image = readSharedImage(path, { infoFromFile: true });
  if (!image) {
    await Promise.all(workers.map((w) => w.terminate()));
    return undefined;
  }
  const one = (w: Worker) =>
    new Promise<InventoryPart | { error: string }>((resolve) => {
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
      w.postMessage(image);
    });
  const answers = workers.map(one);
  let mine: InventoryPart | { error: string };
  try {
    const store = new ObjectStore(1);
    store.shareImage(image);
    const o = store.load(path, true);
    mine = 'error' in o ? o : inventoryPart(o, profile, (k) => k % threads === 0, true, { includeMsr: opts.includeMsr });
  } catch (e) {
    mine = { error: String((e as Error)?.message ?? e) };
  }
  if ('error' in mine) {
    await Promise.all(workers.map((w) => w.terminate()));
    return mine;
  }
  const parts = [mine, ...(await Promise.all(answers))];
  const failed = parts.find((p): p is { error: string } => 'error' in p);
  if (failed) return failed;
  return mergeInventory(path, profile, parts as InventoryPart[], performance.now() - t0);
}
