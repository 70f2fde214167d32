// The `tdxAudit` settings as the server uses them. Values come from any client
// (VS Code, Neovim, Emacs, a hand-written settings table), so everything is
// validated and anything malformed falls back to the default instead of reaching
// the engine.

import type { AuditConfig, Severity } from '../audit/engine';
import type { PathMapping } from '../audit/objects';
import type { RuleCode } from '../c/types';
import { DEFAULT_SEVERITY } from '../audit/findings';
import { DEFAULT_PROFILE, isProfile } from '../x86/profiles';

export interface ServerSettings {
  enable: boolean;
  debounceMs: number;
  engine: AuditConfig;
  /** Object lookup as the user set it; server.ts turns it into engine.objects (trust, folders). */
  objects: { enable: boolean; buildDir?: string; vmlinux?: string; pathMap?: PathMapping[] };
  compile: { onSave: boolean; timeoutMs: number };
  /** Background workspace indexing after initialize. */
  index: { enable: boolean };
  /** Where Export Audit Report writes when the request names no folder (export.ts). */
  export: { folder?: string };
  /** What the TD kernel builds (kernelBuild.ts): a .config other than the tree's, a driver allow-list. */
  build: { config?: string; allowList?: string };
  /** `tdxAudit.profile` was set to a profile (not "auto"): it wins over the tree's Makefile. */
  profileExplicit: boolean;
}

const LEVELS: readonly (Severity | 'off')[] = ['error', 'warning', 'information', 'hint', 'off'];
/** Every rule code, from the default severity table (one list; a new rule needs no edit here). */
const RULES = Object.keys(DEFAULT_SEVERITY) as RuleCode[];

export const DEFAULT_SETTINGS: ServerSettings = {
  enable: true,
  debounceMs: 250,
  engine: { severity: {}, followIncludes: true, profile: DEFAULT_PROFILE },
  objects: { enable: true },
  compile: { onSave: false, timeoutMs: 60_000 },
  index: { enable: true },
  export: {},
  build: {},
  profileExplicit: false,
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a `tdxAudit` section. Accepts both the nested form (`{profile, severity, ...}`)
 * and the whole settings tree (`{tdxAudit: {...}}`), which is what push-style
 * didChangeConfiguration clients tend to send.
 */
export function parseSettings(raw: unknown): ServerSettings {
  let section: unknown = raw;
  if (isObject(raw) && isObject(raw.tdxAudit)) section = raw.tdxAudit;
  if (!isObject(section)) return cloneDefaults();

  const out = cloneDefaults();
  if (typeof section.enable === 'boolean') out.enable = section.enable;
  if (typeof section.debounceMs === 'number' && Number.isFinite(section.debounceMs)) {
    out.debounceMs = Math.min(5000, Math.max(0, Math.round(section.debounceMs)));
  }
  if (typeof section.followIncludes === 'boolean') out.engine.followIncludes = section.followIncludes;
  // "auto" (the default): the workspace tree's Makefile picks the kernel version (server.ts).
  if (typeof section.profile === 'string' && section.profile !== 'auto' && isProfile(section.profile)) {
    out.engine.profile = section.profile;
    out.profileExplicit = true;
  }
  // Both `objects: {buildDir}` and flat `"objects.buildDir"` keys (VS Code sends the nested form).
  const objects = isObject(section.objects) ? section.objects : {};
  const flat = (k: string): unknown => (section as Record<string, unknown>)[k];
  const objEnable = objects.enable ?? flat('objects.enable');
  if (typeof objEnable === 'boolean') out.objects.enable = objEnable;
  const buildDir = objects.buildDir ?? flat('objects.buildDir');
  if (typeof buildDir === 'string' && buildDir.trim()) out.objects.buildDir = buildDir.trim();
  const vmlinux = objects.vmlinux ?? flat('objects.vmlinux');
  if (typeof vmlinux === 'string' && vmlinux.trim()) out.objects.vmlinux = vmlinux.trim();
  const pathMap = parsePathMap(objects.pathMap ?? flat('objects.pathMap'));
  if (pathMap.length) out.objects.pathMap = pathMap;
  const compile = isObject(section.compile) ? section.compile : {};
  const onSave = compile.onSave ?? flat('compile.onSave');
  if (typeof onSave === 'boolean') out.compile.onSave = onSave;
  const timeout = compile.timeoutMs ?? flat('compile.timeoutMs');
  if (typeof timeout === 'number' && Number.isFinite(timeout)) out.compile.timeoutMs = Math.min(600_000, Math.max(1000, Math.round(timeout)));
  const index = isObject(section.index) ? section.index : {};
  const indexEnable = index.enable ?? flat('index.enable');
  if (typeof indexEnable === 'boolean') out.index.enable = indexEnable;
  const exp = isObject(section.export) ? section.export : {};
  const folder = exp.folder ?? flat('export.folder');
  if (typeof folder === 'string' && folder.trim()) out.export.folder = folder.trim();
  const build = isObject(section.build) ? section.build : {};
  for (const key of ['config', 'allowList'] as const) {
    const v = build[key] ?? flat(`build.${key}`);
    if (typeof v === 'string' && v.trim()) out.build[key] = v.trim();
  }
  if (isObject(section.severity)) {
    for (const [rule, level] of Object.entries(section.severity)) {
      if ((RULES as readonly string[]).includes(rule) && typeof level === 'string' && (LEVELS as readonly string[]).includes(level)) {
        out.engine.severity[rule as RuleCode] = level as Severity | 'off';
      }
    }
  }
  return out;
}

/** Most mappings one setting may hold (each is tried per unit). */
const MAX_PATH_MAPPINGS = 64;

/**
 * `tdxAudit.objects.pathMap`: the path an object names -> the path the sources
 * are at, like gdb's substitute-path (a `{"FROM": "TO"}` object, as launch.json's
 * sourceFileMap); `[{from, to}]` and `["FROM=TO"]` are taken too. Entries that are
 * not two non-empty strings are dropped. TO may start with ${workspaceFolder}.
 */
export function parsePathMap(raw: unknown): PathMapping[] {
  const out: PathMapping[] = [];
  const add = (from: unknown, to: unknown) => {
    if (typeof from !== 'string' || typeof to !== 'string') return;
    const f = from.trim();
    const t = to.trim();
    if (f && t && out.length < MAX_PATH_MAPPINGS) out.push({ from: f, to: t });
  };
  if (Array.isArray(raw)) {
    for (const e of raw) {
      if (typeof e === 'string') {
        const k = e.indexOf('=');
        if (k > 0) add(e.slice(0, k), e.slice(k + 1));
      } else if (isObject(e)) add(e.from, e.to);
    }
  } else if (isObject(raw)) {
    for (const [from, to] of Object.entries(raw)) add(from, to);
  }
  return out;
}

function cloneDefaults(): ServerSettings {
  return { ...DEFAULT_SETTINGS, engine: { ...DEFAULT_SETTINGS.engine, severity: {} }, objects: { ...DEFAULT_SETTINGS.objects }, compile: { ...DEFAULT_SETTINGS.compile }, index: { ...DEFAULT_SETTINGS.index }, export: { ...DEFAULT_SETTINGS.export }, build: { ...DEFAULT_SETTINGS.build } };
}

/** Whether two settings differ in a way that changes audit results or their diagnostics (the build state fades them). */
export function auditAffectingChange(a: ServerSettings, b: ServerSettings): boolean {
  return a.enable !== b.enable || canonical(a.engine) !== canonical(b.engine) || JSON.stringify(a.build) !== JSON.stringify(b.build) || a.objects.buildDir !== b.objects.buildDir;
}

function canonical(c: AuditConfig): string {
  const severity = Object.entries(c.severity).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return JSON.stringify([c.profile, c.followIncludes, severity, c.objects ?? null]);
}

/**
 * Workspace trust from initializationOptions. Absent options, or options without a
 * `trusted` key, mean trusted (other editors have no notion of trust; README says
 * so). Only the boolean `true` is trust when the key is there: `"false"`, `0`,
 * `null`, `"untrusted"` and a `null` options object are untrusted, and said so.
 */
export function trustFrom(options: unknown): { trusted: boolean; note?: string } {
  if (options === undefined) return { trusted: true };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return { trusted: false, note: `initializationOptions is ${JSON.stringify(options)}, not an object: treating the workspace as untrusted` };
  }
  if (!Object.prototype.hasOwnProperty.call(options, 'trusted')) return { trusted: true };
  const v = (options as { trusted?: unknown }).trusted;
  if (v === true) return { trusted: true };
  if (v === false) return { trusted: false };
  return { trusted: false, note: `initializationOptions.trusted is ${JSON.stringify(v) ?? String(v)}, not true or false: treating the workspace as untrusted` };
}
