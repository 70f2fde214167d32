// What the TD kernel builds: which CONFIG_ symbols put a source file into the
// kernel, read from Kbuild's own Makefiles, and whether a given .config builds it
// (built-in, module, not built). Kbuild's rules, as scripts/Makefile.build reads
// them:
//   obj-y += foo.o            always (when the folder is built)
//   obj-$(CONFIG_X) += foo.o  when X is y (built-in) or m (module)
//   obj-m += foo.o            as a module
//   foo-y := a.o b.o          composite object foo.o made of a.c, b.c
//   foo-objs := a.o b.o       the same, older spelling
//   foo-$(CONFIG_Y) += c.o    c.c joins foo.o when Y is set
//   obj-$(CONFIG_X) += dir/   descend into dir/ when X is set
// A folder's `Kbuild` file wins over its `Makefile`. Conditions we cannot
// evaluate (ifeq on anything but one CONFIG_ symbol, $(if ...), variables) make the
// answer "unknown", never a guess. Makefiles are read through the safe reader: a
// tree is hostile (FIFOs, links to /dev/zero, huge files).

import { posix } from 'node:path';
import { readTextOrUndefined } from '../fs/safeRead';

/** One way a source file gets built: every symbol must be set (y or m). */
export interface BuildPath {
  /** CONFIG_ symbols, outermost folder first. */
  symbols: string[];
  /** Listed under obj-m (a module whatever the symbols say). */
  module: boolean;
  /** A condition on the way could not be read (ifeq on an expression, a variable). */
  uncertain: boolean;
  /** Evidence, outermost first: "drivers/net/Makefile:12". */
  via: string[];
  /** The object Kbuild links it into: the module's name when built as one (aoe for aoe/aoeblk.c). */
  object?: string;
}

export type BuildState = 'built-in' | 'module' | 'not-built' | 'unknown';

export interface BuildVerdict {
  state: BuildState;
  /** Why, in a line: the symbols that decided it. */
  why: string;
}

/** A .config: CONFIG_FOO=y|m|"string"|number; "# CONFIG_FOO is not set" is absent. */
export type DotConfig = ReadonlyMap<string, string>;

/** Parses a .config (or an `include/config/auto.conf`). */
export function parseDotConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** An assignment of a Makefile, with the conditions around it. */
interface Assignment {
  /** obj, lib, or a composite object's stem. */
  target: string;
  /** y, m, objs, or the CONFIG_ symbol of `$(CONFIG_X)`. */
  gate: string;
  /** The gate was an expression we do not evaluate. */
  opaque: boolean;
  items: string[];
  line: number;
  /** Enclosing `ifdef CONFIG_X`-style conditions. */
  conditions: string[];
  uncertain: boolean;
}

/** Kbuild lists that name objects; anything else (ccflags-y, always-y, hostprogs...) is not an object list. */
const NOT_OBJECTS = /^(?:ccflags|asflags|ldflags|subdir-ccflags|subdir-asflags|always|extra|targets|hostprogs|userprogs|clean-files|clean-dirs|header-test|no-clean-files|CFLAGS|AFLAGS|KASAN_SANITIZE|UBSAN_SANITIZE|KCOV_INSTRUMENT|OBJECT_FILES_NON_STANDARD|GCOV_PROFILE|KCSAN_SANITIZE|quiet_cmd|cmd|hostcflags|HOSTCFLAGS|HOST_EXTRACFLAGS|subdir)(?:-|$)/;

const MAX_MAKEFILE_BYTES = 1 << 20;
/** A path deeper than this is a loop (links) or not a kernel tree. */
const MAX_DEPTH = 32;

/** Reads a Makefile's text; undefined when it is missing, not a regular file, or too large. */
export type MakefileReader = (path: string, maxBytes: number) => string | undefined;

export class KbuildMap {
  private readonly folders = new Map<string, { file: string; list: Assignment[] } | null>();
  private readonly memo = new Map<string, BuildPath[]>();

  /** `root`: the kernel tree (absolute). */
  constructor(private readonly root: string, private readonly read: MakefileReader) {}

  /** The ways a file (tree-relative, e.g. drivers/atm/iphase.c) is built; [] when no Makefile names it. */
  pathsFor(relPath: string): BuildPath[] {
    const rel = posix.normalize(relPath);
    let dir = posix.dirname(rel);
    let obj = posix.basename(rel).replace(/\.[cS]$/, '') + '.o';
    // A folder's Makefile may name objects of its subfolders (foo-y += sub/bar.o).
    for (let up = 0; up < 3; up++) {
      const paths = this.objectPaths(dir, obj, 0);
      if (paths.length || dir === '.') return paths;
      // Even when Kbuild descends into the folder, a parent may name the file by its
      // longer path (drivers/gpu/drm/Makefile: drm_kms_helper-y += bridge/panel.o).
      obj = `${posix.basename(dir)}/${obj}`;
      dir = posix.dirname(dir);
    }
    return [];
  }

  /** The objects (modules, when built as modules) the file is linked into. */
  objectsOf(relPath: string): string[] {
    return [...new Set(this.pathsFor(relPath).map((p) => p.object).filter((o): o is string => o !== undefined))];
  }

  /** What `config` does with the file. */
  verdict(relPath: string, config: DotConfig): BuildVerdict {
    const paths = this.pathsFor(relPath);
    if (paths.length === 0) return { state: 'unknown', why: 'no Kbuild Makefile names it' };
    const states = paths.map((p) => evaluate(p, config));
    const pick = (s: BuildState) => states.find((x) => x.state === s);
    return pick('built-in') ?? pick('module') ?? pick('unknown') ?? states[0]!;
  }

  /** How `obj` (a name in `dir`, e.g. foo.o or sub/) is built, through its folder's parents. */
  private objectPaths(dir: string, obj: string, depth: number): BuildPath[] {
    const key = `${dir}\0${obj}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    this.memo.set(key, []); // a composite that names itself ends here
    const out: BuildPath[] = [];
    if (depth <= MAX_DEPTH) {
      const list = this.assignments(dir);
      if (list) {
        for (const a of list) {
          if (!a.items.includes(obj)) continue;
          const here: BuildPath = {
            symbols: [...a.conditions, ...(a.gate.startsWith('CONFIG_') ? [a.gate] : [])],
            module: a.gate === 'm',
            uncertain: a.uncertain || a.opaque,
            via: [`${posix.join(dir, this.folders.get(dir)!.file)}:${a.line}`],
            ...((a.target === 'obj' || a.target === 'lib') && obj.endsWith('.o') ? { object: posix.basename(obj, '.o') } : {}),
          };
          if (a.target === 'obj' || a.target === 'lib') {
            for (const up of this.folderPaths(dir, depth + 1)) out.push(join(up, here));
          } else if (!NOT_OBJECTS.test(a.target)) {
            // A part of composite object <target>.o.
            for (const whole of this.objectPaths(dir, a.target + '.o', depth + 1)) out.push(join(whole, here));
          }
        }
      }
    }
    this.memo.set(key, out);
    return out;
  }

  /**
   * How the folder itself is entered: from the nearest ancestor whose Makefile
   * names it (`obj-$(CONFIG_X) += sub/`, or drivers/Makefile's `+= block/aoe/`),
   * or unconditionally for the top folders, which the top Makefile enters itself.
   */
  private folderPaths(dir: string, depth: number): BuildPath[] {
    const top: BuildPath[] = [{ symbols: [], module: false, uncertain: false, via: [] }];
    if (dir === '.' || dir === '') return top;
    // arch/<arch> and the top folders: entered by the top Makefile's own rules (core-y, drivers-y).
    const parent = posix.dirname(dir);
    if (parent === '.' || parent === 'arch') return top;
    for (let a = parent; a !== '.' && a !== 'arch'; a = posix.dirname(a)) {
      const list = this.assignments(a);
      const name = posix.relative(a, dir) + '/';
      if (list?.some((x) => x.items.includes(name))) return this.objectPaths(a, name, depth);
    }
    return []; // no Makefile enters it
  }

  /** The folder's Kbuild file (or Makefile), parsed once; null when it has neither. */
  private assignments(dir: string): Assignment[] | null {
    let hit = this.folders.get(dir);
    if (hit === undefined) {
      hit = null;
      for (const file of ['Kbuild', 'Makefile']) {
        const text = this.read(posix.join(this.root, dir, file), MAX_MAKEFILE_BYTES);
        if (text !== undefined) {
          hit = { file, list: parseKbuild(text) };
          break;
        }
      }
      this.folders.set(dir, hit);
    }
    return hit ? hit.list : null;
  }
}

function join(outer: BuildPath, inner: BuildPath): BuildPath {
  return {
    symbols: [...new Set([...outer.symbols, ...inner.symbols])],
    module: outer.module || inner.module,
    uncertain: outer.uncertain || inner.uncertain,
    via: [...outer.via, ...inner.via],
    ...((outer.object ?? inner.object) !== undefined ? { object: outer.object ?? inner.object } : {}),
  };
}

function evaluate(p: BuildPath, config: DotConfig): BuildVerdict {
  let module = p.module;
  for (const s of p.symbols) {
    const v = config.get(s);
    if (v === undefined || v === 'n') return { state: 'not-built', why: `${s} is not set (${p.via.at(-1) ?? 'Kbuild'})` };
    if (v === 'm') module = true;
  }
  if (p.uncertain) return { state: 'unknown', why: `a condition in ${p.via.join(', ')} is not a CONFIG_ symbol` };
  const syms = p.symbols.length ? p.symbols.map((s) => `${s}=${config.get(s)}`).join(', ') : 'obj-y';
  return { state: module ? 'module' : 'built-in', why: syms };
}

/** The words of a list, with $(name) replaced by an earlier list of that name; other $(...) dropped. */
function expand(text: string, vars: ReadonlyMap<string, string[]>, depth: number): string[] {
  const out: string[] = [];
  for (const w of text.split(/\s+/)) {
    if (!w) continue;
    const ref = /^\$\(([A-Za-z0-9_.-]+)\)$/.exec(w);
    if (ref && depth < 8) out.push(...(vars.get(ref[1]!) ?? []));
    else if (!w.includes('$')) out.push(w);
  }
  return out;
}

/** The assignments of one Kbuild Makefile, with `ifdef`/`ifeq` conditions on one CONFIG_ symbol. */
export function parseKbuild(text: string): Assignment[] {
  const out: Assignment[] = [];
  // Join continuation lines, remembering where each logical line starts.
  const raw = text.split('\n');
  const lines: { text: string; line: number }[] = [];
  for (let i = 0; i < raw.length; i++) {
    const start = i;
    let t = raw[i]!;
    while (t.endsWith('\\') && i + 1 < raw.length) t = t.slice(0, -1) + ' ' + raw[++i]!;
    lines.push({ text: t.replace(/(^|[^\\])#.*$/, '$1'), line: start + 1 });
  }
  /** Enclosing conditions: a symbol, or null for one we cannot read (or an else branch). */
  const stack: (string | null)[] = [];
  /** Lists by name (foo-y, gem-y, plain FOO := a.o), for $(name) in later lists. */
  const vars = new Map<string, string[]>();
  for (const { text: t, line } of lines) {
    const s = t.trim();
    if (!s) continue;
    let m: RegExpExecArray | null;
    if ((m = /^ifdef\s+(CONFIG_\w+)$/.exec(s))) stack.push(m[1]!);
    else if ((m = /^ifeq\s*\(\s*\$\((CONFIG_\w+)\)\s*,\s*[ym]\s*\)$/.exec(s))) stack.push(m[1]!);
    else if ((m = /^ifneq\s*\(\s*\$\((CONFIG_\w+)\)\s*,\s*\)$/.exec(s))) stack.push(m[1]!);
    else if (/^if(n?def|n?eq)\b/.test(s)) stack.push(null);
    else if (/^else\b/.test(s)) {
      if (stack.length) stack[stack.length - 1] = null; // the negation of a symbol is not one
    } else if (/^endif\b/.test(s)) stack.pop();
    else if ((m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(:=|\+=|=)\s*(.*)$/.exec(s))) {
      vars.set(m[1]!, [...(m[2] === '+=' ? vars.get(m[1]!) ?? [] : []), ...expand(m[3]!, vars, 0)]);
    }
    else if ((m = /^([A-Za-z0-9_.-]+?)-(\$\((.*)\)|y|m|objs)\s*(?::=|\+=|=)\s*(.*)$/.exec(s))) {
      const target = m[1]!;
      const expr = m[3];
      let gate = m[2]!;
      let opaque = false;
      if (expr !== undefined) {
        const sym = /^(CONFIG_\w+)$/.exec(expr.trim());
        if (sym) gate = sym[1]!;
        else {
          // $(subst m,y,$(CONFIG_X)) and the like: the symbol decides, the expression is not read.
          const inner = /\$\((CONFIG_\w+)\)/.exec(expr);
          gate = inner ? inner[1]! : 'expr';
          opaque = true;
        }
      }
      const items = expand(m[4]!, vars, 0);
      // Remember the list as a variable too: i915-y += $(gem-y) reuses it.
      const key = `${target}-${m[2]}`;
      vars.set(key, [...(m[0]!.includes('+=') ? vars.get(key) ?? [] : []), ...items]);
      if (!items.length) continue;
      const conditions = stack.filter((c): c is string => c !== null);
      out.push({ target, gate, opaque, items, line, conditions, uncertain: stack.some((c) => c === null) });
    }
  }
  return out;
}

/** The Kbuild map of a tree, reading its Makefiles through the safe reader, never outside the tree. */
export function treeKbuild(root: string): KbuildMap {
  return new KbuildMap(root, (p, maxBytes) => readTextOrUndefined(p, { maxBytes, roots: [root] }));
}
