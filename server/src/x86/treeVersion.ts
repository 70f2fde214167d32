// The kernel version of a source tree, from the first lines of its top-level
// Makefile (VERSION, PATCHLEVEL, SUBLEVEL, EXTRAVERSION), read through the
// project's safe reader: a FIFO, /dev/zero or a huge file named Makefile is
// refused, never read.
import { dirname, join, resolve } from 'node:path';
import { safeReadHead, SafeReadError } from '../fs/safeRead';
import {
  PLATFORM_LABEL, behaviourDifferences, formatVersion, platformHasGuest, profileData, profileForVersion, profileIdFor,
  type KernelVersion, type Profile,
} from './profiles';

/** The version lines are the first five of every kernel Makefile; 4 KiB leaves room for a licence header. */
const HEAD_BYTES = 4096;

/** The version lines of a top-level kernel Makefile, as written. */
export interface MakefileVersionLines {
  VERSION?: string;
  PATCHLEVEL?: string;
  SUBLEVEL?: string;
  EXTRAVERSION?: string;
  NAME?: string;
}

/**
 * Reads the version lines (`VERSION = 6`; make also takes `:=` and `?=`). The one
 * reading of them: the profile (here) and the report's provenance both use it, so
 * the version printed and the version judged by cannot differ.
 */
export function makefileVersionLines(text: string): MakefileVersionLines {
  const out: MakefileVersionLines = {};
  for (const name of ['VERSION', 'PATCHLEVEL', 'SUBLEVEL', 'EXTRAVERSION', 'NAME'] as const) {
    const v = new RegExp(`^${name}[ \\t]*[:?]?=[ \\t]*(.*?)[ \\t]*$`, 'm').exec(text)?.[1];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** Parses the head of a kernel Makefile; null when it is not one. */
export function parseKernelMakefile(text: string): KernelVersion | null {
  const lines = makefileVersionLines(text);
  const field = (name: keyof MakefileVersionLines): string | undefined => lines[name];
  const ver = field('VERSION');
  const pl = field('PATCHLEVEL');
  const sl = field('SUBLEVEL');
  if (!ver || !pl || !/^\d{1,3}$/.test(ver) || !/^\d{1,3}$/.test(pl)) return null;
  const sub = sl && /^\d{1,4}$/.test(sl) ? Number(sl) : 0;
  const k: KernelVersion = { version: Number(ver), patchlevel: Number(pl), sublevel: sub };
  const rc = /^-rc(\d{1,2})$/.exec(field('EXTRAVERSION') ?? '');
  if (rc) k.rc = Number(rc[1]);
  return k;
}

export type TreeVersion = { version: KernelVersion; makefile: string } | { version: null; why: string };

/** The version of the kernel tree whose top-level Makefile is `root`/Makefile. */
export function readTreeVersion(root: string): TreeVersion {
  const makefile = join(resolve(root), 'Makefile');
  try {
    const { head } = safeReadHead(makefile, HEAD_BYTES, { roots: [resolve(root)], maxBytes: 16 * 1024 * 1024 });
    const k = parseKernelMakefile(head.toString('utf8'));
    return k ? { version: k, makefile } : { version: null, why: `${makefile}: no VERSION/PATCHLEVEL lines` };
  } catch (e) {
    return { version: null, why: e instanceof SafeReadError ? e.message : `${makefile}: ${(e as Error).message}` };
  }
}

/**
 * The kernel tree `path` lies in: the nearest directory at or above it whose
 * Makefile carries a kernel version. At most `maxUp` levels are tried.
 */
export function findTreeVersion(path: string, maxUp = 32): { root: string; version: KernelVersion; makefile: string } | null {
  let dir = resolve(path);
  for (let i = 0; i <= maxUp; i++) {
    const r = readTreeVersion(dir);
    if (r.version) return { root: dir, version: r.version, makefile: r.makefile };
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

export interface TreeProfile {
  /** The profile to audit with. */
  profile: Profile;
  /** The tree found, if any. */
  tree: { root: string; makefile: string; version: string } | null;
  /** Said once to the user (CLI stderr, status item, report provenance) when the setting and the tree disagree; else null. */
  disagreement: string | null;
}

/**
 * The profile for sources under `paths`: the nearest top-level kernel Makefile
 * at or above the first path that has one gives the version. A profile the user
 * chose (`explicit`) wins; when it models a different behaviour from the tree's
 * version, `disagreement` says so. Otherwise the tree's version on `chosen`'s
 * platform is used. The one rule for the CLI, the server and reports.
 */
export function treeProfile(paths: readonly string[], chosen: Profile, explicit: boolean): TreeProfile {
  for (const p of paths) {
    const t = findTreeVersion(p);
    if (!t) continue;
    const tree = { root: t.root, makefile: t.makefile, version: formatVersion(t.version) };
    const cur = profileData(chosen);
    if (!platformHasGuest(cur.platform, t.version)) {
      return { profile: chosen, tree, disagreement: `${t.makefile} says Linux ${tree.version}, which has no ${PLATFORM_LABEL[cur.platform]} guest; using ${chosen}` };
    }
    const fromTree = profileForVersion(t.version, cur.platform);
    if (!explicit) return { profile: profileIdFor(t.version, cur.platform), tree, disagreement: null };
    const diff = behaviourDifferences(cur, fromTree);
    return {
      profile: chosen, tree,
      disagreement: diff.length
        ? `--profile ${chosen} (Linux ${formatVersion(cur.kernel)}) disagrees with ${t.makefile} (Linux ${tree.version}, profile ${fromTree.id}) on ${diff.join(', ')}; using ${chosen}`
        : null,
    };
  }
  return { profile: chosen, tree: null, disagreement: null };
}
