// The triage file: a reviewer's decision per finding, keyed by fingerprint so it
// survives kernel updates. It lives in the tree (`.tdx-audit/triage.json`) to be
// committed next to the driver and read by the editor, the CLI and every report.
//
// Format: { "version": 1, "entries": { "<fingerprint>": { "status": "safe",
//   "comment": "...", "who": "...", "when": "2025-01-31T..." } } }
// Keys this version does not know (at the top level and in entries) are kept on a
// load/save round trip, so a newer tool's additions are not destroyed by an older one.

import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
  return { version: 1, entries: {} };
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
    throw new TriageError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new TriageError(`${source}: expected an object with "version" and "entries"`);
  if (raw.version !== 1) throw new TriageError(`${source}: unsupported version ${JSON.stringify(raw.version)} (this tool reads version 1)`);
  const entries = raw.entries ?? {};
  if (!isObject(entries)) throw new TriageError(`${source}: "entries" must be an object keyed by fingerprint`);
  const out: Record<string, TriageEntry> = {};
  for (const [fp, e] of Object.entries(entries)) {
    const where = `${source}: entry ${fp}`;
    if (!isObject(e)) throw new TriageError(`${where}: must be an object`);
    if (!TRIAGE_STATUSES.includes(e.status as TriageStatus)) {
      throw new TriageError(`${where}: status ${JSON.stringify(e.status)} is not one of ${TRIAGE_STATUSES.join(', ')}`);
    }
    for (const k of ['comment', 'who', 'when'] as const) {
      if (e[k] !== undefined && typeof e[k] !== 'string') throw new TriageError(`${where}: "${k}" must be a string`);
    }
    out[fp] = { ...e } as TriageEntry;
  }
  return { ...raw, version: 1, entries: out };
}

/** undefined when the file does not exist; TriageError when it exists but is not a triage file. */
export function loadTriage(path: string): TriageFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TriageError(`${path}: ${(e as Error).message}`);
  }
  return parseTriage(text, path);
}

/** Stable text: entries sorted by fingerprint so a commit shows only what changed. */
export function serializeTriage(t: TriageFile): string {
  const entries: Record<string, TriageEntry> = {};
  for (const fp of Object.keys(t.entries).sort()) entries[fp] = t.entries[fp];
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
  const entries = { ...t.entries };
  if (status === 'unclassified' && !info.comment) delete entries[fp];
  else {
    const e: TriageEntry = { ...entries[fp], status, when: info.when ?? new Date().toISOString() };
    if (info.comment !== undefined) e.comment = info.comment;
    if (info.who !== undefined) e.who = info.who;
    entries[fp] = e;
  }
  return { ...t, entries };
}
