// Options `scan` and `report` share (profile, headers, where objects are), parsed
// in one place so the two commands cannot drift apart.

import { statSync } from 'node:fs';
import { PROFILE_IDS, isProfile, type Profile } from './x86/profiles';
import { treeProfile } from './x86/treeVersion';

export interface CommonOptions {
  profile: Profile;
  /** --profile was given (it then wins over the tree's Makefile). */
  profileExplicit?: boolean;
  followIncludes: boolean;
  /** Object files or folders of them (.o, .ko); repeatable. */
  objects: string[];
  /** Build directory of an O= build. */
  buildDir?: string;
  vmlinux?: string;
}

type Fail = (message: string) => Error;

/** The value after a flag; a missing one (or another flag) is a usage error. */
export function optionValue(argv: readonly string[], i: number, flag: string, fail: Fail): string {
  const v = argv[i];
  if (v === undefined || v.startsWith('--')) throw fail(`${flag} needs a value`);
  return v;
}

/**
 * Applies argv[i] when it is one of the shared options. Returns the index of the
 * last argument it consumed, or -1 when argv[i] is not a shared option.
 */
export function commonOption(argv: readonly string[], i: number, o: CommonOptions, fail: Fail): number {
  const a = argv[i]!;
  switch (a) {
    case '--profile': {
      const v = optionValue(argv, i + 1, a, fail);
      if (!isProfile(v)) throw fail(`unknown profile ${v}; one of ${PROFILE_IDS.join(', ')}, or tdx-linux-X.Y.Z / sev-es-linux-X.Y.Z`);
      o.profile = v;
      o.profileExplicit = true;
      return i + 1;
    }
    case '--objects':
      o.objects.push(optionValue(argv, i + 1, a, fail));
      return i + 1;
    case '--build-dir':
      o.buildDir = optionValue(argv, i + 1, a, fail);
      return i + 1;
    case '--vmlinux':
      o.vmlinux = optionValue(argv, i + 1, a, fail);
      return i + 1;
    case '--no-includes':
      o.followIncludes = false;
      return i;
    default:
      return -1;
  }
}

/** Every object path given must exist (a symlink loop is said as one, not as missing). */
export function checkObjectPaths(o: CommonOptions, fail: Fail): void {
  for (const p of [...o.objects, ...(o.vmlinux ? [o.vmlinux] : []), ...(o.buildDir ? [o.buildDir] : [])]) {
    try {
      statSync(p);
    } catch (e) {
      throw fail(`${p}: ${(e as NodeJS.ErrnoException).code === 'ELOOP' ? 'symlink loop' : 'no such file or directory'}`);
    }
  }
}

/**
 * The profile from the kernel tree the sources lie in (x86/treeVersion.ts
 * treeProfile): without --profile the tree's version picks it; with --profile
 * that wins, and a disagreement with the tree is said once through `warn`.
 */
export function applyTreeProfile(o: CommonOptions, paths: readonly string[], warn: (s: string) => void): { root: string; version: string } | null {
  const r = treeProfile(paths, o.profile, !!o.profileExplicit);
  o.profile = r.profile;
  if (r.disagreement) warn(`tdx-audit: ${r.disagreement}`);
  return r.tree && { root: r.tree.root, version: r.tree.version };
}
