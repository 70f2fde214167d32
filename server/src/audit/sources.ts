// Which files an audit of a tree reads: C sources and headers, minus folders that
// never hold driver code, minus files that cannot hold a site (the pre-filter).
// Shared by `scan`, `report`, the editor's export and the workspace index.

import { MAX_TEXT_BYTES, readTextOrUndefined, tryReadText } from '../fs/safeRead';
import { walkFiles, WalkError } from '../fs/walk';
import { dirname, resolve } from 'node:path';
import { CATALOGUE_NAMES_RE, MAPPING_NAMES_RE } from '../c/catalogue';
import { includeLineStart } from '../c/includePath';

/** Folders that never hold driver C a user wants audited. */
export const SKIP_DIRS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn', 'node_modules', '.tdx-audit', 'dist', 'Documentation']);
/** Files larger than this are not C a human wrote; they are skipped with a note (one policy: fs/safeRead). */
export const MAX_SOURCE_BYTES = MAX_TEXT_BYTES;

export class SourceError extends Error {}

/**
 * The three tests of namesSite as one regex: a file that names none of them (most
 * of a tree, and nearly all of its bytes: the generated register headers) is read
 * once instead of three times (drivers/: 43 % less time in this test).
 */
const NAMES_SITE_RE = new RegExp(`${CATALOGUE_NAMES_RE.source}|__iomem|${MAPPING_NAMES_RE.source}`);

/** A text that names a catalogued accessor, `__iomem` or an MMIO mapping API. */
export function namesSite(text: string): boolean {
  return NAMES_SITE_RE.test(text);
}

const QUOTED_INCLUDE_G = /^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm;
/**
 * Whether some line of `text` starts an include directive: what `/^[ \t]*#[ \t]*include/m`
 * matches (a file with no include at all learns nothing from headers; the forced
 * ones declare no wrappers). Found from each `include` (a native string search)
 * backwards: the regex tried every position of the files that name nothing, most
 * of a tree's bytes (drivers/: 1.6 s).
 */
export function hasIncludeLine(text: string): boolean {
  for (let i = text.indexOf('include'); i >= 0; i = text.indexOf('include', i + 7)) if (includeLineStart(text, i) >= 0) return true;
  return false;
}
/** Include chains deeper than this are let through (the engine decides). */
const MAX_FILTER_DEPTH = 32;

/**
 * What a file's own text says before any header is read: it names something
 * (`'parse'`), it can only hold a site through what its headers declare
 * (`'headers'`: the engine's AuditEngine.mayHoldSitesThroughHeaders decides), or it
 * has no include and names nothing (`'skip'`).
 */
export function textDecision(text: string): 'parse' | 'headers' | 'skip' {
  if (namesSite(text)) return 'parse';
  return hasIncludeLine(text) ? 'headers' : 'skip';
}

/**
 * The pre-filter. A file that names no accessor, `__iomem` or mapping API itself can
 * hold a site only by naming something its headers declare: a wrapper they define,
 * an `__iomem` global, or an `__iomem` field after `->` or `.` (every other site
 * starts from a name the text tests see). With the engine's look at its headers
 * (`throughHeaders`, the same include walk, quoted and angle-bracket, the audit will
 * use), that is the whole test: exact, in that a skipped file would have had no
 * site (test/unit/c/prefilter-exact.test.ts; test/bench/prefilter.ts on real trees).
 * A quoted include that merely names something no longer lets the file through (the
 * 1,035-file set: it let 761 files be parsed where 268 name something).
 *
 * Without an engine (no header index), the quoted-include chain is the
 * over-approximation: a file passes if a header it includes with quotes (relative
 * to its folder), or one those include, names something. Decisions per header are
 * kept for the run (one instance per scan, report or index run).
 */
export class SiteFilter {
  private readonly memo = new Map<string, boolean>();

  constructor(
    private readonly read: (path: string) => string | undefined,
    private readonly throughHeaders?: (path: string, text: string) => boolean,
  ) {}

  mayHoldSites(path: string, text: string): boolean {
    const d = textDecision(text);
    if (d !== 'headers') return d === 'parse';
    if (this.throughHeaders) return this.throughHeaders(path, text);
    return this.includesSite(path, text, 0, new Set([resolve(path)])) !== false;
  }

  /** true, false, or 'cut' (an include cycle was cut below: not memoised, counted as false here). */
  private includesSite(path: string, text: string, depth: number, stack: Set<string>): boolean | 'cut' {
    if (depth > MAX_FILTER_DEPTH) return true;
    let cut = false;
    for (const m of text.matchAll(QUOTED_INCLUDE_G)) {
      const hp = resolve(dirname(path), m[1]!);
      if (stack.has(hp)) {
        cut = true;
        continue;
      }
      let v = this.memo.get(hp);
      if (v === undefined) {
        const t = this.read(hp);
        if (t === undefined) continue;
        stack.add(hp);
        const r = namesSite(t) ? true : this.includesSite(hp, t, depth + 1, stack);
        stack.delete(hp);
        if (r === 'cut') cut = true;
        else this.memo.set(hp, r);
        v = r === true;
      }
      if (v) return true;
    }
    return cut ? 'cut' : false;
  }
}

/**
 * C sources and headers under the given paths, absolute, in a stable order. Loops
 * end, each file comes once, and names that are not regular files (a FIFO called
 * f.c) are passed to onSkip with the reason instead of being opened.
 */
export function discoverSources(paths: readonly string[], onSkip?: (path: string, why: string) => void): string[] {
  let r;
  try {
    r = walkFiles(paths, { skipDirs: SKIP_DIRS, match: (n) => /\.[ch]$/.test(n) });
  } catch (e) {
    if (e instanceof WalkError) throw new SourceError(e.message);
    throw e;
  }
  for (const s of r.skipped) onSkip?.(s.path, s.why);
  return r.files;
}

/** A source's text, or why it is skipped (too large, not a regular file, unreadable). */
export function readSource(path: string): { text: string } | { why: string } {
  const r = tryReadText(path, { maxBytes: MAX_SOURCE_BYTES });
  // The reader's message starts with the path; callers print the path themselves.
  return 'text' in r ? r : { why: r.why.startsWith(path + ': ') ? r.why.slice(path.length + 2) : r.why };
}

/**
 * The engine host of a batch run (scan, report, the index workers): files through
 * the safe reader (inside `roots` when given), with the reason a header was not
 * read, and the tree taken as unchanging for the run (header facts remembered).
 */
export function batchHost(roots?: readonly string[]): {
  readFile(p: string): string | undefined;
  tryReadFile(p: string): { text: string } | { why: string; missing: boolean };
  snapshot: true;
} {
  const opts = roots ? { roots } : {};
  return {
    readFile: (p) => readTextOrUndefined(p, opts),
    tryReadFile: (p) => {
      const r = tryReadText(p, opts);
      return 'text' in r ? r : { why: r.why.startsWith(p + ': ') ? r.why.slice(p.length + 2) : r.why, missing: r.kind === 'missing' };
    },
    snapshot: true,
  };
}
