// The seed walks over a tree (C sources, kernel objects): sorted, depth-bounded,
// dangling links and unreadable folders skipped.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Calls `visit` for every file under root, in sorted order, until it returns false. */
export function walkFiles(root: string, maxDepth: number, visit: (path: string, name: string, size: number) => boolean): void {
  let going = true;
  const walk = (d: string, depth: number) => {
    if (!going || depth > maxDepth) return;
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (!going) return;
      const p = join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else going = visit(p, n, st.size);
    }
  };
  walk(root, 0);
}
