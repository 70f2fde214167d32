// Options `scan` and `report` share (profile, headers, where objects are, shards),
// parsed in one place so the two commands cannot drift apart.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ObjectSearch, PathMapping } from '../audit/objects';
import { PROFILE_IDS, isProfile, type Profile } from '../x86/profiles';
import { treeProfile } from '../x86/treeVersion';
import { parseCacheSize } from './resultCache';

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
  /** --path-map FROM=TO: the object names FROM, the file is under TO (gdb's substitute-path); repeatable. */
  pathMap?: PathMapping[];
  /** --no-objects: read no object, not even the .o beside a source. */
  noObjects?: boolean;
  /** --shard K/N: audit only this shard of the file list (shardOf). */
  shard?: Shard;
  /** --config FILE: the .config deciding which files the TD kernel builds. */
  config?: string;
  /** --allow-list FILE: the drivers a TD runs; their findings first. */
  allowList?: string;
}

/** Shard `index` of `of` (1-based), as `--shard K/N` names it. */
export interface Shard {
  index: number;
  of: number;
}

/**
 * The files of one shard: every N-th of the discovered list, starting at the K-th.
 * The list is in walk order (sorted names, depth first), which does not depend on
 * the machine, so N runs on N machines cover the tree once and `merge` can put
 * their results back in that order (audit/report/merge.ts). By index rather than
 * by a hash of the path so that shards stay even on a small tree; by stride
 * rather than in blocks so that a subsystem's large files are spread over shards.
 */
export function shardOf<T>(files: readonly T[], shard: Shard | undefined): T[] {
  return shard ? files.filter((_, i) => i % shard.of === shard.index - 1) : [...files];
}

/** `K/N` with 1 <= K <= N. */
export function parseShard(v: string): Shard | undefined {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(v);
  if (!m) return undefined;
  const index = Number(m[1]);
  const of = Number(m[2]);
  return index >= 1 && index <= of ? { index, of } : undefined;
}

type Fail = (message: string) => Error;

/** A command line the user must correct: said with the usage text, exit status 2. */
export class UsageError extends Error {}

/** The value after a flag; a missing one (or another flag) is a usage error. */
export function optionValue(argv: readonly string[], i: number, flag: string, fail: Fail): string {
  const v = argv[i];
  if (v === undefined || v.startsWith('--')) throw fail(`${flag} needs a value`);
  return v;
}

/** --cache-max-size's value (scan and report): bytes, or a number with K, M or G; 0 for no bound. */
export function cacheSizeOption(argv: readonly string[], i: number, flag: string, fail: Fail): number {
  const v = optionValue(argv, i, flag, fail);
  const n = parseCacheSize(v);
  if (n === undefined) throw fail(`${flag} takes a size (bytes, or with K, M or G: 512M, 2G; 0 for no bound), not ${v}`);
  return n;
}

/** Shared options that take one path. */
const PATH_OPTIONS: Readonly<Record<string, 'buildDir' | 'vmlinux' | 'config' | 'allowList'>> = {
  '--build-dir': 'buildDir',
  '--vmlinux': 'vmlinux',
  '--config': 'config',
  '--allow-list': 'allowList',
};

/**
 * Applies argv[i] when it is one of the shared options. Returns the index of the
 * last argument it consumed, or -1 when argv[i] is not a shared option.
 */
export function commonOption(argv: readonly string[], i: number, o: CommonOptions, fail: Fail): number {
  const a = argv[i]!;
  const field = PATH_OPTIONS[a];
  if (field) {
    o[field] = optionValue(argv, i + 1, a, fail);
    return i + 1;
  }
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
    case '--no-includes':
      o.followIncludes = false;
      return i;
    case '--path-map': {
      const v = optionValue(argv, i + 1, a, fail);
      const m = parsePathMapping(v);
      if (!m) throw fail(`--path-map takes FROM=TO (the path the object names, the path the sources are at), not ${v}`);
      (o.pathMap ??= []).push(m);
      return i + 1;
    }
    case '--no-objects':
      o.noObjects = true;
      return i;
    case '--shard': {
      const v = optionValue(argv, i + 1, a, fail);
      const sh = parseShard(v);
      if (!sh) throw fail(`--shard takes K/N with 1 <= K <= N, not ${v}`);
      o.shard = sh;
      return i + 1;
    }
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

/** `FROM=TO`, split at the first '=' (a path the object names rarely holds one); both sides non-empty. */
export function parsePathMapping(v: string): PathMapping | undefined {
  const k = v.indexOf('=');
  if (k <= 0 || k === v.length - 1) return undefined;
  return { from: v.slice(0, k), to: v.slice(k + 1) };
}

/**
 * Where `scan` and `report` look for objects: by default the .o beside each
 * source (as the editor does) and, with --build-dir, the same path under the O=
 * build directory; --objects and --vmlinux add more. --no-objects: none at all.
 * `root` is the tree root the sources' relative paths are taken from (matching
 * units by path tail, the build directory's layout). A mapping's TO is a local
 * path (resolved); its FROM is a path as the object names it (kept as written).
 */
export function objectSearchOf(o: CommonOptions, root: string | undefined, fail: Fail): ObjectSearch | undefined {
  if (o.noObjects) {
    const given = [...o.objects.map(() => '--objects'), ...(o.vmlinux ? ['--vmlinux'] : []), ...(o.buildDir ? ['--build-dir'] : []), ...(o.pathMap?.length ? ['--path-map'] : [])];
    if (given.length) throw fail(`--no-objects reads no object; it cannot go with ${[...new Set(given)].join(', ')}`);
    return undefined;
  }
  return {
    objects: o.objects.map((p) => resolve(p)),
    ...(o.vmlinux ? { vmlinux: resolve(o.vmlinux) } : {}),
    ...(o.buildDir ? { buildDir: resolve(o.buildDir) } : {}),
    ...(root ? { sourceRoot: resolve(root) } : {}),
    ...(o.pathMap?.length ? { pathMap: o.pathMap.map((m) => ({ from: m.from, to: resolve(m.to) })) } : {}),
  };
}

/** Whether objects other than the ones beside the sources were named. */
export function objectsNamed(o: CommonOptions): boolean {
  return o.objects.length > 0 || !!o.vmlinux || !!o.buildDir;
}
