// Walking a tree the workspace controls. Directory symlinks are followed (kernel
// trees are assembled with them), but every directory is entered once by its
// device+inode, so `ln -s . d/l1; ln -s . d/l2` ends; every file is listed once by
// its device+inode, so one loop cannot report a.c 41 times; names that resolve to a
// FIFO, device or socket are skipped with a reason instead of being opened.

import { readdirSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';

export interface WalkOptions {
  /** Folder names never entered. */
  skipDirs?: ReadonlySet<string>;
  /** Which file names are wanted. */
  match: (name: string) => boolean;
  /** Stop after this many files (the result says so). */
  maxFiles?: number;
  /** Polled between directories. */
  cancelled?: () => boolean;
}

export interface WalkResult {
  /** Absolute paths (as reached: the first name of each file), in a stable order. */
  files: string[];
  /** Names passed over, with why (a FIFO named f.c, a dangling link, a loop). */
  skipped: { path: string; why: string }[];
  capped: boolean;
}

export class WalkError extends Error {}

const idOf = (st: Stats) => `${st.dev}:${st.ino}`;

function typeName(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Files under the given paths (files given directly are checked the same way).
 * Throws WalkError only for a top-level path that cannot be read at all.
 */
export function walkFiles(paths: readonly string[], opts: WalkOptions): WalkResult {
  const files: string[] = [];
  const skipped: WalkResult['skipped'] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const max = opts.maxFiles ?? Infinity;
  let capped = false;

  const addFile = (p: string, st: Stats) => {
    if (!st.isFile()) {
      skipped.push({ path: p, why: `${typeName(st)}, not a regular file` });
      return;
    }
    const id = idOf(st);
    if (seenFiles.has(id)) return;
    seenFiles.add(id);
    if (files.length >= max) {
      capped = true;
      return;
    }
    files.push(p);
  };

  // Iterative depth-first walk in name order (a subfolder's files come where its
  // name sorts, as a recursive walk would list them): a 10,000-deep tree must not
  // overflow the stack.
  const enter = (dir: string, st: Stats) => {
    const id = idOf(st);
    if (seenDirs.has(id)) return;
    seenDirs.add(id);
    walkFrom(dir);
  };
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir).sort();
    } catch (e) {
      skipped.push({ path: dir, why: `cannot list: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return [];
    }
  };
  const walkFrom = (root: string) => {
    const stack: { dir: string; names: string[]; i: number }[] = [{ dir: root, names: list(root), i: 0 }];
    while (stack.length && !capped) {
      if (opts.cancelled?.()) return;
      const top = stack[stack.length - 1]!;
      if (top.i >= top.names.length) {
        stack.pop();
        continue;
      }
      const n = top.names[top.i++]!;
      const p = join(top.dir, n);
      let st: Stats;
      try {
        st = statSync(p); // follows links; stat never opens, so a FIFO cannot block
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ELOOP') skipped.push({ path: p, why: 'symlink loop' });
        // A dangling link in a tree is not worth a line.
        continue;
      }
      if (st.isDirectory()) {
        if (opts.skipDirs?.has(n)) continue;
        const id = idOf(st);
        if (seenDirs.has(id)) continue;
        seenDirs.add(id);
        stack.push({ dir: p, names: list(p), i: 0 });
      } else if (opts.match(n)) addFile(p, st);
    }
  };

  for (const p of paths) {
    const a = resolve(p);
    let st: Stats;
    try {
      st = statSync(a);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new WalkError(`cannot read ${p}: ${code === 'ELOOP' ? 'symlink loop' : code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    if (st.isDirectory()) enter(a, st);
    else addFile(a, st);
  }
  return { files, skipped, capped };
}
