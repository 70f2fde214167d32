// The tree root a source's triage fingerprints are keyed on: one rule for the
// language server's triage (lsp/triage.ts) and the index's workers (worker.ts), so
// a fingerprint the index computes is the one the editor and the export compute.
//
// The root is findTreeRoot's (kernel Makefile, else `.tdx-audit/`, else `.git`). In a
// tree with none of them, the workspace folder holding the file, as an export of that
// folder finds (findTreeRoot of the folder is the folder then): the file's own
// folder would put a decision in another triage file, keyed by another relative
// path, and the report would not see it.

import { dirname, join } from 'node:path';
import { findTreeRoot, pathExists, TREE_MARKERS } from '../audit/report/provenance';
import { isInside } from '../fs/safeRead';

/**
 * Tree roots by the file's folder (every file of a folder has the same root).
 * `folderOf` names the deepest workspace folder holding a path, if any.
 */
export class TreeRoots {
  private readonly byDir = new Map<string, Tree>();

  constructor(private readonly folderOf: (path: string) => string | undefined) {}

  rootOf(path: string): string {
    return this.treeOf(path).root;
  }

  treeOf(path: string): Tree {
    const dir = dirname(path);
    let r = this.byDir.get(dir);
    if (r === undefined) {
      r = treeOf(path, this.folderOf(path));
      this.byDir.set(dir, r);
    }
    return r;
  }
}

export interface Tree {
  root: string;
  /** The root is a kernel tree's (its Makefile sets VERSION and PATCHLEVEL). */
  kernel: boolean;
}

/** The rule itself (TreeRoots caches it per folder). */
export function treeRootOf(path: string, folder: string | undefined): string {
  return treeOf(path, folder).root;
}

function treeOf(path: string, folder: string | undefined): Tree {
  const t = findTreeRoot([path]);
  if (t.kernel) return { root: t.root, kernel: true };
  const dir = dirname(path);
  // findTreeRoot answers above the file's folder only when a marker is there; at the
  // folder itself it is either a marker or the fallback: only then look (once).
  if (t.root !== dir || folder === undefined || folder === dir) return { root: t.root, kernel: false };
  return { root: TREE_MARKERS.some((m) => pathExists(join(dir, m))) ? dir : folder, kernel: false };
}

/** The deepest of `folders` holding `path` (the workspace folder a file belongs to). */
export function deepestFolder(folders: readonly string[], path: string): string | undefined {
  let best: string | undefined;
  for (const f of folders) if (isInside(f, path) && (best === undefined || f.length > best.length)) best = f;
  return best;
}
