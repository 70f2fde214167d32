// The workspace view: every file's findings, for the tree view, the status item's
// workspace counts and the export's comparison. The background index (index/) gives
// the source view of every C file; a file the editor audited (open now, or closed
// unchanged since) is taken from that audit instead, with its triage applied, so
// the view counts exactly what the Problems panel shows for it.
//
// The index holds no fingerprints, so a triage decision applies here to files the
// editor audited; a file only the index has read counts by its severities.

import { createHash } from 'node:crypto';
import type { FileAudit } from '../audit/engine';
import type { IndexResult } from '../index/indexer';
import type { IndexedFinding } from '../index/types';
import { tryReadText } from '../fs/safeRead';
import { addCounts, countFindings, emptyCounts, groupOf } from './counts';
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
  findings: ViewFinding[];
}

interface EditorEntry extends FileEntry {
  /** Hash of the text the editor audited: a closed file keeps this entry while its disk text is the same. */
  hash: string;
  open: boolean;
}

export type IndexState = WorkspaceFindings['index']['state'];

export const textHash = (text: string): string => createHash('sha1').update(text).digest('hex');

export class WorkspaceView {
  private index: IndexResult | undefined;
  private indexState: IndexState = 'off';
  private readonly editor = new Map<string, EditorEntry>();
  private timer: NodeJS.Timeout | undefined;
  private cached: Map<string, FileEntry> | undefined;

  /** @param changed called (debounced) when what the view shows changed. */
  /**
   * @param roots the workspace folders: a disk read resolves links and stays inside them
   *   (a source linked to a file outside the workspace is not read).
   */
  constructor(
    private readonly inWorkspace: (path: string) => boolean,
    private readonly changed: (totals: WorkspaceFindings['totals'], indexing: boolean) => void,
    private readonly roots: () => readonly string[],
    /** The file is in a kernel tree whose .config does not build it (kernelBuild.ts): its findings go to 'not-built'. */
    private readonly notBuilt: (path: string) => boolean = () => false,
  ) {}

  setIndexState(state: IndexState, result?: IndexResult): void {
    this.indexState = state;
    if (result) {
      this.index = result;
      // Closed files the editor had audited: kept only while their disk text is the one audited.
      for (const [path, e] of this.editor) if (!e.open && !this.sameOnDisk(path, e.hash)) this.editor.delete(path);
    }
    this.touch();
  }

  get lastIndex(): IndexResult | undefined {
    return this.index;
  }

  /** An audit the editor published (with the triage its diagnostics carry). */
  audited(path: string, text: string, audit: FileAudit, triage: readonly FindingTriage[] | undefined): void {
    if (!this.inWorkspace(path)) return;
    const aside = this.notBuilt(path);
    const findings: ViewFinding[] = audit.findings.map((f, i) => {
      const t = triage?.[i];
      const w: WorkspaceFinding = {
        rule: f.rule,
        severity: f.severity,
        message: f.message,
        accessor: f.site.accessor,
        function: f.site.function,
        line: f.site.range.start.line,
        character: f.site.range.start.character,
        ...(t?.entry ? { triage: t.entry.status } : {}),
        ...(t?.deemphasised ? { dismissed: true } : {}),
        ...(aside ? { notBuilt: true } : {}),
      };
      return { ...w, group: groupOf({ severity: f.severity, dismissed: t?.deemphasised, notBuilt: aside }) };
    });
    const counts = countFindings(findings, audit.analysis.sites.length);
    this.editor.set(path, { uri: toUri(path), path, from: 'editor', counts, findings, hash: textHash(text), open: true });
    this.touch();
  }

  /** The document closed: its entry stays while the file on disk is the text it audited (an unsaved edit is dropped). */
  closed(path: string): void {
    const e = this.editor.get(path);
    if (!e) return;
    e.open = false;
    if (!this.sameOnDisk(path, e.hash)) this.editor.delete(path);
    this.touch();
  }

  /** A file changed on disk (a save, a checkout): an editor entry of a closed file no longer holds. */
  changedOnDisk(path: string): void {
    const e = this.editor.get(path);
    if (e && !e.open && !this.sameOnDisk(path, e.hash)) {
      this.editor.delete(path);
      this.touch();
    }
  }

  query(p: WorkspaceFindingsParams = {}): WorkspaceFindings {
    const entries = this.entries();
    const totals = { files: 0, ...emptyCounts() };
    const groups = FINDING_GROUPS.map((group) => ({ group, count: 0, files: [] as WorkspaceFindings['groups'][number]['files'] }));
    for (const e of entries.values()) {
      if (!e.counts.sites && !e.findings.length) continue;
      totals.files++;
      addCounts(totals, e.counts);
      const per = new Map<FindingGroup, number>();
      for (const f of e.findings) per.set(f.group, (per.get(f.group) ?? 0) + 1);
      for (const g of groups) {
        const n = per.get(g.group);
        if (!n) continue;
        g.count += n;
        g.files.push({ uri: e.uri, count: n, from: e.from });
      }
    }
    // Files with the most first, then by path: the worst file at the top of each group.
    for (const g of groups) g.files.sort((a, b) => b.count - a.count || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
    const r = this.index;
    const out: WorkspaceFindings = {
      totals,
      groups,
      index: { state: this.indexState, files: r?.files.length ?? 0, ms: Math.round(r?.ms ?? 0), failures: r?.failures.length ?? 0, capped: r?.capped ?? false },
    };
    if (p.group && p.uri) {
      const e = [...entries.values()].find((x) => x.uri === p.uri);
      out.findings = (e?.findings ?? []).filter((f) => f.group === p.group).sort((a, b) => a.line - b.line || a.character - b.character).map(({ group: _g, ...f }) => f);
    }
    return out;
  }

  /** Each file's counts by absolute path, and where they came from. */
  fileCounts(): Map<string, { counts: FindingCounts; from: 'editor' | 'index' }> {
    const m = new Map<string, { counts: FindingCounts; from: 'editor' | 'index' }>();
    for (const [path, e] of this.entries()) m.set(path, { counts: e.counts, from: e.from });
    return m;
  }

  totals(): WorkspaceFindings['totals'] {
    return this.query().totals;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Index entries by path, each replaced by the editor's audit when there is one. */
  private entries(): Map<string, FileEntry> {
    if (this.cached) return this.cached;
    const m = new Map<string, FileEntry>();
    for (const f of this.index?.files ?? []) m.set(f.path, fromIndex(f.path, f.sites, f.findings, this.notBuilt(f.path)));
    for (const [path, e] of this.editor) m.set(path, e);
    this.cached = m;
    return m;
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

function fromIndex(path: string, sites: number, indexed: readonly IndexedFinding[], notBuilt: boolean): FileEntry {
  const findings: ViewFinding[] = indexed.map((f) => ({
    rule: f.rule,
    severity: f.severity,
    message: f.message,
    accessor: f.accessor,
    function: f.function,
    line: f.line,
    character: f.character,
    ...(notBuilt ? { notBuilt: true } : {}),
    group: groupOf({ severity: f.severity, notBuilt }),
  }));
  const counts = countFindings(findings, sites);
  return { uri: toUri(path), path, from: 'index', counts, findings };
}

