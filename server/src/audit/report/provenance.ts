// Provenance: what a report was made from, so a reader (or a later diff) knows which
// kernel, which configuration, which objects and which tool produced it. A report
// about #VE handling is only as good as the match between the source and the kernel
// that runs in the guest, so staleness of objects is stated, not hidden.

import { statSync } from 'node:fs';
import { MAX_CONFIG_BYTES, readTextOrUndefined } from '../../fs/safeRead';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { version as TOOL_VERSION } from '../../../../package.json';
import { makefileVersionLines, type MakefileVersionLines } from '../../x86/treeVersion';
import type { Profile } from '../engine';
import type { ObjectInfo, ObjectState } from '../compiled';

export { TOOL_VERSION };

/**
 * Kconfig options that decide how a guest handles #VE/#VC and what the report means:
 * the TDX guest itself, its attestation driver, the memory-encryption core both
 * TDX and SEV select, and SEV for the sev-es profile.
 */
export const TDX_CONFIG_OPTIONS = [
  'CONFIG_INTEL_TDX_GUEST',
  'CONFIG_TDX_GUEST_DRIVER',
  'CONFIG_X86_MEM_ENCRYPT',
  'CONFIG_AMD_MEM_ENCRYPT',
  'CONFIG_ARCH_HAS_CC_PLATFORM',
  'CONFIG_HYPERVISOR_GUEST',
  'CONFIG_UNACCEPTED_MEMORY',
  'CONFIG_TSM_REPORTS',
  'CONFIG_GENERIC_IOMAP',
] as const;

export interface KernelVersion {
  /** e.g. "6.1.0" or "6.8.0-rc3" (VERSION.PATCHLEVEL.SUBLEVEL EXTRAVERSION). */
  version: string;
  name?: string;
  /** The Makefile it was read from. */
  makefile: string;
}

export interface ConfigInfo {
  path: string;
  /** Each listed option: its value ('y', 'm', a string) or 'not set'; options absent from the file are omitted. */
  options: Record<string, string>;
}

export interface ObjectProvenance {
  /** Source file (relative to the root) the object was looked up for. */
  source: string;
  object: string | undefined;
  state: ObjectState;
  message: string;
  origin?: ObjectInfo['origin'];
}

export interface Provenance {
  tool: { name: 'tdx-audit'; version: string };
  /** ISO 8601. */
  generatedAt: string;
  /** Tree root: paths in the report are relative to it. */
  root: string;
  /** What the user asked to audit, relative to the root. */
  scope: string[];
  profile: Profile;
  kernel?: KernelVersion;
  config?: ConfigInfo;
  /** Distinct DW_AT_producer strings of the objects used (compiler and flags). */
  compilers: string[];
  objects: ObjectProvenance[];
  /** Counts of objects per state, e.g. { fresh: 10, 'older-than-source': 2 }. */
  objectStates: Partial<Record<ObjectState, number>>;
  /**
   * Headers audited for which no object of their own was found: not a missing object
   * (a header's code is in the objects of the files that include it), so counted here
   * and left out of `objects` and `objectStates`.
   */
  headersWithoutObject?: number;
  /** Set when --objects/--vmlinux was asked for but compiled forms could not be joined. */
  compiledNote?: string;
}

/** Kernel version from a top-level kernel Makefile, undefined when the text is not one. */
export function parseKernelMakefile(text: string, makefile: string): KernelVersion | undefined {
  const lines = makefileVersionLines(text);
  const get = (n: keyof MakefileVersionLines) => lines[n];
  const v = get('VERSION');
  const p = get('PATCHLEVEL');
  if (!v || !/^\d+$/.test(v) || p === undefined || !/^\d+$/.test(p)) return undefined;
  const s = get('SUBLEVEL');
  const extra = get('EXTRAVERSION') ?? '';
  const name = get('NAME');
  return { version: `${v}.${p}${s !== undefined && s !== '' ? `.${s}` : ''}${extra}`, ...(name ? { name } : {}), makefile };
}

/** The TDX-relevant options of a .config (`CONFIG_X=y`, `# CONFIG_X is not set`). */
export function parseKernelConfig(text: string, path: string, wanted: readonly string[] = TDX_CONFIG_OPTIONS): ConfigInfo {
  const want = new Set(wanted);
  const options: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set && want.has(set[1])) options[set[1]] = set[2].replace(/^"(.*)"$/, '$1');
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset && want.has(unset[1])) options[unset[1]] = 'not set';
  }
  return { path, options };
}

/** Makefile, .config: small files a cloned tree may have made into /dev/zero links or FIFOs. */
const readText = (p: string): string | undefined => readTextOrUndefined(p, { maxBytes: MAX_CONFIG_BYTES });

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Deepest directory containing every path. */
export function commonDirectory(paths: string[]): string {
  const dirs = paths.map((p) => {
    const a = resolve(p);
    return isDir(a) ? a : dirname(a);
  });
  if (!dirs.length) return process.cwd();
  let parts = dirs[0].split(sep);
  for (const d of dirs.slice(1)) {
    const q = d.split(sep);
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(sep) || sep;
}

/**
 * The tree the paths belong to. Fingerprints and the triage file are relative to it,
 * so it must not depend on which part of the tree was asked for (the CLI on one
 * folder and the editor on the workspace must agree): the nearest ancestor of the
 * paths' common directory whose Makefile sets VERSION and PATCHLEVEL (a kernel tree);
 * else the nearest holding `.tdx-audit/` (a triage file's home), else `.git`; else
 * the common directory itself.
 */
/** The kernel version `dir`'s Makefile sets (VERSION and PATCHLEVEL), if it is a kernel tree's top. */
export function kernelMakefileAt(dir: string): KernelVersion | undefined {
  const mk = join(dir, 'Makefile');
  const text = readText(mk);
  return text !== undefined ? parseKernelMakefile(text, mk) : undefined;
}

export function findTreeRoot(paths: string[]): { root: string; kernel?: KernelVersion } {
  const common = commonDirectory(paths);
  const ancestors: string[] = [];
  for (let d = common; ; d = dirname(d)) {
    ancestors.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of ancestors) {
    const kernel = kernelMakefileAt(d);
    if (kernel) return { root: d, kernel };
  }
  for (const marker of TREE_MARKERS) {
    const d = ancestors.find((a) => pathExists(join(a, marker)));
    if (d) return { root: d };
  }
  return { root: common };
}

/** What marks a tree root outside a kernel tree, nearest first: the project's own folder, then git's. */
export const TREE_MARKERS = ['.tdx-audit', '.git'] as const;

export const pathExists = (p: string): boolean => {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
};

/** A .config as read: where, and its text. */
export interface DotConfigText {
  path: string;
  text: string;
}

/** The first of `candidates` that can be read as a .config (safe reader, size cap). */
export function readFirstConfig(candidates: readonly string[]): DotConfigText | undefined {
  for (const path of candidates) {
    const text = readText(path);
    if (text !== undefined) return { path, text };
  }
  return undefined;
}

export interface ProvenanceOptions {
  root: string;
  scope: string[];
  profile: Profile;
  kernel?: KernelVersion;
  /** Places to look for .config, first found wins (the tree, then an O= build dir). */
  configCandidates?: string[];
  /** The .config already read by the caller (report: --config or the first candidate); wins over the candidates. */
  dotConfig?: DotConfigText;
  /** Object used per source file (absolute source path), when compiled forms were joined. */
  objects?: { source: string; info: ObjectInfo }[];
  compiledNote?: string;
  now?: Date;
}

export function collectProvenance(o: ProvenanceOptions): Provenance {
  const rel = (p: string) => relativeTo(o.root, p);
  const found = o.dotConfig ?? readFirstConfig(o.configCandidates ?? [join(o.root, '.config')]);
  const config = found ? parseKernelConfig(found.text, found.path) : undefined;
  // "looked for arcdevice.o beside arcdevice.h" is no news: a header never has an object.
  const headerOnly = (x: { source: string; info: ObjectInfo }) => isHeader(x.source) && x.info.state === 'missing';
  const headersWithoutObject = (o.objects ?? []).filter(headerOnly).length;
  const objects: ObjectProvenance[] = (o.objects ?? [])
    .filter((x) => !headerOnly(x))
    .map(({ source, info }) => ({
      source: rel(source),
      object: info.path,
      state: info.state,
      message: info.message,
      ...(info.origin ? { origin: info.origin } : {}),
    }));
  const objectStates: Partial<Record<ObjectState, number>> = {};
  for (const ob of objects) objectStates[ob.state] = (objectStates[ob.state] ?? 0) + 1;
  const compilers = [...new Set((o.objects ?? []).map((x) => x.info.producer).filter((p): p is string => !!p))].sort();
  const kernel = o.kernel ?? kernelMakefileAt(o.root);
  return {
    tool: { name: 'tdx-audit', version: TOOL_VERSION },
    generatedAt: (o.now ?? new Date()).toISOString(),
    root: o.root,
    scope: o.scope.map(rel),
    profile: o.profile,
    ...(kernel ? { kernel } : {}),
    ...(config ? { config } : {}),
    compilers,
    objects,
    objectStates,
    ...(headersWithoutObject ? { headersWithoutObject } : {}),
    ...(o.compiledNote ? { compiledNote: o.compiledNote } : {}),
  };
}

const isHeader = (p: string) => /\.(?:h|hh|hpp)$/i.test(p);

/**
 * The scope as a reader names it: the tree root itself is its folder name
 * (`linux-6.1/`), not ".".
 */
export function scopeLabels(p: Pick<Provenance, 'root' | 'scope'>): string[] {
  const name = basename(p.root) || p.root;
  return p.scope.map((s) => (s === '.' ? `${name}/` : s));
}

/** "2 fresh, 10 missing; 3 headers (no object of their own)". */
export function objectStateText(p: Pick<Provenance, 'objectStates' | 'headersWithoutObject'>): string {
  const states = Object.entries(p.objectStates).map(([s, n]) => `${n} ${s}`);
  const h = p.headersWithoutObject ? `; ${p.headersWithoutObject} header${p.headersWithoutObject === 1 ? '' : 's'} (their code is in the including files' objects)` : '';
  return states.join(', ') + h;
}

/** '/'-separated path relative to root; the absolute path when outside it. */
export function relativeTo(root: string, p: string): string {
  const a = resolve(p);
  const r = root.endsWith(sep) ? root : root + sep;
  if (a === root) return '.';
  if (!a.startsWith(r)) return a.split(sep).join('/');
  return a.slice(r.length).split(sep).join('/');
}

/** First two path components (drivers/ata, arch/x86), '.' for a file at the root. */
export function subsystemOf(relPath: string): string {
  if (relPath.startsWith('/')) return dirname(relPath);
  const parts = relPath.split('/');
  parts.pop();
  return parts.length ? parts.slice(0, 2).join('/') : '.';
}
