// The triage file: a reviewer's decision per finding, keyed by fingerprint so it
// survives kernel updates. It lives in the tree (`.tdx-audit/triage.json`) to be
// committed next to the driver and read by the editor, the CLI and every report.
//
// Format: { "version": 1, "entries": { "<fingerprint>": { "status": "safe",
//   "comment": "...", "who": "...", "when": "2025-01-31T..." } } }
// Keys this version does not know (at the top level and in entries) are kept on a
// load/save round trip, so a newer tool's additions are not destroyed by an older one.

import { lstat, mkdir, open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { MAX_CONFIG_BYTES, SafeReadError, safeReadText } from '../../fs/safeRead';
import { basename, dirname, join } from 'node:path';
import { isInside } from '../../fs/safeRead';
import { randomBytes } from 'node:crypto';

export const TRIAGE_STATUSES = ['concern', 'safe', 'wrapper', 'excluded', 'trusted', 'unclassified'] as const;
export type TriageStatus = (typeof TRIAGE_STATUSES)[number];

/** Shown in reports, but de-emphasised: a person decided the site needs nothing. */
export const DEEMPHASISED: ReadonlySet<TriageStatus> = new Set<TriageStatus>(['safe', 'excluded', 'trusted']);

export interface TriageEntry {
  status: TriageStatus;
  comment?: string;
  who?: string;
  /** ISO 8601 time of the decision. */
  when?: string;
  [unknown: string]: unknown;
}

export interface TriageFile {
  version: 1;
  entries: Record<string, TriageEntry>;
  [unknown: string]: unknown;
}

export const TRIAGE_RELATIVE_PATH = '.tdx-audit/triage.json';

export class TriageError extends Error {}

export function emptyTriage(): TriageFile {
  return { version: 1, entries: entryMap() };
}

/**
 * Entries keyed by fingerprint: a prototype-less object written with
 * defineProperty, so that a key such as `__proto__` is an entry like any other
 * (plain assignment would set the prototype and the decision would vanish).
 */
function entryMap(): Record<string, TriageEntry> {
  return Object.create(null) as Record<string, TriageEntry>;
}

function setOwn(o: Record<string, TriageEntry>, k: string, v: TriageEntry): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** The entry of a fingerprint, only if the file has one of its own. */
export function entryOf(t: TriageFile | undefined, fp: string): TriageEntry | undefined {
  return t && Object.prototype.hasOwnProperty.call(t.entries, fp) ? t.entries[fp] : undefined;
}

export function triagePathFor(root: string): string {
  return join(root, TRIAGE_RELATIVE_PATH);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates; every problem names the source and the entry. */
export function parseTriage(text: string, source = 'triage file'): TriageFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text ("Unexpected token 'r', "root:x:0:0"... is not
    // valid JSON"): a committed symlink would make a popup show another file's bytes.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new TriageError(`${source}: not valid JSON${at ? ` (at byte ${at})` : ''}`);
  }
  if (!isObject(raw)) throw new TriageError(`${source}: expected an object with "version" and "entries"`);
  if (raw.version !== 1) throw new TriageError(`${source}: unsupported version ${JSON.stringify(raw.version)} (this tool reads version 1)`);
  const entries = raw.entries ?? {};
  if (!isObject(entries)) throw new TriageError(`${source}: "entries" must be an object keyed by fingerprint`);
  const out = entryMap();
  for (const [fp, e] of Object.entries(entries)) {
    const where = `${source}: entry ${fp}`;
    if (!isObject(e)) throw new TriageError(`${where}: must be an object`);
    if (!TRIAGE_STATUSES.includes(e.status as TriageStatus)) {
      throw new TriageError(`${where}: status ${JSON.stringify(e.status)} is not one of ${TRIAGE_STATUSES.join(', ')}`);
    }
    for (const k of ['comment', 'who', 'when'] as const) {
      if (e[k] !== undefined && typeof e[k] !== 'string') throw new TriageError(`${where}: "${k}" must be a string`);
    }
    setOwn(out, fp, { ...e } as TriageEntry);
  }
  return { ...raw, version: 1, entries: out };
}

/** undefined when the file does not exist; TriageError when it exists but is not a triage file. */
export function loadTriage(path: string): TriageFile | undefined {
  let text: string;
  try {
    // A committed symlink to /dev/zero or a FIFO must not be read (fs/safeRead).
    text = safeReadText(path, { maxBytes: MAX_CONFIG_BYTES });
  } catch (e) {
    if (e instanceof SafeReadError && e.kind === 'missing') return undefined;
    throw new TriageError(e instanceof SafeReadError ? e.message : `${path}: ${(e as Error).message}`);
  }
  return parseTriage(text, path);
}

/** Stable text: entries sorted by fingerprint so a commit shows only what changed. */
export function serializeTriage(t: TriageFile): string {
  const entries = entryMap();
  for (const fp of Object.keys(t.entries).sort()) setOwn(entries, fp, t.entries[fp]);
  return JSON.stringify({ ...t, version: 1, entries }, null, 2) + '\n';
}

/** Written atomically (temp file beside it, then rename): an editor never reads half a file. */
export async function saveTriage(path: string, t: TriageFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.triage.json.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(serializeTriage(t));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** A new triage file with one entry set (or, with status 'unclassified' and no comment, removed). */
export function setTriage(
  t: TriageFile,
  fp: string,
  status: TriageStatus,
  info: { comment?: string; who?: string; when?: string } = {},
): TriageFile {
  const entries = entryMap();
  for (const k of Object.keys(t.entries)) setOwn(entries, k, t.entries[k]);
  if (status === 'unclassified' && !info.comment) delete entries[fp];
  else {
    const e: TriageEntry = { ...entryOf(t, fp), status, when: info.when ?? new Date().toISOString() };
    if (info.comment !== undefined) e.comment = info.comment;
    if (info.who !== undefined) e.who = info.who;
    setOwn(entries, fp, e);
  }
  return { ...t, entries };
}

export interface TriageWriteOptions {
  /**
   * The tree the triage file belongs to: its folder is created only directly in
   * it, and nothing is written through a symlink that resolves outside it.
   */
  root: string;
  /** Create `.tdx-audit/` when it does not exist (the server allows this only inside a workspace folder). */
  create: boolean;
  /** How long to wait for another writer's lock before giving up. */
  lockTimeoutMs?: number;
}

/** A lock older than this is a crashed writer's: a write takes milliseconds. */
const STALE_LOCK_MS = 15_000;
/** Writers in this process queue here instead of polling each other's lock. */
const queues = new Map<string, Promise<unknown>>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The triage folder, checked (and created when allowed) so that no write leaves the tree. */
async function triageFolder(path: string, o: TriageWriteOptions): Promise<string> {
  const dir = dirname(path);
  let realRoot: string;
  try {
    realRoot = await realpath(o.root);
  } catch {
    throw new TriageError(`${o.root}: the tree root does not exist`);
  }
  if (!(await lstatOrUndefined(dir))) {
    if (!o.create) throw new TriageError(`not creating ${dir}: ${o.root} is outside the workspace folders`);
    if ((await realpath(dirname(dir)).catch(() => '')) !== realRoot) throw new TriageError(`not creating ${dir}: it is not directly in ${o.root}`);
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  const realDir = await realpath(dir);
  if (!isInside(realRoot, realDir)) throw new TriageError(`not writing ${path}: ${dir} leads out of the tree (to ${realDir})`);
  const st = await lstatOrUndefined(path);
  if (st?.isSymbolicLink()) {
    const to = await realpath(path).catch(() => undefined);
    if (!to || !isInside(realRoot, to)) throw new TriageError(`not writing ${path}: it is a symlink out of the tree`);
  }
  return realDir;
}

async function withLock<T>(lock: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      const fh = await open(lock, 'wx', 0o644);
      try {
        await fh.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Held: by a live writer (wait), or left by a dead one (take it over).
    const st = await lstatOrUndefined(lock);
    let pid = NaN;
    try {
      pid = Number((await readFile(lock, 'utf8')).split(' ')[0]);
    } catch {
      pid = NaN;
    }
    if (st && (Date.now() - st.mtimeMs > STALE_LOCK_MS || (Number.isInteger(pid) && pid > 0 && !alive(pid)))) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() - t0 > timeoutMs) throw new TriageError(`${lock}: another writer holds the triage lock${Number.isInteger(pid) ? ` (pid ${pid})` : ''}`);
    await sleep(wait);
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

/**
 * Changes the triage file so that concurrent writers (14 quick fixes at once, two
 * servers and a CLI on one tree) lose nothing: under an O_EXCL lock file, the file
 * is read again, changed, and renamed into place. Resolves only when the decision
 * is on disk.
 */
export function updateTriage(path: string, change: (t: TriageFile) => TriageFile, o: TriageWriteOptions): Promise<void> {
  const prev = queues.get(path) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const dir = await triageFolder(path, o);
    const file = join(dir, basename(path));
    await withLock(`${file}.lock`, o.lockTimeoutMs ?? 10_000, async () => {
      const current = loadTriage(file) ?? emptyTriage();
      await saveTriage(file, change(current));
    });
  });
  queues.set(path, run);
  void run.finally(() => {
    if (queues.get(path) === run) queues.delete(path);
  }).catch(() => undefined);
  return run;
}
