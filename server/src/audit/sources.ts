// Which files an audit of a tree reads: C sources and headers, minus folders that
// never hold driver code, minus files that cannot hold a site (the pre-filter).
// Shared by `scan`, `report`, the editor's export and the workspace index.

import { MAX_TEXT_BYTES, tryReadText } from '../fs/safeRead';
import { walkFiles, WalkError } from '../fs/walk';
import { CATALOGUE_NAMES_RE } from '../c/catalogue';

/** Folders that never hold driver C a user wants audited. */
export const SKIP_DIRS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn', 'node_modules', '.tdx-audit', 'dist', 'Documentation']);
/** Files larger than this are not C a human wrote; they are skipped with a note (one policy: fs/safeRead). */
export const MAX_SOURCE_BYTES = MAX_TEXT_BYTES;
const LOCAL_INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*"/m;

export class SourceError extends Error {}

/**
 * The pre-filter: a file naming no catalogued accessor, no __iomem and including
 * no local header (which may declare wrappers or __iomem fields) has no site.
 */
export function mayHoldSites(text: string): boolean {
  return CATALOGUE_NAMES_RE.test(text) || text.includes('__iomem') || LOCAL_INCLUDE_RE.test(text);
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
