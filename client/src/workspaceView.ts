// TDX Findings: a tree view (Explorer) of the workspace's findings, errors first:
// group (error, warning, information, hint, triaged) → file → site. The server holds
// the view (lsp/workspace.ts: the background index, with every file the editor
// audited taken from that audit and its triage), and says when it changed
// (`tdxAudit/workspaceChanged`: index progress, an audit, a triage), so the tree
// stays live as files change. A file's sites are fetched when it is expanded.
// The view asks for the groups once per change and shares the answer with the
// status item (its totals), which sends no request of its own.

import * as vscode from 'vscode';
import { State, type LanguageClient } from 'vscode-languageclient/node';
import {
  WorkspaceChangedNotification,
  WorkspaceFindingsRequest,
  type FindingGroup,
  type WorkspaceFinding,
  type WorkspaceFindings,
} from '../../server/src/lsp/protocol';

export const VIEW_ID = 'tdxAudit.findings';

const GROUP: Record<FindingGroup, { label: string; icon: vscode.ThemeIcon }> = {
  error: { label: 'Errors', icon: new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground')) },
  warning: { label: 'Warnings', icon: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')) },
  information: { label: 'Information', icon: new vscode.ThemeIcon('info', new vscode.ThemeColor('problemsInfoIcon.foreground')) },
  hint: { label: 'Hints', icon: new vscode.ThemeIcon('lightbulb') },
  triaged: { label: 'Triaged (safe, excluded, trusted)', icon: new vscode.ThemeIcon('pass') },
  'not-built': { label: 'Not built in this .config', icon: new vscode.ThemeIcon('circle-slash') },
};

type Node =
  | { kind: 'group'; group: FindingGroup; count: number; files: WorkspaceFindings['groups'][number]['files'] }
  | { kind: 'file'; group: FindingGroup; uri: string; count: number; from: 'editor' | 'index' }
  | { kind: 'site'; uri: string; finding: WorkspaceFinding };

export class WorkspaceFindingsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<Node>;
  private readonly disposables: vscode.Disposable[] = [];
  /** The groups, asked once per change of the server's view: the tree and the status item share it. */
  private top: Promise<WorkspaceFindings | undefined> | undefined;
  private readonly totalsChanged = new vscode.EventEmitter<{ totals: WorkspaceFindings['totals']; indexing: boolean }>();
  /**
   * The workspace totals each time the server says they changed. vscode-languageclient
   * keeps one handler per notification method, so this view owns
   * tdxAudit/workspaceChanged and the status item listens here.
   */
  readonly onDidChangeTotals = this.totalsChanged.event;

  constructor(private readonly client: LanguageClient) {
    this.view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(
      this.view,
      this.changed,
      this.totalsChanged,
      client.onNotification(WorkspaceChangedNotification, (p) => {
        this.totalsChanged.fire(p);
        this.refresh();
      }),
      client.onDidChangeState((e) => {
        if (e.newState !== State.Running) return;
        this.refresh();
        // The status item's first totals, before any change is notified (a hidden view asks nothing).
        void this.groups().then((r) => r && this.totalsChanged.fire({ totals: r.totals, indexing: r.index.state === 'running' }));
      }),
    );
  }

  refresh(): void {
    this.top = undefined;
    this.changed.fire(undefined);
  }

  private groups(): Promise<WorkspaceFindings | undefined> {
    this.top ??= this.ask({});
    return this.top;
  }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!this.client.isRunning()) {
      this.view.message = 'The TDX Audit server is not running.';
      return [];
    }
    if (!node) {
      const r = await this.groups();
      if (!r) return [];
      this.describe(r);
      return r.groups.filter((g) => g.count > 0).map((g) => ({ kind: 'group', group: g.group, count: g.count, files: g.files }));
    }
    if (node.kind === 'group') return node.files.map((f) => ({ kind: 'file', group: node.group, uri: f.uri, count: f.count, from: f.from }));
    if (node.kind === 'file') {
      const r = await this.ask({ group: node.group, uri: node.uri });
      return (r?.findings ?? []).map((finding) => ({ kind: 'site', uri: node.uri, finding }));
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'group') {
      const g = GROUP[node.group];
      // Errors open: what will crash the guest is what to read first.
      const item = new vscode.TreeItem(g.label, node.group === 'error' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `group:${node.group}`;
      item.description = `${node.count} in ${node.files.length} file${node.files.length === 1 ? '' : 's'}`;
      item.iconPath = g.icon;
      item.contextValue = 'tdxGroup';
      return item;
    }
    if (node.kind === 'file') {
      const uri = this.client.protocol2CodeConverter.asUri(node.uri);
      const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `file:${node.group}:${node.uri}`;
      const rel = vscode.workspace.asRelativePath(uri, false);
      const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
      item.description = `${node.count}${dir ? `  ${dir}` : ''}`;
      item.tooltip = `${rel}: ${node.count} ${GROUP[node.group].label.toLowerCase()}\n${node.from === 'editor' ? "From the editor's audit of this file (objects and triage applied)." : 'From the background index (objects beside the sources and triage applied; a vmlinux is joined when the file is opened).'}`;
      item.resourceUri = uri;
      item.contextValue = 'tdxFile';
      return item;
    }
    const f = node.finding;
    const item = new vscode.TreeItem(`${f.accessor}`, vscode.TreeItemCollapsibleState.None);
    item.description = `${f.function ?? 'file scope'}:${f.line + 1}  ${f.rule}${f.triage ? `  [${f.triage}]` : ''}`;
    item.tooltip = new vscode.MarkdownString().appendText(f.message);
    item.iconPath = GROUP[f.dismissed ? 'triaged' : f.notBuilt ? 'not-built' : f.severity].icon;
    const at = new vscode.Position(f.line, f.character);
    item.command = {
      command: 'vscode.open',
      title: 'Go to Site',
      arguments: [this.client.protocol2CodeConverter.asUri(node.uri), { selection: new vscode.Range(at, at) } satisfies vscode.TextDocumentShowOptions],
    };
    item.contextValue = 'tdxSite';
    return item;
  }

  /** The header line of the view: totals and the index state. */
  private describe(r: WorkspaceFindings): void {
    const t = r.totals;
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    this.view.badge = t.errors ? { value: t.errors, tooltip: `${plural(t.errors, 'error')} in the workspace` } : undefined;
    const state = r.index.state === 'running' ? 'indexing…' : r.index.state === 'off' ? 'index off' : r.index.state === 'failed' ? 'index failed' : r.index.state === 'cancelled' ? 'index cancelled' : '';
    this.view.description = [plural(t.errors, 'error'), plural(t.warnings, 'warning'), t.triaged ? `${t.triaged} triaged` : '', t.notBuilt ? `${t.notBuilt} not built` : '', state].filter(Boolean).join(', ');
    this.view.message = t.files
      ? undefined
      : r.index.state === 'running'
        ? 'Indexing the workspace…'
        : r.index.state === 'off'
          ? 'No findings in the open files. The workspace index is off (tdxAudit.index.enable).'
          : 'No #VE findings in the workspace.';
  }

  private async ask(p: { group?: FindingGroup; uri?: string }): Promise<WorkspaceFindings | undefined> {
    try {
      return await this.client.sendRequest(WorkspaceFindingsRequest, p);
    } catch {
      // The server restarting; its next state change refreshes the view.
      return undefined;
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

