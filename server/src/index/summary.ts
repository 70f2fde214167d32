// What the workspace index knows, for a workspace view (a tree of folders and files
// with their counts and findings) and for an export that wants to skip work the
// index already did. Read-only views of an IndexResult; nothing here audits.

import { dirname, relative, sep } from 'node:path';
import type { Severity } from '../audit/engine';
import type { RuleCode } from '../c/types';
import type { IndexResult } from './indexer';
import type { IndexedFile, IndexedFinding } from './types';

export type { IndexedFile, IndexedFinding };

export interface Counts {
  files: number;
  sites: number;
  errors: number;
  warnings: number;
  others: number;
}

/** One folder of the workspace view: its own files and its subfolders, with totals over both. */
export interface FolderSummary {
  /** Absolute path of the folder. */
  path: string;
  /** Its name relative to the parent folder ('' for a workspace root). */
  name: string;
  totals: Counts;
  byRule: Partial<Record<RuleCode, number>>;
  folders: FolderSummary[];
  files: IndexedFile[];
}

export interface WorkspaceView {
  /** One tree per workspace folder that holds files with sites, in the folders' order. */
  roots: FolderSummary[];
  totals: Counts;
  /** Files the pre-filter (or the worker's look through headers) found no site in. */
  skipped: number;
  failures: { path: string; message: string }[];
  capped: boolean;
  cancelled: boolean;
  ms: number;
}

export interface ViewOptions {
  /** Keep only findings at these severities (files keep their counts). Default: all. */
  severities?: readonly Severity[];
}

function emptyCounts(): Counts {
  return { files: 0, sites: 0, errors: 0, warnings: 0, others: 0 };
}

function add(c: Counts, f: Pick<IndexedFile, 'sites' | 'errors' | 'warnings' | 'others'>, files = 1): void {
  c.files += files;
  c.sites += f.sites;
  c.errors += f.errors;
  c.warnings += f.warnings;
  c.others += f.others;
}

function addRules(into: Partial<Record<RuleCode, number>>, from: Partial<Record<RuleCode, number>>): void {
  for (const [k, v] of Object.entries(from) as [RuleCode, number][]) into[k] = (into[k] ?? 0) + v;
}

/**
 * The index as a folder tree per workspace folder: every file with sites under the
 * deepest workspace folder holding it, folders sorted by name, files by path.
 * Totals of a folder include its subfolders. Files outside every folder (none, in
 * an index run) are ignored.
 */
export function workspaceView(result: IndexResult, folders: readonly string[], opts: ViewOptions = {}): WorkspaceView {
  const keep = opts.severities ? new Set(opts.severities) : undefined;
  const roots = new Map<string, FolderSummary>();
  const byPath = new Map<string, FolderSummary>();
  const folderNode = (path: string, name: string): FolderSummary => ({ path, name, totals: emptyCounts(), byRule: {}, folders: [], files: [] });
  // Deepest first, so a nested workspace folder takes its own files.
  const ordered = [...folders].sort((a, b) => b.length - a.length);
  const totals = emptyCounts();
  for (const f of result.files) {
    const root = ordered.find((r) => f.path === r || f.path.startsWith(r.endsWith(sep) ? r : r + sep));
    if (root === undefined) continue;
    let top = roots.get(root);
    if (!top) {
      roots.set(root, (top = folderNode(root, '')));
      byPath.set(root, top);
    }
    // Create the chain of folders from the root down to the file's folder.
    const rel = relative(root, dirname(f.path));
    let node = top;
    let at = root;
    for (const part of rel ? rel.split(sep) : []) {
      at = at.endsWith(sep) ? at + part : at + sep + part;
      let child = byPath.get(at);
      if (!child) {
        child = folderNode(at, part);
        byPath.set(at, child);
        node.folders.push(child);
      }
      node = child;
    }
    node.files.push(keep ? { ...f, findings: f.findings.filter((x) => keep.has(x.severity)) } : f);
    add(totals, f);
  }
  const finish = (n: FolderSummary): void => {
    n.folders.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    n.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const c of n.folders) {
      finish(c);
      add(n.totals, c.totals, c.totals.files);
      addRules(n.byRule, c.byRule);
    }
    for (const f of n.files) {
      add(n.totals, f);
      addRules(n.byRule, f.byRule);
    }
  };
  const out: FolderSummary[] = [];
  for (const r of folders) {
    const n = roots.get(r);
    if (n) {
      finish(n);
      out.push(n);
    }
  }
  return { roots: out, totals, skipped: result.skipped, failures: result.failures, capped: result.capped, cancelled: result.cancelled, ms: result.ms };
}

/**
 * The index's record of one file when its text is still the one indexed (same
 * sha1), else undefined: an export can take the counts, findings and fingerprints
 * from it and audit only what changed or was never indexed. `sha1` is the hex
 * digest of the file's text as read (fs/safeRead).
 */
export function indexedIfUnchanged(result: IndexResult, path: string, sha1: string): IndexedFile | undefined {
  const f = fileOf(result, path);
  return f && f.hash === sha1 ? f : undefined;
}

/** The index's record of a file (binary search: files are sorted by path). */
export function fileOf(result: IndexResult, path: string): IndexedFile | undefined {
  const files = result.files;
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (files[mid]!.path < path) lo = mid + 1;
    else hi = mid;
  }
  return files[lo]?.path === path ? files[lo] : undefined;
}
