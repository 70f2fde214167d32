// The workspace view: every file's findings, for the tree view, the status item's
// workspace counts and the export's comparison. The background index (index/) gives
// the source view of every C file; a file the editor audited (open now, or closed
// unchanged since) is taken from that audit instead, with its triage applied, so
// the view counts exactly what the Problems panel shows for it.
//
// The index's findings carry their triage fingerprints (index/worker.ts, keyed on the
// editor's tree-root rule), so a triage decision applies to files only the index has
// read too: every count agrees after a triage.
//
// What the view shows is built once per change (an index run, an audit, a close):
// the totals and the groups are kept, and a file's findings are only listed when
// that file is expanded.

import { createHash } from 'node:crypto';
import type { FileAudit } from '../audit/engine';
import type { IndexResult } from '../index/indexer';
import type { IndexedFile } from '../index/types';
import { tryReadText } from '../fs/safeRead';
import { addCounts, countFindings, emptyCounts, groupOf, type Countable } from './counts';
import { toUri } from './files';
import { FINDING_GROUPS, type FindingCounts, type FindingGroup, type WorkspaceFinding, type WorkspaceFindings, type WorkspaceFindingsParams } from './protocol';
import type { FindingTriage } from './triage';

/** Notifications about a changing view are coalesced: an index run or a burst of edits sends one. */
const NOTIFY_DELAY_MS = 300;

interface ViewFinding extends WorkspaceFinding {
  group: FindingGroup;
}

interface FileEntry {
  uri: string;
  path: string;
  from: 'editor' | 'index';
  counts: FindingCounts;
  /** Findings by group, counted. */
  perGroup: Map<FindingGroup, number>;
  /** The file's findings; an index entry makes them when the file is expanded. */
  findings(): ViewFinding[];
}

interface EditorEntry extends FileEntry {
  /**
   * The text the editor audited, while the document is open (the document holds it
   * anyway); its hash once closed: a closed file keeps this entry while its disk text
   * is the same. Hashed at the close, not at every audit (a SHA-1 of the whole text
   * per keystroke, for a check made only once the document is closed).
   */
  text?: string;
  hash?: string;
  open: boolean;
}

/** The hash of the text an editor entry audited (computed once, when first needed). */
function hashOf(e: EditorEntry): string {
  if (e.hash === undefined) {
    e.hash = textHash(e.text ?? '');
    e.text = undefined;
  }
  return e.hash;
}

/** What the view shows, built once per change. */
interface Built {
  byPath: Map<string, FileEntry>;
  byUri: Map<string, FileEntry>;
  totals: WorkspaceFindings['totals'];
  groups: WorkspaceFindings['groups'];
}

/** Triage of an index file's findings by their fingerprints (lsp/triage.ts forFingerprints). */
export type TriageLookup = (path: string, fingerprints: readonly string[]) => readonly FindingTriage[] | undefined;

export type IndexState = WorkspaceFindings['index']['state'];

export const textHash = (text: string): string => createHash('sha1').update(text).digest('hex');

export class WorkspaceView {
  private index: IndexResult | undefined;
  private indexState: IndexState = 'off';
  private readonly editor = new Map<string, EditorEntry>();
  private timer: NodeJS.Timeout | undefined;
  private cached: Built | undefined;

  /**
   * @param changed called (debounced) when what the view shows changed.
   * @param roots the workspace folders: a disk read resolves links and stays inside them
   *   (a source linked to a file outside the workspace is not read).
   */
  constructor(
    private readonly inWorkspace: (path: string) => boolean,
    private readonly changed: (totals: WorkspaceFindings['totals'], indexing: boolean) => void,
    private readonly roots: () => readonly string[],
    /** Decisions for files only the index has read (none: they count by severity). */
    private readonly triageOf: TriageLookup = () => undefined,
    /** The file is in a kernel tree whose .config does not build it (kernelBuild.ts): its findings go to 'not-built'. */
    private readonly notBuilt: (path: string) => boolean = () => false,
  ) {}

  setIndexState(state: IndexState, result?: IndexResult): void {
    this.indexState = state;
    if (result) {
      this.index = result;
      // Closed files the editor had audited: kept only while their disk text is the one audited.
      for (const [path, e] of this.editor) if (!e.open && !this.sameOnDisk(path, hashOf(e))) this.editor.delete(path);
    }
    this.touch();
  }

  get lastIndex(): IndexResult | undefined {
    return this.index;
  }

  /** An audit the editor published (with the triage its diagnostics carry). */
  audited(path: string, text: string, audit: FileAudit, triage: readonly FindingTriage[] | undefined): void {
    if (!this.inWorkspace(path)) return;
    const rows = entryRows(audit.findings, audit.analysis.sites.length, triage, this.notBuilt(path), (f) => ({
      rule: f.rule,
      severity: f.severity,
      message: f.message,
      accessor: f.site.accessor,
      function: f.site.function,
      line: f.site.range.start.line,
      character: f.site.range.start.character,
    }));
    this.editor.set(path, { uri: toUri(path), path, from: 'editor', ...rows, text, open: true });
    this.touch();
  }

  /** The document closed: its entry stays while the file on disk is the text it audited (an unsaved edit is dropped). */
  closed(path: string): void {
    const e = this.editor.get(path);
    if (!e) return;
    e.open = false;
    if (!this.sameOnDisk(path, hashOf(e))) this.editor.delete(path);
    this.touch();
  }

  /** A file changed on disk (a save, a checkout): an editor entry of a closed file no longer holds. */
  changedOnDisk(path: string): void {
    const e = this.editor.get(path);
    if (e && !e.open && !this.sameOnDisk(path, hashOf(e))) {
      this.editor.delete(path);
      this.touch();
    }
  }

  query(p: WorkspaceFindingsParams = {}): WorkspaceFindings {
    const b = this.built();
    const r = this.index;
    const out: WorkspaceFindings = {
      totals: b.totals,
      groups: b.groups,
      index: { state: this.indexState, files: r?.files.length ?? 0, ms: Math.round(r?.ms ?? 0), failures: r?.failures.length ?? 0, capped: r?.capped ?? false },
    };
    // Expanding one file lists that file's findings only.
    if (p.group && p.uri) {
      const e = b.byUri.get(p.uri);
      out.findings = (e?.findings() ?? []).filter((f) => f.group === p.group).sort((a, b) => a.line - b.line || a.character - b.character).map(({ group: _g, ...f }) => f);
    }
    return out;
  }

  /** Each file's counts by absolute path, and where they came from. */
  fileCounts(): Map<string, { counts: FindingCounts; from: 'editor' | 'index' }> {
    const m = new Map<string, { counts: FindingCounts; from: 'editor' | 'index' }>();
    for (const [path, e] of this.built().byPath) m.set(path, { counts: e.counts, from: e.from });
    return m;
  }

  totals(): WorkspaceFindings['totals'] {
    return this.built().totals;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Index entries by path, each replaced by the editor's audit when there is one; totals and groups over them. */
  private built(): Built {
    if (this.cached) return this.cached;
    const byPath = new Map<string, FileEntry>();
    for (const f of this.index?.files ?? []) if (!this.editor.has(f.path)) byPath.set(f.path, this.fromIndex(f));
    for (const [path, e] of this.editor) byPath.set(path, e);
    const totals = { files: 0, ...emptyCounts() };
    const groups = FINDING_GROUPS.map((group) => ({ group, count: 0, files: [] as WorkspaceFindings['groups'][number]['files'] }));
    const byUri = new Map<string, FileEntry>();
    for (const e of byPath.values()) {
      byUri.set(e.uri, e);
      if (!e.counts.sites && !e.perGroup.size) continue;
      totals.files++;
      addCounts(totals, e.counts);
      for (const g of groups) {
        const n = e.perGroup.get(g.group);
        if (!n) continue;
        g.count += n;
        g.files.push({ uri: e.uri, count: n, from: e.from });
      }
    }
    // Files with the most first, then by path: the worst file at the top of each group.
    for (const g of groups) g.files.sort((a, b) => b.count - a.count || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
    this.cached = { byPath, byUri, totals, groups };
    return this.cached;
  }

  /** A file only the index has read: counted with the triage its fingerprints find; findings made when asked for. */
  private fromIndex(f: IndexedFile): FileEntry {
    const triage = f.findings.length ? this.triageOf(f.path, f.findings.map((x) => x.fingerprint)) : undefined;
    const notBuilt = f.findings.length > 0 && this.notBuilt(f.path);
    const rows = entryRows(f.findings, f.sites, triage, notBuilt, (x) => ({
      rule: x.rule,
      severity: x.severity,
      message: x.message,
      accessor: x.accessor,
      function: x.function,
      line: x.line,
      character: x.character,
    }));
    return { uri: toUri(f.path), path: f.path, from: 'index', ...rows };
  }

  private sameOnDisk(path: string, hash: string): boolean {
    const r = tryReadText(path, { roots: this.roots() });
    return !('why' in r) && textHash(r.text) === hash;
  }

  private touch(): void {
    this.cached = undefined;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed(this.totals(), this.indexState === 'running');
    }, NOTIFY_DELAY_MS);
  }
}

/**
 * A file's counts, now, and its rows, made when first asked for (a file expanded in
 * the tree): an editor's audit is counted at every keystroke (166 findings of
 * igb_main.c with its kernel headers), its rows are rarely read. Each finding's
 * triage is the one at the same index; `notBuilt` is the file's.
 */
export function entryRows<T extends { severity: Countable['severity'] }>(
  list: readonly T[],
  sites: number,
  triage: readonly (FindingTriage | undefined)[] | undefined,
  notBuilt: boolean,
  row: (x: T) => Omit<WorkspaceFinding, 'triage' | 'dismissed' | 'notBuilt'>,
): Pick<FileEntry, 'counts' | 'perGroup' | 'findings'> {
  const countable: Countable[] = list.map((x, i) => ({ severity: x.severity, dismissed: triage?.[i]?.deemphasised, notBuilt }));
  let rows: ViewFinding[] | undefined;
  const findings = (): ViewFinding[] =>
    (rows ??= list.map((x, i) => {
      const t = triage?.[i];
      return {
        ...row(x),
        ...(t?.entry ? { triage: t.entry.status } : {}),
        ...(t?.deemphasised ? { dismissed: true } : {}),
        ...(notBuilt ? { notBuilt: true } : {}),
        group: groupOf(countable[i]!),
      };
    }));
  return { counts: countFindings(countable, sites), perGroup: perGroup(countable.map((c) => ({ group: groupOf(c) }))), findings };
}

function perGroup(findings: readonly { group: FindingGroup }[]): Map<FindingGroup, number> {
  const m = new Map<FindingGroup, number>();
  for (const f of findings) m.set(f.group, (m.get(f.group) ?? 0) + 1);
  return m;
}
