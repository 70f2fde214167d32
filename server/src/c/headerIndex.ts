// What the headers a file includes teach its analysis: accessor wrappers (static
// inline functions and function-like macros that perform an accessor on an
// argument), `__iomem` struct fields and globals. One index per engine (a thread),
// shared by every file it audits.
//
// The include graph is walked from the file's includes (forced ones first) with the
// include path of its context (includePath.ts). Headers are taken a strongly
// connected component at a time (Tarjan, iterative: a 1,000-deep chain is a loop,
// not a recursion): a header outside any cycle is analysed once with what it
// includes; headers that include each other (with guards, C sees all of them
// whichever comes first) are analysed together until nothing new appears.
//
// Caching is by content: a component's key is the hash of its members' paths and
// texts and of the keys of the components it includes (a Merkle key), so an edit to
// a header three includes away changes the key of everything above it, and what a
// header teaches never depends on which file reached it first. Only what a
// component itself declares is kept (not the union of what it includes, which for
// kernel headers would repeat the same hundreds of names per header); a file's
// knowledge is merged at audit time in C's order (an include's declarations before
// the includer's, first definition wins). The cache holds at most `maxEntries`
// components (least recently used go first).
//
// In a snapshot (a batch run: the CLI, report, the index workers), a header's text
// hash and include lines, and where each include resolves, are remembered for the
// engine's life: the tree does not change under a run; with a disk store, a header
// whose lstat is the one the store read it under is not read at all (headerCache.ts),
// and a candidate lstat says is absent is not opened. Otherwise (an editor, where
// headers are edited and the host answers with open buffers) every header of the
// walk is read again per audit and the keys say what changed.

import { createHash } from 'node:crypto';
import { dirname, sep } from 'node:path';
import { emptyKnowledge, mergeKnowledge, type Knowledge } from './knowledge';
import type { HeaderStore } from './headerCache';
import { headerShareOfThisThread, type HeaderShare } from './headerShare';
import { WordSet } from './wordSet';
import { includeDirectives, resolveInclude, type IncludeContext, type IncludeDirective, type Probe, type Resolution } from './includePath';

/** What the host answers for a header: its text, or why not (`missing`: the search goes on). */
export type HeaderRead = (path: string) => { text: string } | { why: string; missing: boolean };

/** An include that was not followed, with why (listed once per audit). */
export interface NotFollowed {
  /** The include as written (`<linux/x.h>`, `"regs.h"`), or the header's path when it was found but not read. */
  include: string;
  /** The file whose include line it is. */
  from: string;
  /** 0-based line of the include in `from`. */
  line: number;
  why: string;
}

export interface Imports {
  knowledge: Knowledge;
  notFollowed: NotFollowed[];
  /** Headers the walk reached. */
  headers: number;
}

/** Names headers declare: wrappers and `__iomem` globals (called or named), `__iomem` fields (after `->` or `.`). */
export interface DeclaredNames {
  callable: Pick<WordSet, 'has' | 'mayHave' | 'size' | typeof Symbol.iterator>;
  fields: Pick<WordSet, 'has' | 'mayHave' | 'size' | typeof Symbol.iterator>;
}

/**
 * The pre-filter's question of a file's closure: which of the file's words are among
 * `names` (plain words among `callable`, words after `->`/`.` among `fields`), or
 * undefined when none is.
 */
export type WordQuery = (names: DeclaredNames) => { plain: ReadonlySet<string>; member: ReadonlySet<string> } | undefined;

/** Analyses one component's members against what they import; returns what they declare. */
/**
 * `system`: the header lies in one of the context's include folders (the kernel's
 * include/ and arch/x86/include/, or a -I folder), not beside the driver.
 */
export type AnalyseHeaders = (members: { path: string; name: string; text: string; system: boolean }[], imported: Knowledge) => Knowledge;

export interface HeaderIndexOptions {
  /** Remember header facts and resolutions for the index's life (batch runs). */
  snapshot: boolean;
  /** Components kept (least recently used dropped first). */
  maxEntries?: number;
  /** Headers one walk may reach. */
  maxHeadersPerWalk?: number;
  /**
   * A snapshot's bound on what it remembers between walks: header facts and include
   * resolutions (each about this many, least recently used forgotten first) and the
   * headers of one include graph (past it the graph is walked again from the next
   * file on). What is forgotten comes back from the component cache, the disk store,
   * the other workers or the files, the same as before.
   */
  maxRemembered?: number;
  /**
   * A cheap token that changes when a file does (an lstat's size, mtime, ctime,
   * inode, device), for headers of the include path outside a snapshot and for
   * every header of a batch run with a disk store; null when no file is there (the
   * include search goes on without a read), undefined when it cannot be told (a
   * symlink, a FIFO: those are always read, through the host's safe reader).
   */
  stamp?: (path: string) => string | null | undefined;
  /**
   * Components shared with the other worker threads of a run (headerShare.ts);
   * by default the one this thread was given, if any.
   */
  shared?: HeaderShare;
  /**
   * A snapshot's header facts some other walk of this thread already read (the result
   * cache's key walk, cli/resultKeys.ts HeaderClosures: it reads every header of a
   * file's closure before the file is audited), asked before anything is read; only
   * what a read gave (a text's facts, or why it could not be read), never a guess.
   */
  known?: (path: string) => Facts | { why: string; missing: boolean } | undefined;
}

/** A header's text as the walk needs it: its SHA-1 and its include lines. */
export interface Facts {
  hash: string;
  directives: IncludeDirective[];
}

interface Node {
  path: string;
  facts: Facts;
  /** Resolved includes, in order. */
  edges: string[];
  /** Its includes that were not followed. */
  notes: NotFollowed[];
  index: number;
  low: number;
  onStack: boolean;
  comp?: Component;
  /** `edges` as nodes, once each of them is in the graph (merges run per file: no map lookups). */
  edgeNodes?: Node[];
  /** The merge that last visited this node (mergeClosure's visited set, without hashing paths). */
  visit?: number;
}

interface Component {
  key: string;
  members: Node[];
  exports: Knowledge;
  /** The merge that last took its exports. */
  visit?: number;
}

/** The header share's key of a header's facts (published by whichever thread read it first). */
export function sharedFactsKey(path: string): string {
  return createHash('sha1').update(`facts\0${path}`).digest('hex');
}

/** What another thread published for a header's facts, checked before use. */
export function isFacts(j: unknown): j is Facts | { why: string; missing: boolean } {
  if (typeof j !== 'object' || j === null) return false;
  const o = j as Record<string, unknown>;
  if (typeof o.why === 'string') return typeof o.missing === 'boolean';
  return typeof o.hash === 'string' && Array.isArray(o.directives) && o.directives.every((d: unknown) => {
    const x = d as Record<string, unknown>;
    return typeof x?.spec === 'string' && (x.kind === 'quote' || x.kind === 'angle' || x.kind === 'macro') && typeof x.next === 'boolean' && typeof x.line === 'number';
  });
}

const EMPTY: Knowledge = emptyKnowledge();
const NO_FILE: { why: string; missing: boolean } = { why: 'no such file', missing: true };
const ABSENT = '\0absent';
const isEmpty = (k: Knowledge) => k.wrappers.size === 0 && k.fields.size === 0 && k.globals.size === 0 && k.plainFields.size === 0;

/** Stamped header facts an editor's index keeps (cleared past this). */
const MAX_STAMPED = 50_000;

/** Include graphs (contexts) a snapshot keeps. */
const MAX_GRAPHS = 16;

/**
 * Header facts, include resolutions and one graph's headers a snapshot keeps by
 * default. On drivers/ of 6.1 a worker met about 28,000 facts (most of them
 * candidates of the include search that are not there), 11,000 resolutions and
 * 6,600 headers in its first 12,000 files, 20 MB of live heap that only grew.
 */
const MAX_REMEMBERED = 24_000;

/**
 * A map of about `max` entries at most, least recently used forgotten first: two
 * generations, the older dropped whole when the newer fills, a hit in the older moved
 * to the newer. (O(1) per use, no list to keep: the walk asks this for every include.)
 */
export class Remembered<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(k: K): V | undefined {
    const v = this.young.get(k);
    if (v !== undefined) return v;
    const o = this.old.get(k);
    if (o !== undefined) {
      this.old.delete(k);
      this.set(k, o);
    }
    return o;
  }

  set(k: K, v: V): void {
    if (this.young.size >= this.half && !this.young.has(k)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(k, v);
  }

  delete(k: K): void {
    this.young.delete(k);
    this.old.delete(k);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** Rounds of analysis for the members of an include cycle (each round can add a wrapper level). */
const MAX_CYCLE_ROUNDS = 4;

export class HeaderIndex {
  private readonly exportsByKey = new Map<string, Knowledge>();
  private readonly facts: Remembered<string, Facts | { why: string; missing: boolean }>;
  private readonly resolutions: Remembered<string, Resolution>;
  /** Outside a snapshot: include-path headers' facts by path, with the stamp they had. */
  private readonly stamped = new Map<string, { stamp: string; facts: Facts | { why: string; missing: boolean } }>();
  /** Snapshot mode: the include graph per context, kept across walks. */
  private readonly graphs = new Map<string, Map<string, Node>>();
  private readonly maxEntries: number;
  private readonly maxHeaders: number;
  private readonly maxRemembered: number;
  /** Snapshot graphs dropped past maxRemembered headers (for tests and measurements). */
  graphsDropped = 0;
  /** Component analyses done (cache misses), for tests and measurements. */
  analysed = 0;
  /** Components taken from the disk store. */
  fromStore = 0;
  /** Headers whose facts the disk store gave for their stat (not read). */
  factsFromStore = 0;
  /** Every name a component this index has seen declares (only grows). */
  private readonly names = { callable: new WordSet(), fields: new WordSet() };
  private readonly shared: HeaderShare | undefined;

  constructor(
    private readonly analyse: AnalyseHeaders,
    private readonly opts: HeaderIndexOptions,
  ) {
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.maxHeaders = opts.maxHeadersPerWalk ?? 20_000;
    this.maxRemembered = opts.maxRemembered ?? MAX_REMEMBERED;
    this.facts = new Remembered(this.maxRemembered);
    this.resolutions = new Remembered(this.maxRemembered);
    // Only a snapshot's components are the same for every thread of a run.
    this.shared = opts.snapshot ? (opts.shared ?? headerShareOfThisThread()) : undefined;
  }

  /** Forgets what is remembered of a header (it changed on disk). Cached components are keyed by content and stay valid. */
  invalidate(path?: string): void {
    if (path === undefined) {
      this.facts.clear();
      this.stamped.clear();
      this.resolutions.clear();
      this.graphs.clear();
    } else {
      this.facts.delete(path);
      this.stamped.delete(path);
      // A header that appears or disappears changes where includes resolve.
      this.resolutions.clear();
      this.graphs.clear();
    }
  }

  get size(): number {
    return this.exportsByKey.size;
  }

  /** What a snapshot remembers between walks (bounded by maxRemembered each). */
  get remembered(): { facts: number; resolutions: number; graphHeaders: number } {
    let graphHeaders = 0;
    for (const g of this.graphs.values()) graphHeaders += g.size;
    return { facts: this.facts.size, resolutions: this.resolutions.size, graphHeaders };
  }

  /**
   * The knowledge `file` imports through its includes. `name` turns a header's path
   * into the name used in sites (a URI for the server, the path for the CLI).
   */
  importsOf(file: string, text: string, ctx: IncludeContext, read: HeaderRead, name: (path: string) => string, store?: HeaderStore): Imports;
  /**
   * With `words`: undefined, without merging the closure, unless a header of the
   * closure declares one of the file's words as the file uses it (a plain word as a
   * wrapper or `__iomem` global, a member as an `__iomem` field). `words` is asked
   * against every name the index knows (a superset of any one closure's, so what it
   * leaves out is exact); only its few answers are looked up in the closure's
   * components.
   */
  importsOf(file: string, text: string, ctx: IncludeContext, read: HeaderRead, name: (path: string) => string, store: HeaderStore | undefined, words: WordQuery): Imports | undefined;
  importsOf(file: string, text: string, ctx: IncludeContext, read: HeaderRead, name: (path: string) => string, store?: HeaderStore, words?: WordQuery): Imports | undefined {
    const notFollowed: NotFollowed[] = [];
    const said = new Set<string>();
    const say = (n: NotFollowed) => {
      const k = `${n.from}\0${n.include}\0${n.why}`;
      if (said.has(k)) return;
      said.add(k);
      notFollowed.push(n);
    };
    // Texts read in this walk (a header is read once per audit, however many include it).
    const texts = new Map<string, { text: string } | { why: string; missing: boolean }>();
    const readOnce = (p: string) => {
      let r = texts.get(p);
      if (!r) texts.set(p, (r = read(p)));
      return r;
    };
    const isSystem = (p: string) => ctx.angle.some((d) => p.startsWith(d.endsWith(sep) ? d : d + sep));
    const factsOf = (p: string): Facts | { why: string; missing: boolean } => {
      if (this.opts.snapshot) {
        const hit = this.facts.get(p);
        if (hit) return hit;
        const known = this.opts.known?.(p);
        if (known) {
          this.facts.set(p, known);
          return known;
        }
      }
      // An editor's engine: a header of the include path (the kernel's include/, not
      // the driver's folder) is taken as unchanged while its size and mtime are; a
      // walk read all ~800 of a NIC driver's kernel headers again on every keystroke.
      // A candidate that is not on disk and that the host did not have either is
      // remembered as absent while the disk says so (most of an include search).
      const stamp = !this.opts.snapshot && this.opts.stamp && isSystem(p) ? this.opts.stamp(p) : undefined;
      if (stamp !== undefined) {
        const hit = this.stamped.get(p);
        if (hit && hit.stamp === (stamp ?? ABSENT)) return hit.facts;
      }
      // A batch run with a disk store (its host reads the disk): a header's stat says
      // it is not there (no read, no error made), or that it is the file the store
      // last read (its facts without a read).
      const batchStamp = this.opts.snapshot && this.opts.stamp && store?.facts ? this.opts.stamp(p) : undefined;
      if (batchStamp === null) {
        this.facts.set(p, NO_FILE);
        return NO_FILE;
      }
      if (batchStamp !== undefined) {
        const known = store?.facts?.(p, batchStamp);
        if (known) {
          this.factsFromStore++;
          this.facts.set(p, known);
          return known;
        }
      }
      // Another worker of the run may have read it (or found it missing) already.
      const key = this.shared ? sharedFactsKey(p) : '';
      const claim = this.shared?.claimJson(key, false);
      if (claim && 'json' in claim && isFacts(claim.json)) {
        this.facts.set(p, claim.json);
        return claim.json;
      }
      let f: Facts | { why: string; missing: boolean };
      try {
        const r = readOnce(p);
        f = 'text' in r ? { hash: createHash('sha1').update(r.text).digest('hex'), directives: includeDirectives(r.text) } : r;
      } catch (e) {
        if (claim) this.shared!.abandon(key);
        throw e;
      }
      if (claim) this.shared!.publishJson(key, f);
      // Kept under the stat it had before the read only if it still has it (a header
      // written meanwhile is read again next run).
      if (batchStamp !== undefined && 'hash' in f && store?.putFacts && this.opts.stamp!(p) === batchStamp) store.putFacts(p, batchStamp, f);
      if (this.opts.snapshot) this.facts.set(p, f);
      else if (stamp !== undefined && (stamp === null ? !('hash' in f) && f.missing : 'hash' in f)) {
        if (this.stamped.size >= MAX_STAMPED) this.stamped.clear();
        this.stamped.set(p, { stamp: stamp ?? ABSENT, facts: stamp === null ? NO_FILE : f });
      }
      return f;
    };
    const probe: Probe = (p) => {
      const f = factsOf(p);
      return 'hash' in f ? true : f.missing ? 'missing' : { why: f.why };
    };
    const resolveFrom = (d: IncludeDirective, from: string): Resolution => {
      if (!this.opts.snapshot) return resolveInclude(d, from, ctx, probe);
      // An angle include resolves the same from anywhere (but #include_next).
      const k = `${ctx.key}\0${d.kind}\0${d.spec}\0${d.kind === 'angle' && !d.next ? '' : d.next ? from : dirname(from)}${d.kind === 'macro' ? `\0${ctx.defines.get(d.spec) ?? ''}` : ''}`;
      let r = this.resolutions.get(k);
      if (!r) this.resolutions.set(k, (r = resolveInclude(d, from, ctx, probe)));
      return r;
    };
    const shown = (d: IncludeDirective) => (d.kind === 'quote' ? `"${d.spec}"` : d.kind === 'angle' ? `<${d.spec}>` : d.spec);
    const edgesOf = (from: string, directives: readonly IncludeDirective[], notes: NotFollowed[]): string[] => {
      const out: string[] = [];
      for (const d of directives) {
        const r = resolveFrom(d, from);
        if ('path' in r) out.push(r.path);
        else notes.push({ include: shown(d), from, line: d.line, why: r.why });
      }
      return out;
    };

    // The file's own includes, after the forced ones (the compiler reads those first).
    const roots: string[] = [];
    const ownNotes: NotFollowed[] = [];
    for (const f of ctx.forced) {
      const r = factsOf(f);
      if ('hash' in r) roots.push(f);
      // The kernel's own list is ours, and older trees lack compiler-version.h: only a
      // compile command's -include that is missing is worth a line.
      else if (ctx.origin.kind !== 'kernel' || !r.missing) ownNotes.push({ include: f, from: file, line: 0, why: `forced include (-include): ${r.why}` });
    }
    roots.push(...edgesOf(file, includeDirectives(text), ownNotes));
    for (const n of ownNotes) say(n);

    // In a snapshot the graph outlives the walk: a header whose component is known
    // is not opened again, and only new headers are walked.
    const nodes = this.opts.snapshot ? this.graphFor(`${ctx.key}\0${name('/')}`) : new Map<string, Node>();
    const stack: Node[] = [];
    let counter = 0;
    let opened = 0;
    const openedNodes: Node[] = [];
    let budgetSaid = false;
    const open = (p: string): Node | undefined => {
      const f = factsOf(p);
      if (!('hash' in f)) {
        // Resolution found it readable, so this is a read that failed since.
        say({ include: p, from: file, line: 0, why: f.why });
        return undefined;
      }
      const notes: NotFollowed[] = [];
      const n: Node = { path: p, facts: f, edges: edgesOf(p, f.directives, notes), notes, index: counter, low: counter, onStack: true };
      counter++;
      opened++;
      openedNodes.push(n);
      nodes.set(p, n);
      stack.push(n);
      return n;
    };
    try {
      this.walk(roots, nodes, open, () => opened >= this.maxHeaders, (n, q) => {
        if (!budgetSaid) n.notes.push({ include: q, from: n.path, line: 0, why: `the walk reached ${this.maxHeaders} headers; what lies beyond is not followed` });
        budgetSaid = true;
      }, stack, (members) => this.finish(members, nodes, readOnce, name, isSystem, store));
    } finally {
      // A walk that threw leaves no half-made header behind in a kept graph.
      for (const n of openedNodes) if (!n.comp) nodes.delete(n.path);
    }

    // The pre-filter's question first: a file none of whose words any header known
    // to the index declares cannot name one its closure declares, and one whose
    // closure declares none of those words names nothing either (no merge needed).
    if (words) {
      const asked = words(this.names);
      if (!asked || !closureDeclares(roots, nodes, asked.plain, asked.member)) return undefined;
    }
    const knowledge = emptyKnowledge();
    const reached = mergeClosure(knowledge, roots, nodes);
    for (const n of reached) for (const note of n.notes) say(note);
    return { knowledge, notFollowed, headers: reached.length };
  }

  /** Tarjan's algorithm from each root in turn, with an explicit stack of frames (no recursion). */
  private walk(
    roots: readonly string[],
    nodes: Map<string, Node>,
    open: (p: string) => Node | undefined,
    full: () => boolean,
    cut: (n: Node, q: string) => void,
    stack: Node[],
    finish: (members: Node[]) => void,
  ): void {
    for (const root of roots) {
      if (nodes.has(root)) continue;
      if (full()) break;
      const first = open(root);
      if (!first) continue;
      const frames: { n: Node; i: number }[] = [{ n: first, i: 0 }];
      while (frames.length) {
        const fr = frames[frames.length - 1]!;
        const n = fr.n;
        if (fr.i < n.edges.length) {
          const q = n.edges[fr.i++]!;
          const seen = nodes.get(q);
          if (seen) {
            // A header of a finished component (this walk's or an earlier one's) is done.
            if (seen.onStack) n.low = Math.min(n.low, seen.index);
            continue;
          }
          if (full()) {
            cut(n, q);
            continue;
          }
          const m = open(q);
          if (m) frames.push({ n: m, i: 0 });
          continue;
        }
        frames.pop();
        const parent = frames[frames.length - 1]?.n;
        if (parent) parent.low = Math.min(parent.low, n.low);
        if (n.low === n.index) {
          const members: Node[] = [];
          for (;;) {
            const m = stack.pop()!;
            m.onStack = false;
            members.push(m);
            if (m === n) break;
          }
          finish(members);
        }
      }
    }
  }

  /** The persistent include graph of one context (snapshot mode), least recently used dropped. */
  private graphFor(key: string): Map<string, Node> {
    let g = this.graphs.get(key);
    if (g) this.graphs.delete(key);
    // Past the bound the graph starts again (between walks, so no walk sees half of
    // one): its components stay in exportsByKey under their content keys.
    if (!g || g.size > this.maxRemembered) {
      if (g) this.graphsDropped++;
      g = new Map();
    }
    this.graphs.set(key, g);
    while (this.graphs.size > MAX_GRAPHS) this.graphs.delete(this.graphs.keys().next().value!);
    return g;
  }

  private finish(
    members: Node[],
    nodes: Map<string, Node>,
    read: (p: string) => { text: string } | { why: string; missing: boolean },
    name: (p: string) => string,
    isSystem: (p: string) => boolean,
    store: HeaderStore | undefined,
  ): void {
    // Path order, so the key and the result do not depend on where the walk came in.
    members.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const inComp = new Set(members.map((m) => m.path));
    const h = createHash('sha1');
    for (const m of members) h.update(`${name(m.path)}\0${m.facts.hash}\0${isSystem(m.path) ? 's' : ''}\0`);
    const external: string[] = [];
    for (const m of members) {
      for (const q of m.edges) {
        if (inComp.has(q)) continue;
        const c = nodes.get(q)?.comp;
        if (!c) continue; // cut by the walk's budget
        external.push(q);
        h.update(`>${c.key}`);
      }
    }
    const key = h.digest('hex');
    let exports = this.exportsByKey.get(key);
    if (exports) {
      // Least recently used goes first: a hit moves to the end.
      this.exportsByKey.delete(key);
      this.exportsByKey.set(key, exports);
    } else {
      const stored = store?.get(key);
      if (stored) {
        exports = isEmpty(stored) ? EMPTY : stored;
        this.fromStore++;
      } else {
        // Another worker of the run may have analysed it, or be analysing it now.
        const claim = this.shared?.claim(key);
        if (claim && 'knowledge' in claim) {
          // Its owner wrote it to the disk store.
          exports = isEmpty(claim.knowledge) ? EMPTY : claim.knowledge;
        } else {
          try {
            exports = this.analyseComponent(members, external, nodes, read, name, isSystem);
          } catch (e) {
            if (claim) this.shared!.abandon(key);
            throw e;
          }
          if (claim) this.shared!.publish(key, exports);
          store?.put(key, exports);
        }
      }
      this.exportsByKey.set(key, exports);
      if (exports !== EMPTY) {
        for (const n of exports.wrappers.keys()) this.names.callable.add(n);
        for (const n of exports.globals.keys()) this.names.callable.add(n);
        for (const n of exports.fields.keys()) this.names.fields.add(n);
      }
      while (this.exportsByKey.size > this.maxEntries) this.exportsByKey.delete(this.exportsByKey.keys().next().value!);
    }
    const comp: Component = { key, members, exports };
    for (const m of members) m.comp = comp;
  }

  private analyseComponent(members: Node[], external: string[], nodes: Map<string, Node>, read: (p: string) => { text: string } | { why: string; missing: boolean }, name: (p: string) => string, isSystem: (p: string) => boolean): Knowledge {
    const texts: { path: string; name: string; text: string; system: boolean }[] = [];
    for (const m of members) {
      const r = read(m.path);
      if ('text' in r) texts.push({ path: m.path, name: name(m.path), text: r.text, system: isSystem(m.path) });
    }
    if (!texts.length) return EMPTY;
    this.analysed++;
    // What a header declares depends only on the wrappers it can call (fields and
    // globals of other headers are the includer's business): merging every field
    // name of the closure for each header made a cold kernel walk quadratic.
    const imported = emptyKnowledge();
    mergeClosure(imported, external, nodes, true);
    const single = members.length === 1 && !members[0]!.edges.includes(members[0]!.path);
    if (single) {
      const own = this.analyse(texts, imported);
      return isEmpty(own) ? EMPTY : own;
    }
    // A cycle: each round analyses every member against what the others declared so
    // far, and what is found is kept. (The analysis does not export again a wrapper
    // it was handed, so a round's result alone alternated between everything and
    // nothing, and an even number of rounds lost ixgbe.h <-> ixgbe_common.h's
    // IXGBE_WRITE_REG: 625 sites of drivers/net/ethernet/intel.)
    const own = emptyKnowledge();
    for (let round = 0, last = -1; round < MAX_CYCLE_ROUNDS; round++) {
      const know = emptyKnowledge();
      mergeKnowledge(know, own);
      mergeKnowledge(know, imported);
      mergeKnowledge(own, this.analyse(texts, know));
      const size = own.wrappers.size + own.fields.size + own.globals.size + own.plainFields.size;
      if (size === last) break;
      last = size;
    }
    return isEmpty(own) ? EMPTY : own;
  }
}

/** Numbers each merge, so visited marks of earlier merges are stale without clearing them. */
let merges = 0;

/** The nodes `n` includes, in order; cached once every include is in the graph. */
function edgeNodesOf(n: Node, nodes: Map<string, Node>): (Node | undefined)[] {
  if (n.edgeNodes) return n.edgeNodes;
  const out = n.edges.map((q) => nodes.get(q));
  if (out.every((m) => m !== undefined)) n.edgeNodes = out as Node[];
  return out;
}

/**
 * Visits everything reachable from `starts` in C's order: a header's includes
 * before the header itself, each node once, `component` once per component, until
 * `node` or `component` returns true (then true). (Runs once per audited or
 * pre-filtered file over the ~800 headers a driver reaches: visited marks are
 * numbers on the nodes, not a set of paths.)
 */
function visitClosure(starts: readonly string[], nodes: Map<string, Node>, node: ((n: Node) => void) | undefined, component: (c: Component) => boolean): boolean {
  const visit = ++merges;
  // The frames as parallel stacks (no object per frame: the pre-filter walks a
  // closure for each of a third of drivers/' files).
  const ns: Node[] = [];
  const es: (Node | undefined)[][] = [];
  const is: number[] = [];
  for (const s of starts) {
    const first = nodes.get(s);
    if (!first || first.visit === visit) continue;
    first.visit = visit;
    ns.push(first);
    es.push(edgeNodesOf(first, nodes));
    is.push(0);
    while (ns.length) {
      const top = ns.length - 1;
      const edges = es[top]!;
      const i = is[top]!;
      if (i < edges.length) {
        is[top] = i + 1;
        const m = edges[i];
        if (m && m.visit !== visit) {
          m.visit = visit;
          ns.push(m);
          es.push(edgeNodesOf(m, nodes));
          is.push(0);
        }
        continue;
      }
      const n = ns.pop()!;
      es.pop();
      is.pop();
      node?.(n);
      const c = n.comp;
      if (c && c.visit !== visit) {
        c.visit = visit;
        if (c.exports !== EMPTY && component(c)) return true;
      }
    }
  }
  return false;
}

/**
 * Merges the exports of everything reachable from `starts` in C's order (first
 * definition wins). Returns the nodes reached.
 */
function mergeClosure(into: Knowledge, starts: readonly string[], nodes: Map<string, Node>, wrappersOnly = false): Node[] {
  const reached: Node[] = [];
  visitClosure(starts, nodes, (n) => reached.push(n), (c) => {
    if (!wrappersOnly) mergeKnowledge(into, c.exports);
    else for (const [k, v] of c.exports.wrappers) if (!into.wrappers.has(k)) into.wrappers.set(k, v);
    return false;
  });
  return reached;
}

/**
 * Whether a component reachable from `starts` declares one of `plain` as a wrapper
 * or `__iomem` global, or one of `member` as an `__iomem` field: what the merged
 * closure would hold (its names are the union of its components'), without merging.
 */
function closureDeclares(starts: readonly string[], nodes: Map<string, Node>, plain: ReadonlySet<string>, member: ReadonlySet<string>): boolean {
  return visitClosure(starts, nodes, undefined, (c) => {
    const k = c.exports;
    for (const w of plain) if (k.wrappers.has(w) || k.globals.has(w)) return true;
    for (const w of member) if (k.fields.has(w)) return true;
    return false;
  });
}
