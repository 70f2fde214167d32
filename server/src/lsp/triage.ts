// Triage in the editor: each finding's fingerprint (the same one reports use, so a
// decision made in the editor holds in CI and across kernel updates) looked up in
// the tree's .tdx-audit/triage.json; decisions are shown on the diagnostic and set
// by a code action.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { FileAudit } from '../audit/engine';
import { relativeTo } from '../audit/report/provenance';
import { TreeRoots } from '../index/treeRoot';
import { FingerprintMemo, findingFingerprints } from '../audit/report/fingerprint';
import { DEEMPHASISED, entryOf, loadTriage, setTriage, TriageError, triagePathFor, updateTriage, type TriageEntry, type TriageFile, type TriageStatus } from '../audit/report/triage';

export interface FindingTriage {
  fingerprint: string;
  entry?: TriageEntry;
  deemphasised: boolean;
}

/** Documents whose last fingerprints are kept for the next version's (the ones being edited). */
const MEMO_DOCUMENTS = 8;

interface Cached {
  mtimeMs: number;
  file: TriageFile | undefined;
  error?: string;
}

export class TriageStore {
  private readonly roots: TreeRoots;
  private readonly files = new Map<string, Cached>();
  /** Per source path, most recent last: its previous version's fingerprints (fingerprint.ts FingerprintMemo). */
  private readonly memos = new Map<string, FingerprintMemo>();

  /**
   * @param inWorkspace whether a path lies inside a workspace folder: decisions are
   * taken only for such sources, and a triage folder is created only there.
   */
  constructor(
    private readonly inWorkspace: (path: string) => boolean = () => true,
    /** The workspace folder holding a path, if any. */
    folderOf: (path: string) => string | undefined = () => undefined,
  ) {
    this.roots = new TreeRoots(folderOf);
  }

  /**
   * The tree root of a source (kernel Makefile, .tdx-audit/, .git; else the
   * workspace folder holding it): where its triage file lives. The index's workers
   * key fingerprints by the same rule (index/treeRoot.ts).
   */
  rootOf(path: string): string {
    return this.roots.rootOf(path);
  }

  /** The triage file, reread when it changes on disk; a broken one is reported, not fatal. */
  load(root: string): Cached {
    const path = triagePathFor(root);
    let mtimeMs = -1;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      mtimeMs = -1;
    }
    const hit = this.files.get(path);
    if (hit && hit.mtimeMs === mtimeMs) return hit;
    let c: Cached;
    try {
      c = { mtimeMs, file: mtimeMs < 0 ? undefined : loadTriage(path) };
    } catch (e) {
      c = { mtimeMs, file: undefined, error: e instanceof Error ? e.message : String(e) };
    }
    this.files.set(path, c);
    return c;
  }

  /** Fingerprint and triage entry of every finding of an audit, in finding order. */
  forAudit(path: string, text: string, audit: FileAudit): { items: FindingTriage[]; error?: string } {
    const root = this.rootOf(path);
    return this.forFingerprints(path, findingFingerprints(relativeTo(root, path), text, audit, this.memoOf(path)));
  }

  /** The path's fingerprint memo, made the most recent; the least recent beyond MEMO_DOCUMENTS is dropped. */
  private memoOf(path: string): FingerprintMemo {
    const m = this.memos.get(path) ?? new FingerprintMemo();
    this.memos.delete(path);
    this.memos.set(path, m);
    if (this.memos.size > MEMO_DOCUMENTS) this.memos.delete(this.memos.keys().next().value!);
    return m;
  }

  /**
   * Triage of findings whose fingerprints are known (the index's workers computed
   * them with the same root rule): the workspace view applies decisions to files
   * the editor never opened.
   */
  forFingerprints(path: string, fingerprints: readonly string[]): { items: FindingTriage[]; error?: string } {
    const t = this.load(this.rootOf(path));
    return {
      items: fingerprints.map((fingerprint) => {
        const entry = entryOf(t.file, fingerprint);
        return { fingerprint, entry, deemphasised: !!entry && DEEMPHASISED.has(entry.status) };
      }),
      error: t.error,
    };
  }

  async set(path: string, fingerprint: string, status: TriageStatus, info: { comment?: string; who?: string } = {}): Promise<string> {
    if (!this.inWorkspace(path)) throw new TriageError(`${path} is not in a workspace folder: no triage is recorded for it`);
    const root = this.rootOf(path);
    const t = this.load(root);
    if (t.error) throw new Error(`not changing ${triagePathFor(root)}: ${t.error}`);
    const file = triagePathFor(root);
    try {
      // Another writer may have changed the file since it was loaded: the update
      // re-reads it under a lock, so only this entry changes.
      await updateTriage(file, (cur) => setTriage(cur, fingerprint, status, info), { root, create: this.inWorkspace(join(root, '.tdx-audit')) });
    } finally {
      this.files.delete(file);
    }
    return file;
  }
}
