// Where `#include` finds a header, as the compiler would look for it.
//
// Three situations, first that applies:
//   1. The file has an entry in a compile_commands.json (given by the caller, or the
//      nearest one in the file's folder or above it, as clangd looks): its -iquote,
//      -I, -isystem, -idirafter, -include and -D/-U, relative to the entry's
//      "directory", in gcc's order (gcc 12 manual, "Directory Options").
//   2. The file lies in a kernel tree (a folder above it holds a Makefile whose
//      first lines set VERSION and PATCHLEVEL): the kernel's own x86 order, as
//      the top Makefile's LINUXINCLUDE and USERINCLUDE spell it (6.1):
//        -I arch/x86/include -I arch/x86/include/generated -I include
//        -I arch/x86/include/uapi -I arch/x86/include/generated/uapi
//        -I include/uapi -I include/generated/uapi
//        -include include/linux/compiler-version.h -include include/linux/kconfig.h
//      and -include include/linux/compiler_types.h from scripts/Makefile.lib's c_flags.
//   3. Anywhere else: quoted includes relative to the including file, as before.
// A quoted include is looked for first in the including file's own folder (gcc:
// "the directory containing the current file"), then on the quote chain, then as an
// angle-bracket include. System folders (/usr/include) are never searched: a driver's
// own tree is what the audit reads.
//
// Nothing here reads a file itself except through the caller's `read` (the engine's
// host, which applies the safe-read rules and the workspace roots) and, for compile
// databases, audit/compile.ts's loader (safe-read with the database size cap).

import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { checkRegular, MAX_COMPILE_DB_BYTES } from '../fs/safeRead';

/** One compile_commands.json entry (audit/compile.ts loads them; passed in, so c/ imports no audit/). */
export interface CompileEntry {
  directory: string;
  file: string;
  argv: string[];
}
/** The entry of `file` in database `db`, or undefined (missing, unreadable, malformed). */
export type CompileLookup = (db: string, file: string) => CompileEntry | undefined;

/** The search path of one translation unit. */
export interface IncludeContext {
  /** What chose it: a compile database (its path), the kernel tree (its root), or plain. */
  origin: { kind: 'compile-db'; path: string } | { kind: 'kernel'; root: string } | { kind: 'plain' };
  /** -iquote folders: quoted includes only, after the including file's folder. */
  quote: string[];
  /** -I, then -isystem, then -idirafter folders: both kinds of include. */
  angle: string[];
  /** -include files, in order, read before the file's first line. */
  forced: string[];
  /** -D/-U as the command leaves them (name -> value; undefined after -U). */
  defines: Map<string, string>;
  /** Identifies the context in cache keys (the same folders and forced includes give the same key). */
  key: string;
}

/** The kernel's x86 include folders in the order its Makefile gives them. */
export const KERNEL_X86_DIRS = [
  'arch/x86/include',
  'arch/x86/include/generated',
  'include',
  'arch/x86/include/uapi',
  'arch/x86/include/generated/uapi',
  'include/uapi',
  'include/generated/uapi',
] as const;

/** The kernel's forced includes (Makefile LINUXINCLUDE, scripts/Makefile.lib c_flags). */
export const KERNEL_FORCED = ['include/linux/compiler-version.h', 'include/linux/kconfig.h', 'include/linux/compiler_types.h'] as const;

const VERSION_RE = /^VERSION\s*=\s*\d+\s*$/m;
const PATCHLEVEL_RE = /^PATCHLEVEL\s*=\s*\d+\s*$/m;

/** Whether a top-level Makefile's text is the kernel's (VERSION and PATCHLEVEL in its head). */
export function isKernelMakefile(text: string): boolean {
  const head = text.slice(0, 4096);
  return VERSION_RE.test(head) && PATCHLEVEL_RE.test(head);
}

/**
 * The folders and forced includes, not the defines: a kernel compile database gives
 * every file its own -DKBUILD_MODNAME and -DKBUILD_BASENAME, and a key with them
 * made every file a context of its own (no header shared between two files). A
 * define matters only to a computed include, whose resolution is keyed by its value.
 */
function contextKey(quote: readonly string[], angle: readonly string[], forced: readonly string[]): string {
  const h = createHash('sha1');
  h.update(JSON.stringify([quote, angle, forced]));
  return h.digest('hex').slice(0, 16);
}

function makeContext(origin: IncludeContext['origin'], quote: string[], angle: string[], forced: string[], defines: Map<string, string>): IncludeContext {
  return { origin, quote, angle, forced, defines, key: contextKey(quote, angle, forced) };
}

export const PLAIN_CONTEXT: IncludeContext = makeContext({ kind: 'plain' }, [], [], [], new Map());

/** The kernel tree's context (x86 order, forced includes) for a tree rooted at `root`. */
export function kernelContext(root: string): IncludeContext {
  return makeContext(
    { kind: 'kernel', root },
    [],
    KERNEL_X86_DIRS.map((d) => join(root, d)),
    KERNEL_FORCED.map((f) => join(root, f)),
    new Map([['__KERNEL__', '1']]),
  );
}

/** Options whose value may be the next argument. */
const PATH_OPTS = ['-I', '-iquote', '-isystem', '-idirafter', '-include', '-D', '-U'] as const;

/**
 * The include context a compile command gives: gcc searches -iquote (quoted only),
 * then -I, then -isystem, then -idirafter; relative folders are the command's
 * working directory's. -Wp,-D and -Wp,-I are the preprocessor's own spelling.
 */
export function contextFromArgv(argv: readonly string[], directory: string, dbPath: string): IncludeContext {
  const quote: string[] = [];
  const I: string[] = [];
  const sys: string[] = [];
  const after: string[] = [];
  const forced: string[] = [];
  const defines = new Map<string, string>();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(directory, p));
  const take = (opt: string, v: string) => {
    switch (opt) {
      case '-I':
        I.push(abs(v));
        break;
      case '-iquote':
        quote.push(abs(v));
        break;
      case '-isystem':
        sys.push(abs(v));
        break;
      case '-idirafter':
        after.push(abs(v));
        break;
      case '-include':
        forced.push(abs(v));
        break;
      case '-D': {
        const eq = v.indexOf('=');
        if (eq < 0) defines.set(v, '1');
        else defines.set(v.slice(0, eq), v.slice(eq + 1));
        break;
      }
      case '-U':
        defines.delete(v);
        break;
    }
  };
  const args: string[] = [];
  for (const a of argv.slice(1)) {
    if (a.startsWith('-Wp,')) args.push(...a.slice(4).split(','));
    else args.push(a);
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const opt = PATH_OPTS.find((o) => a === o || (a.startsWith(o) && (o.length === 2 || o === '-include' || o.startsWith('-i'))));
    if (!opt) continue;
    if (a === opt) {
      if (i + 1 < args.length) take(opt, args[++i]!);
    } else take(opt, a.slice(opt.length));
  }
  // Duplicates keep their first place (gcc drops a later repeat of a folder).
  const uniq = (xs: string[]) => [...new Set(xs)];
  return makeContext({ kind: 'compile-db', path: dbPath }, uniq(quote), uniq([...I, ...sys, ...after]), forced, defines);
}

/** How the engine reads a file it needs (its host): text, or undefined when it cannot. */
export type ReadText = (path: string) => string | undefined;

export interface IncludeSetup {
  /** compile_commands.json files to try before looking beside the file. */
  compileDatabases?: readonly string[];
  /** Look for compile_commands.json in the file's folder and its parents (default true). */
  discoverCompileDatabases?: boolean;
}

/** How long an editor's engine trusts what it learnt of a folder (a Makefile or database may appear). */
const FOLDER_FACTS_MS = 10_000;

/**
 * Picks each file's include context. Folder facts (is there a kernel Makefile here,
 * a compile database) are remembered per folder: for the engine's life when
 * `remember` (a batch run), else for a few seconds (an editor).
 */
export class IncludeResolver {
  private readonly kernelRootOf = new Map<string, { v: string | null; at: number }>();
  private readonly dbOf = new Map<string, { v: string | null; at: number }>();
  private readonly kernelContexts = new Map<string, IncludeContext>();
  private readonly dbContexts = new Map<string, { entry: CompileEntry; ctx: IncludeContext }>();
  /** A batch run's answer per (database, file): the context, or null for no entry. */
  private readonly dbAnswers = new Map<string, IncludeContext | null>();

  constructor(
    private readonly read: ReadText,
    private readonly lookup: CompileLookup,
    private readonly remember: boolean,
  ) {}

  /** Drops what is remembered about folders (a Makefile or compile database changed). */
  reset(): void {
    this.kernelRootOf.clear();
    this.dbOf.clear();
    this.kernelContexts.clear();
    this.dbContexts.clear();
    this.dbAnswers.clear();
  }

  contextFor(file: string, setup: IncludeSetup = {}): IncludeContext {
    const abs = resolve(file);
    const dbs = [...(setup.compileDatabases ?? [])];
    if (setup.discoverCompileDatabases !== false) {
      const near = this.nearestDatabase(dirname(abs));
      if (near && !dbs.includes(near)) dbs.push(near);
    }
    for (const db of dbs) {
      const c = this.fromDatabase(db, abs);
      if (c) return c;
    }
    const root = this.kernelRoot(dirname(abs));
    if (root) {
      let c = this.kernelContexts.get(root);
      if (!c) this.kernelContexts.set(root, (c = kernelContext(root)));
      return c;
    }
    return PLAIN_CONTEXT;
  }

  private fromDatabase(db: string, file: string): IncludeContext | undefined {
    const k = `${db}\0${file}`;
    // A batch run takes the database as it first found it (the lookup stats and
    // resolves the database on every call: 1 % of a warm scan).
    if (this.remember) {
      const known = this.dbAnswers.get(k);
      if (known !== undefined) return known ?? undefined;
    }
    const entry = this.lookup(db, file);
    let ctx: IncludeContext | undefined;
    if (entry && entry.argv.length) {
      const hit = this.dbContexts.get(k);
      if (hit && hit.entry === entry) ctx = hit.ctx;
      else {
        ctx = contextFromArgv(entry.argv, entry.directory, db);
        this.dbContexts.set(k, { entry, ctx });
      }
    }
    if (this.remember) this.dbAnswers.set(k, ctx ?? null);
    return ctx;
  }

  /** The kernel tree holding `dir` (the nearest folder up with a kernel Makefile), if any. */
  kernelRoot(dir: string): string | undefined {
    const walked: string[] = [];
    let found: string | null = null;
    const now = Date.now();
    for (let d = dir; ; ) {
      const known = this.kernelRootOf.get(d);
      if (known && (this.remember || now - known.at < FOLDER_FACTS_MS)) {
        found = known.v;
        break;
      }
      walked.push(d);
      const mk = this.read(join(d, 'Makefile'));
      if (mk !== undefined && isKernelMakefile(mk)) {
        found = d;
        break;
      }
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
    for (const d of walked) this.kernelRootOf.set(d, { v: found, at: now });
    return found ?? undefined;
  }

  private nearestDatabase(dir: string): string | undefined {
    const walked: string[] = [];
    let found: string | null = null;
    const now = Date.now();
    for (let d = dir; ; ) {
      const known = this.dbOf.get(d);
      if (known && (this.remember || now - known.at < FOLDER_FACTS_MS)) {
        found = known.v;
        break;
      }
      walked.push(d);
      const p = join(d, 'compile_commands.json');
      try {
        checkRegular(p, { maxBytes: MAX_COMPILE_DB_BYTES });
        found = p;
        break;
      } catch {
        // none here (or not a regular file): look further up
      }
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
    for (const d of walked) this.dbOf.set(d, { v: found, at: now });
    return found ?? undefined;
  }
}

/** One `#include` line as written. */
export interface IncludeDirective {
  /** The name between the quotes or brackets, or a macro name for a computed include. */
  spec: string;
  kind: 'quote' | 'angle' | 'macro';
  /** `#include_next`. */
  next: boolean;
  /** 0-based line. */
  line: number;
}

const INCLUDE_RE = /^[ \t]*#[ \t]*include(_next)?[ \t]*(?:"([^"\n]+)"|<([^>\n]+)>|([A-Za-z_]\w*))/gm;

/**
 * A copy of `s` that does not keep the text it was cut from alive. V8 makes a
 * substring of 13 characters or more (a regex match's group) a slice that points into
 * its parent: a batch run keeps every header's directives, and every include's
 * resolution keyed by its spec, for the run, so a spec as sliced kept the whole text
 * of each header and each audited file it came from (on 12,000 files of drivers/, 85
 * of a worker's 118 MB of live heap). Concatenating gives a string that slice flattens
 * into a fresh one, of which the copy is a slice.
 */
function detachedString(s: string): string {
  return (' ' + s).slice(1);
}

/** INCLUDE_RE tried at one position (sticky; `^` still means a line start). */
const INCLUDE_AT_RE = new RegExp(INCLUDE_RE.source, 'my');

const isBlank = (c: number) => c === 32 || c === 9;
/** What ends a line for a regex's `^` under the m flag. */
const isLineEnd = (c: number) => c === 10 || c === 13 || c === 0x2028 || c === 0x2029;

/**
 * Where the line holding `include` at `i` starts when that line can open with
 * `[ \t]*#[ \t]*include` (what `^[ \t]*#[ \t]*include` under the m flag needs), else -1.
 */
export function includeLineStart(text: string, i: number): number {
  let j = i - 1;
  while (j >= 0 && isBlank(text.charCodeAt(j))) j--;
  if (j < 0 || text.charCodeAt(j) !== 35) return -1; // #
  j--;
  while (j >= 0 && isBlank(text.charCodeAt(j))) j--;
  return j < 0 || isLineEnd(text.charCodeAt(j)) ? j + 1 : -1;
}

/**
 * INCLUDE_RE's matches, in order: every match holds `include` after `#` at a line
 * start, so each `include` the native string search finds is tried there alone
 * (the regex tried every position of a file; headers and sources are mostly lines
 * that are not includes). A candidate inside the previous match is not one.
 */
function* includeMatches(text: string): Generator<RegExpExecArray> {
  const re = INCLUDE_AT_RE;
  let end = 0;
  for (let i = text.indexOf('include'); i >= 0; i = text.indexOf('include', i + 7)) {
    const start = includeLineStart(text, i);
    if (start < end) continue; // also -1
    re.lastIndex = start;
    const m = re.exec(text);
    if (!m) continue;
    end = start + m[0].length;
    yield m;
  }
}

/** Every include line of a text, in order (conditional ones too: the analysis sees every branch). */
export function includeDirectives(text: string): IncludeDirective[] {
  const out: IncludeDirective[] = [];
  let line = 0;
  let from = 0;
  for (const m of includeMatches(text)) {
    for (let i = text.indexOf('\n', from); i >= 0 && i < m.index!; i = text.indexOf('\n', i + 1)) line++;
    from = m.index!;
    const next = !!m[1];
    if (m[2] !== undefined) out.push({ spec: detachedString(m[2]), kind: 'quote', next, line });
    else if (m[3] !== undefined) out.push({ spec: detachedString(m[3]), kind: 'angle', next, line });
    else out.push({ spec: detachedString(m[4]!), kind: 'macro', next, line });
  }
  return out;
}

export type Resolution = { path: string } | { why: string };

/**
 * What the host says of a candidate: readable, absent (the search goes on), or
 * present but refused (a FIFO, too large, outside the workspace: the search stops
 * there, as the compiler's would at the first file of that name).
 */
export type Probe = (path: string) => true | 'missing' | { why: string };

/** A spec path.resolve would change beyond joining: `.`/`..` segments, `//`, a backslash. */
const NOT_PLAIN_SPEC = /(?:^|\/)\.\.?(?:\/|$)|\/\/|\\|\/$/;

/** Where an include of `from` (an absolute path) finds its header. */
export function resolveInclude(d: IncludeDirective, from: string, ctx: IncludeContext, probe: Probe): Resolution {
  let spec = d.spec;
  let kind: 'quote' | 'angle' = d.kind === 'macro' ? 'angle' : d.kind;
  if (d.kind === 'macro') {
    // A computed include: only a -D that spells a header name is followed.
    const v = ctx.defines.get(spec)?.trim();
    const m = v && /^(?:"([^"]+)"|<([^>]+)>)$/.exec(v);
    if (!m) return { why: `computed include ${spec} (no -D gives it a header name)` };
    spec = m[1] ?? m[2]!;
    kind = m[1] !== undefined ? 'quote' : 'angle';
  }
  if (isAbsolute(spec)) {
    const r = probe(spec);
    return r === true ? { path: spec } : r === 'missing' ? { why: 'not found' } : r;
  }
  const dirs: string[] = [];
  if (kind === 'quote' && !d.next) dirs.push(dirname(from));
  if (kind === 'quote') dirs.push(...ctx.quote);
  dirs.push(...ctx.angle);
  let start = 0;
  if (d.next) {
    // #include_next: the search goes on after the folder `from` was found in.
    const i = dirs.findIndex((dir) => from.startsWith(dir.endsWith(sep) ? dir : dir + sep));
    start = i < 0 ? 0 : i + 1;
  }
  // Most specs are plain relative names (linux/io.h): joined as strings, not through
  // path.resolve (a warm kernel walk resolves thousands of candidates).
  const plain = sep === '/' && !NOT_PLAIN_SPEC.test(spec);
  for (let i = start; i < dirs.length; i++) {
    const dir = dirs[i]!;
    const p = plain && isAbsolute(dir) && !dir.endsWith('/') ? `${dir}/${spec}` : resolve(dir, spec);
    const r = probe(p);
    if (r === true) return { path: p };
    if (r !== 'missing') return r;
  }
  if (kind === 'angle' && ctx.origin.kind === 'plain') return { why: 'angle-bracket include outside a kernel tree or compile database' };
  return { why: `not found in the include path (${dirs.length - start} folder${dirs.length - start === 1 ? '' : 's'})` };
}
