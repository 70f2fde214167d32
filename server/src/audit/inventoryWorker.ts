// A worker thread of the whole-image inventory (inventoryThreads.ts): opens the
// image from the bytes the main thread read once and posts (its .debug_info is read here,
// unit by unit, from the file), makes the pass over its share of the units and
// answers with that part (inventory.ts inventoryPart), or with why the image did
// not open.
import { parentPort, workerData } from 'node:worker_threads';
import { ObjectStore, type SharedImage } from './objects';
import { inventoryPart } from './inventory';
import type { Profile } from '../x86/profiles';

export interface InventoryWorkerData {
  profile: Profile;
  includeMsr: boolean;
  /** This worker takes the units whose index is `index` modulo `threads`; worker 0 also the assembly helpers. */
  index: number;
  threads: number;
}

const port = parentPort!;
const data = workerData as InventoryWorkerData;
// The image comes as a message: the worker starts (loads its bundle and the decoder)
// while the main thread reads it.
port.once('message', (image: SharedImage) => {
  try {
    const store = new ObjectStore(1);
    store.shareImage(image);
    const o = store.load(image.path, true);
    if ('error' in o) port.postMessage({ error: o.error });
    else port.postMessage({ part: inventoryPart(o, data.profile, (k) => k % data.threads === data.index, data.index === 0, { includeMsr: data.includeMsr }) });
  } catch (e) {
    port.postMessage({ error: String((e as Error)?.message ?? e) });
  }
});
