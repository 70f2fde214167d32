// The key of a file's entry in the result cache (resultCache.ts): a SHA-256 of
// everything the file's scan result depends on, computed on the main thread before
// any audit, so a warm run starts no worker for a file it can answer.
//
//   - the tool's own build: the bytes of the bundles and WASM modules beside the
//     running CLI (a rebuilt tool misses), and the Node version running them;
//   - the run's settings that reach the audit (profile, includes followed, header
//     cache, where objects are looked for, TDX_AUDIT_NO_REGIONS) and the working
//     folder (text output names files relative to it);
//   - the file's path as given and its text;
//   - its headers: the include closure walked the way the engine walks it (the same
//     include context, includeDirectives and resolveInclude), every header's text
//     hash and where each of its includes resolved, or why not. The walk is redone
//     each run, so a header that appears earlier on the include path (and would
//     shadow another) changes the key too. It reaches at least what the engine reads
//     (no walk budget here): conservative. A header whose lstat is the one DIR kept its
//     facts under, taken 3 s or more after it last changed, is not read (headerStamps.ts);
//   - its objects, when objects are read: every candidate the object store would try
//     (ObjectStore.candidates), by bytes, and, for each one that exists, what the
//     freshness check concludes from its and the source's mtimes (older by how much,
//     or not: compiled/freshness.ts olderThanSource), not the times themselves. A
//     vmlinux is hashed once a run.

import { closeSync, lstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { batchHost, hasIncludeLine, namesSite } from '../audit/sources';
import { loadCompileCommands } from '../audit/compile';
import type { AuditConfig } from '../audit/engine';
import { ObjectStore, type ObjectSearch } from '../audit/objects';
import { olderThanSource } from '../audit/compiled/freshness';
import { sharedFactsKey } from '../c/headerIndex';
import type { HeaderShare } from '../c/headerShare';
import { settled, stampOf } from '../c/headerStamp';
import type { HeaderStamps } from './headerStamps';
import { IncludeResolver, includeDirectives, resolveInclude, type CompileEntry, type IncludeContext, type IncludeDirective, type Resolution } from '../c/includePath';

/** Bumped when the entry's meaning changes without the tool's bytes changing (never, so far). */
const KEY_VERSION = 'tdx-audit scan result 1';

/** The files of a build that compute a scan's results, beside cli.js. */
const BUILD_FILES = ['cli.js', 'scanWorker.js', 'tree-sitter.wasm', 'tree-sitter-c.wasm', 'iced_x86_bg.wasm'];

/**
 * A digest of the running build (the bundles and WASM beside this module's file), or
 * undefined when this is not a built CLI (run from sources: no bytes say which build).
 */
export function buildDigest(dir: string = __dirname): string | undefined {
  const h = createHash('sha256');
  for (const name of BUILD_FILES) {
    const p = join(dir, name);
    const d = fileDigest(p);
    if (d === undefined) {
      if (name === 'cli.js') return undefined;
      h.update(`${name}\0absent\0`);
    } else h.update(`${name}\0${d}\0`);
  }
  return h.digest('hex');
}

/** SHA-256 of a regular file's bytes, read in chunks; undefined when absent or not a regular file. */
function fileDigest(path: string, st?: Stats): string | undefined {
  try {
    st ??= statSync(path);
    if (!st.isFile()) return undefined;
    const fd = openSync(path, 'r');
    try {
      const h = createHash('sha256');
      const buf = Buffer.alloc(1 << 20);
      for (let pos = 0; ; ) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        h.update(buf.subarray(0, n));
        pos += n;
      }
      return h.digest('hex');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** What a header is to the walk: its text's hash and include lines, or why it was not read. */
type Facts = { hash: string; directives: IncludeDirective[] } | { why: string; missing: boolean };

const NOT_THERE: Facts = { why: 'no such file', missing: true };

interface HeaderNode {
  path: string;
  /** Hash of the header's text and of where each include resolved (set when its edges are). */
  digest: string;
  /** Where its includes resolved, then (on the first walk through it) their nodes. */
  edgePaths: string[];
  edges?: HeaderNode[];
  /** The closure walk that last visited it (no visited set per walk). */
  visit: number;
}

/** One include context's walk state (resolutions depend on the context, header nodes on its resolutions). */
interface Walk {
  ctx: IncludeContext;
  resolutions: Map<string, Resolution>;
  nodes: Map<string, HeaderNode>;
}

/** The include closures of one run's files, each header read and resolved once. */
export class HeaderClosures {
  private readonly read = batchHost().tryReadFile;
  private readonly facts = new Map<string, Facts>();
  /** Per include context (by its contents): where includes resolved, and the headers' nodes. */
  private readonly contexts = new Map<string, Walk>();
  private readonly resolver: IncludeResolver;
  private walks = 0;
  private stamps: HeaderStamps | undefined;

  /** `lstat`: the file system's (tests give a coarser one: a filesystem whose times have whole seconds). */
  constructor(
    private readonly setup: AuditConfig['includes'],
    private readonly lstat: (p: string) => Stats | undefined = (p) => lstatSync(p, { throwIfNoEntry: false }),
  ) {
    // The engine's resolver (engine.ts): compile databases read once a run.
    const dbs = new Map<string, Map<string, CompileEntry>>();
    const lookup = (db: string, f: string) => {
      try {
        let m = dbs.get(db);
        if (!m) dbs.set(db, (m = loadCompileCommands(db)));
        return m.get(f);
      } catch {
        return undefined;
      }
    };
    const host = batchHost();
    this.resolver = new IncludeResolver((p) => host.readFile(p), lookup, true);
  }

  /**
   * What the walks read of `p`: its text's facts, or why the read failed; undefined
   * when it was only stat'ed as absent or never met. An engine on this thread takes
   * these instead of reading the header again (engine.ts EngineHost.knownHeaderFacts).
   */
  known(p: string): Facts | undefined {
    const f = this.facts.get(p);
    return f === NOT_THERE ? undefined : f;
  }

  /**
   * Hands what the walks read to the workers of the run through their header share,
   * under the key their engines look a header's facts up by (headerIndex.ts
   * sharedFactsKey), so that no worker reads and hashes a header the key pass read
   * (up to `maxBytes` of the share's data area, which the header components need too).
   * Returns the headers published.
   */
  publish(share: HeaderShare, maxBytes = SHARED_FACTS_BYTES): number {
    let n = 0;
    let bytes = 0;
    for (const [p, f] of this.facts) {
      if (f === NOT_THERE) continue;
      const json = JSON.stringify(f);
      if ((bytes += json.length) > maxBytes) break;
      const key = sharedFactsKey(p);
      const c = share.claimJson(key, false);
      if (!c || !('mine' in c)) continue; // already there
      share.publishJson(key, f);
      n++;
    }
    return n;
  }

  /** Header facts kept in DIR under their stat (headerStamps.ts): a header whose stat is the kept one is not read. */
  useStamps(stamps: HeaderStamps | undefined): void {
    this.stamps = stamps;
  }

  private factsOf(p: string): Facts {
    let f = this.facts.get(p);
    if (f) return f;
    // Taken before the stat: a header whose ctime is not SETTLE_MS older is not kept.
    const readAt = this.stamps ? Date.now() : 0;
    // Most probes of an include search are of files that are not there: a stat says
    // so without the safe reader's realpath and its error (a dangling symlink is
    // missing to both; a loop throws here and is left to the reader).
    let st: Stats | undefined;
    let absent = false;
    try {
      st = this.lstat(p);
      if (st === undefined) absent = true;
      else if (st.isSymbolicLink()) absent = statSync(p, { throwIfNoEntry: false }) === undefined;
    } catch {
      absent = false;
    }
    if (absent) {
      this.facts.set(p, NOT_THERE);
      return NOT_THERE;
    }
    const stamp = this.stamps ? stampOf(st) : undefined;
    const kept = stamp === undefined ? undefined : this.stamps!.get(p, stamp);
    if (kept) {
      this.facts.set(p, kept);
      return kept;
    }
    const r = this.read(p);
    f = 'text' in r ? { hash: createHash('sha1').update(r.text).digest('hex'), directives: includeDirectives(r.text) } : r;
    // Kept for the next run only when settled, and when the read saw the file the stat did.
    if (stamp !== undefined && 'hash' in f && settled(st!, readAt) && stampOf(this.lstatOrNone(p)) === stamp) this.stamps!.put(p, stamp, f);
    this.facts.set(p, f);
    return f;
  }

  private lstatOrNone(p: string): Stats | undefined {
    try {
      return this.lstat(p);
    } catch {
      return undefined;
    }
  }

  private resolve(d: IncludeDirective, from: string, w: Walk): Resolution {
    // As the engine's snapshot does: an angle include resolves the same from anywhere but #include_next.
    const k = `${d.kind}\0${d.spec}\0${d.next}\0${d.kind === 'angle' && !d.next ? '' : d.next ? from : dirname(from)}`;
    let r = w.resolutions.get(k);
    if (!r) {
      r = resolveInclude(d, from, w.ctx, (p) => {
        const f = this.factsOf(p);
        return 'hash' in f ? true : f.missing ? 'missing' : { why: f.why };
      });
      w.resolutions.set(k, r);
    }
    return r;
  }

  /** Resolves `directives` of `from`, feeding each outcome to `h`; the headers found. */
  private edges(directives: readonly IncludeDirective[], from: string, w: Walk, h: Hash): string[] {
    const out: string[] = [];
    for (const d of directives) {
      const r = this.resolve(d, from, w);
      if ('path' in r) {
        h.update(`>${r.path}\0`);
        out.push(r.path);
      } else h.update(`!${d.kind}\0${d.spec}\0${d.line}\0${r.why}\0`);
    }
    return out;
  }

  /** The node of a header that was found readable (its edges resolved once per context). */
  private node(p: string, w: Walk): HeaderNode {
    let n = w.nodes.get(p);
    if (n) return n;
    const f = this.factsOf(p);
    const h = createHash('sha256').update(`${p}\0`);
    n = { path: p, digest: '', edgePaths: [], visit: 0 };
    w.nodes.set(p, n);
    if ('hash' in f) {
      h.update(`${f.hash}\0`);
      n.edgePaths = this.edges(f.directives, p, w, h);
      n.digest = h.digest('hex');
    } else {
      // Found by the search but unreadable since: the why is the answer.
      n.digest = h.update(`unread\0${f.why}`).digest('hex');
    }
    return n;
  }

  /** The digest of what `file` (absolute) imports through its includes, with `text` its own text. */
  digest(file: string, text: string): string {
    const ctx = this.resolver.contextFor(file, this.setup);
    const ctxKey = JSON.stringify([ctx.origin, ctx.quote, ctx.angle, ctx.forced, [...ctx.defines]]);
    let w = this.contexts.get(ctxKey);
    if (!w) this.contexts.set(ctxKey, (w = { ctx, resolutions: new Map(), nodes: new Map() }));
    const h = createHash('sha256').update(`${ctxKey}\0`);
    const roots: string[] = [];
    for (const f of ctx.forced) {
      const r = this.factsOf(f);
      if ('hash' in r) roots.push(f);
      else h.update(`forced!${f}\0${r.why}\0`);
    }
    roots.push(...this.edges(includeDirectives(text), file, w, h));
    // Depth first, iteratively (a 1,000-deep include chain is not a recursion).
    const visit = ++this.walks;
    const stack = roots.map((p) => this.node(p, w)).reverse();
    // The closure's digests in visiting order, hashed in one update (hundreds of headers a file).
    const seen: string[] = [];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.visit === visit) continue;
      n.visit = visit;
      seen.push(n.digest);
      // Nodes of the includes are made here, not in node(): no recursion down a chain.
      const edges = (n.edges ??= n.edgePaths.map((q) => this.node(q, w)));
      for (let i = edges.length - 1; i >= 0; i--) if (edges[i]!.visit !== visit) stack.push(edges[i]!);
    }
    return h.update(seen.join('')).digest('hex');
  }
}

/**
 * Bytes of the key pass's header facts handed to a run's workers through their header
 * share (HeaderClosures.publish): its data area is 48 MB, and the header components the
 * workers analyse go there too.
 */
export const SHARED_FACTS_BYTES = 16 * 1024 * 1024;

/** Object candidates of each file, by bytes (each object hashed once a run). */
export class ObjectDigests {
  private readonly store = new ObjectStore(1);
  private readonly byPath = new Map<string, string>();

  constructor(private readonly search: ObjectSearch) {}

  digest(file: string): string {
    const h = createHash('sha256');
    let source: number | undefined;
    try {
      source = statSync(file).mtimeMs;
    } catch {
      source = undefined;
    }
    for (const c of this.store.candidates(file, this.search)) {
      let st: Stats | undefined;
      try {
        st = statSync(c.path);
      } catch {
        st = undefined;
      }
      if (!st) {
        h.update(`${c.path}\0absent\0`);
        continue;
      }
      let d = this.byPath.get(c.path);
      if (d === undefined) this.byPath.set(c.path, (d = fileDigest(c.path, st) ?? `not a regular file ${st.mode}`));
      // Of the times, only what the freshness check concludes from them reaches the
      // result (the age it shows, or nothing): a fresh checkout's new times, in the
      // same order, keep the entry.
      const older = source === undefined ? 'source time ?' : (olderThanSource(st.mtimeMs, source) ?? 'not older');
      h.update(`${c.path}\0${c.origin}\0${d}\0${older}\0`);
    }
    return h.digest('hex');
  }
}

/** The keys of one scan run's files (or a report's: `task` names what else its results depend on). */
export class ScanKeys {
  private readonly base: string;
  /** The include closures' walk (undefined with --no-includes): what it read serves the run's engines (HeaderClosures.known, publish). */
  readonly headers: HeaderClosures | undefined;
  private readonly objects: ObjectDigests | undefined;

  /**
   * `task`: what the entry holds when it is not a scan's result, with the settings
   * beyond the audit's that reach it (report: its tree root, ...; reportCache.ts), so
   * a scan's and a report's entries of one file never share a key.
   */
  constructor(build: string, config: Partial<AuditConfig>, task?: { task: string } & Record<string, unknown>) {
    const settings = {
      profile: config.profile,
      followIncludes: config.followIncludes,
      headerCache: config.headerCache,
      headerCacheDir: config.headerCacheDir ?? null,
      includes: config.includes ?? null,
      objects: config.objects ?? null,
      severity: config.severity ?? null,
      regions: config.regions ?? null,
      noRegions: process.env.TDX_AUDIT_NO_REGIONS ?? null,
      cwd: process.cwd(),
      // The runtime runs the bundles and the WASM: another Node is another build, conservatively.
      node: process.version,
      ...(task ? { task } : {}),
    };
    this.base = createHash('sha256').update(`${KEY_VERSION}\0${build}\0${JSON.stringify(settings)}\0`).digest('hex');
    this.headers = config.followIncludes === false ? undefined : new HeaderClosures(config.includes);
    this.objects = config.objects ? new ObjectDigests(config.objects) : undefined;
  }

  /** The key of `file` (as the scan names it) with `text` its text as read for the audit. */
  keyOf(file: string, absolute: string, text: string): string {
    const h = createHash('sha256').update(`${this.base}\0${file}\0${absolute}\0`);
    h.update(createHash('sha256').update(text).digest('hex'));
    // A text with no include line and no name of an accessor is answered without headers
    // (sources.ts textDecision's 'skip'; the include test first: it is the cheap one).
    if (this.headers && (hasIncludeLine(text) || namesSite(text))) h.update(`\0headers ${this.headers.digest(absolute, text)}`);
    if (this.objects) h.update(`\0objects ${this.objects.digest(absolute)}`);
    return h.digest('hex');
  }
}
