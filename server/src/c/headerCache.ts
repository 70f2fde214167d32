// The header index on disk: what each header component declares, by its content
// key (headerIndex.ts), so that a second run over the same tree, and every worker
// thread of one run, parse no header a first one already did.
//
// Where: `<tree>/.tdx-audit/headers/` (the kernel tree's root, or the compile
// database's folder); when that cannot be written (a read-only tree, a symlink
// where the folder should be), `$XDG_CACHE_HOME/tdx-audit/headers/<hash of the
// tree path>/`. Each process and thread appends to a file of its own (no locks, no
// torn lines between writers); loading reads them all. Lines are
// `{"k": key, "v": knowledge}`; a line that does not parse is skipped. Reading goes
// through the safe reader (regular files only, capped); writing opens with
// O_NOFOLLOW inside a folder checked not to be a symlink.
//
// Beside each component, a header's facts (its content hash and include lines) are
// kept by path and by the stat the header had when it was read: `{"p": path, "s":
// stamp, "h": hash, "d": directives}` (stamp: lstat's size, mtime, ctime, inode and
// device, the header a regular file and not a symlink). A warm run stats a header
// instead of opening, reading and hashing it (headerIndex.ts); any other stat reads it
// again, and the content hash stays what keys its component. A header rewritten with
// its size and mtime kept still changes its ctime, which a user cannot set; facts are
// kept only for a header whose times have settled (headerStamp.ts SETTLE_MS).
//
// A cache is only as trustworthy as the tree it sits in: a key is a hash of header
// contents that anyone can compute, so a planted cache could hide wrappers. The
// CLI's --no-header-cache ignores it; an untrusted tree should be scanned so.

import { closeSync, constants, lstatSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { tryReadText } from '../fs/safeRead';
import { CATALOGUE } from './catalogue';
import { knowledgeFromJson, knowledgeToJson, type Knowledge } from './knowledge';
import type { IncludeDirective } from './includePath';
import { stampSettled } from './headerStamp';

/** What a header's own text says, for the include walk: its content hash and include lines. */
export interface HeaderFacts {
  hash: string;
  directives: IncludeDirective[];
}

/** Bumped when what a component's analysis yields changes (the analysis, the catalogue's meaning). */
export const HEADER_CACHE_FORMAT = 2;
/** One writer's file stops growing here; all files together are not loaded past this. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_TOTAL_BYTES = 256 * 1024 * 1024;

export interface HeaderStore {
  get(key: string): Knowledge | undefined;
  put(key: string, k: Knowledge): void;
  /** A header's facts as last read while its stat was `stamp`, or undefined. */
  facts?(path: string, stamp: string): HeaderFacts | undefined;
  /** Remembers a header's facts under the stat it had when read (and still had after). */
  putFacts?(path: string, stamp: string, f: HeaderFacts): void;
  /** Where it lives, for messages. */
  readonly dir: string;
}

function isRealDir(p: string): boolean {
  try {
    const st = lstatSync(p);
    return st.isDirectory() && !st.isSymbolicLink();
  } catch {
    return false;
  }
}

/** Makes `dir` (and parents) unless a symlink stands in the way; true when it is a real folder. */
function ensureDir(base: string, parts: string[]): string | undefined {
  let d = base;
  for (const p of parts) {
    d = join(d, p);
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    if (!isRealDir(d)) return undefined;
  }
  return d;
}

/** The cache folder for a tree: `chosen`/<tree hash> when given, else inside the tree when writable, else in the user's cache. */
export function headerCacheDir(treeRoot: string, chosen?: string): string | undefined {
  const format = `v${HEADER_CACHE_FORMAT}`;
  const tag = createHash('sha1').update(treeRoot).digest('hex').slice(0, 16);
  if (chosen) {
    const d = isRealDir(chosen) || ensureDir(dirname(chosen), [basename(chosen)]) ? ensureDir(chosen, [tag, format]) : undefined;
    return d && writable(d) ? d : undefined;
  }
  // The user's cache, never the tree: a cache planted in a cloned repository could
  // claim a header declares no wrapper and hide its sites (and scanning writes nothing into the tree).
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const user = ensureDir(base, ['tdx-audit', 'headers', tag, format]);
  return user && writable(user) ? user : undefined;
}

function writable(dir: string): boolean {
  const probe = join(dir, `.probe-${process.pid}-${threadId}`);
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600));
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // never made
    }
  }
}

/** Directives as stored: [spec, kind (q, a, m), next (0, 1), line]. */
type DirectiveJson = [string, string, number, number];
const KINDS: Record<string, IncludeDirective['kind']> = { q: 'quote', a: 'angle', m: 'macro' };

/** The facts back, or undefined when the stored value is not what putFacts wrote. */
export function factsFromJson(h: unknown, d: unknown): HeaderFacts | undefined {
  if (typeof h !== 'string' || !/^[0-9a-f]{40}$/.test(h) || !Array.isArray(d)) return undefined;
  const directives: IncludeDirective[] = [];
  for (const x of d as unknown[]) {
    if (!Array.isArray(x) || x.length !== 4) return undefined;
    const [spec, k, next, line] = x as DirectiveJson;
    const kind = typeof k === 'string' ? KINDS[k] : undefined;
    if (typeof spec !== 'string' || !spec || !kind || (next !== 0 && next !== 1) || !Number.isInteger(line) || line < 0) return undefined;
    directives.push({ spec, kind, next: next === 1, line });
  }
  return { hash: h, directives };
}

function factsToJson(f: HeaderFacts): DirectiveJson[] {
  return f.directives.map((d) => [d.spec, d.kind[0]!, d.next ? 1 : 0, d.line]);
}

/**
 * A component's stored lines, not parsed yet: a warm run asks for a few hundred of
 * the tens of thousands a cache holds, and parsing every line of a 5 MB cache cost
 * each process and worker ~0.2 s of CPU before its first file. Lines in file order
 * (the first that parses wins, as when every line was parsed on load).
 */
class Unparsed {
  constructor(readonly lines: string[]) {}
}

/** A line as put() writes it, `{"k":"<40 hex>",...`: its key without parsing it; undefined for any other line. */
export function componentLineKey(line: string): string | undefined {
  if (line.length < 49 || !line.startsWith('{"k":"') || line.charCodeAt(46) !== 34 || line.charCodeAt(47) !== 44) return undefined;
  const key = line.slice(6, 46);
  return /^[0-9a-f]{40}$/.test(key) ? key : undefined;
}

export class DiskHeaderStore implements HeaderStore {
  /**
   * Key -> its stored lines not yet parsed (Unparsed), stored JSON not yet handed
   * out, or null (written by us, or already handed out).
   */
  private loaded: Map<string, unknown> | undefined;
  /** `path\0stamp` -> stored hash and directives (several stamps of one path may be kept). */
  private readonly factsLoaded = new Map<string, { h: unknown; d: unknown }>();
  private fd: number | undefined;
  private written = 0;
  private broken = false;

  constructor(readonly dir: string) {}

  private load(): Map<string, unknown> {
    if (this.loaded) return this.loaded;
    const m = new Map<string, unknown>();
    this.loaded = m;
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.jsonl')).sort();
    } catch {
      return m;
    }
    let total = 0;
    for (const n of names) {
      const r = tryReadText(join(this.dir, n), { maxBytes: MAX_FILE_BYTES });
      if (!('text' in r)) continue;
      total += r.text.length;
      if (total > MAX_TOTAL_BYTES) break;
      for (const line of r.text.split('\n')) {
        if (!line) continue;
        // A component's line is kept as text until its key is asked for (get()).
        const key = componentLineKey(line);
        if (key !== undefined) {
          const had = m.get(key);
          if (had === undefined) m.set(key, new Unparsed([line]));
          else if (had instanceof Unparsed) had.lines.push(line);
          continue;
        }
        try {
          const o = JSON.parse(line) as { k?: unknown; v?: unknown; p?: unknown; s?: unknown; h?: unknown; d?: unknown };
          if (typeof o.k === 'string') {
            if (!m.has(o.k)) m.set(o.k, o.v);
          } else if (typeof o.p === 'string' && typeof o.s === 'string') this.factsLoaded.set(`${o.p}\0${o.s}`, { h: o.h, d: o.d });
        } catch {
          // a torn or foreign line
        }
      }
    }
    return m;
  }

  get(key: string): Knowledge | undefined {
    const m = this.load();
    let j = m.get(key);
    if (j instanceof Unparsed) {
      // The first of its lines that parses (a torn line is passed over, as on load before).
      j = undefined;
      for (const line of (m.get(key) as Unparsed).lines) {
        try {
          const o = JSON.parse(line) as { k?: unknown; v?: unknown };
          if (o.k === key) {
            j = o.v;
            break;
          }
        } catch {
          // a torn line
        }
      }
      if (j === undefined) {
        m.delete(key);
        return undefined;
      }
    }
    if (j === undefined || j === null) return undefined;
    // Handed over once: the index keeps the knowledge; the raw JSON is let go (a
    // run over drivers/ held every component twice).
    const k = knowledgeFromJson(j, (n) => CATALOGUE.get(n));
    // A bad line is forgotten, so the component's analysis is written again.
    if (k) m.set(key, null);
    else m.delete(key);
    return k;
  }

  facts(path: string, stamp: string): HeaderFacts | undefined {
    this.load();
    const k = `${path}\0${stamp}`;
    const j = this.factsLoaded.get(k);
    const f = j ? factsFromJson(j.h, j.d) : undefined;
    if (j && !f) this.factsLoaded.delete(k); // a bad line: the header is read and its facts written again
    return f;
  }

  putFacts(path: string, stamp: string, f: HeaderFacts): void {
    // A header changed within SETTLE_MS of now could change again within the same
    // timestamp tick, unseen by its stat: read again next run (headerStamp.ts).
    if (!stampSettled(stamp, Date.now())) return;
    this.load();
    const k = `${path}\0${stamp}`;
    if (this.broken || this.factsLoaded.has(k)) return;
    const d = factsToJson(f);
    if (this.append(JSON.stringify({ p: path, s: stamp, h: f.hash, d }) + '\n')) this.factsLoaded.set(k, { h: f.hash, d });
  }

  put(key: string, k: Knowledge): void {
    const m = this.load();
    if (this.broken || m.has(key)) return;
    if (this.append(JSON.stringify({ k: key, v: knowledgeToJson(k) }) + '\n')) m.set(key, null); // on disk; the index holds the knowledge itself
  }

  /** Appends one line to this writer's own file; false when it was not written. */
  private append(line: string): boolean {
    if (this.broken || this.written + line.length > MAX_FILE_BYTES) return false;
    try {
      this.fd ??= openSync(join(this.dir, `${process.pid}-${threadId}-${Date.now().toString(36)}.jsonl`), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      writeSync(this.fd, line);
      this.written += line.length;
      return true;
    } catch {
      this.broken = true; // a full disk or a folder gone: the run goes on without the cache
      return false;
    }
  }
}
