// `--cache DIR` on the thread that audits (scan and report alike; a worker of the
// pool, or the main thread with one job): each file is keyed there just before its
// audit would run (resultKeys.ts), looked up in DIR (resultCache.ts), and audited
// only on a miss, whose answer is stored under the key. The key's header walk reads
// every header of the file's closure; the engine of the same thread takes those
// facts instead of reading the headers again (HeaderClosures.known), so a miss
// costs the audit and the key's resolution and hashing, not a second read of its
// headers, and the key pass runs on every worker, beside the audits, instead of on
// the main thread before them.

import { resolve } from 'node:path';
import type { AuditConfig } from '../audit/engine';
import { readSource } from '../audit/sources';
import { ResultCache, stampOf } from './resultCache';
import { ScanKeys } from './resultKeys';

/** What a thread needs to key and look up its files (plain data: workers get it in workerData). */
export interface CacheSettings {
  dir: string;
  /** The build the keys are made on (resultKeys.ts buildDigest, taken once by the main thread). */
  build: string;
  /** What else the entries depend on besides the scan's settings (report: reportCache.ts reportKeySettings). */
  task?: { task: string } & Record<string, unknown>;
}

/** What the cache adds to a job's answer on its way to the main thread (which counts and warns). */
export interface CacheMark {
  /** 'hit': answered from DIR; 'miss': audited (stored unless the file changed meanwhile or its key could not be made). */
  cache?: 'hit' | 'miss';
  /** Warnings about DIR's entries and keys met for this file (the main thread says them: ResultCache.relay). */
  cacheNotes?: string[];
}

/** How one task's answers are kept: which stored values are its entries, and what of an answer is stored. */
export interface CachedTask<R, E> {
  /** Whether a stored value is an entry this version writes, for `file`. */
  valid: (file: string) => (v: unknown) => v is E;
  /** A hit as the job's answer. */
  answer: (e: E) => R;
  /** What to store of an audited answer; undefined stores nothing (a skip, which may pass next time). May throw: then a warning. */
  entryOf: (r: R) => E | undefined;
}

/** One thread's keys and DIR, made before the thread's engine (whose header walk it feeds). */
export class ThreadCache {
  private readonly keys: ScanKeys;
  private readonly store: ResultCache | undefined;
  private notes: string[] = [];

  constructor(settings: CacheSettings, config: Partial<AuditConfig>) {
    this.keys = new ScanKeys(settings.build, config, settings.task);
    // The main thread opened (made) DIR already; one that went away since is a warning per file.
    const store = ResultCache.open(settings.dir, (m) => this.notes.push(m), Infinity);
    if ('error' in store) this.notes.push(`tdx-audit: cache: ${store.error}: audited, not stored`);
    this.store = 'error' in store ? undefined : store;
  }

  /** The engine host's EngineHost.knownHeaderFacts: what the key walks of this thread read. */
  readonly knownHeaderFacts = (p: string) => this.keys.headers?.known(p);

  /** `audit` (given the text when it was read here) with the cache in front. */
  job<R extends object, E>(audit: (path: string, src?: { text: string }) => R, t: CachedTask<R, E>): (path: string) => R & CacheMark {
    return (path) => {
      const marked = (r: R, cache: 'hit' | 'miss'): R & CacheMark => {
        if (!this.notes.length) return { ...r, cache };
        const cacheNotes = this.notes;
        this.notes = [];
        return { ...r, cache, cacheNotes };
      };
      // Stamped before the read: a file edited after it is not stored (its key is of the old text).
      const stamp = stampOf(path);
      const src = readSource(path);
      // A file that cannot be read: the audit says why it is skipped.
      if ('why' in src || !this.store) return marked(audit(path), 'miss');
      let key: string | undefined;
      try {
        key = this.keys.keyOf(path, resolve(path), src.text);
      } catch (e) {
        this.notes.push(`tdx-audit: cache: no key for ${path} (${(e as Error).message}): audited, not stored`);
      }
      if (key !== undefined) {
        const hit = this.store.get(key, t.valid(path));
        if (hit) return marked(t.answer(hit.value), 'hit');
      }
      const r = audit(path, src);
      if (key !== undefined && stampOf(path) === stamp) {
        let entry: E | undefined;
        try {
          entry = t.entryOf(r);
        } catch (e) {
          this.notes.push(`tdx-audit: cache: the result of ${path} could not be read back to store (${(e as Error).message}): not stored`);
        }
        if (entry !== undefined) this.store.put(key, entry);
      }
      return marked(r, 'miss');
    };
  }
}

/** The main thread's side of a marked answer: counted in `store`, its notes said, and the answer without the mark. */
export function unmark<R extends object>(x: R & CacheMark, store: ResultCache): R {
  const { cache, cacheNotes, ...r } = x;
  // Unmarked: the pool's answer for a file whose audit failed (pool.ts PoolRun.failed), audited all the same.
  if (cache === 'hit') store.hits++;
  else store.misses++;
  if (cacheNotes) for (const m of cacheNotes) store.relay(m);
  return r as R;
}
