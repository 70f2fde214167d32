// Which files an audit of a tree reads: C sources and headers, minus folders that
// never hold driver code, minus files that cannot hold a site (the pre-filter).
// Shared by `scan`, `report`, the editor's export and the workspace index.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CATALOGUE_NAMES_RE } from '../c/catalogue';

/** Folders that never hold driver C a user wants audited. */
export const SKIP_DIRS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn', 'node_modules', '.tdx-audit', 'dist', 'Documentation']);
/** Files larger than this are not C a human wrote; they are skipped with a note. */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;
const LOCAL_INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*"/m;

export class SourceError extends Error {}

/**
 * The pre-filter: a file naming no catalogued accessor, no __iomem and including
 * no local header (which may declare wrappers or __iomem fields) has no site.
 */
export function mayHoldSites(text: string): boolean {
  return CATALOGUE_NAMES_RE.test(text) || text.includes('__iomem') || LOCAL_INCLUDE_RE.test(text);
}

/** C sources and headers under the given paths, absolute, in a stable order. */
export function discoverSources(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of readdirSync(p).sort()) {
      if (SKIP_DIRS.has(n)) continue;
      const c = join(p, n);
      let st;
      try {
        st = statSync(c);
      } catch {
        continue; // a dangling link in a tree is not an error
      }
      if (st.isDirectory()) walk(c);
      else if (/\.[ch]$/.test(n)) out.push(c);
    }
  };
  for (const p of paths) {
    const a = resolve(p);
    let st;
    try {
      st = statSync(a);
    } catch (e) {
      throw new SourceError(`cannot read ${p}: ${(e as Error).message}`);
    }
    if (st.isDirectory()) walk(a);
    else out.push(a);
  }
  return [...new Set(out)];
}

/** A source's text, or why it is skipped (too large, unreadable). */
export function readSource(path: string): { text: string } | { why: string } {
  try {
    if (statSync(path).size > MAX_SOURCE_BYTES) return { why: `larger than ${MAX_SOURCE_BYTES} bytes` };
    return { text: readFileSync(path, 'utf8') };
  } catch (e) {
    return { why: (e as Error).message };
  }
}
