// Options `scan` and `report` share (profile, headers, where objects are), parsed
// in one place so the two commands cannot drift apart.

import { statSync } from 'node:fs';
import { PROFILE_IDS, behaviourDifferences, formatVersion, isProfile, platformHasGuest, PLATFORM_LABEL, profileData, profileForVersion, profileIdFor, type Profile } from './x86/profiles';
import { findTreeVersion } from './x86/treeVersion';

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
 * The profile from the kernel tree the sources lie in: the nearest top-level
 * Makefile at or above the first path that has one gives VERSION.PATCHLEVEL.SUBLEVEL.
 * Without --profile that version picks the profile (on the default profile's
 * platform); with --profile the given one wins, and when it models a different
 * behaviour from the tree's version that is said once through `warn`.
 */
export function applyTreeProfile(o: CommonOptions, paths: readonly string[], warn: (s: string) => void): { root: string; version: string } | null {
  for (const p of paths) {
    const tree = findTreeVersion(p);
    if (!tree) continue;
    const chosen = profileData(o.profile);
    if (!platformHasGuest(chosen.platform, tree.version)) {
      warn(`tdx-audit: ${tree.makefile} says Linux ${formatVersion(tree.version)}, which has no ${PLATFORM_LABEL[chosen.platform]} guest; using ${o.profile}`);
      return { root: tree.root, version: formatVersion(tree.version) };
    }
    const fromTree = profileForVersion(tree.version, chosen.platform);
    if (!o.profileExplicit) {
      o.profile = profileIdFor(tree.version, chosen.platform);
    } else {
      const diff = behaviourDifferences(chosen, fromTree);
      if (diff.length) {
        warn(`tdx-audit: --profile ${o.profile} (Linux ${formatVersion(chosen.kernel)}) disagrees with ${tree.makefile} (Linux ${formatVersion(tree.version)}, profile ${fromTree.id}) on ${diff.join(', ')}; using ${o.profile}`);
      }
    }
    return { root: tree.root, version: formatVersion(tree.version) };
  }
  return null;
}
