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
import { findTreeRoot, relativeTo } from '../audit/report/provenance';
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

/** How often a .config or allow-list is checked for changes, at most. */
const RECHECK_MS = 1000;

interface Watched<T> {
  path: string;
  key: string;
  checked: number;
  value: T | undefined;
}

/** A file read again when its size or mtime changes; undefined while it is missing or unreadable. */
function watched<T>(path: string, parse: (text: string) => T, roots: string[] | undefined, prev: Watched<T> | undefined, now: number): Watched<T> {
  if (prev && prev.path === path && now - prev.checked < RECHECK_MS) return prev;
  let key = 'missing';
  try {
    const st = statSync(path);
    key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    key = 'missing';
  }
  if (prev && prev.path === path && prev.key === key) return { ...prev, checked: now };
  const text = key === 'missing' ? undefined : readTextOrUndefined(path, { maxBytes: MAX_CONFIG_BYTES, ...(roots ? { roots } : {}) });
  return { path, key, checked: now, value: text === undefined ? undefined : parse(text) };
}

interface Tree {
  root: string;
  kernel: boolean;
  kbuild: KbuildMap | undefined;
  config: Watched<DotConfig> | undefined;
  /** Verdicts by tree-relative path, valid for the .config and allow-list of `sig`. */
  verdicts: Map<string, BuildInfo>;
  sig: string;
}

/** Which file, at which size/mtime: a verdict holds while this is the same. */
const sigOf = (w: Watched<unknown> | undefined): string => (w ? `${w.path}\0${w.key}` : '');

export class KernelBuild {
  private settings: BuildSettings = { trusted: true };
  /** Tree root by the directory of a file (findTreeRoot reads each ancestor's Makefile). */
  private readonly roots = new Map<string, { root: string; kernel: boolean }>();
  private readonly trees = new Map<string, Tree>();
  private list: Watched<AllowList> | undefined;

  /** @param folders the workspace folders; a relative setting is relative to the first. */
  constructor(private readonly folders: () => readonly string[]) {}

  configure(s: BuildSettings): void {
    const same = JSON.stringify(s) === JSON.stringify(this.settings);
    this.settings = { ...s };
    if (!same) {
      for (const t of this.trees.values()) {
        t.config = undefined;
        t.sig = '';
      }
      this.list = undefined;
    }
  }

  /**
   * A Makefile, Kbuild file or .config changed on disk (or was created or deleted):
   * the trees it may belong to forget what they read. Returns whether anything was dropped.
   */
  changed(path: string): boolean {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (name !== 'Makefile' && name !== 'Kbuild' && name !== '.config' && path !== this.allowListPath()) return false;
    if (path === this.allowListPath()) {
      this.list = undefined;
      return true;
    }
    // A top Makefile may have become (or stopped being) a kernel tree's.
    if (name === 'Makefile') this.roots.clear();
    let any = false;
    for (const t of [...this.trees.values()]) {
      if (path !== t.root && !path.startsWith(t.root.endsWith('/') ? t.root : t.root + '/') && name !== '.config') continue;
      if (name === '.config') {
        t.config = undefined;
        t.sig = '';
      } else this.trees.delete(t.root);
      any = true;
    }
    return any || name === 'Makefile';
  }

  /** What the TD kernel does with a source file (absolute path); undefined when nothing is known. */
  of(path: string): BuildInfo | undefined {
    const tree = this.treeOf(path);
    if (!tree) return undefined;
    const rel = relativeTo(tree.root, path);
    if (rel.startsWith('/') || rel.startsWith('..')) return undefined;
    const now = Date.now();
    tree.config = this.configOf(tree, now);
    const list = this.allowList(now);
    const sig = `${sigOf(tree.config)}\n${sigOf(this.list)}`;
    if (sig !== tree.sig) {
      tree.verdicts.clear();
      tree.sig = sig;
    }
    const hit = tree.verdicts.get(rel);
    if (hit) return hit;
    const config = tree.config?.value;
    if (!config && !list) return undefined;
    const v = config && tree.kbuild ? tree.kbuild.verdict(rel, config) : undefined;
    const on = list ? allowed(list, rel, tree.kbuild ? tree.kbuild.objectsOf(rel) : []) : undefined;
    const info: BuildInfo = {
      ...(v ? { state: v.state, why: v.why, config: tree.config!.path } : {}),
      ...(on !== undefined ? { allowed: on, allowList: this.list!.path } : {}),
    };
    tree.verdicts.set(rel, info);
    return info;
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
    const dir = dirname(path);
    let r = this.roots.get(dir);
    if (!r) {
      const t = findTreeRoot([path]);
      r = { root: t.root, kernel: t.kernel !== undefined };
      this.roots.set(dir, r);
    }
    // Kbuild states only in a kernel tree (as `report`); an allow-list anywhere.
    if (!r.kernel && !this.allowListPath()) return undefined;
    let tree = this.trees.get(r.root);
    if (!tree) {
      tree = { root: r.root, kernel: r.kernel, kbuild: r.kernel ? treeKbuild(r.root) : undefined, config: undefined, verdicts: new Map(), sig: '' };
      this.trees.set(r.root, tree);
    }
    return tree;
  }

  /** The .config: the setting's, else the tree's, else the O= build directory's (as `report`). */
  private configOf(tree: Tree, now: number): Watched<DotConfig> | undefined {
    if (!tree.kernel) return undefined;
    const parse = (t: string) => parseDotConfig(t);
    const named = this.settingPath(this.settings.config);
    if (named) return watched(named, parse, undefined, tree.config, now);
    const own = watched(join(tree.root, '.config'), parse, [tree.root], tree.config?.path === join(tree.root, '.config') ? tree.config : undefined, now);
    if (own.value) return own;
    const build = this.settingPath(this.settings.buildDir);
    if (build) {
      const p = join(build, '.config');
      const o = watched(p, parse, undefined, tree.config?.path === p ? tree.config : undefined, now);
      if (o.value) return o;
    }
    return own;
  }

  private allowList(now: number): AllowList | undefined {
    const p = this.allowListPath();
    this.list = p ? watched(p, parseAllowList, undefined, this.list, now) : undefined;
    return this.list?.value;
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
