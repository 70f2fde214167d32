// The warm result cache of `scan --cache DIR` (like ccache, for CI re-runs): one
// entry per audited file, named by the key of everything its result depends on
// (resultKeys.ts). This module holds the entries on disk; it knows nothing of what
// they mean beyond the check `valid` the caller gives.
//
// DIR is the user's, but what lies in it is untrusted data: another tool's file, a
// truncated write, a symlink, a FIFO someone left there. Every one of those is a miss
// with a warning, never a crash, a blocked read or a wrong answer:
//   - an entry is opened with O_NOFOLLOW | O_NONBLOCK and must be a regular file
//     (fstat) no larger than MAX_ENTRY_BYTES;
//   - its first line names the format, the key it was written under and the SHA-256
//     and length of the body after it, so a truncated, corrupt or renamed (foreign)
//     entry does not pass;
//   - the body must be JSON the caller's `valid` accepts.
// Writes go only inside DIR: a temporary file created exclusively there, then renamed
// over the entry (atomic; a symlink at the entry's name is replaced, not followed).
//
// DIR is bounded (--cache-max-size): a hit sets its entry's mtime to now through the
// descriptor it was read from (futimes: never a path that could be swapped), and after
// the run the least recently used entries go until DIR's entries fit (evict). Only our
// own entry files are ever removed: a name `<64 hex>.entry` that lstat says is a
// regular file (not a symlink, a folder or a FIFO); anything else in DIR is left alone
// and not counted.

import { closeSync, constants, fstatSync, futimesSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** The format named in every entry's first line; a change of layout changes it. */
const MAGIC = 'tdx-audit-result-cache 1';
/** An entry larger than this is neither read nor written (a file's result is far smaller: the 21 MB generated file's is a few MB). */
export const MAX_ENTRY_BYTES = 64 * 1024 * 1024;
/** Warnings about bad entries said one by one before they are only counted. */
const MAX_WARNINGS = 10;

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export class ResultCache {
  /** Files answered from the cache and files audited (and stored) in this run. */
  hits = 0;
  misses = 0;
  private warned = 0;
  private unsaid = 0;

  private constructor(
    readonly dir: string,
    private readonly warn: (m: string) => void,
    private readonly maxWarnings: number,
  ) {}

  /**
   * The cache at `dir` (created if absent), or a message saying why it cannot be used.
   * `maxWarnings`: said one by one before they are only counted (a worker's cache says
   * all of its own to the main thread's, which counts them: relay).
   */
  static open(dir: string, warn: (m: string) => void, maxWarnings = MAX_WARNINGS): ResultCache | { error: string } {
    try {
      mkdirSync(dir, { recursive: true });
      if (!statSync(dir).isDirectory()) return { error: `--cache ${dir}: not a directory` };
    } catch (e) {
      return { error: `--cache ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    return new ResultCache(dir, warn, maxWarnings);
  }

  private pathOf(key: string): string {
    return join(this.dir, `${key}.entry`);
  }

  /** Says a warning, or counts it past the first few. */
  relay(message: string): void {
    if (this.warned < this.maxWarnings) {
      this.warned++;
      this.warn(message);
    } else this.unsaid++;
  }

  private bad(key: string, why: string): undefined {
    this.relay(`tdx-audit: cache entry ${this.pathOf(key)}: ${why}; ignored (the file is audited again)`);
    return undefined;
  }

  /** The value stored under `key` and the entry's size, or undefined (absent, or bad: then a warning). */
  get<T>(key: string, valid: (v: unknown) => v is T): { value: T; bytes: number } | undefined {
    const path = this.pathOf(key);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      return this.bad(key, code === 'ELOOP' ? 'a symlink' : `cannot open (${code ?? 'error'})`);
    }
    try {
      const v = this.read(fd, key, valid);
      if (v) touch(fd);
      return v;
    } catch (e) {
      return this.bad(key, `unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    } finally {
      closeSync(fd);
    }
  }

  /** The entry open on `fd`, checked: its value and size, or undefined (and a warning). */
  private read<T>(fd: number, key: string, valid: (v: unknown) => v is T): { value: T; bytes: number } | undefined {
    const st = fstatSync(fd);
    if (!st.isFile()) return this.bad(key, st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : 'not a regular file');
    if (st.size > MAX_ENTRY_BYTES) return this.bad(key, `larger than ${MAX_ENTRY_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const k = readSync(fd, buf, n, buf.length - n, n);
      if (k <= 0) break;
      n += k;
    }
    if (n < buf.length) return this.bad(key, 'shorter than its size');
    const text = buf.toString('utf8');
    const eol = text.indexOf('\n');
    const head = (eol < 0 ? text : text.slice(0, eol)).split(' ');
    const body = eol < 0 ? '' : text.slice(eol + 1);
    // MAGIC is two words: the key, the body's hash and its length follow.
    if (head.length !== 5 || `${head[0]} ${head[1]}` !== MAGIC) return this.bad(key, 'not an entry of this cache format');
    if (head[2] !== key) return this.bad(key, 'written under another key');
    if (head[4] !== String(Buffer.byteLength(body)) || head[3] !== sha256(body)) return this.bad(key, 'truncated or corrupt (its checksum does not match)');
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch {
      return this.bad(key, 'not JSON');
    }
    if (!valid(v)) return this.bad(key, 'not a result this version writes');
    return { value: v, bytes: text.length };
  }

  /** Stores `value` under `key`: a temporary file in DIR renamed over the entry. A failure is a warning. */
  put(key: string, value: unknown): void {
    const body = JSON.stringify(value);
    const data = `${MAGIC} ${key} ${sha256(body)} ${Buffer.byteLength(body)}\n${body}`;
    if (Buffer.byteLength(data) > MAX_ENTRY_BYTES) return;
    const final = this.pathOf(key);
    const tmp = join(dirname(final), `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      // 'wx': created here and now (O_EXCL: never through a name someone placed).
      writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
      renameSync(tmp, final);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already renamed
      }
      this.bad(key, `not written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  /**
   * Removes the least recently used entries (oldest mtime first: a hit touches its
   * entry, a write makes it) until DIR's entries take at most `maxBytes`; 0 bounds
   * nothing. Only our own entries are counted and removed (the file's header). A
   * failure to remove one is a warning, and the rest go on.
   */
  evict(maxBytes: number): { kept: number; keptBytes: number; removed: number; removedBytes: number } {
    const out = { kept: 0, keptBytes: 0, removed: 0, removedBytes: 0 };
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      this.relay(`tdx-audit: cache ${this.dir}: not listed for eviction (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return out;
    }
    const own: { name: string; bytes: number; used: number }[] = [];
    for (const name of names) {
      if (!ENTRY_NAME.test(name)) continue;
      try {
        const st = lstatSync(join(this.dir, name));
        if (st.isFile()) own.push({ name, bytes: st.size, used: st.mtimeMs });
      } catch {
        // gone meanwhile (another run evicting): nothing to count
      }
    }
    let total = own.reduce((n, e) => n + e.bytes, 0);
    if (maxBytes > 0 && total > maxBytes) {
      // Oldest first; equal times by name, so two runs agree on the order.
      own.sort((a, b) => a.used - b.used || (a.name < b.name ? -1 : 1));
      for (const e of own) {
        if (total <= maxBytes) break;
        try {
          unlinkSync(join(this.dir, e.name));
          out.removed++;
          out.removedBytes += e.bytes;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            this.relay(`tdx-audit: cache entry ${join(this.dir, e.name)}: not evicted (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
            continue;
          }
        }
        total -= e.bytes;
      }
    }
    out.kept = own.length - out.removed;
    out.keptBytes = total;
    return out;
  }

  /** The run's line for stderr. */
  summary(): string {
    const more = this.unsaid ? ` (${this.unsaid} more bad entries not listed)` : '';
    return `tdx-audit: cache ${this.dir}: ${this.hits} of ${this.hits + this.misses} file(s) answered from the cache, ${this.misses} audited${more}`;
  }
}

/**
 * Marks an entry used now, for eviction: through the descriptor it was read from (the
 * entry read, not whatever the name is now). An entry we cannot touch (a read-only
 * cache, another user's file) is still a hit: it is only evicted sooner.
 */
function touch(fd: number): void {
  try {
    const now = new Date();
    futimesSync(fd, now, now);
  } catch {
    // not ours to touch
  }
}

/** The name of one of our entries (pathOf): a SHA-256 in hex. */
const ENTRY_NAME = /^[0-9a-f]{64}\.entry$/;

/** --cache-max-size's default: 1 GiB (the five trees of issue 15 take 24 MB of scan entries, a report's about twice its scan's). */
export const DEFAULT_CACHE_MAX_BYTES = 1 << 30;

/** A size as --cache-max-size takes it: bytes, or a number with K, M or G (1024-based); 0 for no bound. Undefined when not one. */
export function parseCacheSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMG]i?B?|B)?$/i.exec(s.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').toUpperCase()[0];
  const n = Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1);
  return Number.isFinite(n) && n <= Number.MAX_SAFE_INTEGER ? Math.floor(n) : undefined;
}

/**
 * Entry bytes of hits held from the key pass until their turn (more are read again
 * then); TDX_AUDIT_CACHE_HELD_BYTES sets it (tests: 0 reads every hit again). Shared
 * by scan (scanPool.ts) and report (reportCache.ts).
 */
export function heldHitBytes(): number {
  const v = Number(process.env.TDX_AUDIT_CACHE_HELD_BYTES);
  return process.env.TDX_AUDIT_CACHE_HELD_BYTES !== undefined && Number.isFinite(v) && v >= 0 ? v : 64 * 1024 * 1024;
}

/** A file's size, mtimes and inode (through a symlink: the text's), to tell whether it changed while it was audited (then its result is not stored). */
export function stampOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
  } catch {
    return undefined;
  }
}
