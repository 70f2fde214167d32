// The run's side of `--cache DIR`, shared by scan and report: DIR opened once on the
// main thread with the build the keys are made on, and bounded after the run. The
// keys and lookups are made by the threads that audit (cacheJob.ts).

import { ResultCache } from './resultCache';
import { buildDigest } from './resultKeys';

/**
 * The run's cache in DIR with the build its keys are made on (scan and report); the
 * error when DIR cannot hold one (the caller's usage error); undefined without a built
 * CLI (run from sources: no bytes say which build), said once.
 */
export function openRunCache(dir: string, note: (m: string) => void): { store: ResultCache; build: string } | { error: string } | undefined {
  const build = buildDigest();
  if (!build) {
    note('tdx-audit: --cache: not a built CLI (no dist/cli.js beside it), so no build to key entries on: no cache this run');
    return undefined;
  }
  const store = ResultCache.open(dir, note);
  return 'error' in store ? store : { store, build };
}

/**
 * After the run: DIR's least recently used entries removed down to `maxBytes`
 * (ResultCache.evict; 0: no bound), said when any went.
 */
export function boundRunCache(store: ResultCache, maxBytes: number, note: (m: string) => void): void {
  const e = store.evict(maxBytes);
  if (e.removed) note(`tdx-audit: cache ${store.dir}: ${e.removed} least recently used entr${e.removed === 1 ? 'y' : 'ies'} (${mb(e.removedBytes)}) evicted to stay within --cache-max-size ${mb(maxBytes)}; ${e.kept} kept (${mb(e.keptBytes)})`);
}

const mb = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
