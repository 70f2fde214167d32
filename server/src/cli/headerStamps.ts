// The key pass's header facts kept in the result cache between runs (one entry of
// DIR, resultCache.ts), each under the stat its header had when it was read, so that
// a warm run stats a header instead of opening, reading and hashing it (ccache's inode
// cache, for the include closure walk of resultKeys.ts HeaderClosures).
//
// What is trusted, and when facts may be kept: c/headerStamp.ts (SETTLE_MS), the rule
// the header cache follows too.

import { createHash } from 'node:crypto';
import type { IncludeDirective } from '../c/includePath';
import type { ResultCache } from './resultCache';

/** Headers kept at most (past it, only this run's are saved; a kept header is ~300 bytes of the entry's 64 MiB at most). */
const MAX_KEPT = 100_000;

/** The entry's key (not any file's: a hash of this name); an entry of DIR like the others, evicted like them. */
export const STAMPS_KEY = createHash('sha256').update('tdx-audit header stamps 1').digest('hex');

type Directive = [string, IncludeDirective['kind'], boolean, number];
type Kept = [stamp: string, hash: string, directives: Directive[]];

/** A header's facts as the walk uses them. */
export interface StampedFacts {
  hash: string;
  directives: IncludeDirective[];
}

const isKept = (v: unknown): v is Kept =>
  Array.isArray(v) &&
  v.length === 3 &&
  typeof v[0] === 'string' &&
  typeof v[1] === 'string' &&
  /^[0-9a-f]{40}$/.test(v[1]) &&
  Array.isArray(v[2]) &&
  v[2].every((d: unknown) => Array.isArray(d) && d.length === 4 && typeof d[0] === 'string' && (d[1] === 'quote' || d[1] === 'angle' || d[1] === 'macro') && typeof d[2] === 'boolean' && typeof d[3] === 'number');

/** The kept facts of one run: loaded from DIR, looked up and added to by the walk, saved back after the key pass. */
export class HeaderStamps {
  private added = 0;
  private readonly fresh = new Map<string, Kept>();

  private constructor(private readonly kept: Record<string, unknown>) {}

  /** What DIR keeps (nothing when its entry is absent or bad: then a warning from the store). */
  static load(store: ResultCache): HeaderStamps {
    const v = store.get(STAMPS_KEY, (x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
    return new HeaderStamps(v?.value ?? {});
  }

  /** The facts `path` had when read under `stamp`, or undefined. */
  get(path: string, stamp: string): StampedFacts | undefined {
    const k = this.fresh.get(path) ?? (Object.hasOwn(this.kept, path) ? this.kept[path] : undefined);
    if (!isKept(k) || k[0] !== stamp) return undefined;
    this.fresh.set(path, k);
    return { hash: k[1], directives: k[2].map(([spec, kind, next, line]) => ({ spec, kind, next, line })) };
  }

  /** Keeps what a read of `path` gave, under the stamp it had before and after the read. */
  put(path: string, stamp: string, f: StampedFacts): void {
    this.fresh.set(path, [stamp, f.hash, f.directives.map((d) => [d.spec, d.kind, d.next, d.line])]);
    this.added++;
  }

  /** Writes the kept facts back when this run added any: what it used and read, and the rest that fits. */
  save(store: ResultCache): void {
    if (!this.added) return;
    const out: Record<string, Kept> = {};
    let n = 0;
    for (const [p, k] of this.fresh) {
      out[p] = k;
      n++;
    }
    for (const p of Object.keys(this.kept)) {
      if (n >= MAX_KEPT) break;
      if (Object.hasOwn(out, p) || !isKept(this.kept[p])) continue;
      out[p] = this.kept[p] as Kept;
      n++;
    }
    store.put(STAMPS_KEY, out);
  }
}
