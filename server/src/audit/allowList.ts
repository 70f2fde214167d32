// A driver allow-list: which drivers a TD actually runs, so their findings come
// first. The shape of Intel's TDX guest-hardening filter (ccc-linux-guest-hardening:
// drivers authorized per bus, `authorize_allow_devs=pci:virtio-pci,...`) as a file:
//   # comment
//   drivers/virtio/            a folder (trailing /) or a file of the tree
//   virtio_net                 a driver / module name (- and _ are the same, as modprobe has it)
//   pci:virtio-pci             bus:name, the kernel's spelling; the bus is kept, the name matched
// Names match the object Kbuild links a file into (kbuild.ts objectsOf) or the
// file's own stem.

import { posix } from 'node:path';

export interface AllowList {
  /** Folder prefixes (ending in /) and files, tree-relative. */
  paths: string[];
  /** Normalised driver names (- as _). */
  names: Set<string>;
  /** Lines that could not be read, with their numbers. */
  ignored: { line: number; text: string; why: string }[];
}

const norm = (n: string): string => n.trim().replace(/-/g, '_');

export function parseAllowList(text: string): AllowList {
  const out: AllowList = { paths: [], names: new Set(), ignored: [] };
  text.split('\n').forEach((raw, i) => {
    const t = raw.replace(/#.*$/, '').trim();
    if (!t) return;
    for (const entry of t.split(/[\s,]+/).filter(Boolean)) {
      if (entry.includes('/')) {
        const p = posix.normalize(entry.replace(/^\.\//, ''));
        if (p.startsWith('..') || p.startsWith('/')) out.ignored.push({ line: i + 1, text: entry, why: 'a path must be relative to the tree, inside it' });
        else out.paths.push(entry.endsWith('/') && !p.endsWith('/') ? p + '/' : p);
        continue;
      }
      const name = entry.includes(':') ? entry.slice(entry.indexOf(':') + 1) : entry;
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) out.ignored.push({ line: i + 1, text: entry, why: 'not a driver name' });
      else out.names.add(norm(name));
    }
  });
  return out;
}

/** The file (tree-relative) is on the list: by folder, by path, or by the name of an object it is linked into. */
export function allowed(list: AllowList, relPath: string, objects: readonly string[]): boolean {
  const rel = posix.normalize(relPath);
  if (list.paths.some((p) => (p.endsWith('/') ? rel.startsWith(p) : rel === p))) return true;
  const stem = posix.basename(rel).replace(/\.[ch]$/, '');
  return [stem, ...objects].some((o) => list.names.has(norm(o)));
}
