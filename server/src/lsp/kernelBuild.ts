// What the TD kernel builds, for the editor: each file's place in the kernel a
// `.config` describes (audit/kbuild.ts: built-in, module, not built, unknown) and
// whether a driver allow-list names it (audit/allowList.ts): the same `build`
// record `tdx-audit report` gives every finding. Diagnostics of a file the .config
// does not build are faded and set aside (diagnostics.ts, counts.ts).
//
// The Kbuild map of a tree reads its Makefiles lazily but keeps them: one map per
// tree, kept until a Makefile or Kbuild file changes (the server's file watcher).
// A .config or allow-list is re-read when its size or mtime changes, checked at
// most once a second (the workspace view asks for every indexed file at once).

import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { KbuildMap, parseDotConfig, treeKbuild, type DotConfig } from '../audit/kbuild';
import { allowed, parseAllowList, type AllowList } from '../audit/allowList';
import type { FileBuild } from '../audit/report/model';
import { findTreeRoot, kernelMakefileAt, relativeTo } from '../audit/report/provenance';
import { MAX_CONFIG_BYTES, readTextOrUndefined } from '../fs/safeRead';

/** A file's build record, with the .config it was judged by (for the hover). */
export interface BuildInfo extends FileBuild {
  /** The .config that decided `state`. */
  config?: string;
  /** The allow-list that decided `allowed`. */
  allowList?: string;
}

export interface BuildSettings {
  /** tdxAudit.build.config: a .config to judge by (absolute, or relative to the first workspace folder). */
  config?: string;
  /** tdxAudit.build.allowList: the drivers a TD runs. */
  allowList?: string;
  /** tdxAudit.objects.buildDir: an O= build keeps its .config there. */
  buildDir?: string;
  /**
   * An untrusted workspace: only the tree's own .config and Makefiles are read (data
   * inside the tree, through the safe reader); no file a setting names.
   */
  trusted: boolean;
}

/** How often the .config and allow-list files are checked for changes, at most. */
const RECHECK_MS = 1000;

interface Watched<T> {
  path: string;
  /** size:mtime:inode, or 'missing'. */
  key: string;
  value: T | undefined;
}

/** A file read again when its size, mtime or inode changes; value undefined while it is missing or unreadable. */
function watched<T>(path: string, parse: (text: string) => T, roots: string[] | undefined, prev: Watched<T> | undefined): Watched<T> {
  let key = 'missing';
  try {
    const st = statSync(path);
    key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    key = 'missing';
  }
  if (prev && prev.path === path && prev.key === key) return prev;
  const text = key === 'missing' ? undefined : readTextOrUndefined(path, { maxBytes: MAX_CONFIG_BYTES, ...(roots ? { roots } : {}) });
  return { path, key, value: text === undefined ? undefined : parse(text) };
}

interface Tree {
  root: string;
  kernel: boolean;
  kbuild: KbuildMap | undefined;
  /** The .config in force; undefined until read (or after the watcher reported a change). */
  config: Watched<DotConfig> | undefined;
}

/** Which file, at which size/mtime: an answer holds while this is the same. */
const sigOf = (w: Watched<unknown> | undefined): string => (w ? `${w.path}\0${w.key}` : '');

export class KernelBuild {
  private settings: BuildSettings = { trusted: true };
  /** The kernel tree holding each directory asked about (null: none), each directory's Makefile read once. */
  private readonly kernelRoots = new Map<string, string | null>();
  private readonly trees = new Map<string, Tree>();
  private list: Watched<AllowList> | undefined;
  /**
   * Answers by absolute path (null: nothing known), valid until anything they depend
   * on changes: the workspace view asks for every indexed file each time it changes, so
   * a repeated answer must cost a map lookup, not a path walk.
   */
  private readonly answers = new Map<string, BuildInfo | null>();
  private checkedAt = 0;

  /** @param folders the workspace folders; a relative setting is relative to the first. */
  constructor(private readonly folders: () => readonly string[]) {}

  configure(s: BuildSettings): void {
    if (JSON.stringify(s) === JSON.stringify(this.settings)) return;
    this.settings = { ...s };
    for (const t of this.trees.values()) t.config = undefined;
    this.list = undefined;
    this.forgetAnswers();
  }

  /**
   * A Makefile, Kbuild file or .config changed on disk (or was created or deleted):
   * what was read from it is dropped. Returns whether answers may have changed.
   */
  changed(path: string): boolean {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (path === this.allowListPath()) this.list = undefined;
    else if (name === '.config') {
      // The tree's own, an O= build's or the setting's: cheap to read again, so every tree does.
      for (const t of this.trees.values()) t.config = undefined;
    } else if (name === 'Makefile' || name === 'Kbuild') {
      // A top Makefile may have become (or stopped being) a kernel tree's; a folder's
      // Makefile changes the map of the tree holding it (read again lazily).
      if (name === 'Makefile') this.kernelRoots.clear();
      for (const t of [...this.trees.values()]) if (path.startsWith(t.root.endsWith('/') ? t.root : t.root + '/')) this.trees.delete(t.root);
    } else return false;
    this.forgetAnswers();
    return true;
  }

  /** What the TD kernel does with a source file (absolute path); undefined when nothing is known. */
  of(path: string): BuildInfo | undefined {
    this.recheck();
    const hit = this.answers.get(path);
    if (hit !== undefined) return hit ?? undefined;
    const info = this.judge(path);
    this.answers.set(path, info ?? null);
    return info;
  }

  private judge(path: string): BuildInfo | undefined {
    const tree = this.treeOf(path);
    if (!tree) return undefined;
    const rel = relativeTo(tree.root, path);
    if (rel.startsWith('/') || rel.startsWith('..')) return undefined;
    tree.config ??= this.configOf(tree);
    this.list ??= this.allowListFile();
    const config = tree.config?.value;
    const list = this.list?.value;
    if (!config && !list) return undefined;
    const v = config && tree.kbuild ? tree.kbuild.verdict(rel, config) : undefined;
    const on = list ? allowed(list, rel, tree.kbuild ? tree.kbuild.objectsOf(rel) : []) : undefined;
    return {
      ...(v ? { state: v.state, why: v.why, config: tree.config!.path } : {}),
      ...(on !== undefined ? { allowed: on, allowList: this.list!.path } : {}),
    };
  }

  /** At most once a second: a .config or allow-list edited without a watcher event (another client, a script). */
  private recheck(): void {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    let changed = false;
    for (const t of this.trees.values()) {
      if (!t.config) continue;
      const next = this.configOf(t);
      if (next !== t.config && sigOf(next) !== sigOf(t.config)) changed = true;
      t.config = next;
    }
    if (this.list) {
      const next = this.allowListFile();
      if (sigOf(next) !== sigOf(this.list)) changed = true;
      this.list = next;
    }
    if (changed) this.forgetAnswers();
  }

  private forgetAnswers(): void {
    this.answers.clear();
  }

  /**
   * The files the settings name, resolved (none in an untrusted workspace): what an
   * export passes to buildReport as `config` and `allowList`, so that the report judges
   * by the same .config and list as the diagnostics.
   */
  reportOptions(): { config?: string; allowList?: string } {
    const config = this.settingPath(this.settings.config);
    const allowList = this.allowListPath();
    return { ...(config ? { config } : {}), ...(allowList ? { allowList } : {}) };
  }

  private treeOf(path: string): Tree | undefined {
    const kernelRoot = this.kernelRootOf(dirname(path));
    // Kbuild states only in a kernel tree (as `report`); an allow-list anywhere (the root report would take).
    if (kernelRoot === null && !this.allowListPath()) return undefined;
    const r = kernelRoot !== null ? { root: kernelRoot, kernel: true } : { root: findTreeRoot([path]).root, kernel: false };
    let tree = this.trees.get(r.root);
    if (!tree) {
      tree = { root: r.root, kernel: r.kernel, kbuild: r.kernel ? treeKbuild(r.root) : undefined, config: undefined };
      this.trees.set(r.root, tree);
    }
    return tree;
  }

  /**
   * The nearest directory at or above `dir` whose Makefile names a kernel VERSION and
   * PATCHLEVEL (findTreeRoot's rule), memoised per directory: a whole tree's 2,000
   * folders cost one Makefile read each, not one per ancestor of each.
   */
  private kernelRootOf(dir: string): string | null {
    const hit = this.kernelRoots.get(dir);
    if (hit !== undefined) return hit;
    const parent = dirname(dir);
    const root = kernelMakefileAt(dir) ? dir : parent === dir ? null : this.kernelRootOf(parent);
    this.kernelRoots.set(dir, root);
    return root;
  }

  /** The .config: the setting's, else the tree's, else the O= build directory's (as `report`). */
  private configOf(tree: Tree): Watched<DotConfig> | undefined {
    if (!tree.kernel) return undefined;
    const prev = (p: string) => (tree.config?.path === p ? tree.config : undefined);
    const named = this.settingPath(this.settings.config);
    if (named) return watched(named, parseDotConfig, undefined, prev(named));
    const ownPath = join(tree.root, '.config');
    const own = watched(ownPath, parseDotConfig, [tree.root], prev(ownPath));
    if (own.value) return own;
    const build = this.settingPath(this.settings.buildDir);
    if (build) {
      const p = join(build, '.config');
      const o = watched(p, parseDotConfig, undefined, prev(p));
      if (o.value) return o;
    }
    return own;
  }

  private allowListFile(): Watched<AllowList> | undefined {
    const p = this.allowListPath();
    return p ? watched(p, parseAllowList, undefined, this.list) : undefined;
  }

  private allowListPath(): string | undefined {
    return this.settingPath(this.settings.allowList);
  }

  /** A path a setting names: never in an untrusted workspace; ${workspaceFolder} and relative paths are under the first folder. */
  private settingPath(p: string | undefined): string | undefined {
    if (!p || !this.settings.trusted) return undefined;
    const first = this.folders()[0];
    const expanded = first ? p.replace(/^\$\{workspaceFolder\}/, first) : p;
    if (isAbsolute(expanded)) return resolve(expanded);
    return first ? resolve(first, expanded) : undefined;
  }
}
