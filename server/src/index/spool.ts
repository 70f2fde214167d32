// The index's report rows on disk, so an export can take an unchanged file's rows
// instead of auditing it again (audit/report/build.ts ReportHooks.reuse).
//
// Each worker writes, per file it audited, the file's FileReportRows (plain JSON,
// audit/report/model.ts reportRowsOf) with what they were made from: the text's
// hash, the engine configuration, the tree root their paths are relative to, and the
// state of the objects the compiled forms could come from. Rows are never kept in
// the server's heap (a kernel tree's would take hundreds of MB); an export reads
// one file's rows when it comes to that file, and only takes them when every one of
// those inputs is still what it is now.
//
// Where: a folder of this server process under the user's cache
// ($XDG_CACHE_HOME/tdx-audit/index-rows/<pid>-xxxx/), removed when the server ends;
// folders of processes that are gone are removed when a new one is made. Never the
// tree: a planted rows file would hide findings.

import { createHash } from 'node:crypto';
import { closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { AuditConfig } from '../audit/engine';
import type { ObjectSearch, ObjectStore } from '../audit/objects';
import type { FileReportRows } from '../audit/report/model';
import { tryReadText } from '../fs/safeRead';

/** Bumped when what an entry holds changes meaning. */
const SPOOL_FORMAT = 1;
/** One file's rows: a file with thousands of findings stays far below this. */
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

export interface SpoolEntry {
  v: number;
  path: string;
  /** sha1 of the text the rows were made from. */
  hash: string;
  /** reuseKey of the engine configuration that audited it. */
  key: string;
  /** The tree root the rows' paths are relative to (and accessor definitions looked up in). */
  root: string;
  /** objectSignature when the audit ran. */
  objects: string;
  /** Absent: the file holds no site (the worker's look through its headers said so). */
  rows?: FileReportRows;
}

/** What an export has now, that an entry's inputs must equal. */
export interface ReuseContext {
  key: string;
  root: string;
  /** The object signature of a path now (the export's engine's search). */
  objects: (path: string) => string;
}

/** Why a file's rows were not taken, counted for the export's message. */
export type Miss = 'absent' | 'changed' | 'configuration' | 'root' | 'objects';

/**
 * The parts of an engine configuration that change its findings: the profile,
 * header following, severity overrides and where objects are looked for. Header
 * caching and include setup do not (the same headers are read either way).
 */
export function reuseKey(c: Pick<AuditConfig, 'profile' | 'followIncludes' | 'severity' | 'objects'>): string {
  const severity = Object.entries(c.severity).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([SPOOL_FORMAT, c.profile, c.followIncludes, severity, c.objects ?? null]);
}

/**
 * The state of every object the engine would try for a source, in its order: a
 * rebuilt, new or removed object, or a source touched after its object (the
 * 'older-than-source' state), changes it. 'none' when objects are not looked for.
 */
export function objectSignature(store: ObjectStore, path: string, search: ObjectSearch | undefined): string {
  if (!search) return 'none';
  const parts: string[] = [];
  let any = false;
  for (const c of store.candidates(path, search)) {
    try {
      const st = statSync(c.path);
      any = true;
      parts.push(`${c.path}\0${st.size}\0${st.mtimeMs}`);
    } catch {
      parts.push(`${c.path}\0-`);
    }
  }
  if (any) {
    try {
      parts.push(`src\0${statSync(path).mtimeMs}`);
    } catch {
      parts.push('src\0-');
    }
  }
  return parts.join('\n');
}

export const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

/** The entry file of a source path inside a spool folder (two levels: a kernel tree's files do not crowd one folder). */
export function entryPath(dir: string, path: string): string {
  const h = sha1(path);
  return join(dir, h.slice(0, 2), h.slice(2) + '.json');
}

/**
 * Writes an entry (a worker calls this). Written to a temporary name and renamed,
 * so a reader never sees half an entry; O_NOFOLLOW, inside a folder made 0700.
 * Failures are swallowed: a file without an entry is audited by the export.
 */
export function writeEntry(dir: string, e: SpoolEntry): boolean {
  const target = entryPath(dir, e.path);
  const tmp = `${target}.${process.pid}-${threadId}.tmp`;
  try {
    // Not recursive: a spool removed meanwhile (the server ending, a header changing) is not made again.
    try {
      mkdirSync(join(target, '..'), { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify(e));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
    return true;
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing written
    }
    return false;
  }
}

/**
 * The rows of `path` when its entry was made from this text, configuration, root
 * and objects; else why not. `{ rows: undefined }` is a file with no site.
 */
export function readReusable(dir: string, path: string, hash: string, now: ReuseContext): { rows: FileReportRows | undefined } | { miss: Miss } {
  const r = tryReadText(entryPath(dir, path), { maxBytes: MAX_ENTRY_BYTES, roots: [dir] });
  if ('why' in r) return { miss: 'absent' };
  let e: SpoolEntry;
  try {
    e = JSON.parse(r.text) as SpoolEntry;
  } catch {
    return { miss: 'absent' };
  }
  if (e.v !== SPOOL_FORMAT || e.path !== path) return { miss: 'absent' };
  if (e.hash !== hash) return { miss: 'changed' };
  if (e.key !== now.key) return { miss: 'configuration' };
  if (e.root !== now.root) return { miss: 'root' };
  if (e.objects !== now.objects(path)) return { miss: 'objects' };
  return { rows: e.rows };
}

/**
 * The user's cache folder for spools, made one level at a time (Node's recursive
 * mkdir never returns below /proc, where mkdir answers ENOENT under a folder that
 * exists), refusing a symlink in place of a folder it makes; undefined when it cannot be made (then nothing is spooled).
 */
function spoolBase(): string | undefined {
  let d = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  for (const part of ['', 'tdx-audit', 'index-rows']) {
    d = part ? join(d, part) : d;
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    try {
      // The cache folder itself may be a link (dotfiles); what we make in it may not.
      const st = part ? lstatSync(d) : statSync(d);
      if (!st.isDirectory() || st.isSymbolicLink()) return undefined;
    } catch {
      return undefined;
    }
  }
  return d;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** A new spool folder of this process; spools of processes that have ended are removed first. */
export function makeSpoolDir(): string | undefined {
  const base = spoolBase();
  if (!base) return undefined;
  try {
    for (const name of readdirSync(base)) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (pid && pid !== process.pid && !alive(pid)) rmSync(join(base, name), { recursive: true, force: true });
    }
  } catch {
    // another server cleaning at the same time
  }
  try {
    // Real path: entries are read with the safe reader confined to it.
    return realpathSync(mkdtempSync(join(base, `${process.pid}-`)));
  } catch {
    return undefined;
  }
}

/** Removes a spool folder; `later`: in the background (a kernel tree's thousands of entries, while the server answers). */
export function removeSpoolDir(dir: string | undefined, later = false): void {
  if (!dir) return;
  if (later) void rm(dir, { recursive: true, force: true }).catch(() => undefined);
  else rmSync(dir, { recursive: true, force: true });
}
