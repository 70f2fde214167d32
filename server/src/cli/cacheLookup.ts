// The key pass of a run with `--cache DIR`, shared by scan (scanPool.ts) and report
// (reportCache.ts): every file's key and entry, on the main thread, before any audit,
// so that a warm run starts no worker. What an entry holds is the caller's (`valid`).

import { resolve } from 'node:path';
import { readSource } from '../audit/sources';
import { heldHitBytes, ResultCache, stampOf } from './resultCache';
import { buildDigest, type ScanKeys } from './resultKeys';
import { HeaderStamps } from './headerStamps';

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

/** What the key pass found, per file of the run (same indices as its files). */
export interface Lookup<T> {
  /** A hit's value held for its turn, `{ again: key }` for a hit to read again at its turn, undefined for a miss. */
  known: (T | { again: string } | undefined)[];
  /** The key the file's result is stored under, and its stamp when the key was made (a file edited since is not stored). */
  keyed: ({ key: string; stamp: string | undefined } | undefined)[];
  /** The misses, as indices into the files: what the pool audits. */
  toAudit: number[];
}

/**
 * Looks every file up. Hits are held up to heldHitBytes of entries (an entry that
 * `small` says holds no result, always); past that a hit is read again at its turn,
 * so that memory stays bounded on a tree as large as drivers/. A file that cannot be
 * read is a miss (the audit says why it is skipped); so is one whose key could not be
 * made (audited, not stored). Every 16 files it lets other callbacks run (a SIGINT
 * handler); undefined when `signal` aborted meanwhile.
 */
export async function lookUpAll<T>(
  files: readonly string[],
  store: ResultCache,
  keys: ScanKeys,
  valid: (file: string) => (v: unknown) => v is T,
  small: (v: T) => boolean,
  note: (m: string) => void,
  signal?: AbortSignal,
): Promise<Lookup<T> | undefined> {
  const out: Lookup<T> = { known: [], keyed: [], toAudit: [] };
  // Headers whose stat is the one DIR kept their facts under are not read (headerStamps.ts).
  const stamps = keys.headers && HeaderStamps.load(store);
  keys.headers?.useStamps(stamps);
  let held = 0;
  const hold = heldHitBytes();
  for (let i = 0; i < files.length; i++) {
    if (i % 16 === 0 && signal) {
      await new Promise((r) => setImmediate(r));
      if (signal.aborted) return undefined;
    }
    const file = files[i]!;
    const stamp = stampOf(file);
    const src = readSource(file);
    let key: string | undefined;
    if ('text' in src) {
      try {
        key = keys.keyOf(file, resolve(file), src.text);
      } catch (e) {
        note(`tdx-audit: cache: no key for ${file} (${(e as Error).message}): audited, not stored`);
      }
    }
    out.keyed.push(key === undefined ? undefined : { key, stamp });
    const hit = key === undefined ? undefined : store.get(key, valid(file));
    if (hit) {
      store.hits++;
      held += hit.bytes;
      out.known.push(held <= hold || small(hit.value) ? hit.value : { again: key! });
    } else {
      out.known.push(undefined);
      store.misses++;
      out.toAudit.push(i);
    }
  }
  stamps?.save(store);
  return out;
}

/** Why a hit is skipped when its entry, read again at its turn, no longer passes: only another process writing into DIR during the run does this. */
export const ENTRY_CHANGED = 'skipped: its cache entry changed during the run (run again)';

/**
 * File `i`'s hit at its turn: its value (read again when it was not held), 'changed'
 * when its entry no longer passes, undefined for a miss. Released once taken.
 */
export function takeHit<T>(l: Lookup<T>, i: number, store: ResultCache, valid: (v: unknown) => v is T): T | 'changed' | undefined {
  const hit = l.known[i];
  l.known[i] = undefined;
  if (!hit || !(typeof hit === 'object' && 'again' in hit)) return hit;
  return store.get(hit.again, valid)?.value ?? 'changed';
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
